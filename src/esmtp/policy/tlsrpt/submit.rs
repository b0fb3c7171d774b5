//! Sending a report to a policy domain (RFC 8460 §3, §5): its
//! `_smtp._tls` record says where; each address gets the report gzip'd,
//! by HTTPS POST or by mail.

use std::io::Write;
use std::time::Instant;

use super::mail::{self, Facts};
use super::record::{self, NoRecord, Rua};
use crate::esmtp::policy::json::{self, Value};
use crate::esmtp::policy::{dns, https, lookup_host};
use crate::esmtp::protocol::{tls_context, RunOptions};
use crate::esmtp::session::Session;

/// What became of the report at one address of the record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    /// The URI as the record has it.
    pub uri: String,
    pub ok: bool,
    /// The receiver's answer, or why the report did not get there.
    pub detail: String,
}

/// Why nothing was sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SubmitError {
    /// The arguments cannot make a report (`SMTP_ERR_INVAL`).
    Invalid(String),
    /// The record could not be looked up: the getaddrinfo code it
    /// resembles, as the policies' own lookups give.
    Lookup(i32, String),
    /// The domain has no usable record (`SMTP_ERR_TLSRPT_NO_RECORD`).
    NoRecord(NoRecord),
}

/// The facts of `report` for `policy_domain`, sent by `from`; `Err` says
/// why it is not an RFC 8460 §4.4 report of that domain that can be sent.
pub fn facts(policy_domain: &str, from: &str, report: &str) -> Result<Facts, String> {
    let domain = dns::normalize(policy_domain);
    record::mailbox(from).map_err(|e| format!("from: {e}"))?;
    let submitter = from.rsplit_once('@').map(|(_, d)| dns::normalize(d)).unwrap_or_default();
    let doc = json::parse(report).ok_or("the report is not JSON")?;
    let text = |v: Option<&Value>, what: &str| {
        v.and_then(Value::as_str).map(str::to_owned).ok_or_else(|| format!("the report has no {what}"))
    };
    text(doc.get("organization-name"), "organization-name")?;
    let range = doc.get("date-range");
    let date = |k: &str| {
        let t = text(range.and_then(|r| r.get(k)), k)?;
        super::parse_rfc3339(&t).ok_or_else(|| format!("{k} is not an RFC 3339 date-time"))
    };
    let (begin, end) = (date("start-datetime")?, date("end-datetime")?);
    if begin > end {
        return Err("the date-range ends before it starts".into());
    }
    let report_id = text(doc.get("report-id"), "report-id")?;
    let Some(Value::Arr(policies)) = doc.get("policies") else {
        return Err("the report has no policies array".into());
    };
    // Results of one domain go to that domain only: another's failure
    // details are not this one's to read.
    for p in policies {
        let pd = p.get("policy").and_then(|p| p.get("policy-domain")).and_then(Value::as_str);
        if pd.map(dns::normalize).as_deref() != Some(domain.as_str()) {
            return Err(format!("the report has a policy of another domain than {domain}"));
        }
    }
    let facts = Facts { policy_domain: domain, submitter, report_id, begin, end };
    facts.check()?;
    Ok(facts)
}

/// The report gzip'd (RFC 8460 §5.1: `application/tlsrpt+gzip`).
pub fn gzip(data: &[u8]) -> Vec<u8> {
    let mut z = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    // Writing to a Vec cannot fail.
    let _ = z.write_all(data);
    z.finish().unwrap_or_default()
}

/// The addresses in `domain`'s `_smtp._tls` record.
fn addresses(app: &Session, domain: &str) -> Result<Vec<record::Entry>, SubmitError> {
    let resolver = app.tls_policy.borrow().resolver();
    let qname = format!("_smtp._tls.{domain}");
    let answer = resolver
        .query(&qname, dns::TXT)
        .map_err(|e| SubmitError::Lookup(e.gai(), format!("TXT lookup of {qname} failed: {e}")))?;
    let strings: Vec<Vec<u8>> = answer.rdata.iter().filter_map(|d| dns::txt_string(d)).collect();
    record::parse(&strings).map_err(SubmitError::NoRecord)
}

/// A token of letters and digits no other message has.
fn token() -> String {
    let mut b = [0u8; 12];
    if openssl::rand::rand_bytes(&mut b).is_err() {
        let t = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
        b[..8].copy_from_slice(&(t.as_nanos() as u64).to_be_bytes());
        b[8..].copy_from_slice(&std::process::id().to_be_bytes());
    }
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// POSTs the gzip'd report to one receiver, within the policy timeout.
fn post(app: &Session, uri: &record::HttpsUri, gz: &[u8]) -> Result<String, String> {
    let cfg = app.tls_policy.borrow().clone();
    let until = Instant::now() + cfg.timeout;
    let addrs = lookup_host(&cfg.resolver(), &uri.host, uri.port).map_err(|(why, _)| why)?.addrs;
    let ctx = tls_context(app, None).ok_or("no TLS context")?;
    match https::post(&ctx, &uri.host, uri.port, &addrs, &uri.target, https::TLSRPT_GZIP, gz, until) {
        Ok(status) => Ok(format!("HTTP status {status}")),
        Err(https::FetchError::Fetch(why) | https::FetchError::Invalid(why)) => Err(why),
        Err(https::FetchError::WebPki(why)) => Err(format!("certificate not trusted: {why}")),
    }
}

/// Sends `report` to every address of `policy_domain`'s record, telling
/// `each` how it went, in the record's order (URIs not used included,
/// with why). Returns how many addresses took it.
pub fn submit(
    app: &Session,
    opts: &RunOptions,
    policy_domain: &str,
    from: &str,
    report: &str,
    each: &mut dyn FnMut(&Outcome),
) -> Result<usize, SubmitError> {
    let facts = facts(policy_domain, from, report).map_err(SubmitError::Invalid)?;
    let entries = addresses(app, &facts.policy_domain)?;
    let gz = gzip(report.as_bytes());
    let mut took = 0;
    for e in entries {
        let result = match &e.rua {
            Err(why) => Err(format!("not used: {why}")),
            Ok(Rua::Https(uri)) => post(app, uri, &gz),
            Ok(Rua::Mailto(to)) => {
                let msg = mail::compose(&facts, from, to, &gz, super::now(), &token());
                super::deliver::deliver_mail(app, opts, from, to, msg)
            }
        };
        took += usize::from(result.is_ok());
        let (ok, detail) = match result {
            Ok(d) => (true, d),
            Err(d) => (false, d),
        };
        each(&Outcome { uri: e.uri, ok, detail });
    }
    Ok(took)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::esmtp::policy::tlsrpt::{Aggregate, PolicyDesc, PolicyType, TlsResult};

    fn report(domain: &str) -> String {
        let mut a = Aggregate::default();
        let desc =
            PolicyDesc { kind: PolicyType::Sts, domain: domain.into(), strings: vec![], mx_host: vec![] };
        a.add(&TlsResult::new(desc, "mx.x.example", None).to_json());
        a.report("Org", "mailto:tlsrpt@sender.example", "id-1@sender.example", 0, 4_102_444_800)
    }

    #[test]
    fn reports_are_checked_before_anything_is_sent() {
        let f = facts("X.Example.", "tlsrpt@Sender.Example", &report("x.example")).unwrap();
        assert_eq!((f.policy_domain.as_str(), f.submitter.as_str()), ("x.example", "sender.example"));
        assert_eq!((f.begin, f.end, f.report_id.as_str()), (0, 4_102_444_800, "id-1@sender.example"));
        let bad = |d: &str, from: &str, r: &str| facts(d, from, r).unwrap_err();
        assert!(bad("y.example", "a@b.example", &report("x.example")).contains("another domain"));
        assert!(bad("x.example", "not a mailbox", &report("x.example")).starts_with("from:"));
        assert!(bad("x.example", "a@b.example", "{").contains("not JSON"));
        let r = report("x.example");
        assert!(bad("x.example", "a@b.example", &r.replace("report-id", "x")).contains("report-id"));
        assert!(bad("x.example", "a@b.example", &r.replace("1970-01-01", "1970-13-01")).contains("RFC 3339"));
        assert!(bad("x.example", "a@b.example", &r.replace("id-1@", "id 1@")).contains("report-id"));
        assert!(bad("x..example", "a@b.example", &r).contains("policy"));
        let swapped = r.replace("1970-01-01T00:00:00Z", "2100-01-02T00:00:00Z");
        assert!(bad("x.example", "a@b.example", &swapped).contains("ends before"));
    }

    #[test]
    fn gzip_round_trips() {
        use std::io::Read;
        let data = report("x.example");
        let gz = gzip(data.as_bytes());
        assert_eq!(&gz[..2], b"\x1f\x8b");
        let mut back = String::new();
        flate2::read::GzDecoder::new(&gz[..]).read_to_string(&mut back).unwrap();
        assert_eq!(back, data);
    }

    #[test]
    fn tokens_differ() {
        let (a, b) = (token(), token());
        assert_ne!(a, b);
        assert!(a.len() == 24 && a.bytes().all(|c| c.is_ascii_hexdigit()));
    }
}
