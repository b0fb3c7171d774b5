//! Does the server's certificate name the host we connected to?
//!
//! DNS subjectAltNames decide when there are any; otherwise the last
//! Common Name, as libESMTP checked. Matching follows RFC 6125: labels
//! compared case-insensitively, a `*` only as the whole leftmost label,
//! matching exactly one label. Beyond libESMTP, an IP-literal host matches
//! an iPAddress subjectAltName (libESMTP ignored those).

use std::net::IpAddr;

use openssl::nid::Nid;
use openssl::x509::X509Ref;

/// The outcome: matched, or the last name that did not match (`""` when
/// the certificate names nothing), as SMTP_EV_WRONG_PEER_CERTIFICATE
/// reports it.
pub fn check_host(cert: &X509Ref, host: &str) -> Result<(), String> {
    let ip: Option<IpAddr> = host.trim_start_matches('[').trim_end_matches(']').parse().ok();
    let mut last = String::new();
    if let Some(sans) = cert.subject_alt_names() {
        let mut has_dns = false;
        for san in &sans {
            if let Some(dns) = san.dnsname() {
                has_dns = true;
                if ip.is_none() && dns_matches(host, dns) {
                    return Ok(());
                }
                last = dns.to_string();
            } else if let (Some(want), Some(bytes)) = (ip, san.ipaddress()) {
                if ip_bytes_match(want, bytes) {
                    return Ok(());
                }
            }
        }
        if has_dns {
            return Err(last);
        }
    }
    let cn = cert.subject_name().entries_by_nid(Nid::COMMONNAME).last();
    if let Some(cn) = cn.map(|e| String::from_utf8_lossy(e.data().as_slice()).into_owned()) {
        // A CN with an embedded NUL is a forgery attempt, never a match.
        if !cn.contains('\0') && ip.is_none() && dns_matches(host, &cn) {
            return Ok(());
        }
        last = cn;
    }
    Err(last)
}

fn ip_bytes_match(want: IpAddr, bytes: &[u8]) -> bool {
    match (want, bytes.len()) {
        (IpAddr::V4(v4), 4) => v4.octets() == bytes,
        (IpAddr::V6(v6), 16) => v6.octets() == bytes,
        _ => false,
    }
}

fn valid_label(l: &str) -> bool {
    !l.is_empty() && l.bytes().all(|c| c.is_ascii_alphanumeric() || c == b'-' || c == b'_')
}

/// RFC 6125 §6.4 host name matching.
pub fn dns_matches(host: &str, reference: &str) -> bool {
    let host = host.strip_suffix('.').unwrap_or(host);
    let reference = reference.strip_suffix('.').unwrap_or(reference);
    let h: Vec<&str> = host.split('.').collect();
    let r: Vec<&str> = reference.split('.').collect();
    if h.len() != r.len() || !h.iter().all(|l| valid_label(l)) {
        return false;
    }
    r.iter().enumerate().all(|(i, rl)| {
        if i == 0 && *rl == "*" {
            // A wildcard must leave at least two labels to itself.
            r.len() >= 3
        } else {
            rl.eq_ignore_ascii_case(h[i])
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc6125_matching() {
        assert!(dns_matches("mx.example.org", "MX.Example.org"));
        assert!(dns_matches("mx.example.org", "*.example.org"));
        assert!(!dns_matches("a.mx.example.org", "*.example.org"));
        assert!(!dns_matches("example.org", "*.example.org"));
        assert!(!dns_matches("example.org", "*.org"));
        assert!(!dns_matches("mx.example.org", "mx.*.org"));
        assert!(!dns_matches("mx.example.org", "m*.example.org"));
        assert!(!dns_matches("mx.example.org", "other.example.org"));
        assert!(dns_matches("mx.example.org.", "mx.example.org"));
    }
}
