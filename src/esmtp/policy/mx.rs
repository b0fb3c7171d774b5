//! A recipient domain's mail exchangers (RFC 5321 §5.1), looked up through
//! the policy resolver so that DANE knows whether the list itself was
//! DNSSEC-validated (RFC 7672 §2.2: TLSA records mean something only for
//! MX hosts taken from a secure MX RRset).

use std::net::IpAddr;

use super::dns::{self, Answer, DnsError, Resolver};

/// MX hosts tried for one delivery, in order; the rest of a longer list is
/// ignored. A domain with hundreds of MX records costs one answer, not
/// hundreds of connection attempts.
pub const MAX_HOSTS: usize = 10;

/// The hosts to try, best first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MxHosts {
    /// Host names, by preference; equal preferences in random order.
    pub hosts: Vec<String>,
    /// The MX RRset, or the proof that there is none, was validated.
    pub secure: bool,
    /// No MX records: the domain itself is the host (RFC 5321 §5.1).
    pub implicit: bool,
    /// MX records left out: IP literals and the root among others.
    pub skipped: Vec<String>,
}

/// Why there is no host to try.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MxError {
    /// The domain accepts no mail: its only MX is the root (RFC 7505).
    NullMx,
    /// The domain does not exist.
    NoDomain,
    /// The lookup failed: SERVFAIL (a bogus answer, for a validating
    /// resolver), a timeout, or an answer that cannot be parsed.
    Lookup(DnsError),
    /// Every MX record was unusable (IP literals, say).
    NoUsableHost(Vec<String>),
}

impl MxError {
    /// The getaddrinfo code a host lookup would have failed with; `None`
    /// for a null MX, which has its own error.
    pub fn gai(&self) -> Option<i32> {
        match self {
            MxError::NullMx => None,
            MxError::NoDomain => Some(libc::EAI_NONAME),
            MxError::Lookup(e) => Some(e.gai()),
            MxError::NoUsableHost(_) => Some(libc::EAI_NODATA),
        }
    }

    pub fn reason(&self, domain: &str) -> String {
        match self {
            MxError::NullMx => format!("{domain} accepts no mail: its MX is null (RFC 7505)"),
            MxError::NoDomain => format!("{domain} does not exist"),
            MxError::Lookup(e) => format!("MX lookup of {domain} failed: {e}"),
            MxError::NoUsableHost(s) => {
                format!("no usable MX host for {domain} (left out: {})", s.join(", "))
            }
        }
    }
}

/// Looks up `domain`'s MX hosts. `shuffle` orders records of equal
/// preference (given the count, it returns a permutation); tests pass an
/// identity.
pub fn lookup(
    r: &Resolver,
    domain: &str,
    shuffle: &mut dyn FnMut(usize) -> Vec<usize>,
) -> Result<MxHosts, MxError> {
    let domain = dns::normalize(domain);
    let a = r.query(&domain, dns::MX).map_err(MxError::Lookup)?;
    select(&a, &domain, shuffle)
}

/// The hosts an MX answer for `domain` names, in the order to try them.
pub fn select(
    a: &Answer,
    domain: &str,
    shuffle: &mut dyn FnMut(usize) -> Vec<usize>,
) -> Result<MxHosts, MxError> {
    let domain = domain.to_owned();
    if a.nxdomain {
        return Err(MxError::NoDomain);
    }
    let mut records: Vec<(u16, String)> = a.rdata.iter().filter_map(|d| dns::mx_rdata(d)).collect();
    if records.len() != a.rdata.len() {
        return Err(MxError::Lookup(DnsError::Malformed));
    }
    if records.is_empty() {
        return Ok(MxHosts { hosts: vec![domain], secure: a.secure, implicit: true, skipped: Vec::new() });
    }
    if records.len() == 1 && records[0].1.is_empty() {
        return Err(MxError::NullMx);
    }
    let mut skipped = Vec::new();
    records.retain(|(_, host)| {
        // RFC 7505 §3: the root among other records is an error in the
        // zone, not a null MX; an MX naming an address breaks RFC 5321
        // §5.1 and some resolvers would turn it into a lookup of the
        // attacker's choosing. Both are left out.
        let bad = host.is_empty() || host.parse::<IpAddr>().is_ok() || host.starts_with('[');
        if bad {
            skipped.push(if host.is_empty() { ".".to_owned() } else { host.clone() });
        }
        !bad
    });
    if records.is_empty() {
        return Err(MxError::NoUsableHost(skipped));
    }
    records.sort_by_key(|(pref, _)| *pref);
    let mut hosts = Vec::with_capacity(records.len().min(MAX_HOSTS));
    let mut i = 0;
    while i < records.len() && hosts.len() < MAX_HOSTS {
        let pref = records[i].0;
        let end = records[i..].iter().position(|(p, _)| *p != pref).map_or(records.len(), |n| i + n);
        let group = &records[i..end];
        for j in shuffle(group.len()) {
            if let Some((_, h)) = group.get(j) {
                if hosts.len() < MAX_HOSTS && !hosts.contains(h) {
                    hosts.push(h.clone());
                }
            }
        }
        i = end;
    }
    Ok(MxHosts { hosts, secure: a.secure, implicit: false, skipped })
}

/// A random permutation of `0..n` (Fisher-Yates over OpenSSL's RNG): MX
/// records of equal preference share the load (RFC 5321 §5.1).
pub fn random_order(n: usize) -> Vec<usize> {
    let mut order: Vec<usize> = (0..n).collect();
    for i in (1..n).rev() {
        let mut b = [0u8; 4];
        let r = if openssl::rand::rand_bytes(&mut b).is_ok() { u32::from_ne_bytes(b) as usize } else { i };
        order.swap(i, r % (i + 1));
    }
    order
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An answer with MX records (preference, exchange in wire form).
    fn answer(records: &[(u16, &[u8])]) -> Answer {
        let rdata = records.iter().map(|(p, name)| [&p.to_be_bytes()[..], name].concat()).collect();
        Answer { secure: true, nxdomain: false, canonical: "d.example".into(), rdata }
    }

    fn hosts(a: &Answer) -> Result<Vec<String>, MxError> {
        select(a, "d.example", &mut |n| (0..n).collect()).map(|m| m.hosts)
    }

    #[test]
    fn order_nulls_literals_and_limits() {
        let (a1, a2, b): (&[u8], &[u8], &[u8]) = (b"\x02a1\x00", b"\x02a2\x00", b"\x01b\x00");
        assert_eq!(hosts(&answer(&[(20, b), (10, a1), (10, a2)])).unwrap(), ["a1", "a2", "b"]);
        // Equal preferences in the order the shuffle gives.
        let m = select(&answer(&[(10, a1), (10, a2), (5, b)]), "d", &mut |n| (0..n).rev().collect()).unwrap();
        assert_eq!(m.hosts, ["b", "a2", "a1"]);
        assert_eq!(hosts(&answer(&[(0, b"\x00")])), Err(MxError::NullMx));
        // The root among others, and an IP literal, are left out.
        let ip: &[u8] = b"\x03127\x010\x010\x011\x00";
        let m = select(&answer(&[(0, b"\x00"), (5, ip), (10, b)]), "d", &mut |n| (0..n).collect()).unwrap();
        assert_eq!(
            (m.hosts, m.skipped),
            (vec!["b".to_owned()], vec![".".to_owned(), "127.0.0.1".to_owned()])
        );
        assert!(matches!(hosts(&answer(&[(5, ip)])), Err(MxError::NoUsableHost(_))));
        let many: Vec<(u16, Vec<u8>)> =
            (0..300u16).map(|i| (i, format!("\x04h{i:03}\x00").into_bytes())).collect();
        let refs: Vec<(u16, &[u8])> = many.iter().map(|(p, n)| (*p, &n[..])).collect();
        assert_eq!(hosts(&answer(&refs)).unwrap().len(), MAX_HOSTS);
        // No records: the domain itself; a domain that does not exist.
        let none = Answer { rdata: Vec::new(), ..answer(&[]) };
        assert!(select(&none, "d.example", &mut |n| (0..n).collect()).unwrap().implicit);
        assert_eq!(hosts(&Answer { nxdomain: true, ..none }), Err(MxError::NoDomain));
        assert_eq!(
            hosts(&Answer { rdata: vec![vec![0]], ..answer(&[]) }),
            Err(MxError::Lookup(DnsError::Malformed))
        );
    }

    #[test]
    fn random_order_is_a_permutation() {
        for n in [0, 1, 2, 7] {
            let mut o = random_order(n);
            o.sort();
            assert_eq!(o, (0..n).collect::<Vec<_>>());
        }
    }
}
