//! Sending a message's content: processed headers, then the body, either
//! dot-stuffed after DATA (RFC 5321 §4.5.2) or in BDAT chunks (RFC 3030).

use super::stop::Stop;
use crate::esmtp::conn::{Conn, IoFailure};
use crate::esmtp::events::{report, Event, EventSink, Monitor};
use crate::esmtp::headers::{Action, HeaderTable, PrintContext};
use crate::esmtp::message::Message;
use crate::esmtp::source::{MessageSource, Reader};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TransferError {
    /// The message callback failed with this errno.
    Source(i32),
    Io(IoFailure),
    /// A BDAT reply could not be read (its error is already recorded):
    /// how the session must end.
    Reply(Stop),
    /// The message's callback or header table is in use by a callback
    /// running further up the stack.
    Busy,
}

impl From<IoFailure> for TransferError {
    fn from(f: IoFailure) -> Self {
        TransferError::Io(f)
    }
}

pub struct Hooks<'a> {
    pub sink: Option<&'a dyn EventSink>,
    pub monitor: Option<&'a dyn Monitor>,
    pub monitor_headers: bool,
}

impl Hooks<'_> {
    fn data_event(&self, msg: &Message, len: usize) {
        report(self.sink, Event::MessageData(msg, len.min(i32::MAX as usize) as i32), 0);
    }

    fn header_event(&self, msg: &Message, header: &[u8]) {
        self.data_event(msg, header.len());
        if self.monitor_headers {
            if let Some(m) = self.monitor {
                m.monitor(header, 2);
            }
        }
    }
}

/// Writes `text` with a dot doubled at the start of every line.
fn write_stuffed(conn: &mut Conn, text: &[u8]) -> Result<(), IoFailure> {
    for segment in text.split_inclusive(|&c| c == b'\n') {
        if segment.first() == Some(&b'.') {
            conn.write(b".")?;
        }
        conn.write(segment)?;
    }
    Ok(())
}

/// Reads the message's headers, applies the header table and adds the
/// missing ones, passing each resulting header to `emit`.
fn process_headers(
    reader: &mut Reader<'_>,
    table: &mut HeaderTable,
    pctx: &PrintContext<'_>,
    mut emit: impl FnMut(&[u8]) -> Result<(), TransferError>,
) -> Result<(), TransferError> {
    table.start_transfer();
    let mut line = Vec::with_capacity(256);
    loop {
        line.clear();
        if !reader.read_line(&mut line).map_err(TransferError::Source)? || line == b"\r\n" {
            break;
        }
        while let Some(b' ' | b'\t') = reader.peek().map_err(TransferError::Source)? {
            reader.read_line(&mut line).map_err(TransferError::Source)?;
        }
        match table.process(&line, pctx) {
            Action::Keep => emit(&line)?,
            Action::Replace(text) => emit(&text)?,
            Action::Drop => {}
        }
    }
    for header in table.missing(pctx) {
        emit(&header)?;
    }
    Ok(())
}

/// What header generation needs, copied so no borrow of the message is
/// held while application callbacks run.
pub struct MessageView<'a> {
    reverse_path: Option<Vec<u8>>,
    recipients: Vec<&'a [u8]>,
    localhost: &'a [u8],
}

impl<'a> MessageView<'a> {
    pub fn new(msg: &'a Message, localhost: &'a [u8]) -> Self {
        MessageView {
            reverse_path: msg.reverse_path.borrow().as_ref().map(|r| r.to_bytes().to_vec()),
            recipients: msg.recipients.iter().map(|r| r.mailbox.to_bytes()).collect(),
            localhost,
        }
    }

    fn context(&self) -> PrintContext<'_> {
        PrintContext {
            reverse_path: self.reverse_path.as_deref(),
            recipients: self.recipients.clone(),
            localhost: self.localhost,
        }
    }
}

fn with_source<R>(
    msg: &Message,
    f: impl FnOnce(&mut dyn MessageSource, &mut HeaderTable) -> Result<R, TransferError>,
) -> Result<R, TransferError> {
    let mut source = msg.source.try_borrow_mut().map_err(|_| TransferError::Busy)?;
    let source = source.as_mut().ok_or(TransferError::Busy)?;
    let mut table = msg.headers.try_borrow_mut().map_err(|_| TransferError::Busy)?;
    f(source.as_mut(), &mut table)
}

/// The content after a 354 reply, through the terminating `.`.
pub fn send_data(
    conn: &mut Conn,
    msg: &Message,
    view: &MessageView<'_>,
    hooks: &Hooks<'_>,
) -> Result<(), TransferError> {
    let pctx = view.context();
    with_source(msg, |source, table| {
        let mut reader = Reader::new(source);
        process_headers(&mut reader, table, &pctx, |h| {
            hooks.header_event(msg, h);
            write_stuffed(conn, h)?;
            Ok(())
        })?;
        conn.write(b"\r\n")?;
        let mut scratch = Vec::with_capacity(1024);
        while let Some(span) = reader.next_span(&mut scratch).map_err(TransferError::Source)? {
            if hooks.sink.is_some() {
                // One event per line, as libESMTP reports them.
                for line in span.split_inclusive(|&c| c == b'\n') {
                    hooks.data_event(msg, line.len());
                }
            }
            if span[0] == b'.' {
                conn.write(b".")?;
            }
            conn.write_through(span)?;
        }
        conn.write(b".\r\n")?;
        Ok(())
    })
}

/// Sends the content as BDAT chunks: the processed headers first, then
/// each buffer the callback gives, then `BDAT 0 LAST`. `after_chunk` is
/// called after each chunk but the last is queued and may read its reply;
/// it returns false to stop sending (a chunk was refused). Returns whether
/// `BDAT LAST` was sent.
pub fn send_bdat(
    conn: &mut Conn,
    msg: &Message,
    view: &MessageView<'_>,
    hooks: &Hooks<'_>,
    xexch50: bool,
    mut after_chunk: impl FnMut(&mut Conn) -> Result<bool, TransferError>,
) -> Result<bool, TransferError> {
    let pctx = view.context();
    with_source(msg, |source, table| {
        let mut reader = Reader::new(source);
        let mut headers = Vec::with_capacity(1024);
        process_headers(&mut reader, table, &pctx, |h| {
            hooks.header_event(msg, h);
            headers.extend_from_slice(h);
            Ok(())
        })?;
        headers.extend_from_slice(b"\r\n");
        conn.write(format!("BDAT {}\r\n", headers.len()).as_bytes())?;
        conn.write(&headers)?;
        if !after_chunk(conn)? {
            return Ok(false);
        }
        while let Some(chunk) = reader.read_raw().map_err(TransferError::Source)? {
            hooks.data_event(msg, chunk.len());
            conn.write(format!("BDAT {}\r\n", chunk.len()).as_bytes())?;
            conn.write_through(chunk)?;
            if !after_chunk(conn)? {
                return Ok(false);
            }
        }
        // Exchange wanted two extra octets with LAST when it announced
        // XEXCH50; libESMTP kept that workaround.
        conn.write(if xexch50 { b"BDAT 2 LAST\r\n\r\n" } else { b"BDAT 0 LAST\r\n" })?;
        Ok(true)
    })
}
