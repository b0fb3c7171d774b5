//! `smtp_etrn_node_t`: RFC 1985 remote queue starting.

use std::ffi::{c_char, c_int, c_void};

use super::inuse::{session_running, Using};
use super::{check_args, cstr, guarded, handle, need, smtp_etrn_node_t, smtp_session_t, smtp_status_t};
use crate::esmtp::appdata::AppData;
use crate::esmtp::message::EtrnNode;
use crate::esmtp::status::StatusCell;

pub type smtp_etrn_enumerate_nodecb_t =
    Option<unsafe extern "C" fn(smtp_etrn_node_t, c_int, *const c_char, *mut c_void)>;

/// `option` is 0 or `'@'` (the domain's subdomains too).
///
/// # Safety
/// Pointer arguments must be null or valid as libESMTP documents them.
#[no_mangle]
pub unsafe extern "C" fn smtp_etrn_add_node(
    session: smtp_session_t,
    option: c_int,
    node: *const c_char,
) -> smtp_etrn_node_t {
    guarded!(std::ptr::null_mut(), {
        // SAFETY: per the function's contract.
        let (s, domain) = unsafe { (handle(session), cstr(node)) };
        let (s, domain) = need!(s.zip(domain), std::ptr::null_mut());
        check_args!(!session_running(s), std::ptr::null_mut());
        check_args!(option == 0 || option == b'@' as c_int, std::ptr::null_mut());
        let node = EtrnNode {
            app_data: AppData::default(),
            option,
            domain: domain.to_owned(),
            status: StatusCell::default(),
        };
        (s.etrn_nodes.push(node) as *const EtrnNode).cast_mut()
    })
}

/// # Safety
/// Pointer arguments must be null or valid as libESMTP documents them.
#[no_mangle]
pub unsafe extern "C" fn smtp_etrn_enumerate_nodes(
    session: smtp_session_t,
    cb: smtp_etrn_enumerate_nodecb_t,
    arg: *mut c_void,
) -> c_int {
    guarded!(0, {
        // SAFETY: per the function's contract.
        let s = need!(unsafe { handle(session) }, 0);
        let cb = need!(cb, 0);
        let _walking = Using::walk(s);
        for n in s.etrn_nodes.iter() {
            // SAFETY: the application's enumeration callback.
            unsafe { cb((n as *const EtrnNode).cast_mut(), n.option, n.domain.as_ptr(), arg) };
        }
        1
    })
}

/// # Safety
/// Pointer arguments must be null or valid as libESMTP documents them.
#[no_mangle]
pub unsafe extern "C" fn smtp_etrn_node_status(node: smtp_etrn_node_t) -> *const smtp_status_t {
    guarded!(std::ptr::null(), {
        // SAFETY: per the function's contract.
        let n = need!(unsafe { handle(node) }, std::ptr::null());
        n.status.as_ptr()
    })
}

/// # Safety
/// Pointer arguments must be null or valid as libESMTP documents them.
#[no_mangle]
pub unsafe extern "C" fn smtp_etrn_set_application_data(
    node: smtp_etrn_node_t,
    data: *mut c_void,
) -> *mut c_void {
    guarded!(std::ptr::null_mut(), {
        // SAFETY: per the function's contract.
        let n = need!(unsafe { handle(node) }, std::ptr::null_mut());
        n.app_data.replace(data)
    })
}

/// # Safety
/// Pointer arguments must be null or valid as libESMTP documents them.
#[no_mangle]
pub unsafe extern "C" fn smtp_etrn_set_application_data_release(
    node: smtp_etrn_node_t,
    data: *mut c_void,
    release: Option<unsafe extern "C" fn(*mut c_void)>,
) {
    guarded!((), {
        // SAFETY: per the function's contract.
        let n = need!(unsafe { handle(node) });
        n.app_data.set_with_release(data, release)
    })
}

/// # Safety
/// Pointer arguments must be null or valid as libESMTP documents them.
#[no_mangle]
pub unsafe extern "C" fn smtp_etrn_get_application_data(node: smtp_etrn_node_t) -> *mut c_void {
    guarded!(std::ptr::null_mut(), {
        // SAFETY: per the function's contract.
        let n = need!(unsafe { handle(node) }, std::ptr::null_mut());
        n.app_data.get()
    })
}
