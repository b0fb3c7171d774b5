//! The filter's C callbacks, kept by event, and calling them with the
//! arguments libopensmtpd passes.

use std::ffi::{c_char, c_int, c_void};

use crate::opensmtpd::ctx::osmtpd_ctx;
use crate::opensmtpd::dispatch::{Args, Callbacks};
use crate::opensmtpd::phase::{Phase, Shape};

type Ctx = *mut osmtpd_ctx;
type Ss = *mut libc::sockaddr_storage;

/// One callback, by its C signature.
#[derive(Clone, Copy)]
pub enum Cb {
    Plain(unsafe extern "C" fn(Ctx)),
    Text(unsafe extern "C" fn(Ctx, *const c_char)),
    Connect(unsafe extern "C" fn(Ctx, *const c_char, Ss)),
    LinkConnect(unsafe extern "C" fn(Ctx, *const c_char, c_int, Ss, Ss)),
    Msg(unsafe extern "C" fn(Ctx, u32)),
    MsgAddr(unsafe extern "C" fn(Ctx, u32, *const c_char, c_int)),
    MsgStatus(unsafe extern "C" fn(Ctx, u32, c_int)),
    Envelope(unsafe extern "C" fn(Ctx, u32, u64)),
    Commit(unsafe extern "C" fn(Ctx, u32, usize)),
    Auth(unsafe extern "C" fn(Ctx, *const c_char, c_int)),
}

impl Cb {
    pub fn shape(&self) -> Shape {
        match self {
            Cb::Plain(_) => Shape::Plain,
            Cb::Text(_) => Shape::Text,
            Cb::Connect(_) => Shape::Connect,
            Cb::LinkConnect(_) => Shape::LinkConnect,
            Cb::Msg(_) => Shape::Msg,
            Cb::MsgAddr(_) => Shape::MsgAddr,
            Cb::MsgStatus(_) => Shape::MsgStatus,
            Cb::Envelope(_) => Shape::Envelope,
            Cb::Commit(_) => Shape::Commit,
            Cb::Auth(_) => Shape::Auth,
        }
    }
}

/// A callback whose prototype is not the one its phase calls.
#[derive(Debug, PartialEq, Eq)]
pub struct WrongShape;

pub type CreateFn = unsafe extern "C" fn(Ctx) -> *mut c_void;
pub type DeleteFn = unsafe extern "C" fn(Ctx, *mut c_void);

/// One slot per phase number.
const PHASES: usize = Phase::LinkAuth as usize + 1;

/// Everything the filter registered, copied out for the run loop.
#[derive(Clone, Default)]
pub struct Table {
    /// By direction (smtp-out, smtp-in), then phase: looked up per line.
    by_event: [[Option<Cb>; PHASES]; 2],
    pub session: (Option<CreateFn>, Option<DeleteFn>),
    pub message: (Option<CreateFn>, Option<DeleteFn>),
}

impl Table {
    /// Stores `cb` for the phase, if it has the phase's prototype: a
    /// callback stored otherwise could never be called, and its event
    /// would go unanswered.
    pub fn set(&mut self, incoming: bool, phase: Phase, cb: Cb) -> Result<(), WrongShape> {
        if cb.shape() != phase.shape() {
            return Err(WrongShape);
        }
        self.by_event[incoming as usize][phase as usize] = Some(cb);
        Ok(())
    }
}

// The context pointers come only from the dispatcher, which passes its own
// live contexts; handing them to the filter's callbacks is the point.
#[allow(clippy::not_unsafe_ptr_arg_deref)]
impl Callbacks for Table {
    fn call(&mut self, incoming: bool, phase: Phase, ctx: Ctx, args: Args<'_>) {
        let Some(cb) = self.by_event[incoming as usize][phase as usize] else { return };
        // SAFETY: each callback was registered through the function whose
        // prototype gives exactly this signature, and the dispatcher passes
        // the matching arguments; pointers are valid for the call.
        unsafe {
            match (cb, args) {
                (Cb::Plain(f), Args::None) => f(ctx),
                (Cb::Text(f), Args::Text(t)) => f(ctx, t.as_ptr()),
                (Cb::Connect(f), Args::Connect { rdns, src }) => f(ctx, rdns.as_ptr(), src),
                (Cb::LinkConnect(f), Args::LinkConnect { rdns, fcrdns, src, dst }) => {
                    f(ctx, rdns.as_ptr(), fcrdns, src, dst)
                }
                (Cb::Msg(f), Args::Msg(id)) => f(ctx, id),
                (Cb::MsgAddr(f), Args::MsgAddr(id, a, st)) => f(ctx, id, a.as_ptr(), st),
                (Cb::MsgStatus(f), Args::MsgStatus(id, st)) => f(ctx, id, st),
                (Cb::Envelope(f), Args::Envelope(id, e)) => f(ctx, id, e),
                (Cb::Commit(f), Args::Commit(id, n)) => f(ctx, id, n),
                (Cb::Auth(f), Args::Auth(u, r)) => f(ctx, u.as_ptr(), r),
                // `set` stores a callback only for its phase's shape and the
                // dispatcher passes that shape's arguments (both go by
                // Phase::shape, and a unit test holds the dispatcher to
                // it). Were that broken, dropping the event would leave
                // smtpd waiting for an answer: stop loudly instead.
                (cb, args) => crate::opensmtpd::capi::die(
                    format!(
                        "osmtpd: internal error: {} callback of shape {:?} given {:?} arguments",
                        phase.name(),
                        cb.shape(),
                        args.shape()
                    )
                    .as_bytes(),
                ),
            }
        }
    }

    fn session_created(&mut self, ctx: Ctx) -> *mut c_void {
        // SAFETY: the filter's oncreate_session with a live context.
        self.session.0.map_or(std::ptr::null_mut(), |f| unsafe { f(ctx) })
    }

    fn session_deleted(&mut self, ctx: Ctx, local: *mut c_void) {
        if let Some(f) = self.session.1 {
            // SAFETY: the filter's ondelete_session, its own pointer back.
            unsafe { f(ctx, local) }
        }
    }

    fn message_created(&mut self, ctx: Ctx) -> *mut c_void {
        // SAFETY: the filter's oncreate_message with a live context.
        self.message.0.map_or(std::ptr::null_mut(), |f| unsafe { f(ctx) })
    }

    fn message_deleted(&mut self, ctx: Ctx, local: *mut c_void) {
        if let Some(f) = self.message.1 {
            // SAFETY: the filter's ondelete_message, its own pointer back.
            unsafe { f(ctx, local) }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    unsafe extern "C" fn text(_: Ctx, _: *const c_char) {}
    unsafe extern "C" fn msg(_: Ctx, _: u32) {}

    #[test]
    fn a_callback_is_stored_only_for_a_phase_of_its_prototype() {
        let mut t = Table::default();
        assert_eq!(t.set(true, Phase::TxBegin, Cb::Text(text)), Err(WrongShape));
        assert!(t.by_event[1][Phase::TxBegin as usize].is_none());
        assert_eq!(t.set(true, Phase::TxBegin, Cb::Msg(msg)), Ok(()));
        assert_eq!(t.set(false, Phase::LinkTls, Cb::Text(text)), Ok(()));
    }
}
