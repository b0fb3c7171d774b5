//! Which sessions and messages a call in progress is walking, so that the
//! application's callbacks cannot change or free them under its feet.
//!
//! While `smtp_start_session` runs a session, or an enumeration walks a
//! session's messages or ETRN nodes or a message's recipients, the
//! application's code runs from inside ours with references into those
//! objects. libESMTP let such a callback destroy the session (a use after
//! free), or change what the engine was sending or reading.
//!
//! - While a session runs, every call that would change or free it, its
//!   messages or their recipients fails with `SMTP_ERR_INVAL`; what reads,
//!   enumerates or touches only the application's own data still works.
//! - While an enumeration walks it, only `smtp_destroy_session` is refused:
//!   resetting statuses from an enumeration callback before running the
//!   session again is libESMTP's own idiom (case `rerun_after_reset`), and
//!   what is added meanwhile is appended without moving anything
//!   ([`crate::common::list::FrozenList`]).
//!
//! The record is per thread, like a session's run: libESMTP objects are
//! used by one thread at a time.

use std::cell::RefCell;

use crate::esmtp::message::{Message, Recipient};
use crate::esmtp::session::Session;

#[derive(Clone, Copy)]
enum InUse {
    Session(*const Session),
    Message(*const Message),
}

thread_local! {
    static IN_USE: RefCell<Vec<InUse>> = const { RefCell::new(Vec::new()) };
}

/// Marks an object in use until dropped, however the call ends (a panic
/// caught at the boundary included).
pub(crate) struct Using<'a> {
    /// A session being run, also marked `running` for as long.
    running: Option<&'a Session>,
}

impl<'a> Using<'a> {
    fn push(entry: InUse, running: Option<&'a Session>) -> Using<'a> {
        IN_USE.with(|u| u.borrow_mut().push(entry));
        if let Some(s) = running {
            s.running.set(true);
        }
        Using { running }
    }

    /// `smtp_start_session` runs `s`.
    pub(crate) fn run(s: &'a Session) -> Using<'a> {
        Using::push(InUse::Session(s), Some(s))
    }

    /// An enumeration walks `s`'s messages or ETRN nodes.
    pub(crate) fn walk(s: &'a Session) -> Using<'a> {
        Using::push(InUse::Session(s), None)
    }

    /// An enumeration walks `m`'s recipients.
    pub(crate) fn walk_message(m: &'a Message) -> Using<'a> {
        Using::push(InUse::Message(m), None)
    }
}

impl Drop for Using<'_> {
    fn drop(&mut self) {
        // Entries are pushed and popped in call order: ours is the last.
        let _ = IN_USE.try_with(|u| u.borrow_mut().pop());
        if let Some(s) = self.running {
            s.running.set(false);
        }
    }
}

/// Whether anything in use on this thread satisfies `f`.
fn any(f: impl Fn(InUse) -> bool) -> bool {
    // Copied out: `f` reads the objects, and must not hold the borrow.
    let entries = IN_USE.with(|u| {
        let u = u.borrow();
        if u.is_empty() {
            None
        } else {
            Some(u.clone())
        }
    });
    entries.is_some_and(|e| e.into_iter().any(f))
}

/// # Safety (for the dereferences below)
/// An entry is pushed by a call holding a reference to its object and
/// popped before that call returns; a session with an entry, or with a
/// message that has one, cannot be destroyed meanwhile
/// ([`session_in_use`] refuses `smtp_destroy_session`), and messages and
/// recipients live as long as their session. So every entry points to a
/// live object.
fn session_of(p: *const Session) -> &'static Session {
    // SAFETY: see above; the lifetime does not leave this module's
    // short-lived checks.
    unsafe { &*p }
}

/// `s` is being run, or walked, or one of its messages is: it must not
/// be freed.
pub(crate) fn session_in_use(s: &Session) -> bool {
    s.running.get()
        || any(|e| match e {
            InUse::Session(p) => std::ptr::eq(p, s),
            InUse::Message(m) => s.messages.contains_ptr(m),
        })
}

/// `s` is being run (on any thread): it must not change.
pub(crate) fn session_running(s: &Session) -> bool {
    s.running.get()
}

/// The session of `m` is being run: `m` must not change.
pub(crate) fn message_running(m: &Message) -> bool {
    any(|e| match e {
        InUse::Session(p) => session_of(p).running.get() && session_of(p).messages.contains_ptr(m),
        InUse::Message(_) => false,
    })
}

/// The session of `r` is being run: `r` must not change.
pub(crate) fn recipient_running(r: &Recipient) -> bool {
    any(|e| match e {
        InUse::Session(p) => {
            let s = session_of(p);
            s.running.get() && s.messages.iter().any(|m| m.recipients.contains_ptr(r))
        }
        InUse::Message(_) => false,
    })
}
