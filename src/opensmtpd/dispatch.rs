//! From a parsed line to the filter's callback: the session's context is
//! found or created, updated from the event (for the NEED flags), the
//! callback runs, and sessions and messages end when smtpd says so.
//!
//! Fixed here, compared with libopensmtpd 0.7 (COMPATIBILITY.md): the
//! context is filled in before `oncreate_session` sees it; report lines
//! keep the session's filter token, so a late answer carries the right one;
//! `link-identify` stores the name without its `HELO|`/`EHLO|` prefix; a
//! line for an event without a callback is ignored instead of crashing.

use std::ffi::{c_void, CStr};

use super::ctx::osmtpd_ctx;
use super::params;
use super::phase::{Phase, Shape};
use super::protocol::{Event, Kind, ParseError};
use super::registration::{
    NEED_CIPHERS, NEED_DST, NEED_EVPID, NEED_FCRDNS, NEED_GREETING, NEED_IDENTITY, NEED_MAILFROM, NEED_MSGID,
    NEED_RCPTTO, NEED_RDNS, NEED_SRC,
};
use super::session::{set_string, Session, Sessions};

/// The arguments a callback receives after the context.
pub enum Args<'a> {
    None,
    Text(&'a CStr),
    Connect {
        rdns: &'a CStr,
        src: *mut libc::sockaddr_storage,
    },
    LinkConnect {
        rdns: &'a CStr,
        fcrdns: i32,
        src: *mut libc::sockaddr_storage,
        dst: *mut libc::sockaddr_storage,
    },
    Msg(u32),
    MsgAddr(u32, &'a CStr, i32),
    MsgStatus(u32, i32),
    Envelope(u32, u64),
    Commit(u32, usize),
    /// link-auth: user name and result (0 pass, 1 fail, 2 error).
    Auth(&'a CStr, i32),
}

impl Args<'_> {
    pub fn shape(&self) -> Shape {
        match self {
            Args::None => Shape::Plain,
            Args::Text(_) => Shape::Text,
            Args::Connect { .. } => Shape::Connect,
            Args::LinkConnect { .. } => Shape::LinkConnect,
            Args::Msg(_) => Shape::Msg,
            Args::MsgAddr(..) => Shape::MsgAddr,
            Args::MsgStatus(..) => Shape::MsgStatus,
            Args::Envelope(..) => Shape::Envelope,
            Args::Commit(..) => Shape::Commit,
            Args::Auth(..) => Shape::Auth,
        }
    }
}

/// The filter's callbacks, as the C layer holds them.
pub trait Callbacks {
    /// Calls the callback registered for this event, if any.
    fn call(&mut self, incoming: bool, phase: Phase, ctx: *mut osmtpd_ctx, args: Args<'_>);
    fn session_created(&mut self, ctx: *mut osmtpd_ctx) -> *mut c_void;
    fn session_deleted(&mut self, ctx: *mut osmtpd_ctx, local: *mut c_void);
    fn message_created(&mut self, ctx: *mut osmtpd_ctx) -> *mut c_void;
    fn message_deleted(&mut self, ctx: *mut osmtpd_ctx, local: *mut c_void);
}

#[derive(Default)]
pub struct Dispatcher {
    pub sessions: Sessions,
    pub needs: u32,
    /// Strings handed to callbacks, NUL-terminated copies of the input.
    scratch: [Vec<u8>; 2],
}

fn cstr_in(buf: &mut Vec<u8>, bytes: &[u8]) -> *const libc::c_char {
    buf.clear();
    buf.extend_from_slice(bytes);
    // A NUL would cut the C string short.
    if memchr::memchr(0, bytes).is_some() {
        buf.iter_mut().filter(|c| **c == 0).for_each(|c| *c = b' ');
    }
    buf.push(0);
    buf.as_ptr().cast()
}

impl Dispatcher {
    pub fn new(needs: u32) -> Self {
        Dispatcher { needs, ..Dispatcher::default() }
    }

    /// Handles one event line.
    pub fn event(&mut self, ev: &Event<'_>, cb: &mut dyn Callbacks) -> Result<(), ParseError> {
        let (sp, created) = self.sessions.get_or_create(ev.reqid);
        // SAFETY: `sp` points into a Box owned by `self.sessions`, alive
        // until removed below; no other reference to it exists meanwhile.
        let session: &mut Session = unsafe { &mut *sp };
        let ctx = &mut session.ctx;
        ctx.type_ = (ev.kind == Kind::Report) as i32;
        ctx.phase = ev.phase as i32;
        ctx.version_major = ev.version.0 as i32;
        ctx.version_minor = ev.version.1 as i32;
        ctx.tm = libc::timespec { tv_sec: ev.time.0 as libc::time_t, tv_nsec: ev.time.1 as libc::c_long };
        ctx.incoming = ev.incoming as i32;
        if ev.kind == Kind::Filter {
            ctx.token = ev.token;
        }
        let cptr: *mut osmtpd_ctx = ctx;
        if created {
            let local = cb.session_created(cptr);
            // SAFETY: as above; the callback has returned.
            unsafe { (*cptr).local_session = local };
        }
        let result = self.handle(ev, sp, cb);
        if ev.phase == Phase::LinkDisconnect {
            self.end_session(ev.reqid, cb);
        }
        result
    }

    fn handle(&mut self, ev: &Event<'_>, sp: *mut Session, cb: &mut dyn Callbacks) -> Result<(), ParseError> {
        // SAFETY: see `event`.
        let session = unsafe { &mut *sp };
        let cptr: *mut osmtpd_ctx = &mut session.ctx;
        let p = ev.params;
        let needs = self.needs;
        let need = |flags: u32| needs & flags != 0;
        let [s0, s1] = &mut self.scratch;
        // SAFETY (for the CStr::from_ptr calls): `cstr_in` returns a
        // NUL-terminated buffer that lives in `self.scratch` for the call.
        let text = |buf: &mut Vec<u8>, b: &[u8]| unsafe { CStr::from_ptr(cstr_in(buf, b)) };
        let incoming = ev.incoming;
        match ev.phase {
            Phase::Connect => {
                let (rdns, addr) =
                    split_last(p).ok_or(ParseError("Invalid line received: missing address"))?;
                let mut ss = params::client_address(addr)?.to_storage();
                cb.call(incoming, ev.phase, cptr, Args::Connect { rdns: text(s0, rdns), src: &mut ss });
            }
            Phase::Helo | Phase::Ehlo => {
                if need(NEED_IDENTITY) {
                    set_string(&mut session.ctx.identity, Some(p));
                }
                cb.call(incoming, ev.phase, cptr, Args::Text(text(s0, p)));
            }
            Phase::Auth | Phase::MailFrom | Phase::RcptTo | Phase::DataLine => {
                if ev.phase == Phase::DataLine {
                    session.in_data = p != b".";
                }
                cb.call(incoming, ev.phase, cptr, Args::Text(text(s0, p)));
            }
            Phase::StartTls
            | Phase::Data
            | Phase::Rset
            | Phase::Quit
            | Phase::Noop
            | Phase::Help
            | Phase::Wiz
            | Phase::Commit
            | Phase::LinkDisconnect
            | Phase::Timeout => cb.call(incoming, ev.phase, cptr, Args::None),
            Phase::LinkConnect => {
                let f: Vec<&[u8]> = p.splitn(4, |&c| c == b'|').collect();
                let [rdns, fcrdns, src, dst] = f[..] else {
                    return Err(ParseError(match f.len() {
                        1 => "Invalid line received: missing fcrdns",
                        2 => "Invalid line received: missing src",
                        _ => "Invalid line received: missing dst",
                    }));
                };
                let fc = params::fcrdns(fcrdns)?;
                let (mut src, mut dst) =
                    (params::link_address(src)?.to_storage(), params::link_address(dst)?.to_storage());
                if need(NEED_SRC | NEED_DST | NEED_RDNS | NEED_FCRDNS) {
                    set_string(&mut session.ctx.rdns, Some(rdns));
                    session.ctx.fcrdns = fc;
                    session.ctx.src = src;
                    session.ctx.dst = dst;
                }
                let args =
                    Args::LinkConnect { rdns: text(s0, rdns), fcrdns: fc, src: &mut src, dst: &mut dst };
                cb.call(incoming, ev.phase, cptr, args);
            }
            Phase::LinkGreeting => {
                if need(NEED_GREETING) {
                    set_string(&mut session.ctx.greeting.identity, Some(p));
                }
                cb.call(incoming, ev.phase, cptr, Args::Text(text(s0, p)));
            }
            Phase::LinkIdentify => {
                // Since 2019 smtpd sends `HELO|name` or `EHLO|name`.
                let name = match p.iter().position(|&c| c == b'|') {
                    Some(i) if matches!(&p[..i], b"HELO" | b"EHLO") => &p[i + 1..],
                    _ => p,
                };
                if need(NEED_IDENTITY) {
                    set_string(&mut session.ctx.identity, Some(name));
                }
                cb.call(incoming, ev.phase, cptr, Args::Text(text(s0, name)));
            }
            Phase::LinkTls => {
                if need(NEED_CIPHERS) {
                    set_string(&mut session.ctx.ciphers, Some(p));
                }
                cb.call(incoming, ev.phase, cptr, Args::Text(text(s0, p)));
            }
            Phase::LinkAuth => {
                // `user|result` up to protocol 0.6, `result|user` since 0.7:
                // the user name, which may hold `|`, is the other field.
                let missing = ParseError("Invalid line received: missing auth result");
                let (user, result) = if ev.version.1 >= 7 {
                    split_first(p).map(|(r, u)| (u, r)).ok_or(missing)?
                } else {
                    split_last(p).ok_or(missing)?
                };
                let result = match result {
                    b"pass" => 0,
                    b"fail" => 1,
                    b"error" => 2,
                    _ => return Err(ParseError("Invalid line received: invalid auth result")),
                };
                cb.call(incoming, ev.phase, cptr, Args::Auth(text(s0, user), result));
            }
            Phase::TxBegin => {
                let id = params::msgid(p)?;
                if session.message_open {
                    // A tx-begin without the previous message's end: that
                    // message is over, its local_message is handed back.
                    let local = std::mem::replace(&mut session.ctx.local_message, std::ptr::null_mut());
                    cb.message_deleted(cptr, local);
                    session.reset_message();
                }
                session.message_open = true;
                session.ctx.msgid = if need(NEED_MSGID) { id } else { 0 };
                let local = cb.message_created(cptr);
                session.ctx.local_message = local;
                cb.call(incoming, ev.phase, cptr, Args::Msg(id));
            }
            Phase::TxMail | Phase::TxRcpt => {
                let (id, status, addr) = params::tx_address(p, ev.version.1)?;
                if ev.phase == Phase::TxMail && need(NEED_MAILFROM) {
                    set_string(&mut session.ctx.mailfrom, Some(addr));
                }
                if ev.phase == Phase::TxRcpt && need(NEED_RCPTTO) {
                    session.add_rcpt(addr);
                }
                cb.call(incoming, ev.phase, cptr, Args::MsgAddr(id, text(s1, addr), status));
            }
            Phase::TxEnvelope => {
                let (id, evp) = split_first(p).ok_or(ParseError("Invalid line received: missing evpid"))?;
                let (id, evp) = (params::msgid(id)?, params::evpid(evp)?);
                if need(NEED_EVPID) {
                    session.ctx.evpid = evp;
                }
                cb.call(incoming, ev.phase, cptr, Args::Envelope(id, evp));
            }
            Phase::TxData => {
                let (id, st) = split_first(p).ok_or(ParseError("Invalid line received: missing status"))?;
                cb.call(incoming, ev.phase, cptr, Args::MsgStatus(params::msgid(id)?, params::status(st)?));
            }
            Phase::TxCommit | Phase::TxRollback => {
                let args = if ev.phase == Phase::TxCommit {
                    let (id, size) =
                        split_first(p).ok_or(ParseError("Invalid line received: missing size"))?;
                    Args::Commit(params::msgid(id)?, params::size(size)?)
                } else {
                    Args::Msg(params::msgid(p)?)
                };
                cb.call(incoming, ev.phase, cptr, args);
                let local = std::mem::replace(&mut session.ctx.local_message, std::ptr::null_mut());
                cb.message_deleted(cptr, local);
                session.reset_message();
            }
            Phase::ProtocolClient | Phase::ProtocolServer | Phase::FilterResponse => {
                cb.call(incoming, ev.phase, cptr, Args::Text(text(s0, p)));
            }
        }
        Ok(())
    }

    /// The session is over (link-disconnect, or end of input): a message
    /// still open gets its `ondelete_message` (0.7 lost its local_message),
    /// then the filter's `ondelete_session` runs, then the context and its
    /// strings are freed.
    pub fn end_session(&mut self, reqid: u64, cb: &mut dyn Callbacks) {
        if let Some(mut s) = self.sessions.remove(reqid) {
            let ctx: *mut osmtpd_ctx = &mut s.ctx;
            if s.message_open {
                let local = std::mem::replace(&mut s.ctx.local_message, std::ptr::null_mut());
                cb.message_deleted(ctx, local);
                s.reset_message();
            }
            let local = s.ctx.local_session;
            cb.session_deleted(ctx, local);
        }
    }
}

fn split_first(p: &[u8]) -> Option<(&[u8], &[u8])> {
    let i = memchr::memchr(b'|', p)?;
    Some((&p[..i], &p[i + 1..]))
}

fn split_last(p: &[u8]) -> Option<(&[u8], &[u8])> {
    let i = memchr::memrchr(b'|', p)?;
    Some((&p[..i], &p[i + 1..]))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::opensmtpd::protocol::{parse, Line};

    #[derive(Default)]
    struct Log(Vec<String>);

    impl Callbacks for Log {
        fn call(&mut self, _incoming: bool, phase: Phase, ctx: *mut osmtpd_ctx, args: Args<'_>) {
            // SAFETY: the dispatcher passes a live context.
            let token = unsafe { (*ctx).token };
            let a = match args {
                Args::Text(t) => t.to_string_lossy().into_owned(),
                Args::MsgAddr(id, a, st) => format!("{id} {} {st}", a.to_string_lossy()),
                _ => String::new(),
            };
            self.0.push(format!("{} {a} token={token:x}", phase.name()));
        }
        fn session_created(&mut self, ctx: *mut osmtpd_ctx) -> *mut c_void {
            // SAFETY: as above.
            let phase = unsafe { (*ctx).phase };
            self.0.push(format!("created phase={phase}"));
            std::ptr::null_mut()
        }
        fn session_deleted(&mut self, _: *mut osmtpd_ctx, _: *mut c_void) {
            self.0.push("deleted".into());
        }
        fn message_created(&mut self, _: *mut osmtpd_ctx) -> *mut c_void {
            std::ptr::null_mut()
        }
        fn message_deleted(&mut self, _: *mut osmtpd_ctx, _: *mut c_void) {
            self.0.push("message deleted".into());
        }
    }

    fn feed(d: &mut Dispatcher, log: &mut dyn Callbacks, line: &[u8]) {
        let Line::Event(e) = parse(line).unwrap() else { panic!() };
        d.event(&e, log).unwrap();
    }

    #[test]
    fn a_session_from_connect_to_disconnect() {
        let mut d = Dispatcher { needs: NEED_IDENTITY | NEED_MAILFROM | NEED_RCPTTO, ..Default::default() };
        let mut log = Log::default();
        feed(&mut d, &mut log, b"report|0.6|1.0|smtp-in|link-identify|01|EHLO|client.example");
        feed(&mut d, &mut log, b"filter|0.6|1.0|smtp-in|mail-from|01|0a|a@b");
        feed(&mut d, &mut log, b"report|0.6|1.0|smtp-in|tx-mail|01|00000001|ok|a@b");
        feed(&mut d, &mut log, b"report|0.6|1.0|smtp-in|tx-rcpt|01|00000001|ok|c@d");
        {
            let (sp, _) = d.sessions.get_or_create(1);
            // SAFETY: the session is alive in `d.sessions`.
            let ctx = unsafe { &(*sp).ctx };
            // SAFETY: strings set by the dispatcher.
            unsafe {
                assert_eq!(CStr::from_ptr(ctx.identity).to_bytes(), b"client.example");
                assert_eq!(CStr::from_ptr(ctx.mailfrom).to_bytes(), b"a@b");
                assert_eq!(CStr::from_ptr(*ctx.rcptto).to_bytes(), b"c@d");
            }
            // Report lines keep the filter token for late answers.
            assert_eq!(ctx.token, 0x0a);
        }
        feed(&mut d, &mut log, b"report|0.6|1.0|smtp-in|tx-commit|01|00000001|1234");
        feed(&mut d, &mut log, b"report|0.6|1.0|smtp-in|link-disconnect|01");
        assert_eq!(
            log.0,
            [
                "created phase=18",
                "link-identify client.example token=0",
                "mail-from a@b token=a",
                "tx-mail 1 a@b 0 token=a",
                "tx-rcpt 1 c@d 0 token=a",
                "tx-commit  token=a",
                "message deleted",
                "link-disconnect  token=a",
                "deleted"
            ]
        );
        assert!(d.sessions.is_empty());
    }

    #[test]
    fn a_message_open_at_the_end_of_the_session_is_deleted_first() {
        let mut d = Dispatcher::default();
        let mut log = Log::default();
        feed(&mut d, &mut log, b"report|0.6|1.0|smtp-in|tx-begin|03|0000000a");
        feed(&mut d, &mut log, b"report|0.6|1.0|smtp-in|link-disconnect|03");
        feed(&mut d, &mut log, b"report|0.6|1.0|smtp-in|tx-begin|04|0000000b");
        d.end_session(4, &mut log);
        let ends: Vec<&str> = log.0.iter().map(String::as_str).filter(|l| l.contains("deleted")).collect();
        assert_eq!(ends, ["message deleted", "deleted", "message deleted", "deleted"]);
    }

    /// Records the shape of what each phase's callback was given.
    #[derive(Default)]
    struct Shapes(Vec<(Phase, Shape)>);

    impl Callbacks for Shapes {
        fn call(&mut self, _incoming: bool, phase: Phase, _ctx: *mut osmtpd_ctx, args: Args<'_>) {
            self.0.push((phase, args.shape()));
        }
        fn session_created(&mut self, _: *mut osmtpd_ctx) -> *mut c_void {
            std::ptr::null_mut()
        }
        fn session_deleted(&mut self, _: *mut osmtpd_ctx, _: *mut c_void) {}
        fn message_created(&mut self, _: *mut osmtpd_ctx) -> *mut c_void {
            std::ptr::null_mut()
        }
        fn message_deleted(&mut self, _: *mut osmtpd_ctx, _: *mut c_void) {}
    }

    #[test]
    fn every_phase_passes_the_arguments_of_its_shape() {
        let mut d = Dispatcher::default();
        let mut seen = Shapes::default();
        for phase in Phase::all() {
            let params = match phase {
                Phase::Connect => "localhost|192.0.2.1",
                Phase::LinkConnect => "rdns|pass|192.0.2.1:1234|192.0.2.2:25",
                Phase::LinkIdentify => "EHLO|client",
                Phase::LinkAuth => "user|pass",
                Phase::TxBegin | Phase::TxRollback => "00000001",
                Phase::TxMail | Phase::TxRcpt => "00000001|ok|a@b",
                Phase::TxEnvelope => "00000001|0000000100000002",
                Phase::TxData => "00000001|ok",
                Phase::TxCommit => "00000001|1234",
                _ => "x",
            };
            let (kind, token) = if phase.is_filter() { ("filter", "|0a") } else { ("report", "") };
            let line = format!("{kind}|0.6|1.0|smtp-in|{}|01{token}|{params}", phase.name());
            feed(&mut d, &mut seen, line.as_bytes());
        }
        assert_eq!(seen.0.len(), Phase::all().count());
        for (phase, shape) in seen.0 {
            assert_eq!(shape, phase.shape(), "{}", phase.name());
        }
    }

    #[test]
    fn link_auth_in_both_field_orders() {
        let mut d = Dispatcher::default();
        let mut log = Log::default();
        feed(&mut d, &mut log, b"report|0.6|1.0|smtp-in|link-auth|05|a|b|pass");
        feed(&mut d, &mut log, b"report|0.7|1.0|smtp-in|link-auth|05|fail|a|b");
        let Line::Event(e) = parse(b"report|0.7|1.0|smtp-in|link-auth|05|a|b").unwrap() else { panic!() };
        assert_eq!(d.event(&e, &mut log), Err(ParseError("Invalid line received: invalid auth result")));
    }

    #[test]
    fn unix_socket_clients_and_bad_lines() {
        let mut d = Dispatcher::default();
        let mut log = Log::default();
        feed(&mut d, &mut log, b"filter|0.6|1.0|smtp-in|connect|02|0b|localhost|local");
        let Line::Event(e) = parse(b"report|0.6|1.0|smtp-in|tx-begin|02|zz").unwrap() else { panic!() };
        assert!(d.event(&e, &mut log).is_err());
    }
}
