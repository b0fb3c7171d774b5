//! `smtp_session_t`: creation, configuration, running and destruction.

use std::ffi::{c_char, c_int, c_long, c_void};
use std::rc::Rc;

use super::auth::auth_context_t;
use super::callbacks::{smtp_eventcb_t, smtp_monitorcb_t, CEventSink, CMonitor};
use super::inuse::{session_in_use, session_running, Using};
use super::{check_args, cstr, guarded, handle, need, smtp_message_t, smtp_session_t, starttls_option};
use crate::esmtp::message::Message;
use crate::esmtp::protocol::{self, RunOptions};
use crate::esmtp::session::{ServerAddr, Session, StartTls, TimeoutKind};

pub type smtp_enumerate_messagecb_t = Option<unsafe extern "C" fn(smtp_message_t, *mut c_void)>;

/// `Timeout_OVERRIDE_RFC2822_MINIMUM`.
const TIMEOUT_OVERRIDE: c_int = 0x1000;

/// Creates a session with RFC 5321's default timeouts.
///
/// # Safety
/// Pointer arguments must be null or valid as libESMTP documents them.
#[no_mangle]
pub unsafe extern "C" fn smtp_create_session() -> smtp_session_t {
    guarded!(std::ptr::null_mut(), { Box::into_raw(Box::new(Session::default())) })
}

/// Sets `host[:service]`; `[v6]:port` and bare IPv6 literals work too.
///
/// # Safety
/// Pointer arguments must be null or valid as libESMTP documents them.
#[no_mangle]
pub unsafe extern "C" fn smtp_set_server(session: smtp_session_t, hostport: *const c_char) -> c_int {
    guarded!(0, {
        // SAFETY: per the function's contract.
        let (s, hp) = unsafe { (handle(session), cstr(hostport)) };
        let (Some(s), Some(hp)) = (s, hp) else {
            check_args!(false, 0);
            return 0;
        };
        check_args!(!session_running(s), 0);
        *s.canon.borrow_mut() = None;
        *s.server.borrow_mut() = Some(ServerAddr::parse(hp.to_bytes()));
        1
    })
}

/// The canonical name of the last session's server, else the host set.
///
/// # Safety
/// Pointer arguments must be null or valid as libESMTP documents them.
#[no_mangle]
pub unsafe extern "C" fn smtp_get_server_name(session: smtp_session_t) -> *const c_char {
    guarded!(std::ptr::null(), {
        // SAFETY: per the function's contract.
        let s = need!(unsafe { handle(session) }, std::ptr::null());
        if let Some(c) = s.canon.borrow().as_ref() {
            return c.as_ptr();
        }
        s.server.borrow().as_ref().map_or(std::ptr::null(), |a| a.host.as_ptr())
    })
}

/// # Safety
/// Pointer arguments must be null or valid as libESMTP documents them.
#[no_mangle]
pub unsafe extern "C" fn smtp_set_hostname(session: smtp_session_t, hostname: *const c_char) -> c_int {
    guarded!(0, {
        // SAFETY: per the function's contract.
        let s = need!(unsafe { handle(session) }, 0);
        check_args!(!session_running(s), 0);
        // SAFETY: per the function's contract.
        *s.hostname.borrow_mut() = unsafe { cstr(hostname) }.map(|h| h.to_owned());
        1
    })
}

/// # Safety
/// Pointer arguments must be null or valid as libESMTP documents them.
#[no_mangle]
pub unsafe extern "C" fn smtp_add_message(session: smtp_session_t) -> smtp_message_t {
    guarded!(std::ptr::null_mut(), {
        // SAFETY: per the function's contract.
        let s = need!(unsafe { handle(session) }, std::ptr::null_mut());
        check_args!(!session_running(s), std::ptr::null_mut());
        (s.messages.push(Message::default()) as *const Message).cast_mut()
    })
}

/// # Safety
/// Pointer arguments must be null or valid as libESMTP documents them.
#[no_mangle]
pub unsafe extern "C" fn smtp_enumerate_messages(
    session: smtp_session_t,
    cb: smtp_enumerate_messagecb_t,
    arg: *mut c_void,
) -> c_int {
    guarded!(0, {
        // SAFETY: per the function's contract.
        let (Some(s), Some(cb)) = (unsafe { handle(session) }, cb) else {
            check_args!(false, 0);
            return 0;
        };
        let _walking = Using::walk(s);
        for m in s.messages.iter() {
            // SAFETY: the application's enumeration callback.
            unsafe { cb((m as *const Message).cast_mut(), arg) };
        }
        1
    })
}

/// # Safety
/// Pointer arguments must be null or valid as libESMTP documents them.
#[no_mangle]
pub unsafe extern "C" fn smtp_set_eventcb(
    session: smtp_session_t,
    cb: smtp_eventcb_t,
    arg: *mut c_void,
) -> c_int {
    guarded!(0, {
        // SAFETY: per the function's contract.
        let s = need!(unsafe { handle(session) }, 0);
        check_args!(!session_running(s), 0);
        let Ok(mut events) = s.events.try_borrow_mut() else {
            check_args!(false, 0);
            return 0;
        };
        *events = cb.map(|cb| Rc::new(CEventSink { cb, arg, session }) as _);
        1
    })
}

/// # Safety
/// Pointer arguments must be null or valid as libESMTP documents them.
#[no_mangle]
pub unsafe extern "C" fn smtp_set_monitorcb(
    session: smtp_session_t,
    cb: smtp_monitorcb_t,
    arg: *mut c_void,
    headers: c_int,
) -> c_int {
    guarded!(0, {
        // SAFETY: per the function's contract.
        let s = need!(unsafe { handle(session) }, 0);
        check_args!(!session_running(s), 0);
        let Ok(mut monitor) = s.monitor.try_borrow_mut() else {
            check_args!(false, 0);
            return 0;
        };
        *monitor = cb.map(|cb| Rc::new(CMonitor { cb, arg }) as _);
        s.monitor_headers.set(headers != 0);
        1
    })
}

/// Runs the whole SMTP session synchronously.
///
/// # Safety
/// Pointer arguments must be null or valid as libESMTP documents them.
#[no_mangle]
pub unsafe extern "C" fn smtp_start_session(session: smtp_session_t) -> c_int {
    guarded!(0, {
        // SAFETY: per the function's contract.
        let s = need!(unsafe { handle(session) }, 0);
        check_args!(s.server.borrow().is_some() || s.mx_domain.borrow().is_some(), 0);
        // Every message needs its content callback; a session cannot run
        // from inside its own callbacks.
        check_args!(s.messages.iter().all(|m| m.source.try_borrow().is_ok_and(|src| src.is_some())), 0);
        check_args!(!session_running(s), 0);
        // SAFETY: the auth context pointer was given by the application
        // through smtp_auth_set_context and must still be alive.
        let auth = unsafe { super::auth::enabled_context(s.auth_ctx.get()) };
        // Marked running until this returns, a panic caught by the guard
        // included: a session left marked would be refused by
        // smtp_destroy_session for ever.
        let _running = Using::run(s);
        protocol::run(s, &RunOptions { auth })
    })
}

/// Destroys the session, its messages, recipients and ETRN nodes, calling
/// their release callbacks.
///
/// # Safety
/// Pointer arguments must be null or valid as libESMTP documents them.
#[no_mangle]
pub unsafe extern "C" fn smtp_destroy_session(session: smtp_session_t) -> c_int {
    guarded!(0, {
        // SAFETY: per the function's contract.
        let s = need!(unsafe { handle(session) }, 0);
        // Destroying a session from a callback of its run or of an
        // enumeration would free what that call is using: refuse, and keep
        // it alive.
        check_args!(!session_in_use(s), 0);
        // SAFETY: `session` came from smtp_create_session (Box::into_raw), is
        // not in use by the engine (checked above), and the application
        // gives up every handle into it here.
        drop(unsafe { Box::from_raw(session) });
        1
    })
}

/// # Safety
/// Pointer arguments must be null or valid as libESMTP documents them.
#[no_mangle]
pub unsafe extern "C" fn smtp_set_application_data(
    session: smtp_session_t,
    data: *mut c_void,
) -> *mut c_void {
    guarded!(std::ptr::null_mut(), {
        // SAFETY: per the function's contract.
        let s = need!(unsafe { handle(session) }, std::ptr::null_mut());
        s.app_data.replace(data)
    })
}

/// # Safety
/// Pointer arguments must be null or valid as libESMTP documents them.
#[no_mangle]
pub unsafe extern "C" fn smtp_set_application_data_release(
    session: smtp_session_t,
    data: *mut c_void,
    release: Option<unsafe extern "C" fn(*mut c_void)>,
) {
    guarded!((), {
        // SAFETY: per the function's contract.
        let s = need!(unsafe { handle(session) });
        s.app_data.set_with_release(data, release)
    })
}

/// # Safety
/// Pointer arguments must be null or valid as libESMTP documents them.
#[no_mangle]
pub unsafe extern "C" fn smtp_get_application_data(session: smtp_session_t) -> *mut c_void {
    guarded!(std::ptr::null_mut(), {
        // SAFETY: per the function's contract.
        let s = need!(unsafe { handle(session) }, std::ptr::null_mut());
        s.app_data.get()
    })
}

/// # Safety
/// Pointer arguments must be null or valid as libESMTP documents them.
#[no_mangle]
pub unsafe extern "C" fn smtp_option_require_all_recipients(session: smtp_session_t, state: c_int) -> c_int {
    guarded!(0, {
        // SAFETY: per the function's contract.
        let s = need!(unsafe { handle(session) }, 0);
        check_args!(!session_running(s), 0);
        s.require_all_recipients.set(state != 0);
        1
    })
}

/// Sets a timeout in milliseconds; returns the value stored.
///
/// # Safety
/// Pointer arguments must be null or valid as libESMTP documents them.
#[no_mangle]
pub unsafe extern "C" fn smtp_set_timeout(session: smtp_session_t, which: c_int, value: c_long) -> c_long {
    guarded!(0, {
        // SAFETY: per the function's contract.
        let s = unsafe { handle(session) };
        let Some(s) = s.filter(|_| value > 0) else {
            check_args!(false, 0);
            return 0;
        };
        check_args!(!session_running(s), 0);
        let kind = match which & !TIMEOUT_OVERRIDE {
            0 => TimeoutKind::Greeting,
            1 => TimeoutKind::Envelope,
            2 => TimeoutKind::Data,
            3 => TimeoutKind::Transfer,
            4 => TimeoutKind::Data2,
            _ => {
                check_args!(false, 0);
                return 0;
            }
        };
        s.set_timeout(kind, value, which & TIMEOUT_OVERRIDE != 0) as c_long
    })
}

/// # Safety
/// Pointer arguments must be null or valid as libESMTP documents them.
#[no_mangle]
pub unsafe extern "C" fn smtp_starttls_enable(session: smtp_session_t, how: starttls_option) -> c_int {
    guarded!(0, {
        // SAFETY: per the function's contract.
        let s = need!(unsafe { handle(session) }, 0);
        check_args!(!session_running(s), 0);
        s.starttls.set(match how {
            1 => StartTls::Enabled,
            2 => StartTls::Required,
            _ => StartTls::Disabled,
        });
        1
    })
}

/// Uses the application's `SSL_CTX` (up-referenced) for STARTTLS; NULL
/// returns to the library's own (libESMTP 1.1.0 crashed on NULL).
///
/// # Safety
/// Pointer arguments must be null or valid as libESMTP documents them.
#[no_mangle]
pub unsafe extern "C" fn smtp_starttls_set_ctx(
    session: smtp_session_t,
    ctx: *mut openssl_sys::SSL_CTX,
) -> c_int {
    guarded!(0, {
        // SAFETY: per the function's contract.
        let s = need!(unsafe { handle(session) }, 0);
        check_args!(!session_running(s), 0);
        if !ctx.is_null() {
            // SAFETY: the application passes a live SSL_CTX; we take our own
            // reference, dropped when the session is destroyed.
            unsafe { openssl_sys::SSL_CTX_up_ref(ctx) };
        }
        let old = s.tls_ctx.replace(ctx.cast());
        if !old.is_null() {
            // SAFETY: `old` holds the reference taken by an earlier call.
            unsafe { openssl_sys::SSL_CTX_free(old.cast()) };
        }
        1
    })
}

/// # Safety
/// Pointer arguments must be null or valid as libESMTP documents them.
#[no_mangle]
pub unsafe extern "C" fn smtp_auth_set_context(session: smtp_session_t, context: auth_context_t) -> c_int {
    guarded!(0, {
        // SAFETY: per the function's contract.
        let s = need!(unsafe { handle(session) }, 0);
        check_args!(!session_running(s), 0);
        s.auth_ctx.set(context.cast());
        1
    })
}

pub type smtp_starttls_passwordcb_t =
    Option<unsafe extern "C" fn(*mut c_char, c_int, c_int, *mut c_void) -> c_int>;

/// # Safety
/// Pointer arguments must be null or valid as libESMTP documents them.
#[no_mangle]
pub unsafe extern "C" fn smtp_starttls_set_password_cb(
    cb: smtp_starttls_passwordcb_t,
    arg: *mut c_void,
) -> c_int {
    guarded!(0, {
        let Some(cb) = cb else {
            check_args!(false, 0);
            return 0;
        };
        crate::esmtp::tls::context::set_password_callback(cb, arg);
        1
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::esmtp::error;
    use crate::esmtp::events::{Event, EventSink};

    /// The engine's view of an application callback that cannot return:
    /// a panic in the middle of a run.
    struct PanicsOnConnect;

    impl EventSink for PanicsOnConnect {
        fn event(&self, event: Event<'_>, out: i32) -> i32 {
            if matches!(event, Event::Connect) {
                panic!("the engine fails");
            }
            out
        }
    }

    #[test]
    fn a_panic_while_running_leaves_the_session_destroyable() {
        // Accepted by the kernel's backlog: enough for the Connect event.
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let server =
            std::ffi::CString::new(format!("127.0.0.1:{}", listener.local_addr().unwrap().port())).unwrap();
        // SAFETY: a session of ours, used on this thread and destroyed once.
        unsafe {
            let s = smtp_create_session();
            assert_eq!(smtp_set_server(s, server.as_ptr()), 1);
            let m = smtp_add_message(s);
            let text = c"Subject: x\r\n\r\nx\r\n";
            let cb = super::super::message::_smtp_message_str_cb;
            assert_eq!(
                super::super::message::smtp_set_messagecb(m, Some(cb), text.as_ptr().cast_mut().cast()),
                1
            );
            assert!(!super::super::message::smtp_add_recipient(m, c"a@example.org".as_ptr()).is_null());
            *(*s).events.borrow_mut() = Some(Rc::new(PanicsOnConnect));
            assert_eq!(smtp_start_session(s), 0);
            assert_eq!(error::errno(), error::ERR_CLIENT_ERROR);
            assert!(!(*s).running.get());
            assert_eq!(smtp_destroy_session(s), 1);
        }
    }
}
