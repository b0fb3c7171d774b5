//! The TLS policies' part in the session engine: planning a session, setting
//! up and judging each handshake, and handing results to the application.

use std::ffi::CString;

use openssl::ssl::{SslContext, SslRef};
use socket2::SockAddr;

use crate::esmtp::conn::service_port;
use crate::esmtp::error::{self, set_error};
use crate::esmtp::events::{report, Event, EventSink};
use crate::esmtp::policy::tlsrpt::{result, Failure, TlsResult};
use crate::esmtp::policy::{arm, judge, prepare, Armed, Config, Kind, Mode, Plan, Stop};
use crate::esmtp::session::{ServerAddr, Session, StartTls};
use crate::esmtp::tls::handshake::Hooks;

/// A session's plan, and the addresses the policy's lookups found
/// (`None`: resolve them as libESMTP does).
pub struct Planned {
    pub plan: Option<Plan>,
    pub addrs: Option<Vec<SockAddr>>,
}

/// Plans a session that has a policy, reporting failures met before any
/// connection. `None` (the error code set) when it must not connect.
pub fn plan_session(
    sess: &Session,
    server: &ServerAddr,
    ctx: &dyn Fn() -> Option<SslContext>,
) -> Option<Planned> {
    let cfg = sess.tls_policy.borrow().clone();
    let host = server.host.to_string_lossy();
    let Some(port) = service_port(&server.port) else {
        // As getaddrinfo would have failed for libESMTP's own lookup.
        error::set_herror(libc::EAI_SERVICE, 0);
        return None;
    };
    // The application named the host: it vouches for the name.
    plan_host(sess, &cfg, &host, port, true, ctx)
}

/// Plans the connections to one host under `cfg`; `name_secure` as for
/// [`prepare`]. `None` (the error code set) when it must not connect.
pub fn plan_host(
    sess: &Session,
    cfg: &Config,
    host: &str,
    port: u16,
    name_secure: bool,
    ctx: &dyn Fn() -> Option<SslContext>,
) -> Option<Planned> {
    let sink = sess.event_sink();
    let mut emit = |r: TlsResult| emit_report(sess, sink.as_deref(), &r);
    match prepare(cfg, host, port, name_secure, ctx, &mut emit) {
        Ok(p) => {
            let addrs = p.addrs.map(|a| a.into_iter().map(SockAddr::from).collect());
            // Where DANE or MTA-STS found nothing to enforce, an application
            // that set up STARTTLS itself keeps its own rules and checks: a
            // policy never weakens them.
            let fell_back = p.plan.mode == Mode::Opportunistic && cfg.kind != Kind::Opportunistic;
            let plan = (!(fell_back && sess.starttls.get() != StartTls::Disabled)).then_some(p.plan);
            Some(Planned { plan, addrs })
        }
        Err(Stop::Lookup(gai)) => {
            error::set_herror(gai, 0);
            None
        }
        Err(Stop::Policy) => {
            set_error(error::ERR_TLS_POLICY);
            None
        }
    }
}

/// A policy's part in one handshake: its setup, and its verdict kept for
/// the report.
pub struct PolicyHooks<'p> {
    plan: &'p Plan,
    ctx: &'p SslContext,
    /// `None` until the policy has judged (or the handshake broke).
    pub verdict: Option<Result<(), Failure>>,
    /// Set when OpenSSL took none of the TLSA records: TLS goes on
    /// unauthenticated, and the result says why.
    pub unusable: Option<String>,
}

impl<'p> PolicyHooks<'p> {
    pub fn new(plan: &'p Plan, ctx: &'p SslContext) -> Self {
        PolicyHooks { plan, ctx, verdict: None, unusable: None }
    }
}

impl Hooks for PolicyHooks<'_> {
    fn prepare(&mut self, ssl: &mut SslRef) -> bool {
        match arm(ssl, self.ctx, self.plan) {
            Armed::Ready => true,
            Armed::Unusable(reason) => {
                self.unusable = Some(reason);
                true
            }
            Armed::Failed => false,
        }
    }

    fn judge(&mut self, ssl: &SslRef) -> Option<bool> {
        if self.unusable.is_some() {
            self.verdict = Some(Ok(()));
            return Some(true);
        }
        let v = judge(ssl, self.plan);
        let accept = v.is_ok() || self.plan.mode != Mode::Enforce;
        self.verdict = Some(v);
        Some(accept)
    }

    fn broken(&mut self) {
        self.verdict = Some(Err((result::VALIDATION_FAILURE, "TLS handshake failed".into())));
    }
}

/// Hands one TLSRPT result to the application: SMTP_EV_TLSRPT and the
/// report callback.
pub fn emit_report(sess: &Session, sink: Option<&dyn EventSink>, r: &TlsResult) {
    let Ok(json) = CString::new(r.to_json()) else { return };
    report(sink, Event::TlsReport(&json), 0);
    let cb = sess.report_sink.borrow().clone();
    if let Some(cb) = cb {
        cb.report(&json);
    }
}
