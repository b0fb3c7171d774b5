//! The application's C callbacks behind the core's traits.

use std::ffi::{c_char, c_int, c_long, c_void};

use super::smtp_session_t;
use foreign_types::ForeignTypeRef;

use crate::esmtp::events::{Event, EventSink, Monitor, ReportSink};
use crate::esmtp::session::Session;
use crate::esmtp::source::MessageSource;

/// `smtp_eventcb_t`: variadic; the extra arguments depend on the event.
pub type smtp_eventcb_t =
    Option<unsafe extern "C" fn(session: smtp_session_t, event_no: c_int, arg: *mut c_void, ...)>;
pub type smtp_monitorcb_t =
    Option<unsafe extern "C" fn(buf: *const c_char, buflen: c_int, writing: c_int, arg: *mut c_void)>;
pub type smtp_messagecb_t =
    Option<unsafe extern "C" fn(ctx: *mut *mut c_void, len: *mut c_int, arg: *mut c_void) -> *const c_char>;

pub struct CEventSink {
    pub cb: unsafe extern "C" fn(smtp_session_t, c_int, *mut c_void, ...),
    pub arg: *mut c_void,
    pub session: *const Session,
}

fn ptr<T>(r: &T) -> *mut T {
    (r as *const T).cast_mut()
}

impl EventSink for CEventSink {
    fn event(&self, event: Event<'_>, out: i32) -> i32 {
        let s = self.session.cast_mut();
        let n = event.number();
        let arg = self.arg;
        let cb = self.cb;
        let mut out: c_int = out;
        let po: *mut c_int = &mut out;
        // SAFETY: the application registered `cb` as an smtp_eventcb_t; each
        // event passes exactly the arguments libESMTP documents for it, and
        // every pointer stays valid for the duration of the call.
        unsafe {
            match event {
                Event::Connect | Event::Disconnect | Event::ExtnaEightBitMime | Event::ExtnaBinaryMime => {
                    cb(s, n, arg)
                }
                Event::MailStatus(m) => {
                    let rp = m.reverse_path.borrow().as_ref().map_or(std::ptr::null(), |c| c.as_ptr());
                    cb(s, n, arg, rp, ptr(m))
                }
                Event::RcptStatus(r) => cb(s, n, arg, r.mailbox.as_ptr(), ptr(r)),
                Event::MessageData(m, len) => cb(s, n, arg, ptr(m), len as c_int),
                Event::MessageSent(m) => cb(s, n, arg, ptr(m)),
                Event::EtrnStatus(node) => cb(s, n, arg, node.option as c_int, node.domain.as_ptr()),
                Event::SyntaxWarning | Event::ExtnaDsn | Event::ExtnaEtrn | Event::ExtnaChunking => {
                    cb(s, n, arg, po)
                }
                Event::ExtnaStartTls => cb(s, n, arg, std::ptr::null_mut::<c_void>()),
                Event::DeliverByExpired(diff) => cb(s, n, arg, diff as c_long, po),
                Event::WeakCipher(bits) => cb(s, n, arg, bits as c_int, po),
                Event::StartTlsOk(ssl, cipher, bits) => {
                    cb(s, n, arg, ssl.as_ptr(), cipher.as_ptr(), bits as c_int)
                }
                Event::InvalidPeerCertificate(verify, ssl) => {
                    cb(s, n, arg, verify as c_long, po, ssl.as_ptr())
                }
                Event::NoPeerCertificate | Event::NoClientCertificate => cb(s, n, arg, po),
                Event::WrongPeerCertificate(name, ssl) => cb(s, n, arg, po, name.as_ptr(), ssl.as_ptr()),
                Event::UnusableClientCertificate | Event::UnusableCaList => {
                    cb(s, n, arg, std::ptr::null_mut::<c_void>())
                }
                Event::TlsCert(cert, depth, ssl) => {
                    cb(s, n, arg, cert.as_ptr(), depth as c_int, po, ssl.as_ptr())
                }
                Event::TlsReport(json) => cb(s, n, arg, json.as_ptr()),
            }
        }
        out
    }
}

pub struct CReportSink {
    pub cb: unsafe extern "C" fn(smtp_session_t, *const c_char, *mut c_void),
    pub arg: *mut c_void,
    pub session: *const Session,
}

impl ReportSink for CReportSink {
    fn report(&self, json: &std::ffi::CStr) {
        // SAFETY: the application's callback, with a string valid for the call.
        unsafe { (self.cb)(self.session.cast_mut(), json.as_ptr(), self.arg) }
    }
}

pub struct CMonitor {
    pub cb: unsafe extern "C" fn(*const c_char, c_int, c_int, *mut c_void),
    pub arg: *mut c_void,
}

impl Monitor for CMonitor {
    fn monitor(&self, bytes: &[u8], direction: i32) {
        // The monitor takes an int length; hand over huge blocks in pieces.
        for piece in bytes.chunks(i32::MAX as usize) {
            // SAFETY: a valid buffer of `len` bytes, borrowed for the call.
            unsafe { (self.cb)(piece.as_ptr().cast(), piece.len() as c_int, direction, self.arg) };
        }
    }
}

/// The application's message callback and its private `*ctx`.
pub struct CMessageSource {
    pub cb: unsafe extern "C" fn(*mut *mut c_void, *mut c_int, *mut c_void) -> *const c_char,
    pub arg: *mut c_void,
    ctx: *mut c_void,
    /// The buffer and length the callback last returned.
    chunk: (*const u8, usize),
}

impl CMessageSource {
    pub fn new(
        cb: unsafe extern "C" fn(*mut *mut c_void, *mut c_int, *mut c_void) -> *const c_char,
        arg: *mut c_void,
    ) -> Self {
        CMessageSource { cb, arg, ctx: std::ptr::null_mut(), chunk: (std::ptr::null(), 0) }
    }

    fn free_ctx(&mut self) {
        // libESMTP documents that the callback's context is released with
        // free(); callbacks allocate it with malloc.
        // SAFETY: `ctx` is null or the callback's malloc'ed pointer.
        unsafe { libc::free(self.ctx) };
        self.ctx = std::ptr::null_mut();
    }
}

fn errno_location() -> *mut c_int {
    // SAFETY: __errno_location has no preconditions.
    unsafe { libc::__errno_location() }
}

impl MessageSource for CMessageSource {
    fn rewind(&mut self) {
        // Each transfer starts with a fresh context, as in libESMTP.
        self.chunk = (std::ptr::null(), 0);
        self.free_ctx();
        // SAFETY: the callback contract: a NULL `len` asks for a rewind.
        unsafe { (self.cb)(&mut self.ctx, std::ptr::null_mut(), self.arg) };
    }

    fn advance(&mut self) -> Result<bool, i32> {
        self.chunk = (std::ptr::null(), 0);
        let mut len: c_int = 0;
        // SAFETY: errno is thread-local; clearing it lets us see whether the
        // callback failed, which libESMTP's contract reports through errno.
        unsafe { *errno_location() = 0 };
        // SAFETY: the callback contract of smtp_messagecb_t.
        let p = unsafe { (self.cb)(&mut self.ctx, &mut len, self.arg) };
        if p.is_null() || len <= 0 {
            // SAFETY: reading our thread's errno.
            let e = unsafe { *errno_location() };
            return if e != 0 { Err(e) } else { Ok(false) };
        }
        self.chunk = (p.cast::<u8>(), len as usize);
        Ok(true)
    }

    fn chunk(&self) -> &[u8] {
        let (p, len) = self.chunk;
        if p.is_null() {
            return &[];
        }
        // SAFETY: the callback returned `len` readable bytes that stay valid
        // until it is called again or its context freed; both take
        // `&mut self`, which cannot happen while this borrow lives.
        unsafe { std::slice::from_raw_parts(p, len) }
    }
}

impl Drop for CMessageSource {
    fn drop(&mut self) {
        self.free_ctx();
    }
}
