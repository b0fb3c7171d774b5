//! Our extensions to the libESMTP API, declared in `libesmtp-ext.h`.
//! libesmtp.h's names and values are untouched; a program that uses these
//! can test for the header with `__has_include(<libesmtp-ext.h>)`.

use std::ffi::{c_char, c_int, c_long, c_void};
use std::rc::Rc;

use super::callbacks::CReportSink;
use super::inuse::session_running;
use super::{check_args, cstr, guarded, handle, need, smtp_session_t};
use crate::esmtp::policy::{self, tlsrpt, Kind};

/// Implicit TLS (RFC 8314, usually port 465): with `on`, each connection of
/// the session starts with a TLS handshake, before the server's greeting.
/// The same certificate checks and events as for STARTTLS apply,
/// `SMTP_EV_STARTTLS_OK` included; STARTTLS is then not used. Returns 1,
/// or 0 with `SMTP_ERR_INVAL` for a NULL session.
///
/// # Safety
/// `session` must be null or a live session.
#[no_mangle]
pub unsafe extern "C" fn smtp_tls_set_implicit(session: smtp_session_t, on: c_int) -> c_int {
    guarded!(0, {
        // SAFETY: per the function's contract.
        let s = need!(unsafe { handle(session) }, 0);
        check_args!(!session_running(s), 0);
        s.implicit_tls.set(on != 0);
        1
    })
}

/// TLS session resumption (on by default): with `on` 0, every TLS
/// connection of the session makes a full handshake and leaves no session
/// for later ones. Resumption uses a process-wide cache of the library's
/// own TLS context, keyed by server name, port and the trust in force; a
/// session established under a DANE or MTA-STS policy, or with an
/// application's `SSL_CTX` (`smtp_starttls_set_ctx`, whose own session
/// cache stays in the application's hands), is never cached. On a resumed
/// session the usual checks and events run on the certificate the first
/// handshake verified; `SSL_session_reused()` on the events' `SSL *` tells
/// the two apart. Returns 1, or 0 with `SMTP_ERR_INVAL` for a NULL session
/// or during `smtp_start_session`.
///
/// # Safety
/// `session` must be null or a live session.
#[no_mangle]
pub unsafe extern "C" fn smtp_tls_set_resumption(session: smtp_session_t, on: c_int) -> c_int {
    guarded!(0, {
        // SAFETY: per the function's contract.
        let s = need!(unsafe { handle(session) }, 0);
        check_args!(!session_running(s), 0);
        s.tls_resume.set(on != 0);
        1
    })
}

/// `enum smtp_tls_policy` for [`smtp_tls_set_policy`].
#[repr(C)]
#[allow(non_camel_case_types, dead_code)]
pub enum smtp_tls_policy {
    /// libESMTP's behaviour, as `smtp_starttls_enable` sets it (the default).
    SMTP_TLS_POLICY_NONE = 0,
    /// STARTTLS when the server offers it, certificates not checked, clear
    /// text otherwise (RFC 7435). No DNS lookups, no reports.
    SMTP_TLS_POLICY_OPPORTUNISTIC = 1,
    /// DANE (RFC 7672): when the host's addresses and its TLSA records at
    /// `_port._tcp.host` are DNSSEC-validated, TLS is required and the
    /// certificate must match a usable record; otherwise opportunistic.
    SMTP_TLS_POLICY_DANE = 2,
    /// MTA-STS (RFC 8461) of the policy domain: in enforce mode TLS is
    /// required, the host must match the policy's mx patterns and its
    /// certificate must chain to a trusted root and name the host.
    SMTP_TLS_POLICY_MTA_STS = 3,
    /// DANE where the host publishes TLSA records, else MTA-STS (RFC 8461 §2).
    SMTP_TLS_POLICY_DANE_MTA_STS = 4,
}

/// Event: one certificate of the chain the server presented, after the
/// handshake and before any other check, from the top of the chain down
/// to the server's own (depth 0). Arguments: `X509 *cert`, `int depth`, `int *ok`
/// (default 1; set 0 to refuse the connection, which is then closed with
/// QUIT), `SSL *ssl`. Sent only after [`smtp_tls_set_cert_events`].
pub const SMTP_EV_TLS_CERT: c_int = 9000;
/// Event: a TLSRPT result (RFC 8460) for a connection attempt under a
/// DANE or MTA-STS policy, or a policy failure met before connecting.
/// Argument: `const char *json`, valid during the call.
pub const SMTP_EV_TLSRPT: c_int = 9001;
/// `smtp_errno()` when a TLS policy forbade delivery: no mail was sent.
pub const SMTP_ERR_TLS_POLICY: c_int = 100;
/// `smtp_errno()` when the domain of [`smtp_set_mx_domain`] accepts no mail
/// (a null MX, RFC 7505): no connection was made, and every recipient's
/// status is `556 5.1.10`.
pub const SMTP_ERR_NULL_MX: c_int = 101;
/// `smtp_errno()` when `smtp_tlsrpt_submit` found no usable `_smtp._tls`
/// record for the domain (none, several, malformed, or no `mailto:` or
/// `https:` address in it): the domain takes no reports (RFC 8460 §3).
pub const SMTP_ERR_TLSRPT_NO_RECORD: c_int = 102;

/// Called with each TLSRPT result as JSON (the same text as
/// `SMTP_EV_TLSRPT`), valid during the call.
pub type smtp_tlsrpt_cb_t =
    Option<unsafe extern "C" fn(session: smtp_session_t, json: *const c_char, arg: *mut c_void)>;

/// Chooses the session's TLS policy and the domain it is looked up for
/// (the recipient domain, not the host connected to; NULL: the domain of
/// [`smtp_set_mx_domain`] if one was set, else the host). MTA-STS
/// policies need a domain. Set before `smtp_start_session`.
/// Returns 1, or 0 with `SMTP_ERR_INVAL` for a NULL session, an unknown
/// policy, or MTA-STS without a usable domain.
///
/// # Safety
/// `session` must be null or a live session; `domain` null or a C string.
#[no_mangle]
pub unsafe extern "C" fn smtp_tls_set_policy(
    session: smtp_session_t,
    policy: c_int,
    domain: *const c_char,
) -> c_int {
    guarded!(0, {
        // SAFETY: per the function's contract.
        let s = need!(unsafe { handle(session) }, 0);
        check_args!(!session_running(s), 0);
        let kind = need!(Kind::from_c(policy), 0);
        // SAFETY: per the function's contract.
        let domain = match unsafe { cstr(domain) } {
            Some(d) => Some(need!(d.to_str().ok().filter(|d| valid_domain(d)), 0).to_owned()),
            None => None,
        };
        let mx = s.mx_domain.borrow().is_some();
        check_args!(domain.is_some() || mx || !matches!(kind, Kind::MtaSts | Kind::DaneThenMtaSts), 0);
        update_policy(s, |cfg| {
            cfg.kind = kind;
            cfg.domain = domain;
        })
    })
}

/// Delivers the session's mail to a domain's mail exchangers instead of
/// the server of `smtp_set_server`: `domain[:port]`, the port (default 25)
/// being every MX host's. The MX hosts are looked up through the policy
/// resolver (`smtp_tls_set_resolver`; by default the nameservers of
/// /etc/resolv.conf) and tried by preference, equal preferences in random
/// order, each host's addresses (IPv6, then IPv4) in turn: the next after a
/// connection failure, a 4xx greeting, or a TLS or policy failure. A 5xx
/// greeting ends the delivery, with that reply in every recipient's status;
/// a server that completes the protocol ends it with its own statuses.
/// Without MX records the domain's own addresses are used; a null MX
/// (RFC 7505) gives every recipient `556 5.1.10` and `SMTP_ERR_NULL_MX`
/// without connecting. Under a DANE policy, TLSA records count only for
/// hosts named by a DNSSEC-validated MX RRset, with validated addresses
/// (RFC 7672 §2.2); MTA-STS's `mx` patterns are matched against each host.
/// The TLS policy's domain defaults to this one, and the certificate must
/// name the MX host. NULL returns to `smtp_set_server`'s server. Returns 1,
/// or 0 with `SMTP_ERR_INVAL` for a NULL session, a domain that is not a
/// domain name, or during `smtp_start_session`.
///
/// # Safety
/// `session` must be null or a live session; `domain` null or a C string.
#[no_mangle]
pub unsafe extern "C" fn smtp_set_mx_domain(session: smtp_session_t, domain: *const c_char) -> c_int {
    guarded!(0, {
        // SAFETY: per the function's contract.
        let s = need!(unsafe { handle(session) }, 0);
        check_args!(!session_running(s), 0);
        // SAFETY: per the function's contract.
        let Some(d) = (unsafe { cstr(domain) }) else {
            *s.mx_domain.borrow_mut() = None;
            return 1;
        };
        let target = need!(d.to_str().ok().and_then(mx_target), 0);
        *s.canon.borrow_mut() = None;
        *s.mx_domain.borrow_mut() = Some(target);
        1
    })
}

/// `domain[:port]` for [`smtp_set_mx_domain`]: a domain name (an address
/// has no MX records), and a port or service name.
fn mx_target(d: &str) -> Option<crate::esmtp::session::ServerAddr> {
    let (host, port) = match d.rsplit_once(':') {
        Some((h, p)) if !p.is_empty() && p.bytes().all(|c| c.is_ascii_alphanumeric() || c == b'-') => (h, p),
        Some(_) => return None,
        None => (d, "25"),
    };
    let numeric = host
        .strip_suffix('.')
        .unwrap_or(host)
        .rsplit('.')
        .next()
        .is_some_and(|l| l.bytes().all(|c| c.is_ascii_digit()));
    if !valid_domain(host) || numeric {
        return None;
    }
    Some(crate::esmtp::session::ServerAddr {
        host: std::ffi::CString::new(host).ok()?,
        port: std::ffi::CString::new(port).ok()?,
    })
}

/// Changes the session's policy settings; 0 with `SMTP_ERR_INVAL` should
/// they be in use (they are only read while a session starts).
fn update_policy(s: &crate::esmtp::session::Session, f: impl FnOnce(&mut policy::Config)) -> c_int {
    let Ok(mut cfg) = s.tls_policy.try_borrow_mut() else {
        check_args!(false, 0);
        return 0;
    };
    f(&mut cfg);
    1
}

pub(super) fn valid_domain(d: &str) -> bool {
    let d = d.strip_suffix('.').unwrap_or(d);
    !d.is_empty()
        && d.len() <= 253
        && d.split('.').all(|l| {
            !l.is_empty() && l.len() <= 63 && l.bytes().all(|c| c.is_ascii_alphanumeric() || c == b'-')
        })
}

/// The resolvers the policies ask, as a comma- or space-separated list of
/// `address[:port]` (IPv6 as `[addr]:port`); NULL returns to the default,
/// the nameservers of /etc/resolv.conf, trusted for DANE only when all are
/// on loopback (otherwise DANE does not apply, and the session reports a
/// TLSRPT failure whose reason begins `untrusted-resolver:`). The AD bit
/// of the resolvers given here is trusted,
/// as Postfix and Exim trust it: list only validating resolvers reached
/// over a trusted path, normally on loopback. Returns 1, or 0 with
/// `SMTP_ERR_INVAL` for a NULL session or an address that cannot be parsed.
///
/// # Safety
/// `session` must be null or a live session; `servers` null or a C string.
#[no_mangle]
pub unsafe extern "C" fn smtp_tls_set_resolver(session: smtp_session_t, servers: *const c_char) -> c_int {
    guarded!(0, {
        // SAFETY: per the function's contract.
        let s = need!(unsafe { handle(session) }, 0);
        check_args!(!session_running(s), 0);
        // SAFETY: per the function's contract.
        let list = match unsafe { cstr(servers) } {
            None => None,
            Some(text) => {
                let text = need!(text.to_str().ok(), 0);
                let parsed: Option<Vec<_>> =
                    text.split([',', ' ']).filter(|x| !x.is_empty()).map(policy::dns::parse_server).collect();
                let parsed = need!(parsed.filter(|p| !p.is_empty()), 0);
                Some(parsed)
            }
        };
        update_policy(s, |cfg| cfg.resolvers = list)
    })
}

/// Bounds each DNS question, and each MTA-STS policy fetch as a whole, to
/// `ms` milliseconds (at least 100; default 15000). Returns the value
/// stored, or 0 with `SMTP_ERR_INVAL` for a NULL session.
///
/// # Safety
/// `session` must be null or a live session.
#[no_mangle]
pub unsafe extern "C" fn smtp_tls_set_policy_timeout(session: smtp_session_t, ms: c_long) -> c_long {
    guarded!(0, {
        // SAFETY: per the function's contract.
        let s = need!(unsafe { handle(session) }, 0);
        check_args!(!session_running(s), 0);
        let ms = ms.clamp(100, 3_600_000);
        if update_policy(s, |cfg| cfg.timeout = std::time::Duration::from_millis(ms as u64)) == 0 {
            return 0;
        }
        ms
    })
}

/// The port MTA-STS policies are fetched from (default 443), for test
/// beds and private deployments. Returns 1, or 0 with `SMTP_ERR_INVAL`
/// for a NULL session or a port outside 1..65535.
///
/// # Safety
/// `session` must be null or a live session.
#[no_mangle]
pub unsafe extern "C" fn smtp_tls_set_sts_port(session: smtp_session_t, port: c_int) -> c_int {
    guarded!(0, {
        // SAFETY: per the function's contract.
        let s = need!(unsafe { handle(session) }, 0);
        check_args!(!session_running(s), 0);
        let port = need!(u16::try_from(port).ok().filter(|&p| p != 0), 0);
        update_policy(s, |cfg| cfg.sts_port = port)
    })
}

/// Sets (or with NULL clears) the TLSRPT callback. Returns 1, or 0 with
/// `SMTP_ERR_INVAL` for a NULL session.
///
/// # Safety
/// `session` must be null or a live session; `cb` must stay callable while
/// the session runs.
#[no_mangle]
pub unsafe extern "C" fn smtp_tls_set_report_cb(
    session: smtp_session_t,
    cb: smtp_tlsrpt_cb_t,
    arg: *mut c_void,
) -> c_int {
    guarded!(0, {
        // SAFETY: per the function's contract.
        let s = need!(unsafe { handle(session) }, 0);
        check_args!(!session_running(s), 0);
        let Ok(mut sink) = s.report_sink.try_borrow_mut() else {
            check_args!(false, 0);
            return 0;
        };
        *sink = cb.map(|cb| Rc::new(CReportSink { cb, arg, session }) as _);
        1
    })
}

/// With `on`, `SMTP_EV_TLS_CERT` reports each certificate of the server's
/// chain (off by default, so programs written for libESMTP never see an
/// event number they do not know). Returns 1, or 0 with `SMTP_ERR_INVAL`
/// for a NULL session.
///
/// # Safety
/// `session` must be null or a live session.
#[no_mangle]
pub unsafe extern "C" fn smtp_tls_set_cert_events(session: smtp_session_t, on: c_int) -> c_int {
    guarded!(0, {
        // SAFETY: per the function's contract.
        let s = need!(unsafe { handle(session) }, 0);
        check_args!(!session_running(s), 0);
        s.cert_events.set(on != 0);
        1
    })
}

/// TLSRPT results collected into one RFC 8460 report.
pub struct smtp_tlsrpt(tlsrpt::Aggregate);

/// A handle on a report being collected.
pub type smtp_tlsrpt_t = *mut smtp_tlsrpt;

/// A new, empty collection of TLSRPT results; NULL if out of memory.
#[no_mangle]
pub extern "C" fn smtp_tlsrpt_new() -> smtp_tlsrpt_t {
    guarded!(std::ptr::null_mut(), { Box::into_raw(Box::new(smtp_tlsrpt(tlsrpt::Aggregate::default()))) })
}

/// Adds one result, as given to the TLSRPT callback or event. Returns 1,
/// or 0 with `SMTP_ERR_INVAL` for NULL arguments or text that is not such
/// a result.
///
/// # Safety
/// `report` must be null or from `smtp_tlsrpt_new`; `json` null or a C string.
#[no_mangle]
pub unsafe extern "C" fn smtp_tlsrpt_add(report: smtp_tlsrpt_t, json: *const c_char) -> c_int {
    guarded!(0, {
        // SAFETY: per the function's contract; the handle is only used on
        // one thread at a time, as the caller's.
        let r = need!(unsafe { report.as_mut() }, 0);
        // SAFETY: per the function's contract.
        let text = need!(unsafe { cstr(json) }.and_then(|j| j.to_str().ok()), 0);
        check_args!(r.0.add(text), 0);
        1
    })
}

/// The RFC 8460 report document (JSON) over the results whose `epoch` is
/// in `[start, end)`, grouped by policy with success and failure counts
/// and failure details. The string is the caller's, to release with
/// `free()`. NULL with `SMTP_ERR_INVAL` for NULL arguments.
///
/// # Safety
/// `report` must be null or from `smtp_tlsrpt_new`; the strings null or C strings.
#[no_mangle]
pub unsafe extern "C" fn smtp_tlsrpt_report(
    report: smtp_tlsrpt_t,
    organization: *const c_char,
    contact: *const c_char,
    report_id: *const c_char,
    start: c_long,
    end: c_long,
) -> *mut c_char {
    guarded!(std::ptr::null_mut(), {
        // SAFETY: per the function's contract.
        let r = need!(unsafe { report.as_ref() }, std::ptr::null_mut());
        // SAFETY: per the function's contract.
        let text = |p| unsafe { cstr(p) }.map(|c| c.to_string_lossy());
        let (org, contact, id) = (text(organization), text(contact), text(report_id));
        let (org, contact, id) =
            need!(org.zip(contact).zip(id).map(|((a, b), c)| (a, b, c)), std::ptr::null_mut());
        let doc = r.0.report(&org, &contact, &id, start, end);
        // malloc'ed: the caller frees it.
        crate::common::cstr::malloc_cstr(doc.as_bytes())
    })
}

/// Releases a report collection; NULL is ignored.
///
/// # Safety
/// `report` must be null or from `smtp_tlsrpt_new`, not yet destroyed.
#[no_mangle]
pub unsafe extern "C" fn smtp_tlsrpt_destroy(report: smtp_tlsrpt_t) {
    guarded!((), {
        if !report.is_null() {
            // SAFETY: per the function's contract, a pointer from Box::into_raw.
            drop(unsafe { Box::from_raw(report) });
        }
    })
}
