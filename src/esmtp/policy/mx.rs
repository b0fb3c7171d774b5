//! A recipient domain's mail exchangers (RFC 5321 §5.1), looked up through
//! the policy resolver so that DANE knows whether the list itself was
//! DNSSEC-validated (RFC 7672 §2.2: TLSA records mean something only for
//! MX hosts taken from a secure MX RRset).

use std::net::IpAddr;

use super::dns::{self, DnsError, Resolver};

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
            MxError::Lookup(DnsError::ServFail) => Some(libc::EAI_FAIL),
            MxError::Lookup(_) => Some(libc::EAI_AGAIN),
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

    #[test]
    fn random_order_is_a_permutation() {
        for n in [0, 1, 2, 7] {
            let mut o = random_order(n);
            o.sort();
            assert_eq!(o, (0..n).collect::<Vec<_>>());
        }
    }
}
