//! Random and hostile input for the parsers: whatever arrives from the
//! network or the application, they return an answer and never panic.

use super::extensions::Extensions;
use super::headers::{HeaderTable, PrintContext, SetArgs};
use super::reply::{read_reply, LineSource, ReplyError, ReplyOptions};
use super::source::tests::Chunks;
use super::source::Reader;

/// xorshift64*: deterministic, so a failure reproduces.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// Bytes biased towards what matters to SMTP parsers.
    fn bytes(&mut self, max: usize) -> Vec<u8> {
        // Real escapes: CR, LF, TAB, 0xFF and NUL are what break parsers.
        const INTERESTING: &[u8] = b"0123456789 -.\r\n\t:250354ABC\xff\x00";
        let n = (self.next() % max as u64) as usize;
        (0..n)
            .map(|_| {
                let r = self.next();
                if r % 4 == 0 {
                    (r >> 8) as u8
                } else {
                    INTERESTING[(r >> 8) as usize % INTERESTING.len()]
                }
            })
            .collect()
    }
}

struct Lines(Vec<Vec<u8>>, usize);

impl LineSource for Lines {
    fn next_line(&mut self) -> Result<&[u8], ReplyError> {
        self.1 += 1;
        self.0.get(self.1 - 1).map(Vec::as_slice).ok_or(ReplyError::Dropped)
    }
}

#[test]
fn replies_never_panic() {
    let mut rng = Rng(0x5EED);
    for i in 0..20_000 {
        let data = rng.bytes(300);
        let lines: Vec<Vec<u8>> = data.split_inclusive(|&c| c == b'\n').map(<[u8]>::to_vec).collect();
        let opts = ReplyOptions { enhanced: i % 2 == 0, collect_extra: i % 3 == 0 };
        if let Ok(r) = read_reply(&mut Lines(lines, 0), &opts, || i % 5 == 0) {
            assert!(r.text.len() + r.extra.iter().map(Vec::len).sum::<usize>() <= 4096 + 300);
            let _ = Extensions::parse(r.extra.iter().map(Vec::as_slice));
        }
    }
}

#[test]
fn message_reader_and_headers_never_panic() {
    let mut rng = Rng(0xC0FFEE);
    let ctx = PrintContext { reverse_path: Some(b"a@b"), recipients: vec![b"c@d"], localhost: b"h" };
    for _ in 0..5_000 {
        // An empty chunk ends a message, as a zero length from the callback does.
        let chunks: Vec<Vec<u8>> =
            (0..(rng.next() % 5)).map(|_| rng.bytes(200)).filter(|c| !c.is_empty()).collect();
        let total: usize = chunks.iter().map(Vec::len).sum();
        let mut src = Chunks(chunks, 0);
        let mut reader = Reader::new(&mut src);
        let mut table = HeaderTable::default();
        let name = std::ffi::CString::new(rng.bytes(12).into_iter().filter(|&c| c != 0).collect::<Vec<_>>())
            .unwrap();
        let value = std::ffi::CString::new("v").unwrap();
        let _ = table.set(name.as_bytes(), SetArgs::Pair(Some(&value), Some(&value)));
        let _ = table.set(name.as_bytes(), SetArgs::One(Some(&value)));
        table.start_transfer();
        let mut out = 0;
        let mut line = Vec::new();
        while reader.read_line(&mut line).unwrap() {
            assert!(line.ends_with(b"\r\n"));
            let _ = table.process(&line, &ctx);
            out += line.len();
            line.clear();
        }
        // Line ends may grow (CR or LF -> CRLF) but nothing is lost.
        assert!(out >= total);
        for h in table.missing(&ctx) {
            assert!(h.ends_with(b"\r\n"));
        }
    }
}

/// DNS answers, policy documents, TXT records and JSON results: random
/// bytes, and good inputs with random bytes overwritten.
#[test]
fn policy_parsers_survive_random_input() {
    use super::policy::{dns, json, sts, tlsrpt};
    let mut rng = Rng(0x5EED_D0C5);
    let query = dns::encode_query(7, "_25._tcp.mx.example", dns::TLSA).unwrap();
    let mut good = query[..query.len() - 11].to_vec();
    good[2..4].copy_from_slice(&0x81A0u16.to_be_bytes());
    good[6..8].copy_from_slice(&1u16.to_be_bytes());
    good[10..12].copy_from_slice(&[0, 0]);
    good.extend_from_slice(&[0xC0, 12, 0, 52, 0, 1, 0, 0, 1, 0, 0, 35, 3, 1, 1]);
    good.extend_from_slice(&[0xAB; 32]);
    let policy = b"version: STSv1\r\nmode: enforce\r\nmx: *.example.net\r\nmax_age: 86400\r\n".to_vec();
    let result =
        b"{\"epoch\": 1, \"type\": 0, \"policy\": {\"policy-type\": \"sts\"}, \"result-type\": \"x\"}"
            .to_vec();
    let mut agg = tlsrpt::Aggregate::default();
    for _ in 0..20_000 {
        let noise = rng.bytes(300);
        let _ = dns::parse_response(&noise);
        let _ = sts::parse_policy(&noise);
        let _ = sts::record_id(std::slice::from_ref(&noise));
        let _ = dns::txt_string(&noise);
        let _ = json::parse(&String::from_utf8_lossy(&noise));
        for base in [&good, &policy, &result] {
            let mut m = base.clone();
            for _ in 0..1 + rng.next() % 4 {
                let i = (rng.next() % m.len() as u64) as usize;
                m[i] = rng.next() as u8;
            }
            let cut = (rng.next() % (m.len() as u64 + 1)) as usize;
            let _ = dns::parse_response(&m[..cut]);
            let _ = dns::parse_response(&m);
            let _ = sts::parse_policy(&m);
            agg.add(&String::from_utf8_lossy(&m));
        }
    }
    let _ = agg.report("o", "c", "i", 0, i64::MAX);
}
