//! RFC 5322 header processing as libESMTP 1.1.0 does it.
//!
//! A per-message table says, for each header name the library knows or the
//! application set, what to do when the message contains it (keep, drop,
//! replace) and what to generate when it does not (Date, From, Message-Id
//! and any header set through `smtp_set_header`).

use std::borrow::Cow;
use std::ffi::CStr;

const REQUIRE: u8 = 1;
const SHOULD: u8 = 2;
const PROHIBIT: u8 = 4;
const PRESERVE: u8 = 8;
const LISTVALUE: u8 = 16;

/// How a header's value is set and printed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// Any header without special handling: one string.
    Text,
    /// A string or NULL for "generate one"; printed inside `<>`.
    MessageId,
    /// A `time_t`, 0 meaning "now".
    Date,
    /// Phrase and mailbox, listed; the reverse path when unset.
    From,
    /// Phrase and mailbox, one value only.
    Sender,
    /// Phrase and mailbox, listed; the envelope recipients when reset.
    To,
    /// Phrase and mailbox, listed (Cc, Bcc, Reply-To).
    Cc,
}

impl Kind {
    /// How many pointer arguments `smtp_set_header` takes after the name.
    pub fn arity(self) -> i32 {
        match self {
            Kind::Text | Kind::MessageId | Kind::Date => 1,
            Kind::From | Kind::Sender | Kind::To | Kind::Cc => 2,
        }
    }
}

struct Builtin {
    name: &'static str,
    flags: u8,
    kind: Option<Kind>,
}

const BUILTINS: &[Builtin] = &[
    Builtin { name: "Date", flags: REQUIRE, kind: Some(Kind::Date) },
    Builtin { name: "From", flags: REQUIRE | LISTVALUE, kind: Some(Kind::From) },
    // Added by the delivering MTA; never part of a message in transit.
    Builtin { name: "Return-Path", flags: PROHIBIT, kind: None },
    Builtin { name: "Original-Recipient", flags: PROHIBIT, kind: None },
    // MIME and trace headers pass through untouched, repeats included.
    Builtin { name: "Content-", flags: PRESERVE, kind: None },
    Builtin { name: "MIME-", flags: PRESERVE, kind: None },
    Builtin { name: "Resent-", flags: PRESERVE, kind: None },
    Builtin { name: "Resent-Reply-To", flags: PROHIBIT, kind: None },
    Builtin { name: "Received", flags: PRESERVE, kind: None },
    Builtin { name: "Message-Id", flags: SHOULD, kind: Some(Kind::MessageId) },
    Builtin { name: "Sender", flags: 0, kind: Some(Kind::Sender) },
    Builtin { name: "To", flags: LISTVALUE, kind: Some(Kind::To) },
    Builtin { name: "Cc", flags: LISTVALUE, kind: Some(Kind::Cc) },
    Builtin { name: "Bcc", flags: LISTVALUE, kind: Some(Kind::Cc) },
    Builtin { name: "Reply-To", flags: LISTVALUE, kind: Some(Kind::Cc) },
    Builtin { name: "Disposition-Notification-To", flags: 0, kind: Some(Kind::From) },
];

#[derive(Clone, Debug, PartialEq, Eq)]
struct Mailbox {
    phrase: Option<Vec<u8>>,
    mailbox: Option<Vec<u8>>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum Value {
    Text(Option<Vec<u8>>),
    Date(i64),
    /// In print order: libESMTP prepends, so the last call prints first.
    Mailboxes(Vec<Mailbox>),
}

struct Info {
    name: Cow<'static, [u8]>,
    flags: u8,
    kind: Option<Kind>,
    record: Option<usize>,
    seen: bool,
    override_: bool,
    prohibit: bool,
}

struct Record {
    /// Spelling used on output: the table's for built-ins, else the first
    /// caller's.
    name: Cow<'static, [u8]>,
    info: usize,
    value: Value,
}

/// Arguments of one `smtp_set_header` call, already read from the va_list.
pub enum SetArgs<'a> {
    One(Option<&'a CStr>),
    Time(Option<i64>),
    Pair(Option<&'a CStr>, Option<&'a CStr>),
}

/// What to do with a header line found in the message.
#[derive(Debug, PartialEq, Eq)]
pub enum Action {
    Keep,
    Drop,
    Replace(Vec<u8>),
}

/// What printing needs to know about the message and session.
pub struct PrintContext<'a> {
    pub reverse_path: Option<&'a [u8]>,
    pub recipients: Vec<&'a [u8]>,
    pub localhost: &'a [u8],
}

#[derive(Debug, PartialEq, Eq)]
pub enum SetError {
    /// `SMTP_ERR_INVAL`.
    Invalid,
}

#[derive(Default)]
pub struct HeaderTable {
    infos: Vec<Info>,
    records: Vec<Record>,
}

impl HeaderTable {
    fn ensure_init(&mut self) {
        if !self.infos.is_empty() {
            return;
        }
        for b in BUILTINS {
            self.infos.push(Info {
                name: Cow::Borrowed(b.name.as_bytes()),
                flags: b.flags,
                kind: b.kind,
                record: None,
                seen: false,
                override_: false,
                prohibit: false,
            });
        }
        for i in 0..self.infos.len() {
            if self.infos[i].flags & (REQUIRE | SHOULD) != 0 {
                let name = self.infos[i].name.clone();
                self.create_record(i, name);
            }
        }
    }

    fn create_record(&mut self, info: usize, name: Cow<'static, [u8]>) -> usize {
        let value = match self.infos[info].kind {
            Some(Kind::Date) => Value::Date(0),
            Some(Kind::Text) | Some(Kind::MessageId) | None => Value::Text(None),
            Some(_) => Value::Mailboxes(Vec::new()),
        };
        self.records.push(Record { name, info, value });
        self.infos[info].record = Some(self.records.len() - 1);
        self.records.len() - 1
    }

    /// Case-insensitive lookup; an unknown `A-B` falls back to the `A-`
    /// prefix entry (so `Content-Type` finds `Content-`).
    fn find(&self, name: &[u8]) -> Option<usize> {
        if name.is_empty() {
            return None;
        }
        let exact = |n: &[u8]| self.infos.iter().position(|i| i.name.eq_ignore_ascii_case(n));
        exact(name).or_else(|| {
            let dash = name.iter().position(|&c| c == b'-')?;
            exact(&name[..=dash])
        })
    }

    fn find_or_insert(&mut self, name: &[u8]) -> usize {
        self.ensure_init();
        self.find(name).unwrap_or_else(|| {
            self.infos.push(Info {
                name: Cow::Owned(name.to_vec()),
                flags: 0,
                kind: Some(Kind::Text),
                record: None,
                seen: false,
                override_: false,
                prohibit: false,
            });
            self.infos.len() - 1
        })
    }

    /// The argument shape `smtp_set_header` must read for `name`, or 0 when
    /// the call will be refused without reading any.
    pub fn arity(&mut self, name: &[u8]) -> i32 {
        let i = self.find_or_insert(name);
        let info = &self.infos[i];
        if info.prohibit || info.flags & (PROHIBIT | PRESERVE) != 0 {
            return 0;
        }
        info.kind.map_or(0, Kind::arity)
    }

    /// The value kind `name` takes, if it can be set at all.
    pub fn kind(&mut self, name: &[u8]) -> Option<Kind> {
        let i = self.find_or_insert(name);
        self.infos[i].kind
    }

    /// `smtp_set_header`. Like the original, a call that is accepted but
    /// stores nothing (e.g. `Cc` with a NULL mailbox) still succeeds.
    pub fn set(&mut self, name: &[u8], args: SetArgs<'_>) -> Result<(), SetError> {
        let i = self.find_or_insert(name);
        let info = &self.infos[i];
        if info.prohibit || info.flags & (PROHIBIT | PRESERVE) != 0 {
            return Err(SetError::Invalid);
        }
        let kind = info.kind.ok_or(SetError::Invalid)?;
        let rec = match info.record {
            None => self.create_record(i, Cow::Owned(name.to_vec())),
            Some(r) if !self.records[r].has_value() => r,
            Some(r) if info.flags & LISTVALUE != 0 => r,
            Some(_) => return Err(SetError::Invalid),
        };
        // A phrase without a mailbox has nothing to address (libESMTP
        // crashed on it for these headers).
        if let (Kind::From | Kind::Sender | Kind::To, SetArgs::Pair(Some(_), None)) = (kind, &args) {
            return Err(SetError::Invalid);
        }
        let to_vec = |s: Option<&CStr>| s.map(|s| s.to_bytes().to_vec());
        let value = &mut self.records[rec].value;
        match (kind, args, value) {
            (Kind::Text, SetArgs::One(v), Value::Text(slot)) => {
                if slot.is_none() {
                    *slot = to_vec(v);
                }
            }
            (Kind::MessageId, SetArgs::One(v), Value::Text(slot)) => {
                if slot.is_none() {
                    *slot = to_vec(v);
                }
            }
            (Kind::Date, SetArgs::Time(t), Value::Date(slot)) => {
                if *slot == 0 {
                    *slot = t.unwrap_or(0);
                }
            }
            (
                Kind::From | Kind::Cc | Kind::To | Kind::Sender,
                SetArgs::Pair(phrase, mailbox),
                Value::Mailboxes(list),
            ) => {
                let entry = Mailbox { phrase: to_vec(phrase), mailbox: to_vec(mailbox) };
                match kind {
                    // Both NULL: keep (or return to) the generated default.
                    Kind::From if phrase.is_none() && mailbox.is_none() => {}
                    Kind::To if phrase.is_none() && mailbox.is_none() => list.clear(),
                    Kind::Cc if mailbox.is_none() => {}
                    Kind::Sender if !list.is_empty() || (phrase.is_none() && mailbox.is_none()) => {}
                    _ => list.insert(0, entry),
                }
            }
            _ => return Err(SetError::Invalid),
        }
        Ok(())
    }

    /// `smtp_set_header_option`; `option` is 0 (OVERRIDE) or 1 (PROHIBIT).
    pub fn set_option(&mut self, name: &[u8], option: i32, flag: bool) -> Result<(), SetError> {
        let i = self.find_or_insert(name);
        let info = &mut self.infos[i];
        if info.flags & (PROHIBIT | PRESERVE) != 0 {
            return Err(SetError::Invalid);
        }
        match option {
            0 if !info.prohibit => info.override_ = flag,
            1 if info.flags & REQUIRE == 0 => info.prohibit = flag,
            _ => return Err(SetError::Invalid),
        }
        Ok(())
    }

    /// Prepares for one transfer of the message.
    pub fn start_transfer(&mut self) {
        self.ensure_init();
        for info in &mut self.infos {
            info.seen = false;
        }
    }

    /// Decides the fate of one message header (`line` is the whole header,
    /// continuation lines included).
    pub fn process(&mut self, line: &[u8], ctx: &PrintContext<'_>) -> Action {
        let Some(colon) = line.iter().position(|&c| c == b':') else {
            return Action::Keep;
        };
        let Some(i) = self.find(&line[..colon]) else {
            return Action::Keep;
        };
        let info = &self.infos[i];
        let mut action = Action::Keep;
        if info.seen && info.flags & PRESERVE == 0 {
            action = Action::Drop;
        }
        if info.prohibit || info.flags & PROHIBIT != 0 {
            action = Action::Drop;
        }
        // Overriding needs a value to print; libESMTP 1.1.0 asserted when
        // there was none. Without one the message's header stays.
        if action == Action::Keep && info.override_ {
            if let Some(r) = info.record {
                if let Some(text) = self.print(r, ctx) {
                    action = Action::Replace(text);
                }
            }
        }
        self.infos[i].seen = true;
        action
    }

    /// The headers to add after the message's own, in table order.
    pub fn missing(&self, ctx: &PrintContext<'_>) -> Vec<Vec<u8>> {
        (0..self.records.len())
            .filter(|&r| {
                let info = &self.infos[self.records[r].info];
                // A prohibited Message-Id is not generated either (1.1.0
                // generated one anyway).
                !info.seen && !info.prohibit
            })
            .filter_map(|r| self.print(r, ctx))
            .collect()
    }

    /// Prints one record, or `None` when it has nothing printable (1.1.0
    /// crashed or wrote a header without CRLF there).
    fn print(&self, r: usize, ctx: &PrintContext<'_>) -> Option<Vec<u8>> {
        let rec = &self.records[r];
        let kind = self.infos[rec.info].kind?;
        let mut out = rec.name.to_vec();
        out.extend_from_slice(b": ");
        match (&rec.value, kind) {
            (Value::Text(v), Kind::MessageId) => {
                out.push(b'<');
                match v {
                    Some(id) => out.extend_from_slice(id),
                    None => out.extend_from_slice(&generate_message_id(ctx.localhost)),
                }
                out.push(b'>');
            }
            (Value::Text(v), _) => out.extend_from_slice(v.as_deref().unwrap_or_default()),
            (Value::Date(t), _) => out.extend_from_slice(&rfc2822_date(*t)),
            (Value::Mailboxes(list), Kind::From) if list.is_empty() => {
                out.extend_from_slice(or_empty_path(ctx.reverse_path));
            }
            (Value::Mailboxes(list), Kind::To) if list.is_empty() => {
                if ctx.recipients.is_empty() {
                    return None;
                }
                out.extend_from_slice(&ctx.recipients.join(&b",\r\n\t"[..]));
            }
            (Value::Mailboxes(list), _) if list.is_empty() => return None,
            (Value::Mailboxes(list), _) => {
                let from_like = matches!(kind, Kind::From | Kind::Sender);
                for (n, m) in list.iter().enumerate() {
                    if n > 0 {
                        out.extend_from_slice(b",\r\n    ");
                    }
                    match &m.phrase {
                        None if from_like => out.extend_from_slice(or_empty_path(m.mailbox.as_deref())),
                        None => out.extend_from_slice(m.mailbox.as_deref().unwrap_or_default()),
                        Some(p) => {
                            out.push(b'"');
                            out.extend_from_slice(p);
                            out.extend_from_slice(b"\" <");
                            out.extend_from_slice(m.mailbox.as_deref().unwrap_or_default());
                            out.push(b'>');
                        }
                    }
                }
            }
        }
        out.extend_from_slice(b"\r\n");
        Some(out)
    }
}

impl Record {
    fn has_value(&self) -> bool {
        match &self.value {
            Value::Text(v) => v.is_some(),
            Value::Date(t) => *t != 0,
            Value::Mailboxes(l) => !l.is_empty(),
        }
    }
}

fn or_empty_path(mailbox: Option<&[u8]>) -> &[u8] {
    match mailbox {
        Some(m) if !m.is_empty() => m,
        _ => b"<>",
    }
}

/// `seconds.microseconds.pid@localhost`, cut to 63 bytes as libESMTP's
/// 64-byte buffer does.
fn generate_message_id(localhost: &[u8]) -> Vec<u8> {
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
    let mut id = format!("{}.{}.{}@", now.as_secs(), now.subsec_micros(), std::process::id()).into_bytes();
    id.extend_from_slice(localhost);
    id.truncate(63);
    id
}

/// RFC 5322 date of `when` (0: now) in local time, through the C library's
/// `strftime` so names and zone follow the process's locale and TZ like the
/// original's.
pub fn rfc2822_date(when: i64) -> Vec<u8> {
    let t: libc::time_t = if when == 0 {
        // SAFETY: time(NULL) has no preconditions.
        unsafe { libc::time(std::ptr::null_mut()) }
    } else {
        when as libc::time_t
    };
    let mut buf = [0u8; 64];
    // SAFETY: `tm` is written by localtime_r before strftime reads it;
    // strftime writes at most buf.len() bytes including the NUL.
    let n = unsafe {
        let mut tm: libc::tm = std::mem::zeroed();
        if libc::localtime_r(&t, &mut tm).is_null() {
            return Vec::new();
        }
        libc::strftime(buf.as_mut_ptr().cast(), buf.len(), c"%a, %d %b %Y %T %z".as_ptr(), &tm)
    };
    buf[..n].to_vec()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ctx<'a>() -> PrintContext<'a> {
        PrintContext {
            reverse_path: Some(b"me@example.org"),
            recipients: vec![b"a@x", b"b@y"],
            localhost: b"host",
        }
    }

    fn c(s: &str) -> std::ffi::CString {
        std::ffi::CString::new(s).unwrap()
    }

    #[test]
    fn defaults_for_a_message_without_headers() {
        let mut t = HeaderTable::default();
        t.start_transfer();
        let out = t.missing(&ctx());
        assert_eq!(out.len(), 3);
        assert!(out[0].starts_with(b"Date: "));
        assert_eq!(out[1], b"From: me@example.org\r\n");
        assert!(out[2].starts_with(b"Message-Id: <") && out[2].ends_with(b"@host>\r\n"));
    }

    #[test]
    fn duplicates_dropped_and_preserved_kept() {
        let mut t = HeaderTable::default();
        t.start_transfer();
        assert_eq!(t.process(b"To: a\r\n", &ctx()), Action::Keep);
        assert_eq!(t.process(b"to: b\r\n", &ctx()), Action::Drop);
        assert_eq!(t.process(b"Received: x\r\n", &ctx()), Action::Keep);
        assert_eq!(t.process(b"Received: y\r\n", &ctx()), Action::Keep);
        assert_eq!(t.process(b"Return-Path: <x>\r\n", &ctx()), Action::Drop);
        assert_eq!(t.process(b"Subject: s\r\n", &ctx()), Action::Keep);
        assert_eq!(t.process(b"Subject: s\r\n", &ctx()), Action::Keep);
    }

    #[test]
    fn list_values_print_newest_first() {
        let mut t = HeaderTable::default();
        let (a, b) = (c("a@x"), c("b@y"));
        t.set(b"Cc", SetArgs::Pair(None, Some(&a))).unwrap();
        t.set(b"Cc", SetArgs::Pair(Some(&c("Bee")), Some(&b))).unwrap();
        t.start_transfer();
        let out = t.missing(&ctx());
        assert_eq!(out[3], b"Cc: \"Bee\" <b@y>,\r\n    a@x\r\n");
    }

    #[test]
    fn to_from_envelope_only_when_asked() {
        let mut t = HeaderTable::default();
        t.start_transfer();
        assert_eq!(t.missing(&ctx()).len(), 3);
        t.set(b"To", SetArgs::Pair(None, None)).unwrap();
        t.start_transfer();
        assert_eq!(t.missing(&ctx())[3], b"To: a@x,\r\n\tb@y\r\n");
    }

    #[test]
    fn override_replaces_in_place_and_refusals() {
        let mut t = HeaderTable::default();
        t.set(b"Subject", SetArgs::One(Some(&c("new")))).unwrap();
        t.set_option(b"Subject", 0, true).unwrap();
        t.start_transfer();
        assert_eq!(t.process(b"Subject: old\r\n", &ctx()), Action::Replace(b"Subject: new\r\n".to_vec()));
        assert_eq!(t.set(b"Subject", SetArgs::One(Some(&c("again")))), Err(SetError::Invalid));
        assert_eq!(t.set(b"Content-Type", SetArgs::One(Some(&c("x")))), Err(SetError::Invalid));
        assert_eq!(t.set_option(b"Date", 1, true), Err(SetError::Invalid));
        assert_eq!(t.arity(b"Return-Path"), 0);
        assert_eq!(t.arity(b"Cc"), 2);
        assert_eq!(t.arity(b"X-Mailer"), 1);
    }

    #[test]
    fn prohibited_message_id_is_not_generated() {
        let mut t = HeaderTable::default();
        t.set_option(b"Message-Id", 1, true).unwrap();
        t.start_transfer();
        assert_eq!(t.process(b"Message-Id: <x@y>\r\n", &ctx()), Action::Drop);
        assert!(!t.missing(&ctx()).iter().any(|h| h.starts_with(b"Message-Id")));
    }
}
