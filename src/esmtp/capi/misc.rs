//! Version, error number and error text.

use std::ffi::{c_char, c_int, c_void};

use super::{check_args, guarded, need};
use crate::esmtp::error;

/// What libESMTP 1.1.0 reports for Ver_VERSION, Ver_SO_VERSION and
/// Ver_LT_VERSION: we are a drop-in for that exact release.
const VERSIONS: [&str; 3] = ["1.1.0", "6.2.0", "8:0:2"];

/// Copies a version string into `buf`. Like the original, a string that
/// exactly fills `len` is truncated by one byte and still succeeds.
///
/// # Safety
/// Pointer arguments must be null or valid as libESMTP documents them.
#[no_mangle]
pub unsafe extern "C" fn smtp_version(buf: *mut c_void, len: usize, what: c_int) -> c_int {
    guarded!(0, {
        check_args!(!buf.is_null() && len > 0, 0);
        let v = need!(usize::try_from(what).ok().and_then(|w| VERSIONS.get(w)), 0).as_bytes();
        // Like strlcpy, the truncated copy is made even when it fails.
        let n = v.len().min(len - 1);
        // SAFETY: the caller gave `len` writable bytes; we write n + 1 <= len.
        unsafe {
            std::ptr::copy_nonoverlapping(v.as_ptr(), buf.cast::<u8>(), n);
            *buf.cast::<u8>().add(n) = 0;
        }
        check_args!(v.len() <= len, 0);
        1
    })
}

/// # Safety
/// Pointer arguments must be null or valid as libESMTP documents them.
#[no_mangle]
pub unsafe extern "C" fn smtp_errno() -> c_int {
    guarded!(error::ERR_CLIENT_ERROR, { error::errno() })
}

/// The text for `error` in `buf`, truncated to fit; returns `buf`.
///
/// # Safety
/// Pointer arguments must be null or valid as libESMTP documents them.
#[no_mangle]
pub unsafe extern "C" fn smtp_strerror(error: c_int, buf: *mut c_char, buflen: usize) -> *mut c_char {
    guarded!(std::ptr::null_mut(), {
        check_args!(!buf.is_null() && buflen > 0, std::ptr::null_mut());
        if error < 0 {
            // SAFETY: XSI strerror_r writes at most `buflen` bytes, always
            // NUL-terminated, into the caller's buffer.
            unsafe { libc::strerror_r(-error, buf, buflen) };
            return buf;
        }
        let text = error::message(error).unwrap_or_else(|| format!("Error {error}").into_bytes());
        let n = text.len().min(buflen - 1);
        // SAFETY: the caller gave `buflen` writable bytes; we write n + 1.
        unsafe {
            std::ptr::copy_nonoverlapping(text.as_ptr(), buf.cast::<u8>(), n);
            *buf.add(n) = 0;
        }
        buf
    })
}
