//! Parsing SMTP replies (RFC 5321 §4.2) the way libESMTP reports them.
//!
//! The status text keeps libESMTP's shape: the text of every line with its
//! CRLF, leading blanks removed. Enhanced status codes (RFC 2034/3463) are
//! split off only when the server announced ENHANCEDSTATUSCODES.

use super::error;

/// Longest reply line accepted, terminator excluded. RFC 5321 allows 512
/// octets, but RFC 4954 §4 lets SASL challenges (334 lines) reach 12288.
pub const MAX_LINE: usize = 12288;
/// libESMTP's limit on the accumulated text of a multi-line reply.
pub const MAX_TEXT: usize = 4096;

#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Reply {
    pub code: i32,
    pub text: Vec<u8>,
    pub enh: [i32; 3],
    /// Continuation lines' texts, when the caller asked for them instead of
    /// concatenation (EHLO keywords).
    pub extra: Vec<Vec<u8>>,
}

impl Reply {
    pub fn class(&self) -> i32 {
        self.code / 100
    }
}

/// Why a reply could not be read; each maps to one `smtp_errno` value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReplyError {
    Dropped,
    Syntax,
    Mismatch,
    Unterminated,
}

impl ReplyError {
    pub fn code(self) -> i32 {
        match self {
            ReplyError::Dropped => error::ERR_DROPPED_CONNECTION,
            ReplyError::Syntax => error::ERR_INVALID_RESPONSE_SYNTAX,
            ReplyError::Mismatch => error::ERR_STATUS_MISMATCH,
            ReplyError::Unterminated => error::ERR_UNTERMINATED_RESPONSE,
        }
    }
}

/// Options for one read.
pub struct ReplyOptions {
    pub enhanced: bool,
    pub collect_extra: bool,
}

/// A parsed line prefix: code, whether more lines follow, and the offset
/// where the text after the separator starts. RFC 5321 §4.2: exactly three
/// digits, the first 2 to 5 and the second 0 to 5, then SP, `-` or the line
/// end. libESMTP took any run of digits (`600`, `25`, `2500`); a reply that
/// breaks the grammar is a protocol violation here, never a status. On
/// failure the error carries the digits' value, which tells a read that
/// received nothing from one that received garbage.
fn parse_code(line: &[u8]) -> Result<(i32, bool, usize), (ReplyError, i32)> {
    let digits = line.iter().take(9).take_while(|c| c.is_ascii_digit()).count();
    let code = line[..digits].iter().fold(0i32, |n, &c| n * 10 + (c - b'0') as i32);
    if digits != 3 || !(2..=5).contains(&(code / 100)) || code / 10 % 10 > 5 {
        return Err((ReplyError::Syntax, code));
    }
    match line.get(digits) {
        Some(b' ') => Ok((code, false, digits + 1)),
        Some(b'-') => Ok((code, true, digits + 1)),
        // A bare code ending the line is legal in RFC 5321 ("250\r\n");
        // libESMTP 1.1.0 rejected it.
        Some(b'\r') => Ok((code, false, digits)),
        _ => Err((ReplyError::Syntax, code)),
    }
}

/// A reply line's end and text (RFC 5321 §4.2: CRLF, and `textstring`:
/// HT and printable ASCII; bytes from 0x80 are let through for SMTPUTF8
/// servers). A bare LF, a CR inside the line, NUL or another control byte
/// makes the reply malformed: a reply that cannot be trusted to be the one
/// it seems to be.
fn check_line(line: &[u8]) -> Result<(), ReplyError> {
    let Some(body) = line.strip_suffix(b"\r\n") else {
        return Err(if line.last() == Some(&b'\n') { ReplyError::Syntax } else { ReplyError::Unterminated });
    };
    if body.iter().any(|&c| (c < 0x20 && c != b'\t') || c == 0x7f) {
        return Err(ReplyError::Syntax);
    }
    Ok(())
}

/// `d.d.d` at the start of `s`: the triplet and the bytes consumed.
fn parse_triplet(s: &[u8]) -> Option<([i32; 3], usize)> {
    let mut out = [0i32; 3];
    let mut i = 0;
    for (n, slot) in out.iter_mut().enumerate() {
        let start = i;
        while i < s.len() && s[i].is_ascii_digit() && i - start < 3 {
            *slot = *slot * 10 + (s[i] - b'0') as i32;
            i += 1;
        }
        if i == start {
            return None;
        }
        if n < 2 {
            if s.get(i) != Some(&b'.') {
                return None;
            }
            i += 1;
        }
    }
    // The triplet must end at a word boundary.
    match s.get(i) {
        None | Some(b' ') | Some(b'\t') | Some(b'\r') | Some(b'\n') => Some((out, i)),
        _ => None,
    }
}

fn skip_blanks(s: &[u8]) -> &[u8] {
    let n = s.iter().take_while(|&&c| c == b' ' || c == b'\t').count();
    &s[n..]
}

/// Where reply lines come from: each line includes its terminator.
pub trait LineSource {
    fn next_line(&mut self) -> Result<&[u8], ReplyError>;
}

/// A failed read: why, and the status code read before the failure (0 if
/// none), which libESMTP leaves in the status with no text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReplyFailure {
    pub error: ReplyError,
    pub code: i32,
    /// The first line's enhanced code, when it had one.
    pub enh: [i32; 3],
}

/// Reads one reply. `warn` is asked (SMTP_EV_SYNTAXWARNING) whether to fail
/// when an expected enhanced code is missing from the first line.
pub fn read_reply(
    src: &mut dyn LineSource,
    opts: &ReplyOptions,
    warn: impl FnMut() -> bool,
) -> Result<Reply, ReplyFailure> {
    let mut partial = Reply::default();
    read_reply_inner(src, opts, warn, &mut partial).map_err(|error| ReplyFailure {
        error,
        code: partial.code,
        enh: partial.enh,
    })
}

fn read_reply_inner(
    src: &mut dyn LineSource,
    opts: &ReplyOptions,
    mut warn: impl FnMut() -> bool,
    partial: &mut Reply,
) -> Result<Reply, ReplyError> {
    let line = src.next_line()?;
    let (code, mut more, off) = parse_code(line).map_err(|(e, c)| {
        partial.code = c;
        e
    })?;
    partial.code = code;
    check_line(line)?;
    let mut reply = Reply { code, ..Reply::default() };
    let mut want_enh = opts.enhanced && matches!(code / 100, 2 | 4 | 5);
    let mut rest = &line[off..];
    if want_enh {
        match parse_triplet(rest) {
            Some((t, n)) => {
                reply.enh = t;
                partial.enh = t;
                rest = &rest[n..];
            }
            None => {
                if warn() {
                    return Err(ReplyError::Syntax);
                }
                want_enh = false;
            }
        }
    }
    // libESMTP strips all leading white space, the line end included,
    // from the first line's text.
    let n = rest.iter().take_while(|c| c.is_ascii_whitespace()).count();
    reply.text.extend_from_slice(&rest[n..]);
    while more {
        let line = src.next_line()?;
        let (_, m, off) = match parse_code(line) {
            Ok(p) if p.0 != code => return Err(ReplyError::Mismatch),
            Ok(p) => p,
            Err((_, c)) if c != code => return Err(ReplyError::Mismatch),
            Err((e, _)) => return Err(e),
        };
        check_line(line)?;
        more = m;
        let mut rest = &line[off..];
        if want_enh {
            let (t, n) = parse_triplet(rest).ok_or(ReplyError::Syntax)?;
            if t != reply.enh {
                return Err(ReplyError::Mismatch);
            }
            rest = &rest[n..];
        }
        let rest = skip_blanks(rest);
        if opts.collect_extra {
            reply.extra.push(rest.to_vec());
        } else {
            reply.text.extend_from_slice(rest);
        }
        let total = reply.text.len() + reply.extra.iter().map(Vec::len).sum::<usize>();
        if total > MAX_TEXT {
            return Err(ReplyError::Unterminated);
        }
    }
    Ok(reply)
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Lines<'a>(std::vec::IntoIter<&'a [u8]>);

    impl LineSource for Lines<'_> {
        fn next_line(&mut self) -> Result<&[u8], ReplyError> {
            self.0.next().ok_or(ReplyError::Dropped)
        }
    }

    fn parse(input: &[u8], enhanced: bool) -> Result<Reply, ReplyError> {
        let lines: Vec<&[u8]> = input.split_inclusive(|&c| c == b'\n').collect();
        let opts = ReplyOptions { enhanced, collect_extra: false };
        read_reply(&mut Lines(lines.into_iter()), &opts, || false).map_err(|f| f.error)
    }

    #[test]
    fn single_line() {
        let r = parse(b"250 ok\r\n", false).unwrap();
        assert_eq!((r.code, r.text.as_slice()), (250, &b"ok\r\n"[..]));
    }

    #[test]
    fn multi_line_keeps_each_crlf() {
        let r = parse(b"250-multi\r\n250 line2\r\n", false).unwrap();
        assert_eq!(r.text, b"multi\r\nline2\r\n");
    }

    #[test]
    fn enhanced_codes_split_only_when_announced() {
        let r = parse(b"250 2.1.0 ok\r\n", true).unwrap();
        assert_eq!((r.enh, r.text.as_slice()), ([2, 1, 0], &b"ok\r\n"[..]));
        let r = parse(b"250 2.1.0 ok\r\n", false).unwrap();
        assert_eq!((r.enh, r.text.as_slice()), ([0, 0, 0], &b"2.1.0 ok\r\n"[..]));
        assert_eq!(parse(b"250-2.1.0 a\r\n250 2.1.1 b\r\n", true), Err(ReplyError::Mismatch));
    }

    #[test]
    fn malformed_replies() {
        assert_eq!(parse(b"2x0 ok\r\n", false), Err(ReplyError::Syntax));
        assert_eq!(parse(b"250-a\r\n251 b\r\n", false), Err(ReplyError::Mismatch));
        assert_eq!(parse(b"250-a\r\n", false), Err(ReplyError::Dropped));
        assert_eq!(parse(b"250-a\r\n250 b", false), Err(ReplyError::Unterminated));
        assert_eq!(parse(b"hello\r\n", false), Err(ReplyError::Syntax));
        assert_eq!(parse(b"250\tok\r\n", false), Err(ReplyError::Syntax));
        assert_eq!(parse(b"250x\r\n", false), Err(ReplyError::Syntax));
        let long: Vec<u8> =
            (0..200).flat_map(|_| b"250-0123456789012345678901234567890\r\n".to_vec()).collect();
        assert_eq!(parse(&long, false), Err(ReplyError::Unterminated));
    }

    #[test]
    fn only_rfc5321_codes() {
        for bad in [&b"600 what\r\n"[..], b"150 hmm\r\n", b"25 ok\r\n", b"2500 ok\r\n", b"260 ok\r\n"] {
            assert_eq!(parse(bad, false), Err(ReplyError::Syntax), "{:?}", String::from_utf8_lossy(bad));
        }
        assert_eq!(parse(b"554 no\r\n", false).unwrap().code, 554);
    }

    #[test]
    fn lines_end_in_crlf_and_hold_text() {
        assert_eq!(parse(b"250 ok\n", false), Err(ReplyError::Syntax));
        assert_eq!(parse(b"250-a\r\n250 b\n", false), Err(ReplyError::Syntax));
        assert_eq!(parse(b"250 ok", false), Err(ReplyError::Unterminated));
        assert_eq!(parse(b"250 o\0k\r\n", false), Err(ReplyError::Syntax));
        assert_eq!(parse(b"250 o\rk\r\n", false), Err(ReplyError::Syntax));
        assert_eq!(parse(b"250-a\r\n250 b\x1b[2J\r\n", false), Err(ReplyError::Syntax));
        assert_eq!(parse(b"250 tab\there \xc3\xa9\r\n", false).unwrap().text, b"tab\there \xc3\xa9\r\n");
    }

    #[test]
    fn bare_code_is_legal() {
        let r = parse(b"250\r\n", false).unwrap();
        assert_eq!((r.code, r.text.as_slice()), (250, &b""[..]));
    }
}
