//! MAIL and RCPT command lines with their extension parameters.

use super::extensions::Extensions;
use super::message::{Body, ByMode, DsnRet, Message, Recipient};

/// RFC 3461 xtext: `+HH` for bytes outside `!`..`~` and for `+` and `=`.
/// (libESMTP 1.1.0 used a 256-byte buffer and sent `(null)` past it.)
pub fn xtext(out: &mut Vec<u8>, s: &[u8]) {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    for &c in s {
        if (b'!'..=b'~').contains(&c) && c != b'+' && c != b'=' {
            out.push(c);
        } else {
            out.extend_from_slice(&[b'+', HEX[(c >> 4) as usize], HEX[(c & 15) as usize]]);
        }
    }
}

/// Appends `MAIL FROM:<...>` with SIZE, RET, ENVID, BODY and BY as
/// announced. `by_time` is the (possibly adjusted) DELIVERBY time.
pub fn mail_command(out: &mut Vec<u8>, msg: &Message, ext: &Extensions, by_time: i64) {
    out.extend_from_slice(b"MAIL FROM:<");
    if let Some(rp) = msg.reverse_path.borrow().as_ref() {
        out.extend_from_slice(rp.to_bytes());
    }
    out.push(b'>');
    let size = msg.size_estimate.get();
    if ext.size && size > 0 {
        out.extend_from_slice(format!(" SIZE={size}").as_bytes());
    }
    if ext.dsn {
        match msg.dsn_ret.get() {
            DsnRet::Full => out.extend_from_slice(b" RET=FULL"),
            DsnRet::Hdrs => out.extend_from_slice(b" RET=HDRS"),
            DsnRet::NotSet => {}
        }
        if let Some(envid) = msg.dsn_envid.borrow().as_ref() {
            out.extend_from_slice(b" ENVID=");
            xtext(out, envid.to_bytes());
        }
    }
    if ext.eightbitmime || ext.binarymime {
        match msg.body.get() {
            Body::NotSet => {}
            Body::SevenBit => out.extend_from_slice(b" BODY=7BIT"),
            Body::EightBitMime => out.extend_from_slice(b" BODY=8BITMIME"),
            Body::BinaryMime => out.extend_from_slice(b" BODY=BINARYMIME"),
        }
    }
    if ext.deliverby {
        // RFC 2852: N(otify) or R(eturn); 1.1.0 sent R for NOTIFY and a
        // stray byte for RETURN.
        let mode = match msg.by_mode.get() {
            ByMode::NotSet => None,
            ByMode::Notify => Some('N'),
            ByMode::Return => Some('R'),
        };
        if let Some(mode) = mode {
            let trace = if msg.by_trace.get() { "T" } else { "" };
            out.extend_from_slice(format!(" BY={by_time}{mode}{trace}").as_bytes());
        }
    }
    out.extend_from_slice(b"\r\n");
}

/// Appends `RCPT TO:<...>` with NOTIFY and ORCPT when DSN is announced.
pub fn rcpt_command(out: &mut Vec<u8>, rcpt: &Recipient, ext: &Extensions) {
    out.extend_from_slice(b"RCPT TO:<");
    out.extend_from_slice(rcpt.mailbox.to_bytes());
    out.push(b'>');
    if ext.dsn {
        let notify = rcpt.dsn_notify.get();
        if notify == -1 {
            out.extend_from_slice(b" NOTIFY=NEVER");
        } else if notify != 0 {
            let names: Vec<&[u8]> = [(1, &b"SUCCESS"[..]), (2, b"FAILURE"), (4, b"DELAY")]
                .iter()
                .filter(|(bit, _)| notify & bit != 0)
                .map(|&(_, n)| n)
                .collect();
            out.extend_from_slice(b" NOTIFY=");
            out.extend_from_slice(&names.join(&b","[..]));
        }
        if let Some((kind, addr)) = rcpt.dsn_orcpt.borrow().as_ref() {
            out.extend_from_slice(b" ORCPT=");
            out.extend_from_slice(kind.to_bytes());
            out.push(b';');
            xtext(out, addr.to_bytes());
        }
    }
    out.extend_from_slice(b"\r\n");
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::ffi::CString;

    #[test]
    fn xtext_escapes() {
        let mut out = Vec::new();
        xtext(&mut out, b"id with space+plus=eq");
        assert_eq!(out, b"id+20with+20space+2Bplus+3Deq");
    }

    #[test]
    fn mail_and_rcpt_parameters() {
        let ext =
            Extensions { size: true, dsn: true, eightbitmime: true, deliverby: true, ..Default::default() };
        let m = Message::default();
        *m.reverse_path.borrow_mut() = Some(CString::new("a@b").unwrap());
        m.size_estimate.set(1234);
        m.dsn_ret.set(DsnRet::Hdrs);
        *m.dsn_envid.borrow_mut() = Some(CString::new("x y").unwrap());
        m.body.set(Body::EightBitMime);
        m.by_mode.set(ByMode::Notify);
        m.by_trace.set(true);
        let line = |f: &dyn Fn(&mut Vec<u8>)| {
            let mut out = Vec::new();
            f(&mut out);
            out
        };
        assert_eq!(
            line(&|o| mail_command(o, &m, &ext, 100)),
            b"MAIL FROM:<a@b> SIZE=1234 RET=HDRS ENVID=x+20y BODY=8BITMIME BY=100NT\r\n"
        );
        let r = Recipient::new(CString::new("c@d").unwrap());
        r.dsn_notify.set(1 | 4);
        *r.dsn_orcpt.borrow_mut() = Some((CString::new("rfc822").unwrap(), CString::new("c@d").unwrap()));
        assert_eq!(
            line(&|o| rcpt_command(o, &r, &ext)),
            b"RCPT TO:<c@d> NOTIFY=SUCCESS,DELAY ORCPT=rfc822;c@d\r\n"
        );
        assert_eq!(line(&|o| rcpt_command(o, &r, &Extensions::default())), b"RCPT TO:<c@d>\r\n");
    }
}
