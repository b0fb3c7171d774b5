//! Writes include/libesmtp.h and include/auth-client.h from the C API's
//! Rust source, or with `--check` fails if the committed ones differ.
//!
//! Usage: headergen [--check] [REPO_DIR]

use std::path::{Path, PathBuf};
use std::process::ExitCode;

struct Header {
    file: &'static str,
    config: &'static str,
    sources: &'static [&'static str],
}

const HEADERS: &[Header] = &[
    Header {
        file: "include/libesmtp.h",
        config: "include/cbindgen-libesmtp.toml",
        sources: &[
            "src/esmtp/status.rs",
            "src/esmtp/capi/types.rs",
            "src/esmtp/capi/callbacks.rs",
            "src/esmtp/capi/session.rs",
            "src/esmtp/capi/message.rs",
            "src/esmtp/capi/recipient.rs",
            "src/esmtp/capi/etrn.rs",
            "src/esmtp/capi/headers.rs",
            "src/esmtp/capi/misc.rs",
        ],
    },
    Header {
        file: "include/libesmtp-ext.h",
        config: "include/cbindgen-libesmtp-ext.toml",
        sources: &["src/esmtp/capi/ext.rs"],
    },
    Header {
        file: "include/auth-client.h",
        config: "include/cbindgen-auth-client.toml",
        sources: &["src/esmtp/capi/auth.rs"],
    },
];

fn generate(repo: &Path, h: &Header) -> Result<Vec<u8>, String> {
    let config =
        cbindgen::Config::from_file(repo.join(h.config)).map_err(|e| format!("{}: {e}", h.config))?;
    let mut builder = cbindgen::Builder::new().with_config(config);
    for s in h.sources {
        builder = builder.with_src(repo.join(s));
    }
    let bindings = builder.generate().map_err(|e| format!("{}: {e}", h.file))?;
    let mut out = Vec::new();
    bindings.write(&mut out);
    Ok(out)
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let check = args.iter().any(|a| a == "--check");
    let repo = args
        .iter()
        .find(|a| !a.starts_with("--"))
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../.."));
    let mut stale = false;
    for h in HEADERS {
        let text = match generate(&repo, h) {
            Ok(t) => t,
            Err(e) => {
                eprintln!("headergen: {e}");
                return ExitCode::FAILURE;
            }
        };
        let path = repo.join(h.file);
        if check {
            if std::fs::read(&path).ok().as_deref() != Some(text.as_slice()) {
                eprintln!("headergen: {} is out of date; run `cargo run -p headergen`", h.file);
                stale = true;
            }
        } else if let Err(e) = std::fs::write(&path, &text) {
            eprintln!("headergen: {}: {e}", path.display());
            return ExitCode::FAILURE;
        }
    }
    if stale {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}
