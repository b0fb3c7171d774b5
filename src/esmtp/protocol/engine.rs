//! One connection's conversation: the engine's state, and the rules every
//! reply is held to before a status may say what it says.

use std::rc::Rc;

use super::stop::{set_protocol_error, Stop};
use crate::esmtp::conn::{Conn, IoFailure};
use crate::esmtp::error::{self, set_error};
use crate::esmtp::events::{report, Event, EventSink, Monitor};
use crate::esmtp::extensions::Extensions;
use crate::esmtp::message::{Message, Recipient};
use crate::esmtp::policy::Plan;
use crate::esmtp::reply::{read_reply, Reply, ReplyError, ReplyOptions};
use crate::esmtp::sasl::Authenticator;
use crate::esmtp::session::{Session, TimeoutKind};
use crate::esmtp::status::StatusCell;

/// What the C layer knows that the engine cannot look up itself.
#[derive(Default)]
pub struct RunOptions<'a> {
    /// The application's auth context, when it has an interact callback.
    pub auth: Option<&'a dyn Authenticator>,
}

/// How one connection ended, for the caller's choice of the next.
#[derive(Debug)]
pub(super) enum Attempt {
    /// The server completed the protocol: statuses tell how it went.
    Completed,
    /// Try the next address (or MX host).
    Next,
    /// A 5xx greeting: the server refused the session. libESMTP went on
    /// to the next address; delivery to a domain stops.
    Refused(Reply),
}

pub(super) struct Engine<'a> {
    pub(super) sess: &'a Session,
    pub(super) sink: Option<&'a dyn EventSink>,
    pub(super) monitor: Option<Rc<dyn Monitor>>,
    pub(super) conn: Conn,
    pub(super) ext: Extensions,
    pub(super) localhost: &'a [u8],
    /// The server sent us away: try the next address.
    pub(super) fallback: bool,
    /// The server refused the session with a 5xx greeting: delivery to a
    /// domain stops there rather than try its other MX hosts.
    pub(super) refused: Option<Reply>,
    pub(super) opts: &'a RunOptions<'a>,
    /// A message whose end-of-data reply has not been read yet: with
    /// PIPELINING it travels with the next command group.
    pub(super) pending_final: Option<&'a Message>,
    /// A message whose DATA was ended at once because no recipient was
    /// accepted: a 2xx to that dot acknowledges an empty transaction.
    pub(super) empty: Option<&'a Message>,
    /// The message whose transaction is under way, with its recipients in
    /// this transaction, until its end-of-data reply is read or handed over
    /// to `pending_final`.
    pub(super) in_flight: Option<(&'a Message, Vec<&'a Recipient>)>,
    /// Messages whose final 2xx has been read but not yet shown to be the
    /// reply to their dot. A surplus reply sent with the dot's (`250` then
    /// `554`) would be read as the dot's and shift every later reply by
    /// one; the next DATA's 354, which no other command gets, or a clean
    /// reply to QUIT shows there was no shift.
    pub(super) unconfirmed: Vec<&'a Message>,
    pub(super) authenticated: bool,
    /// The session's TLS policy, if it has one.
    pub(super) plan: Option<&'a Plan>,
}

/// Reads one reply on `conn`. A failure records its error code; `slot` is
/// left alone when the server stalled before replying and gets code 0
/// without text when it closed before replying, as in libESMTP. A reply
/// that was received but is malformed gets `PROTOCOL_ERROR`: libESMTP left
/// the digits read (`250` from `250x`), which looked like an acceptance.
pub(super) fn reply_on(
    conn: &mut Conn,
    sink: Option<&dyn EventSink>,
    enhanced: bool,
    collect_extra: bool,
    slot: Option<&StatusCell>,
) -> Result<Reply, Stop> {
    let opts = ReplyOptions { enhanced, collect_extra };
    match read_reply(conn, &opts, || report(sink, Event::SyntaxWarning, 0) != 0) {
        Ok(r) => {
            if let Some(slot) = slot {
                slot.set(r.code, Some(&r.text), r.enh);
            }
            Ok(r)
        }
        Err(f) => {
            set_error(f.error.code());
            let nothing = f.code == 0 && f.error == ReplyError::Dropped;
            let stalled = nothing && conn.failure() == Some(IoFailure::Timeout);
            match slot {
                Some(_) if stalled => {}
                Some(slot) if nothing => slot.set(0, None, [0; 3]),
                Some(slot) => set_protocol_error(slot),
                None => {}
            }
            Err(if conn.failure().is_some() { Stop::Drop } else { Stop::Violation })
        }
    }
}

impl<'a> Engine<'a> {
    pub(super) fn event(&self, ev: Event<'_>, default: i32) -> i32 {
        report(self.sink, ev, default)
    }

    pub(super) fn set_timeout(&mut self, kind: TimeoutKind) {
        self.conn.set_timeout(self.sess.timeout(kind));
    }

    /// Reads one reply; a failure records its error code.
    pub(super) fn reply(&mut self, collect_extra: bool) -> Result<Reply, Stop> {
        reply_on(&mut self.conn, self.sink, self.ext.enhanced_status_codes, collect_extra, None)
    }

    /// Reads one reply into a status the application can see.
    pub(super) fn reply_into(&mut self, slot: &StatusCell) -> Result<Reply, Stop> {
        reply_on(&mut self.conn, self.sink, self.ext.enhanced_status_codes, false, Some(slot))
    }

    /// Reads a reply nobody needs (RSET, XUSR); it must still be one that
    /// command can have.
    /// Reads a reply whose content does not matter, but whose kind does:
    /// `ok` lists the positive codes the command can have (empty: any
    /// 2xx, for XUSR, which no RFC describes).
    pub(super) fn discard_reply(&mut self, ok: &[i32]) -> Result<(), Stop> {
        let r = self.reply(false)?;
        if ok.is_empty() && r.class() == 2 {
            return Ok(());
        }
        self.expect(&r, ok)
    }

    /// A well-formed reply its command cannot have (a 354 to RCPT, a 2xx to
    /// DATA, a 221 to MAIL) answers some other command: the replies have
    /// shifted. `ok` lists the positive codes RFC 5321 §4.3.2 gives the
    /// command; any 4xx or 5xx is a refusal it may have.
    pub(super) fn expect(&self, r: &Reply, ok: &[i32]) -> Result<(), Stop> {
        if matches!(r.class(), 4 | 5) || ok.contains(&r.code) {
            Ok(())
        } else {
            set_error(error::ERR_INVALID_RESPONSE_STATUS);
            Err(Stop::Violation)
        }
    }

    /// Bytes the server sent that no command asked for, found when every
    /// awaited reply has been read: a surplus reply, which would otherwise
    /// be taken for the answer to the next command.
    pub(super) fn no_surplus(&mut self) -> Result<(), Stop> {
        if self.conn.has_unread() {
            set_error(error::ERR_INVALID_RESPONSE_STATUS);
            return Err(Stop::Violation);
        }
        Ok(())
    }

    /// The final 2xx replies not yet shown to be in step become the
    /// protocol error; their recipients are tried again.
    pub(super) fn void_unconfirmed(&mut self) {
        for msg in std::mem::take(&mut self.unconfirmed) {
            set_protocol_error(&msg.message_status);
            for r in msg.recipients.iter() {
                r.complete.set(false);
            }
        }
    }

    /// After a violation, nothing read for the transactions under way can
    /// be trusted: their statuses say so, and their recipients stay
    /// incomplete. Events are those of a dropped connection: no
    /// MESSAGESENT for them.
    pub(super) fn void_in_flight(&mut self) {
        self.void_unconfirmed();
        if let Some(msg) = self.pending_final.take() {
            set_protocol_error(&msg.message_status);
        }
        if let Some((msg, rcpts)) = self.in_flight.take() {
            set_protocol_error(&msg.reverse_path_status);
            set_protocol_error(&msg.message_status);
            for r in rcpts {
                set_protocol_error(&r.status);
                r.complete.set(false);
            }
        }
    }

    pub(super) fn write(&mut self, bytes: &[u8]) -> Result<(), Stop> {
        self.conn.write(bytes).map_err(|_| {
            set_error(error::ERR_DROPPED_CONNECTION);
            Stop::Drop
        })
    }

    /// Queues a command that `f` writes into the write buffer: no line is
    /// built apart and copied.
    pub(super) fn write_with(&mut self, f: impl FnOnce(&mut Vec<u8>, &Extensions)) -> Result<(), Stop> {
        let ext = &self.ext;
        self.conn.write_with(|out| f(out, ext)).map_err(|_| {
            set_error(error::ERR_DROPPED_CONNECTION);
            Stop::Drop
        })
    }

    /// Runs the conversation on this connection and closes it; returns
    /// whether the next address should be tried.
    pub(super) fn converse(mut self) -> Attempt {
        let stop = match self.greeting_and_ehlo() {
            Ok(()) => match self.etrn_then_mail() {
                Ok(()) => Stop::Quit,
                Err(stop) => stop,
            },
            Err(stop) => stop,
        };
        // A dropped connection leaves the statuses as libESMTP did: each
        // was a well-formed reply of its kind, and none says delivered.
        // Except a final 2xx not yet shown in step: with PIPELINING it was
        // read in a group that the close left a reply short.
        if stop == Stop::Violation {
            self.void_in_flight();
        } else if stop == Stop::Drop && self.ext.pipelining {
            self.void_unconfirmed();
        }
        if stop != Stop::Drop {
            self.quit();
        }
        match (self.refused, self.fallback) {
            (Some(r), _) => Attempt::Refused(r),
            (None, true) => Attempt::Next,
            (None, false) => Attempt::Completed,
        }
    }

    pub(super) fn quit(&mut self) {
        if self.pending_final.is_none() && !self.unconfirmed.is_empty() && self.conn.has_unread() {
            // Nothing is awaited: more after the last final reply means that
            // reply may have been a surplus one.
            set_error(error::ERR_INVALID_RESPONSE_STATUS);
            self.void_in_flight();
        }
        if self.write(b"QUIT\r\n").is_err() {
            return;
        }
        // With PIPELINING the last final reply came in a group (the dot
        // with QUIT, BDAT chunks together): with QUIT's reply missing, the
        // count of replies is off by one somewhere, and the 2xx read may
        // not be the message's. A dot sent alone had its reply read alone.
        let dot_with_quit = self.pending_final.is_some() || self.ext.pipelining;
        if let Some(msg) = self.pending_final {
            if let Err(stop) = self.final_reply(msg) {
                if stop == Stop::Violation {
                    self.void_in_flight();
                }
                return;
            }
            self.pending_final = None;
        }
        // Only a dropped connection is worth reporting after QUIT; a reply
        // that is not QUIT's, or more than one, shows the replies had
        // shifted onto the last final reply.
        let opts = ReplyOptions { enhanced: false, collect_extra: false };
        match read_reply(&mut self.conn, &opts, || false) {
            Err(f) if f.error == ReplyError::Dropped && f.code == 0 => {
                set_error(error::ERR_DROPPED_CONNECTION);
                // One reply short: the 2xx read for the dot may have been
                // another command's.
                if dot_with_quit {
                    self.void_in_flight();
                }
            }
            // RFC 5321 §4.3.2: QUIT is answered 221; a reply that shifted
            // from an earlier command is most often another 2xx.
            Ok(r) if r.code == 221 && (self.unconfirmed.is_empty() || !self.conn.has_unread()) => {
                self.conn.close_notify();
            }
            _ if !self.unconfirmed.is_empty() => {
                set_error(error::ERR_INVALID_RESPONSE_STATUS);
                self.void_in_flight();
            }
            _ => {}
        }
    }
}
