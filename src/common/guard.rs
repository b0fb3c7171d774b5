//! The panic firewall for every exported function.
//!
//! A Rust panic must never unwind into C. Every `extern "C"` entry point
//! runs its body through [`guard`], which turns a panic into the caller's
//! failure value after letting the library record an error code.

use std::panic::{catch_unwind, AssertUnwindSafe};

/// Runs `body`; if it panics, calls `on_panic` (to set the library's error
/// state) and returns `failure`.
///
/// `AssertUnwindSafe` is right here: after a panic no state is observed
/// again on this call path except through the error code, and handles keep
/// their invariants because mutation happens through `RefCell`/`Cell`.
///
/// Inlined so that each export is one function of its own: the hot-text
/// layout (bench/hot_sections.py) can then keep the exports a program
/// calls together, where one shared generic would drag in all of them.
#[inline(always)]
pub fn guard<R>(failure: R, on_panic: fn(), body: impl FnOnce() -> R) -> R {
    match catch_unwind(AssertUnwindSafe(body)) {
        Ok(r) => r,
        Err(_) => {
            on_panic();
            failure
        }
    }
}
