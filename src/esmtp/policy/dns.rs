//! A stub resolver for the TLS policies: A, AAAA, TXT and TLSA queries to
//! the configured resolver, with the DO and AD bits set, whose AD bit in
//! the answer is trusted as Postfix and Exim trust it (the resolver must be
//! a validating one the host trusts, normally on loopback).
//!
//! Blocking and synchronous on purpose: it runs only for sessions with a
//! policy, inside `smtp_start_session`, and starts no thread or runtime.
//! Every length and pointer in an answer is checked; a bad answer is
//! `Malformed`, never a panic.

use std::net::{IpAddr, SocketAddr, TcpStream, UdpSocket};
use std::time::{Duration, Instant};

pub const A: u16 = 1;
pub const CNAME: u16 = 5;
pub const MX: u16 = 15;
pub const TXT: u16 = 16;
pub const AAAA: u16 = 28;
pub const TLSA: u16 = 52;
const OPT: u16 = 41;
const CLASS_IN: u16 = 1;
/// EDNS0 payload size advertised: the DNS flag day 2020 value.
const UDP_PAYLOAD: u16 = 1232;
/// CNAMEs followed inside one answer.
const MAX_CHAIN: usize = 8;

const RCODE_NOERROR: u8 = 0;
const RCODE_SERVFAIL: u8 = 2;
const RCODE_NXDOMAIN: u8 = 3;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DnsError {
    /// No answer from any resolver within the timeout.
    Timeout,
    /// SERVFAIL: for a validating resolver, often bogus DNSSEC.
    ServFail,
    /// Another failing response code (REFUSED, FORMERR, ...).
    Rcode(u8),
    /// The answer could not be parsed.
    Malformed,
    /// A name that cannot be queried (empty label, over 255 bytes...).
    BadName,
    /// No resolver configured or usable.
    NoResolver,
}

impl DnsError {
    /// The getaddrinfo code a failed lookup resembles: SERVFAIL (often
    /// bogus DNSSEC) is a failure, the rest may pass.
    pub fn gai(&self) -> i32 {
        if *self == DnsError::ServFail {
            libc::EAI_FAIL
        } else {
            libc::EAI_AGAIN
        }
    }
}

impl std::fmt::Display for DnsError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            DnsError::Timeout => f.write_str("timed out"),
            DnsError::ServFail => f.write_str("SERVFAIL"),
            DnsError::Rcode(c) => write!(f, "response code {c}"),
            DnsError::Malformed => f.write_str("malformed answer"),
            DnsError::BadName => f.write_str("invalid name"),
            DnsError::NoResolver => f.write_str("no resolver"),
        }
    }
}

/// An answer to one question: the records of the asked type at the end of
/// any CNAME chain (empty for NODATA and NXDOMAIN).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Answer {
    /// The resolver validated it (AD bit).
    pub secure: bool,
    pub nxdomain: bool,
    /// The name the records belong to, after CNAMEs: the question's own
    /// (lowercased) when no CNAME was followed, else the last target with
    /// what cannot be in a host name escaped.
    pub canonical: String,
    pub rdata: Vec<Vec<u8>>,
}

/// Appends `name` in wire form; accepts a trailing dot.
fn push_name(out: &mut Vec<u8>, name: &str) -> Result<(), DnsError> {
    let name = name.strip_suffix('.').unwrap_or(name);
    if name.is_empty() || name.len() > 253 {
        return Err(DnsError::BadName);
    }
    for label in name.split('.') {
        if label.is_empty() || label.len() > 63 {
            return Err(DnsError::BadName);
        }
        out.push(label.len() as u8);
        out.extend_from_slice(label.as_bytes());
    }
    out.push(0);
    Ok(())
}

/// `name` in wire form, uncompressed: the form questions and answers
/// are compared in.
fn wire_name(name: &str) -> Result<Vec<u8>, DnsError> {
    let mut out = Vec::with_capacity(name.len() + 2);
    push_name(&mut out, name)?;
    Ok(out)
}

/// Whether two wire-form names are the same name: labels equal byte for
/// byte except for the case of ASCII letters (RFC 4343), whatever bytes
/// they hold. Comparing the whole wire form does it: lengths are below
/// 64, so case folding never touches them nor makes a label byte equal to
/// one, and equal lengths put the next length at the same place in both.
fn same_name(a: &[u8], b: &[u8]) -> bool {
    a.eq_ignore_ascii_case(b)
}

/// A wire-form name for people and policies: lowercase, no final dot, and
/// what cannot appear in a host name escaped (`\DDD`), so a label with a
/// dot or a control byte cannot pose as another.
fn presentation(wire: &[u8]) -> String {
    let mut out = String::new();
    let mut pos = 0;
    while let Some(&len) = wire.get(pos) {
        let Some(label) = wire.get(pos + 1..pos + 1 + len as usize).filter(|_| len > 0) else {
            break;
        };
        if !out.is_empty() {
            out.push('.');
        }
        for &c in label {
            if c.is_ascii_alphanumeric() || c == b'-' || c == b'_' || c == b'*' {
                out.push(c.to_ascii_lowercase() as char);
            } else {
                out.push_str(&format!("\\{c:03}"));
            }
        }
        pos += 1 + len as usize;
    }
    out
}

/// A query with RD and AD set and an EDNS0 OPT record with DO set, so a
/// validating resolver reports its verdict (RFC 6840 §5.7).
pub fn encode_query(id: u16, name: &str, qtype: u16) -> Result<Vec<u8>, DnsError> {
    let mut q = Vec::with_capacity(64);
    q.extend_from_slice(&id.to_be_bytes());
    q.extend_from_slice(&0x0120u16.to_be_bytes()); // RD | AD
    q.extend_from_slice(&[0, 1, 0, 0, 0, 0, 0, 1]);
    push_name(&mut q, name)?;
    q.extend_from_slice(&qtype.to_be_bytes());
    q.extend_from_slice(&CLASS_IN.to_be_bytes());
    q.push(0);
    q.extend_from_slice(&OPT.to_be_bytes());
    q.extend_from_slice(&UDP_PAYLOAD.to_be_bytes());
    q.extend_from_slice(&0x0000_8000u32.to_be_bytes()); // DO
    q.extend_from_slice(&[0, 0]);
    Ok(q)
}

struct Parser<'a> {
    msg: &'a [u8],
    pos: usize,
}

impl<'a> Parser<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], DnsError> {
        let end = self.pos.checked_add(n).ok_or(DnsError::Malformed)?;
        let s = self.msg.get(self.pos..end).ok_or(DnsError::Malformed)?;
        self.pos = end;
        Ok(s)
    }

    fn u16(&mut self) -> Result<u16, DnsError> {
        let b = self.take(2)?;
        Ok(u16::from_be_bytes([b[0], b[1]]))
    }

    fn u32(&mut self) -> Result<u32, DnsError> {
        let b = self.take(4)?;
        Ok(u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
    }

    /// A possibly compressed name at the current position, in wire form.
    fn name(&mut self) -> Result<Vec<u8>, DnsError> {
        let (name, next) = read_name(self.msg, self.pos)?;
        self.pos = next;
        Ok(name)
    }
}

/// Reads the name at `pos`; returns it uncompressed in wire form and the
/// position after it (after the first pointer, if compressed). Pointers
/// must go backwards, which bounds the walk.
fn read_name(msg: &[u8], mut pos: usize) -> Result<(Vec<u8>, usize), DnsError> {
    let mut out = Vec::new();
    let mut after = None;
    let mut limit = pos;
    loop {
        let len = *msg.get(pos).ok_or(DnsError::Malformed)? as usize;
        match len & 0xC0 {
            0x00 if len == 0 => {
                out.push(0);
                return Ok((out, after.unwrap_or(pos + 1)));
            }
            0x00 => {
                let label = msg.get(pos..pos + 1 + len).ok_or(DnsError::Malformed)?;
                out.extend_from_slice(label);
                // RFC 1035 §3.1: 255 bytes at most, the final 0 included.
                if out.len() > 254 {
                    return Err(DnsError::Malformed);
                }
                pos += 1 + len;
            }
            0xC0 => {
                let lo = *msg.get(pos + 1).ok_or(DnsError::Malformed)? as usize;
                let target = ((len & 0x3F) << 8) | lo;
                if target >= limit {
                    return Err(DnsError::Malformed);
                }
                after.get_or_insert(pos + 2);
                limit = target;
                pos = target;
            }
            _ => return Err(DnsError::Malformed),
        }
    }
}

/// Lowercase, no trailing dot: the form names are compared in.
pub fn normalize(name: &str) -> String {
    name.strip_suffix('.').unwrap_or(name).to_ascii_lowercase()
}

/// The parsed parts of a response that matter here.
#[derive(Debug)]
pub struct Response {
    pub id: u16,
    pub truncated: bool,
    pub ad: bool,
    pub rcode: u8,
    /// In wire form, as the owners.
    qname: Vec<u8>,
    qtype: u16,
    /// Owner, type, rdata (CNAME targets already decompressed).
    records: Vec<(Vec<u8>, u16, Vec<u8>)>,
}

pub fn parse_response(msg: &[u8]) -> Result<Response, DnsError> {
    let mut p = Parser { msg, pos: 0 };
    let id = p.u16()?;
    let flags = p.u16()?;
    let (qd, an) = (p.u16()?, p.u16()?);
    p.take(4)?;
    if flags & 0x8000 == 0 || qd != 1 {
        return Err(DnsError::Malformed);
    }
    let qname = p.name()?;
    let qtype = p.u16()?;
    p.u16()?;
    let mut records = Vec::new();
    let truncated = flags & 0x0200 != 0;
    // A truncated answer may end anywhere; TCP will give it whole.
    let an = if truncated { 0 } else { an };
    for _ in 0..an {
        let owner = p.name()?;
        let rtype = p.u16()?;
        let _class = p.u16()?;
        let _ttl = p.u32()?;
        let rdlen = p.u16()? as usize;
        let start = p.pos;
        let rdata = p.take(rdlen)?;
        let rdata = if rtype == CNAME {
            let (target, end) = read_name(msg, start)?;
            if end != start + rdlen {
                return Err(DnsError::Malformed);
            }
            target
        } else if rtype == MX {
            // Preference, then the exchange, decompressed: the rdata
            // must stand alone once the message is gone.
            let pref = rdata.get(..2).ok_or(DnsError::Malformed)?;
            let (exchange, end) = read_name(msg, start + 2)?;
            if end != start + rdlen {
                return Err(DnsError::Malformed);
            }
            [pref, &exchange].concat()
        } else {
            rdata.to_vec()
        };
        records.push((owner, rtype, rdata));
    }
    Ok(Response {
        id,
        truncated,
        ad: flags & 0x0020 != 0,
        rcode: (flags & 0x000F) as u8,
        qname,
        qtype,
        records,
    })
}

/// The records answering `name`/`qtype`, following CNAMEs in the answer.
fn answer_of(r: Response, name: &str) -> Result<Answer, DnsError> {
    match r.rcode {
        RCODE_NOERROR | RCODE_NXDOMAIN => {}
        RCODE_SERVFAIL => return Err(DnsError::ServFail),
        c => return Err(DnsError::Rcode(c)),
    }
    let mut current = wire_name(name)?;
    let mut chain = 0;
    let canonical = |current: &[u8], chain| if chain == 0 { normalize(name) } else { presentation(current) };
    loop {
        let rdata: Vec<Vec<u8>> = r
            .records
            .iter()
            .filter(|(o, t, _)| same_name(o, &current) && *t == r.qtype)
            .map(|(_, _, d)| d.clone())
            .collect();
        if !rdata.is_empty() || r.qtype == CNAME {
            return Ok(Answer {
                secure: r.ad,
                nxdomain: false,
                canonical: canonical(&current, chain),
                rdata,
            });
        }
        let next = r.records.iter().find(|(o, t, _)| same_name(o, &current) && *t == CNAME);
        match next {
            Some((_, _, target)) if chain < MAX_CHAIN => {
                current.clone_from(target);
                chain += 1;
            }
            _ => {
                return Ok(Answer {
                    secure: r.ad,
                    nxdomain: r.rcode == RCODE_NXDOMAIN,
                    canonical: canonical(&current, chain),
                    rdata: Vec::new(),
                })
            }
        }
    }
}

/// The answer a parsed response gives to its own question, for the
/// fuzzers: what a query would have returned.
#[cfg(feature = "fuzzing")]
pub fn own_answer(r: Response) -> Result<Answer, DnsError> {
    let name = presentation(&r.qname);
    answer_of(r, if name.is_empty() { "." } else { &name })
}

/// Where and how long to ask.
#[derive(Debug, Clone)]
pub struct Resolver {
    pub servers: Vec<SocketAddr>,
    /// For each question, over all servers and attempts.
    pub timeout: Duration,
    /// Whether the servers' AD bit means anything: an application's own
    /// list is trusted; from resolv.conf, only resolvers on loopback are.
    pub trust_ad: bool,
}

fn random_id() -> u16 {
    let mut b = [0u8; 2];
    if openssl::rand::rand_bytes(&mut b).is_err() {
        // Only spoofing resistance depends on it; fall back to the clock.
        let t = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
        return t.subsec_nanos() as u16;
    }
    u16::from_be_bytes(b)
}

impl Resolver {
    /// The nameservers of /etc/resolv.conf, port 53.
    pub fn system(timeout: Duration) -> Resolver {
        let text = std::fs::read_to_string("/etc/resolv.conf").unwrap_or_default();
        let servers = parse_resolv_conf(&text);
        // An AD bit that crossed a network unprotected proves nothing.
        let trust_ad = servers.iter().all(|s| s.ip().is_loopback());
        Resolver { servers, timeout, trust_ad }
    }

    pub fn query(&self, name: &str, qtype: u16) -> Result<Answer, DnsError> {
        self.query_all(&[(name, qtype)]).pop().unwrap_or(Err(DnsError::NoResolver))
    }

    /// Several questions at once (A and AAAA of a host): sent together on
    /// one socket, so a dead resolver costs one timeout, not one each.
    /// The answers come back in the order of the questions.
    pub fn query_all(&self, questions: &[(&str, u16)]) -> Vec<Result<Answer, DnsError>> {
        let mut results: Vec<Option<Result<Answer, DnsError>>> = vec![None; questions.len()];
        if self.servers.is_empty() {
            return vec![Err(DnsError::NoResolver); questions.len()];
        }
        let mut last = vec![DnsError::Timeout; questions.len()];
        let deadline = Instant::now() + self.timeout;
        // Two rounds over the servers, each try given an equal share of
        // what is left, so one dead server cannot eat the whole budget.
        let tries = self.servers.len() * 2;
        for i in 0..tries {
            let now = Instant::now();
            if now >= deadline || results.iter().all(Option::is_some) {
                break;
            }
            let share = (deadline - now) / (tries - i) as u32;
            let server = self.servers[i % self.servers.len()];
            let open: Vec<usize> = (0..questions.len()).filter(|&k| results[k].is_none()).collect();
            let asked: Vec<(&str, u16)> = open.iter().map(|&k| questions[k]).collect();
            let got = self.ask(server, &asked, now + share.max(Duration::from_millis(50)));
            for (k, r) in open.into_iter().zip(got) {
                match r {
                    Ok(a) => results[k] = Some(Ok(a)),
                    // Final answers: another server would say the same.
                    Err(e @ (DnsError::BadName | DnsError::ServFail)) => results[k] = Some(Err(e)),
                    Err(e) => last[k] = e,
                }
            }
        }
        results.into_iter().zip(last).map(|(r, e)| r.unwrap_or(Err(e))).collect()
    }

    /// One try of `questions` at `server`, each answered or failed.
    fn ask(
        &self,
        server: SocketAddr,
        questions: &[(&str, u16)],
        deadline: Instant,
    ) -> Vec<Result<Answer, DnsError>> {
        let mut asked = Vec::with_capacity(questions.len());
        for &(name, qtype) in questions {
            let q = Question { id: random_id(), name, qtype };
            let wire = encode_query(q.id, name, qtype);
            asked.push((q, wire));
        }
        let sendable: Vec<(&Question, &[u8])> =
            asked.iter().filter_map(|(q, w)| w.as_ref().ok().map(|w| (q, w.as_slice()))).collect();
        let mut responses = udp_exchange(server, &sendable, deadline);
        asked
            .iter()
            .map(|(q, wire)| {
                let wire = wire.as_ref().map_err(Clone::clone)?;
                let r = match responses.iter().position(|r| r.as_ref().is_ok_and(|r| q.answered_by(r))) {
                    Some(i) => responses.swap_remove(i)?,
                    None => {
                        return Err(responses
                            .iter()
                            .find_map(|r| r.as_ref().err().cloned())
                            .unwrap_or(DnsError::Timeout))
                    }
                };
                let r = if r.truncated { tcp_exchange(server, wire, q, deadline)? } else { r };
                let mut a = answer_of(r, q.name)?;
                a.secure &= self.trust_ad;
                Ok(a)
            })
            .collect()
    }
}

fn left(deadline: Instant) -> Result<Duration, DnsError> {
    let d = deadline.saturating_duration_since(Instant::now());
    if d.is_zero() {
        Err(DnsError::Timeout)
    } else {
        Ok(d)
    }
}

/// What a response must answer: our id and our question.
struct Question<'a> {
    id: u16,
    name: &'a str,
    qtype: u16,
}

impl Question<'_> {
    fn answered_by(&self, r: &Response) -> bool {
        r.id == self.id
            && r.qtype == self.qtype
            && wire_name(self.name).is_ok_and(|q| same_name(&r.qname, &q))
    }
}

/// Sends each question and collects the responses that answer one of
/// them until all are answered or the deadline passes. A socket failure
/// comes back as one `Err` among the responses.
fn udp_exchange(
    server: SocketAddr,
    questions: &[(&Question, &[u8])],
    deadline: Instant,
) -> Vec<Result<Response, DnsError>> {
    let local: SocketAddr = match server.ip() {
        IpAddr::V4(_) => (std::net::Ipv4Addr::UNSPECIFIED, 0).into(),
        IpAddr::V6(_) => (std::net::Ipv6Addr::UNSPECIFIED, 0).into(),
    };
    let mut got = Vec::new();
    let sock = match UdpSocket::bind(local).and_then(|s| s.connect(server).map(|()| s)) {
        Ok(s) => s,
        Err(_) => return vec![Err(DnsError::NoResolver)],
    };
    for (_, wire) in questions {
        if sock.send(wire).is_err() {
            return vec![Err(DnsError::Timeout)];
        }
    }
    let mut buf = vec![0u8; 65535];
    while got.len() < questions.len() {
        let Ok(wait) = left(deadline) else { break };
        if sock.set_read_timeout(Some(wait)).is_err() {
            break;
        }
        let n = match sock.recv(&mut buf) {
            Ok(n) => n,
            Err(e) if e.raw_os_error() == Some(libc::EINTR) => continue,
            // ECONNREFUSED from an ICMP port unreachable: nobody there;
            // otherwise the deadline passed.
            Err(_) => break,
        };
        // Answers to other questions (late, repeated, or forged) are ignored.
        if let Ok(r) = parse_response(&buf[..n]) {
            let ours = questions.iter().any(|(q, _)| q.answered_by(&r));
            let repeated =
                got.iter().any(|g: &Result<Response, DnsError>| g.as_ref().is_ok_and(|g| g.id == r.id));
            if ours && !repeated {
                got.push(Ok(r));
            }
        }
    }
    got
}

fn tcp_exchange(
    server: SocketAddr,
    query: &[u8],
    q: &Question,
    deadline: Instant,
) -> Result<Response, DnsError> {
    use std::io::{Read, Write};
    let mut s = TcpStream::connect_timeout(&server, left(deadline)?).map_err(|_| DnsError::Timeout)?;
    s.set_write_timeout(Some(left(deadline)?)).map_err(|_| DnsError::Timeout)?;
    let mut framed = (query.len() as u16).to_be_bytes().to_vec();
    framed.extend_from_slice(query);
    s.write_all(&framed).map_err(|_| DnsError::Timeout)?;
    let mut read_exact = |buf: &mut [u8]| -> Result<(), DnsError> {
        let mut got = 0;
        while got < buf.len() {
            s.set_read_timeout(Some(left(deadline)?)).map_err(|_| DnsError::Timeout)?;
            match s.read(&mut buf[got..]) {
                Ok(0) => return Err(DnsError::Malformed),
                Ok(n) => got += n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(_) => return Err(DnsError::Timeout),
            }
        }
        Ok(())
    };
    let mut len = [0u8; 2];
    read_exact(&mut len)?;
    let mut msg = vec![0u8; u16::from_be_bytes(len) as usize];
    read_exact(&mut msg)?;
    let r = parse_response(&msg)?;
    if !q.answered_by(&r) {
        return Err(DnsError::Malformed);
    }
    Ok(r)
}

/// `nameserver` lines; `host`, `host:port` and `[v6]:port` are accepted by
/// [`parse_server`] for the application's own list.
pub fn parse_resolv_conf(text: &str) -> Vec<SocketAddr> {
    text.lines()
        .filter_map(|l| l.trim().strip_prefix("nameserver"))
        .filter_map(|rest| rest.split_whitespace().next())
        .filter_map(|a| a.parse::<IpAddr>().ok())
        .map(|ip| SocketAddr::new(ip, 53))
        .collect()
}

/// One resolver address: `127.0.0.1`, `127.0.0.1:5353`, `::1`, `[::1]:5353`.
pub fn parse_server(s: &str) -> Option<SocketAddr> {
    let s = s.trim();
    if let Ok(ip) = s.parse::<IpAddr>() {
        return Some(SocketAddr::new(ip, 53));
    }
    s.parse::<SocketAddr>().ok()
}

/// TXT rdata as its character-strings joined (RFC 7208 §3.3 style).
/// An MX record's preference and exchange, as [`parse_response`] left
/// its rdata: the exchange in presentation form (lowercase, escaped), the
/// empty string for the root (a null MX, RFC 7505).
pub fn mx_rdata(rdata: &[u8]) -> Option<(u16, String)> {
    let pref = u16::from_be_bytes([*rdata.first()?, *rdata.get(1)?]);
    Some((pref, presentation(&rdata[2..])))
}

pub fn txt_string(rdata: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    let mut i = 0;
    while i < rdata.len() {
        let n = rdata[i] as usize;
        out.extend_from_slice(rdata.get(i + 1..i + 1 + n)?);
        i += 1 + n;
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A response to `query` with the given flags and answer records.
    fn response(query: &[u8], flags: u16, answers: &[(&[u8], u16, &[u8])]) -> Vec<u8> {
        let qend = query.len() - 11; // strip the OPT record
        let mut m = query[..qend].to_vec();
        m[2..4].copy_from_slice(&flags.to_be_bytes());
        m[6..8].copy_from_slice(&(answers.len() as u16).to_be_bytes());
        m[10..12].copy_from_slice(&[0, 0]);
        for (owner, t, rd) in answers {
            m.extend_from_slice(owner);
            m.extend_from_slice(&t.to_be_bytes());
            m.extend_from_slice(&[0, 1, 0, 0, 1, 0]);
            m.extend_from_slice(&(rd.len() as u16).to_be_bytes());
            m.extend_from_slice(rd);
        }
        m
    }

    #[test]
    fn query_has_do_and_ad() {
        let q = encode_query(0x1234, "_25._tcp.mx.example.", TLSA).unwrap();
        assert_eq!(&q[..4], &[0x12, 0x34, 0x01, 0x20]);
        assert_eq!(&q[q.len() - 6..q.len() - 2], &[0, 0, 0x80, 0]);
        assert_eq!(encode_query(1, "a..b", A), Err(DnsError::BadName));
        assert_eq!(encode_query(1, &"x".repeat(64), A), Err(DnsError::BadName));
        assert_eq!(encode_query(1, "", A), Err(DnsError::BadName));
    }

    #[test]
    fn mx_exchanges_are_decompressed() {
        let q = encode_query(9, "example", MX).unwrap();
        // "mx1" + a pointer to the question's "example" (offset 12); the
        // root (null MX); a pointer that runs past its rdata.
        let answers: &[(&[u8], u16, &[u8])] =
            &[(&[0xC0, 12], MX, &[0, 10, 3, b'M', b'X', b'1', 0xC0, 12]), (&[0xC0, 12], MX, &[0, 0, 0])];
        let r = parse_response(&response(&q, 0x8180, answers)).unwrap();
        let a = answer_of(r, "example").unwrap();
        let got: Vec<_> = a.rdata.iter().map(|d| mx_rdata(d).unwrap()).collect();
        assert_eq!(got, vec![(10, "mx1.example".to_owned()), (0, String::new())]);
        let bad: &[(&[u8], u16, &[u8])] = &[(&[0xC0, 12], MX, &[0, 10, 3, b'm', b'x'])];
        assert_eq!(parse_response(&response(&q, 0x8180, bad)).err(), Some(DnsError::Malformed));
        assert_eq!(mx_rdata(&[0]), None);
    }

    #[test]
    fn answers_follow_cnames_through_compression() {
        let q = encode_query(7, "Host.Example", A).unwrap();
        // Owner as a pointer to the question name (offset 12), a CNAME to
        // "mx" + pointer to "example" (offset 17), then its A record.
        let cname: &[u8] = &[2, b'm', b'x', 0xC0, 17];
        let mut m = response(&q, 0x81A0, &[(&[0xC0, 12], CNAME, cname)]);
        let mx_off = (m.len() - cname.len()) as u16;
        let ptr = [0xC0 | (mx_off >> 8) as u8, mx_off as u8];
        let extra = response(&q, 0x81A0, &[(&ptr, A, &[127, 0, 0, 1])]);
        m.extend_from_slice(&extra[q.len() - 11..]);
        m[6..8].copy_from_slice(&2u16.to_be_bytes());
        let r = parse_response(&m).unwrap();
        assert!(Question { id: 7, name: "host.example.", qtype: A }.answered_by(&r));
        let a = answer_of(r, "host.example").unwrap();
        assert!(a.secure);
        assert_eq!(a.canonical, "mx.example");
        assert_eq!(a.rdata, vec![vec![127, 0, 0, 1]]);
    }

    /// Labels may hold any byte (RFC 2181 §11): a question whose name has
    /// a space, a backslash, a dot-less escape look-alike or UTF-8 bytes
    /// is answered by a response that repeats it in another ASCII case
    /// (RFC 4343), and the records under that name are its answer.
    #[test]
    fn names_match_byte_for_byte_but_ascii_case() {
        for name in
            ["a b.example", "back\\slash.example", "x\\032y.example", "m\u{E4}x.Example.", "MX.example"]
        {
            let q = encode_query(11, name, A).unwrap();
            // The question as the resolver echoes it, letters upper-cased,
            // and the owner both as a pointer to it and written out.
            let mut echoed = q.clone();
            echoed[12..q.len() - 15].make_ascii_uppercase();
            let written = echoed[12..q.len() - 15].to_vec();
            let m = response(
                &echoed,
                0x81A0,
                &[(&[0xC0, 12], A, &[192, 0, 2, 1]), (&written, A, &[192, 0, 2, 2])],
            );
            let r = parse_response(&m).unwrap();
            assert!(Question { id: 11, name, qtype: A }.answered_by(&r), "{name:?}");
            let a = answer_of(r, name).unwrap();
            assert_eq!(a.rdata, vec![vec![192, 0, 2, 1], vec![192, 0, 2, 2]], "{name:?}");
            assert_eq!(a.canonical, normalize(name));
        }
        // Case folds ASCII letters only: not bytes of UTF-8, not '@' and '`'.
        let q = encode_query(12, "\u{E4}.example", A).unwrap();
        let mut other = q.clone();
        other[14] ^= 0x20; // the second byte of "ä"
        let r = parse_response(&response(&other, 0x81A0, &[])).unwrap();
        assert!(!Question { id: 12, name: "\u{E4}.example", qtype: A }.answered_by(&r));
        let q = encode_query(13, "@.example", A).unwrap();
        let r = parse_response(&response(&q, 0x81A0, &[])).unwrap();
        assert!(!Question { id: 13, name: "`.example", qtype: A }.answered_by(&r));
        // A dot inside a label is not a label boundary.
        let dotted = [3, b'a', b'.', b'b', 7, b'e', b'x', b'a', b'm', b'p', b'l', b'e', 0];
        let mut m = response(&q, 0x81A0, &[]);
        m.splice(12..12 + 11, dotted);
        let r = parse_response(&m).unwrap();
        assert!(!Question { id: 13, name: "a.b.example", qtype: A }.answered_by(&r));
    }

    #[test]
    fn bad_answers_are_errors_not_panics() {
        let q = encode_query(9, "a.example", TXT).unwrap();
        let ok = response(&q, 0x8180, &[(&[0xC0, 12], TXT, b"\x03abc")]);
        // Every truncation of a good answer, and a forward pointer loop.
        for n in 0..ok.len() {
            let _ = parse_response(&ok[..n]);
        }
        let mut looped = ok.clone();
        let at = q.len() - 11;
        looped[at..at + 2].copy_from_slice(&[0xC0, (at as u8)]);
        assert_eq!(parse_response(&looped).unwrap_err(), DnsError::Malformed);
        let r = parse_response(&response(&q, 0x8182, &[])).unwrap();
        assert_eq!(answer_of(r, "a.example"), Err(DnsError::ServFail));
        let r = parse_response(&response(&q, 0x8183, &[])).unwrap();
        assert!(answer_of(r, "a.example").unwrap().nxdomain);
    }

    #[test]
    fn txt_and_servers() {
        assert_eq!(txt_string(b"\x03abc\x02de").unwrap(), b"abcde");
        assert_eq!(txt_string(b"\x05ab"), None);
        assert_eq!(parse_server("127.0.0.1:5353"), Some("127.0.0.1:5353".parse().unwrap()));
        assert_eq!(parse_server("::1"), Some("[::1]:53".parse().unwrap()));
        assert_eq!(parse_server("nonsense"), None);
        let rc = "# c\nnameserver 127.0.0.53\nnameserver ::1 x\nsearch a\n";
        assert_eq!(parse_resolv_conf(rc).len(), 2);
    }
}

#[cfg(test)]
mod server_tests {
    use super::*;
    use std::io::{Read, Write};
    use std::net::TcpListener;

    fn answer(q: &[u8], flags: u16, rr: &[&[u8]], an: u16) -> Vec<u8> {
        let mut m = q[..q.len() - 11].to_vec(); // drop OPT
        m[2..4].copy_from_slice(&flags.to_be_bytes());
        m[6..8].copy_from_slice(&an.to_be_bytes());
        m[10..12].copy_from_slice(&[0, 0]);
        for r in rr {
            m.extend_from_slice(r);
        }
        m
    }

    fn tlsa_rr(fill: u8) -> Vec<u8> {
        let mut r = vec![0xC0, 12, 0, 52, 0, 1, 0, 0, 1, 0, 0, 35, 3, 1, 1];
        r.extend_from_slice(&[fill; 32]);
        r
    }

    /// A UDP answer with TC set, cut inside its second record (as a
    /// truncating middlebox or a simple server may send it), goes to TCP
    /// at once.
    #[test]
    fn truncated_mid_record_goes_to_tcp() {
        let udp = UdpSocket::bind("127.0.0.1:0").unwrap();
        let port = udp.local_addr().unwrap().port();
        let tcp = TcpListener::bind(("127.0.0.1", port)).unwrap();
        std::thread::spawn(move || {
            let mut b = [0u8; 512];
            let (n, from) = udp.recv_from(&mut b).unwrap();
            let (r1, r2) = (tlsa_rr(0xAA), tlsa_rr(0xBB));
            let cut = answer(&b[..n], 0x83A0, &[&r1, &r2[..20]], 2);
            udp.send_to(&cut, from).unwrap();
            let (mut t, _) = tcp.accept().unwrap();
            let mut len = [0u8; 2];
            t.read_exact(&mut len).unwrap();
            let mut q = vec![0u8; u16::from_be_bytes(len) as usize];
            t.read_exact(&mut q).unwrap();
            let full = answer(&q, 0x81A0, &[&r1, &r2], 2);
            t.write_all(&(full.len() as u16).to_be_bytes()).unwrap();
            t.write_all(&full).unwrap();
        });
        let r = Resolver {
            servers: vec![(std::net::Ipv4Addr::LOCALHOST, port).into()],
            timeout: Duration::from_secs(2),
            trust_ad: true,
        };
        let t0 = Instant::now();
        let a = r.query("_25._tcp.mx.example", TLSA);
        assert!(a.as_ref().is_ok_and(|a| a.rdata.len() == 2), "{a:?} after {:?}", t0.elapsed());
        assert!(t0.elapsed() < Duration::from_secs(1));
    }

    /// Two questions travel together; the answers may come in any order
    /// and a question left unanswered does not hold back the other.
    #[test]
    fn questions_travel_together() {
        let udp = UdpSocket::bind("127.0.0.1:0").unwrap();
        let port = udp.local_addr().unwrap().port();
        std::thread::spawn(move || {
            let mut b = [0u8; 512];
            let (n1, from) = udp.recv_from(&mut b).unwrap();
            let q1 = b[..n1].to_vec();
            let (n2, _) = udp.recv_from(&mut b).unwrap();
            let q2 = b[..n2].to_vec();
            // Only the A question (type 1) is answered, and a copy of the
            // answer comes twice.
            let a_query = if q1[n1 - 14] == 1 { q1 } else { q2 };
            let mut rr = vec![0xC0, 12, 0, 1, 0, 1, 0, 0, 1, 0, 0, 4];
            rr.extend_from_slice(&[127, 0, 0, 7]);
            let reply = answer(&a_query, 0x81A0, &[&rr], 1);
            udp.send_to(&reply, from).unwrap();
            udp.send_to(&reply, from).unwrap();
        });
        let r = Resolver {
            servers: vec![(std::net::Ipv4Addr::LOCALHOST, port).into()],
            timeout: Duration::from_millis(600),
            trust_ad: true,
        };
        let t0 = Instant::now();
        let got = r.query_all(&[("mx.example", AAAA), ("mx.example", A)]);
        assert_eq!(got[0], Err(DnsError::Timeout));
        assert_eq!(got[1].as_ref().unwrap().rdata, vec![vec![127, 0, 0, 7]]);
        assert!(t0.elapsed() < Duration::from_millis(1000), "{:?}", t0.elapsed());
    }

    /// A resolver that never answers: both questions fail within one
    /// timeout, not one each.
    #[test]
    fn a_dead_resolver_costs_one_timeout() {
        let silent = UdpSocket::bind("127.0.0.1:0").unwrap();
        let port = silent.local_addr().unwrap().port();
        let r = Resolver {
            servers: vec![(std::net::Ipv4Addr::LOCALHOST, port).into()],
            timeout: Duration::from_millis(400),
            trust_ad: true,
        };
        let t0 = Instant::now();
        let got = r.query_all(&[("mx.example", AAAA), ("mx.example", A)]);
        assert!(got.iter().all(|g| g == &Err(DnsError::Timeout)), "{got:?}");
        let took = t0.elapsed();
        assert!(took >= Duration::from_millis(350) && took < Duration::from_millis(700), "{took:?}");
        drop(silent);
    }
}
