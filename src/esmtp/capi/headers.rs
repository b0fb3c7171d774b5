//! The non-variadic halves of `smtp_set_header` and
//! `smtp_set_header_option`; their variadic entry points are in the C shim
//! (src/shim/esmtp_varargs.c), which reads the arguments each header takes.
//! These names are not exported from the shared object.

use std::ffi::{c_char, c_int, c_void, CStr};

use super::inuse::message_running;
use super::{check_args, cstr, guarded, handle, need, smtp_message_t};
use crate::esmtp::error;
use crate::esmtp::headers::{Kind, SetArgs};

/// How many pointer arguments follow `name` for this header (0 when the
/// call will be refused); -1 for NULL arguments.
///
/// # Safety
/// Pointer arguments must be null or valid as libESMTP documents them.
#[no_mangle]
pub unsafe extern "C" fn mailcompat_esmtp_header_arity(
    message: smtp_message_t,
    name: *const c_char,
) -> c_int {
    guarded!(-1, {
        // SAFETY: per the function's contract.
        let (Some(m), Some(name)) = (unsafe { handle(message) }, unsafe { cstr(name) }) else {
            return -1;
        };
        match m.headers.try_borrow_mut() {
            Ok(mut t) => t.arity(name.to_bytes()),
            Err(_) => 0,
        }
    })
}

/// # Safety
/// Pointer arguments must be null or valid as libESMTP documents them.
#[no_mangle]
pub unsafe extern "C" fn mailcompat_esmtp_set_header(
    message: smtp_message_t,
    name: *const c_char,
    a: *const c_void,
    b: *const c_void,
) -> c_int {
    guarded!(0, {
        // SAFETY: per the function's contract.
        let (m, name) = unsafe { (handle(message), cstr(name)) };
        let (m, name) = need!(m.zip(name), 0);
        check_args!(!message_running(m), 0);
        let mut table = need!(m.headers.try_borrow_mut().ok(), 0);
        let arity = table.arity(name.to_bytes());
        // SAFETY: the shim read `a` and `b` as the pointers this header's
        // arity says the caller passed: strings, or a `const time_t *`.
        let args = unsafe {
            let s = |p: *const c_void| cstr(p.cast::<c_char>());
            match (arity, kind_of(&mut table, name)) {
                (1, Some(Kind::Date)) => SetArgs::Time(a.cast::<libc::time_t>().as_ref().map(|t| *t)),
                (1, _) => SetArgs::One(s(a)),
                (2, _) => SetArgs::Pair(s(a), s(b)),
                _ => {
                    check_args!(false, 0);
                    return 0;
                }
            }
        };
        match table.set(name.to_bytes(), args) {
            Ok(()) => 1,
            Err(_) => {
                error::set_error(error::ERR_INVAL);
                0
            }
        }
    })
}

/// `flag` is the int argument for Hdr_OVERRIDE and Hdr_PROHIBIT.
///
/// # Safety
/// Pointer arguments must be null or valid as libESMTP documents them.
#[no_mangle]
pub unsafe extern "C" fn mailcompat_esmtp_set_header_option(
    message: smtp_message_t,
    name: *const c_char,
    option: c_int,
    flag: c_int,
) -> c_int {
    guarded!(0, {
        // SAFETY: per the function's contract.
        let (m, name) = unsafe { (handle(message), cstr(name)) };
        let (m, name) = need!(m.zip(name), 0);
        check_args!(!message_running(m), 0);
        let mut table = need!(m.headers.try_borrow_mut().ok(), 0);
        match table.set_option(name.to_bytes(), option, flag != 0) {
            Ok(()) => 1,
            Err(_) => {
                error::set_error(error::ERR_INVAL);
                0
            }
        }
    })
}

/// A placeholder in libESMTP too: only "off" is accepted.
///
/// # Safety
/// Pointer arguments must be null or valid as libESMTP documents them.
#[no_mangle]
pub unsafe extern "C" fn smtp_set_resent_headers(message: smtp_message_t, onoff: c_int) -> c_int {
    guarded!(0, {
        // SAFETY: per the function's contract.
        need!(unsafe { handle(message) }, 0);
        check_args!(onoff == 0, 0);
        1
    })
}

fn kind_of(table: &mut crate::esmtp::headers::HeaderTable, name: &CStr) -> Option<Kind> {
    table.kind(name.to_bytes())
}
