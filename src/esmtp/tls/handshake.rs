//! Turning a connection into a TLS one and deciding whether to trust it:
//! libESMTP's checks, in its order, each with its event.

use std::ffi::CString;
use std::net::IpAddr;

use openssl::ssl::{Ssl, SslContext, SslRef};
use openssl::x509::X509VerifyResult;

use super::context::{self, Layout};
use super::names;
use super::resume;
use crate::esmtp::conn::Conn;
use crate::esmtp::error::{self, set_error};
use crate::esmtp::events::{report, Event, EventSink};

/// Why TLS was not established.
#[derive(Debug, PartialEq, Eq)]
pub enum Refused {
    /// The connection cannot carry on (handshake failed, SSL not created):
    /// `SMTP_ERR_CLIENT_ERROR` is set; close without QUIT.
    Broken,
    /// A check failed or the application said no: QUIT over TLS, no error
    /// code (as libESMTP).
    Rejected,
}

/// What a TLS policy adds to a handshake.
pub trait Hooks {
    /// Sets up the `SSL` before the handshake; false: it cannot go on.
    fn prepare(&mut self, _ssl: &mut SslRef) -> bool {
        true
    }

    /// After the handshake: `Some(accept)` replaces libESMTP's checks.
    fn judge(&mut self, _ssl: &SslRef) -> Option<bool> {
        None
    }

    /// The handshake itself failed.
    fn broken(&mut self) {}

    /// Whether the connection may resume a cached TLS session and leave
    /// its own for the next (`resume.rs`). A policy verifies afresh.
    fn resumable(&self) -> bool {
        false
    }
}

/// libESMTP's behaviour: no policy; resumption unless the application
/// turned it off (`smtp_tls_set_resumption`).
pub struct NoPolicy {
    pub resume: bool,
}

impl Hooks for NoPolicy {
    fn resumable(&self) -> bool {
        self.resume
    }
}

/// Runs the handshake on `conn` for `host` (the canonical name, else the
/// configured one) and the checks after it; reports STARTTLS_OK on success.
/// With `cert_events`, each certificate of the chain is reported first
/// (SMTP_EV_TLS_CERT) and any can refuse the connection.
pub fn secure(
    conn: &mut Conn,
    ctx: &SslContext,
    host: &str,
    sink: Option<&dyn EventSink>,
    cert_events: bool,
    hooks: &mut dyn Hooks,
) -> Result<(), Refused> {
    let broken = || {
        set_error(error::ERR_CLIENT_ERROR);
        Refused::Broken
    };
    let mut ssl = Ssl::new(ctx).map_err(|_| broken())?;
    // SNI for names, never for address literals (RFC 6066 §3). libESMTP
    // sent none.
    if host.parse::<IpAddr>().is_err() && !host.is_empty() {
        ssl.set_hostname(host).map_err(|_| broken())?;
    }
    if !context::use_host_certificate(&mut ssl, &Layout::find(), host, sink) || !hooks.prepare(&mut ssl) {
        return Err(broken());
    }
    // Only our own contexts carry an identity; the application's keep
    // their own session cache.
    let peer = conn.endpoints().1;
    let pending = match (hooks.resumable(), context::identity(ctx), peer) {
        (true, Some(trust), Some(peer)) => {
            Some(resume::prepare(&mut ssl, resume::Key { host: host.to_string(), port: peer.port(), trust }))
        }
        _ => None,
    };
    if conn.start_tls(ssl).is_err() {
        hooks.broken();
        if let Some(p) = &pending {
            resume::forget(p.key());
        }
        return Err(broken());
    }
    let ssl = conn.ssl().ok_or_else(broken)?;
    // A resumed session brings back the peer's certificates and their
    // verification result: the same checks and events run on them.
    let accepted = (!cert_events || certificates_accepted(ssl, sink))
        && match hooks.judge(ssl) {
            Some(verdict) => verdict,
            None => acceptable(ssl, host, sink),
        };
    if let Some(p) = &pending {
        resume::settle(ssl, p, accepted);
    }
    if !accepted {
        return Err(Refused::Rejected);
    }
    let (name, bits) = match ssl.current_cipher() {
        Some(c) => (c.name(), c.bits().secret),
        None => ("", 0),
    };
    let name = CString::new(name).unwrap_or_default();
    report(sink, Event::StartTlsOk(ssl, &name, bits), 0);
    Ok(())
}

/// SMTP_EV_TLS_CERT for each certificate of the peer's chain as it sent
/// it, from the top down to its own (depth 0), in the order OpenSSL's
/// verifier visits them, as Exim's `tls:cert` event. Unlike Exim on
/// OpenSSL, roots from the local store are not included: the event is
/// about what the peer presented, whatever verified it.
fn certificates_accepted(ssl: &SslRef, sink: Option<&dyn EventSink>) -> bool {
    let chain = ssl.peer_cert_chain();
    let Some(chain) = chain else { return true };
    (0..chain.len()).rev().all(|depth| match chain.get(depth) {
        Some(cert) => report(sink, Event::TlsCert(cert, depth as i32, ssl), 1) != 0,
        None => true,
    })
}

/// libESMTP's checks after the handshake, in its order: the chain, the
/// cipher's strength, then the certificate's presence and name. The
/// application's `ok` decides each; the default is no.
fn acceptable(ssl: &SslRef, host: &str, sink: Option<&dyn EventSink>) -> bool {
    let verify = ssl.verify_result();
    if verify != X509VerifyResult::OK
        && report(sink, Event::InvalidPeerCertificate(verify.as_raw() as i64, ssl), 0) == 0
    {
        return false;
    }
    let bits = ssl.current_cipher().map_or(0, |c| c.bits().secret);
    if bits <= 40 && report(sink, Event::WeakCipher(bits), 0) == 0 {
        return false;
    }
    match ssl.peer_certificate() {
        None => report(sink, Event::NoPeerCertificate, 0) != 0,
        Some(cert) => match names::check_host(&cert, host) {
            Ok(()) => true,
            Err(name) => {
                let name = CString::new(name.replace('\0', "")).unwrap_or_default();
                report(sink, Event::WrongPeerCertificate(&name, ssl), 0) != 0
            }
        },
    }
}
