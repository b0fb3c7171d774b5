//! The two HTTPS requests the policies need: GET an MTA-STS policy from
//! `mta-sts.<domain>` (RFC 8461 §3.3), and POST a TLS report to a
//! receiver (RFC 8460 §5.4). Both check the certificate against the
//! trust store and the host name, follow no redirects, cap what they
//! read, and hold the whole exchange to one deadline.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Instant;

use openssl::ssl::{Ssl, SslContextRef, SslStream, SslVerifyMode};

/// RFC 8461 §3.3 lets senders cap the policy; 64 KiB is its own figure.
pub const MAX_BODY: usize = 64 * 1024;
const MAX_HEADER: usize = 16 * 1024;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FetchError {
    /// Unreachable, timed out, cut off, or not a 200 (sts-policy-fetch-error).
    Fetch(String),
    /// The certificate failed the Web PKI checks (sts-webpki-invalid).
    WebPki(String),
    /// The document cannot be a policy: wrong type, too large (sts-policy-invalid).
    Invalid(String),
}

struct Deadline(Instant);

impl Deadline {
    fn left(&self) -> Result<std::time::Duration, FetchError> {
        let d = self.0.saturating_duration_since(Instant::now());
        if d.is_zero() {
            Err(FetchError::Fetch("timed out".into()))
        } else {
            Ok(d)
        }
    }
}

/// Fetches `https://host[:port]/.well-known/mta-sts.txt` from the first
/// address that completes a verified TLS handshake; returns the body of a
/// 200 text/plain reply.
pub fn fetch(
    ctx: &SslContextRef,
    host: &str,
    port: u16,
    addrs: &[SocketAddr],
    until: Instant,
) -> Result<Vec<u8>, FetchError> {
    let s = connect(ctx, host, port, addrs, &Deadline(until))?;
    get(s, host, port)
}

/// RFC 8460 §5.4's media type for a gzip'd report.
pub const TLSRPT_GZIP: &str = "application/tlsrpt+gzip";

/// POSTs `body` as `content_type` to `https://host[:port]target` at the
/// first address that completes a verified TLS handshake. Only a 2xx
/// reply is success; a redirect is not followed (RFC 8460 §5.4 does not
/// ask for it, and following one would send the report to a host the
/// domain's record does not name): its Location is in the error.
#[allow(clippy::too_many_arguments)]
pub fn post(
    ctx: &SslContextRef,
    host: &str,
    port: u16,
    addrs: &[SocketAddr],
    target: &str,
    content_type: &str,
    body: &[u8],
    until: Instant,
) -> Result<u16, FetchError> {
    let mut s = connect(ctx, host, port, addrs, &Deadline(until))?;
    let req = format!(
        "POST {target} HTTP/1.1\r\nHost: {}\r\nUser-Agent: libesmtp-mailcompat\r\n\
         Content-Type: {content_type}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        authority(host, port),
        body.len()
    );
    let mut msg = req.into_bytes();
    msg.extend_from_slice(body);
    s.write_all(&msg).map_err(io_err)?;
    read_post_response(s)
}

/// The status of the reply to a POST, read from `s`: `Ok` for 2xx. Only
/// the head is read (at most MAX_HEADER bytes): the body of a reply to a
/// report says nothing we use. Separate from the connection so that it
/// can be fuzzed.
pub(crate) fn read_post_response(s: impl Read) -> Result<u16, FetchError> {
    let mut r = Reader { s, buf: Vec::new() };
    let head = r.head()?;
    let (status, headers) = parse_head(&head)?;
    match status {
        200..=299 => Ok(status),
        300..=399 => {
            let to = header(&headers, "location")
                .map_or_else(|| "no Location".to_owned(), |l| truncate(&l).to_owned());
            Err(FetchError::Fetch(format!("HTTP status {status}, redirect to {to:?} not followed")))
        }
        _ => Err(FetchError::Fetch(format!("HTTP status {status}"))),
    }
}

/// A TLS connection, its certificate checked, to the first of `addrs`
/// that completes the handshake. An address that refuses the connection,
/// breaks the handshake or shows a bad certificate is one broken server
/// of several: the next is tried, within the same deadline. An HTTP
/// answer is the host's word and is not asked again elsewhere.
fn connect(
    ctx: &SslContextRef,
    host: &str,
    port: u16,
    addrs: &[SocketAddr],
    deadline: &Deadline,
) -> Result<SslStream<Bounded>, FetchError> {
    let mut last = FetchError::Fetch(format!("no address for {host}"));
    for addr in addrs {
        let sa = SocketAddr::new(addr.ip(), port);
        let failed = match TcpStream::connect_timeout(&sa, deadline.left()?) {
            Ok(tcp) => match handshake(ctx, host, tcp, deadline) {
                Ok(s) => return Ok(s),
                Err(e) => e,
            },
            Err(e) => FetchError::Fetch(format!("connect to {sa}: {e}")),
        };
        // A certificate failure says more than a later address that is
        // merely down: it is the one reported if all fail.
        if !matches!(last, FetchError::WebPki(_)) || matches!(failed, FetchError::WebPki(_)) {
            last = failed;
        }
    }
    Err(last)
}

/// `host`, with the port unless it is HTTPS's own.
fn authority(host: &str, port: u16) -> String {
    if port == 443 {
        host.to_owned()
    } else {
        format!("{host}:{port}")
    }
}

fn io_err(e: std::io::Error) -> FetchError {
    if matches!(e.kind(), std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut) {
        FetchError::Fetch("timed out".into())
    } else {
        FetchError::Fetch(format!("connection failed: {e}"))
    }
}

/// A socket whose every read and write waits at most until the deadline,
/// so a server trickling bytes cannot stretch the handshake or the body
/// past it (a plain SO_RCVTIMEO bounds each read, not their sum).
#[derive(Debug)]
struct Bounded {
    tcp: TcpStream,
    until: Instant,
}

impl Bounded {
    fn arm(&self, write: bool) -> std::io::Result<()> {
        let left = self.until.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(std::io::ErrorKind::TimedOut.into());
        }
        if write {
            self.tcp.set_write_timeout(Some(left))
        } else {
            self.tcp.set_read_timeout(Some(left))
        }
    }
}

impl Read for Bounded {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        self.arm(false)?;
        self.tcp.read(buf)
    }
}

impl Write for Bounded {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.arm(true)?;
        self.tcp.write(buf)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.tcp.flush()
    }
}

/// The TLS handshake with one address, its certificate checked.
fn handshake(
    ctx: &SslContextRef,
    host: &str,
    tcp: TcpStream,
    deadline: &Deadline,
) -> Result<SslStream<Bounded>, FetchError> {
    let setup = |e: openssl::error::ErrorStack| FetchError::Fetch(format!("TLS setup: {e}"));
    let mut ssl = Ssl::new(ctx).map_err(setup)?;
    ssl.set_hostname(host).map_err(setup)?;
    ssl.param_mut().set_host(host).map_err(setup)?;
    // Verified after the handshake, so the failure can be told apart.
    ssl.set_verify(SslVerifyMode::NONE);
    deadline.left()?;
    let stream = Bounded { tcp, until: deadline.0 };
    let s = ssl.connect(stream).map_err(|e| {
        if Instant::now() >= deadline.0 {
            return FetchError::Fetch("timed out".into());
        }
        match e {
            // A read timeout surfaces as WouldBlock: the server stalled.
            openssl::ssl::HandshakeError::WouldBlock(_) => FetchError::Fetch("timed out".into()),
            e => FetchError::Fetch(format!("TLS handshake failed: {e}")),
        }
    })?;
    let verify = s.ssl().verify_result();
    if verify != openssl::x509::X509VerifyResult::OK {
        return Err(FetchError::WebPki(format!("certificate of {host}: {}", verify.error_string())));
    }
    Ok(s)
}

/// The request and its reply, over a verified connection.
fn get(mut s: SslStream<Bounded>, host: &str, port: u16) -> Result<Vec<u8>, FetchError> {
    let authority = authority(host, port);
    let req = format!(
        "GET /.well-known/mta-sts.txt HTTP/1.1\r\nHost: {authority}\r\nUser-Agent: libesmtp-mailcompat\r\n\
         Accept: text/plain\r\nConnection: close\r\n\r\n"
    );
    s.write_all(req.as_bytes()).map_err(io_err)?;
    read_response(s)
}

/// The policy from an HTTP/1.1 response read from `s`: status 200,
/// `text/plain`, a body by Content-Length, chunks or the close, at most
/// MAX_BODY bytes. Separate from the connection so that it can be fuzzed.
pub(crate) fn read_response(s: impl Read) -> Result<Vec<u8>, FetchError> {
    let mut r = Reader { s, buf: Vec::new() };
    let head = r.head()?;
    let (status, headers) = parse_head(&head)?;
    if status != 200 {
        // Redirects included: RFC 8461 §3.3 forbids following them.
        return Err(FetchError::Fetch(format!("HTTP status {status}")));
    }
    let ctype = header(&headers, "content-type").unwrap_or_default();
    let media = ctype.split(';').next().unwrap_or("").trim();
    if !media.eq_ignore_ascii_case("text/plain") {
        return Err(FetchError::Invalid(format!("Content-Type {ctype:?}, not text/plain")));
    }
    let chunked =
        header(&headers, "transfer-encoding").is_some_and(|t| t.to_ascii_lowercase().contains("chunked"));
    if chunked {
        return r.chunked();
    }
    match header(&headers, "content-length") {
        Some(n) => {
            let n: usize = n.trim().parse().map_err(|_| FetchError::Fetch("bad Content-Length".into()))?;
            if n > MAX_BODY {
                return Err(too_large());
            }
            r.take(n)
        }
        None => r.until_close(),
    }
}

fn too_large() -> FetchError {
    FetchError::Invalid(format!("policy larger than {MAX_BODY} bytes"))
}

fn header(headers: &[(String, String)], name: &str) -> Option<String> {
    headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.clone())
}

fn parse_head(head: &[u8]) -> Result<(u16, Vec<(String, String)>), FetchError> {
    let text = String::from_utf8_lossy(head);
    let mut lines = text.split("\r\n");
    let status_line = lines.next().unwrap_or("");
    let mut parts = status_line.split(' ');
    let version = parts.next().unwrap_or("");
    let status = parts.next().and_then(|c| c.parse::<u16>().ok());
    let (true, Some(status)) = (version.starts_with("HTTP/1."), status) else {
        return Err(FetchError::Fetch(format!("not an HTTP response: {:?}", truncate(status_line))));
    };
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_owned(), v.trim().to_owned()))
        .collect();
    Ok((status, headers))
}

fn truncate(s: &str) -> &str {
    let mut end = s.len().min(60);
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

/// Reads of the reply; on the network, `Bounded` holds them to the
/// deadline.
struct Reader<R> {
    s: R,
    buf: Vec<u8>,
}

impl<R: Read> Reader<R> {
    /// Reads more; false at end of stream.
    fn fill(&mut self) -> Result<bool, FetchError> {
        let mut tmp = [0u8; 8192];
        match self.s.read(&mut tmp) {
            Ok(0) => Ok(false),
            Ok(n) => {
                self.buf.extend_from_slice(&tmp[..n]);
                Ok(true)
            }
            Err(e) => Err(io_err(e)),
        }
    }

    /// Bytes up to `delim` (consumed, not returned), at most MAX_HEADER.
    fn until(&mut self, delim: &[u8], closed: &str) -> Result<Vec<u8>, FetchError> {
        loop {
            if let Some(i) = memchr::memmem::find(&self.buf, delim) {
                let head = self.buf[..i].to_vec();
                self.buf.drain(..i + delim.len());
                return Ok(head);
            }
            if self.buf.len() > MAX_HEADER {
                return Err(FetchError::Fetch("HTTP header or chunk line too long".into()));
            }
            if !self.fill()? {
                return Err(FetchError::Fetch(closed.into()));
            }
        }
    }

    fn head(&mut self) -> Result<Vec<u8>, FetchError> {
        self.until(b"\r\n\r\n", "connection closed before the reply")
    }

    fn line(&mut self) -> Result<String, FetchError> {
        let l = self.until(b"\r\n", "connection closed in the body")?;
        Ok(String::from_utf8_lossy(&l).into_owned())
    }

    /// The next `n` bytes.
    fn take(&mut self, n: usize) -> Result<Vec<u8>, FetchError> {
        while self.buf.len() < n {
            if !self.fill()? {
                return Err(FetchError::Fetch("connection closed in the body".into()));
            }
        }
        Ok(self.buf.drain(..n).collect())
    }

    fn until_close(&mut self) -> Result<Vec<u8>, FetchError> {
        while self.fill()? {
            if self.buf.len() > MAX_BODY {
                return Err(too_large());
            }
        }
        Ok(std::mem::take(&mut self.buf))
    }

    fn chunked(&mut self) -> Result<Vec<u8>, FetchError> {
        let mut body = Vec::new();
        loop {
            let l = self.line()?;
            let digits = l.split(';').next().unwrap_or("").trim();
            // Eight hex digits already exceed any policy we accept.
            if digits.is_empty() || digits.len() > 8 {
                return Err(FetchError::Fetch("bad chunk size".into()));
            }
            let size =
                usize::from_str_radix(digits, 16).map_err(|_| FetchError::Fetch("bad chunk size".into()))?;
            if size == 0 {
                return Ok(body);
            }
            if size > MAX_BODY - body.len() {
                return Err(too_large());
            }
            let mut chunk = self.take(size)?;
            body.append(&mut chunk);
            if !self.line()?.is_empty() {
                return Err(FetchError::Fetch("bad chunk end".into()));
            }
        }
    }
}

#[cfg(test)]
#[path = "https_tests.rs"]
mod server_tests;
