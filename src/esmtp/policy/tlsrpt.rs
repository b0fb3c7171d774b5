//! SMTP TLS reporting (RFC 8460): one JSON result per connection attempt
//! under a policy, in the shape Momentum's TLSRPT hook uses (RFC 8460's
//! field names plus `epoch` and `type`), and the aggregation of such
//! results into an RFC 8460 §4.4 report document.

use super::json::{self, obj, Value};

pub mod deliver;
pub mod mail;
pub mod record;
pub mod submit;

/// RFC 8460 §4.3 result types this library produces.
pub mod result {
    pub const STARTTLS_NOT_SUPPORTED: &str = "starttls-not-supported";
    pub const CERTIFICATE_HOST_MISMATCH: &str = "certificate-host-mismatch";
    pub const CERTIFICATE_EXPIRED: &str = "certificate-expired";
    pub const CERTIFICATE_NOT_TRUSTED: &str = "certificate-not-trusted";
    pub const VALIDATION_FAILURE: &str = "validation-failure";
    pub const TLSA_INVALID: &str = "tlsa-invalid";
    pub const DNSSEC_INVALID: &str = "dnssec-invalid";
    pub const STS_POLICY_FETCH_ERROR: &str = "sts-policy-fetch-error";
    pub const STS_POLICY_INVALID: &str = "sts-policy-invalid";
    pub const STS_WEBPKI_INVALID: &str = "sts-webpki-invalid";
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PolicyType {
    Tlsa,
    Sts,
    NoPolicyFound,
}

impl PolicyType {
    fn name(self) -> &'static str {
        match self {
            PolicyType::Tlsa => "tlsa",
            PolicyType::Sts => "sts",
            PolicyType::NoPolicyFound => "no-policy-found",
        }
    }
}

/// The policy a result was reached under (RFC 8460 §4.4 "policy").
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicyDesc {
    pub kind: PolicyType,
    pub domain: String,
    /// TLSA records in presentation form, or the STS policy's lines.
    pub strings: Vec<String>,
    /// STS `mx` patterns.
    pub mx_host: Vec<String>,
}

impl PolicyDesc {
    fn to_value(&self) -> Value {
        let strs = |v: &[String]| Value::Arr(v.iter().map(|s| json::str(s)).collect());
        let mut m = vec![
            ("policy-type", json::str(self.kind.name())),
            ("policy-domain", json::str(&self.domain)),
            ("policy-string", strs(&self.strings)),
        ];
        if !self.mx_host.is_empty() {
            m.push(("mx-host", strs(&self.mx_host)));
        }
        obj(m)
    }
}

/// An RFC 8460 result type and the reason behind it.
pub type Failure = (&'static str, String);

/// One connection attempt's outcome.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsResult {
    pub epoch: i64,
    pub policy: PolicyDesc,
    /// `None` for a success.
    pub failure: Option<Failure>,
    pub sending_mta_ip: Option<String>,
    pub receiving_mx_hostname: Option<String>,
    pub receiving_ip: Option<String>,
}

pub fn now() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs() as i64)
}

impl TlsResult {
    /// A result dated now; the addresses are the connection's to add.
    pub fn new(policy: PolicyDesc, mx_host: &str, failure: Option<Failure>) -> TlsResult {
        TlsResult {
            epoch: now(),
            policy,
            failure,
            sending_mta_ip: None,
            receiving_mx_hostname: Some(mx_host.to_owned()),
            receiving_ip: None,
        }
    }

    pub fn to_json(&self) -> String {
        let mut m = vec![
            ("epoch", Value::Num(self.epoch as f64)),
            ("type", Value::Num(if self.failure.is_none() { 1.0 } else { 0.0 })),
            ("policy", self.policy.to_value()),
        ];
        if let Some((kind, reason)) = &self.failure {
            m.push(("result-type", json::str(kind)));
            m.push(("failure-reason-code", json::str(reason)));
        }
        let opt = |v: &Option<String>| v.as_deref().map(json::str);
        for (k, v) in [
            ("sending-mta-ip", opt(&self.sending_mta_ip)),
            ("receiving-mx-hostname", opt(&self.receiving_mx_hostname)),
            ("receiving-ip", opt(&self.receiving_ip)),
        ] {
            if let Some(v) = v {
                m.push((k, v));
            }
        }
        obj(m).to_json()
    }
}

/// Results collected for one report (`smtp_tlsrpt_t`).
#[derive(Default)]
pub struct Aggregate {
    results: Vec<Value>,
}

/// Failure-detail fields, in RFC 8460's order, that make two failures the
/// same entry.
const DETAIL_KEYS: [&str; 4] =
    ["sending-mta-ip", "receiving-mx-hostname", "receiving-ip", "failure-reason-code"];

/// A policy, its successful and failed sessions, and its distinct
/// failure details with their counts.
type PolicyTally = (Value, u64, u64, Vec<(Vec<(String, Value)>, u64)>);

impl Aggregate {
    /// Takes one result as the report callback gave it; false (and
    /// nothing kept) when it is not one.
    pub fn add(&mut self, text: &str) -> bool {
        let Some(v) = json::parse(text) else { return false };
        let valid = v.get("epoch").and_then(Value::as_i64).is_some()
            && matches!(v.get("type").and_then(Value::as_i64), Some(0 | 1))
            && v.get("policy").and_then(|p| p.get("policy-type")).and_then(Value::as_str).is_some()
            && (v.get("type").and_then(Value::as_i64) == Some(1)
                || v.get("result-type").and_then(Value::as_str).is_some());
        if valid {
            self.results.push(v);
        }
        valid
    }

    /// The RFC 8460 §4.4 report over the results with `start <= epoch < end`.
    pub fn report(&self, org: &str, contact: &str, report_id: &str, start: i64, end: i64) -> String {
        // Policies in first-seen order, each with its counts and details.
        let mut policies: Vec<PolicyTally> = Vec::new();
        for r in &self.results {
            let epoch = r.get("epoch").and_then(Value::as_i64).unwrap_or(0);
            if epoch < start || epoch >= end {
                continue;
            }
            let policy = r.get("policy").cloned().unwrap_or(Value::Null);
            let i = match policies.iter().position(|p| p.0 == policy) {
                Some(i) => i,
                None => {
                    policies.push((policy, 0, 0, Vec::new()));
                    policies.len() - 1
                }
            };
            let entry = &mut policies[i];
            if r.get("type").and_then(Value::as_i64) == Some(1) {
                entry.1 += 1;
                continue;
            }
            entry.2 += 1;
            let mut detail =
                vec![("result-type".to_owned(), r.get("result-type").cloned().unwrap_or(Value::Null))];
            for k in DETAIL_KEYS {
                if let Some(v) = r.get(k) {
                    detail.push((k.to_owned(), v.clone()));
                }
            }
            match entry.3.iter_mut().find(|d| d.0 == detail) {
                Some(d) => d.1 += 1,
                None => entry.3.push((detail, 1)),
            }
        }
        let policies = policies
            .into_iter()
            .map(|(policy, ok, failed, details)| {
                let details = details
                    .into_iter()
                    .map(|(mut m, n)| {
                        // failed-session-count goes before the reason code,
                        // as in RFC 8460's example.
                        let at = m.iter().position(|(k, _)| k == "failure-reason-code").unwrap_or(m.len());
                        m.insert(at, ("failed-session-count".to_owned(), Value::Num(n as f64)));
                        Value::Obj(m)
                    })
                    .collect();
                obj(vec![
                    ("policy", policy),
                    (
                        "summary",
                        obj(vec![
                            ("total-successful-session-count", Value::Num(ok as f64)),
                            ("total-failure-session-count", Value::Num(failed as f64)),
                        ]),
                    ),
                    ("failure-details", Value::Arr(details)),
                ])
            })
            .collect();
        obj(vec![
            ("organization-name", json::str(org)),
            (
                "date-range",
                obj(vec![
                    ("start-datetime", json::str(&rfc3339(start))),
                    ("end-datetime", json::str(&rfc3339(end))),
                ]),
            ),
            ("contact-info", json::str(contact)),
            ("report-id", json::str(report_id)),
            ("policies", Value::Arr(policies)),
        ])
        .to_json()
    }
}

/// The civil date and time of a Unix time, UTC: year, month, day, hour,
/// minute, second, and the weekday (0 = Sunday). Days from civil,
/// inverted (H. Hinnant's algorithm), so no libc time zone is involved.
pub(crate) fn civil(t: i64) -> (i64, i64, i64, i64, i64, i64, i64) {
    let (days, secs) = (t.div_euclid(86_400), t.rem_euclid(86_400));
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    // 1970-01-01 was a Thursday.
    let weekday = (days + 4).rem_euclid(7);
    (y, m, d, secs / 3600, secs / 60 % 60, secs % 60, weekday)
}

/// `YYYY-MM-DDThh:mm:ssZ` for a Unix time.
pub fn rfc3339(t: i64) -> String {
    let (y, m, d, hh, mm, ss, _) = civil(t);
    format!("{y:04}-{m:02}-{d:02}T{hh:02}:{mm:02}:{ss:02}Z")
}

/// The Unix time of an RFC 3339 date-time (`2026-12-01T00:00:00Z`, with
/// an optional fraction, dropped, and `Z` or a numeric offset), as RFC
/// 8460 §4.4's date-range has it; `None` if it is not one.
pub fn parse_rfc3339(s: &str) -> Option<i64> {
    let b = s.as_bytes();
    let num = |r: std::ops::Range<usize>| -> Option<i64> {
        let d = b.get(r)?;
        d.iter().all(u8::is_ascii_digit).then(|| d.iter().fold(0, |n, c| n * 10 + i64::from(c - b'0')))
    };
    let sep = |i: usize, c: &[u8]| b.get(i).is_some_and(|x| c.contains(&x.to_ascii_uppercase()));
    if !(sep(4, b"-") && sep(7, b"-") && sep(10, b"T ") && sep(13, b":") && sep(16, b":")) {
        return None;
    }
    let (y, m, d) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let (hh, mm, ss) = (num(11..13)?, num(14..16)?, num(17..19)?);
    let leap = y % 4 == 0 && (y % 100 != 0 || y % 400 == 0);
    let month_days = [31, if leap { 29 } else { 28 }, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];
    let ok = (1..=12).contains(&m) && d >= 1 && d <= month_days[(m - 1).clamp(0, 11) as usize];
    if !ok || hh > 23 || mm > 59 || ss > 60 {
        return None;
    }
    let mut rest = &s[19..];
    if let Some(frac) = rest.strip_prefix('.') {
        let n = frac.bytes().take_while(u8::is_ascii_digit).count();
        if n == 0 {
            return None;
        }
        rest = &frac[n..];
    }
    let offset = match rest.as_bytes() {
        [b'Z' | b'z'] => 0,
        [sign @ (b'+' | b'-'), h1, h2, b':', m1, m2] => {
            let digits = [*h1, *h2, *m1, *m2];
            if !digits.iter().all(u8::is_ascii_digit) {
                return None;
            }
            let v = |a: u8, b: u8| i64::from(a - b'0') * 10 + i64::from(b - b'0');
            let o = v(*h1, *h2) * 3600 + v(*m1, *m2) * 60;
            if *sign == b'-' {
                -o
            } else {
                o
            }
        }
        _ => return None,
    };
    // Days from civil (the inverse of `civil`).
    let y2 = if m <= 2 { y - 1 } else { y };
    let era = y2.div_euclid(400);
    let yoe = y2 - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    Some(days * 86_400 + hh * 3600 + mm * 60 + ss.min(59) - offset)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sts(domain: &str) -> PolicyDesc {
        PolicyDesc {
            kind: PolicyType::Sts,
            domain: domain.into(),
            strings: vec!["version: STSv1".into(), "mode: enforce".into()],
            mx_host: vec!["mx.example".into()],
        }
    }

    fn result(epoch: i64, failure: Option<&'static str>) -> TlsResult {
        TlsResult {
            epoch,
            policy: sts("example"),
            failure: failure.map(|f| (f, "4.7.5 reason".to_owned())),
            sending_mta_ip: Some("127.0.0.1".into()),
            receiving_mx_hostname: Some("mx.example".into()),
            receiving_ip: Some("127.0.0.2".into()),
        }
    }

    #[test]
    fn result_json_has_the_seed_fields() {
        let j = result(1746629177, Some(result::CERTIFICATE_HOST_MISMATCH)).to_json();
        assert_eq!(
            j,
            "{\"epoch\": 1746629177, \"type\": 0, \"policy\": {\"policy-type\": \"sts\", \
             \"policy-domain\": \"example\", \"policy-string\": [\"version: STSv1\", \"mode: enforce\"], \
             \"mx-host\": [\"mx.example\"]}, \"result-type\": \"certificate-host-mismatch\", \
             \"failure-reason-code\": \"4.7.5 reason\", \"sending-mta-ip\": \"127.0.0.1\", \
             \"receiving-mx-hostname\": \"mx.example\", \"receiving-ip\": \"127.0.0.2\"}"
        );
        assert!(!result(1, None).to_json().contains("result-type"));
    }

    #[test]
    fn aggregate_counts_per_policy_and_detail() {
        let mut a = Aggregate::default();
        for r in [
            result(100, None),
            result(101, None),
            result(102, Some(result::CERTIFICATE_EXPIRED)),
            result(103, Some(result::CERTIFICATE_EXPIRED)),
            result(104, Some(result::STARTTLS_NOT_SUPPORTED)),
            result(500, None),
        ] {
            assert!(a.add(&r.to_json()));
        }
        assert!(!a.add("{\"epoch\": 1}"));
        assert!(!a.add("not json"));
        let rep = json::parse(&a.report("org", "mailto:x@y", "id1", 0, 200)).unwrap();
        assert_eq!(
            rep.get("date-range").unwrap().get("end-datetime").unwrap().as_str(),
            Some("1970-01-01T00:03:20Z")
        );
        let Value::Arr(ps) = rep.get("policies").unwrap() else { panic!() };
        assert_eq!(ps.len(), 1);
        let s = ps[0].get("summary").unwrap();
        assert_eq!(s.get("total-successful-session-count").unwrap().as_i64(), Some(2));
        assert_eq!(s.get("total-failure-session-count").unwrap().as_i64(), Some(3));
        let Value::Arr(d) = ps[0].get("failure-details").unwrap() else { panic!() };
        assert_eq!(d.len(), 2);
        assert_eq!(d[0].get("failed-session-count").unwrap().as_i64(), Some(2));
        assert_eq!(d[0].get("result-type").unwrap().as_str(), Some("certificate-expired"));
    }

    #[test]
    fn dates() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(1_798_761_600), "2027-01-01T00:00:00Z");
        assert_eq!(rfc3339(951_782_400), "2000-02-29T00:00:00Z");
        assert_eq!(civil(0).6, 4, "a Thursday");
        for t in [0, 951_782_400, 1_798_761_600, 1_798_761_599, 4_102_444_800 + 86_399] {
            assert_eq!(parse_rfc3339(&rfc3339(t)), Some(t));
        }
        assert_eq!(parse_rfc3339("2027-01-01T01:30:00.250+01:30"), Some(1_798_761_600));
        assert_eq!(parse_rfc3339("1969-12-31T23:59:59Z"), Some(-1));
        for bad in [
            "2027-01-01",
            "2027-01-01T00:00:00",
            "2027-13-01T00:00:00Z",
            "2027-02-29T00:00:00Z",
            "2027-01-01T24:00:00Z",
            "2027-01-01T00:00:00.Z",
            "2027-01-01T00:00:00+1:00",
            "2027-01-01T00:00:00Zjunk",
            "+027-01-01T00:00:00Z",
            "2027-01-01T00:00:00+0\u{e9}",
        ] {
            assert_eq!(parse_rfc3339(bad), None, "{bad}");
        }
    }
}
