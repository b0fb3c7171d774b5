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
