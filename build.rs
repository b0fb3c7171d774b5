//! Compiles the C shim holding the variadic entry points into the archive.

fn main() {
    println!("cargo:rerun-if-changed=src/shim");
    cc::Build::new()
        .file("src/shim/esmtp_varargs.c")
        .file("src/shim/osmtpd_varargs.c")
        .define("_GNU_SOURCE", None)
        .flag_if_supported("-Wall")
        .flag_if_supported("-Wextra")
        .warnings_into_errors(true)
        .compile("mailcompat_shim");
}
