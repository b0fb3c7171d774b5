//! The session behind libESMTP's `smtp_session_t`: where to connect, how,
//! and what to report to; it owns its messages and ETRN nodes
//! (`message.rs`).
//!
//! C code holds raw pointers to these objects and may call the API from
//! inside callbacks while the protocol engine runs, so every field that the
//! API can change is a `Cell`/`RefCell` and the engine only ever holds
//! shared references. Objects are boxed in [`FrozenList`]s and never move.

use std::cell::{Cell, RefCell};
use std::ffi::{c_void, CString};
use std::rc::Rc;

use super::appdata::AppData;
use super::events::{EventSink, Monitor, ReportSink};
use super::message::{EtrnNode, Message};
use super::policy;
use crate::common::list::FrozenList;

/// Which timeout `smtp_set_timeout` addresses, in libESMTP's order.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TimeoutKind {
    Greeting = 0,
    Envelope = 1,
    Data = 2,
    Transfer = 3,
    Data2 = 4,
}

/// RFC 5321 §4.5.3.2 minimums, in milliseconds (libESMTP's unit).
pub const DEFAULT_TIMEOUTS: [i64; 5] = [300_000, 300_000, 120_000, 180_000, 600_000];
/// The floor when the application overrides the RFC minimums.
pub const OVERRIDE_FLOOR_MS: i64 = 1000;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum StartTls {
    #[default]
    Disabled,
    Enabled,
    Required,
}

/// Where to connect: the host and service split from `smtp_set_server`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ServerAddr {
    pub host: CString,
    pub port: CString,
}

impl ServerAddr {
    /// Splits `host[:service]`. Unlike libESMTP 1.1.0 (which cuts at the first
    /// colon) this understands `[v6-literal]:port` and a bare IPv6 literal;
    /// the default service is still 587, as in the original.
    pub fn parse(hostport: &[u8]) -> ServerAddr {
        let default_port = || CString::new("587").unwrap();
        let cstr = |b: &[u8]| CString::new(b).unwrap_or_default();
        if let Some(rest) = hostport.strip_prefix(b"[") {
            if let Some(end) = rest.iter().position(|&c| c == b']') {
                let host = &rest[..end];
                let after = &rest[end + 1..];
                let port = match after.strip_prefix(b":") {
                    Some(p) if !p.is_empty() => cstr(p),
                    _ => default_port(),
                };
                return ServerAddr { host: cstr(host), port };
            }
        }
        let is_v6 = std::str::from_utf8(hostport).is_ok_and(|s| s.parse::<std::net::Ipv6Addr>().is_ok());
        if is_v6 {
            return ServerAddr { host: cstr(hostport), port: default_port() };
        }
        match hostport.iter().position(|&c| c == b':') {
            Some(i) => ServerAddr { host: cstr(&hostport[..i]), port: cstr(&hostport[i + 1..]) },
            None => ServerAddr { host: cstr(hostport), port: default_port() },
        }
    }
}

pub struct Session {
    // Field order is drop order, and it matches the original's destroy
    // order that applications can observe through release callbacks:
    // session data, ETRN nodes, then each message and its recipients.
    pub app_data: AppData,
    pub etrn_nodes: FrozenList<EtrnNode>,
    pub messages: FrozenList<Message>,
    pub server: RefCell<Option<ServerAddr>>,
    /// Deliver to this domain's MX hosts instead of `server` (our
    /// extension, `smtp_set_mx_domain`); the port applies to every host.
    pub mx_domain: RefCell<Option<ServerAddr>>,
    pub canon: RefCell<Option<CString>>,
    pub hostname: RefCell<Option<CString>>,
    pub events: RefCell<Option<Rc<dyn EventSink>>>,
    pub monitor: RefCell<Option<Rc<dyn Monitor>>>,
    pub monitor_headers: Cell<bool>,
    pub timeouts: Cell<[i64; 5]>,
    pub require_all_recipients: Cell<bool>,
    pub starttls: Cell<StartTls>,
    /// `SSL_CTX *` given by the application (up-referenced), or null.
    pub tls_ctx: Cell<*mut c_void>,
    /// The library's own context, built at the first STARTTLS and kept for
    /// the session's later connections.
    pub own_tls_ctx: RefCell<Option<openssl::ssl::SslContext>>,
    /// Start every connection with a TLS handshake (RFC 8314 implicit TLS;
    /// our extension, `smtp_tls_set_implicit`).
    pub implicit_tls: Cell<bool>,
    /// Resume cached TLS sessions (`smtp_tls_set_resumption`; on).
    pub tls_resume: Cell<bool>,
    /// DANE / MTA-STS settings (`smtp_tls_set_policy` and friends).
    pub tls_policy: RefCell<policy::Config>,
    /// Report each peer certificate with SMTP_EV_TLS_CERT.
    pub cert_events: Cell<bool>,
    /// The application's TLSRPT callback.
    pub report_sink: RefCell<Option<Rc<dyn ReportSink>>>,
    /// `auth_context_t` set by the application (not owned), or null.
    pub auth_ctx: Cell<*mut c_void>,
    /// Set while `smtp_start_session` runs, to refuse re-entry from callbacks.
    pub running: Cell<bool>,
}

impl Default for Session {
    fn default() -> Self {
        Session {
            app_data: AppData::default(),
            etrn_nodes: FrozenList::default(),
            messages: FrozenList::default(),
            server: RefCell::new(None),
            mx_domain: RefCell::new(None),
            canon: RefCell::new(None),
            hostname: RefCell::new(None),
            events: RefCell::new(None),
            monitor: RefCell::new(None),
            monitor_headers: Cell::new(false),
            timeouts: Cell::new(DEFAULT_TIMEOUTS),
            require_all_recipients: Cell::new(false),
            starttls: Cell::new(StartTls::Disabled),
            tls_ctx: Cell::new(std::ptr::null_mut()),
            own_tls_ctx: RefCell::new(None),
            implicit_tls: Cell::new(false),
            tls_resume: Cell::new(true),
            tls_policy: RefCell::default(),
            cert_events: Cell::new(false),
            report_sink: RefCell::new(None),
            auth_ctx: Cell::new(std::ptr::null_mut()),
            running: Cell::new(false),
        }
    }
}

impl Session {
    pub fn timeout(&self, kind: TimeoutKind) -> i64 {
        self.timeouts.get()[kind as usize]
    }

    /// Stores a timeout with libESMTP's floors and returns the stored value.
    pub fn set_timeout(&self, kind: TimeoutKind, value_ms: i64, override_minimum: bool) -> i64 {
        let floor = if override_minimum { OVERRIDE_FLOOR_MS } else { DEFAULT_TIMEOUTS[kind as usize] };
        let v = value_ms.max(floor);
        let mut t = self.timeouts.get();
        t[kind as usize] = v;
        self.timeouts.set(t);
        v
    }

    pub fn event_sink(&self) -> Option<Rc<dyn EventSink>> {
        self.events.borrow().clone()
    }

    pub fn monitor(&self) -> Option<Rc<dyn Monitor>> {
        self.monitor.borrow().clone()
    }

    /// The message after `index` (or the first) with an incomplete recipient.
    pub fn next_pending_message(&self, after: Option<usize>) -> Option<usize> {
        let start = after.map_or(0, |i| i + 1);
        (start..self.messages.len()).find(|&i| self.messages.get(i).is_some_and(Message::has_pending))
    }
}

impl Drop for Session {
    fn drop(&mut self) {
        let ctx = self.tls_ctx.replace(std::ptr::null_mut());
        if !ctx.is_null() {
            // SAFETY: `tls_ctx` holds the reference we took with
            // SSL_CTX_up_ref in smtp_starttls_set_ctx.
            unsafe { openssl_sys::SSL_CTX_free(ctx.cast()) };
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn addr(h: &str, p: &str) -> ServerAddr {
        ServerAddr { host: CString::new(h).unwrap(), port: CString::new(p).unwrap() }
    }

    #[test]
    fn server_strings() {
        assert_eq!(ServerAddr::parse(b"mail.example:25"), addr("mail.example", "25"));
        assert_eq!(ServerAddr::parse(b"mail.example"), addr("mail.example", "587"));
        assert_eq!(ServerAddr::parse(b"localhost:smtp"), addr("localhost", "smtp"));
        assert_eq!(ServerAddr::parse(b"[::1]:2525"), addr("::1", "2525"));
        assert_eq!(ServerAddr::parse(b"[::1]"), addr("::1", "587"));
        assert_eq!(ServerAddr::parse(b"::1"), addr("::1", "587"));
        assert_eq!(ServerAddr::parse(b":25"), addr("", "25"));
        assert_eq!(ServerAddr::parse(b"host:port:extra"), addr("host", "port:extra"));
    }

    #[test]
    fn timeouts_have_floors() {
        let s = Session::default();
        assert_eq!(s.set_timeout(TimeoutKind::Greeting, 10, false), 300_000);
        assert_eq!(s.set_timeout(TimeoutKind::Greeting, 10, true), 1000);
        assert_eq!(s.set_timeout(TimeoutKind::Data2, 700_000, false), 700_000);
        assert_eq!(s.timeout(TimeoutKind::Data2), 700_000);
    }
}
