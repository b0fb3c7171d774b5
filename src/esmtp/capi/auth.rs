//! `auth_context_t`: the auth-client.h API.
//!
//! The context keeps every setting libESMTP's does, and the selected
//! mechanism (built in: `crate::esmtp::sasl`), whose requests go to the
//! application's interact callback. As in libESMTP, argument checks in this
//! API return the failure value without touching `smtp_errno`.

use std::cell::{Cell, RefCell};
use std::ffi::{c_char, c_int, c_uint, c_void, CStr, CString};

use super::{cstr, guarded, handle};
use crate::esmtp::sasl::{self, Authenticator, Interact, Mechanism, Request};

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
    mechanism: RefCell<Option<Box<dyn Mechanism>>>,
    /// `auth_response`'s last answer, NUL-terminated; valid until the next.
    last: RefCell<Vec<u8>>,
}

impl Interact for AuthContext {
    fn ask(&self, requests: &[Request]) -> Option<Vec<Vec<u8>>> {
        let cb = self.interact.get()?;
        let reqs: Vec<auth_client_request> = requests
            .iter()
            .map(|r| auth_client_request {
                name: r.name.as_ptr(),
                flags: r.flags,
                prompt: r.prompt.as_ptr(),
                size: r.size,
            })
            .collect();
        let mut results: Vec<*mut c_char> = vec![std::ptr::null_mut(); reqs.len()];
        // SAFETY: the interact contract: `reqs` and `results` hold `fields`
        // entries each; the callback stores string pointers in `results`.
        let ok = unsafe {
            cb(
                reqs.as_ptr(),
                results.as_mut_ptr(),
                reqs.len() as c_int,
                self.interact_arg.get() as *mut c_void,
            )
        };
        if ok == 0 {
            return None;
        }
        results
            .iter()
            // A value left NULL is a refusal (libESMTP's plugins crashed).
            // SAFETY: non-NULL results are the application's C strings,
            // valid until the callback is called again; copied at once.
            .map(|&p| (!p.is_null()).then(|| unsafe { CStr::from_ptr(p) }.to_bytes().to_vec()))
            .collect()
    }
}

impl Authenticator for AuthContext {
    fn select(&self, name: &[u8]) -> bool {
        *self.mechanism.borrow_mut() = None;
        let m = if name.eq_ignore_ascii_case(b"EXTERNAL") {
            match &*self.external_id.borrow() {
                Some(id) => sasl::external(id.to_bytes()),
                None => return false,
            }
        } else {
            match sasl::by_name(name) {
                Some(m) => m,
                None => return false,
            }
        };
        // libESMTP's rules: strong enough, and of a kind the application
        // allowed (plain-text mechanisms only if it said so).
        let kinds = m.flags() & (sasl::PLUGIN_ANONYMOUS | sasl::PLUGIN_PLAIN | sasl::PLUGIN_EXTERNAL);
        if m.ssf() < self.min_ssf.get() || kinds & !self.flags.get() != 0 {
            return false;
        }
        *self.mechanism.borrow_mut() = Some(m);
        true
    }

    fn response(&self, challenge: Option<&[u8]>) -> Option<Vec<u8>> {
        let mut slot = self.mechanism.borrow_mut();
        let m = slot.as_mut()?;
        if m.flags() & sasl::PLUGIN_EXTERNAL == 0 && self.interact.get().is_none() {
            return None;
        }
        m.respond(challenge, self)
    }
}

/// `ctx` as the engine's authenticator, when it has an interact callback.
///
/// # Safety
/// `ctx` must be null or a live context from `auth_create_context` that
/// outlives the returned reference.
pub(crate) unsafe fn enabled_context<'a>(ctx: *mut c_void) -> Option<&'a dyn Authenticator> {
    // SAFETY: per the contract above.
    let c = unsafe { handle(ctx.cast::<AuthContext>()) }?;
    c.interact.get().is_some().then_some(c as &dyn Authenticator)
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
        unsafe { enabled_context(context.cast()).is_some() as c_int }
    })
}

/// Selects the mechanism called `name` (any case; `CRAMMD5`, libESMTP's
/// plugin file name, also finds CRAM-MD5).
///
/// # Safety
/// Pointer arguments must be null or valid as libESMTP documents them.
#[no_mangle]
pub unsafe extern "C" fn auth_set_mechanism(context: auth_context_t, name: *const c_char) -> c_int {
    guarded!(0, {
        // SAFETY: per the function's contract.
        let (Some(c), Some(name)) = (unsafe { (handle(context), cstr(name)) }) else {
            return 0;
        };
        c.select(name.to_bytes()) as c_int
    })
}

/// # Safety
/// Pointer arguments must be null or valid as libESMTP documents them.
#[no_mangle]
pub unsafe extern "C" fn auth_mechanism_name(context: auth_context_t) -> *const c_char {
    guarded!(std::ptr::null(), {
        // SAFETY: per the function's contract.
        let Some(c) = (unsafe { handle(context) }) else {
            return std::ptr::null();
        };
        let m = c.mechanism.borrow();
        m.as_ref().map_or(std::ptr::null(), |m| m.name().as_ptr())
    })
}

/// The selected mechanism's answer to `challenge` (`*len` bytes), or with
/// a NULL challenge its initial response; the answer's length goes to
/// `*len`. The answer stays valid until the next call.
///
/// # Safety
/// Pointer arguments must be null or valid as libESMTP documents them.
#[no_mangle]
pub unsafe extern "C" fn auth_response(
    context: auth_context_t,
    challenge: *const c_char,
    len: *mut c_int,
) -> *const c_char {
    guarded!(std::ptr::null(), {
        // SAFETY: per the function's contract.
        let (Some(c), Some(len)) = (unsafe { (handle(context), len.as_mut()) }) else {
            return std::ptr::null();
        };
        let challenge = (!challenge.is_null()).then(|| {
            // SAFETY: the caller passes `*len` readable bytes.
            unsafe { std::slice::from_raw_parts(challenge.cast::<u8>(), (*len).max(0) as usize) }
        });
        let Some(mut answer) = c.response(challenge) else {
            return std::ptr::null();
        };
        *len = answer.len() as c_int;
        answer.push(0);
        let mut last = c.last.borrow_mut();
        *last = answer;
        last.as_ptr().cast()
    })
}

/// The selected mechanism's security strength; -1 with none selected.
///
/// # Safety
/// Pointer arguments must be null or valid as libESMTP documents them.
#[no_mangle]
pub unsafe extern "C" fn auth_get_ssf(context: auth_context_t) -> c_int {
    guarded!(-1, {
        // SAFETY: per the function's contract.
        let Some(c) = (unsafe { handle(context) }) else {
            return -1;
        };
        let m = c.mechanism.borrow();
        m.as_ref().map_or(-1, |m| m.ssf())
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
