//! Writes include/libesmtp.h, libesmtp-ext.h and auth-client.h from the C
//! API's Rust source, or with `--check` fails if the committed ones differ.
//! Either way it fails if a header (include/opensmtpd.h too) carries Rust
//! documentation markup into C.
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
        sources: &["src/esmtp/capi/ext.rs", "src/esmtp/capi/tlsrpt_submit.rs"],
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
    let text = String::from_utf8(out).map_err(|e| format!("{}: {e}", h.file))?;
    Ok(c_comments(&text).into_bytes())
}

/// Rewrites the doc comments cbindgen copied from Rust (`/*`, the text
/// indented by one space, ` */`) as C comments: each line behind ` * `,
/// rustdoc's section headings (`# Safety`) as plain lines ("Requirements:"),
/// intra-doc links (`` [`name`] ``) as the bare code span.
fn c_comments(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + text.len() / 8);
    let mut indent: Option<String> = None;
    for line in text.lines() {
        let trimmed = line.trim_start();
        let lead = &line[..line.len() - trimmed.len()];
        match &indent {
            None if trimmed == "/*" => {
                indent = Some(lead.to_string());
                out.push_str(line);
            }
            Some(ind) if trimmed == "*/" => {
                out.push_str(ind);
                out.push_str(" */");
                indent = None;
            }
            Some(ind) => {
                let body = line.strip_prefix(ind.as_str()).unwrap_or(trimmed);
                let body = body.strip_prefix(' ').unwrap_or(body);
                let body = match body.strip_prefix("# ") {
                    Some("Safety") => "Requirements:".to_string(),
                    Some(heading) => format!("{heading}:"),
                    None => strip_links(body),
                };
                out.push_str(ind);
                out.push_str(if body.is_empty() { " *" } else { " * " });
                out.push_str(&body);
            }
            None => out.push_str(line),
        }
        out.push('\n');
    }
    out
}

/// `` [`name`] `` becomes `` `name` ``: a link means nothing in C.
fn strip_links(line: &str) -> String {
    line.replace("[`", "`").replace("`]", "`")
}

/// Rust documentation markup left in a C header: doc-comment syntax,
/// rustdoc headings or intra-doc links, fenced code.
fn rust_markup(text: &str) -> Vec<String> {
    let mut found = Vec::new();
    let mut in_comment = false;
    for (n, line) in text.lines().enumerate() {
        let t = line.trim_start();
        let comment_line = in_comment || t.starts_with("/*") || t.starts_with("//");
        if comment_line {
            let body = t.trim_start_matches(['/', '*', '!']).trim_start();
            if t.starts_with("///")
                || t.starts_with("//!")
                || body.starts_with("# ")
                || body.contains("[`")
                || body.contains("```")
            {
                found.push(format!("line {}: {}", n + 1, line.trim()));
            }
        }
        if t.contains("/*") && !t.contains("*/") {
            in_comment = true;
        } else if t.contains("*/") {
            in_comment = false;
        }
    }
    found
}

/// Prints what `rust_markup` found in `file`; true if anything.
fn report_markup(file: &str, text: &str) -> bool {
    let found = rust_markup(text);
    for f in &found {
        eprintln!("headergen: {file}: Rust markup in a C header, {f}");
    }
    !found.is_empty()
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
    let hand_written = repo.join("include/opensmtpd.h");
    match std::fs::read_to_string(&hand_written) {
        Ok(text) => stale |= report_markup("include/opensmtpd.h", &text),
        Err(e) => {
            eprintln!("headergen: {}: {e}", hand_written.display());
            return ExitCode::FAILURE;
        }
    }
    for h in HEADERS {
        let text = match generate(&repo, h) {
            Ok(t) => t,
            Err(e) => {
                eprintln!("headergen: {e}");
                return ExitCode::FAILURE;
            }
        };
        if report_markup(h.file, &String::from_utf8_lossy(&text)) {
            return ExitCode::FAILURE;
        }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn doc_comments_become_c() {
        let rust = "/*\n Sent after [`smtp_x`].\n\n # Safety\n `s` must be live.\n */\nint f(void);\n";
        let c = c_comments(rust);
        assert_eq!(
            c,
            "/*\n * Sent after `smtp_x`.\n *\n * Requirements:\n * `s` must be live.\n */\nint f(void);\n"
        );
        assert!(rust_markup(&c).is_empty());
    }

    #[test]
    fn markup_is_found() {
        assert_eq!(rust_markup("/*\n # Safety\n */\n").len(), 1);
        assert_eq!(rust_markup("/* see [`f`] */\n").len(), 1);
        assert_eq!(rust_markup("/// doc\n").len(), 1);
        assert_eq!(rust_markup("/*\n * ```c\n */\n").len(), 1);
        // Preprocessor lines are not comments.
        assert!(rust_markup("# define X 1\n#include <x.h>\n").is_empty());
    }
}
