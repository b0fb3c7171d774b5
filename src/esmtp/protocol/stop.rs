//! How a conversation ends, and the status a broken protocol leaves.

use crate::esmtp::status::StatusCell;

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

/// The status given to a reply that broke the protocol, and to every status
/// of a transaction under way when the server did: never 2xx, transient
/// (the recipients stay incomplete, so a later `smtp_start_session` tries
/// again), with RFC 3463's "other or undefined protocol status". The text
/// says it was this client's verdict, not the server's words.
pub(super) const PROTOCOL_ERROR: (i32, &[u8], [i32; 3]) =
    (451, b"protocol error: the server's reply was malformed or out of sequence (client)\r\n", [4, 5, 0]);

pub(super) fn set_protocol_error(slot: &StatusCell) {
    let (code, text, enh) = PROTOCOL_ERROR;
    slot.set(code, Some(text), enh);
}
