//! `smtp_recipient_t`: status, completion and DSN settings.

use std::ffi::{c_char, c_int, c_void};

use super::inuse::recipient_running;
use super::{check_args, cstr, guarded, handle, need, notify_flags, smtp_recipient_t, smtp_status_t};

/// # Safety
/// Pointer arguments must be null or valid as libESMTP documents them.
#[no_mangle]
pub unsafe extern "C" fn smtp_recipient_status(recipient: smtp_recipient_t) -> *const smtp_status_t {
    guarded!(std::ptr::null(), {
        // SAFETY: per the function's contract.
        let r = need!(unsafe { handle(recipient) }, std::ptr::null());
        r.status.as_ptr()
    })
}

/// 1 once the server has settled this recipient (accepted the message
/// for it, or refused it for good).
///
/// # Safety
/// Pointer arguments must be null or valid as libESMTP documents them.
#[no_mangle]
pub unsafe extern "C" fn smtp_recipient_check_complete(recipient: smtp_recipient_t) -> c_int {
    guarded!(0, {
        // SAFETY: per the function's contract.
        let r = need!(unsafe { handle(recipient) }, 0);
        r.complete.get() as c_int
    })
}

/// # Safety
/// Pointer arguments must be null or valid as libESMTP documents them.
#[no_mangle]
pub unsafe extern "C" fn smtp_recipient_reset_status(recipient: smtp_recipient_t) -> c_int {
    guarded!(0, {
        // SAFETY: per the function's contract.
        let r = need!(unsafe { handle(recipient) }, 0);
        check_args!(!recipient_running(r), 0);
        r.status.reset();
        r.complete.set(false);
        1
    })
}

/// # Safety
/// Pointer arguments must be null or valid as libESMTP documents them.
#[no_mangle]
pub unsafe extern "C" fn smtp_recipient_set_application_data(
    recipient: smtp_recipient_t,
    data: *mut c_void,
) -> *mut c_void {
    guarded!(std::ptr::null_mut(), {
        // SAFETY: per the function's contract.
        let r = need!(unsafe { handle(recipient) }, std::ptr::null_mut());
        r.app_data.replace(data)
    })
}

/// # Safety
/// Pointer arguments must be null or valid as libESMTP documents them.
#[no_mangle]
pub unsafe extern "C" fn smtp_recipient_set_application_data_release(
    recipient: smtp_recipient_t,
    data: *mut c_void,
    release: Option<unsafe extern "C" fn(*mut c_void)>,
) {
    guarded!((), {
        // SAFETY: per the function's contract.
        let r = need!(unsafe { handle(recipient) });
        r.app_data.set_with_release(data, release)
    })
}

/// # Safety
/// Pointer arguments must be null or valid as libESMTP documents them.
#[no_mangle]
pub unsafe extern "C" fn smtp_recipient_get_application_data(recipient: smtp_recipient_t) -> *mut c_void {
    guarded!(std::ptr::null_mut(), {
        // SAFETY: per the function's contract.
        let r = need!(unsafe { handle(recipient) }, std::ptr::null_mut());
        r.app_data.get()
    })
}

/// # Safety
/// Pointer arguments must be null or valid as libESMTP documents them.
#[no_mangle]
pub unsafe extern "C" fn smtp_dsn_set_notify(recipient: smtp_recipient_t, flags: notify_flags) -> c_int {
    guarded!(0, {
        // SAFETY: per the function's contract.
        let r = need!(unsafe { handle(recipient) }, 0);
        check_args!(!recipient_running(r), 0);
        r.dsn_notify.set(flags);
        1
    })
}

/// libESMTP 1.1.0 crashed on NULL strings; we refuse them.
///
/// # Safety
/// Pointer arguments must be null or valid as libESMTP documents them.
#[no_mangle]
pub unsafe extern "C" fn smtp_dsn_set_orcpt(
    recipient: smtp_recipient_t,
    address_type: *const c_char,
    address: *const c_char,
) -> c_int {
    guarded!(0, {
        // SAFETY: per the function's contract.
        let (r, t, a) = unsafe { (handle(recipient), cstr(address_type), cstr(address)) };
        let r = need!(r, 0);
        check_args!(!recipient_running(r), 0);
        let (t, a) = need!(t.zip(a), 0);
        let mut slot = need!(r.dsn_orcpt.try_borrow_mut().ok(), 0);
        *slot = Some((t.to_owned(), a.to_owned()));
        1
    })
}
