//! Mail transactions: MAIL, RCPT, DATA or BDAT, and the final reply that
//! alone may make a message delivered.

use super::engine::{reply_on, Engine};
use super::stop::Stop;
use super::transfer::{send_bdat, send_data, Hooks, MessageView, TransferError};
use crate::esmtp::conn::{Conn, IoFailure};
use crate::esmtp::error::{self, set_error};
use crate::esmtp::events::Event;
use crate::esmtp::message::{ByMode, Message, Recipient};
use crate::esmtp::params::{mail_command, rcpt_command};
use crate::esmtp::session::TimeoutKind;

/// The transfer status of a message none of whose recipients was accepted.
const NO_RECIPIENTS: &[u8] = b"no valid recipients: the message was not sent (client)\r\n";

/// How a transaction ended, deciding what precedes the next MAIL.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum TxnEnd {
    /// Nothing to clean up: the next MAIL may follow directly.
    Clean,
    /// The server's transaction state is uncertain: RSET first.
    NeedsReset,
}

impl<'a> Engine<'a> {
    pub(super) fn transactions(&mut self) -> Result<(), Stop> {
        let mut current = self.sess.next_pending_message(None);
        let mut needs_reset = false;
        while let Some(index) = current {
            let Some(msg) = self.sess.messages.get(index) else {
                break;
            };
            needs_reset = self.transaction(msg, needs_reset)? == TxnEnd::NeedsReset;
            current = self.sess.next_pending_message(Some(index));
        }
        Ok(())
    }

    /// The DELIVERBY time to send, after asking the application when the
    /// server's minimum is larger than the requested time.
    pub(super) fn by_time(&self, msg: &Message) -> i64 {
        let by_time = msg.by_time.get();
        let min = self.ext.min_by_time;
        if self.ext.deliverby && msg.by_mode.get() != ByMode::NotSet && min > 0 && by_time < min {
            let adjust = self.event(Event::DeliverByExpired(min - by_time), 0);
            if adjust > 0 {
                return min + adjust as i64;
            }
        }
        by_time
    }

    pub(super) fn transaction(&mut self, msg: &'a Message, needs_reset: bool) -> Result<TxnEnd, Stop> {
        let pipe = self.ext.pipelining;
        let rcpts: Vec<&Recipient> = msg.recipients.iter().filter(|r| !r.complete.get()).collect();
        if self.pending_final.is_none() {
            // Every reply asked for so far has been read.
            self.no_surplus()?;
        }
        self.in_flight = Some((msg, rcpts.clone()));
        let mut discards = 0;
        if needs_reset {
            self.write(b"RSET\r\n")?;
            if pipe {
                discards += 1;
            } else {
                self.discard_reply(&[250])?;
            }
        }
        if self.ext.xusr {
            self.write(b"XUSR\r\n")?;
            if pipe {
                discards += 1;
            } else {
                self.discard_reply(&[])?;
            }
        }
        let by_time = self.by_time(msg);
        self.write_with(|out, ext| mail_command(out, msg, ext, by_time))?;
        let require_all = self.sess.require_all_recipients.get();
        let bdat = self.ext.chunking;
        let mut data_sent = false;
        if pipe {
            for r in &rcpts {
                self.write_with(|out, ext| rcpt_command(out, r, ext))?;
            }
            if !require_all && !bdat {
                self.write(b"DATA\r\n")?;
                data_sent = true;
            }
        }
        if let Some(prev) = self.pending_final {
            self.final_reply(prev)?;
            self.pending_final = None;
        }
        self.set_timeout(TimeoutKind::Envelope);
        for _ in 0..discards {
            self.discard_reply(&[])?;
        }
        let r = self.reply_into(&msg.reverse_path_status)?;
        self.expect(&r, &[250])?;
        self.event(Event::MailStatus(msg), 0);
        if r.class() != 2 {
            let end = self.after_refused_mail(rcpts.len(), data_sent)?;
            self.in_flight = None;
            return Ok(end);
        }
        let (mut valid, mut failed) = (0usize, 0usize);
        for rcpt in &rcpts {
            if !pipe {
                self.no_surplus()?;
                self.write_with(|out, ext| rcpt_command(out, rcpt, ext))?;
            }
            let r = self.reply_into(&rcpt.status)?;
            self.expect(&r, &[250, 251, 252])?;
            if r.class() == 2 {
                valid += 1;
            } else {
                failed += 1;
            }
            if r.class() == 5 {
                rcpt.complete.set(true);
            }
            self.event(Event::RcptStatus(rcpt), 0);
        }
        if require_all && failed > 0 {
            msg.message_status.reset();
            self.in_flight = None;
            return Ok(TxnEnd::NeedsReset);
        }
        if bdat {
            // Every RCPT reply is read and nothing is awaited: bytes here
            // are a surplus reply, which would answer a chunk.
            self.no_surplus()?;
            if valid == 0 {
                // No recipient: no content goes out (BDAT has no empty
                // ending, unlike DATA's lone dot), and the message is not
                // sent (COMPATIBILITY R4).
                msg.message_status.set(554, Some(NO_RECIPIENTS), [5, 5, 1]);
                self.event(Event::MessageSent(msg), 0);
                self.in_flight = None;
                return Ok(TxnEnd::NeedsReset);
            }
            let end = self.bdat(msg)?;
            self.in_flight = None;
            return Ok(end);
        }
        if !data_sent {
            self.no_surplus()?;
            self.write(b"DATA\r\n")?;
        }
        self.set_timeout(TimeoutKind::Data);
        let r = self.reply_into(&msg.message_status)?;
        match r.class() {
            3 if r.code == 354 => {}
            4 | 5 => {
                self.event(Event::MessageSent(msg), 0);
                self.in_flight = None;
                return Ok(TxnEnd::NeedsReset);
            }
            // A 2xx (or another 3xx) to DATA answers some other command;
            // libESMTP kept the 250 as the message's status.
            _ => {
                set_error(error::ERR_INVALID_RESPONSE_STATUS);
                return Err(Stop::Violation);
            }
        }
        // DATA was the last command sent: anything more now is surplus.
        self.no_surplus()?;
        // Only DATA is answered 354: the replies before it were in step.
        self.unconfirmed.clear();
        if valid == 0 {
            // The server accepted DATA without recipients; end it at once.
            self.write(b".\r\n")?;
            self.empty = Some(msg);
        } else {
            self.set_timeout(TimeoutKind::Transfer);
            self.conn.monitor_enabled(false);
            let hooks = Hooks {
                sink: self.sink,
                monitor: self.monitor.as_deref(),
                monitor_headers: self.sess.monitor_headers.get(),
            };
            let view = MessageView::new(msg, self.localhost);
            send_data(&mut self.conn, msg, &view, &hooks).map_err(|e| self.transfer_error(e))?;
            // The body's tail must go out unmonitored; without a monitor it
            // can share a write with the next command group.
            if self.monitor.is_some() {
                self.conn.flush().map_err(|_| {
                    set_error(error::ERR_DROPPED_CONNECTION);
                    Stop::Drop
                })?;
                self.conn.monitor_enabled(true);
            }
        }
        if pipe {
            self.pending_final = Some(msg);
            self.in_flight = None;
            return Ok(TxnEnd::Clean);
        }
        let class = self.final_reply(msg)?;
        self.in_flight = None;
        Ok(if class == 2 { TxnEnd::Clean } else { TxnEnd::NeedsReset })
    }

    /// Records why a transfer failed; the connection cannot be reused
    /// (SMTP cannot abandon a message part way) unless a reply said so.
    pub(super) fn transfer_error(&self, e: TransferError) -> Stop {
        match e {
            TransferError::Source(errno) => error::set_errno(errno),
            TransferError::Io(_) => set_error(error::ERR_DROPPED_CONNECTION),
            TransferError::Reply(stop) => return stop,
            TransferError::Busy => set_error(error::ERR_CLIENT_ERROR),
        }
        Stop::Drop
    }

    /// After MAIL was refused, the pipelined RCPT and DATA replies are
    /// consumed; the next message follows without RSET, as in libESMTP.
    pub(super) fn after_refused_mail(&mut self, rcpts: usize, data_sent: bool) -> Result<TxnEnd, Stop> {
        if !self.ext.pipelining {
            return Ok(TxnEnd::Clean);
        }
        for _ in 0..rcpts {
            self.discard_reply(&[250, 251, 252])?;
        }
        if data_sent {
            let r = self.reply(false)?;
            if r.code == 354 {
                // A server that opened DATA without a sender: close it.
                self.write(b".\r\n")?;
                self.discard_reply(&[250])?;
                return Ok(TxnEnd::NeedsReset);
            }
            self.expect(&r, &[])?;
        }
        Ok(TxnEnd::Clean)
    }

    /// Reads the end-of-data reply and settles the recipients; returns the
    /// reply class. Only a well-formed 2xx here makes the message delivered.
    pub(super) fn final_reply(&mut self, msg: &'a Message) -> Result<i32, Stop> {
        self.set_timeout(TimeoutKind::Data2);
        let r = self.reply_into(&msg.message_status)?;
        self.expect(&r, &[250])?;
        let empty = self.empty.take().is_some_and(|m| std::ptr::eq(m, msg));
        if empty && r.class() == 2 {
            // The 2xx acknowledges an empty transaction, not the message
            // (libESMTP reported it sent): the status an RFC 2920 server
            // gives DATA without recipients, and the recipients keep their
            // own (COMPATIBILITY R4).
            msg.message_status.set(554, Some(NO_RECIPIENTS), [5, 5, 1]);
            self.event(Event::MessageSent(msg), 0);
            return Ok(5);
        }
        if r.class() == 2 {
            self.unconfirmed.push(msg);
        }
        self.settle(msg, r.class());
        self.event(Event::MessageSent(msg), 0);
        Ok(r.class())
    }

    /// A 2xx final reply completes the recipients the server accepted; a
    /// 5xx completes them all (it will never be accepted as it is).
    pub(super) fn settle(&self, msg: &Message, class: i32) {
        for r in msg.recipients.iter() {
            if class == 5 || (class == 2 && (200..300).contains(&r.status.code())) {
                r.complete.set(true);
            }
        }
    }

    pub(super) fn bdat(&mut self, msg: &'a Message) -> Result<TxnEnd, Stop> {
        self.set_timeout(TimeoutKind::Transfer);
        self.conn.monitor_enabled(false);
        let pipe = self.ext.pipelining;
        let sink = self.sink;
        let enhanced = self.ext.enhanced_status_codes;
        let hooks = Hooks {
            sink,
            monitor: self.monitor.as_deref(),
            monitor_headers: self.sess.monitor_headers.get(),
        };
        let view = MessageView::new(msg, self.localhost);
        // The message's status is the first refusal, else the reply to
        // BDAT LAST: a 250 to a chunk before it says nothing about the
        // message (libESMTP let a later 250 overwrite a refusal, and kept a
        // chunk's 250 when LAST's reply never came).
        msg.message_status.reset();
        let chunk_reply = |conn: &mut Conn, refused: &mut bool, last: bool| -> Result<(), TransferError> {
            let slot = (last && !*refused).then_some(&msg.message_status);
            let r = reply_on(conn, sink, enhanced, false, slot).map_err(TransferError::Reply)?;
            if !(matches!(r.class(), 4 | 5) || r.code == 250) {
                set_error(error::ERR_INVALID_RESPONSE_STATUS);
                return Err(TransferError::Reply(Stop::Violation));
            }
            if r.class() != 2 && !*refused {
                *refused = true;
                msg.message_status.set(r.code, Some(&r.text), r.enh);
            }
            Ok(())
        };
        let mut refused = false;
        let mut outstanding = 0usize;
        let sent = send_bdat(&mut self.conn, msg, &view, &hooks, self.ext.xexch50, |conn| {
            if pipe {
                outstanding += 1;
                return Ok(true);
            }
            chunk_reply(conn, &mut refused, false)?;
            if conn.has_unread() {
                // Nothing else is awaited: a surplus reply.
                set_error(error::ERR_INVALID_RESPONSE_STATUS);
                return Err(TransferError::Reply(Stop::Violation));
            }
            Ok(!refused)
        });
        // Everything after the transfer is monitored again (libESMTP 1.1.0
        // left the monitor off for the rest of the session).
        self.conn.monitor_enabled(true);
        let mut result = sent.map(|last_sent| (outstanding + last_sent as usize, last_sent));
        if let Ok((pending, last_sent)) = result {
            self.set_timeout(TimeoutKind::Data2);
            result = (0..pending)
                .try_for_each(|i| chunk_reply(&mut self.conn, &mut refused, last_sent && i + 1 == pending))
                .map(|()| (0, last_sent));
        }
        if let Err(e) = result {
            if let TransferError::Reply(stop) = e {
                // As libESMTP: a reply that cannot be read still ends the
                // transfer with MESSAGESENT, unless the server stalled.
                if self.conn.failure() != Some(IoFailure::Timeout) {
                    self.event(Event::MessageSent(msg), 0);
                }
                return Err(stop);
            }
            return Err(self.transfer_error(e));
        }
        let class = if refused { msg.message_status.code() / 100 } else { 2 };
        if class == 2 {
            self.unconfirmed.push(msg);
        }
        self.settle(msg, class);
        self.event(Event::MessageSent(msg), 0);
        Ok(if class == 2 { TxnEnd::Clean } else { TxnEnd::NeedsReset })
    }
}
