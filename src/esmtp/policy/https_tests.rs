//! The HTTPS client against real TLS servers on loopback: the fetch's
//! bounds, address fallback and deadline, and the report POST's.

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
    let san = SubjectAlternativeName::new().dns("localhost").build(&b.x509v3_context(None, None)).unwrap();
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
        s.write_all(b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 2\r\n\r\nok").unwrap();
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

#[test]
fn post_replies() {
    let r = |s: &str| read_post_response(s.as_bytes());
    assert_eq!(r("HTTP/1.1 201 Created\r\nContent-Length: 0\r\n\r\n"), Ok(201));
    assert_eq!(r("HTTP/1.0 204 No Content\r\n\r\n"), Ok(204));
    let moved = r("HTTP/1.1 301 Moved\r\nLocation: https://elsewhere.example/r\r\n\r\n");
    assert_eq!(
        moved,
        Err(FetchError::Fetch(
            "HTTP status 301, redirect to \"https://elsewhere.example/r\" not followed".into()
        ))
    );
    assert_eq!(r("HTTP/1.1 500 Oops\r\n\r\nbody"), Err(FetchError::Fetch("HTTP status 500".into())));
    assert!(r("220 smtp.example ESMTP\r\n\r\n").is_err());
    // The head is bounded; a reply that never ends it is cut off.
    let endless = format!("HTTP/1.1 200 OK\r\nX: {}", "y".repeat(MAX_HEADER + 10));
    assert_eq!(r(&endless), Err(FetchError::Fetch("HTTP header or chunk line too long".into())));
}

/// Reads a whole HTTP request (head and Content-Length body) from `s`.
fn read_request(s: &mut impl Read) -> Vec<u8> {
    let mut req = Vec::new();
    let mut buf = [0u8; 4096];
    for _ in 0..1000 {
        let n = s.read(&mut buf).unwrap_or(0);
        if n == 0 {
            break;
        }
        req.extend_from_slice(&buf[..n]);
        if let Some(end) = memchr::memmem::find(&req, b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&req[..end]).to_ascii_lowercase();
            let len = head
                .lines()
                .find_map(|l| l.strip_prefix("content-length:"))
                .map_or(0, |v| v.trim().parse::<usize>().unwrap());
            if req.len() >= end + 4 + len {
                break;
            }
        }
    }
    req
}

#[test]
fn post_sends_the_report_as_the_rfc_asks() {
    let (key, c) = cert();
    let trusted = c.clone();
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = l.local_addr().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    let srv = std::thread::spawn(move || {
        let mut a = SslAcceptor::mozilla_intermediate(SslMethod::tls()).unwrap();
        a.set_private_key(&key).unwrap();
        a.set_certificate(&c).unwrap();
        let (t, _) = l.accept().unwrap();
        let mut s = a.build().accept(t).unwrap();
        tx.send(read_request(&mut s)).unwrap();
        s.write_all(b"HTTP/1.1 202 Accepted\r\nContent-Length: 0\r\n\r\n").unwrap();
        let _ = s.shutdown();
    });
    let mut b = SslConnector::builder(SslMethod::tls()).unwrap();
    b.cert_store_mut().add_cert(trusted).unwrap();
    let ctx = b.build().into_context();
    let body = b"\x1f\x8b\x08binary\r\n\0body";
    let until = Instant::now() + Duration::from_secs(10);
    let r = post(&ctx, "localhost", addr.port(), &[addr], "/v1/tlsrpt?x=1", TLSRPT_GZIP, body, until);
    assert_eq!(r, Ok(202));
    let req = rx.recv().unwrap();
    srv.join().unwrap();
    let end = memchr::memmem::find(&req, b"\r\n\r\n").unwrap();
    let head = String::from_utf8_lossy(&req[..end]);
    let mut lines = head.split("\r\n");
    assert_eq!(lines.next(), Some("POST /v1/tlsrpt?x=1 HTTP/1.1"));
    let fields: Vec<&str> = lines.collect();
    assert!(fields.contains(&format!("Host: localhost:{}", addr.port()).as_str()), "{fields:?}");
    assert!(fields.contains(&"Content-Type: application/tlsrpt+gzip"));
    assert!(fields.contains(&format!("Content-Length: {}", body.len()).as_str()));
    assert_eq!(&req[end + 4..], body);
}

#[test]
fn post_to_a_stalling_receiver_ends_at_the_deadline() {
    let (key, c) = cert();
    let trusted = c.clone();
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = l.local_addr().unwrap();
    let (done_tx, done_rx) = std::sync::mpsc::channel::<()>();
    let srv = std::thread::spawn(move || {
        let mut a = SslAcceptor::mozilla_intermediate(SslMethod::tls()).unwrap();
        a.set_private_key(&key).unwrap();
        a.set_certificate(&c).unwrap();
        let (t, _) = l.accept().unwrap();
        let mut s = a.build().accept(t).unwrap();
        let _ = read_request(&mut s);
        // Says nothing until the client has given up (at most 10 s).
        let _ = done_rx.recv_timeout(Duration::from_secs(10));
    });
    let mut b = SslConnector::builder(SslMethod::tls()).unwrap();
    b.cert_store_mut().add_cert(trusted).unwrap();
    let ctx = b.build().into_context();
    let t0 = Instant::now();
    let r =
        post(&ctx, "localhost", addr.port(), &[addr], "/", TLSRPT_GZIP, b"x", t0 + Duration::from_secs(1));
    let took = t0.elapsed();
    done_tx.send(()).unwrap();
    srv.join().unwrap();
    assert_eq!(r, Err(FetchError::Fetch("timed out".into())));
    assert!(took >= Duration::from_millis(900) && took < Duration::from_millis(1500), "took {took:?}");
}

#[test]
fn heads() {
    let (s, h) = parse_head(b"HTTP/1.1 200 OK\r\nContent-Type: text/plain; charset=utf-8\r\nX: y").unwrap();
    assert_eq!(s, 200);
    assert_eq!(header(&h, "content-type").as_deref(), Some("text/plain; charset=utf-8"));
    assert!(parse_head(b"SSH-2.0-x").is_err());
    assert!(parse_head("HTTP/1.1 2é0".as_bytes()).is_err());
}
