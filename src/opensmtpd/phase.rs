//! The filter protocol's phases and events, numbered as Debian's
//! libopensmtpd 0.7 `enum osmtpd_phase` (later additions are appended,
//! never inserted).

#[repr(i32)]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Phase {
    Connect = 0,
    Helo,
    Ehlo,
    StartTls,
    Auth,
    MailFrom,
    RcptTo,
    Data,
    DataLine,
    Rset,
    Quit,
    Noop,
    Help,
    Wiz,
    Commit,
    LinkConnect,
    LinkDisconnect,
    LinkGreeting,
    LinkIdentify,
    LinkTls,
    TxBegin,
    TxMail,
    TxRcpt,
    TxEnvelope,
    TxData,
    TxCommit,
    TxRollback,
    ProtocolClient,
    ProtocolServer,
    FilterResponse,
    Timeout,
    /// Appended after 0.7's values: `link-auth` (later libopensmtpd).
    LinkAuth,
}

/// What a phase's callback takes after the context: one C prototype per
/// shape. Registration and dispatch both go by this table, so a callback
/// is only ever stored for, and called with, its own arguments.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shape {
    Plain,
    Text,
    Connect,
    LinkConnect,
    Msg,
    MsgAddr,
    MsgStatus,
    Envelope,
    Commit,
    Auth,
}

const NAMES: &[(Phase, &str)] = &[
    (Phase::Connect, "connect"),
    (Phase::Helo, "helo"),
    (Phase::Ehlo, "ehlo"),
    (Phase::StartTls, "starttls"),
    (Phase::Auth, "auth"),
    (Phase::MailFrom, "mail-from"),
    (Phase::RcptTo, "rcpt-to"),
    (Phase::Data, "data"),
    (Phase::DataLine, "data-line"),
    (Phase::Rset, "rset"),
    (Phase::Quit, "quit"),
    (Phase::Noop, "noop"),
    (Phase::Help, "help"),
    (Phase::Wiz, "wiz"),
    (Phase::Commit, "commit"),
    (Phase::LinkConnect, "link-connect"),
    (Phase::LinkDisconnect, "link-disconnect"),
    (Phase::LinkGreeting, "link-greeting"),
    (Phase::LinkIdentify, "link-identify"),
    (Phase::LinkTls, "link-tls"),
    (Phase::TxBegin, "tx-begin"),
    (Phase::TxMail, "tx-mail"),
    (Phase::TxRcpt, "tx-rcpt"),
    (Phase::TxEnvelope, "tx-envelope"),
    (Phase::TxData, "tx-data"),
    (Phase::TxCommit, "tx-commit"),
    (Phase::TxRollback, "tx-rollback"),
    (Phase::ProtocolClient, "protocol-client"),
    (Phase::ProtocolServer, "protocol-server"),
    (Phase::FilterResponse, "filter-response"),
    (Phase::Timeout, "timeout"),
    (Phase::LinkAuth, "link-auth"),
];

impl Phase {
    pub fn name(self) -> &'static str {
        NAMES.iter().find(|(p, _)| *p == self).map_or("unknown", |(_, n)| n)
    }

    pub fn from_name(name: &[u8]) -> Option<Phase> {
        NAMES.iter().find(|(_, n)| n.as_bytes() == name).map(|(p, _)| *p)
    }

    /// Filter phases come before the report events.
    pub fn is_filter(self) -> bool {
        (self as i32) <= Phase::Commit as i32
    }

    pub fn shape(self) -> Shape {
        use Phase::*;
        match self {
            Connect => Shape::Connect,
            Helo | Ehlo | Auth | MailFrom | RcptTo | DataLine => Shape::Text,
            StartTls | Data | Rset | Quit | Noop | Help | Wiz | Commit => Shape::Plain,
            LinkConnect => Shape::LinkConnect,
            LinkDisconnect | Timeout => Shape::Plain,
            LinkGreeting | LinkIdentify | LinkTls => Shape::Text,
            TxBegin | TxRollback => Shape::Msg,
            TxMail | TxRcpt => Shape::MsgAddr,
            TxEnvelope => Shape::Envelope,
            TxData => Shape::MsgStatus,
            TxCommit => Shape::Commit,
            ProtocolClient | ProtocolServer | FilterResponse => Shape::Text,
            LinkAuth => Shape::Auth,
        }
    }

    pub fn all() -> impl Iterator<Item = Phase> {
        NAMES.iter().map(|(p, _)| *p)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debian_numbering_and_names() {
        assert_eq!(Phase::LinkConnect as i32, 15);
        assert_eq!(Phase::Timeout as i32, 30);
        assert_eq!(Phase::LinkAuth as i32, 31);
        for p in Phase::all() {
            assert_eq!(Phase::from_name(p.name().as_bytes()), Some(p));
        }
        assert_eq!(Phase::from_name(b"tx-reset"), None);
        assert!(Phase::Commit.is_filter() && !Phase::LinkConnect.is_filter());
    }
}
