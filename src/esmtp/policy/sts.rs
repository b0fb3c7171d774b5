//! MTA-STS (RFC 8461): the `_mta-sts` TXT record, the policy document and
//! its process-wide cache, and MX host matching.

use std::collections::HashMap;
use std::sync::Arc;

use crate::common::sync::Lock;
use std::time::{Duration, Instant};

/// RFC 8461 §3.2: max_age is at most a year.
const MAX_AGE_LIMIT: u64 = 31_557_600;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Enforce,
    Testing,
    None,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StsPolicy {
    pub mode: Mode,
    pub mx: Vec<String>,
    pub max_age: u64,
    /// The document's lines, for TLSRPT's policy-string.
    pub lines: Vec<String>,
}

/// The id of the single `v=STSv1` TXT record, if there is exactly one and
/// it is well formed (RFC 8461 §3.1); otherwise there is no policy.
pub fn record_id(txts: &[Vec<u8>]) -> Option<String> {
    let mut ours = txts.iter().filter(|t| {
        t.strip_prefix(b"v=STSv1")
            .is_some_and(|rest| rest.is_empty() || rest.trim_ascii_start().starts_with(b";"))
    });
    let rec = ours.next()?;
    if ours.next().is_some() {
        return None;
    }
    let text = std::str::from_utf8(rec).ok()?;
    let mut id = None;
    for field in text.split(';').skip(1) {
        let field = field.trim_matches([' ', '\t']);
        if let Some(v) = field.strip_prefix("id=") {
            let ok = (1..=32).contains(&v.len()) && v.bytes().all(|c| c.is_ascii_alphanumeric());
            if !ok || id.is_some() {
                return None;
            }
            id = Some(v.to_owned());
        }
    }
    id
}

/// Parses a policy document (RFC 8461 §3.2).
pub fn parse_policy(body: &[u8]) -> Result<StsPolicy, String> {
    let text = std::str::from_utf8(body).map_err(|_| "policy is not UTF-8".to_owned())?;
    let (mut version, mut mode, mut max_age) = (None, None, None);
    let mut mx = Vec::new();
    let mut lines = Vec::new();
    for raw in text.split('\n') {
        let line = raw.strip_suffix('\r').unwrap_or(raw).trim_matches([' ', '\t']);
        if line.is_empty() {
            continue;
        }
        let Some((k, v)) = line.split_once(':') else {
            return Err(format!("policy line without a key: {:?}", super::short(line)));
        };
        let (k, v) = (k.trim_matches([' ', '\t']), v.trim_matches([' ', '\t']));
        // RFC 8461 §3.2: sts-policy-ext-name, 1 to 32 characters.
        let key_ok = k.len() <= 32
            && k.bytes().next().is_some_and(|c| c.is_ascii_alphanumeric())
            && k.bytes().all(|c| c.is_ascii_alphanumeric() || matches!(c, b'_' | b'-' | b'.'));
        if !key_ok {
            return Err(format!("bad policy key {:?}", super::short(k)));
        }
        lines.push(format!("{k}: {v}"));
        match k {
            "version" if version.is_none() => version = Some(v.to_owned()),
            "mode" if mode.is_none() => {
                mode = Some(match v {
                    "enforce" => Mode::Enforce,
                    "testing" => Mode::Testing,
                    "none" => Mode::None,
                    _ => return Err(format!("unknown mode {:?}", super::short(v))),
                })
            }
            "max_age" if max_age.is_none() => {
                if v.is_empty() || v.len() > 10 || !v.bytes().all(|c| c.is_ascii_digit()) {
                    return Err(format!("bad max_age {:?}", super::short(v)));
                }
                max_age = Some(v.parse::<u64>().unwrap_or(MAX_AGE_LIMIT).min(MAX_AGE_LIMIT));
            }
            "mx" => {
                let ok = !v.is_empty()
                    && v.len() <= 253
                    && v.bytes().all(|c| c.is_ascii_alphanumeric() || matches!(c, b'-' | b'.' | b'*'));
                if !ok {
                    return Err(format!("bad mx {:?}", super::short(v)));
                }
                mx.push(v.to_ascii_lowercase());
            }
            _ => {}
        }
    }
    if version.as_deref() != Some("STSv1") {
        return Err("policy version is not STSv1".into());
    }
    let mode = mode.ok_or("policy has no mode")?;
    let max_age = max_age.ok_or("policy has no max_age")?;
    if mode != Mode::None && mx.is_empty() {
        return Err("policy has no mx".into());
    }
    Ok(StsPolicy { mode, mx, max_age, lines })
}

/// RFC 8461 §4.1: a pattern matches the host itself, or with `*.` exactly
/// one leftmost label.
pub fn mx_matches(patterns: &[String], host: &str) -> bool {
    let host = host.strip_suffix('.').unwrap_or(host).to_ascii_lowercase();
    patterns.iter().any(|p| {
        let p = p.strip_suffix('.').unwrap_or(p);
        match p.strip_prefix("*.") {
            Some(suffix) => host
                .split_once('.')
                .is_some_and(|(first, rest)| !first.is_empty() && rest.eq_ignore_ascii_case(suffix)),
            None => host.eq_ignore_ascii_case(p),
        }
    })
}

/// At most this many domains are cached: a process sending to many
/// domains (or told of many by its callers) must not grow without bound.
/// A policy evicted early is only fetched again.
pub const CACHE_DOMAINS: usize = 1000;

struct Cached {
    id: String,
    policy: Arc<StsPolicy>,
    expires: Instant,
    /// Last stored or found: the least recently used goes first.
    used: Instant,
}

/// Policies by domain (RFC 8461 §5.1 wants them kept for max_age,
/// whatever the sessions do), at most `limit` of them.
struct Cache {
    map: HashMap<String, Cached>,
    limit: usize,
}

impl Cache {
    fn get(&mut self, domain: &str, now: Instant) -> Option<(String, Arc<StsPolicy>)> {
        self.map.retain(|_, v| v.expires > now);
        let v = self.map.get_mut(domain)?;
        v.used = now;
        Some((v.id.clone(), v.policy.clone()))
    }

    /// Makes room by dropping expired policies, then the least recently
    /// used ones.
    fn insert(&mut self, domain: &str, id: &str, policy: Arc<StsPolicy>, now: Instant) {
        if !self.map.contains_key(domain) && self.map.len() >= self.limit {
            self.map.retain(|_, v| v.expires > now);
            while self.map.len() >= self.limit.max(1) {
                let Some(oldest) = self.map.iter().min_by_key(|(_, v)| v.used).map(|(k, _)| k.clone()) else {
                    break;
                };
                self.map.remove(&oldest);
            }
        }
        let expires = now + Duration::from_secs(policy.max_age);
        self.map.insert(domain.to_owned(), Cached { id: id.to_owned(), policy, expires, used: now });
    }
}

/// Shared by the process's sessions.
static CACHE: Lock<Option<Cache>> = Lock::new(None);

fn with_cache<R>(f: impl FnOnce(&mut Cache) -> R) -> R {
    let mut guard = CACHE.lock();
    f(guard.get_or_insert_with(|| Cache { map: HashMap::new(), limit: CACHE_DOMAINS }))
}

/// The unexpired cached policy for `domain`, with its id.
pub fn cached(domain: &str) -> Option<(String, Arc<StsPolicy>)> {
    with_cache(|c| c.get(domain, Instant::now()))
}

pub fn store(domain: &str, id: &str, policy: Arc<StsPolicy>) {
    if policy.max_age == 0 {
        return;
    }
    with_cache(|c| c.insert(domain, id, policy, Instant::now()));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn txt_records() {
        let r = |s: &[&str]| record_id(&s.iter().map(|x| x.as_bytes().to_vec()).collect::<Vec<_>>());
        assert_eq!(r(&["v=STSv1; id=20160831085700Z;"]).as_deref(), Some("20160831085700Z"));
        assert_eq!(r(&["v=spf1 -all", "v=STSv1;id=abc"]).as_deref(), Some("abc"));
        assert_eq!(r(&["v=STSv1; id=a", "v=STSv1; id=b"]), None, "two records: no policy");
        assert_eq!(r(&["v=STSv1; id=bad-id;"]), None);
        assert_eq!(r(&["v=STSv1;"]), None);
        assert_eq!(r(&["v=STSv10; id=x"]), None);
        assert_eq!(r(&[&format!("v=STSv1; id={}", "x".repeat(33))]), None);
    }

    #[test]
    fn policies() {
        let p = parse_policy(b"version: STSv1\r\nmode: enforce\r\nmx: mail.example.com\r\nmx: *.example.net\r\nmax_age: 604800\r\n")
            .unwrap();
        assert_eq!(p.mode, Mode::Enforce);
        assert_eq!(p.mx, ["mail.example.com", "*.example.net"]);
        assert_eq!(p.max_age, 604800);
        assert_eq!(p.lines[0], "version: STSv1");
        let p = parse_policy(b"version: STSv1\nmode: testing\nmx: a\nmax_age: 9999999999\nx-ext.v2: y\n")
            .unwrap();
        assert_eq!((p.mode, p.max_age), (Mode::Testing, MAX_AGE_LIMIT));
        for bad in [
            &b"mode: enforce\nmx: a\nmax_age: 1"[..],
            b"version: STSv1\nmode: sometimes\nmx: a\nmax_age: 1",
            b"version: STSv1\nmode: enforce\nmax_age: 1",
            b"version: STSv1\nmode: enforce\nmx: a",
            b"version: STSv1\nmode: enforce\nmx: a\nmax_age: -1",
            b"version: STSv1\nmode: enforce\nmx: a b\nmax_age: 1",
            b"<html>not a policy</html>",
            b"\xff\xfe",
        ] {
            assert!(parse_policy(bad).is_err(), "{:?}", String::from_utf8_lossy(bad));
        }
        assert!(parse_policy(b"version: STSv1\nmode: none\nmax_age: 1").is_ok());
    }

    #[test]
    fn cache_is_bounded() {
        let policy = |max_age| {
            Arc::new(StsPolicy { mode: Mode::Enforce, mx: vec!["mx".into()], max_age, lines: Vec::new() })
        };
        let mut c = Cache { map: HashMap::new(), limit: 3 };
        let t0 = Instant::now();
        let at = |s| t0 + Duration::from_secs(s);
        c.insert("short.example", "1", policy(10), at(0));
        c.insert("a.example", "1", policy(1000), at(1));
        c.insert("b.example", "1", policy(1000), at(2));
        // Full: the expired policy goes first, though b is the least
        // recently used of the live ones.
        c.insert("c.example", "1", policy(1000), at(20));
        assert_eq!(c.map.len(), 3);
        assert!(!c.map.contains_key("short.example"), "expired first");
        // Full of live policies: the least recently used goes (b, since
        // a was found at 21).
        assert!(c.get("a.example", at(21)).is_some());
        c.insert("d.example", "1", policy(1000), at(22));
        assert_eq!(c.map.len(), 3);
        assert!(c.map.contains_key("a.example") && !c.map.contains_key("b.example"));
        assert!(c.map.contains_key("c.example") && c.map.contains_key("d.example"));
        // Replacing a cached domain's policy evicts nothing.
        c.insert("d.example", "2", policy(1000), at(23));
        assert_eq!(c.map.len(), 3);
        assert_eq!(c.get("d.example", at(24)).map(|(id, _)| id).as_deref(), Some("2"));
        // Many domains later, still three.
        for i in 0..100 {
            c.insert(&format!("{i}.example"), "1", policy(1000), at(30 + i));
        }
        assert_eq!(c.map.len(), 3);
    }

    #[test]
    fn mx_patterns() {
        let p = vec!["mail.example.com".to_owned(), "*.example.net".to_owned()];
        assert!(mx_matches(&p, "MAIL.example.com."));
        assert!(mx_matches(&p, "mx1.example.net"));
        assert!(!mx_matches(&p, "example.net"));
        assert!(!mx_matches(&p, "a.b.example.net"));
        assert!(!mx_matches(&p, "other.example.com"));
    }
}
