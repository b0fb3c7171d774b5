//! The libESMTP C API: `extern "C"` functions that check and convert their
//! arguments, call the core, and map the result to libESMTP's conventions.
//!
//! Every export runs inside [`crate::common::guard::guard`]: a panic becomes
//! the function's failure value with `SMTP_ERR_CLIENT_ERROR` set, never an
//! unwind into C. NULL and invalid arguments set `SMTP_ERR_INVAL` and
//! return the failure value, as libESMTP's `SMTPAPI_CHECK_ARGS` does.

#![allow(non_camel_case_types)]

pub mod auth;
pub mod callbacks;
pub mod etrn;
pub mod ext;
pub mod headers;
mod inuse;
pub mod message;
pub mod misc;
pub mod recipient;
pub mod session;
pub mod tlsrpt_submit;
pub mod types;

use std::ffi::{c_char, CStr};

use super::error;

pub use types::*;

pub(crate) fn on_panic() {
    error::set_error(error::ERR_CLIENT_ERROR);
}

/// Runs an export's body behind the panic guard; a panic yields `$fail`
/// with `SMTP_ERR_CLIENT_ERROR` set. (A wrapper inside each function, not a
/// macro defining it, so cbindgen sees every signature.)
macro_rules! guarded {
    ($fail:expr, $body:block) => {
        $crate::common::guard::guard(
            || {
                $crate::esmtp::capi::on_panic();
                $fail
            },
            move || $body,
        )
    };
}
pub(crate) use guarded;

/// Sets `SMTP_ERR_INVAL` and returns `ret` unless `test` holds.
macro_rules! check_args {
    ($test:expr, $ret:expr) => {
        if !$test {
            $crate::esmtp::error::set_error($crate::esmtp::error::ERR_INVAL);
            return $ret;
        }
    };
}
pub(crate) use check_args;

/// Unwraps an argument, or sets `SMTP_ERR_INVAL` and returns `ret`.
macro_rules! need {
    ($opt:expr) => {
        match $opt {
            Some(v) => v,
            None => {
                $crate::esmtp::error::set_error($crate::esmtp::error::ERR_INVAL);
                return;
            }
        }
    };
    ($opt:expr, $ret:expr) => {
        match $opt {
            Some(v) => v,
            None => {
                $crate::esmtp::error::set_error($crate::esmtp::error::ERR_INVAL);
                return $ret;
            }
        }
    };
}
pub(crate) use need;

/// Borrows a handle passed in from C.
///
/// # Safety
/// `ptr` must be null or a handle this library returned that has not been
/// destroyed. Handles are only used on the thread running their session.
pub(crate) unsafe fn handle<'a, T>(ptr: *mut T) -> Option<&'a T> {
    // SAFETY: per the contract above; all mutation goes through Cell and
    // RefCell, so shared references never alias a `&mut`.
    unsafe { ptr.cast_const().as_ref() }
}

/// Borrows a C string argument.
///
/// # Safety
/// `ptr` must be null or point to a NUL-terminated string that stays valid
/// for the call.
pub(crate) unsafe fn cstr<'a>(ptr: *const c_char) -> Option<&'a CStr> {
    if ptr.is_null() {
        None
    } else {
        // SAFETY: per the contract above.
        Some(unsafe { CStr::from_ptr(ptr) })
    }
}
