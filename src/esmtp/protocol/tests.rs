//! The engine against scripted servers: TLS policies' effect on STARTTLS,
//! and the choice of the next address.

use super::*;
use crate::esmtp::message::{Message, Recipient};
use crate::esmtp::policy::{self, Mode};
use crate::esmtp::session::StartTls;
use crate::esmtp::source::tests::Chunks;
use std::ffi::CString;
use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpListener};
use std::thread;

/// A one-connection server that answers each command with the next
/// scripted reply and returns what it received.
fn server(replies: &'static [&'static str]) -> (SocketAddr, thread::JoinHandle<Vec<String>>) {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = l.local_addr().unwrap();
    let h = thread::spawn(move || {
        let (s, _) = l.accept().unwrap();
        s.set_read_timeout(Some(std::time::Duration::from_secs(5))).unwrap();
        let mut w = s.try_clone().unwrap();
        let mut r = BufReader::new(s);
        let mut got = Vec::new();
        let mut replies = replies.iter();
        w.write_all(replies.next().unwrap().as_bytes()).unwrap();
        let mut line = String::new();
        let mut in_data = false;
        while r.read_line(&mut line).unwrap_or(0) > 0 {
            got.push(line.trim_end().to_string());
            let end_of_data = in_data && line == ".\r\n";
            if !in_data || end_of_data {
                match replies.next() {
                    Some(reply) => {
                        in_data = reply.starts_with("354");
                        w.write_all(reply.as_bytes()).unwrap();
                    }
                    None => break,
                }
            }
            line.clear();
        }
        got
    });
    (addr, h)
}

fn session_with_message(body: &str) -> Session {
    let s = Session::default();
    let m = s.messages.push(Message::default());
    *m.reverse_path.borrow_mut() = Some(CString::new("a@b").unwrap());
    m.recipients.push(Recipient::new(CString::new("c@d").unwrap()));
    *m.source.borrow_mut() = Some(Box::new(Chunks(vec![body.as_bytes().to_vec()], 0)));
    s
}

/// An opportunistic plan never weakens the application's
/// Starttls_REQUIRED: no STARTTLS, no mail command in clear.
#[test]
fn required_starttls_survives_an_opportunistic_plan() {
    let (addr, h) = server(&["220 ok\r\n", "250 hi\r\n", "221 bye\r\n"]);
    let s = session_with_message("x\r\n");
    s.starttls.set(StartTls::Required);
    let plan = Plan {
        desc: None,
        mode: Mode::Opportunistic,
        check: policy::Check::Unauthenticated,
        mx_host: "mx.example".into(),
        degraded: None,
    };
    run_on(&s, &RunOptions::default(), &[SockAddr::from(addr)], b"me", Some(&plan));
    assert_eq!(h.join().unwrap(), ["EHLO me", "QUIT"]);
    assert_eq!(error::errno(), error::ERR_EXTENSION_NOT_AVAILABLE);
}

/// MTA-STS testing lets a refused STARTTLS go on in clear, but not
/// past the application's Starttls_REQUIRED.
#[test]
fn refused_starttls_in_testing_mode() {
    let plan = Plan {
        desc: None,
        mode: Mode::Testing,
        check: policy::Check::WebPki,
        mx_host: "mx.example".into(),
        degraded: None,
    };
    let replies: &[&str] = &["220 ok\r\n", "250-hi\r\n250 STARTTLS\r\n", "454 not now\r\n", "250 ok\r\n"];
    let (addr, h) = server(replies);
    let s = session_with_message("x\r\n");
    s.starttls.set(StartTls::Required);
    run_on(&s, &RunOptions::default(), &[SockAddr::from(addr)], b"me", Some(&plan));
    assert_eq!(h.join().unwrap(), ["EHLO me", "STARTTLS", "QUIT"]);
    let (addr, h) = server(replies);
    let s = session_with_message("x\r\n");
    run_on(&s, &RunOptions::default(), &[SockAddr::from(addr)], b"me", Some(&plan));
    assert_eq!(h.join().unwrap()[..3], ["EHLO me", "STARTTLS", "MAIL FROM:<a@b>"]);
}

#[test]
fn next_address_after_refusal_and_421() {
    // Nothing listens on the first address; the second sends us away
    // with 421; the third takes the message.
    let refused = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap();
    let (busy, busy_h) = server(&["421 busy\r\n", "221 bye\r\n"]);
    let (good, good_h) = server(&[
        "220 ok\r\n",
        "250 hi\r\n",
        "250 ok\r\n",
        "250 ok\r\n",
        "354 go\r\n",
        "250 queued\r\n",
        "221 bye\r\n",
    ]);
    let s = session_with_message("Subject: x\r\n\r\nbody\n.dot\n");
    let addrs: Vec<SockAddr> = [refused, busy, good].into_iter().map(SockAddr::from).collect();
    assert_eq!(run_on(&s, &RunOptions::default(), &addrs, b"me", None), 1);
    assert_eq!(busy_h.join().unwrap(), ["QUIT"]);
    let got = good_h.join().unwrap();
    assert_eq!(got[..4], ["EHLO me", "MAIL FROM:<a@b>", "RCPT TO:<c@d>", "DATA"]);
    assert!(got.contains(&"body".to_string()) && got.contains(&"..dot".to_string()));
    assert_eq!(got.last().unwrap(), "QUIT");
    let m = s.messages.get(0).unwrap();
    assert_eq!(m.message_status.code(), 250);
    assert!(m.recipients.get(0).unwrap().complete.get());
}

#[test]
fn every_address_failing_returns_zero() {
    let refused = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap();
    let (busy, busy_h) = server(&["554 no\r\n", "221 bye\r\n"]);
    let s = session_with_message("x\r\n");
    let addrs: Vec<SockAddr> = [refused, busy].into_iter().map(SockAddr::from).collect();
    assert_eq!(run_on(&s, &RunOptions::default(), &addrs, b"me", None), 0);
    busy_h.join().unwrap();
    assert!(!s.messages.get(0).unwrap().recipients.get(0).unwrap().complete.get());
}
