//! The library's own `SSL_CTX`, set up from the user's certificate files
//! where libESMTP 1.1.0 looks for them:
//!
//! * `$XDG_CONFIG_DIR/libesmtp/` (else `$HOME/.config/libesmtp/`):
//!   `private/smtp-starttls.pem` (client certificate and key),
//!   `private/<host>.pem` (for one server), `ca.pem`, `ca/`;
//! * or, when that directory does not exist, the legacy `~/.authenticate/`:
//!   `private/smtp-starttls.pem`, `<host>/private/smtp-starttls.pem`,
//!   `ca.pem`, `ca/`.
//!
//! Files must be regular, non-empty, owner-only and owned by the user, as
//! libESMTP demands; otherwise the context is refused with an event. With
//! no CA file or directory the system's default store is used. Unlike
//! libESMTP 1.1.0 the context is per session (its process-wide cache was
//! freed by the first `smtp_destroy_session`) and TLS 1.2 is the minimum.

use std::ffi::{c_char, c_int, c_void};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use foreign_types::ForeignTypeRef;
use openssl::ssl::{SslContext, SslContextBuilder, SslFiletype, SslMethod, SslRef, SslVersion};

use crate::esmtp::events::{report, Event, EventSink};

/// `smtp_starttls_passwordcb_t`, the same type as OpenSSL's `pem_password_cb`.
pub type PasswordCb = unsafe extern "C" fn(*mut c_char, c_int, c_int, *mut c_void) -> c_int;

// Not bound by openssl-sys; part of libssl's stable API.
extern "C" {
    fn SSL_CTX_set_default_passwd_cb(ctx: *mut openssl_sys::SSL_CTX, cb: Option<PasswordCb>);
    fn SSL_CTX_set_default_passwd_cb_userdata(ctx: *mut openssl_sys::SSL_CTX, u: *mut c_void);
    fn SSL_use_certificate_file(ssl: *mut openssl_sys::SSL, file: *const c_char, kind: c_int) -> c_int;
    fn SSL_use_PrivateKey_file(ssl: *mut openssl_sys::SSL, file: *const c_char, kind: c_int) -> c_int;
}

/// The process-wide password callback (libESMTP keeps one, under a mutex).
static PASSWORD_CB: Mutex<Option<(PasswordCb, usize)>> = Mutex::new(None);

pub fn set_password_callback(cb: PasswordCb, arg: *mut c_void) {
    *PASSWORD_CB.lock().unwrap_or_else(|e| e.into_inner()) = Some((cb, arg as usize));
}

fn password_callback() -> Option<(PasswordCb, usize)> {
    *PASSWORD_CB.lock().unwrap_or_else(|e| e.into_inner())
}

/// Where the user's certificate files live.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Layout {
    Xdg(PathBuf),
    Legacy(PathBuf),
}

impl Layout {
    pub fn find() -> Layout {
        let home = || std::env::var_os("HOME").map(PathBuf::from).unwrap_or_default();
        // libESMTP reads XDG_CONFIG_DIR (not XDG_CONFIG_HOME); we keep that.
        let xdg = match std::env::var_os("XDG_CONFIG_DIR") {
            Some(dir) => PathBuf::from(dir).join("libesmtp"),
            None => home().join(".config").join("libesmtp"),
        };
        let legacy = home().join(".authenticate");
        if !xdg.exists() && legacy.is_dir() {
            Layout::Legacy(legacy)
        } else {
            Layout::Xdg(xdg)
        }
    }

    fn base(&self) -> &Path {
        match self {
            Layout::Xdg(p) | Layout::Legacy(p) => p,
        }
    }

    pub fn client_cert(&self) -> PathBuf {
        self.base().join("private/smtp-starttls.pem")
    }

    pub fn host_cert(&self, host: &str) -> PathBuf {
        match self {
            Layout::Xdg(p) => p.join("private").join(format!("{host}.pem")),
            Layout::Legacy(p) => p.join(host).join("private/smtp-starttls.pem"),
        }
    }

    pub fn ca_file(&self) -> PathBuf {
        self.base().join("ca.pem")
    }

    pub fn ca_dir(&self) -> PathBuf {
        self.base().join("ca")
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileState {
    Usable,
    Absent,
    Unusable,
}

fn uid() -> u32 {
    // SAFETY: getuid has no preconditions and cannot fail.
    unsafe { libc::getuid() }
}

/// libESMTP's check: a non-empty regular file, readable and writable by its
/// owner only (no execute bit), owned by the user running the program.
pub fn check_file(path: &Path) -> FileState {
    match std::fs::metadata(path) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => FileState::Absent,
        Err(_) => FileState::Unusable,
        Ok(m) if m.is_file() && m.len() > 0 && m.mode() & 0o177 == 0 && m.uid() == uid() => FileState::Usable,
        Ok(_) => FileState::Unusable,
    }
}

/// A directory accessible by its owner only, owned by the user.
pub fn check_directory(path: &Path) -> FileState {
    match std::fs::metadata(path) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => FileState::Absent,
        Err(_) => FileState::Unusable,
        Ok(m) if m.is_dir() && m.mode() & 0o077 == 0 && m.uid() == uid() => FileState::Usable,
        Ok(_) => FileState::Unusable,
    }
}

/// Builds the context libESMTP would, reporting problems through events;
/// `None` when TLS cannot be offered.
pub fn build(layout: &Layout, sink: Option<&dyn EventSink>) -> Option<SslContext> {
    let mut b = SslContextBuilder::new(SslMethod::tls_client()).ok()?;
    b.set_min_proto_version(Some(SslVersion::TLS1_2)).ok()?;
    if let Some((cb, arg)) = password_callback() {
        // SAFETY: `b` owns a live SSL_CTX; `cb` has pem_password_cb's
        // signature and `arg` is the application's, both kept for the
        // context's life as libESMTP does.
        unsafe {
            SSL_CTX_set_default_passwd_cb(b.as_ptr(), Some(cb));
            SSL_CTX_set_default_passwd_cb_userdata(b.as_ptr(), arg as *mut c_void);
        }
    }
    let cert = layout.client_cert();
    match check_file(&cert) {
        FileState::Usable => {
            b.set_certificate_file(&cert, SslFiletype::PEM).ok()?;
            if b.set_private_key_file(&cert, SslFiletype::PEM).is_err()
                && report(sink, Event::NoClientCertificate, 0) == 0
            {
                return None;
            }
        }
        FileState::Unusable => {
            report(sink, Event::UnusableClientCertificate, 0);
            return None;
        }
        FileState::Absent => {}
    }
    let (ca_file, ca_dir) = (layout.ca_file(), layout.ca_dir());
    let file_state = check_file(&ca_file);
    let dir_state = check_directory(&ca_dir);
    if file_state == FileState::Unusable || dir_state == FileState::Unusable {
        report(sink, Event::UnusableCaList, 0);
        return None;
    }
    if file_state == FileState::Absent && dir_state == FileState::Absent {
        b.set_default_verify_paths().ok()?;
    } else {
        let file = (file_state == FileState::Usable).then_some(ca_file.as_path());
        let dir = (dir_state == FileState::Usable).then_some(ca_dir.as_path());
        load_verify_locations(&mut b, file, dir);
    }
    Some(b.build())
}

fn load_verify_locations(b: &mut SslContextBuilder, file: Option<&Path>, dir: Option<&Path>) {
    use std::os::unix::ffi::OsStrExt;
    let c = |p: Option<&Path>| p.and_then(|p| std::ffi::CString::new(p.as_os_str().as_bytes()).ok());
    let (f, d) = (c(file), c(dir));
    // SAFETY: a live SSL_CTX and NUL-terminated paths (or NULL) valid for
    // the call; OpenSSL copies what it needs. Failures leave an empty store
    // and show up as verification failures, as in libESMTP.
    unsafe {
        openssl_sys::SSL_CTX_load_verify_locations(
            b.as_ptr(),
            f.as_ref().map_or(std::ptr::null(), |s| s.as_ptr()),
            d.as_ref().map_or(std::ptr::null(), |s| s.as_ptr()),
        );
    }
}

/// Presents the host-specific client certificate, if the user has one;
/// false when the connection must not go on.
pub fn use_host_certificate(
    ssl: &mut SslRef,
    layout: &Layout,
    host: &str,
    sink: Option<&dyn EventSink>,
) -> bool {
    let path = layout.host_cert(host);
    match check_file(&path) {
        FileState::Usable => {
            use std::os::unix::ffi::OsStrExt;
            let Ok(p) = std::ffi::CString::new(path.as_os_str().as_bytes()) else { return false };
            // SAFETY: a live SSL and a NUL-terminated path; the key's
            // password callback is the one set on the context.
            let (cert_ok, key_ok) = unsafe {
                let cert_ok =
                    SSL_use_certificate_file(ssl.as_ptr(), p.as_ptr(), openssl_sys::SSL_FILETYPE_PEM) == 1;
                let key_ok = cert_ok
                    && SSL_use_PrivateKey_file(ssl.as_ptr(), p.as_ptr(), openssl_sys::SSL_FILETYPE_PEM) == 1;
                (cert_ok, key_ok)
            };
            if !cert_ok {
                return false;
            }
            key_ok || report(sink, Event::NoClientCertificate, 0) != 0
        }
        FileState::Unusable => {
            report(sink, Event::UnusableClientCertificate, 0);
            false
        }
        FileState::Absent => true,
    }
}
