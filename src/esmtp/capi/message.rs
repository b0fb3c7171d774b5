//! `smtp_message_t`: envelope, content callback, statuses and the
//! per-message extension settings.

use std::ffi::{c_char, c_int, c_long, c_ulong, c_void};

use super::callbacks::{smtp_messagecb_t, CMessageSource};
use super::inuse::{message_running, Using};
use super::{
    by_mode, check_args, cstr, e8bitmime_body, guarded, handle, need, ret_flags, smtp_message_t,
    smtp_recipient_t, smtp_status_t,
};
use crate::esmtp::message::{Body, ByMode, DsnRet, Recipient};

pub type smtp_enumerate_recipientcb_t =
    Option<unsafe extern "C" fn(smtp_recipient_t, *const c_char, *mut c_void)>;

/// NULL or "" gives `MAIL FROM:<>`; the event reports what was set.
///
/// # Safety
/// Pointer arguments must be null or valid as libESMTP documents them.
#[no_mangle]
pub unsafe extern "C" fn smtp_set_reverse_path(message: smtp_message_t, mailbox: *const c_char) -> c_int {
    guarded!(0, {
        // SAFETY: per the function's contract.
        let m = need!(unsafe { handle(message) }, 0);
        check_args!(!message_running(m), 0);
        // SAFETY: per the function's contract.
        let mailbox = unsafe { cstr(mailbox) };
        let mut rp = need!(m.reverse_path.try_borrow_mut().ok(), 0);
        *rp = mailbox.map(|s| s.to_owned());
        1
    })
}

/// # Safety
/// Pointer arguments must be null or valid as libESMTP documents them.
#[no_mangle]
pub unsafe extern "C" fn smtp_reverse_path_status(message: smtp_message_t) -> *const smtp_status_t {
    guarded!(std::ptr::null(), {
        // SAFETY: per the function's contract.
        let m = need!(unsafe { handle(message) }, std::ptr::null());
        m.reverse_path_status.as_ptr()
    })
}

/// # Safety
/// Pointer arguments must be null or valid as libESMTP documents them.
#[no_mangle]
pub unsafe extern "C" fn smtp_message_transfer_status(message: smtp_message_t) -> *const smtp_status_t {
    guarded!(std::ptr::null(), {
        // SAFETY: per the function's contract.
        let m = need!(unsafe { handle(message) }, std::ptr::null());
        m.message_status.as_ptr()
    })
}

/// Clears the MAIL and message statuses; recipients keep theirs.
///
/// # Safety
/// Pointer arguments must be null or valid as libESMTP documents them.
#[no_mangle]
pub unsafe extern "C" fn smtp_message_reset_status(message: smtp_message_t) -> c_int {
    guarded!(0, {
        // SAFETY: per the function's contract.
        let m = need!(unsafe { handle(message) }, 0);
        check_args!(!message_running(m), 0);
        m.reverse_path_status.reset();
        m.message_status.reset();
        1
    })
}

/// # Safety
/// Pointer arguments must be null or valid as libESMTP documents them.
#[no_mangle]
pub unsafe extern "C" fn smtp_add_recipient(
    message: smtp_message_t,
    mailbox: *const c_char,
) -> smtp_recipient_t {
    guarded!(std::ptr::null_mut(), {
        // SAFETY: per the function's contract.
        let (m, mailbox) = unsafe { (handle(message), cstr(mailbox)) };
        let (m, mailbox) = need!(m.zip(mailbox), std::ptr::null_mut());
        check_args!(!message_running(m), std::ptr::null_mut());
        (m.recipients.push(Recipient::new(mailbox.to_owned())) as *const Recipient).cast_mut()
    })
}

/// libESMTP 1.1.0 did not check `cb` and crashed on NULL; we refuse it.
///
/// # Safety
/// Pointer arguments must be null or valid as libESMTP documents them.
#[no_mangle]
pub unsafe extern "C" fn smtp_enumerate_recipients(
    message: smtp_message_t,
    cb: smtp_enumerate_recipientcb_t,
    arg: *mut c_void,
) -> c_int {
    guarded!(0, {
        // SAFETY: per the function's contract.
        let m = need!(unsafe { handle(message) }, 0);
        let cb = need!(cb, 0);
        let _walking = Using::walk_message(m);
        for r in m.recipients.iter() {
            // SAFETY: the application's enumeration callback.
            unsafe { cb((r as *const Recipient).cast_mut(), r.mailbox.as_ptr(), arg) };
        }
        1
    })
}

/// # Safety
/// Pointer arguments must be null or valid as libESMTP documents them.
#[no_mangle]
pub unsafe extern "C" fn smtp_set_messagecb(
    message: smtp_message_t,
    cb: smtp_messagecb_t,
    arg: *mut c_void,
) -> c_int {
    guarded!(0, {
        // SAFETY: per the function's contract.
        let m = need!(unsafe { handle(message) }, 0);
        check_args!(!message_running(m), 0);
        let cb = need!(cb, 0);
        let mut source = need!(m.source.try_borrow_mut().ok(), 0);
        *source = Some(Box::new(CMessageSource::new(cb, arg)));
        1
    })
}

/// # Safety
/// Pointer arguments must be null or valid as libESMTP documents them.
#[no_mangle]
pub unsafe extern "C" fn smtp_message_set_application_data(
    message: smtp_message_t,
    data: *mut c_void,
) -> *mut c_void {
    guarded!(std::ptr::null_mut(), {
        // SAFETY: per the function's contract.
        let m = need!(unsafe { handle(message) }, std::ptr::null_mut());
        m.app_data.replace(data)
    })
}

/// # Safety
/// Pointer arguments must be null or valid as libESMTP documents them.
#[no_mangle]
pub unsafe extern "C" fn smtp_message_set_application_data_release(
    message: smtp_message_t,
    data: *mut c_void,
    release: Option<unsafe extern "C" fn(*mut c_void)>,
) {
    guarded!((), {
        // SAFETY: per the function's contract.
        let m = need!(unsafe { handle(message) });
        m.app_data.set_with_release(data, release)
    })
}

/// # Safety
/// Pointer arguments must be null or valid as libESMTP documents them.
#[no_mangle]
pub unsafe extern "C" fn smtp_message_get_application_data(message: smtp_message_t) -> *mut c_void {
    guarded!(std::ptr::null_mut(), {
        // SAFETY: per the function's contract.
        let m = need!(unsafe { handle(message) }, std::ptr::null_mut());
        m.app_data.get()
    })
}

/// # Safety
/// Pointer arguments must be null or valid as libESMTP documents them.
#[no_mangle]
pub unsafe extern "C" fn smtp_dsn_set_ret(message: smtp_message_t, flags: ret_flags) -> c_int {
    guarded!(0, {
        // SAFETY: per the function's contract.
        let m = need!(unsafe { handle(message) }, 0);
        check_args!(!message_running(m), 0);
        m.dsn_ret.set(match flags {
            1 => DsnRet::Full,
            2 => DsnRet::Hdrs,
            _ => DsnRet::NotSet,
        });
        1
    })
}

/// libESMTP 1.1.0 crashed on a NULL envid; we refuse it.
///
/// # Safety
/// Pointer arguments must be null or valid as libESMTP documents them.
#[no_mangle]
pub unsafe extern "C" fn smtp_dsn_set_envid(message: smtp_message_t, envid: *const c_char) -> c_int {
    guarded!(0, {
        // SAFETY: per the function's contract.
        let (m, envid) = unsafe { (handle(message), cstr(envid)) };
        let (m, envid) = need!(m.zip(envid), 0);
        check_args!(!message_running(m), 0);
        let mut slot = need!(m.dsn_envid.try_borrow_mut().ok(), 0);
        *slot = Some(envid.to_owned());
        1
    })
}

/// # Safety
/// Pointer arguments must be null or valid as libESMTP documents them.
#[no_mangle]
pub unsafe extern "C" fn smtp_size_set_estimate(message: smtp_message_t, size: c_ulong) -> c_int {
    guarded!(0, {
        // SAFETY: per the function's contract.
        let m = need!(unsafe { handle(message) }, 0);
        check_args!(!message_running(m), 0);
        m.size_estimate.set(size);
        1
    })
}

/// # Safety
/// Pointer arguments must be null or valid as libESMTP documents them.
#[no_mangle]
pub unsafe extern "C" fn smtp_8bitmime_set_body(message: smtp_message_t, body: e8bitmime_body) -> c_int {
    guarded!(0, {
        // SAFETY: per the function's contract.
        let m = need!(unsafe { handle(message) }, 0);
        check_args!(!message_running(m), 0);
        m.body.set(match body {
            1 => Body::SevenBit,
            2 => Body::EightBitMime,
            3 => Body::BinaryMime,
            _ => Body::NotSet,
        });
        1
    })
}

/// `time` in seconds within ±999999999; RETURN needs a positive time.
///
/// # Safety
/// Pointer arguments must be null or valid as libESMTP documents them.
#[no_mangle]
pub unsafe extern "C" fn smtp_deliverby_set_mode(
    message: smtp_message_t,
    time: c_long,
    mode: by_mode,
    trace: c_int,
) -> c_int {
    guarded!(0, {
        // SAFETY: per the function's contract.
        let m = need!(unsafe { handle(message) }, 0);
        check_args!(!message_running(m), 0);
        check_args!((-999_999_999..=999_999_999).contains(&time), 0);
        check_args!(!(mode == 2 && time <= 0), 0);
        m.by_time.set(time);
        m.by_mode.set(match mode {
            1 => ByMode::Notify,
            2 => ByMode::Return,
            _ => ByMode::NotSet,
        });
        m.by_trace.set(trace != 0);
        1
    })
}

/// `struct { int state; int length; }` kept in `*ctx` by the string callback.
#[repr(C)]
struct StrState {
    state: c_int,
    length: c_int,
}

/// The buffer `_smtp_message_fp_cb` reads into, as in libESMTP.
const FP_BUFSIZE: usize = 8192;

/// Message callback reading a `FILE *` (`smtp_set_message_fp`).
///
/// # Safety
/// Pointer arguments must be null or valid as libESMTP documents them.
#[no_mangle]
pub unsafe extern "C" fn _smtp_message_fp_cb(
    ctx: *mut *mut c_void,
    len: *mut c_int,
    arg: *mut c_void,
) -> *const c_char {
    guarded!(std::ptr::null(), {
        if ctx.is_null() || arg.is_null() {
            return std::ptr::null();
        }
        let fp = arg.cast::<libc::FILE>();
        // SAFETY: `ctx` points to the callback's context slot, which holds
        // null or the buffer malloc'ed below; `fp` is the application's FILE.
        unsafe {
            if (*ctx).is_null() {
                *ctx = libc::malloc(FP_BUFSIZE);
                if (*ctx).is_null() {
                    return std::ptr::null();
                }
            }
            if len.is_null() {
                libc::rewind(fp);
                return std::ptr::null();
            }
            *len = libc::fread(*ctx, 1, FP_BUFSIZE, fp) as c_int;
            (*ctx).cast()
        }
    })
}

/// Message callback serving one C string (`smtp_set_message_str`).
///
/// # Safety
/// Pointer arguments must be null or valid as libESMTP documents them.
#[no_mangle]
pub unsafe extern "C" fn _smtp_message_str_cb(
    ctx: *mut *mut c_void,
    len: *mut c_int,
    arg: *mut c_void,
) -> *const c_char {
    guarded!(std::ptr::null(), {
        if ctx.is_null() || arg.is_null() {
            return std::ptr::null();
        }
        let s = arg.cast::<c_char>().cast_const();
        // SAFETY: `ctx` points to the callback's context slot, which holds
        // null or the StrState malloc'ed here (zeroed, so a missing rewind
        // reads a defined state); `arg` is the application's C string.
        unsafe {
            if (*ctx).is_null() {
                *ctx = libc::calloc(1, std::mem::size_of::<StrState>());
                if (*ctx).is_null() {
                    return std::ptr::null();
                }
            }
            let st = &mut *(*ctx).cast::<StrState>();
            if len.is_null() {
                st.state = 0;
                st.length = libc::strlen(s).min(c_int::MAX as usize) as c_int;
                return std::ptr::null();
            }
            if st.state == 0 {
                st.state = 1;
                *len = st.length;
            } else {
                *len = 0;
            }
            s
        }
    })
}
