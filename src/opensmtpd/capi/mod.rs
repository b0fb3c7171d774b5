//! The libopensmtpd C API (opensmtpd.h). Registration records callbacks,
//! `osmtpd_run` runs the loop, the `osmtpd_filter_*` functions queue
//! answers. The variadic ones live in the C shim
//! (src/shim/osmtpd_varargs.c), which formats and calls in here.

pub mod callbacks;
pub mod output;
pub mod register;
pub mod run;

use std::cell::{Cell, RefCell};
use std::ffi::{c_char, c_int};

use callbacks::{Cb, CreateFn, DeleteFn, Table};

use super::ctx::osmtpd_ctx;
use super::phase::Phase;
use super::registration::{Direction, Event, PhaseKey, Registration};
use super::reply::{data_lines, filter_result, Decision};

#[derive(Default)]
struct State {
    reg: Registration,
    table: Table,
    conf: Option<unsafe extern "C" fn(*const c_char, *const c_char)>,
}

thread_local! {
    static STATE: RefCell<State> = RefCell::new(State::default());
    static RUNNING: Cell<bool> = const { Cell::new(false) };
}

/// `osmtpd_errx(1, msg)`: answers already queued are written first (0.7
/// dropped them), then the message goes to stderr and the process exits.
pub(crate) fn die(msg: &[u8]) -> ! {
    output::flush_blocking_quietly();
    let mut m = msg.to_vec();
    m.push(b'\n');
    // SAFETY: writes our buffer to stderr.
    unsafe { libc::write(2, m.as_ptr().cast(), m.len()) };
    std::process::exit(1)
}

/// This library's panic policy, for its exports and for what libevent
/// calls back: a panic must not unwind into the filter or libevent, and a
/// filter cannot go on after one (nor may it look like the end of input,
/// which would end the filter with status 0), so it ends like any other
/// fatal error of libopensmtpd, with one line naming it and exit 1.
pub(crate) fn firewall<R>(body: impl FnOnce() -> R) -> R {
    crate::common::guard::guard(
        || die(format!("osmtpd: internal error: {}", crate::common::guard::panic_message()).as_bytes()),
        body,
    )
}

fn register(filter: bool, incoming: bool, phase: Phase, cb: Option<Cb>) {
    firewall(|| register_inner(filter, incoming, phase, cb))
}

fn register_inner(filter: bool, incoming: bool, phase: Phase, cb: Option<Cb>) {
    if RUNNING.with(Cell::get) {
        die(b"Can't register when proc is running");
    }
    let ev = if filter {
        Event::Filter(PhaseKey::of(phase))
    } else {
        let dir = if incoming { Direction::In } else { Direction::Out };
        Event::Report { incoming: dir, phase: PhaseKey::of(phase) }
    };
    // Only our registration functions call this, each with its phase's
    // prototype; a slip there must stop the filter before it registers,
    // not leave smtpd waiting for answers to an event nobody hears.
    if cb.is_some_and(|cb| cb.shape() != phase.shape()) {
        die(format!("osmtpd: internal error: {} callback registered with the wrong prototype", phase.name())
            .as_bytes());
    }
    let added = STATE.with(|s| {
        let mut s = s.borrow_mut();
        if !s.reg.add(ev) {
            return false;
        }
        // The shape was checked above.
        cb.is_none_or(|cb| s.table.set(incoming, phase, cb).is_ok())
    });
    if !added {
        die(b"Event already registered");
    }
}

/// # Safety
/// `cb` must be NULL or `void (*)(const char *, const char *)`.
#[no_mangle]
pub unsafe extern "C" fn osmtpd_register_conf(
    cb: Option<unsafe extern "C" fn(*const c_char, *const c_char)>,
) {
    firewall(|| STATE.with(|s| s.borrow_mut().conf = cb));
}

/// # Safety
/// The callbacks must be NULL or have the prototypes opensmtpd.h declares.
#[no_mangle]
pub unsafe extern "C" fn osmtpd_local_session(oncreate: Option<CreateFn>, ondelete: Option<DeleteFn>) {
    firewall(|| STATE.with(|s| s.borrow_mut().table.session = (oncreate, ondelete)));
}

/// # Safety
/// The callbacks must be NULL or have the prototypes opensmtpd.h declares.
#[no_mangle]
pub unsafe extern "C" fn osmtpd_local_message(oncreate: Option<CreateFn>, ondelete: Option<DeleteFn>) {
    firewall(|| {
        STATE.with(|s| {
            let mut s = s.borrow_mut();
            s.table.message = (oncreate, ondelete);
            s.reg.set_local_message(oncreate.is_some());
        })
    });
}

#[no_mangle]
pub extern "C" fn osmtpd_need(needs: c_int) {
    firewall(|| STATE.with(|s| s.borrow_mut().reg.need(needs as u32)));
}

/// Registers with smtpd and serves it until it closes the pipe.
#[no_mangle]
pub extern "C" fn osmtpd_run() {
    firewall(run_inner)
}

fn run_inner() {
    if RUNNING.with(|r| r.replace(true)) {
        die(b"Can't register when proc is running");
    }
    let (table, conf, needs, lines) = STATE.with(|s| {
        let s = s.borrow();
        (s.table.clone(), s.conf, s.reg.needs(), s.reg.lines())
    });
    let Some(lines) = lines else { die(b"No events registered") };
    run::run(table, conf, needs, lines);
}

/// Queues a `filter-result` line for the context's session and token.
fn answer(ctx: *mut osmtpd_ctx, d: &Decision<'_>) {
    firewall(|| answer_inner(ctx, d))
}

fn answer_inner(ctx: *mut osmtpd_ctx, d: &Decision<'_>) {
    // SAFETY: `ctx` is a context this library handed to a callback.
    let Some(ctx) = (unsafe { ctx.as_ref() }) else { die(b"osmtpd: NULL context") };
    if let Err(e) = output::with(|o| filter_result(o, ctx.version_minor as u32, ctx.reqid, ctx.token, d)) {
        die(e.0.as_bytes());
    }
    run::answer_queued();
}

/// # Safety
/// `ctx` must be a context this library handed to a callback.
#[no_mangle]
pub unsafe extern "C" fn osmtpd_filter_proceed(ctx: *mut osmtpd_ctx) {
    answer(ctx, &Decision::Proceed);
}

/// The shim's entry for reject, disconnect and rewrite: `kind` 0 reject,
/// 1 disconnect, 2 rewrite; `enh` NULL or three ints.
///
/// # Safety
/// `ctx` as above; `text` a NUL-terminated string; `enh` NULL or 3 ints.
#[no_mangle]
pub unsafe extern "C" fn mailcompat_osmtpd_answer(
    ctx: *mut osmtpd_ctx,
    kind: c_int,
    code: c_int,
    enh: *const c_int,
    text: *const c_char,
) {
    // SAFETY: per the contract above.
    let text = unsafe { std::ffi::CStr::from_ptr(text) }.to_bytes();
    // SAFETY: per the contract above.
    let enh = unsafe { enh.as_ref() }.map(|_| unsafe { [*enh, *enh.add(1), *enh.add(2)] });
    let d = match kind {
        0 => Decision::Reject { code, enh, text },
        1 => Decision::Disconnect { enh, text },
        _ => Decision::Rewrite(text),
    };
    answer(ctx, &d);
}

/// The shim's entry for `osmtpd_filter_dataline`.
///
/// # Safety
/// `ctx` as above; `text` a NUL-terminated string.
#[no_mangle]
pub unsafe extern "C" fn mailcompat_osmtpd_dataline(ctx: *mut osmtpd_ctx, text: *const c_char) {
    // SAFETY: per the contract above.
    let (Some(c), text) = (unsafe { ctx.as_ref() }, unsafe { std::ffi::CStr::from_ptr(text) }.to_bytes())
    else {
        die(b"osmtpd: NULL context")
    };
    firewall(|| {
        output::with(|o| data_lines(o, c.version_minor as u32, c.reqid, c.token, text));
        run::answer_queued();
    });
}

/// The shim's hook before `osmtpd_err`/`errx` exit: queued answers go out.
#[no_mangle]
pub extern "C" fn mailcompat_osmtpd_flush() {
    output::flush_blocking_quietly();
}
