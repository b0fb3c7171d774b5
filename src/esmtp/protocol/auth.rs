//! SMTP AUTH (RFC 4954) with the application's auth context.

use super::engine::Engine;
use super::stop::Stop;
use crate::esmtp::error::{self, set_error};
use crate::esmtp::events::Event;
use crate::esmtp::reply::Reply;
use crate::esmtp::sasl::Authenticator;

/// 334 continuations answered per mechanism before it is cancelled.
const MAX_AUTH_ROUNDS: usize = 16;

impl<'a> Engine<'a> {
    /// RFC 4954 AUTH: the server's mechanisms in its order, each the
    /// application allows tried in turn, as libESMTP did. 534 and 538 end
    /// the session. Unlike libESMTP, which then sent the mail
    /// unauthenticated, when none succeeds no mail is sent: the messages'
    /// reverse-path status holds the last refusal, reported with
    /// SMTP_EV_MAILSTATUS (COMPATIBILITY A13).
    pub(super) fn authenticate(&mut self, auth: &dyn Authenticator) -> Result<(), Stop> {
        let mut refusal: Option<Reply> = None;
        for name in self.ext.auth_mechanisms.clone() {
            if !auth.select(name.as_bytes()) {
                continue;
            }
            let mut cmd = format!("AUTH {name}").into_bytes();
            match auth.response(None) {
                Some(ir) if ir.is_empty() => cmd.extend_from_slice(b" ="),
                Some(ir) => {
                    cmd.push(b' ');
                    cmd.extend_from_slice(openssl::base64::encode_block(&ir).as_bytes());
                }
                None => {}
            }
            cmd.extend_from_slice(b"\r\n");
            // Nothing is awaited before each AUTH and each answer: bytes
            // already here are a surplus reply, which would otherwise
            // answer this command (a refusal followed by a stray 2xx read
            // as the next mechanism's success).
            self.no_surplus()?;
            self.write(&cmd)?;
            let mut rounds = 0;
            let mut cancelled = false;
            let reply = loop {
                let r = self.reply(false)?;
                if r.code != 334 {
                    break r;
                }
                if cancelled {
                    // A server that goes on after `*` will not stop.
                    set_error(error::ERR_INVALID_RESPONSE_STATUS);
                    return Err(Stop::Quit);
                }
                rounds += 1;
                let challenge = std::str::from_utf8(&r.text)
                    .ok()
                    .and_then(|t| openssl::base64::decode_block(t.trim()).ok());
                let answer =
                    challenge.filter(|_| rounds <= MAX_AUTH_ROUNDS).and_then(|c| auth.response(Some(&c)));
                // `*` cancels the exchange (RFC 4954 §4).
                cancelled = answer.is_none();
                let mut line =
                    answer.map_or_else(|| b"*".to_vec(), |a| openssl::base64::encode_block(&a).into_bytes());
                line.extend_from_slice(b"\r\n");
                self.no_surplus()?;
                self.write(&line)?;
            };
            match reply.code {
                200..=299 => {
                    self.authenticated = true;
                    return self.no_surplus();
                }
                // 421: the server is closing the connection anyway.
                421 | 534 | 538 => return Err(Stop::Quit),
                _ => refusal = Some(reply),
            }
        }
        let (code, text, enh) = match &refusal {
            Some(r) => (r.code, Some(&r.text[..]), r.enh),
            None => (0, None, [0; 3]),
        };
        if refusal.is_none() {
            // Nothing the server offers could be used.
            set_error(error::ERR_EXTENSION_NOT_AVAILABLE);
        }
        // Each message is refused as a refused MAIL would be: its status,
        // and the event applications learn a reverse path's fate from.
        for m in self.sess.messages.iter().filter(|m| m.has_pending()) {
            m.reverse_path_status.set(code, text, enh);
            self.event(Event::MailStatus(m), 0);
        }
        Err(Stop::Quit)
    }
}
