//! Entry points for the libFuzzer targets in `fuzz/` (feature `fuzzing`,
//! never in the shipped libraries). Each takes the fuzzer's bytes, drives
//! one parser the way the network or the application feeds it, and checks
//! what must hold whatever the input: no panic, and the parser's own
//! limits.

use crate::esmtp::extensions::Extensions;
use crate::esmtp::headers::{HeaderTable, PrintContext, SetArgs};
use crate::esmtp::policy::tlsrpt::{mail, record, submit};
use crate::esmtp::policy::{dns, https, json, sts, tlsrpt};
use crate::esmtp::reply::{read_reply, LineSource, ReplyError, ReplyOptions, MAX_LINE, MAX_TEXT};
use crate::esmtp::sasl::{self, Interact, Request};
use crate::esmtp::source::{MessageSource, Reader};

mod session;
pub use session::session;

/// Lines as a connection delivers them, each with its terminator.
struct Lines<'a> {
    rest: &'a [u8],
}

impl LineSource for Lines<'_> {
    fn next_line(&mut self) -> Result<&[u8], ReplyError> {
        if self.rest.is_empty() {
            return Err(ReplyError::Dropped);
        }
        let end = memchr::memchr(b'\n', self.rest).map_or(self.rest.len(), |i| i + 1);
        if end > MAX_LINE + 2 {
            return Err(ReplyError::Unterminated);
        }
        let (line, rest) = self.rest.split_at(end);
        self.rest = rest;
        Ok(line)
    }
}

/// One SMTP reply; the first byte chooses the options. What a reply keeps
/// is bounded, and a 2xx reply's continuation lines parse as EHLO keywords.
pub fn reply(data: &[u8]) {
    let Some((&flags, data)) = data.split_first() else { return };
    let opts = ReplyOptions { enhanced: flags & 1 != 0, collect_extra: flags & 2 != 0 };
    let mut src = Lines { rest: data };
    if let Ok(r) = read_reply(&mut src, &opts, || flags & 4 != 0) {
        assert!((200..600).contains(&r.code));
        let kept = r.text.len() + r.extra.iter().map(Vec::len).sum::<usize>();
        assert!(kept <= MAX_TEXT + MAX_LINE + 2);
        let _ = Extensions::parse(r.extra.iter().map(Vec::as_slice));
    }
}

/// A message from the application, in chunks as its callback gives them.
struct Chunks<'a> {
    chunks: Vec<&'a [u8]>,
    at: usize,
}

impl MessageSource for Chunks<'_> {
    fn rewind(&mut self) {
        self.at = 0;
    }
    fn advance(&mut self) -> Result<bool, i32> {
        self.at += 1;
        Ok(self.at <= self.chunks.len())
    }
    fn chunk(&self) -> &[u8] {
        self.at.checked_sub(1).and_then(|i| self.chunks.get(i)).copied().unwrap_or(&[])
    }
}

/// The message reader and header rewriting: the input is split into
/// chunks at 0xFE bytes (so the fuzzer chooses where reads end). Every line
/// sent ends in CRLF, and nothing of the message is lost.
pub fn message(data: &[u8]) {
    let chunks: Vec<&[u8]> = data.split(|&c| c == 0xFE).filter(|c| !c.is_empty()).collect();
    let total: usize = chunks.iter().map(|c| c.len()).sum();
    let mut src = Chunks { chunks, at: 0 };
    let mut reader = Reader::new(&mut src);
    let mut table = HeaderTable::default();
    let value = c"v";
    let _ = table.set(b"X-Fuzz", SetArgs::One(Some(value)));
    table.start_transfer();
    let ctx = PrintContext { reverse_path: Some(b"a@b"), recipients: vec![b"c@d"], localhost: b"h" };
    let mut out = 0;
    let mut line = Vec::new();
    while let Ok(true) = reader.read_line(&mut line) {
        assert!(line.ends_with(b"\r\n"));
        let _ = table.process(&line, &ctx);
        out += line.len();
        line.clear();
    }
    assert!(out >= total);
}

/// A DNS response: the parser bounds every pointer and length.
pub fn dns(data: &[u8]) {
    if let Ok(r) = dns::parse_response(data) {
        // Whatever it accepted can be walked, and an MX answer gives hosts
        // within the limit.
        let _ = format!("{r:?}");
        if let Ok(a) = dns::own_answer(r) {
            if let Ok(m) = crate::esmtp::policy::mx::select(&a, "example", &mut |n| (0..n).rev().collect()) {
                assert!(!m.hosts.is_empty() && m.hosts.len() <= crate::esmtp::policy::mx::MAX_HOSTS);
            }
        }
    }
}

/// TXT strings, `_mta-sts` records and MTA-STS policy documents.
pub fn sts(data: &[u8]) {
    let _ = dns::txt_string(data);
    let records: Vec<Vec<u8>> = data.split(|&c| c == 0).map(<[u8]>::to_vec).collect();
    let _ = sts::record_id(&records);
    if let Ok(p) = sts::parse_policy(data) {
        let _ = sts::mx_matches(&p.mx, "mx.example.org");
    }
}

/// Every line of a composed message ends in CRLF, has no other CR or LF,
/// and fits RFC 5322's 998 characters: no text given can add a header.
fn assert_clean_message(msg: &[u8]) {
    for line in msg.split_inclusive(|&c| c == b'\n') {
        let body = line.strip_suffix(b"\r\n").expect("a line not ending in CRLF");
        assert!(!body.contains(&b'\r') && !body.contains(&b'\n') && body.len() <= 998);
    }
}

/// `_smtp._tls` TXT records (NUL between records), and what they lead
/// to: the report mail for each mailbox accepted, the request target for
/// each HTTPS receiver. The same bytes go through the checks of a report
/// document, and what follows the first 0xFE is read as the reply to a
/// report's POST.
pub fn tlsrpt(data: &[u8]) {
    let (rec, reply) = match memchr::memchr(0xFE, data) {
        Some(i) => (&data[..i], &data[i + 1..]),
        None => (data, &[][..]),
    };
    let records: Vec<Vec<u8>> = rec.split(|&c| c == 0).map(<[u8]>::to_vec).collect();
    let facts = mail::Facts {
        policy_domain: "example.org".into(),
        submitter: "sender.example".into(),
        report_id: "r@sender.example".into(),
        begin: 0,
        end: 86_400,
    };
    if let Ok(entries) = record::parse(&records) {
        let usable = entries.iter().filter(|e| e.rua.is_ok()).count();
        assert!((1..=record::MAX_URIS).contains(&usable));
        for e in &entries {
            match &e.rua {
                Ok(record::Rua::Mailto(m)) => {
                    assert!(record::mailbox(m).is_ok() && m.len() <= record::MAX_URI_LEN);
                    assert_clean_message(&mail::compose(&facts, "a@sender.example", m, b"gz", 0, "t"));
                }
                Ok(record::Rua::Https(u)) => {
                    assert!(record::host_name(&u.host) && u.port != 0);
                    assert!(u.target.starts_with('/') && u.target.bytes().all(|c| c.is_ascii_graphic()));
                }
                Err(_) => {}
            }
        }
    }
    if let Ok(text) = std::str::from_utf8(rec) {
        if let Ok(f) = submit::facts("example.org", "a@sender.example", text) {
            assert!(f.begin <= f.end);
            assert_clean_message(&mail::compose(&f, "a@sender.example", "b@example.org", b"gz", f.end, "t"));
        }
        let _ = tlsrpt::parse_rfc3339(text);
    }
    if let Ok(status) = https::read_post_response(reply) {
        assert!((200..300).contains(&status));
    }
}

/// JSON, as TLSRPT results come back to the aggregation API.
pub fn json(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    if let Some(v) = json::parse(&text) {
        // What it parsed, it can print back and parse again.
        assert!(json::parse(&v.to_json()).is_some());
    }
    let mut agg = tlsrpt::Aggregate::default();
    agg.add(&text);
    let _ = agg.report("o", "c", "i", 0, 1);
}

/// An HTTP/1.1 response to the MTA-STS policy fetch, read in pieces the
/// fuzzer chooses (split at 0xFE).
pub fn http(data: &[u8]) {
    struct Pieces<'a>(std::vec::IntoIter<&'a [u8]>);
    impl std::io::Read for Pieces<'_> {
        fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
            let Some(p) = self.0.next() else { return Ok(0) };
            let n = p.len().min(buf.len());
            buf[..n].copy_from_slice(&p[..n]);
            Ok(n)
        }
    }
    let pieces: Vec<&[u8]> = data.split(|&c| c == 0xFE).filter(|c| !c.is_empty()).collect();
    if let Ok(body) = https::read_response(Pieces(pieces.into_iter())) {
        assert!(body.len() <= https::MAX_BODY);
    }
}

/// An application that answers every request.
struct Answers;

impl Interact for Answers {
    fn ask(&self, requests: &[Request]) -> Option<Vec<Vec<u8>>> {
        Some(
            requests
                .iter()
                .map(
                    |r| {
                        if r.flags & sasl::AUTH_PASS != 0 {
                            b"p\xc3\xa4ss".to_vec()
                        } else {
                            b"user".to_vec()
                        }
                    },
                )
                .collect(),
        )
    }
}

/// SASL challenges as the server sends them (decoded), to the mechanism
/// the first byte picks: PLAIN, LOGIN, CRAM-MD5, SCRAM-SHA-1/256 (server-
/// first and server-final), XOAUTH2, OAUTHBEARER. Challenges split at 0xFE;
/// the engine answers at most 16.
pub fn sasl(data: &[u8]) {
    const NAMES: [&[u8]; 7] =
        [b"PLAIN", b"LOGIN", b"CRAM-MD5", b"SCRAM-SHA-1", b"SCRAM-SHA-256", b"XOAUTH2", b"OAUTHBEARER"];
    let Some((&pick, data)) = data.split_first() else { return };
    let name = NAMES[pick as usize % NAMES.len()];
    // SCRAM's nonce is random: fixed here, so that server-first can extend
    // it. Iteration counts up to the library's cap cost up to 0.4 s by
    // design (2.3 s under AddressSanitizer's allocator): 10^4 here keeps
    // inputs under the 1-s limit, through the same check.
    let m = match name {
        b"SCRAM-SHA-1" => Some(sasl::scram_with_nonce(false, b"fuzznonce", 10_000)),
        b"SCRAM-SHA-256" => Some(sasl::scram_with_nonce(true, b"fuzznonce", 10_000)),
        _ => sasl::by_name(name),
    };
    let Some(mut m) = m else { return };
    let _ = m.respond(None, &Answers);
    for challenge in data.split(|&c| c == 0xFE).take(16) {
        let _ = m.respond(Some(challenge), &Answers);
    }
}

/// The filter's side of smtpd's protocol, as a whole stream: every line
/// parsed, every event dispatched to callbacks registered for every phase,
/// with every context field asked for, and the sessions still open ended as
/// at the end of input. Callbacks read what they are given, as C would.
pub fn filter_stream(data: &[u8]) {
    use crate::opensmtpd::ctx::osmtpd_ctx;
    use crate::opensmtpd::dispatch::{Args, Callbacks, Dispatcher};
    use crate::opensmtpd::phase::Phase;
    use crate::opensmtpd::protocol::{check_config, parse, Line};
    use std::ffi::c_void;

    struct Every(usize);
    impl Callbacks for Every {
        fn call(&mut self, _incoming: bool, _phase: Phase, ctx: *mut osmtpd_ctx, args: Args<'_>) {
            // SAFETY: the dispatcher passes a live context.
            self.0 += unsafe { (*ctx).token } as usize & 1;
            if let Args::Text(t) | Args::MsgAddr(_, t, _) = args {
                self.0 += t.to_bytes().len();
            }
        }
        fn session_created(&mut self, _: *mut osmtpd_ctx) -> *mut c_void {
            std::ptr::null_mut()
        }
        fn session_deleted(&mut self, _: *mut osmtpd_ctx, _: *mut c_void) {}
        fn message_created(&mut self, _: *mut osmtpd_ctx) -> *mut c_void {
            std::ptr::null_mut()
        }
        fn message_deleted(&mut self, _: *mut osmtpd_ctx, _: *mut c_void) {}
    }
    let mut d = Dispatcher::new(u32::MAX);
    let mut cb = Every(0);
    for line in data.split(|&c| c == b'\n').take(1000) {
        match parse(line) {
            Ok(Line::Config { key, value: Some(value) }) => {
                let _ = check_config(key, value);
            }
            Ok(Line::Config { .. }) => {}
            Ok(Line::Event(ev)) => {
                // A bad line ends a real filter; here the next one comes.
                let _ = d.event(&ev, &mut cb);
            }
            Err(_) => {}
        }
    }
    for id in d.sessions.ids() {
        d.end_session(id, &mut cb);
    }
}
