//! The SMTP client protocol engine behind `smtp_start_session`.
//!
//! Synchronous, one connection at a time, following libESMTP 1.1.0's
//! sequence of commands, events and statuses. With PIPELINING it sends
//! RFC 2920 groups: MAIL, every RCPT and DATA together, and a message's
//! end-of-data dot together with the next MAIL group (or QUIT).

use std::rc::Rc;

use socket2::SockAddr;

use foreign_types::ForeignTypeRef;
use openssl::ssl::{SslContext, SslContextRef};

use super::conn::{resolve, Conn, IoFailure};
use super::error::{self, set_error};
use super::events::{report, Event, EventSink, Monitor};
use super::extensions::Extensions;
use super::message::{Body, ByMode, EtrnNode, Message, Recipient};
use super::params::{mail_command, rcpt_command};
use super::policy::{self, Mode, Plan};
use super::reply::{read_reply, Reply, ReplyError, ReplyOptions};
use super::sasl::Authenticator;
use super::session::{Session, StartTls, TimeoutKind};
use super::status::StatusCell;
use super::tls;
use super::transfer::{send_bdat, send_data, Hooks, MessageView, TransferError};

/// What the C layer knows that the engine cannot look up itself.
#[derive(Default)]
pub struct RunOptions<'a> {
    /// The application's auth context, when it has an interact callback.
    pub auth: Option<&'a dyn Authenticator>,
}

/// 334 continuations answered per mechanism before it is cancelled.
const MAX_AUTH_ROUNDS: usize = 16;

/// How a conversation ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stop {
    /// Send QUIT and read its reply.
    Quit,
    /// Close at once (the connection is unusable).
    Drop,
    /// The server broke the protocol: a malformed reply, a reply of the
    /// wrong kind for its command, or a reply nobody asked for. Replies may
    /// have shifted, so no reply of the transactions under way can be
    /// trusted: their statuses become `PROTOCOL_ERROR`, then QUIT.
    Violation,
}

/// For `Engine::expect`: any 2xx (RSET and XUSR, whose replies are only
/// read to stay in step).
const ANY_2XX: &[i32] = &[200];

/// The status given to a reply that broke the protocol, and to every status
/// of a transaction under way when the server did: never 2xx, transient
/// (the recipients stay incomplete, so a later `smtp_start_session` tries
/// again), with RFC 3463's "other or undefined protocol status". The text
/// says it was this client's verdict, not the server's words.
pub const PROTOCOL_ERROR: (i32, &[u8], [i32; 3]) =
    (451, b"protocol error: the server's reply was malformed or out of sequence (client)\r\n", [4, 5, 0]);

fn set_protocol_error(slot: &StatusCell) {
    let (code, text, enh) = PROTOCOL_ERROR;
    slot.set(code, Some(text), enh);
}

/// How a transaction ended, deciding what precedes the next MAIL.
#[derive(Debug, PartialEq, Eq)]
enum TxnEnd {
    /// Nothing to clean up: the next MAIL may follow directly.
    Clean,
    /// The server's transaction state is uncertain: RSET first.
    NeedsReset,
}

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

/// The local host name for EHLO/HELO and Message-Id.
fn local_hostname(sess: &Session) -> Result<Vec<u8>, i32> {
    if let Some(h) = sess.hostname.borrow().as_ref() {
        return Ok(h.to_bytes().to_vec());
    }
    // SAFETY: uname fills the zeroed struct; nodename is NUL-terminated.
    unsafe {
        let mut uts: libc::utsname = std::mem::zeroed();
        if libc::uname(&mut uts) < 0 {
            return Err(std::io::Error::last_os_error().raw_os_error().unwrap_or(0));
        }
        Ok(std::ffi::CStr::from_ptr(uts.nodename.as_ptr()).to_bytes().to_vec())
    }
}

/// Runs a whole session. Returns libESMTP's result: 1 when some server
/// completed the protocol (statuses tell how it went), 0 otherwise.
pub fn run(sess: &Session, opts: &RunOptions) -> i32 {
    let localhost = match local_hostname(sess) {
        Ok(h) => h,
        Err(e) => {
            error::set_errno(e);
            return 0;
        }
    };
    if sess.next_pending_message(None).is_none() && sess.etrn_nodes.is_empty() {
        set_error(error::ERR_NOTHING_TO_DO);
        return 0;
    }
    let Some(server) = sess.server.borrow().clone() else {
        set_error(error::ERR_INVAL);
        return 0;
    };
    let (plan, planned_addrs) = if sess.tls_policy.borrow().kind == policy::Kind::None {
        (None, None)
    } else {
        let sink = sess.event_sink();
        let ctx = || tls_context(sess, sink.as_deref());
        match policy::engine::plan_session(sess, &server, &ctx) {
            Some(p) => (p.plan, p.addrs),
            None => return 0,
        }
    };
    let addrs = match planned_addrs {
        Some(a) => {
            // The policy names the host; no canonical name replaces it.
            *sess.canon.borrow_mut() = None;
            a
        }
        None => {
            let node = (!server.host.as_bytes().is_empty()).then_some(server.host.as_c_str());
            match resolve(node, &server.port) {
                Ok(r) => {
                    *sess.canon.borrow_mut() = r.canon.clone();
                    r.addrs
                }
                Err((gai, errno)) => {
                    error::set_herror(gai, errno);
                    return 0;
                }
            }
        }
    };
    run_on(sess, opts, &addrs, &localhost, plan.as_ref())
}

/// The session's SSL_CTX: the application's, else the library's own,
/// built once per session (events report unusable files).
fn tls_context(sess: &Session, sink: Option<&dyn EventSink>) -> Option<SslContext> {
    let app = sess.tls_ctx.get().cast::<openssl_sys::SSL_CTX>();
    if !app.is_null() {
        // SAFETY: the session holds a reference to the application's
        // SSL_CTX (taken in smtp_starttls_set_ctx); to_owned takes one
        // more for the connection.
        return Some(unsafe { SslContextRef::from_ptr(app) }.to_owned());
    }
    if let Some(ctx) = sess.own_tls_ctx.borrow().as_ref() {
        return Some(ctx.clone());
    }
    let ctx = tls::context::build(&tls::context::Layout::find(), sink)?;
    *sess.own_tls_ctx.borrow_mut() = Some(ctx.clone());
    Some(ctx)
}

/// Tries each address in turn until a server completes the protocol.
fn run_on(
    sess: &Session,
    opts: &RunOptions,
    addrs: &[SockAddr],
    localhost: &[u8],
    plan: Option<&Plan>,
) -> i32 {
    let sink = sess.event_sink();
    let sink = sink.as_deref();
    for addr in addrs {
        let mut conn = match Conn::connect(addr, sess.timeout(TimeoutKind::Greeting)) {
            Ok(c) => c,
            Err(e) => {
                error::set_errno(e.raw_os_error().unwrap_or(libc::EIO));
                continue;
            }
        };
        let monitor = sess.monitor();
        conn.set_monitor(monitor.clone());
        report(sink, Event::Connect, 0);
        let engine = Engine {
            sess,
            sink,
            monitor,
            conn,
            ext: Extensions::default(),
            localhost,
            fallback: false,
            opts,
            pending_final: None,
            in_flight: None,
            unconfirmed: Vec::new(),
            authenticated: false,
            plan,
        };
        let fallback = engine.converse();
        report(sink, Event::Disconnect, 0);
        if !fallback {
            return 1;
        }
    }
    0
}

struct Engine<'a> {
    sess: &'a Session,
    sink: Option<&'a dyn EventSink>,
    monitor: Option<Rc<dyn Monitor>>,
    conn: Conn,
    ext: Extensions,
    localhost: &'a [u8],
    /// The server sent us away: try the next address.
    fallback: bool,
    opts: &'a RunOptions<'a>,
    /// A message whose end-of-data reply has not been read yet: with
    /// PIPELINING it travels with the next command group.
    pending_final: Option<&'a Message>,
    /// The message whose transaction is under way, with its recipients in
    /// this transaction, until its end-of-data reply is read or handed over
    /// to `pending_final`.
    in_flight: Option<(&'a Message, Vec<&'a Recipient>)>,
    /// Messages whose final 2xx has been read but not yet shown to be the
    /// reply to their dot. A surplus reply sent with the dot's (`250` then
    /// `554`) would be read as the dot's and shift every later reply by
    /// one; the next DATA's 354, which no other command gets, or a clean
    /// reply to QUIT shows there was no shift.
    unconfirmed: Vec<&'a Message>,
    authenticated: bool,
    /// The session's TLS policy, if it has one.
    plan: Option<&'a Plan>,
}

/// Reads one reply on `conn`. A failure records its error code; `slot` is
/// left alone when the server stalled before replying and gets code 0
/// without text when it closed before replying, as in libESMTP. A reply
/// that was received but is malformed gets `PROTOCOL_ERROR`: libESMTP left
/// the digits read (`250` from `250x`), which looked like an acceptance.
fn reply_on(
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
    fn event(&self, ev: Event<'_>, default: i32) -> i32 {
        report(self.sink, ev, default)
    }

    fn set_timeout(&mut self, kind: TimeoutKind) {
        self.conn.set_timeout(self.sess.timeout(kind));
    }

    /// Reads one reply; a failure records its error code.
    fn reply(&mut self, collect_extra: bool) -> Result<Reply, Stop> {
        reply_on(&mut self.conn, self.sink, self.ext.enhanced_status_codes, collect_extra, None)
    }

    /// Reads one reply into a status the application can see.
    fn reply_into(&mut self, slot: &StatusCell) -> Result<Reply, Stop> {
        reply_on(&mut self.conn, self.sink, self.ext.enhanced_status_codes, false, Some(slot))
    }

    /// Reads a reply nobody needs (RSET, XUSR); it must still be one that
    /// command can have.
    fn discard_reply(&mut self) -> Result<(), Stop> {
        let r = self.reply(false)?;
        self.expect(&r, ANY_2XX)
    }

    /// A well-formed reply its command cannot have (a 354 to RCPT, a 2xx to
    /// DATA, a 221 to MAIL) answers some other command: the replies have
    /// shifted. `ok` lists the positive codes RFC 5321 §4.3.2 gives the
    /// command; any 4xx or 5xx is a refusal it may have.
    fn expect(&self, r: &Reply, ok: &[i32]) -> Result<(), Stop> {
        if matches!(r.class(), 4 | 5) || ok.contains(&r.code) || (ok == ANY_2XX && r.class() == 2) {
            Ok(())
        } else {
            set_error(error::ERR_INVALID_RESPONSE_STATUS);
            Err(Stop::Violation)
        }
    }

    /// Bytes the server sent that no command asked for, found when every
    /// awaited reply has been read: a surplus reply, which would otherwise
    /// be taken for the answer to the next command.
    fn no_surplus(&mut self) -> Result<(), Stop> {
        if self.conn.has_unread() {
            set_error(error::ERR_INVALID_RESPONSE_STATUS);
            return Err(Stop::Violation);
        }
        Ok(())
    }

    /// After a violation, nothing read for the transactions under way can
    /// be trusted: their statuses say so, and their recipients stay
    /// incomplete. Events are those of a dropped connection: no
    /// MESSAGESENT for them.
    fn void_in_flight(&mut self) {
        for msg in std::mem::take(&mut self.unconfirmed) {
            set_protocol_error(&msg.message_status);
            for r in msg.recipients.iter() {
                r.complete.set(false);
            }
        }
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

    fn write(&mut self, bytes: &[u8]) -> Result<(), Stop> {
        self.conn.write(bytes).map_err(|_| {
            set_error(error::ERR_DROPPED_CONNECTION);
            Stop::Drop
        })
    }

    /// Runs the conversation on this connection and closes it; returns
    /// whether the next address should be tried.
    fn converse(mut self) -> bool {
        let stop = match self.greeting_and_ehlo() {
            Ok(()) => match self.etrn_then_mail() {
                Ok(()) => Stop::Quit,
                Err(stop) => stop,
            },
            Err(stop) => stop,
        };
        // A dropped connection leaves the statuses as libESMTP did: each
        // was a well-formed reply of its kind, and none says delivered.
        if stop == Stop::Violation {
            self.void_in_flight();
        }
        if stop != Stop::Drop {
            self.quit();
        }
        self.fallback
    }

    fn quit(&mut self) {
        if self.pending_final.is_none() && !self.unconfirmed.is_empty() && self.conn.has_unread() {
            // Nothing is awaited: more after the last final reply means that
            // reply may have been a surplus one.
            set_error(error::ERR_INVALID_RESPONSE_STATUS);
            self.void_in_flight();
        }
        if self.write(b"QUIT\r\n").is_err() {
            return;
        }
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
                set_error(error::ERR_DROPPED_CONNECTION)
            }
            Ok(r) if r.class() == 2 && (self.unconfirmed.is_empty() || !self.conn.has_unread()) => {}
            _ if !self.unconfirmed.is_empty() => {
                set_error(error::ERR_INVALID_RESPONSE_STATUS);
                self.void_in_flight();
            }
            _ => {}
        }
    }

    fn greeting_and_ehlo(&mut self) -> Result<(), Stop> {
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
            return Err(if matches!(greeting.class(), 4 | 5) { Stop::Quit } else { Stop::Drop });
        }
        self.no_surplus()?;
        self.ehlo()
    }

    /// EHLO, and again after STARTTLS.
    fn ehlo(&mut self) -> Result<(), Stop> {
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

    fn hello(&mut self, verb: &[u8]) -> Result<(), Stop> {
        let mut cmd = verb.to_vec();
        cmd.extend_from_slice(self.localhost);
        cmd.extend_from_slice(b"\r\n");
        self.write(&cmd)
    }

    fn helo(&mut self) -> Result<(), Stop> {
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

    fn after_ehlo(&mut self) -> Result<(), Stop> {
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
    fn after_tls_settled(&mut self) -> Result<(), Stop> {
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

    /// RFC 4954 AUTH: the server's mechanisms in its order, each the
    /// application allows tried in turn, as libESMTP did. 534 and 538 end
    /// the session. Unlike libESMTP, which then sent the mail
    /// unauthenticated, when none succeeds no mail is sent: the messages'
    /// reverse-path status holds the last refusal, reported with
    /// SMTP_EV_MAILSTATUS (COMPATIBILITY A13).
    fn authenticate(&mut self, auth: &dyn Authenticator) -> Result<(), Stop> {
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

    fn tls_context(&self) -> Option<SslContext> {
        tls_context(self.sess, self.sink)
    }

    /// STARTTLS as the policy wants it, never less than the application
    /// asked for.
    fn starttls_mode(&self) -> StartTls {
        let app = self.sess.starttls.get();
        match self.plan.map(|p| p.mode) {
            None => app,
            Some(Mode::Enforce) => StartTls::Required,
            Some(_) if app == StartTls::Required => StartTls::Required,
            Some(_) => StartTls::Enabled,
        }
    }

    /// Reports a connection's TLSRPT result, with its addresses.
    fn policy_report(&self, failure: Option<policy::tlsrpt::Failure>) {
        let Some(mut r) = self.plan.and_then(|p| p.result(failure)) else { return };
        let (local, peer) = self.conn.endpoints();
        r.sending_mta_ip = local.map(|a| a.ip().to_string());
        r.receiving_ip = peer.map(|a| a.ip().to_string());
        policy::engine::emit_report(self.sess, self.sink, &r);
    }

    /// TLS could not be started under a policy: reports it; true when the
    /// policy took charge (and, if it forbids clear text, stopped delivery).
    /// An opportunistic policy leaves the matter to the application's
    /// STARTTLS setting.
    fn no_starttls(&mut self, why: &str) -> bool {
        let Some(plan) = self.plan.filter(|p| p.mode != Mode::Opportunistic) else { return false };
        let reason = format!("4.7.4 {why}");
        self.policy_report(Some((policy::tlsrpt::result::STARTTLS_NOT_SUPPORTED, reason)));
        if plan.mode == Mode::Enforce {
            set_error(error::ERR_TLS_POLICY);
            self.fallback = true;
        }
        true
    }

    /// The name the certificate must carry: getaddrinfo's canonical name,
    /// else the host the application set.
    fn server_name(&self) -> String {
        let canon = self.sess.canon.borrow();
        let server = self.sess.server.borrow();
        let name = canon.as_deref().or(server.as_ref().map(|s| s.host.as_c_str()));
        name.map(|n| n.to_string_lossy().into_owned()).unwrap_or_default()
    }

    /// TLS on the connection, or how the session must end.
    fn secure(&mut self, ctx: &SslContext) -> Result<(), Stop> {
        let host = self.server_name();
        let cert_events = self.sess.cert_events.get();
        let to_stop = |r| match r {
            tls::handshake::Refused::Broken => Stop::Drop,
            tls::handshake::Refused::Rejected => Stop::Quit,
        };
        let Some(plan) = self.plan else {
            let mut none = tls::handshake::NoPolicy;
            return tls::handshake::secure(&mut self.conn, ctx, &host, self.sink, cert_events, &mut none)
                .map_err(to_stop);
        };
        let mut hooks = policy::engine::PolicyHooks::new(plan, ctx);
        let done = tls::handshake::secure(&mut self.conn, ctx, &host, self.sink, cert_events, &mut hooks);
        if plan.mode != Mode::Opportunistic {
            let unusable = hooks.unusable.map(|r| (policy::tlsrpt::result::TLSA_INVALID, r));
            match hooks.verdict {
                Some(Ok(())) => self.policy_report(unusable.or_else(|| plan.degraded.clone())),
                Some(Err(f)) => {
                    self.policy_report(Some(f));
                    if plan.mode == Mode::Enforce {
                        set_error(error::ERR_TLS_POLICY);
                        // Another address may have a better certificate.
                        self.fallback = true;
                    }
                }
                // Refused before the policy's check (certificate event).
                None => {}
            }
        }
        done.map_err(to_stop)
    }

    /// RFC 3207: STARTTLS alone, its reply, the handshake. A refusal ends
    /// the session (there is no falling back to clear text), except under a
    /// policy that allows clear text: then it is `Ok(false)`.
    fn starttls(&mut self, ctx: &SslContext) -> Result<bool, Stop> {
        self.write(b"STARTTLS\r\n")?;
        let r = self.reply(false)?;
        if r.class() != 2 {
            if !matches!(r.class(), 4 | 5) {
                set_error(error::ERR_INVALID_RESPONSE_STATUS);
            }
            self.no_starttls(&format!("STARTTLS refused with {}", r.code));
            if self.plan.is_some() && self.starttls_mode() != StartTls::Required {
                return Ok(false);
            }
            return Err(Stop::Quit);
        }
        self.secure(ctx)?;
        self.ext = Extensions::default();
        Ok(true)
    }

    /// Reports required extensions the server lacks, in libESMTP's order
    /// and with its defaults; false when the session must end.
    fn report_extensions(&mut self) -> bool {
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

    fn etrn_then_mail(&mut self) -> Result<(), Stop> {
        if !self.sess.etrn_nodes.is_empty() && self.ext.etrn {
            self.etrn()?;
        }
        self.transactions()
    }

    fn etrn(&mut self) -> Result<(), Stop> {
        let nodes: Vec<&EtrnNode> = self.sess.etrn_nodes.iter().collect();
        let command = |n: &EtrnNode| {
            // libESMTP 1.1.0 sent `ETRN  domain` (two spaces) for option 0.
            let mut cmd = b"ETRN ".to_vec();
            if n.option == b'@' as i32 {
                cmd.push(b'@');
            }
            cmd.extend_from_slice(n.domain.to_bytes());
            cmd.extend_from_slice(b"\r\n");
            cmd
        };
        let pipelined = self.ext.pipelining;
        if pipelined {
            for n in &nodes {
                self.write(&command(n))?;
            }
        }
        for n in &nodes {
            if !pipelined {
                self.write(&command(n))?;
            }
            self.reply_into(&n.status)?;
            self.event(Event::EtrnStatus(n), 0);
        }
        Ok(())
    }

    fn transactions(&mut self) -> Result<(), Stop> {
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
    fn by_time(&self, msg: &Message) -> i64 {
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

    fn transaction(&mut self, msg: &'a Message, needs_reset: bool) -> Result<TxnEnd, Stop> {
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
                self.discard_reply()?;
            }
        }
        if self.ext.xusr {
            self.write(b"XUSR\r\n")?;
            if pipe {
                discards += 1;
            } else {
                self.discard_reply()?;
            }
        }
        let by_time = self.by_time(msg);
        self.write(&mail_command(msg, &self.ext, by_time))?;
        let require_all = self.sess.require_all_recipients.get();
        let bdat = self.ext.chunking;
        let mut data_sent = false;
        if pipe {
            for r in &rcpts {
                self.write(&rcpt_command(r, &self.ext))?;
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
            self.discard_reply()?;
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
                self.write(&rcpt_command(rcpt, &self.ext))?;
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
    fn transfer_error(&self, e: TransferError) -> Stop {
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
    fn after_refused_mail(&mut self, rcpts: usize, data_sent: bool) -> Result<TxnEnd, Stop> {
        if !self.ext.pipelining {
            return Ok(TxnEnd::Clean);
        }
        for _ in 0..rcpts {
            self.discard_reply()?;
        }
        if data_sent {
            let r = self.reply(false)?;
            if r.code == 354 {
                // A server that opened DATA without a sender: close it.
                self.write(b".\r\n")?;
                self.discard_reply()?;
                return Ok(TxnEnd::NeedsReset);
            }
            self.expect(&r, &[])?;
        }
        Ok(TxnEnd::Clean)
    }

    /// Reads the end-of-data reply and settles the recipients; returns the
    /// reply class. Only a well-formed 2xx here makes the message delivered.
    fn final_reply(&mut self, msg: &'a Message) -> Result<i32, Stop> {
        self.set_timeout(TimeoutKind::Data2);
        let r = self.reply_into(&msg.message_status)?;
        self.expect(&r, &[250])?;
        if r.class() == 2 {
            self.unconfirmed.push(msg);
        }
        self.settle(msg, r.class());
        self.event(Event::MessageSent(msg), 0);
        Ok(r.class())
    }

    /// A 2xx final reply completes the recipients the server accepted; a
    /// 5xx completes them all (it will never be accepted as it is).
    fn settle(&self, msg: &Message, class: i32) {
        for r in msg.recipients.iter() {
            if class == 5 || (class == 2 && (200..300).contains(&r.status.code())) {
                r.complete.set(true);
            }
        }
    }

    fn bdat(&mut self, msg: &'a Message) -> Result<TxnEnd, Stop> {
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::esmtp::message::Recipient;
    use crate::esmtp::source::tests::Chunks;
    use std::ffi::CString;
    use std::io::{BufRead, BufReader, Write};
    use std::net::{SocketAddr, TcpListener};
    use std::thread;

    /// A one-connection server that answers each command with the next
    /// scripted reply and returns what it received.
    fn server(replies: &'static [&'static str]) -> (SocketAddr, thread::JoinHandle<Vec<String>>) {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = l.local_addr().unwrap();
        let h = thread::spawn(move || {
            let (s, _) = l.accept().unwrap();
            s.set_read_timeout(Some(std::time::Duration::from_secs(5))).unwrap();
            let mut w = s.try_clone().unwrap();
            let mut r = BufReader::new(s);
            let mut got = Vec::new();
            let mut replies = replies.iter();
            w.write_all(replies.next().unwrap().as_bytes()).unwrap();
            let mut line = String::new();
            let mut in_data = false;
            while r.read_line(&mut line).unwrap_or(0) > 0 {
                got.push(line.trim_end().to_string());
                let end_of_data = in_data && line == ".\r\n";
                if !in_data || end_of_data {
                    match replies.next() {
                        Some(reply) => {
                            in_data = reply.starts_with("354");
                            w.write_all(reply.as_bytes()).unwrap();
                        }
                        None => break,
                    }
                }
                line.clear();
            }
            got
        });
        (addr, h)
    }

    fn session_with_message(body: &str) -> Session {
        let s = Session::default();
        let m = s.messages.push(Message::default());
        *m.reverse_path.borrow_mut() = Some(CString::new("a@b").unwrap());
        m.recipients.push(Recipient::new(CString::new("c@d").unwrap()));
        *m.source.borrow_mut() = Some(Box::new(Chunks(vec![body.as_bytes().to_vec()], 0)));
        s
    }

    /// An opportunistic plan never weakens the application's
    /// Starttls_REQUIRED: no STARTTLS, no mail command in clear.
    #[test]
    fn required_starttls_survives_an_opportunistic_plan() {
        let (addr, h) = server(&["220 ok\r\n", "250 hi\r\n", "221 bye\r\n"]);
        let s = session_with_message("x\r\n");
        s.starttls.set(StartTls::Required);
        let plan = Plan {
            desc: None,
            mode: Mode::Opportunistic,
            check: policy::Check::Unauthenticated,
            mx_host: "mx.example".into(),
            degraded: None,
        };
        run_on(&s, &RunOptions::default(), &[SockAddr::from(addr)], b"me", Some(&plan));
        assert_eq!(h.join().unwrap(), ["EHLO me", "QUIT"]);
        assert_eq!(error::errno(), error::ERR_EXTENSION_NOT_AVAILABLE);
    }

    /// MTA-STS testing lets a refused STARTTLS go on in clear, but not
    /// past the application's Starttls_REQUIRED.
    #[test]
    fn refused_starttls_in_testing_mode() {
        let plan = Plan {
            desc: None,
            mode: Mode::Testing,
            check: policy::Check::WebPki,
            mx_host: "mx.example".into(),
            degraded: None,
        };
        let replies: &[&str] = &["220 ok\r\n", "250-hi\r\n250 STARTTLS\r\n", "454 not now\r\n", "250 ok\r\n"];
        let (addr, h) = server(replies);
        let s = session_with_message("x\r\n");
        s.starttls.set(StartTls::Required);
        run_on(&s, &RunOptions::default(), &[SockAddr::from(addr)], b"me", Some(&plan));
        assert_eq!(h.join().unwrap(), ["EHLO me", "STARTTLS", "QUIT"]);
        let (addr, h) = server(replies);
        let s = session_with_message("x\r\n");
        run_on(&s, &RunOptions::default(), &[SockAddr::from(addr)], b"me", Some(&plan));
        assert_eq!(h.join().unwrap()[..3], ["EHLO me", "STARTTLS", "MAIL FROM:<a@b>"]);
    }

    #[test]
    fn next_address_after_refusal_and_421() {
        // Nothing listens on the first address; the second sends us away
        // with 421; the third takes the message.
        let refused = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap();
        let (busy, busy_h) = server(&["421 busy\r\n", "221 bye\r\n"]);
        let (good, good_h) = server(&[
            "220 ok\r\n",
            "250 hi\r\n",
            "250 ok\r\n",
            "250 ok\r\n",
            "354 go\r\n",
            "250 queued\r\n",
            "221 bye\r\n",
        ]);
        let s = session_with_message("Subject: x\r\n\r\nbody\n.dot\n");
        let addrs: Vec<SockAddr> = [refused, busy, good].into_iter().map(SockAddr::from).collect();
        assert_eq!(run_on(&s, &RunOptions::default(), &addrs, b"me", None), 1);
        assert_eq!(busy_h.join().unwrap(), ["QUIT"]);
        let got = good_h.join().unwrap();
        assert_eq!(got[..4], ["EHLO me", "MAIL FROM:<a@b>", "RCPT TO:<c@d>", "DATA"]);
        assert!(got.contains(&"body".to_string()) && got.contains(&"..dot".to_string()));
        assert_eq!(got.last().unwrap(), "QUIT");
        let m = s.messages.get(0).unwrap();
        assert_eq!(m.message_status.code(), 250);
        assert!(m.recipients.get(0).unwrap().complete.get());
    }

    #[test]
    fn every_address_failing_returns_zero() {
        let refused = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap();
        let (busy, busy_h) = server(&["554 no\r\n", "221 bye\r\n"]);
        let s = session_with_message("x\r\n");
        let addrs: Vec<SockAddr> = [refused, busy].into_iter().map(SockAddr::from).collect();
        assert_eq!(run_on(&s, &RunOptions::default(), &addrs, b"me", None), 0);
        busy_h.join().unwrap();
        assert!(!s.messages.get(0).unwrap().recipients.get(0).unwrap().complete.get());
    }
}
