//! The SMTP client protocol engine behind `smtp_start_session`.
//!
//! Synchronous, one connection at a time, following libESMTP 1.1.0's
//! sequence of commands, events and statuses. With PIPELINING it sends
//! RFC 2920 groups: MAIL, every RCPT and DATA together, and a message's
//! end-of-data dot together with the next MAIL group (or QUIT).
//!
//! A status says what the server said only when its reply was well formed,
//! of a kind its command can have, and in step (`engine.rs`); the phases of
//! a session each have a file: `greeting.rs` (greeting, EHLO, HELO,
//! required extensions), `starttls.rs`, `auth.rs`, `etrn.rs`,
//! `transaction.rs` (MAIL to the final reply), with the message content in
//! `transfer.rs` and the TLS policies' part in `tls_policy.rs`.

mod auth;
mod engine;
mod etrn;
mod greeting;
mod mx;
mod starttls;
mod stop;
#[cfg(test)]
mod tests;
mod tls_policy;
mod transaction;
mod transfer;

use socket2::SockAddr;

use super::conn::{resolve, Conn};
use super::error::{self, set_error};
use super::events::{report, Event};
use super::extensions::Extensions;
use super::policy::{Kind, Plan};
use super::session::{Session, TimeoutKind};
pub use engine::RunOptions;
use engine::{Attempt, Engine};
pub(crate) use starttls::tls_context;

/// The local host name for EHLO/HELO and Message-Id.
fn local_hostname(sess: &Session) -> Result<Vec<u8>, i32> {
    if let Some(h) = sess.hostname.borrow().as_ref() {
        return Ok(h.to_bytes().to_vec());
    }
    // SAFETY: uname fills the zeroed struct; nodename is NUL-terminated.
    unsafe {
        let mut uts: libc::utsname = std::mem::zeroed();
        if libc::uname(&mut uts) < 0 {
            return Err(std::io::Error::last_os_error().raw_os_error().unwrap_or(0));
        }
        Ok(std::ffi::CStr::from_ptr(uts.nodename.as_ptr()).to_bytes().to_vec())
    }
}

/// Runs a whole session. Returns libESMTP's result: 1 when some server
/// completed the protocol (statuses tell how it went), 0 otherwise.
pub fn run(sess: &Session, opts: &RunOptions) -> i32 {
    let localhost = match local_hostname(sess) {
        Ok(h) => h,
        Err(e) => {
            error::set_errno(e);
            return 0;
        }
    };
    if sess.next_pending_message(None).is_none() && sess.etrn_nodes.is_empty() {
        set_error(error::ERR_NOTHING_TO_DO);
        return 0;
    }
    let mx_domain = sess.mx_domain.borrow().clone();
    if let Some(target) = mx_domain {
        return mx::run(sess, opts, &target, &localhost);
    }
    let Some(server) = sess.server.borrow().clone() else {
        set_error(error::ERR_INVAL);
        return 0;
    };
    let (plan, planned_addrs) = if sess.tls_policy.borrow().kind == Kind::None {
        (None, None)
    } else {
        let sink = sess.event_sink();
        let ctx = || tls_context(sess, sink.as_deref());
        match tls_policy::plan_session(sess, &server, &ctx) {
            Some(p) => (p.plan, p.addrs),
            None => return 0,
        }
    };
    let addrs = match planned_addrs {
        Some(a) => {
            // The policy names the host; no canonical name replaces it.
            *sess.canon.borrow_mut() = None;
            a
        }
        None => {
            let node = (!server.host.as_bytes().is_empty()).then_some(server.host.as_c_str());
            match resolve(node, &server.port) {
                Ok(r) => {
                    *sess.canon.borrow_mut() = r.canon.clone();
                    r.addrs
                }
                Err((gai, errno)) => {
                    error::set_herror(gai, errno);
                    return 0;
                }
            }
        }
    };
    run_on(sess, opts, &addrs, &localhost, plan.as_ref())
}

/// Tries each address in turn until a server completes the protocol.
fn run_on(
    sess: &Session,
    opts: &RunOptions,
    addrs: &[SockAddr],
    localhost: &[u8],
    plan: Option<&Plan>,
) -> i32 {
    for addr in addrs {
        // libESMTP goes on after a 5xx greeting too.
        if let Some(Attempt::Completed) = attempt(sess, opts, addr, localhost, plan) {
            return 1;
        }
    }
    0
}

/// One connection and its conversation; `None` when it could not be made
/// (the error code set).
fn attempt(
    sess: &Session,
    opts: &RunOptions,
    addr: &SockAddr,
    localhost: &[u8],
    plan: Option<&Plan>,
) -> Option<Attempt> {
    let sink = sess.event_sink();
    let sink = sink.as_deref();
    let mut conn = match Conn::connect(addr, sess.timeout(TimeoutKind::Greeting)) {
        Ok(c) => c,
        Err(e) => {
            error::set_errno(e.raw_os_error().unwrap_or(libc::EIO));
            return None;
        }
    };
    let monitor = sess.monitor();
    conn.set_monitor(monitor.clone());
    report(sink, Event::Connect, 0);
    let engine = Engine {
        sess,
        sink,
        monitor,
        conn,
        ext: Extensions::default(),
        localhost,
        fallback: false,
        refused: None,
        opts,
        pending_final: None,
        empty: None,
        in_flight: None,
        unconfirmed: Vec::new(),
        authenticated: false,
        plan,
    };
    let outcome = engine.converse();
    report(sink, Event::Disconnect, 0);
    Some(outcome)
}
