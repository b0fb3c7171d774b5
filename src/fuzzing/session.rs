//! The structure-aware target: a whole session of the protocol engine
//! against a fake server on loopback whose every reply the fuzzer chooses,
//! and an oracle that knows what that server really said.
//!
//! The input's first three bytes set the session up (STARTTLS mode, an
//! auth context, how many messages and recipients, the extensions the
//! server announces by default, DSN/SIZE/BODY/ETRN); the rest is a list of
//! actions, one taken for each command the server reads: its sensible
//! reply, a reply with a chosen code, an EHLO reply with chosen extensions,
//! raw bytes, a reply followed by a surplus one, a reply in one-byte
//! writes, a SASL challenge, or closing the connection. When the actions
//! run out the server behaves, so short inputs reach the end of a session.
//!
//! Whatever the input, after the session:
//!   - a message whose status is 2xx got a well-formed 2xx from the server
//!     to its end of data (to every BDAT chunk);
//!   - a recipient reported delivered (complete, 2xx, in a 2xx message)
//!     got a well-formed 2xx to its RCPT;
//!   - with STARTTLS required (the fake server never completes TLS) no
//!     mail command was sent;
//!   - after an AUTH exchange the server refused, no mail command was sent.
//!
//! "Well formed" is judged here independently of the library's reader,
//! and leniently (a line up to any length; bytes from 0x80 allowed), so the
//! oracle can only excuse a status, never invent a lie.

use std::ffi::CString;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::os::fd::AsRawFd;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::OnceLock;
use std::time::Duration;

use super::Answers;
use crate::esmtp::message::{Body, DsnRet, EtrnNode, Message, Recipient};
use crate::esmtp::protocol::{self, RunOptions};
use crate::esmtp::sasl::{self, Authenticator, Mechanism};
use crate::esmtp::session::{ServerAddr, Session, StartTls, TimeoutKind};
use crate::esmtp::source::MessageSource;
use crate::esmtp::status::StatusCell;

/// Reply codes an action can choose (indexed modulo the length).
const CODES: [u16; 32] = [
    220, 221, 235, 250, 251, 252, 334, 354, 421, 450, 451, 452, 454, 500, 501, 502, 503, 504, 530, 534, 535,
    538, 550, 551, 552, 553, 554, 555, 211, 214, 432, 455,
];

/// EHLO keywords, one per bit of a 16-bit mask.
const KEYWORDS: [&str; 16] = [
    "PIPELINING",
    "STARTTLS",
    "AUTH PLAIN LOGIN CRAM-MD5 SCRAM-SHA-1 SCRAM-SHA-256 XOAUTH2 OAUTHBEARER",
    "CHUNKING",
    "8BITMIME",
    "SIZE 100000",
    "DSN",
    "ENHANCEDSTATUSCODES",
    "BINARYMIME",
    "DELIVERBY 60",
    "ETRN",
    "XUSR",
    "XEXCH50",
    "SIZE 10",
    "AUTH=LOGIN",
    "SMTPUTF8",
];

/// How long the server waits for the client's next bytes before it takes
/// the silence for a client waiting on a reply the script will not give,
/// and closes: the fuzzer never waits on a timeout of the library's.
const SILENCE: Duration = Duration::from_millis(20);
/// Commands one session may take; then the server closes.
const MAX_COMMANDS: usize = 256;
/// Longest line or body the server reads.
const MAX_READ: usize = 1 << 20;

enum Action<'a> {
    Sensible,
    Code(u16),
    Ehlo(u16),
    Raw(&'a [u8]),
    Surplus(u16, u16),
    Close,
    Pieces(u16),
    Challenge(&'a [u8]),
    Text(u16, &'a [u8]),
}

struct Actions<'a>(&'a [u8]);

impl<'a> Actions<'a> {
    fn byte(&mut self) -> u8 {
        let (&b, rest) = self.0.split_first().unwrap_or((&0, &[]));
        self.0 = rest;
        b
    }

    fn bytes(&mut self) -> &'a [u8] {
        let n = (self.byte() as usize).min(self.0.len());
        let (b, rest) = self.0.split_at(n);
        self.0 = rest;
        b
    }

    fn code(&mut self) -> u16 {
        CODES[self.byte() as usize % CODES.len()]
    }

    fn next(&mut self) -> Action<'a> {
        if self.0.is_empty() {
            return Action::Sensible;
        }
        match self.byte() % 9 {
            0 => Action::Sensible,
            1 => Action::Code(self.code()),
            2 => Action::Ehlo(u16::from_le_bytes([self.byte(), self.byte()])),
            3 => Action::Raw(self.bytes()),
            4 => Action::Surplus(self.code(), self.code()),
            5 => Action::Close,
            6 => Action::Pieces(self.code()),
            7 => Action::Challenge(self.bytes()),
            _ => Action::Text(self.code(), self.bytes()),
        }
    }
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Cmd {
    Greeting,
    Ehlo,
    Helo,
    StartTls,
    Auth,
    AuthResponse,
    Mail,
    Rcpt,
    Data,
    EndOfData,
    Bdat,
    Quit,
    Other,
}

fn classify(line: &[u8], auth_pending: bool) -> Cmd {
    let verb = line.split(|&c| c == b' ' || c == b'\r' || c == b'\n').next().unwrap_or(b"");
    match verb.to_ascii_uppercase().as_slice() {
        b"EHLO" => Cmd::Ehlo,
        b"HELO" => Cmd::Helo,
        b"STARTTLS" => Cmd::StartTls,
        b"AUTH" => Cmd::Auth,
        b"MAIL" => Cmd::Mail,
        b"RCPT" => Cmd::Rcpt,
        b"DATA" => Cmd::Data,
        b"BDAT" => Cmd::Bdat,
        b"QUIT" => Cmd::Quit,
        _ if auth_pending => Cmd::AuthResponse,
        _ => Cmd::Other,
    }
}

fn ehlo(mask: u16) -> Vec<u8> {
    let mut out = b"250-fake.example\r\n".to_vec();
    for (i, k) in KEYWORDS.iter().enumerate() {
        if mask & (1 << i) != 0 {
            out.extend_from_slice(format!("250-{k}\r\n").as_bytes());
        }
    }
    out.extend_from_slice(b"250 HELP\r\n");
    out
}

fn sensible(cmd: Cmd, ehlo_mask: u16) -> Vec<u8> {
    let r: &[u8] = match cmd {
        Cmd::Greeting => b"220 fake.example ESMTP\r\n",
        Cmd::Ehlo => return ehlo(ehlo_mask),
        Cmd::Helo => b"250 fake.example\r\n",
        Cmd::StartTls => b"454 4.7.0 TLS not available\r\n",
        Cmd::Auth | Cmd::AuthResponse => b"235 2.7.0 Authenticated\r\n",
        Cmd::Mail | Cmd::Rcpt | Cmd::Other => b"250 2.0.0 OK\r\n",
        Cmd::Data => b"354 Go ahead\r\n",
        Cmd::EndOfData | Cmd::Bdat => b"250 2.0.0 Queued\r\n",
        Cmd::Quit => b"221 2.0.0 Bye\r\n",
    };
    r.to_vec()
}

/// The first reply in `bytes`, if it is a complete, well-formed one (RFC
/// 5321 §4.2, leniently): its code.
fn first_reply(bytes: &[u8]) -> Option<u16> {
    let mut code = None;
    for line in bytes.split_inclusive(|&c| c == b'\n') {
        let body = line.strip_suffix(b"\r\n")?;
        let d = body.get(..3)?;
        if !d.iter().all(u8::is_ascii_digit) || !(b'2'..=b'5').contains(&d[0]) || d[1] > b'5' {
            return None;
        }
        let c = d.iter().fold(0u16, |n, &x| n * 10 + u16::from(x - b'0'));
        if code.is_some_and(|k| k != c) {
            return None;
        }
        code = Some(c);
        if body[3..].iter().any(|&b| (b < 0x20 && b != b'\t') || b == 0x7f) {
            return None;
        }
        match body.get(3) {
            None | Some(b' ') => return code,
            Some(b'-') => {}
            Some(_) => return None,
        }
    }
    None
}

/// Whether a client that read `bytes` has nothing left to wait for: they
/// end at a line end that is not a continuation.
fn ends_complete(bytes: &[u8]) -> bool {
    let Some(body) = bytes.strip_suffix(b"\n") else { return bytes.is_empty() };
    let last = body.rsplit(|&c| c == b'\n').next().unwrap_or(b"");
    last.get(3) != Some(&b'-')
}

/// How many replies a client reading `bytes` would count: lines that end
/// a reply (no `-` after the code).
fn replies_in(bytes: &[u8]) -> usize {
    bytes.split_inclusive(|&c| c == b'\n').filter(|l| l.ends_with(b"\n") && l.get(3) != Some(&b'-')).count()
}

/// What the server really said, and what it saw.
#[derive(Default)]
struct Truth {
    /// The server sent more replies than a command has, and elsewhere
    /// none: the count realigns, and no client reading pipelined replies
    /// can tell (the documented limit of surplus detection).
    surplus: bool,
    swallowed: bool,
    accepted_msgs: Vec<usize>,
    accepted_rcpts: Vec<Vec<u8>>,
    mail_commands: usize,
    mail_after_refused_auth: bool,
    log: Vec<String>,
}

struct Server<'a> {
    stream: TcpStream,
    buf: Vec<u8>,
    actions: Actions<'a>,
    ehlo_mask: u16,
    truth: Truth,
}

enum Next {
    Go,
    Close,
}

impl Server<'_> {
    /// Reads until `pred` finds the end it wants in the buffer, or the
    /// client closes, stays silent, or sends too much.
    fn fill_until(&mut self, mut pred: impl FnMut(&[u8]) -> Option<usize>) -> Option<Vec<u8>> {
        let mut chunk = [0u8; 4096];
        loop {
            if let Some(n) = pred(&self.buf) {
                return Some(self.buf.drain(..n).collect());
            }
            if self.buf.len() > MAX_READ {
                return None;
            }
            match self.stream.read(&mut chunk) {
                Ok(0) | Err(_) => return None,
                Ok(n) => self.buf.extend_from_slice(&chunk[..n]),
            }
        }
    }

    fn line(&mut self) -> Option<Vec<u8>> {
        self.fill_until(|b| memchr::memchr(b'\n', b).map(|i| i + 1))
    }

    fn data(&mut self) -> Option<Vec<u8>> {
        self.fill_until(|b| {
            if b.starts_with(b".\r\n") {
                return Some(3);
            }
            memchr::memmem::find(b, b"\r\n.\r\n").map(|i| i + 5)
        })
    }

    fn exactly(&mut self, n: usize) -> Option<Vec<u8>> {
        (n <= MAX_READ).then_some(())?;
        self.fill_until(|b| (b.len() >= n).then_some(n))
    }

    /// Answers `cmd` with the next action: the code of the well-formed
    /// reply sent, if any, and whether the connection goes on.
    fn answer(&mut self, cmd: Cmd) -> (Option<u16>, Next) {
        let action = self.actions.next();
        let bytes = match action {
            Action::Sensible => sensible(cmd, self.ehlo_mask),
            Action::Code(c) | Action::Pieces(c) => format!("{c} fuzz\r\n").into_bytes(),
            Action::Ehlo(mask) => ehlo(mask),
            Action::Raw(b) => b.to_vec(),
            Action::Surplus(a, b) => format!("{a} first\r\n{b} surplus\r\n").into_bytes(),
            Action::Close => {
                self.truth.log.push(format!("{cmd:?} -> close"));
                return (None, Next::Close);
            }
            Action::Challenge(b) => format!("334 {}\r\n", openssl::base64::encode_block(b)).into_bytes(),
            Action::Text(c, t) => [format!("{c} ").as_bytes(), t, b"\r\n"].concat(),
        };
        self.truth.log.push(format!("{cmd:?} -> {:?}", String::from_utf8_lossy(&bytes)));
        let sent = if let Action::Pieces(_) = action {
            bytes.chunks(1).all(|b| self.stream.write_all(b).is_ok())
        } else {
            self.stream.write_all(&bytes).is_ok()
        };
        let next = if sent && ends_complete(&bytes) { Next::Go } else { Next::Close };
        let n = replies_in(&bytes);
        self.truth.surplus |= n > 1;
        self.truth.swallowed |= n == 0 && matches!(next, Next::Go);
        (first_reply(&bytes), next)
    }

    fn serve(&mut self) {
        let _ = self.stream.set_nodelay(true);
        let _ = self.stream.set_read_timeout(Some(SILENCE));
        if let (_, Next::Close) = self.answer(Cmd::Greeting) {
            return;
        }
        let mut auth_pending = false;
        let mut auth_refused = false;
        let mut bdat_ok = true;
        let mut body = Vec::new();
        for _ in 0..MAX_COMMANDS {
            let Some(line) = self.line() else { return };
            let cmd = classify(&line, auth_pending);
            if matches!(cmd, Cmd::Mail | Cmd::Rcpt | Cmd::Data | Cmd::Bdat) {
                self.truth.mail_commands += 1;
                self.truth.mail_after_refused_auth |= auth_refused;
            }
            let mut bdat_last = false;
            if cmd == Cmd::Bdat {
                let mut words = line.split(|c| c.is_ascii_whitespace()).filter(|w| !w.is_empty()).skip(1);
                let n = words.next().and_then(|w| std::str::from_utf8(w).ok()?.parse().ok());
                bdat_last = words.next().is_some_and(|w| w.eq_ignore_ascii_case(b"LAST"));
                let Some(chunk) = n.and_then(|n| self.exactly(n)) else { return };
                body.extend_from_slice(&chunk);
            }
            let (code, next) = self.answer(cmd);
            let ok = code.is_some_and(|c| (200..300).contains(&c));
            match cmd {
                Cmd::Ehlo | Cmd::Helo => body.clear(),
                Cmd::StartTls if code == Some(220) => {
                    // A client that goes on now sends a ClientHello; the
                    // handshake never completes here.
                    let _ = self.fill_until(|b| (!b.is_empty()).then_some(b.len()));
                    let junk = self.actions.bytes();
                    let _ = self.stream.write_all(junk);
                    return;
                }
                Cmd::Auth | Cmd::AuthResponse => {
                    auth_pending = code == Some(334);
                    auth_refused = !auth_pending && !ok;
                }
                Cmd::Mail => {
                    body.clear();
                    bdat_ok = true;
                }
                Cmd::Rcpt if ok => {
                    let addr = line.split(|&c| c == b'<').nth(1).and_then(|r| r.split(|&c| c == b'>').next());
                    self.truth.accepted_rcpts.push(addr.unwrap_or_default().to_vec());
                }
                Cmd::Data if code == Some(354) => {
                    if let Next::Close = next {
                        return;
                    }
                    let Some(data) = self.data() else { return };
                    let (code, next) = self.answer(Cmd::EndOfData);
                    if code.is_some_and(|c| (200..300).contains(&c)) {
                        self.accept(&data);
                    }
                    if let Next::Close = next {
                        return;
                    }
                    continue;
                }
                Cmd::Bdat => {
                    bdat_ok &= ok;
                    if bdat_last {
                        if bdat_ok {
                            self.accept(&body);
                        }
                        body.clear();
                    }
                }
                Cmd::Quit => return,
                _ => {}
            }
            if let Next::Close = next {
                return;
            }
        }
    }

    /// The server accepted the message whose marker `data` carries.
    fn accept(&mut self, data: &[u8]) {
        for i in 0..MESSAGES_MAX {
            if memchr::memmem::find(data, marker(i).as_bytes()).is_some() {
                self.truth.accepted_msgs.push(i);
            }
        }
    }
}

const MESSAGES_MAX: usize = 3;

fn marker(i: usize) -> String {
    format!("fuzz-message-{i}.")
}

/// A message the application gives in one piece.
struct Whole(Vec<u8>, bool);

impl MessageSource for Whole {
    fn rewind(&mut self) {
        self.1 = false;
    }
    fn advance(&mut self) -> Result<bool, i32> {
        Ok(!std::mem::replace(&mut self.1, true))
    }
    fn chunk(&self) -> &[u8] {
        if self.1 {
            &self.0
        } else {
            &[]
        }
    }
}

/// An auth context that allows every built-in mechanism and answers every
/// question.
#[derive(Default)]
struct Every(std::cell::RefCell<Option<Box<dyn Mechanism>>>);

impl Authenticator for Every {
    fn select(&self, name: &[u8]) -> bool {
        let m = sasl::by_name(name);
        let found = m.is_some();
        *self.0.borrow_mut() = m;
        found
    }
    fn response(&self, challenge: Option<&[u8]>) -> Option<Vec<u8>> {
        self.0.borrow_mut().as_mut()?.respond(challenge, &Answers)
    }
}

fn listener() -> &'static TcpListener {
    static L: OnceLock<TcpListener> = OnceLock::new();
    L.get_or_init(|| {
        let l = TcpListener::bind("127.0.0.1:0").expect("a loopback port");
        l.set_nonblocking(true).expect("nonblocking listener");
        l
    })
}

/// Accepts the client's connection, unless the session ends without one.
fn accept(l: &TcpListener, done: &AtomicBool) -> Option<TcpStream> {
    loop {
        match l.accept() {
            Ok((s, _)) => {
                s.set_nonblocking(false).ok()?;
                return Some(s);
            }
            Err(_) if done.load(Ordering::Acquire) => return None,
            Err(_) => {
                let mut fd = libc::pollfd { fd: l.as_raw_fd(), events: libc::POLLIN, revents: 0 };
                // SAFETY: one valid pollfd, for 10 ms.
                unsafe { libc::poll(&mut fd, 1, 10) };
            }
        }
    }
}

fn status_2xx(s: &StatusCell) -> bool {
    (200..300).contains(&s.code())
}

pub fn session(data: &[u8]) {
    if let Some((sess, truth, starttls)) = play(data) {
        check(&sess, &truth, starttls);
    }
}

/// Runs the session `data` describes: the session as it ended, what the
/// server said and saw (None when the client never connected), and the
/// STARTTLS mode.
fn play(data: &[u8]) -> Option<(Session, Truth, StartTls)> {
    let [setup, ext_lo, ext_hi, options, ref script @ ..] = *data else { return None };
    // One session at a time on the shared listener: unit tests run in
    // parallel threads, and a server must accept its own client.
    static SERIAL: std::sync::Mutex<()> = std::sync::Mutex::new(());
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let sess = Session::default();
    let l = listener();
    let port = l.local_addr().expect("bound").port();
    *sess.server.borrow_mut() = Some(ServerAddr {
        host: CString::new("127.0.0.1").unwrap(),
        port: CString::new(port.to_string()).unwrap(),
    });
    *sess.hostname.borrow_mut() = Some(CString::new("client.example").unwrap());
    for kind in [TimeoutKind::Greeting, TimeoutKind::Envelope, TimeoutKind::Data, TimeoutKind::Transfer] {
        sess.set_timeout(kind, 1000, true);
    }
    sess.set_timeout(TimeoutKind::Data2, 1000, true);
    let starttls =
        [StartTls::Disabled, StartTls::Enabled, StartTls::Required, StartTls::Enabled][setup as usize & 3];
    sess.starttls.set(starttls);
    // The library's own context, built once: loading the CA store for
    // every input would take most of the time.
    static CTX: OnceLock<Option<openssl::ssl::SslContext>> = OnceLock::new();
    let ctx = CTX
        .get_or_init(|| crate::esmtp::tls::context::build(&crate::esmtp::tls::context::Layout::find(), None));
    *sess.own_tls_ctx.borrow_mut() = ctx.clone();
    let auth = Every::default();
    let opts = RunOptions { auth: (setup & 4 != 0).then_some(&auth as &dyn Authenticator) };
    let messages = 1 + (setup as usize >> 3 & 3) % MESSAGES_MAX;
    let recipients = 1 + (setup as usize >> 5 & 3) % 3;
    sess.require_all_recipients.set(setup & 0x80 != 0);
    for i in 0..messages {
        let m = sess.messages.push(Message::default());
        *m.reverse_path.borrow_mut() = Some(CString::new(format!("sender{i}@example.org")).unwrap());
        for j in 0..recipients {
            let r = m.recipients.push(Recipient::new(CString::new(format!("r{i}-{j}@example.org")).unwrap()));
            if options & 1 != 0 {
                r.dsn_notify.set(1);
            }
        }
        if options & 2 != 0 {
            m.dsn_ret.set(DsnRet::Full);
        }
        if options & 4 != 0 {
            m.size_estimate.set(500);
        }
        m.body.set(
            [Body::NotSet, Body::EightBitMime, Body::BinaryMime, Body::SevenBit][options as usize >> 3 & 3],
        );
        let text = format!("Subject: fuzz\r\n\r\n{}\r\n.leading dot\r\nend\r\n", marker(i));
        *m.source.borrow_mut() = Some(Box::new(Whole(text.into_bytes(), false)));
    }
    if options & 0x20 != 0 {
        sess.etrn_nodes.push(EtrnNode {
            app_data: Default::default(),
            option: 0,
            domain: CString::new("example.org").unwrap(),
            status: StatusCell::default(),
        });
    }
    let done = AtomicBool::new(false);
    let truth = std::thread::scope(|s| {
        let server = s.spawn(|| {
            let stream = accept(l, &done)?;
            let mut srv = Server {
                stream,
                buf: Vec::new(),
                actions: Actions(script),
                ehlo_mask: u16::from_le_bytes([ext_lo, ext_hi]),
                truth: Truth::default(),
            };
            srv.serve();
            Some(srv.truth)
        });
        let rc = protocol::run(&sess, &opts);
        assert!(rc == 0 || rc == 1);
        done.store(true, Ordering::Release);
        server.join().expect("the fake server")
    });
    truth.map(|t| (sess, t, starttls))
}

/// The oracle.
fn check(sess: &Session, truth: &Truth, starttls: StartTls) {
    let said = || truth.log.join("\n  ");
    if starttls == StartTls::Required {
        assert_eq!(truth.mail_commands, 0, "mail commands sent in clear:\n  {}", said());
    }
    assert!(!truth.mail_after_refused_auth, "mail commands after a refused AUTH:\n  {}", said());
    if truth.surplus && truth.swallowed {
        return;
    }
    for (i, m) in sess.messages.iter().enumerate() {
        let msg_ok = status_2xx(&m.message_status);
        assert!(
            !msg_ok || truth.accepted_msgs.contains(&i),
            "message {i} reported {} but the server never accepted it:\n  {}",
            m.message_status.code(),
            said()
        );
        for r in m.recipients.iter() {
            let delivered = msg_ok && r.complete.get() && status_2xx(&r.status);
            assert!(
                !delivered || truth.accepted_rcpts.iter().any(|a| a.as_slice() == r.mailbox.to_bytes()),
                "recipient {:?} reported delivered but the server never accepted it:\n  {}",
                r.mailbox,
                said()
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_oracle_reads_replies() {
        assert_eq!(first_reply(b"250 ok\r\n"), Some(250));
        assert_eq!(first_reply(b"250\r\n"), Some(250));
        assert_eq!(first_reply(b"250-a\r\n250 b\r\n554 c\r\n"), Some(250));
        assert_eq!(first_reply(b"250-a\r\n550 b\r\n"), None);
        assert_eq!(first_reply(b"250-a\r\n"), None);
        assert_eq!(first_reply(b"250 ok\n"), None);
        assert_eq!(first_reply(b"250x\r\n"), None);
        assert_eq!(first_reply(b"260 ok\r\n"), None);
        assert_eq!(first_reply(b"250 \x00\r\n"), None);
        assert_eq!(first_reply(b"250 caf\xc3\xa9\r\n"), Some(250));
        assert!(ends_complete(b"250 ok\r\n") && ends_complete(b"junk\n") && ends_complete(b""));
        assert!(!ends_complete(b"250-a\r\n") && !ends_complete(b"250 ok"));
    }

    /// A server that behaves gets every message delivered; one that
    /// refuses the dot gets none, and the oracle holds either way.
    fn codes(sess: &Session) -> Vec<i32> {
        sess.messages.iter().map(|m| m.message_status.code()).collect()
    }

    #[test]
    fn sessions_end_to_end() {
        // PIPELINING and CHUNKING announced, two messages of two recipients.
        let (sess, truth, _) = play(&[0x08 | 0x20, 0x09, 0, 0]).unwrap();
        check(&sess, &truth, StartTls::Disabled);
        assert_eq!(codes(&sess), [250, 250]);
        assert_eq!(truth.accepted_msgs, [0, 1]);
        assert_eq!(truth.accepted_rcpts.len(), 4);
        // Plain DATA: greeting, EHLO, MAIL, RCPT, DATA sensible; the dot
        // answered with a 550.
        let (sess, truth, _) = play(&[0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 22]).unwrap();
        check(&sess, &truth, StartTls::Disabled);
        assert_eq!(codes(&sess), [550]);
        assert!(truth.accepted_msgs.is_empty());
        // STARTTLS required and refused: nothing sent.
        let (sess, truth, tls) = play(&[0x02, 0x02, 0, 0]).unwrap();
        check(&sess, &truth, tls);
        assert_eq!(truth.mail_commands, 0);
        assert_eq!(codes(&sess), [0]);
    }

    /// The oracle catches a status the server never gave.
    #[test]
    #[should_panic(expected = "never accepted")]
    fn the_oracle_catches_a_lie() {
        let (sess, mut truth, tls) = play(&[0, 0, 0, 0]).unwrap();
        truth.accepted_msgs.clear();
        check(&sess, &truth, tls);
    }
}
