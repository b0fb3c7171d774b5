//! `auth_context_t`: the auth-client.h API.
//!
//! The context keeps every setting libESMTP's does. SASL mechanisms arrive
//! with the SASL work (issue 5); until then `auth_set_mechanism` finds none
//! and a session that needs AUTH fails with `SMTP_ERR_CLIENT_ERROR` rather
//! than sending mail unauthenticated. As in libESMTP, argument checks in
//! this API return the failure value without touching `smtp_errno`.

use std::cell::{Cell, RefCell};
use std::ffi::{c_char, c_int, c_uint, c_void, CString};

use super::{cstr, guarded, handle};

/// `AUTH_PLUGIN_EXTERNAL`: only `auth_set_external_id` may change it.
const AUTH_PLUGIN_EXTERNAL: c_uint = 0x04;

#[repr(C)]
pub struct auth_client_request {
    pub name: *const c_char,
    pub flags: c_uint,
    pub prompt: *const c_char,
    pub size: c_uint,
}

pub type auth_client_request_t = *const auth_client_request;
pub type auth_interact_t =
    Option<unsafe extern "C" fn(auth_client_request_t, *mut *mut c_char, c_int, *mut c_void) -> c_int>;
pub type auth_context_t = *mut AuthContext;

#[derive(Default)]
pub struct AuthContext {
    flags: Cell<c_uint>,
    min_ssf: Cell<c_int>,
    interact: Cell<auth_interact_t>,
    interact_arg: Cell<usize>,
    external_id: RefCell<Option<CString>>,
}

/// Whether `ctx` is a context with an interact callback.
///
/// # Safety
/// `ctx` must be null or a live context from `auth_create_context`.
pub(crate) unsafe fn context_enabled(ctx: *mut c_void) -> bool {
    // SAFETY: per the contract above.
    unsafe { handle(ctx.cast::<AuthContext>()) }.is_some_and(|c| c.interact.get().is_some())
}

/// # Safety
/// Pointer arguments must be null or valid as libESMTP documents them.
#[no_mangle]
pub unsafe extern "C" fn auth_client_init() {
    guarded!((), {})
}

/// # Safety
/// Pointer arguments must be null or valid as libESMTP documents them.
#[no_mangle]
pub unsafe extern "C" fn auth_client_exit() {
    guarded!((), {})
}

/// # Safety
/// Pointer arguments must be null or valid as libESMTP documents them.
#[no_mangle]
pub unsafe extern "C" fn auth_create_context() -> auth_context_t {
    guarded!(std::ptr::null_mut(), { Box::into_raw(Box::default()) })
}

/// # Safety
/// Pointer arguments must be null or valid as libESMTP documents them.
#[no_mangle]
pub unsafe extern "C" fn auth_destroy_context(context: auth_context_t) -> c_int {
    guarded!(0, {
        if context.is_null() {
            return 0;
        }
        // SAFETY: `context` came from auth_create_context (Box::into_raw).
        drop(unsafe { Box::from_raw(context) });
        1
    })
}

/// # Safety
/// Pointer arguments must be null or valid as libESMTP documents them.
#[no_mangle]
pub unsafe extern "C" fn auth_set_mechanism_flags(
    context: auth_context_t,
    set: c_uint,
    clear: c_uint,
) -> c_int {
    guarded!(0, {
        // SAFETY: per the function's contract.
        let Some(c) = (unsafe { handle(context) }) else {
            return 0;
        };
        let flags = (c.flags.get() & (AUTH_PLUGIN_EXTERNAL | !clear)) | (!AUTH_PLUGIN_EXTERNAL & set);
        c.flags.set(flags);
        1
    })
}

/// # Safety
/// Pointer arguments must be null or valid as libESMTP documents them.
#[no_mangle]
pub unsafe extern "C" fn auth_set_mechanism_ssf(context: auth_context_t, min_ssf: c_int) -> c_int {
    guarded!(0, {
        // SAFETY: per the function's contract.
        let Some(c) = (unsafe { handle(context) }) else {
            return 0;
        };
        c.min_ssf.set(min_ssf);
        1
    })
}

/// # Safety
/// Pointer arguments must be null or valid as libESMTP documents them.
#[no_mangle]
pub unsafe extern "C" fn auth_set_interact_cb(
    context: auth_context_t,
    interact: auth_interact_t,
    arg: *mut c_void,
) -> c_int {
    guarded!(0, {
        // SAFETY: per the function's contract.
        let Some(c) = (unsafe { handle(context) }) else {
            return 0;
        };
        c.interact.set(interact);
        c.interact_arg.set(arg as usize);
        1
    })
}

/// # Safety
/// Pointer arguments must be null or valid as libESMTP documents them.
#[no_mangle]
pub unsafe extern "C" fn auth_client_enabled(context: auth_context_t) -> c_int {
    guarded!(0, {
        // SAFETY: per the function's contract.
        unsafe { context_enabled(context.cast()) as c_int }
    })
}

/// No mechanism is built in yet (SASL is issue 5).
///
/// # Safety
/// Pointer arguments must be null or valid as libESMTP documents them.
#[no_mangle]
pub unsafe extern "C" fn auth_set_mechanism(context: auth_context_t, name: *const c_char) -> c_int {
    guarded!(0, {
        // SAFETY: per the function's contract.
        let _ = unsafe { (handle(context), cstr(name)) };
        0
    })
}

/// # Safety
/// Pointer arguments must be null or valid as libESMTP documents them.
#[no_mangle]
pub unsafe extern "C" fn auth_mechanism_name(context: auth_context_t) -> *const c_char {
    guarded!(std::ptr::null(), {
        let _ = context;
        std::ptr::null()
    })
}

/// # Safety
/// Pointer arguments must be null or valid as libESMTP documents them.
#[no_mangle]
pub unsafe extern "C" fn auth_response(
    context: auth_context_t,
    challenge: *const c_char,
    len: *mut c_int,
) -> *const c_char {
    guarded!(std::ptr::null(), {
        let _ = (context, challenge, len);
        std::ptr::null()
    })
}

/// The selected mechanism's security strength; -1 with none selected.
///
/// # Safety
/// Pointer arguments must be null or valid as libESMTP documents them.
#[no_mangle]
pub unsafe extern "C" fn auth_get_ssf(context: auth_context_t) -> c_int {
    guarded!(-1, {
        let _ = context;
        -1
    })
}

/// No mechanism negotiates a security layer: nothing to encode.
///
/// # Safety
/// Pointer arguments must be null or valid as libESMTP documents them.
#[no_mangle]
pub unsafe extern "C" fn auth_encode(
    dstbuf: *mut *mut c_char,
    dstlen: *mut c_int,
    srcbuf: *const c_char,
    srclen: c_int,
    arg: *mut c_void,
) {
    guarded!((), {
        let _ = (dstbuf, dstlen, srcbuf, srclen, arg);
    })
}

/// # Safety
/// Pointer arguments must be null or valid as libESMTP documents them.
#[no_mangle]
pub unsafe extern "C" fn auth_decode(
    dstbuf: *mut *mut c_char,
    dstlen: *mut c_int,
    srcbuf: *const c_char,
    srclen: c_int,
    arg: *mut c_void,
) {
    guarded!((), {
        let _ = (dstbuf, dstlen, srcbuf, srclen, arg);
    })
}

/// # Safety
/// Pointer arguments must be null or valid as libESMTP documents them.
#[no_mangle]
pub unsafe extern "C" fn auth_set_external_id(context: auth_context_t, identity: *const c_char) -> c_int {
    guarded!(0, {
        // SAFETY: per the function's contract.
        let Some(c) = (unsafe { handle(context) }) else {
            return 0;
        };
        // SAFETY: per the function's contract.
        let id = unsafe { cstr(identity) };
        let mut slot = c.external_id.borrow_mut();
        match id {
            Some(id) => {
                c.flags.set(c.flags.get() | AUTH_PLUGIN_EXTERNAL);
                *slot = Some(id.to_owned());
            }
            None => {
                c.flags.set(c.flags.get() & !AUTH_PLUGIN_EXTERNAL);
                *slot = None;
            }
        }
        1
    })
}
