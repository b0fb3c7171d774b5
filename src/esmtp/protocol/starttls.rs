//! STARTTLS (RFC 3207) and the TLS handshake, under the session's TLS
//! policy when it has one.

use foreign_types::ForeignTypeRef;
use openssl::ssl::{SslContext, SslContextRef};

use super::engine::Engine;
use super::stop::Stop;
use super::tls_policy as glue;
use crate::esmtp::error::{self, set_error};
use crate::esmtp::events::EventSink;
use crate::esmtp::extensions::Extensions;
use crate::esmtp::policy::{self, Mode};
use crate::esmtp::session::{Session, StartTls};
use crate::esmtp::tls;

/// The session's SSL_CTX: the application's, else the library's own,
/// shared by the process while its files do not change (events report
/// unusable files).
pub(crate) fn tls_context(sess: &Session, sink: Option<&dyn EventSink>) -> Option<SslContext> {
    let app = sess.tls_ctx.get().cast::<openssl_sys::SSL_CTX>();
    if !app.is_null() {
        // SAFETY: the session holds a reference to the application's
        // SSL_CTX (taken in smtp_starttls_set_ctx); to_owned takes one
        // more for the connection.
        return Some(unsafe { SslContextRef::from_ptr(app) }.to_owned());
    }
    if let Some(ctx) = sess.own_tls_ctx.borrow().as_ref() {
        return Some(ctx.clone());
    }
    let ctx = tls::context::shared(&tls::context::Layout::find(), sink)?;
    *sess.own_tls_ctx.borrow_mut() = Some(ctx.clone());
    Some(ctx)
}

impl<'a> Engine<'a> {
    pub(super) fn tls_context(&self) -> Option<SslContext> {
        tls_context(self.sess, self.sink)
    }

    /// STARTTLS as the policy wants it, never less than the application
    /// asked for.
    pub(super) fn starttls_mode(&self) -> StartTls {
        let app = self.sess.starttls.get();
        match self.plan.map(|p| p.mode) {
            None => app,
            Some(Mode::Enforce) => StartTls::Required,
            Some(_) if app == StartTls::Required => StartTls::Required,
            Some(_) => StartTls::Enabled,
        }
    }

    /// Reports a connection's TLSRPT result, with its addresses.
    pub(super) fn policy_report(&self, failure: Option<policy::tlsrpt::Failure>) {
        let Some(mut r) = self.plan.and_then(|p| p.result(failure)) else { return };
        let (local, peer) = self.conn.endpoints();
        r.sending_mta_ip = local.map(|a| a.ip().to_string());
        r.receiving_ip = peer.map(|a| a.ip().to_string());
        glue::emit_report(self.sess, self.sink, &r);
    }

    /// TLS could not be started under a policy: reports it; true when the
    /// policy took charge (and, if it forbids clear text, stopped delivery).
    /// An opportunistic policy leaves the matter to the application's
    /// STARTTLS setting.
    pub(super) fn no_starttls(&mut self, why: &str) -> bool {
        let Some(plan) = self.plan.filter(|p| p.mode != Mode::Opportunistic) else { return false };
        let reason = format!("4.7.4 {why}");
        self.policy_report(Some((policy::tlsrpt::result::STARTTLS_NOT_SUPPORTED, reason)));
        if plan.mode == Mode::Enforce {
            set_error(error::ERR_TLS_POLICY);
            self.fallback = true;
        }
        true
    }

    /// The name the certificate must carry: getaddrinfo's canonical name,
    /// else the host the application set.
    pub(super) fn server_name(&self) -> String {
        let canon = self.sess.canon.borrow();
        let server = self.sess.server.borrow();
        let name = canon.as_deref().or(server.as_ref().map(|s| s.host.as_c_str()));
        name.map(|n| n.to_string_lossy().into_owned()).unwrap_or_default()
    }

    /// TLS on the connection, or how the session must end.
    pub(super) fn secure(&mut self, ctx: &SslContext) -> Result<(), Stop> {
        let host = self.server_name();
        let cert_events = self.sess.cert_events.get();
        let to_stop = |r| match r {
            tls::handshake::Refused::Broken => Stop::Drop,
            tls::handshake::Refused::Rejected => Stop::Quit,
        };
        let Some(plan) = self.plan else {
            let mut none = tls::handshake::NoPolicy { resume: self.sess.tls_resume.get() };
            return tls::handshake::secure(&mut self.conn, ctx, &host, self.sink, cert_events, &mut none)
                .map_err(to_stop);
        };
        let mut hooks = glue::PolicyHooks::new(plan, ctx);
        let done = tls::handshake::secure(&mut self.conn, ctx, &host, self.sink, cert_events, &mut hooks);
        if plan.mode != Mode::Opportunistic {
            let unusable = hooks.unusable.map(|r| (policy::tlsrpt::result::TLSA_INVALID, r));
            match hooks.verdict {
                Some(Ok(())) => self.policy_report(unusable.or_else(|| plan.degraded.clone())),
                Some(Err(f)) => {
                    self.policy_report(Some(f));
                    if plan.mode == Mode::Enforce {
                        set_error(error::ERR_TLS_POLICY);
                        // Another address may have a better certificate.
                        self.fallback = true;
                    }
                }
                // Refused before the policy's check (certificate event).
                None => {}
            }
        }
        done.map_err(to_stop)
    }

    /// RFC 3207: STARTTLS alone, its reply, the handshake. A refusal ends
    /// the session (there is no falling back to clear text), except under a
    /// policy that allows clear text: then it is `Ok(false)`.
    pub(super) fn starttls(&mut self, ctx: &SslContext) -> Result<bool, Stop> {
        self.write(b"STARTTLS\r\n")?;
        let r = self.reply(false)?;
        if r.class() != 2 {
            if !matches!(r.class(), 4 | 5) {
                set_error(error::ERR_INVALID_RESPONSE_STATUS);
            }
            self.no_starttls(&format!("STARTTLS refused with {}", r.code));
            if self.plan.is_some() && self.starttls_mode() != StartTls::Required {
                return Ok(false);
            }
            return Err(Stop::Quit);
        }
        self.secure(ctx)?;
        self.ext = Extensions::default();
        Ok(true)
    }
}
