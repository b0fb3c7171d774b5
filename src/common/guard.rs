//! The panic policy at both libraries' C boundaries.
//!
//! A Rust panic must never unwind into C. Every `extern "C"` entry point,
//! and every function of ours that C calls back (libevent's events), runs
//! its body through [`guard`], which turns a panic into what the library
//! does with one: libESMTP's exports return their failure value with
//! `SMTP_ERR_CLIENT_ERROR` set; libopensmtpd's end the process as
//! `osmtpd_errx` does, with [`panic_message`] in its one line.
//!
//! Rust's default panic hook would print several lines (and a backtrace
//! hint) on the application's stderr, which neither original ever wrote
//! there. While a guard runs, the hook installed here only records the
//! message for [`panic_message`]; outside one (a panic in a test, or in
//! another Rust library of the process) the previous hook runs as before.

use std::cell::{Cell, RefCell};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::Once;

thread_local! {
    /// Guards entered and not yet left on this thread.
    static DEPTH: Cell<u32> = const { Cell::new(0) };
    /// The last panic caught by a guard on this thread: message and place.
    static LAST: RefCell<Option<String>> = const { RefCell::new(None) };
}

static HOOK: Once = Once::new();

fn install_hook() {
    // Every export comes here: once installed, one atomic load.
    if HOOK.is_completed() {
        return;
    }
    // take_hook refuses to run during a panic (a guard entered from a drop
    // while unwinding); the next guard installs it then.
    if std::thread::panicking() {
        return;
    }
    HOOK.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if DEPTH.try_with(Cell::get).unwrap_or(0) == 0 {
                return previous(info);
            }
            let payload = info.payload();
            let msg = payload
                .downcast_ref::<&str>()
                .copied()
                .or_else(|| payload.downcast_ref::<String>().map(String::as_str))
                .unwrap_or("panic");
            let place = info.location().map(|l| format!(" at {}:{}", l.file(), l.line())).unwrap_or_default();
            // One line whatever the message holds.
            let line = format!("{msg}{place}").replace(['\n', '\r'], " ");
            let _ = LAST.try_with(|l| l.try_borrow_mut().map(|mut l| *l = Some(line)));
        }));
    });
}

/// Leaves the guard however the body ends.
struct Depth;

impl Depth {
    fn enter() -> Depth {
        DEPTH.with(|d| d.set(d.get() + 1));
        Depth
    }
}

impl Drop for Depth {
    fn drop(&mut self) {
        DEPTH.with(|d| d.set(d.get() - 1));
    }
}

/// Runs `body`; if it panics, returns `on_panic()` instead, which sets the
/// library's error state and gives the failure value, or does not return.
///
/// `AssertUnwindSafe` is right here: after a panic no state is observed
/// again on this call path except through what `on_panic` does, and
/// handles keep their invariants because mutation happens through
/// `RefCell`/`Cell` (a state that must not outlive the call, such as a
/// session marked running, is restored by a drop guard of its own).
///
/// Inlined so that each export is one function of its own: the hot-text
/// layout (bench/hot_sections.py) can then keep the exports a program
/// calls together, where one shared generic would drag in all of them.
#[inline(always)]
pub fn guard<R>(on_panic: impl FnOnce() -> R, body: impl FnOnce() -> R) -> R {
    install_hook();
    let depth = Depth::enter();
    let result = catch_unwind(AssertUnwindSafe(body));
    drop(depth);
    match result {
        Ok(r) => r,
        Err(payload) => {
            // Dropping a payload can itself panic; forget it instead.
            std::mem::forget(payload);
            on_panic()
        }
    }
}

/// The message and place of the last panic a guard caught on this thread.
pub fn panic_message() -> String {
    LAST.try_with(|l| l.try_borrow_mut().ok().and_then(|mut l| l.take()))
        .ok()
        .flatten()
        .unwrap_or_else(|| "panic".to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_panic_becomes_the_failure_value_and_its_message_is_kept() {
        let r = guard(|| -1, || -> i32 { panic!("boom\nsecond line") });
        assert_eq!(r, -1);
        let m = panic_message();
        assert!(m.starts_with("boom second line at src/common/guard.rs:"), "{m}");
        assert_eq!(guard(|| -1, || 7), 7);
        // Nested guards: the inner one catches, the outer one sees a value.
        assert_eq!(guard(|| 1, || guard(|| 2, || -> i32 { panic!("inner") })), 2);
    }
}
