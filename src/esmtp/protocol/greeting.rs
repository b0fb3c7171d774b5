//! The greeting, EHLO (HELO when EHLO is refused), and the extensions the
//! session's messages need.

use super::engine::Engine;
use super::stop::Stop;
use crate::esmtp::conn::IoFailure;
use crate::esmtp::error::{self, set_error};
use crate::esmtp::events::Event;
use crate::esmtp::extensions::Extensions;
use crate::esmtp::message::Body;
use crate::esmtp::policy::Mode;
use crate::esmtp::session::{Session, StartTls, TimeoutKind};

/// Extensions a message or the session needs from the server.
#[derive(Default)]
struct Required {
    dsn: bool,
    chunking: bool,
    binarymime: bool,
    eightbitmime: bool,
    etrn: bool,
}

impl Required {
    fn of(sess: &Session) -> Required {
        let mut r = Required { etrn: !sess.etrn_nodes.is_empty(), ..Required::default() };
        for m in sess.messages.iter() {
            r.dsn |= m.wants_dsn();
            match m.body.get() {
                Body::BinaryMime => {
                    r.binarymime = true;
                    r.chunking = true;
                }
                Body::SevenBit | Body::EightBitMime => r.eightbitmime = true,
                Body::NotSet => {}
            }
        }
        r
    }
}

impl<'a> Engine<'a> {
    pub(super) fn greeting_and_ehlo(&mut self) -> Result<(), Stop> {
        self.set_timeout(TimeoutKind::Greeting);
        if self.sess.implicit_tls.get() {
            let Some(ctx) = self.tls_context() else {
                set_error(error::ERR_CLIENT_ERROR);
                return Err(Stop::Drop);
            };
            self.secure(&ctx)?;
        }
        // A greeting that is missing or cannot be parsed sends us to the
        // next address; one that stalls ends the session (libESMTP's poll
        // loop gives up before its greeting handler can ask for fallback).
        let greeting = self.reply(false).map_err(|_| {
            self.fallback = self.conn.failure() != Some(IoFailure::Timeout);
            Stop::Drop
        })?;
        if greeting.code != 220 {
            self.fallback = true;
            if greeting.class() == 5 {
                self.refused = Some(greeting.clone());
            }
            return Err(if matches!(greeting.class(), 4 | 5) { Stop::Quit } else { Stop::Drop });
        }
        self.no_surplus()?;
        self.ehlo()
    }

    /// EHLO, and again after STARTTLS.
    pub(super) fn ehlo(&mut self) -> Result<(), Stop> {
        self.hello(b"EHLO ")?;
        self.ext = Extensions::default();
        let ehlo = self.reply(true)?;
        match ehlo.class() {
            2 if ehlo.code != 250 => {
                // EHLO is answered 250: another 2xx belongs to another command.
                set_error(error::ERR_INVALID_RESPONSE_STATUS);
                Err(Stop::Violation)
            }
            2 => {
                self.ext = Extensions::parse(ehlo.extra.iter().map(Vec::as_slice));
                self.no_surplus()?;
                self.after_ehlo()
            }
            4 => {
                self.fallback = true;
                Err(Stop::Quit)
            }
            5 if matches!(ehlo.code, 500 | 501 | 502 | 504) => self.helo(),
            5 => Err(Stop::Quit),
            _ => {
                set_error(error::ERR_INVALID_RESPONSE_STATUS);
                Err(Stop::Quit)
            }
        }
    }

    pub(super) fn hello(&mut self, verb: &[u8]) -> Result<(), Stop> {
        let mut cmd = verb.to_vec();
        cmd.extend_from_slice(self.localhost);
        cmd.extend_from_slice(b"\r\n");
        self.write(&cmd)
    }

    pub(super) fn helo(&mut self) -> Result<(), Stop> {
        self.no_surplus()?;
        self.hello(b"HELO ")?;
        let r = self.reply(false).inspect_err(|_| self.fallback = true)?;
        if r.class() != 2 {
            if !matches!(r.class(), 4 | 5) {
                set_error(error::ERR_INVALID_RESPONSE_STATUS);
            }
            self.fallback = true;
            return Err(Stop::Quit);
        }
        self.ext = Extensions::default();
        let clear = !self.conn.is_tls();
        let tls_missing = self.starttls_mode() == StartTls::Required && clear;
        let policy_took = clear && self.no_starttls("the server does not support EHLO");
        if tls_missing && !policy_took {
            self.event(Event::ExtnaStartTls, 0);
        }
        // libESMTP reports the other missing extensions first.
        let extensions_ok = self.report_extensions();
        let policy_error = policy_took && self.plan.is_some_and(|p| p.mode == Mode::Enforce);
        if !extensions_ok || tls_missing {
            if !policy_error {
                set_error(error::ERR_EXTENSION_NOT_AVAILABLE);
            }
            return Err(Stop::Quit);
        }
        Ok(())
    }

    pub(super) fn after_ehlo(&mut self) -> Result<(), Stop> {
        let how = self.starttls_mode();
        if !self.conn.is_tls() && how != StartTls::Disabled {
            if self.ext.starttls {
                if let Some(ctx) = self.tls_context() {
                    if self.starttls(&ctx)? {
                        // RFC 3207 §4.2: forget what was learnt in clear.
                        return self.ehlo();
                    }
                    // Refused, and the policy lets the mail go in clear.
                    return self.after_tls_settled();
                }
            }
            let why = if self.ext.starttls { "no TLS context" } else { "STARTTLS not offered" };
            if self.no_starttls(why) {
                if how == StartTls::Required {
                    return Err(Stop::Quit);
                }
            } else if how == StartTls::Required {
                self.event(Event::ExtnaStartTls, 0);
                set_error(error::ERR_EXTENSION_NOT_AVAILABLE);
                return Err(Stop::Quit);
            }
        }
        self.after_tls_settled()
    }

    /// AUTH and the extension checks, once TLS is settled.
    pub(super) fn after_tls_settled(&mut self) -> Result<(), Stop> {
        if self.ext.auth && !self.authenticated {
            if let Some(auth) = self.opts.auth {
                self.authenticate(auth)?;
            }
        }
        if !self.report_extensions() {
            set_error(error::ERR_EXTENSION_NOT_AVAILABLE);
            return Err(Stop::Quit);
        }
        Ok(())
    }

    /// Reports required extensions the server lacks, in libESMTP's order
    /// and with its defaults; false when the session must end.
    pub(super) fn report_extensions(&mut self) -> bool {
        let req = Required::of(self.sess);
        let ext = self.ext.clone();
        let mut fatal = false;
        if req.dsn && !ext.dsn && self.event(Event::ExtnaDsn, 0) != 0 {
            fatal = true;
        }
        if req.chunking && !ext.chunking && self.event(Event::ExtnaChunking, 0) != 0 {
            fatal = true;
        }
        if req.binarymime && !ext.binarymime {
            self.event(Event::ExtnaBinaryMime, 0);
            fatal = true;
        }
        if req.eightbitmime && !ext.eightbitmime {
            self.event(Event::ExtnaEightBitMime, 0);
            fatal = true;
        }
        if req.etrn && !ext.etrn && self.event(Event::ExtnaEtrn, 1) != 0 {
            fatal = true;
        }
        !fatal
    }
}
