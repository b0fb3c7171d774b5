//! The one HTTPS request MTA-STS needs (RFC 8461 §3.3): GET the policy
//! from `mta-sts.<domain>`, certificate checked against the Web PKI and the
//! host name, no redirects, a size cap and one deadline for all of it.

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
/// 200 text/plain reply. An address that refuses the connection, breaks
/// the handshake or shows a bad certificate is one broken server of
/// several: the next is tried, within the same deadline. An HTTP answer
/// is the policy host's word and is not asked again elsewhere.
pub fn fetch(
    ctx: &SslContextRef,
    host: &str,
    port: u16,
    addrs: &[SocketAddr],
    until: Instant,
) -> Result<Vec<u8>, FetchError> {
    let deadline = Deadline(until);
    let mut last = FetchError::Fetch(format!("no address for {host}"));
    for addr in addrs {
        let sa = SocketAddr::new(addr.ip(), port);
        let failed = match TcpStream::connect_timeout(&sa, deadline.left()?) {
            Ok(tcp) => match handshake(ctx, host, tcp, &deadline) {
                Ok(s) => return get(s, host, port),
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
    let authority = if port == 443 { host.to_owned() } else { format!("{host}:{port}") };
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
mod tests {
    use super::*;

    #[test]
    fn heads() {
        let (s, h) =
            parse_head(b"HTTP/1.1 200 OK\r\nContent-Type: text/plain; charset=utf-8\r\nX: y").unwrap();
        assert_eq!(s, 200);
        assert_eq!(header(&h, "content-type").as_deref(), Some("text/plain; charset=utf-8"));
        assert!(parse_head(b"SSH-2.0-x").is_err());
        assert!(parse_head("HTTP/1.1 2é0".as_bytes()).is_err());
    }
}

#[cfg(test)]
mod server_tests {
    use super::*;
    use openssl::asn1::Asn1Time;
    use openssl::hash::MessageDigest;
    use openssl::pkey::PKey;
    use openssl::rsa::Rsa;
    use openssl::ssl::{SslAcceptor, SslConnector, SslMethod};
    use openssl::x509::{extension::SubjectAlternativeName, X509NameBuilder, X509};
    use std::net::TcpListener;
    use std::time::Duration;

    fn cert() -> (PKey<openssl::pkey::Private>, X509) {
        let key = PKey::from_rsa(Rsa::generate(2048).unwrap()).unwrap();
        let mut n = X509NameBuilder::new().unwrap();
        n.append_entry_by_text("CN", "localhost").unwrap();
        let n = n.build();
        let mut b = X509::builder().unwrap();
        b.set_version(2).unwrap();
        b.set_subject_name(&n).unwrap();
        b.set_issuer_name(&n).unwrap();
        b.set_pubkey(&key).unwrap();
        b.set_not_before(&Asn1Time::days_from_now(0).unwrap()).unwrap();
        b.set_not_after(&Asn1Time::days_from_now(2).unwrap()).unwrap();
        let san =
            SubjectAlternativeName::new().dns("localhost").build(&b.x509v3_context(None, None)).unwrap();
        b.append_extension(san).unwrap();
        b.sign(&key, MessageDigest::sha256()).unwrap();
        (key, b.build())
    }

    /// Serves one TLS connection on `l` with `key` and `cert`: reads the
    /// request, then lets `answer` write the response.
    fn serve_tls_once(
        l: TcpListener,
        key: PKey<openssl::pkey::Private>,
        cert: X509,
        answer: impl FnOnce(&mut openssl::ssl::SslStream<std::net::TcpStream>) + Send + 'static,
    ) -> std::thread::JoinHandle<()> {
        std::thread::spawn(move || {
            let mut a = SslAcceptor::mozilla_intermediate(SslMethod::tls()).unwrap();
            a.set_private_key(&key).unwrap();
            a.set_certificate(&cert).unwrap();
            let a = a.build();
            let (t, _) = l.accept().unwrap();
            let mut s = a.accept(t).unwrap();
            let mut req = [0u8; 4096];
            let _ = s.read(&mut req);
            answer(&mut s);
            let _ = s.shutdown();
        })
    }

    #[test]
    fn chunk_sizes_cannot_overflow_the_cap() {
        let (key, c) = cert();
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = l.local_addr().unwrap();
        let srv = serve_tls_once(l, key, c.clone(), |s| {
            s.write_all(b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nTransfer-Encoding: chunked\r\n\r\n1\r\nx\r\nffffffffffffffff\r\n").unwrap();
            let junk = vec![b'A'; 1 << 20];
            for _ in 0..8 {
                let _ = s.write_all(&junk);
            }
        });
        let mut b = SslConnector::builder(SslMethod::tls()).unwrap();
        b.cert_store_mut().add_cert(c).unwrap();
        let ctx = b.build().into_context();
        let r = fetch(&ctx, "localhost", addr.port(), &[addr], Instant::now() + Duration::from_secs(10));
        srv.join().unwrap();
        // A chunk size near usize::MAX must not wrap the size check.
        assert_eq!(r, Err(FetchError::Fetch("bad chunk size".into())));
    }

    /// The first address of mta-sts.<domain> breaks the handshake, the
    /// second serves the policy: the fetch goes on to it, as after a
    /// refused connection.
    #[test]
    fn next_address_after_a_tls_failure() {
        let (key, c) = cert();
        // The same port on two loopback addresses, as one name's A records.
        let (bad, good, port) = (0..50)
            .find_map(|_| {
                let bad = TcpListener::bind("127.0.0.1:0").unwrap();
                let port = bad.local_addr().unwrap().port();
                TcpListener::bind(("127.0.0.2", port)).ok().map(|good| (bad, good, port))
            })
            .expect("a port free on 127.0.0.1 and 127.0.0.2");
        std::thread::spawn(move || {
            let (mut t, _) = bad.accept().unwrap();
            let mut hello = [0u8; 4096];
            let _ = t.read(&mut hello);
            let _ = t.write_all(b"SSH-2.0-not-tls\r\n");
        });
        let srv = serve_tls_once(good, key, c.clone(), |s| {
            s.write_all(b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 2\r\n\r\nok")
                .unwrap();
        });
        let mut b = SslConnector::builder(SslMethod::tls()).unwrap();
        b.cert_store_mut().add_cert(c).unwrap();
        let ctx = b.build().into_context();
        let addrs: [SocketAddr; 2] = [([127, 0, 0, 1], port).into(), ([127, 0, 0, 2], port).into()];
        let r = fetch(&ctx, "localhost", port, &addrs, Instant::now() + Duration::from_secs(10));
        assert_eq!(r, Ok(b"ok".to_vec()));
        srv.join().unwrap();
    }

    #[test]
    fn handshake_drip_outlives_deadline() {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = l.local_addr().unwrap();
        std::thread::spawn(move || {
            let (mut t, _) = l.accept().unwrap();
            let mut hello = [0u8; 4096];
            let _ = t.read(&mut hello);
            // A handshake record header announcing 16 KiB, then one byte
            // every 400 ms: each read succeeds before SO_RCVTIMEO fires.
            let _ = t.write_all(&[0x16, 0x03, 0x03, 0x40, 0x00]);
            for _ in 0..15 {
                std::thread::sleep(Duration::from_millis(400));
                if t.write_all(&[0x02]).is_err() {
                    break;
                }
            }
        });
        let ctx = SslConnector::builder(SslMethod::tls()).unwrap().build().into_context();
        let t0 = Instant::now();
        let _ = fetch(&ctx, "localhost", addr.port(), &[addr], t0 + Duration::from_secs(1));
        let took = t0.elapsed();
        assert!(took < Duration::from_millis(1500), "fetch with a 1 s deadline took {took:?}");
    }
}
