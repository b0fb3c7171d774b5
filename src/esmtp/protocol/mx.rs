//! Delivery to a recipient domain (our extension, `smtp_set_mx_domain`):
//! its MX hosts by preference (RFC 5321 §5.1), each host's addresses in
//! turn, each host under the TLS policy that applies to it: DANE only for
//! hosts named by a DNSSEC-validated MX RRset and with validated addresses
//! (RFC 7672 §2.2), MTA-STS's `mx` patterns matched against each host.
//!
//! The next address or host is tried after a connection failure, a 4xx
//! greeting, a TLS or policy failure; a 5xx greeting ends the delivery
//! (the domain refused it); a server that completes the protocol ends it
//! with the statuses it gave.

use std::ffi::CString;
use std::net::SocketAddr;

use socket2::SockAddr;

use super::engine::{Attempt, RunOptions};
use super::starttls::tls_context;
use super::tls_policy::{emit_report, plan_host};
use crate::esmtp::conn::service_port;
use crate::esmtp::error::{self, set_error};
use crate::esmtp::policy::mx::{self, MxError};
use crate::esmtp::policy::tlsrpt::{result, PolicyDesc, PolicyType, TlsResult};
use crate::esmtp::policy::{dns, lookup_host, Kind};
use crate::esmtp::reply::Reply;
use crate::esmtp::session::{ServerAddr, Session};

/// Addresses tried per MX host (RFC 5321 §5.1 asks for at least two).
pub const MAX_ADDRS_PER_HOST: usize = 4;

/// The status a null MX leaves on each recipient and message: RFC 7505
/// §4.2's reply, said by us.
const NULL_MX: (i32, [i32; 3]) = (556, [5, 1, 10]);

pub(super) fn run(sess: &Session, opts: &RunOptions, target: &ServerAddr, localhost: &[u8]) -> i32 {
    let Some(port) = service_port(&target.port) else {
        error::set_herror(libc::EAI_SERVICE, 0);
        return 0;
    };
    let domain = dns::normalize(&target.host.to_string_lossy());
    let mut cfg = sess.tls_policy.borrow().clone();
    if cfg.domain.is_none() {
        cfg.domain = Some(domain.clone());
    }
    let resolver = cfg.resolver();
    let sink = sess.event_sink();
    let hosts = match mx::lookup(&resolver, &domain, &mut mx::random_order) {
        Ok(h) => h,
        Err(MxError::NullMx) => {
            let text = format!("{} (client)\r\n", MxError::NullMx.reason(&domain));
            fail_all(sess, NULL_MX.0, text.as_bytes(), NULL_MX.1);
            set_error(error::ERR_NULL_MX);
            return 0;
        }
        Err(e) => {
            if cfg.kind != Kind::None && cfg.kind != Kind::Opportunistic && matches!(e, MxError::Lookup(_)) {
                // A failed (not empty) MX lookup may hide the records that
                // would have required TLS: no delivery, and the domain
                // should know.
                let desc = PolicyDesc {
                    kind: PolicyType::NoPolicyFound,
                    domain: domain.clone(),
                    strings: Vec::new(),
                    mx_host: Vec::new(),
                };
                let r = TlsResult::new(desc, &domain, Some((result::DNSSEC_INVALID, e.reason(&domain))));
                emit_report(sess, sink.as_deref(), &r);
            }
            error::set_herror(e.gai().unwrap_or(libc::EAI_FAIL), 0);
            return 0;
        }
    };
    let ctx = || tls_context(sess, sink.as_deref());
    for host in &hosts.hosts {
        let planned = if cfg.kind == Kind::None {
            None
        } else {
            match plan_host(sess, &cfg, host, port, hosts.secure, &ctx) {
                Some(p) => Some(p),
                // Policy failure or lookup failure for this host: the
                // result is reported, the next host may do.
                None => continue,
            }
        };
        let (plan, addrs) = match planned {
            Some(p) => (p.plan, p.addrs),
            None => (None, None),
        };
        let addrs = match addrs {
            Some(a) => a,
            None => match lookup_host(&resolver, host, port) {
                Ok(h) => h.addrs.into_iter().map(SockAddr::from).collect(),
                Err((_, gai)) => {
                    error::set_herror(gai, 0);
                    continue;
                }
            },
        };
        // The certificate must name the MX host (RFC 7672 §3.2.2, RFC 8461
        // §4.2); smtp_get_server_name tells which host took the mail.
        *sess.canon.borrow_mut() = CString::new(host.as_str()).ok();
        for addr in addrs.iter().take(MAX_ADDRS_PER_HOST) {
            match super::attempt(sess, opts, addr, localhost, plan.as_ref()) {
                Some(Attempt::Completed) => return 1,
                Some(Attempt::Refused(r)) => {
                    refused(sess, host, addr, &r);
                    return 0;
                }
                Some(Attempt::Next) | None => {}
            }
        }
    }
    0
}

/// A 5xx greeting: the domain's server refused the mail. Each recipient
/// still to deliver, and each message, gets that reply, marked as ours.
fn refused(sess: &Session, host: &str, addr: &SockAddr, r: &Reply) {
    let at = addr.as_socket().map_or_else(String::new, |a: SocketAddr| format!(" [{}]", a.ip()));
    let said = String::from_utf8_lossy(&r.text).trim_end().to_owned();
    let text = format!("{host}{at} refused the session: {} {said} (client)\r\n", r.code);
    let enh = if r.enh[0] == 5 { r.enh } else { [5, 0, 0] };
    fail_all(sess, r.code, text.as_bytes(), enh);
}

/// Sets a permanent status on every pending message and its incomplete
/// recipients, and completes them: no later run retries them.
fn fail_all(sess: &Session, code: i32, text: &[u8], enh: [i32; 3]) {
    for msg in sess.messages.iter() {
        let pending: Vec<_> = msg.recipients.iter().filter(|r| !r.complete.get()).collect();
        if pending.is_empty() {
            continue;
        }
        msg.message_status.set(code, Some(text), enh);
        for r in pending {
            r.status.set(code, Some(text), enh);
            r.complete.set(true);
        }
    }
}
