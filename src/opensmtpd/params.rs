//! The parameters of individual events: addresses, statuses, ids.

use std::net::{Ipv4Addr, Ipv6Addr};

use super::ctx::{OSMTPD_STATUS_OK, OSMTPD_STATUS_PERMFAIL, OSMTPD_STATUS_TEMPFAIL};
use super::protocol::{hex_u64, ParseError};

/// A peer address as smtpd writes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Addr {
    V4(Ipv4Addr, u16),
    V6(Ipv6Addr, u16),
    /// `unix:<path>` (the path keeps libopensmtpd's `unix:` prefix) or
    /// `local` (smtpd's name for its UNIX socket; libopensmtpd 0.7 exited on it).
    Unix(Vec<u8>),
}

impl Addr {
    /// Fills a `sockaddr_storage` the way libopensmtpd does.
    pub fn to_storage(&self) -> libc::sockaddr_storage {
        // SAFETY: sockaddr_storage is plain data; all-zero is valid.
        let mut ss: libc::sockaddr_storage = unsafe { std::mem::zeroed() };
        match self {
            Addr::V4(ip, port) => {
                // SAFETY: sockaddr_storage is large and aligned enough for
                // every sockaddr type.
                let sin =
                    unsafe { &mut *(&mut ss as *mut libc::sockaddr_storage).cast::<libc::sockaddr_in>() };
                sin.sin_family = libc::AF_INET as libc::sa_family_t;
                sin.sin_port = port.to_be();
                sin.sin_addr.s_addr = u32::from(*ip).to_be();
            }
            Addr::V6(ip, port) => {
                // SAFETY: as above.
                let sin6 =
                    unsafe { &mut *(&mut ss as *mut libc::sockaddr_storage).cast::<libc::sockaddr_in6>() };
                sin6.sin6_family = libc::AF_INET6 as libc::sa_family_t;
                sin6.sin6_port = port.to_be();
                sin6.sin6_addr.s6_addr = ip.octets();
            }
            Addr::Unix(path) => {
                // SAFETY: as above.
                let sun =
                    unsafe { &mut *(&mut ss as *mut libc::sockaddr_storage).cast::<libc::sockaddr_un>() };
                sun.sun_family = libc::AF_UNIX as libc::sa_family_t;
                let n = path.len().min(sun.sun_path.len() - 1);
                for (d, s) in sun.sun_path.iter_mut().zip(&path[..n]) {
                    *d = *s as libc::c_char;
                }
            }
        }
        ss
    }
}

fn err(what: &'static str) -> ParseError {
    ParseError(what)
}

/// `a.b.c.d`, `[v6]`, `unix:…` or `local` (filter connect: no port).
pub fn client_address(s: &[u8]) -> Result<Addr, ParseError> {
    address(s, false)
}

/// `a.b.c.d:port`, `[v6]:port` or `unix:…` (link-connect).
pub fn link_address(s: &[u8]) -> Result<Addr, ParseError> {
    address(s, true)
}

fn address(s: &[u8], with_port: bool) -> Result<Addr, ParseError> {
    const BAD: &str = "Invalid line received: invalid address";
    if s == b"local" {
        return Ok(Addr::Unix(b"local".to_vec()));
    }
    if s.starts_with(b"unix:") {
        return Ok(Addr::Unix(s.to_vec()));
    }
    let text = std::str::from_utf8(s).map_err(|_| err(BAD))?;
    let (host, port) = if let Some(rest) = text.strip_prefix('[') {
        let end = rest.find(']').ok_or(err(BAD))?;
        let after = &rest[end + 1..];
        let port = match (with_port, after.strip_prefix(':')) {
            (true, Some(p)) => Some(p),
            (false, None) if after.is_empty() => None,
            _ => return Err(err(BAD)),
        };
        let ip: Ipv6Addr = rest[..end].trim_start_matches("IPv6:").parse().map_err(|_| err(BAD))?;
        return Ok(Addr::V6(ip, parse_port(port)?));
    } else if with_port {
        let (h, p) = text.rsplit_once(':').ok_or(err(BAD))?;
        (h, Some(p))
    } else {
        (text, None)
    };
    let ip: Ipv4Addr = host.parse().map_err(|_| err(BAD))?;
    Ok(Addr::V4(ip, parse_port(port)?))
}

fn parse_port(p: Option<&str>) -> Result<u16, ParseError> {
    match p {
        None => Ok(0),
        Some(p) => p.parse::<u16>().map_err(|_| err("Invalid line received: invalid port")),
    }
}

/// `pass`/`fail`/`error` of link-connect's forward-confirmed rDNS.
pub fn fcrdns(s: &[u8]) -> Result<i32, ParseError> {
    match s {
        b"pass" => Ok(OSMTPD_STATUS_OK),
        b"fail" => Ok(OSMTPD_STATUS_PERMFAIL),
        b"error" => Ok(OSMTPD_STATUS_TEMPFAIL),
        _ => Err(err("Invalid line received: invalid fcrdns")),
    }
}

/// `ok`/`permfail`/`tempfail` of the tx events.
pub fn status(s: &[u8]) -> Result<i32, ParseError> {
    match s {
        b"ok" => Ok(OSMTPD_STATUS_OK),
        b"permfail" => Ok(OSMTPD_STATUS_PERMFAIL),
        b"tempfail" => Ok(OSMTPD_STATUS_TEMPFAIL),
        _ => Err(err("Invalid line received: invalid status")),
    }
}

/// A message id: 1–8 hex digits.
pub fn msgid(s: &[u8]) -> Result<u32, ParseError> {
    match hex_u64(s) {
        Some(v) if s.len() <= 8 => Ok(v as u32),
        _ => Err(err("Invalid line received: invalid msgid")),
    }
}

pub fn evpid(s: &[u8]) -> Result<u64, ParseError> {
    hex_u64(s).ok_or_else(|| err("Invalid line received: invalid evpid"))
}

/// tx-commit's message size, decimal.
pub fn size(s: &[u8]) -> Result<usize, ParseError> {
    let e = || err("Invalid line received: invalid msg size");
    if s.is_empty() || !s.iter().all(u8::is_ascii_digit) {
        return Err(e());
    }
    std::str::from_utf8(s).ok().and_then(|t| t.parse::<u32>().ok()).map(|v| v as usize).ok_or_else(e)
}

/// tx-mail/tx-rcpt: `msgid|status|address` since protocol 0.6,
/// `msgid|address|status` before.
pub fn tx_address(params: &[u8], minor: u32) -> Result<(u32, i32, &[u8]), ParseError> {
    // libopensmtpd's messages: no field after the msgid is a missing
    // address, no third field a missing status.
    let missing = || err("Invalid line received: missing address");
    let no_status = || err("Invalid line received: missing status");
    let mut it = params.splitn(2, |&c| c == b'|');
    let id = msgid(it.next().unwrap_or_default())?;
    let rest = it.next().ok_or_else(missing)?;
    if minor < 6 {
        let i = rest.iter().rposition(|&c| c == b'|').ok_or_else(no_status)?;
        Ok((id, status(&rest[i + 1..])?, &rest[..i]))
    } else {
        let i = rest.iter().position(|&c| c == b'|').ok_or_else(no_status)?;
        Ok((id, status(&rest[..i])?, &rest[i + 1..]))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses() {
        assert_eq!(client_address(b"192.0.2.1").unwrap(), Addr::V4("192.0.2.1".parse().unwrap(), 0));
        assert_eq!(client_address(b"[::1]").unwrap(), Addr::V6("::1".parse().unwrap(), 0));
        assert_eq!(client_address(b"local").unwrap(), Addr::Unix(b"local".to_vec()));
        assert!(client_address(b"192.0.2.1:25").is_err());
        assert_eq!(link_address(b"192.0.2.1:2525").unwrap(), Addr::V4("192.0.2.1".parse().unwrap(), 2525));
        assert_eq!(link_address(b"[2001:db8::1]:25").unwrap(), Addr::V6("2001:db8::1".parse().unwrap(), 25));
        assert_eq!(
            link_address(b"unix:/var/run/smtpd.sock").unwrap(),
            Addr::Unix(b"unix:/var/run/smtpd.sock".to_vec())
        );
        assert!(link_address(b"192.0.2.1:99999").is_err());
        let ss = link_address(b"192.0.2.1:2525").unwrap().to_storage();
        assert_eq!(ss.ss_family as i32, libc::AF_INET);
    }

    #[test]
    fn tx_fields_by_version() {
        assert_eq!(tx_address(b"0000000a|ok|a|b@c", 6).unwrap(), (10, 0, &b"a|b@c"[..]));
        assert_eq!(tx_address(b"0000000a|a|b@c|permfail", 5).unwrap(), (10, 2, &b"a|b@c"[..]));
        assert!(tx_address(b"0000000a|bad|x", 6).is_err());
        assert_eq!(size(b"4096").unwrap(), 4096);
        assert!(size(b"-1").is_err());
        assert_eq!(evpid(b"1ef1c203cc576e5d").unwrap(), 0x1ef1c203cc576e5d);
    }
}
