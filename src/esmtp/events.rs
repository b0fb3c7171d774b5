//! What the protocol engine reports to the application.
//!
//! The engine knows nothing of the variadic C callback: it reports an
//! [`Event`] and, for events with an `int *` out-parameter, passes the
//! default and uses whatever value comes back. The C layer maps each event
//! to libESMTP's number and argument list.

use std::ffi::CStr;

use openssl::ssl::SslRef;

use super::message::{EtrnNode, Message, Recipient};

pub const EV_CONNECT: i32 = 0;
pub const EV_MAILSTATUS: i32 = 1;
pub const EV_RCPTSTATUS: i32 = 2;
pub const EV_MESSAGEDATA: i32 = 3;
pub const EV_MESSAGESENT: i32 = 4;
pub const EV_DISCONNECT: i32 = 5;
pub const EV_SYNTAXWARNING: i32 = 6;
pub const EV_ETRNSTATUS: i32 = 1000;
pub const EV_EXTNA_DSN: i32 = 2000;
pub const EV_EXTNA_8BITMIME: i32 = 2001;
pub const EV_EXTNA_STARTTLS: i32 = 2002;
pub const EV_EXTNA_ETRN: i32 = 2003;
pub const EV_EXTNA_CHUNKING: i32 = 2004;
pub const EV_EXTNA_BINARYMIME: i32 = 2005;
pub const EV_DELIVERBY_EXPIRED: i32 = 3000;
pub const EV_WEAK_CIPHER: i32 = 3100;
pub const EV_STARTTLS_OK: i32 = 3101;
pub const EV_INVALID_PEER_CERTIFICATE: i32 = 3102;
pub const EV_NO_PEER_CERTIFICATE: i32 = 3103;
pub const EV_WRONG_PEER_CERTIFICATE: i32 = 3104;
pub const EV_NO_CLIENT_CERTIFICATE: i32 = 3105;
pub const EV_UNUSABLE_CLIENT_CERTIFICATE: i32 = 3106;
pub const EV_UNUSABLE_CA_LIST: i32 = 3107;
// Our extensions (libesmtp-ext.h), outside libESMTP's ranges.
pub const EV_TLS_CERT: i32 = 9000;
pub const EV_TLSRPT: i32 = 9001;

/// One protocol event, with the arguments libESMTP passes for it.
pub enum Event<'a> {
    Connect,
    Disconnect,
    MailStatus(&'a Message),
    RcptStatus(&'a Recipient),
    MessageData(&'a Message, i32),
    MessageSent(&'a Message),
    /// `int *quit_now`.
    SyntaxWarning,
    EtrnStatus(&'a EtrnNode),
    /// `int *quit_now` (default 0).
    ExtnaDsn,
    ExtnaEightBitMime,
    /// One NULL pointer argument.
    ExtnaStartTls,
    /// `int *quit_now` (default 1).
    ExtnaEtrn,
    /// `int *quit_now` (default 0).
    ExtnaChunking,
    ExtnaBinaryMime,
    /// `long difference`, `int *adjust`.
    DeliverByExpired(i64),
    /// `int bits`, `int *ok` (default 0).
    WeakCipher(i32),
    /// `SSL *`, cipher name, `int bits`.
    StartTlsOk(&'a SslRef, &'a CStr, i32),
    /// `long verify_result`, `int *ok` (default 0), `SSL *`.
    InvalidPeerCertificate(i64, &'a SslRef),
    /// `int *ok` (default 0).
    NoPeerCertificate,
    /// `int *ok` (default 0), the name that did not match, `SSL *`.
    WrongPeerCertificate(&'a CStr, &'a SslRef),
    /// `int *ok` (default 0).
    NoClientCertificate,
    /// One NULL pointer argument.
    UnusableClientCertificate,
    /// One NULL pointer argument.
    UnusableCaList,
    /// `X509 *`, `int depth`, `int *ok` (default 1), `SSL *`.
    TlsCert(&'a openssl::x509::X509Ref, i32, &'a SslRef),
    /// `const char *json`: one TLSRPT result.
    TlsReport(&'a CStr),
}

impl Event<'_> {
    pub fn number(&self) -> i32 {
        match self {
            Event::Connect => EV_CONNECT,
            Event::Disconnect => EV_DISCONNECT,
            Event::MailStatus(_) => EV_MAILSTATUS,
            Event::RcptStatus(_) => EV_RCPTSTATUS,
            Event::MessageData(..) => EV_MESSAGEDATA,
            Event::MessageSent(_) => EV_MESSAGESENT,
            Event::SyntaxWarning => EV_SYNTAXWARNING,
            Event::EtrnStatus(_) => EV_ETRNSTATUS,
            Event::ExtnaDsn => EV_EXTNA_DSN,
            Event::ExtnaEightBitMime => EV_EXTNA_8BITMIME,
            Event::ExtnaStartTls => EV_EXTNA_STARTTLS,
            Event::ExtnaEtrn => EV_EXTNA_ETRN,
            Event::ExtnaChunking => EV_EXTNA_CHUNKING,
            Event::ExtnaBinaryMime => EV_EXTNA_BINARYMIME,
            Event::DeliverByExpired(_) => EV_DELIVERBY_EXPIRED,
            Event::WeakCipher(_) => EV_WEAK_CIPHER,
            Event::StartTlsOk(..) => EV_STARTTLS_OK,
            Event::TlsCert(..) => EV_TLS_CERT,
            Event::TlsReport(_) => EV_TLSRPT,
            Event::InvalidPeerCertificate(..) => EV_INVALID_PEER_CERTIFICATE,
            Event::NoPeerCertificate => EV_NO_PEER_CERTIFICATE,
            Event::WrongPeerCertificate(..) => EV_WRONG_PEER_CERTIFICATE,
            Event::NoClientCertificate => EV_NO_CLIENT_CERTIFICATE,
            Event::UnusableClientCertificate => EV_UNUSABLE_CLIENT_CERTIFICATE,
            Event::UnusableCaList => EV_UNUSABLE_CA_LIST,
        }
    }
}

pub trait EventSink {
    /// Reports `event`. `out` is the out-parameter's default for events that
    /// have one; the returned value is what the application left there
    /// (ignored for events without one).
    fn event(&self, event: Event<'_>, out: i32) -> i32;
}

/// The application's TLSRPT callback: one JSON result per call.
pub trait ReportSink {
    fn report(&self, json: &CStr);
}

/// The protocol monitor: bytes read (0), written (1), or headers (2).
pub trait Monitor {
    fn monitor(&self, bytes: &[u8], direction: i32);
}

/// Reports through an optional sink; with none, the default decides.
pub fn report(sink: Option<&dyn EventSink>, event: Event<'_>, default: i32) -> i32 {
    match sink {
        Some(s) => s.event(event, default),
        None => default,
    }
}
