//! TLS policies beyond libESMTP (our extension, `libesmtp-ext.h`): DANE
//! (RFC 7672), MTA-STS (RFC 8461) and TLS reporting (RFC 8460).
//!
//! A session with a policy is planned before it connects: its addresses
//! and policy records are looked up through [`dns::Resolver`], which decides
//! what each connection must prove after its TLS handshake. Sessions
//! without one never get here: no resolver, thread or runtime is started.

pub mod dane;
pub mod dns;
pub mod https;
pub mod json;
pub mod mx;
pub mod sts;
pub mod tlsrpt;

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, Instant};

use openssl::ssl::{SslContext, SslRef};
use openssl::x509::X509VerifyResult;

use dane::Tlsa;
use tlsrpt::{result, Failure, PolicyDesc, PolicyType, TlsResult};

/// The policy an application chose (`enum smtp_tls_policy`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Kind {
    /// libESMTP's own behaviour, as `smtp_starttls_enable` set it.
    #[default]
    None,
    /// TLS when offered, no certificate checks, never a failure (RFC 7435).
    Opportunistic,
    Dane,
    MtaSts,
    /// DANE where the host has TLSA records, else MTA-STS (RFC 8461 §2).
    DaneThenMtaSts,
}

impl Kind {
    pub fn from_c(v: i32) -> Option<Kind> {
        Some(match v {
            0 => Kind::None,
            1 => Kind::Opportunistic,
            2 => Kind::Dane,
            3 => Kind::MtaSts,
            4 => Kind::DaneThenMtaSts,
            _ => return None,
        })
    }

    fn dane(self) -> bool {
        matches!(self, Kind::Dane | Kind::DaneThenMtaSts)
    }

    fn sts(self) -> bool {
        matches!(self, Kind::MtaSts | Kind::DaneThenMtaSts)
    }
}

pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(15);

/// A session's policy settings.
#[derive(Clone, Debug)]
pub struct Config {
    pub kind: Kind,
    /// The recipient domain the policy is looked up for.
    pub domain: Option<String>,
    /// `None`: the nameservers of /etc/resolv.conf.
    pub resolvers: Option<Vec<SocketAddr>>,
    /// For each DNS question, and for the whole policy fetch.
    pub timeout: Duration,
    pub sts_port: u16,
}

impl Default for Config {
    fn default() -> Self {
        Config { kind: Kind::None, domain: None, resolvers: None, timeout: DEFAULT_TIMEOUT, sts_port: 443 }
    }
}

impl Config {
    pub fn resolver(&self) -> dns::Resolver {
        match &self.resolvers {
            Some(s) => dns::Resolver { servers: s.clone(), timeout: self.timeout, trust_ad: true },
            None => dns::Resolver::system(self.timeout),
        }
    }
}

/// What failures do to delivery.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// Failures stop delivery (DANE, MTA-STS enforce).
    Enforce,
    /// Failures are reported and delivery goes on (MTA-STS testing).
    Testing,
    /// TLS if offered, nothing checked or reported.
    Opportunistic,
}

/// What a connection's certificate must prove.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Check {
    /// TLS is all (TLSA records exist but none is usable, RFC 7672 §2.2).
    Unauthenticated,
    Dane {
        base: String,
        records: Vec<Tlsa>,
    },
    /// A chain to a trusted root naming the MX host (MTA-STS).
    WebPki,
}

/// The plan for a session's connections.
#[derive(Clone, Debug)]
pub struct Plan {
    pub desc: Option<PolicyDesc>,
    pub mode: Mode,
    pub check: Check,
    pub mx_host: String,
    /// Reported for each connection that otherwise succeeds (unusable
    /// TLSA records): delivery goes on, but the domain should know.
    pub degraded: Option<Failure>,
}

impl Plan {
    fn opportunistic(mx_host: &str) -> Plan {
        Plan {
            desc: None,
            mode: Mode::Opportunistic,
            check: Check::Unauthenticated,
            mx_host: mx_host.to_owned(),
            degraded: None,
        }
    }

    /// Whether clear text is forbidden.
    pub fn tls_required(&self) -> bool {
        self.mode == Mode::Enforce
    }

    /// A result for this plan's policy, to be completed by the caller.
    pub fn result(&self, failure: Option<Failure>) -> Option<TlsResult> {
        Some(TlsResult::new(self.desc.clone()?, &self.mx_host, failure))
    }
}

/// Why a session cannot be delivered under its policy; the libESMTP error
/// code to leave.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stop {
    /// Address lookup failed: the getaddrinfo code it resembles.
    Lookup(i32),
    /// The policy forbids delivery (`SMTP_ERR_TLS_POLICY`).
    Policy,
}

/// The addresses to try and the plan, or why not to try at all. Results
/// of failures met before any connection go to `emit`.
pub struct Prepared {
    /// `None`: resolve with getaddrinfo as libESMTP does.
    pub addrs: Option<Vec<SocketAddr>>,
    pub plan: Plan,
}

fn tlsa_desc(domain: &str, records: &[Tlsa]) -> PolicyDesc {
    PolicyDesc {
        kind: PolicyType::Tlsa,
        domain: domain.to_owned(),
        strings: records.iter().map(Tlsa::presentation).collect(),
        mx_host: Vec::new(),
    }
}

fn sts_desc(domain: &str, p: Option<&sts::StsPolicy>) -> PolicyDesc {
    PolicyDesc {
        kind: PolicyType::Sts,
        domain: domain.to_owned(),
        strings: p.map(|p| p.lines.clone()).unwrap_or_default(),
        mx_host: p.map(|p| p.mx.clone()).unwrap_or_default(),
    }
}

fn failure(desc: PolicyDesc, mx_host: &str, kind: &'static str, reason: String) -> TlsResult {
    TlsResult::new(desc, mx_host, Some((kind, reason)))
}

/// Short, printable excerpt of untrusted text for messages.
pub(crate) fn short(s: &str) -> String {
    s.chars().take(60).filter(|c| !c.is_control()).collect()
}

/// The failure-reason-code of a DANE policy that could not be looked up
/// because the resolvers came from /etc/resolv.conf and are not all on
/// loopback. Its first word is fixed, for programs to match.
fn untrusted(r: &dns::Resolver) -> String {
    let list: Vec<String> = r.servers.iter().map(|s| s.ip().to_string()).collect();
    format!(
        "{UNTRUSTED_RESOLVER}: DNSSEC cannot be checked: the resolvers of /etc/resolv.conf ({}) are not on \
         loopback; name a validating resolver with smtp_tls_set_resolver",
        list.join(", ")
    )
}

/// The first word of [`untrusted`]'s reason.
pub const UNTRUSTED_RESOLVER: &str = "untrusted-resolver";

/// Addresses of `host` through the policy resolver; `secure` when every
/// answer was validated. A failed lookup is `Err(reason, gai code)`.
pub(crate) struct HostAddrs {
    pub addrs: Vec<SocketAddr>,
    /// Every answer that gave addresses was validated.
    pub secure: bool,
    /// The name the addresses belong to, after CNAMEs.
    pub canonical: String,
}

/// A and AAAA of `host`. One family failing while the other answers
/// leaves the addresses of the other (a broken AAAA must not stop mail
/// to a good A); the lookup fails only when neither gives an address.
pub(crate) fn lookup_host(r: &dns::Resolver, host: &str, port: u16) -> Result<HostAddrs, (String, i32)> {
    let mut addrs = Vec::new();
    let mut secure = true;
    let mut nx = true;
    let mut canonical = None;
    let mut failure = None;
    let families = [dns::AAAA, dns::A];
    let answers = r.query_all(&[(host, families[0]), (host, families[1])]);
    for (qtype, answer) in families.into_iter().zip(answers) {
        match answer {
            Ok(a) => {
                nx &= a.nxdomain;
                if !a.rdata.is_empty() {
                    secure &= a.secure;
                    canonical.get_or_insert(a.canonical.clone());
                }
                for d in &a.rdata {
                    let ip = match (qtype, d.len()) {
                        (dns::A, 4) => IpAddr::from([d[0], d[1], d[2], d[3]]),
                        (dns::AAAA, 16) => IpAddr::from(<[u8; 16]>::try_from(&d[..]).unwrap_or_default()),
                        _ => continue,
                    };
                    addrs.push(SocketAddr::new(ip, port));
                }
            }
            Err(e) => failure = Some(e),
        }
    }
    if addrs.is_empty() {
        if let Some(e) = failure {
            return Err((format!("address lookup of {host} failed: {e}"), e.gai()));
        }
        let gai = if nx { libc::EAI_NONAME } else { libc::EAI_NODATA };
        return Err((format!("{host} has no address"), gai));
    }
    Ok(HostAddrs { addrs, secure, canonical: canonical.unwrap_or_else(|| host.to_owned()) })
}

/// Plans a session to `host:port` under `cfg`. `ctx` gives the TLS context
/// whose trust store checks the MTA-STS policy server. `name_secure`: the
/// host's name comes from a trusted source, the application or a
/// DNSSEC-validated MX RRset; DANE applies only then (RFC 7672 §2.2).
pub fn prepare(
    cfg: &Config,
    host: &str,
    port: u16,
    name_secure: bool,
    ctx: &dyn Fn() -> Option<SslContext>,
    emit: &mut dyn FnMut(TlsResult),
) -> Result<Prepared, Stop> {
    let mx_host = dns::normalize(host);
    let domain = cfg.domain.as_deref().map_or_else(|| mx_host.clone(), dns::normalize);
    if cfg.kind == Kind::Opportunistic {
        return Ok(Prepared { addrs: None, plan: Plan::opportunistic(&mx_host) });
    }
    let resolver = cfg.resolver();
    let literal = mx_host.parse::<IpAddr>().ok();
    if cfg.kind.dane() && literal.is_none() && !resolver.trust_ad {
        // DANE could never apply, and the application asked for it: it
        // must learn why rather than get opportunistic TLS in silence.
        // Nothing is asked of a resolver whose answers prove nothing.
        emit(failure(tlsa_desc(&domain, &[]), &mx_host, result::VALIDATION_FAILURE, untrusted(&resolver)));
        if !cfg.kind.sts() {
            return Ok(Prepared { addrs: None, plan: Plan::opportunistic(&mx_host) });
        }
    }
    let host_addrs = match literal {
        Some(ip) => {
            HostAddrs { addrs: vec![SocketAddr::new(ip, port)], secure: false, canonical: String::new() }
        }
        None => match lookup_host(&resolver, &mx_host, port) {
            Ok(h) => h,
            Err((reason, gai)) => {
                if cfg.kind.dane() && gai != libc::EAI_NONAME && gai != libc::EAI_NODATA {
                    emit(failure(tlsa_desc(&domain, &[]), &mx_host, result::DNSSEC_INVALID, reason));
                }
                return Err(Stop::Lookup(gai));
            }
        },
    };
    let addrs = Some(host_addrs.addrs);
    // DANE applies to hosts whose addresses are DNSSEC-validated; for an
    // MX host that is an alias, the records of its canonical name come
    // first, then its own (RFC 7672 §2.2.2).
    let mut bases = vec![mx_host.clone()];
    if host_addrs.canonical != mx_host {
        bases.insert(0, host_addrs.canonical.clone());
    }
    let dane = cfg.kind.dane() && literal.is_none() && name_secure && host_addrs.secure;
    let bases = if dane { bases } else { Vec::new() };
    for base in bases {
        let qname = format!("_{port}._tcp.{base}");
        match resolver.query(&qname, dns::TLSA) {
            Err(e) => {
                // The records may exist: clear text could defeat them.
                let reason = format!("TLSA lookup of {qname} failed: {e}");
                emit(failure(tlsa_desc(&domain, &[]), &mx_host, result::DNSSEC_INVALID, reason));
                return Err(Stop::Policy);
            }
            Ok(a) if a.secure && !a.rdata.is_empty() => {
                let parsed: Vec<Option<Tlsa>> = a.rdata.iter().map(|d| Tlsa::parse(d)).collect();
                let all: Vec<Tlsa> = parsed.iter().flatten().cloned().collect();
                let usable: Vec<Tlsa> = all.iter().filter(|t| t.usable()).cloned().collect();
                let desc = Some(tlsa_desc(&domain, &all));
                let plan = if usable.is_empty() {
                    let reason = format!("no usable TLSA record at {qname}");
                    Plan {
                        desc,
                        mode: Mode::Enforce,
                        check: Check::Unauthenticated,
                        mx_host,
                        degraded: Some((result::TLSA_INVALID, reason)),
                    }
                } else {
                    Plan {
                        desc,
                        mode: Mode::Enforce,
                        check: Check::Dane { base, records: usable },
                        mx_host,
                        degraded: None,
                    }
                };
                return Ok(Prepared { addrs, plan });
            }
            // Insecure, or validated denial: no DANE for this host.
            Ok(_) => {}
        }
    }
    if !cfg.kind.sts() {
        return Ok(Prepared { addrs, plan: Plan::opportunistic(&mx_host) });
    }
    let (policy, early) = discover(cfg, &resolver, &domain, ctx);
    if let Some((kind, reason)) = early {
        emit(failure(sts_desc(&domain, policy.as_deref()), &mx_host, kind, reason));
    }
    let Some(policy) = policy.filter(|p| p.mode != sts::Mode::None) else {
        return Ok(Prepared { addrs, plan: Plan::opportunistic(&mx_host) });
    };
    let desc = sts_desc(&domain, Some(&policy));
    let mode = if policy.mode == sts::Mode::Enforce { Mode::Enforce } else { Mode::Testing };
    if !sts::mx_matches(&policy.mx, &mx_host) {
        let reason = format!("MX host {mx_host} is not in the MTA-STS policy of {domain}");
        emit(failure(desc.clone(), &mx_host, result::VALIDATION_FAILURE, reason));
        if mode == Mode::Enforce {
            return Err(Stop::Policy);
        }
    }
    let plan = Plan { desc: Some(desc), mode, check: Check::WebPki, mx_host, degraded: None };
    Ok(Prepared { addrs, plan })
}

/// The domain's MTA-STS policy: the cached one while its id is current,
/// else fetched; and a failure met on the way, to report.
fn discover(
    cfg: &Config,
    resolver: &dns::Resolver,
    domain: &str,
    ctx: &dyn Fn() -> Option<SslContext>,
) -> (Option<Arc<sts::StsPolicy>>, Option<Failure>) {
    let cached = sts::cached(domain);
    let txt = resolver.query(&format!("_mta-sts.{domain}"), dns::TXT);
    let id = txt.ok().and_then(|a| {
        let strings: Vec<Vec<u8>> = a.rdata.iter().filter_map(|d| dns::txt_string(d)).collect();
        sts::record_id(&strings)
    });
    let cached_policy = cached.as_ref().map(|(_, p)| p.clone());
    let Some(id) = id else { return (cached_policy, None) };
    if cached.as_ref().is_some_and(|(cid, _)| *cid == id) {
        return (cached_policy, None);
    }
    let until = Instant::now() + cfg.timeout;
    let host = format!("mta-sts.{domain}");
    let addrs = match lookup_host(resolver, &host, cfg.sts_port) {
        Ok(h) => h.addrs,
        Err((reason, _)) => return (cached_policy, Some((result::STS_POLICY_FETCH_ERROR, reason))),
    };
    let Some(ctx) = ctx() else {
        let reason = "no TLS context to fetch the policy with".to_owned();
        return (cached_policy, Some((result::STS_POLICY_FETCH_ERROR, reason)));
    };
    match https::fetch(&ctx, &host, cfg.sts_port, &addrs, until) {
        Ok(body) => match sts::parse_policy(&body) {
            Ok(p) => {
                let p = Arc::new(p);
                sts::store(domain, &id, p.clone());
                (Some(p), None)
            }
            Err(reason) => (cached_policy, Some((result::STS_POLICY_INVALID, reason))),
        },
        Err(https::FetchError::Fetch(r)) => (cached_policy, Some((result::STS_POLICY_FETCH_ERROR, r))),
        Err(https::FetchError::WebPki(r)) => (cached_policy, Some((result::STS_WEBPKI_INVALID, r))),
        Err(https::FetchError::Invalid(r)) => (cached_policy, Some((result::STS_POLICY_INVALID, r))),
    }
}

/// How [`arm`] left a connection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Armed {
    /// Set up for the plan's check.
    Ready,
    /// OpenSSL refused every TLSA record our checks let through (a
    /// certificate that is not DER, say): TLS without authentication, and
    /// reported (RFC 7672 §2.2).
    Unusable(String),
    /// The `SSL` could not be set up.
    Failed,
}

/// Sets up a connection's `SSL` for the plan's check, before its
/// handshake. Verification never aborts the handshake: [`judge`] decides
/// afterwards, so a failure can be reported and the session closed cleanly.
pub fn arm(ssl: &mut SslRef, ctx: &SslContext, plan: &Plan) -> Armed {
    ssl.set_verify(openssl::ssl::SslVerifyMode::NONE);
    match &plan.check {
        Check::Unauthenticated => Armed::Ready,
        Check::Dane { base, records } => {
            if !dane::use_dane_context(ssl, ctx) {
                return Armed::Failed;
            }
            match dane::arm(ssl, base, &plan.mx_host, records) {
                Some(0) => Armed::Unusable(format!("OpenSSL took none of the TLSA records of {base}")),
                Some(_) => Armed::Ready,
                None => Armed::Failed,
            }
        }
        Check::WebPki => {
            ssl.param_mut().set_hostflags(openssl::x509::verify::X509CheckFlags::NO_PARTIAL_WILDCARDS);
            if ssl.param_mut().set_host(&plan.mx_host).is_ok() {
                Armed::Ready
            } else {
                Armed::Failed
            }
        }
    }
}

// X509_V_ERR_* values (stable across OpenSSL 1.1 and 3).
const V_ERR_UNABLE_TO_GET_ISSUER_CERT: i32 = 2;
const V_ERR_CERT_NOT_YET_VALID: i32 = 9;
const V_ERR_CERT_HAS_EXPIRED: i32 = 10;
const V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT: i32 = 18;
const V_ERR_SELF_SIGNED_CERT_IN_CHAIN: i32 = 19;
const V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY: i32 = 20;
const V_ERR_UNABLE_TO_VERIFY_LEAF_SIGNATURE: i32 = 21;
const V_ERR_CERT_UNTRUSTED: i32 = 27;
const V_ERR_HOSTNAME_MISMATCH: i32 = 62;
const V_ERR_DANE_NO_MATCH: i32 = 65;

/// What the handshake proved, as a TLSRPT outcome: `Err` with the result
/// type and reason when the check failed.
pub fn judge(ssl: &SslRef, plan: &Plan) -> Result<(), Failure> {
    let verify = ssl.verify_result();
    // X509_V_OK also stands for "nothing was verified": an anonymous
    // suite, or an application's verify callback that said yes.
    let ok = verify == X509VerifyResult::OK && ssl.peer_certificate().is_some();
    match &plan.check {
        Check::Unauthenticated => return Ok(()),
        Check::Dane { .. } if ok && dane::authority_depth(ssl).is_some() => return Ok(()),
        Check::WebPki if ok => return Ok(()),
        _ => {}
    }
    let text = if verify == X509VerifyResult::OK { "no certificate" } else { verify.error_string() };
    let kind = match verify.as_raw() {
        V_ERR_HOSTNAME_MISMATCH => result::CERTIFICATE_HOST_MISMATCH,
        V_ERR_CERT_HAS_EXPIRED | V_ERR_CERT_NOT_YET_VALID => result::CERTIFICATE_EXPIRED,
        V_ERR_UNABLE_TO_GET_ISSUER_CERT
        | V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT
        | V_ERR_SELF_SIGNED_CERT_IN_CHAIN
        | V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY
        | V_ERR_UNABLE_TO_VERIFY_LEAF_SIGNATURE
        | V_ERR_CERT_UNTRUSTED => result::CERTIFICATE_NOT_TRUSTED,
        V_ERR_DANE_NO_MATCH => result::VALIDATION_FAILURE,
        _ => result::VALIDATION_FAILURE,
    };
    let what = if matches!(plan.check, Check::Dane { .. }) { "DANE" } else { "MTA-STS" };
    Err((kind, format!("4.7.5 {what} certificate check failed: {text}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_from_c() {
        assert_eq!(Kind::from_c(4), Some(Kind::DaneThenMtaSts));
        assert_eq!(Kind::from_c(5), None);
        assert_eq!(Kind::from_c(-1), None);
        assert!(Kind::DaneThenMtaSts.dane() && Kind::DaneThenMtaSts.sts());
        assert!(!Kind::Opportunistic.dane());
    }

    #[test]
    fn opportunistic_needs_no_dns() {
        let cfg = Config { kind: Kind::Opportunistic, resolvers: Some(Vec::new()), ..Config::default() };
        let p = prepare(&cfg, "mx.example", 25, true, &|| None, &mut |_| panic!("no report")).ok().unwrap();
        assert!(p.addrs.is_none());
        assert_eq!(p.plan.mode, Mode::Opportunistic);
    }

    #[test]
    fn a_dead_resolver_stops_dane_with_a_report() {
        let cfg = Config {
            kind: Kind::Dane,
            // Nothing listens on port 9 of 127.0.0.1 (discard is never on).
            resolvers: Some(vec!["127.0.0.1:9".parse().unwrap()]),
            timeout: Duration::from_millis(300),
            ..Config::default()
        };
        let mut reports = Vec::new();
        let r = prepare(&cfg, "mx.example", 25, true, &|| None, &mut |r| reports.push(r));
        assert!(matches!(r, Err(Stop::Lookup(_))));
        assert_eq!(reports.len(), 1);
        assert_eq!(reports[0].failure.as_ref().unwrap().0, result::DNSSEC_INVALID);
    }
}
