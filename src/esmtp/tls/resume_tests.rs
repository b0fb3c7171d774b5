//! Resumption through the whole engine: sessions of one message over
//! STARTTLS against an OpenSSL server on loopback that resumes, or not.

use std::cell::RefCell;
use std::ffi::CString;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::rc::Rc;
use std::sync::Arc;
use std::thread;

use openssl::asn1::Asn1Time;
use openssl::bn::BigNum;
use openssl::ec::{EcGroup, EcKey};
use openssl::hash::MessageDigest;
use openssl::nid::Nid;
use openssl::pkey::{PKey, Private};
use openssl::ssl::{
    SslAcceptor, SslContext, SslContextBuilder, SslMethod, SslOptions, SslSessionCacheMode, SslVersion,
};
use openssl::x509::extension::{BasicConstraints, SubjectAlternativeName};
use openssl::x509::{X509NameBuilder, X509};

use super::context;
use crate::esmtp::events::{Event, EventSink};
use crate::esmtp::message::{Message, Recipient};
use crate::esmtp::protocol::{self, RunOptions};
use crate::esmtp::session::{ServerAddr, Session, StartTls};
use crate::esmtp::source::tests::Chunks;

/// A self-signed certificate for 127.0.0.1, and its key.
fn pki() -> (X509, PKey<Private>) {
    let key = PKey::from_ec_key(
        EcKey::generate(&EcGroup::from_curve_name(Nid::X9_62_PRIME256V1).unwrap()).unwrap(),
    )
    .unwrap();
    let mut name = X509NameBuilder::new().unwrap();
    name.append_entry_by_text("CN", "resume test").unwrap();
    let name = name.build();
    let mut b = X509::builder().unwrap();
    b.set_version(2).unwrap();
    b.set_serial_number(&BigNum::from_u32(1).unwrap().to_asn1_integer().unwrap()).unwrap();
    b.set_subject_name(&name).unwrap();
    b.set_issuer_name(&name).unwrap();
    b.set_pubkey(&key).unwrap();
    b.set_not_before(&Asn1Time::days_from_now(0).unwrap()).unwrap();
    b.set_not_after(&Asn1Time::days_from_now(2).unwrap()).unwrap();
    b.append_extension(BasicConstraints::new().critical().ca().build().unwrap()).unwrap();
    let san = SubjectAlternativeName::new().ip("127.0.0.1").build(&b.x509v3_context(None, None)).unwrap();
    b.append_extension(san).unwrap();
    b.sign(&key, MessageDigest::sha256()).unwrap();
    (b.build(), key)
}

/// An SMTP server offering STARTTLS: for each connection, whether the
/// handshake resumed a session.
fn server(
    pki: &(X509, PKey<Private>),
    resumes: bool,
    max_tls: SslVersion,
    connections: usize,
) -> (u16, thread::JoinHandle<Vec<bool>>) {
    let mut b = SslAcceptor::mozilla_intermediate_v5(SslMethod::tls_server()).unwrap();
    b.set_certificate(&pki.0).unwrap();
    b.set_private_key(&pki.1).unwrap();
    b.set_max_proto_version(Some(max_tls)).unwrap();
    if !resumes {
        b.set_options(SslOptions::NO_TICKET);
        b.set_session_cache_mode(SslSessionCacheMode::OFF);
        b.set_num_tickets(0).unwrap();
    }
    let acceptor = Arc::new(b.build());
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    let h = thread::spawn(move || {
        (0..connections)
            .map(|_| {
                let (s, _) = l.accept().unwrap();
                s.set_read_timeout(Some(std::time::Duration::from_secs(5))).unwrap();
                converse(s, &acceptor)
            })
            .collect()
    });
    (port, h)
}

fn converse(mut s: TcpStream, acceptor: &SslAcceptor) -> bool {
    let line = |s: &mut TcpStream| {
        let mut l = Vec::new();
        let mut b = [0u8; 1];
        while s.read(&mut b).unwrap_or(0) == 1 {
            l.push(b[0]);
            if b[0] == b'\n' {
                break;
            }
        }
        l
    };
    s.write_all(b"220 resume.test ESMTP\r\n").unwrap();
    line(&mut s);
    s.write_all(b"250-resume.test\r\n250 STARTTLS\r\n").unwrap();
    line(&mut s);
    s.write_all(b"220 go ahead\r\n").unwrap();
    let tls = acceptor.accept(s).unwrap();
    let reused = tls.ssl().session_reused();
    let mut r = BufReader::new(tls);
    let mut l = String::new();
    let mut in_data = false;
    while r.read_line(&mut l).unwrap_or(0) > 0 {
        let reply: &[u8] = if in_data {
            if l != ".\r\n" {
                l.clear();
                continue;
            }
            in_data = false;
            b"250 queued\r\n"
        } else {
            match &l[..4] {
                "EHLO" => b"250 resume.test\r\n",
                "DATA" => {
                    in_data = true;
                    b"354 go\r\n"
                }
                "QUIT" => b"221 bye\r\n",
                _ => b"250 ok\r\n",
            }
        };
        r.get_mut().write_all(reply).unwrap();
        if l.starts_with("QUIT") {
            break;
        }
        l.clear();
    }
    reused
}

/// Records, per STARTTLS_OK, whether the session was resumed.
#[derive(Default)]
struct Seen(RefCell<Vec<bool>>);

impl EventSink for Seen {
    fn event(&self, event: Event<'_>, out: i32) -> i32 {
        if let Event::StartTlsOk(ssl, _, _) = event {
            self.0.borrow_mut().push(ssl.session_reused());
        }
        out
    }
}

/// The client's context: one of ours (an identity, resumption on) that
/// trusts the test certificate.
fn client_ctx(pki: &(X509, PKey<Private>)) -> SslContext {
    let mut b = SslContextBuilder::new(SslMethod::tls_client()).unwrap();
    b.set_min_proto_version(Some(SslVersion::TLS1_2)).unwrap();
    b.cert_store_mut().add_cert(pki.0.clone()).unwrap();
    context::ours(b)
}

/// One session of one message over STARTTLS (required), with `ctx`:
/// whether the client saw a resumed session.
fn send(port: u16, ctx: &SslContext, resume: bool) -> bool {
    let s = Session::default();
    *s.server.borrow_mut() = Some(ServerAddr {
        host: CString::new("127.0.0.1").unwrap(),
        port: CString::new(port.to_string()).unwrap(),
    });
    *s.hostname.borrow_mut() = Some(CString::new("client.test").unwrap());
    s.starttls.set(StartTls::Required);
    s.tls_resume.set(resume);
    *s.own_tls_ctx.borrow_mut() = Some(ctx.clone());
    let seen = Rc::new(Seen::default());
    *s.events.borrow_mut() = Some(seen.clone());
    let m = s.messages.push(Message::default());
    *m.reverse_path.borrow_mut() = Some(CString::new("a@b").unwrap());
    m.recipients.push(Recipient::new(CString::new("c@d").unwrap()));
    *m.source.borrow_mut() = Some(Box::new(Chunks(vec![b"Subject: x\r\n\r\nhi\r\n".to_vec()], 0)));
    assert_eq!(protocol::run(&s, &RunOptions::default()), 1);
    assert_eq!(m.message_status.code(), 250, "the message went through");
    let seen = seen.0.borrow();
    assert_eq!(seen.len(), 1, "one STARTTLS_OK");
    seen[0]
}

#[test]
fn tls13_tickets_resume_the_next_session() {
    let pki = pki();
    let ctx = client_ctx(&pki);
    let (port, h) = server(&pki, true, SslVersion::TLS1_3, 3);
    let client = [send(port, &ctx, true), send(port, &ctx, true), send(port, &ctx, true)];
    assert_eq!(client, [false, true, true]);
    assert_eq!(h.join().unwrap(), [false, true, true]);
}

#[test]
fn tls12_session_ids_resume_too() {
    let pki = pki();
    let ctx = client_ctx(&pki);
    let (port, h) = server(&pki, true, SslVersion::TLS1_2, 3);
    let client = [send(port, &ctx, true), send(port, &ctx, true), send(port, &ctx, true)];
    assert_eq!(client, [false, true, true]);
    assert_eq!(h.join().unwrap(), [false, true, true]);
}

#[test]
fn a_server_that_does_not_resume_gets_full_handshakes() {
    let pki = pki();
    let ctx = client_ctx(&pki);
    let (port, h) = server(&pki, false, SslVersion::TLS1_3, 2);
    assert_eq!([send(port, &ctx, true), send(port, &ctx, true)], [false, false]);
    assert_eq!(h.join().unwrap(), [false, false]);
}

#[test]
fn resumption_off_for_a_session() {
    let pki = pki();
    let ctx = client_ctx(&pki);
    let (port, h) = server(&pki, true, SslVersion::TLS1_3, 3);
    // Off: nothing offered, nothing left for the next one either.
    assert_eq!(
        [send(port, &ctx, true), send(port, &ctx, false), send(port, &ctx, true)],
        [false, false, true]
    );
    h.join().unwrap();
}

#[test]
fn another_trust_never_resumes() {
    let pki = pki();
    let (ctx1, ctx2) = (client_ctx(&pki), client_ctx(&pki));
    let (port, h) = server(&pki, true, SslVersion::TLS1_3, 3);
    // The same server and name, but a context built anew (the user's CA
    // files changed): a full handshake; then the new context's own.
    assert_eq!(
        [send(port, &ctx1, true), send(port, &ctx2, true), send(port, &ctx2, true)],
        [false, false, true]
    );
    h.join().unwrap();
}

#[test]
fn an_applications_context_keeps_its_own_cache() {
    let pki = pki();
    let mut b = SslContextBuilder::new(SslMethod::tls_client()).unwrap();
    b.cert_store_mut().add_cert(pki.0.clone()).unwrap();
    let app = b.build();
    assert!(context::identity(&app).is_none());
    let (port, h) = server(&pki, true, SslVersion::TLS1_3, 2);
    assert_eq!([send(port, &app, true), send(port, &app, true)], [false, false]);
    h.join().unwrap();
}

#[test]
fn threads_share_the_cache() {
    let pki = pki();
    let ctx = client_ctx(&pki);
    let (port, h) = server(&pki, true, SslVersion::TLS1_3, 1);
    // One full handshake leaves two tickets (OpenSSL's default).
    assert!(!send(port, &ctx, true));
    h.join().unwrap();
    let (port, h) = server(&pki, true, SslVersion::TLS1_3, 8);
    let workers: Vec<_> = (0..8)
        .map(|_| {
            let ctx = ctx.clone();
            thread::spawn(move || send(port, &ctx, true))
        })
        .collect();
    let resumed = workers.into_iter().map(|w| w.join().unwrap()).filter(|&r| r).count();
    h.join().unwrap();
    // Tickets are used once: each of the first two connections to take
    // one resumed, and each connection leaves tickets for later ones.
    assert!(resumed >= 2, "{resumed} of 8 resumed");
}
