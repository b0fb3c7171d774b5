//! The lines a filter writes back to smtpd (smtpd-filters(7)).
//!
//! Nothing on this protocol is escaped, so a CR or LF inside a reason would
//! end the line early and inject whatever follows as a protocol line
//! (libopensmtpd 0.7 wrote them as given). Reasons get CR/LF turned into
//! spaces; a data line containing line breaks becomes several data lines.

/// What the filter decided; the text is already formatted.
pub enum Decision<'a> {
    Proceed,
    Reject { code: i32, enh: Option<[i32; 3]>, text: &'a [u8] },
    Disconnect { enh: Option<[i32; 3]>, text: &'a [u8] },
    Rewrite(&'a [u8]),
}

/// A refused call: libopensmtpd's message for `osmtpd_errx(1, …)`.
#[derive(Debug, PartialEq, Eq)]
pub struct Invalid(pub &'static str);

/// `v` as 16 lower-case hex digits (`%016llx`), without going through
/// `fmt`: every answer carries two.
fn hex16(out: &mut Vec<u8>, v: u64) {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut buf = [0u8; 16];
    for (i, d) in buf.iter_mut().enumerate() {
        *d = DIGITS[(v >> (60 - 4 * i)) as usize & 0xf];
    }
    out.extend_from_slice(&buf);
}

/// The two ids in the order the session's protocol version expects:
/// `token|reqid` before 0.5, `reqid|token` since.
fn ids(out: &mut Vec<u8>, minor: u32, reqid: u64, token: u64) {
    let (a, b) = if minor < 5 { (token, reqid) } else { (reqid, token) };
    hex16(out, a);
    out.push(b'|');
    hex16(out, b);
}

fn push_single_line(out: &mut Vec<u8>, text: &[u8]) {
    out.extend(text.iter().map(|&c| if c == b'\r' || c == b'\n' { b' ' } else { c }));
}

fn push_enh(out: &mut Vec<u8>, e: [i32; 3]) {
    out.extend_from_slice(format!("{}.{}.{} ", e[0], e[1], e[2]).as_bytes());
}

fn check_enh(e: [i32; 3], class_ok: impl Fn(i32) -> bool) -> Result<(), Invalid> {
    if !class_ok(e[0]) {
        return Err(Invalid("Invalid enhanced status class"));
    }
    if !(0..=999).contains(&e[1]) {
        return Err(Invalid("Invalid enhanced status subject"));
    }
    if !(0..=999).contains(&e[2]) {
        return Err(Invalid("Invalid enhanced status detail"));
    }
    Ok(())
}

/// Appends `filter-result|…` for a decision, newline included, to `out`;
/// nothing when the decision is refused.
pub fn filter_result(
    out: &mut Vec<u8>,
    minor: u32,
    reqid: u64,
    token: u64,
    d: &Decision<'_>,
) -> Result<(), Invalid> {
    match d {
        Decision::Reject { code, enh, .. } => {
            if !(200..=599).contains(code) {
                return Err(Invalid("Invalid reject code"));
            }
            if let Some(e) = enh {
                check_enh(*e, |c| (2..=5).contains(&c))?;
            }
        }
        // A disconnect is always 421, so the class is 4 (0.7 also let 3
        // through).
        Decision::Disconnect { enh: Some(e), .. } => check_enh(*e, |c| c == 4)?,
        _ => {}
    }
    out.extend_from_slice(b"filter-result|");
    ids(out, minor, reqid, token);
    match d {
        Decision::Proceed => out.extend_from_slice(b"|proceed"),
        Decision::Reject { code, enh, text } => {
            out.extend_from_slice(format!("|reject|{code} ").as_bytes());
            if let Some(e) = enh {
                push_enh(out, *e);
            }
            push_single_line(out, text);
        }
        Decision::Disconnect { enh, text } => {
            out.extend_from_slice(b"|disconnect|421 ");
            if let Some(e) = enh {
                push_enh(out, *e);
            }
            push_single_line(out, text);
        }
        Decision::Rewrite(text) => {
            out.extend_from_slice(b"|rewrite|");
            push_single_line(out, text);
        }
    }
    out.push(b'\n');
    Ok(())
}

/// `filter-dataline|…` lines for `text`, one per line it contains.
pub fn data_lines(out: &mut Vec<u8>, minor: u32, reqid: u64, token: u64, text: &[u8]) {
    let text = text.strip_suffix(b"\n").unwrap_or(text);
    let mut rest = text.strip_suffix(b"\r").unwrap_or(text);
    loop {
        let (line, next) = match memchr::memchr(b'\n', rest) {
            Some(i) => (&rest[..i], Some(&rest[i + 1..])),
            None => (rest, None),
        };
        out.extend_from_slice(b"filter-dataline|");
        ids(out, minor, reqid, token);
        out.push(b'|');
        out.extend_from_slice(line.strip_suffix(b"\r").unwrap_or(line));
        out.push(b'\n');
        match next {
            Some(n) => rest = n,
            None => break,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn filter_result(minor: u32, reqid: u64, token: u64, d: &Decision<'_>) -> Result<Vec<u8>, Invalid> {
        let mut out = Vec::new();
        super::filter_result(&mut out, minor, reqid, token, d).map(|()| out)
    }

    #[test]
    fn results_in_both_id_orders() {
        let r = filter_result(6, 0xaa, 0xbb, &Decision::Proceed).unwrap();
        assert_eq!(r, b"filter-result|00000000000000aa|00000000000000bb|proceed\n");
        let r = filter_result(4, 0xaa, 0xbb, &Decision::Proceed).unwrap();
        assert_eq!(r, b"filter-result|00000000000000bb|00000000000000aa|proceed\n");
        let r = filter_result(6, u64::MAX, 0x0123456789abcdef, &Decision::Proceed).unwrap();
        assert_eq!(r, b"filter-result|ffffffffffffffff|0123456789abcdef|proceed\n");
    }

    #[test]
    fn rejects_and_their_checks() {
        let d = Decision::Reject { code: 451, enh: Some([4, 7, 1]), text: b"try\nlater|x" };
        assert_eq!(
            filter_result(6, 1, 2, &d).unwrap(),
            b"filter-result|0000000000000001|0000000000000002|reject|451 4.7.1 try later|x\n"
        );
        let bad = Decision::Reject { code: 600, enh: None, text: b"" };
        assert_eq!(filter_result(6, 1, 2, &bad), Err(Invalid("Invalid reject code")));
        let bad_class = Decision::Reject { code: 550, enh: Some([6, 7, 1]), text: b"" };
        assert!(filter_result(6, 1, 2, &bad_class).is_err());
        let d = Decision::Disconnect { enh: Some([3, 0, 0]), text: b"bye" };
        assert!(filter_result(6, 1, 2, &d).is_err());
        let d = Decision::Disconnect { enh: None, text: b"bye" };
        assert!(filter_result(6, 1, 2, &d).unwrap().ends_with(b"|disconnect|421 bye\n"));
    }

    #[test]
    fn data_lines_split_at_newlines() {
        let mut out = Vec::new();
        data_lines(&mut out, 6, 1, 2, b"a\r\nb\n");
        assert_eq!(
            out,
            b"filter-dataline|0000000000000001|0000000000000002|a\nfilter-dataline|0000000000000001|0000000000000002|b\n"
        );
        out.clear();
        data_lines(&mut out, 6, 1, 2, b".");
        assert!(out.ends_with(b"|.\n"));
    }
}
