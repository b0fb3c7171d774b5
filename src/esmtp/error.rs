//! libESMTP's per-thread error state behind `smtp_errno()`.
//!
//! The original keeps two numbers per thread: a libESMTP code (system errors
//! stored negated) and a getaddrinfo code that is mapped on read. Errors are
//! sticky: nothing clears them on success, and callers rely on that.

use std::cell::Cell;

pub const ERR_NOTHING_TO_DO: i32 = 2;
/// Our extension: a TLS policy (DANE, MTA-STS) forbade delivery.
pub const ERR_TLS_POLICY: i32 = 100;
/// Our extension: the MX domain accepts no mail (null MX, RFC 7505).
pub const ERR_NULL_MX: i32 = 101;
/// Our extension: a domain has no usable `_smtp._tls` record (RFC 8460
/// §3), so it takes no TLS reports.
pub const ERR_TLSRPT_NO_RECORD: i32 = 102;
pub const ERR_DROPPED_CONNECTION: i32 = 3;
pub const ERR_INVALID_RESPONSE_SYNTAX: i32 = 4;
pub const ERR_STATUS_MISMATCH: i32 = 5;
pub const ERR_INVALID_RESPONSE_STATUS: i32 = 6;
pub const ERR_INVAL: i32 = 7;
pub const ERR_EXTENSION_NOT_AVAILABLE: i32 = 8;
pub const ERR_EAI_ADDRFAMILY: i32 = 9;
pub const ERR_EAI_NODATA: i32 = 10;
pub const ERR_EAI_FAIL: i32 = 11;
pub const ERR_EAI_AGAIN: i32 = 12;
pub const ERR_EAI_MEMORY: i32 = 13;
pub const ERR_EAI_FAMILY: i32 = 14;
pub const ERR_EAI_BADFLAGS: i32 = 15;
pub const ERR_EAI_NONAME: i32 = 16;
pub const ERR_EAI_SERVICE: i32 = 17;
pub const ERR_EAI_SOCKTYPE: i32 = 18;
pub const ERR_UNTERMINATED_RESPONSE: i32 = 19;
pub const ERR_CLIENT_ERROR: i32 = 20;

#[derive(Clone, Copy, Default)]
struct ErrorState {
    error: i32,
    herror: i32,
}

thread_local! {
    static STATE: Cell<ErrorState> = const { Cell::new(ErrorState { error: 0, herror: 0 }) };
}

/// Records a libESMTP error code.
pub fn set_error(code: i32) {
    STATE.with(|s| s.set(ErrorState { error: code, herror: 0 }));
}

/// Records a system error; libESMTP stores these negated.
pub fn set_errno(errno: i32) {
    set_error(-errno);
}

/// Records a getaddrinfo failure. `EAI_SYSTEM` keeps the system errno
/// *positive*, as the original does (it collides with libESMTP's codes).
pub fn set_herror(gai: i32, errno: i32) {
    STATE.with(|s| {
        let mut st = s.get();
        st.herror = gai;
        if gai == libc::EAI_SYSTEM {
            st.error = errno;
        }
        s.set(st);
    });
}

/// The error state, to put back after internal work whose errors are
/// reported another way (a report's delivery attempts).
#[derive(Clone, Copy)]
pub struct Saved(ErrorState);

pub fn save() -> Saved {
    Saved(STATE.with(|s| s.get()))
}

pub fn restore(saved: Saved) {
    STATE.with(|s| s.set(saved.0));
}

/// What `smtp_strerror` says of the current error, for a detail text.
pub fn describe() -> String {
    match errno() {
        e if e < 0 => std::io::Error::from_raw_os_error(-e).to_string(),
        e => message(e).map_or_else(|| format!("Error {e}"), |t| String::from_utf8_lossy(&t).into_owned()),
    }
}

pub fn errno() -> i32 {
    let st = STATE.with(|s| s.get());
    if st.herror == 0 || st.herror == libc::EAI_SYSTEM {
        st.error
    } else {
        eai_to_code(st.herror)
    }
}

/// The original was built without `EAI_ADDRFAMILY`/`EAI_NODATA` in scope,
/// so those two glibc codes fall through to `SMTP_ERR_INVAL` like any
/// unknown code.
fn eai_to_code(gai: i32) -> i32 {
    match gai {
        libc::EAI_AGAIN => ERR_EAI_AGAIN,
        libc::EAI_FAIL => ERR_EAI_FAIL,
        libc::EAI_MEMORY => ERR_EAI_MEMORY,
        libc::EAI_FAMILY => ERR_EAI_FAMILY,
        libc::EAI_BADFLAGS => ERR_EAI_BADFLAGS,
        libc::EAI_NONAME => ERR_EAI_NONAME,
        libc::EAI_SERVICE => ERR_EAI_SERVICE,
        libc::EAI_SOCKTYPE => ERR_EAI_SOCKTYPE,
        _ => ERR_INVAL,
    }
}

fn code_to_eai(code: i32) -> Option<i32> {
    Some(match code {
        ERR_EAI_AGAIN => libc::EAI_AGAIN,
        ERR_EAI_FAIL => libc::EAI_FAIL,
        ERR_EAI_MEMORY => libc::EAI_MEMORY,
        ERR_EAI_FAMILY => libc::EAI_FAMILY,
        ERR_EAI_BADFLAGS => libc::EAI_BADFLAGS,
        ERR_EAI_NONAME => libc::EAI_NONAME,
        ERR_EAI_SERVICE => libc::EAI_SERVICE,
        ERR_EAI_SOCKTYPE => libc::EAI_SOCKTYPE,
        _ => return None,
    })
}

/// The message `smtp_strerror` gives for a non-negative code; `None`
/// means "format as `Error %d`".
pub fn message(code: i32) -> Option<Vec<u8>> {
    if let Some(gai) = code_to_eai(code) {
        // SAFETY: gai_strerror returns a pointer to a static string.
        let s = unsafe { std::ffi::CStr::from_ptr(libc::gai_strerror(gai)) };
        return Some(s.to_bytes().to_vec());
    }
    let text: &str = match code {
        0 => "No Error",
        1 => "",
        ERR_NOTHING_TO_DO => "Nothing to do",
        ERR_DROPPED_CONNECTION => "SMTP server dropped connection",
        ERR_INVALID_RESPONSE_SYNTAX => "Invalid SMTP syntax in server response",
        ERR_STATUS_MISMATCH => "SMTP Status code mismatch on continuation line",
        ERR_INVALID_RESPONSE_STATUS => "Invalid SMTP status code in server response",
        ERR_INVAL => "Invalid API function argument",
        ERR_EXTENSION_NOT_AVAILABLE => "Requested SMTP extension not available",
        ERR_UNTERMINATED_RESPONSE => "Unterminated server response",
        ERR_CLIENT_ERROR => "Client error",
        ERR_TLS_POLICY => "TLS policy not satisfied",
        ERR_NULL_MX => "The domain accepts no mail (null MX)",
        ERR_TLSRPT_NO_RECORD => "No usable TLS reporting record",
        _ => return None,
    };
    Some(text.as_bytes().to_vec())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_are_sticky_and_system_errors_negative() {
        set_errno(libc::ECONNREFUSED);
        assert_eq!(errno(), -libc::ECONNREFUSED);
        set_herror(libc::EAI_NONAME, 0);
        assert_eq!(errno(), ERR_EAI_NONAME);
        set_herror(libc::EAI_SYSTEM, libc::EMFILE);
        assert_eq!(errno(), libc::EMFILE);
        set_error(ERR_INVAL);
        assert_eq!(errno(), ERR_INVAL);
    }

    #[test]
    fn messages_match_the_original_table() {
        assert_eq!(message(0).unwrap(), b"No Error");
        assert_eq!(message(1).unwrap(), b"");
        assert!(message(9).is_none());
        assert!(message(21).is_none());
        assert_eq!(message(ERR_TLSRPT_NO_RECORD).unwrap(), b"No usable TLS reporting record");
        assert_eq!(message(16).unwrap(), b"Name or service not known");
    }
}
