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
//! no CA file or directory the system's default store is used. TLS 1.2 is
//! the minimum.
//!
//! As in libESMTP 1.1.0 the context is process-wide (`shared`), but it is
//! built again whenever the files behind it change, and never freed under
//! a session that uses it (libESMTP's was freed by the first
//! `smtp_destroy_session`). Loading the system's trust store costs
//! milliseconds; a program sending one message per session paid that for
//! every message.

use std::ffi::{c_char, c_int, c_void};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use foreign_types::ForeignTypeRef;
use openssl::ex_data::Index;
use openssl::ssl::{
    SslContext, SslContextBuilder, SslContextRef, SslFiletype, SslMethod, SslRef, SslVersion,
};

use super::resume;
use crate::common::sync::Lock;
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
static PASSWORD_CB: Lock<Option<(PasswordCb, usize)>> = Lock::new(None);

pub fn set_password_callback(cb: PasswordCb, arg: *mut c_void) {
    *PASSWORD_CB.lock() = Some((cb, arg as usize));
}

fn password_callback() -> Option<(PasswordCb, usize)> {
    *PASSWORD_CB.lock()
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

/// A file as `stat` sees it: device, inode, change time (s, ns), size,
/// mode.
type FileId = (u64, u64, i64, i64, u64, u32);

/// What the context is built from: the files (by identity and change
/// time), where they are looked for, and the password callback.
#[derive(Clone, PartialEq, Eq)]
struct Fingerprint {
    layout: Layout,
    files: Vec<Option<FileId>>,
    password_cb: Option<usize>,
}

fn fingerprint(layout: &Layout) -> Fingerprint {
    let stat = |p: PathBuf| {
        std::fs::metadata(p).ok().map(|m| (m.dev(), m.ino(), m.mtime(), m.mtime_nsec(), m.size(), m.mode()))
    };
    Fingerprint {
        layout: layout.clone(),
        files: vec![stat(layout.client_cert()), stat(layout.ca_file()), stat(layout.ca_dir())],
        password_cb: password_callback().map(|(cb, arg)| cb as usize ^ arg.rotate_left(17)),
    }
}

/// The identity of one of our own contexts (ex_data), which TLS session
/// resumption keys on: a context the application gave has none.
fn id_index() -> Index<SslContext, u64> {
    static INDEX: Lock<Option<Index<SslContext, u64>>> = Lock::new(None);
    INDEX.get_or_init(|| SslContext::new_ex_index().expect("an SSL_CTX ex_data index"))
}

/// The identity `shared` gave `ctx`, if it is one of ours.
pub fn identity(ctx: &SslContextRef) -> Option<u64> {
    ctx.ex_data(id_index()).copied()
}

/// The library's own context, shared by every session of the process as
/// long as the files behind it do not change. A context whose building
/// asked the application something (an event) is not shared: the question
/// is asked again next time, as libESMTP did.
pub fn shared(layout: &Layout, sink: Option<&dyn EventSink>) -> Option<SslContext> {
    static SHARED: Lock<Option<(Fingerprint, SslContext)>> = Lock::new(None);
    let fp = fingerprint(layout);
    if let Some((f, ctx)) = &*SHARED.lock() {
        if *f == fp {
            return Some(ctx.clone());
        }
    }
    let mut asked = false;
    let ctx = ours(builder(layout, sink, &mut asked)?);
    if !asked {
        *SHARED.lock() = Some((fp, ctx.clone()));
    }
    Some(ctx)
}

/// Makes `b` one of our own contexts: a new identity, resumption on.
pub(crate) fn ours(mut b: SslContextBuilder) -> SslContext {
    static NEXT_ID: AtomicU64 = AtomicU64::new(1);
    b.set_ex_data(id_index(), NEXT_ID.fetch_add(1, Ordering::Relaxed));
    resume::enable(&mut b);
    b.build()
}

/// Builds the context libESMTP would, reporting problems through events;
/// `None` when TLS cannot be offered. Not shared, no resumption.
pub fn build(layout: &Layout, sink: Option<&dyn EventSink>) -> Option<SslContext> {
    builder(layout, sink, &mut false).map(SslContextBuilder::build)
}

fn builder(layout: &Layout, sink: Option<&dyn EventSink>, asked: &mut bool) -> Option<SslContextBuilder> {
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
            if b.set_private_key_file(&cert, SslFiletype::PEM).is_err() {
                *asked = true;
                if report(sink, Event::NoClientCertificate, 0) == 0 {
                    return None;
                }
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
    Some(b)
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
