//! The connection to the server: name resolution, connecting, and buffered
//! reads and writes with libESMTP's per-operation timeouts.
//!
//! Commands are collected in a write buffer and sent in one system call
//! when a reply is needed (pipelining), with Nagle's algorithm off so a
//! flushed group never waits for a delayed ACK.

use std::cell::Cell;
use std::ffi::{CStr, CString};
use std::io;
use std::net::SocketAddr;
use std::os::fd::AsRawFd;
use std::rc::Rc;
use std::time::Instant;

use std::io::Write;

use openssl::ssl::{Ssl, SslRef, SslStream};
use socket2::{Domain, SockAddr, Socket, Type};

use super::events::Monitor;
use super::reply::{LineSource, ReplyError, MAX_LINE};
use crate::common::sync::Lock;

/// Why a read or write failed; libESMTP reports all of them as a dropped
/// connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IoFailure {
    Timeout,
    Closed,
    Os(i32),
    /// A reply line longer than [`MAX_LINE`].
    Overlong,
}

/// The TCP port of a service (`25`, `smtp`, `submission`), as getaddrinfo
/// maps it for the connection itself; `None` for an unknown service.
pub fn service_port(service: &CStr) -> Option<u16> {
    if let Ok(n) = service.to_str().unwrap_or("").parse::<u16>() {
        return Some(n);
    }
    // SAFETY: hints is a zeroed addrinfo with the fields getaddrinfo reads
    // set; `res` is read only when getaddrinfo succeeded, its ai_addr holds
    // a sockaddr of ai_addrlen bytes, and the list is freed exactly once.
    // Unlike getservbyname, getaddrinfo keeps no static state.
    unsafe {
        let mut hints: libc::addrinfo = std::mem::zeroed();
        hints.ai_family = libc::AF_INET;
        hints.ai_socktype = libc::SOCK_STREAM;
        let mut res: *mut libc::addrinfo = std::ptr::null_mut();
        if libc::getaddrinfo(std::ptr::null(), service.as_ptr(), &hints, &mut res) != 0 {
            return None;
        }
        let a = &*res;
        let port = (!a.ai_addr.is_null()
            && a.ai_addrlen as usize >= std::mem::size_of::<libc::sockaddr_in>())
        .then(|| u16::from_be((*a.ai_addr.cast::<libc::sockaddr_in>()).sin_port));
        libc::freeaddrinfo(res);
        port
    }
}

/// Resolved addresses and the canonical name of the first.
pub struct Resolved {
    pub addrs: Vec<SockAddr>,
    pub canon: Option<CString>,
}

/// getaddrinfo as libESMTP calls it (AI_CANONNAME, any family, stream).
/// The error is the getaddrinfo code and the errno at the time.
pub fn resolve(host: Option<&CStr>, port: &CStr) -> Result<Resolved, (i32, i32)> {
    // SAFETY: hints is a zeroed addrinfo with the fields getaddrinfo reads
    // set; `res` is only walked when getaddrinfo succeeded, each ai_addr is
    // valid for ai_addrlen bytes (what copy_sockaddr needs; it copies no
    // more than a sockaddr_storage holds), and the list is freed exactly
    // once, after the last read of it.
    unsafe {
        let mut hints: libc::addrinfo = std::mem::zeroed();
        hints.ai_flags = libc::AI_CANONNAME;
        hints.ai_family = libc::AF_UNSPEC;
        hints.ai_socktype = libc::SOCK_STREAM;
        let mut res: *mut libc::addrinfo = std::ptr::null_mut();
        let node = host.map_or(std::ptr::null(), CStr::as_ptr);
        let rc = libc::getaddrinfo(node, port.as_ptr(), &hints, &mut res);
        if rc != 0 {
            return Err((rc, io::Error::last_os_error().raw_os_error().unwrap_or(0)));
        }
        let canon = if (*res).ai_canonname.is_null() {
            None
        } else {
            Some(CStr::from_ptr((*res).ai_canonname).to_owned())
        };
        let mut addrs = Vec::new();
        let mut ai = res;
        while !ai.is_null() {
            let a = &*ai;
            // An address that does not fit is not one we could connect to:
            // skipped, like one without an address.
            if let Some(addr) =
                (!a.ai_addr.is_null()).then(|| copy_sockaddr(a.ai_addr, a.ai_addrlen)).flatten()
            {
                addrs.push(addr);
            }
            ai = a.ai_next;
        }
        libc::freeaddrinfo(res);
        if addrs.is_empty() {
            // Nothing usable: a failure the application can see, as
            // getaddrinfo gives for a family it cannot return, rather
            // than a session that ends without trying and without an error.
            return Err((libc::EAI_FAMILY, 0));
        }
        Ok(Resolved { addrs, canon })
    }
}

/// A copy of the socket address of `len` bytes at `addr`, or `None` when
/// `len` cannot be an address's: shorter than its family field, or longer
/// than a `sockaddr_storage` (getaddrinfo's lengths are not trusted to fit).
///
/// # Safety
/// `addr` must be valid for reads of `len` bytes, and hold an address of
/// the family it names, as getaddrinfo's `ai_addr` and `ai_addrlen` do.
unsafe fn copy_sockaddr(addr: *const libc::sockaddr, len: libc::socklen_t) -> Option<SockAddr> {
    // SAFETY: try_init hands over a zeroed sockaddr_storage and its size in
    // `room`; `len` is checked against `room` before anything is copied, so
    // the copy stays inside the storage, and reads only the `len` bytes the
    // caller guarantees readable. `*room = len` then says how many bytes
    // hold the address, whose family matches its bytes as try_init wants.
    let copied = unsafe {
        SockAddr::try_init(|storage, room| {
            if (len as usize) < std::mem::size_of::<libc::sa_family_t>() || len > *room {
                return Err(io::ErrorKind::InvalidInput.into());
            }
            std::ptr::copy_nonoverlapping(addr.cast::<u8>(), storage.cast::<u8>(), len as usize);
            *room = len;
            Ok(())
        })
    };
    copied.ok().map(|((), a)| a)
}

/// The byte stream under the SMTP conversation.
enum Io {
    Plain(Socket),
    Tls(Box<SslStream<Socket>>),
    /// A failed TLS handshake consumed the socket.
    Gone,
}

/// Why TLS could not be started.
#[derive(Debug)]
pub enum TlsFailure {
    /// The handshake failed or timed out.
    Handshake,
    /// Already on TLS or the socket is gone.
    State,
}

pub struct Conn {
    io: Io,
    rbuf: Vec<u8>,
    rpos: usize,
    wbuf: Vec<u8>,
    timeout_ms: i64,
    monitor: Option<Rc<dyn Monitor>>,
    monitor_on: bool,
    failure: Option<IoFailure>,
    /// The SO_RCVTIMEO now set on the socket.
    recv_timeout_ms: Option<i64>,
    /// The SO_SNDTIMEO now set on the socket (TLS writes block on it).
    send_timeout_ms: Option<i64>,
    /// The last look for unread bytes found none, and nothing was read or
    /// written since: another look now would only see a later segment.
    peeked_empty: Cell<bool>,
}

/// How long Linux lets a blocking connect wait for the server's SYN-ACK:
/// its SYN is sent `tcp_syn_retries` + 1 times, one second, then doubling.
fn kernel_connect_limit_ms() -> i64 {
    static LIMIT: Lock<Option<i64>> = Lock::new(None);
    LIMIT.get_or_init(|| {
        std::fs::read_to_string("/proc/sys/net/ipv4/tcp_syn_retries")
            .ok()
            .and_then(|s| s.trim().parse::<u32>().ok())
            .filter(|&r| r < 16)
            .map_or(0, |r| ((1i64 << (r + 1)) - 1) * 1000)
    })
}

fn millis(ms: i64) -> std::time::Duration {
    std::time::Duration::from_millis(ms.max(1) as u64)
}

fn os_failure(e: io::Error) -> IoFailure {
    IoFailure::Os(e.raw_os_error().unwrap_or(0))
}

/// Unread server bytes we keep while writing before we stop reading.
const MAX_READ_AHEAD: usize = 4 << 20;
/// Flush the write buffer early beyond this size (large bodies).
const WRITE_HIGH_WATER: usize = 256 << 10;
/// The shortest SO_RCVTIMEO a read keeps rather than set a longer one.
const MIN_RECV_TIMEOUT_MS: i64 = 1000;
/// Content from this size on goes to the socket from the caller's buffer
/// (with what is queued before it), not copied into the write buffer.
const DIRECT_MIN: usize = 2048;

impl Conn {
    /// Connects to `addr`, waiting at most `timeout_ms` (libESMTP had no
    /// connect timeout; we use the greeting timeout).
    pub fn connect(addr: &SockAddr, timeout_ms: i64) -> io::Result<Conn> {
        let domain = match addr.as_socket() {
            Some(SocketAddr::V6(_)) => Domain::IPV6,
            Some(SocketAddr::V4(_)) => Domain::IPV4,
            None => Domain::from(addr.family() as i32),
        };
        // A blocking socket whose kernel timeouts are libESMTP's: a read is
        // one recv(2) that returns data or times out, with no poll(2) around
        // it. Writes that might block are tried with MSG_DONTWAIT first.
        let sock = Socket::new(domain, Type::STREAM.cloexec(), None)?;
        // Linux bounds a blocking connect by the send timeout; the kernel's
        // own limit (its SYN retries) is enough when it is the shorter.
        let bounded = timeout_ms < kernel_connect_limit_ms();
        if bounded {
            sock.set_write_timeout(Some(millis(timeout_ms)))?;
        }
        if let Err(e) = sock.connect(addr) {
            return Err(match e.raw_os_error() {
                Some(libc::EINPROGRESS) | Some(libc::EAGAIN) => io::Error::from_raw_os_error(libc::ETIMEDOUT),
                _ => e,
            });
        }
        if addr.as_socket().is_some() {
            // Small pipelined groups must not wait for delayed ACKs.
            sock.set_nodelay(true)?;
        }
        Ok(Conn {
            io: Io::Plain(sock),
            // Replies are short; both buffers grow when a reply or a
            // pipelined group needs more.
            rbuf: Vec::with_capacity(4 << 10),
            rpos: 0,
            // A message below 16 KiB leaves with its commands without
            // the buffer growing.
            wbuf: Vec::with_capacity(16 << 10),
            timeout_ms,
            recv_timeout_ms: None,
            send_timeout_ms: bounded.then_some(timeout_ms),
            peeked_empty: Cell::new(false),
            monitor: None,
            monitor_on: false,
            failure: None,
        })
    }

    pub fn set_monitor(&mut self, monitor: Option<Rc<dyn Monitor>>) {
        self.monitor_on = monitor.is_some();
        self.monitor = monitor;
    }

    /// Pauses or resumes the monitor (it is off while a body is sent).
    pub fn monitor_enabled(&mut self, on: bool) {
        self.monitor_on = on && self.monitor.is_some();
    }

    pub fn set_timeout(&mut self, ms: i64) {
        self.timeout_ms = ms;
    }

    pub fn failure(&self) -> Option<IoFailure> {
        self.failure
    }

    /// Queues bytes; large amounts are sent as they accumulate.
    pub fn write(&mut self, bytes: &[u8]) -> Result<(), IoFailure> {
        self.wbuf.extend_from_slice(bytes);
        if self.wbuf.len() >= WRITE_HIGH_WATER {
            self.flush()?;
        }
        Ok(())
    }

    /// Like `write`, with the bytes written by `f` into the queue.
    pub fn write_with(&mut self, f: impl FnOnce(&mut Vec<u8>)) -> Result<(), IoFailure> {
        f(&mut self.wbuf);
        if self.wbuf.len() >= WRITE_HIGH_WATER {
            self.flush()?;
        }
        Ok(())
    }

    /// Like `write`, but content that would take the queue past its high
    /// water goes to the socket at once, together with what is queued,
    /// straight from `bytes`: a large message is not copied (nor the
    /// write buffer grown) on its way. Below that it is queued, so that a
    /// message leaves in one write with its dot and the command after it:
    /// a system call fewer here, a wakeup fewer at the server.
    pub fn write_through(&mut self, bytes: &[u8]) -> Result<(), IoFailure> {
        // With a monitor the bytes go through the queue, so that it sees
        // the writes as before (and as libESMTP made them).
        if bytes.len() < DIRECT_MIN
            || self.wbuf.len() + bytes.len() < WRITE_HIGH_WATER
            || self.monitor.is_some()
        {
            return self.write(bytes);
        }
        self.flush_with(bytes)
    }

    pub fn pending_output(&self) -> bool {
        !self.wbuf.is_empty()
    }

    /// Waits for `events` on the socket within the timeout.
    fn wait(&self, events: libc::c_short) -> Result<libc::c_short, IoFailure> {
        let Some(sock) = self.socket() else { return Err(IoFailure::Closed) };
        let mut pfd = libc::pollfd { fd: sock.as_raw_fd(), events, revents: 0 };
        let timeout = self.timeout_ms.clamp(0, i32::MAX as i64) as i32;
        loop {
            // SAFETY: one valid pollfd for the duration of the call.
            let n = unsafe { libc::poll(&mut pfd, 1, timeout) };
            if n > 0 {
                return Ok(pfd.revents);
            }
            if n == 0 {
                return Err(IoFailure::Timeout);
            }
            let e = io::Error::last_os_error().raw_os_error().unwrap_or(0);
            if e != libc::EINTR {
                return Err(IoFailure::Os(e));
            }
        }
    }

    fn fail(&mut self, f: IoFailure) -> IoFailure {
        self.failure.get_or_insert(f);
        f
    }

    /// Sends everything queued. While the server cannot take more, replies
    /// it sends are read ahead so neither side blocks the other.
    pub fn flush(&mut self) -> Result<(), IoFailure> {
        self.flush_with(&[])
    }

    /// Sends the queue, then `extra`.
    fn flush_with(&mut self, extra: &[u8]) -> Result<(), IoFailure> {
        self.peeked_empty.set(false);
        if let Some(f) = self.failure {
            return Err(f);
        }
        if self.wbuf.is_empty() && extra.is_empty() {
            return Ok(());
        }
        if self.monitor_on {
            if let Some(m) = &self.monitor {
                // `extra` is empty: write_through copies under a monitor.
                m.monitor(&self.wbuf, 1);
            }
        }
        if matches!(self.io, Io::Tls(_)) {
            return self.flush_tls(extra);
        }
        let total = self.wbuf.len() + extra.len();
        let mut off = 0;
        while off < total {
            let Io::Plain(sock) = &self.io else { return Err(self.fail(IoFailure::Closed)) };
            let queued = &self.wbuf[off.min(self.wbuf.len())..];
            let rest = &extra[off.saturating_sub(self.wbuf.len())..];
            let parts = [io::IoSlice::new(queued), io::IoSlice::new(rest)];
            match sock.send_vectored_with_flags(&parts, libc::MSG_NOSIGNAL | libc::MSG_DONTWAIT) {
                Ok(n) => off += n,
                Err(e) if e.raw_os_error() == Some(libc::EAGAIN) => {
                    let want_read = self.rbuf.len() - self.rpos < MAX_READ_AHEAD;
                    let events = libc::POLLOUT | if want_read { libc::POLLIN } else { 0 };
                    let rev = self.wait(events).map_err(|f| self.fail(f))?;
                    if want_read && rev & (libc::POLLIN | libc::POLLHUP) != 0 && rev & libc::POLLOUT == 0 {
                        self.recv(libc::MSG_DONTWAIT).map_err(|f| self.fail(f))?;
                    }
                }
                Err(e) if e.raw_os_error() == Some(libc::EINTR) => {}
                Err(e) => {
                    let f = IoFailure::Os(e.raw_os_error().unwrap_or(0));
                    return Err(self.fail(f));
                }
            }
        }
        self.wbuf.clear();
        Ok(())
    }

    /// One recv(2) into the read buffer: `flags` 0 blocks up to the
    /// timeout, MSG_DONTWAIT takes only what is there.
    fn recv(&mut self, flags: libc::c_int) -> Result<(), IoFailure> {
        self.peeked_empty.set(false);
        if self.rpos > 0 && self.rpos == self.rbuf.len() {
            self.rbuf.clear();
            self.rpos = 0;
        }
        if flags != 0 {
            return self.recv_once(flags);
        }
        // A blocking read waits up to the timeout for data. SO_RCVTIMEO is
        // changed only when it would wait longer than that, or so much
        // less that the read would wake up often: a session whose phases
        // have longer timeouts than its greeting's (DATA's end: 10 minutes,
        // RFC 5321 §4.5.3.2) keeps the first one and reads again when it
        // expires, instead of paying a setsockopt for the switch.
        let mut left = self.timeout_ms.max(1);
        let mut deadline: Option<Instant> = None;
        loop {
            let fits = matches!(self.recv_timeout_ms, Some(cur) if cur <= left && cur >= left.min(MIN_RECV_TIMEOUT_MS));
            if !fits {
                let sock = self.socket().ok_or(IoFailure::Closed)?;
                sock.set_read_timeout(Some(millis(left))).map_err(os_failure)?;
                self.recv_timeout_ms = Some(left);
            }
            match self.recv_once(0) {
                Err(IoFailure::Timeout) => {
                    // At least the socket's timeout has gone by.
                    let waited = self.recv_timeout_ms.unwrap_or(left);
                    let end =
                        *deadline.get_or_insert_with(|| Instant::now() + millis(left - waited.min(left)));
                    left = end.saturating_duration_since(Instant::now()).as_millis() as i64;
                    if left <= 0 {
                        return Err(IoFailure::Timeout);
                    }
                }
                r => return r,
            }
        }
    }

    /// One recv(2), or one TLS read, with the socket's timeout as set.
    fn recv_once(&mut self, flags: libc::c_int) -> Result<(), IoFailure> {
        if matches!(self.io, Io::Tls(_)) {
            return self.recv_tls();
        }
        let start = self.rbuf.len();
        if self.rbuf.capacity() - start < 4096 {
            self.rbuf.reserve(8192);
        }
        let Io::Plain(sock) = &self.io else { return Err(IoFailure::Closed) };
        let spare = self.rbuf.spare_capacity_mut();
        loop {
            match sock.recv_with_flags(spare, flags) {
                Ok(0) => return Err(IoFailure::Closed),
                Ok(n) => {
                    // SAFETY: recv initialised the first `n` spare bytes.
                    unsafe { self.rbuf.set_len(start + n) };
                    self.note_read(start);
                    return Ok(());
                }
                Err(e) if e.raw_os_error() == Some(libc::EINTR) => {}
                // With MSG_DONTWAIT: nothing there yet, the caller polls.
                Err(e) if e.raw_os_error() == Some(libc::EAGAIN) && flags != 0 => return Ok(()),
                // Blocking: SO_RCVTIMEO expired.
                Err(e) if e.raw_os_error() == Some(libc::EAGAIN) => return Err(IoFailure::Timeout),
                Err(e) => return Err(os_failure(e)),
            }
        }
    }

    /// The local and the peer address, for TLS reports.
    pub fn endpoints(&self) -> (Option<SocketAddr>, Option<SocketAddr>) {
        let Some(s) = self.socket() else { return (None, None) };
        let get = |a: io::Result<SockAddr>| a.ok().and_then(|a| a.as_socket());
        (get(s.local_addr()), get(s.peer_addr()))
    }

    fn socket(&self) -> Option<&Socket> {
        match &self.io {
            Io::Plain(s) => Some(s),
            Io::Tls(t) => Some(t.get_ref()),
            Io::Gone => None,
        }
    }

    fn note_read(&mut self, start: usize) {
        if self.monitor_on {
            if let Some(m) = &self.monitor {
                m.monitor(&self.rbuf[start..], 0);
            }
        }
    }

    /// One TLS record's worth of plaintext, waiting up to the timeout.
    fn recv_tls(&mut self) -> Result<(), IoFailure> {
        let Io::Tls(tls) = &mut self.io else { return Err(IoFailure::Closed) };
        let start = self.rbuf.len();
        // Reading into spare capacity leaves untouched what a short reply
        // does not fill; what does not fit stays in OpenSSL for next time.
        if self.rbuf.capacity() - start < 4096 {
            self.rbuf.reserve(8192);
        }
        let res = loop {
            match tls.read_uninit(self.rbuf.spare_capacity_mut()) {
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                r => break r,
            }
        };
        match res {
            Ok(n) if n > 0 => {
                // SAFETY: read_uninit initialised the first `n` spare bytes.
                unsafe { self.rbuf.set_len(start + n) };
                self.note_read(start);
                Ok(())
            }
            Ok(_) => Err(IoFailure::Closed),
            Err(e) => Err(match e.kind() {
                io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut => IoFailure::Timeout,
                io::ErrorKind::UnexpectedEof | io::ErrorKind::ConnectionAborted => IoFailure::Closed,
                _ => os_failure(e),
            }),
        }
    }

    /// Writes the queue through TLS, blocking up to the timeout. (TLS has no
    /// read-ahead while writing: our groups are far below socket buffers.)
    fn flush_tls(&mut self, extra: &[u8]) -> Result<(), IoFailure> {
        if self.send_timeout_ms != Some(self.timeout_ms) {
            let sock = self.socket().ok_or(IoFailure::Closed)?;
            sock.set_write_timeout(Some(millis(self.timeout_ms))).map_err(os_failure)?;
            self.send_timeout_ms = Some(self.timeout_ms);
        }
        let Io::Tls(tls) = &mut self.io else { return Err(self.fail(IoFailure::Closed)) };
        let res = tls.write_all(&self.wbuf).and_then(|()| tls.write_all(extra));
        self.wbuf.clear();
        res.map_err(|e| {
            let f = match e.kind() {
                io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut => IoFailure::Timeout,
                _ => os_failure(e),
            };
            self.fail(f)
        })
    }

    /// Whether the server has sent bytes not read yet: in our buffer, in
    /// OpenSSL's decrypted records, or (in clear) in the socket's receive
    /// queue. Asked when every awaited reply has been read, a yes is a
    /// reply nobody asked for. Does not wait; a close is not unread data.
    pub fn has_unread(&self) -> bool {
        if self.rpos < self.rbuf.len() {
            return true;
        }
        match &self.io {
            Io::Plain(_) if self.peeked_empty.get() => false,
            Io::Plain(s) => {
                let mut byte = [std::mem::MaybeUninit::<u8>::uninit()];
                let unread = matches!(s.recv_with_flags(&mut byte, libc::MSG_PEEK | libc::MSG_DONTWAIT), Ok(n) if n > 0);
                self.peeked_empty.set(!unread);
                unread
            }
            // Undecrypted records may be TLS 1.3 session tickets, which are
            // no reply: only what OpenSSL has already decrypted counts.
            Io::Tls(t) => t.ssl().pending() > 0,
            Io::Gone => false,
        }
    }

    /// Whether the conversation is encrypted.
    pub fn is_tls(&self) -> bool {
        matches!(self.io, Io::Tls(_))
    }

    /// Ends TLS cleanly (RFC 8446 §6.1: a close_notify before closing),
    /// without waiting for the server's. OpenSSL marks the session of a
    /// connection freed without it as not resumable.
    pub fn close_notify(&mut self) {
        if let Io::Tls(t) = &mut self.io {
            let _ = t.shutdown();
        }
    }

    /// The TLS connection, for the checks after the handshake and for the
    /// application's events.
    pub fn ssl(&self) -> Option<&SslRef> {
        match &self.io {
            Io::Tls(t) => Some(t.ssl()),
            _ => None,
        }
    }

    /// Runs the TLS handshake with `ssl` on this connection, waiting up to
    /// the current timeout. Anything the server sent before the handshake
    /// is thrown away: it was not protected, and a reply slipped in after
    /// `220` to STARTTLS would otherwise be read as coming over TLS
    /// (CVE-2011-0411). Returns how many such bytes were discarded.
    pub fn start_tls(&mut self, ssl: Ssl) -> Result<usize, TlsFailure> {
        let discarded = self.rbuf.len() - self.rpos;
        self.rbuf.clear();
        self.rpos = 0;
        if self.flush().is_err() {
            return Err(TlsFailure::State);
        }
        let Io::Plain(sock) = std::mem::replace(&mut self.io, Io::Gone) else {
            return Err(TlsFailure::State);
        };
        let t = Some(millis(self.timeout_ms));
        if sock.set_read_timeout(t).is_err() || sock.set_write_timeout(t).is_err() {
            return Err(TlsFailure::Handshake);
        }
        self.recv_timeout_ms = Some(self.timeout_ms);
        self.send_timeout_ms = Some(self.timeout_ms);
        match ssl.connect(sock) {
            Ok(stream) => {
                self.io = Io::Tls(Box::new(stream));
                Ok(discarded)
            }
            Err(_) => {
                self.failure = Some(IoFailure::Closed);
                Err(TlsFailure::Handshake)
            }
        }
    }

    /// The next line from the server, terminator included. Pending output is
    /// flushed first: a reply can only come to what was sent.
    pub fn read_line(&mut self) -> Result<&[u8], IoFailure> {
        if let Some(f) = self.failure {
            return Err(f);
        }
        self.flush()?;
        let mut scanned = 0;
        loop {
            let avail = &self.rbuf[self.rpos..];
            if let Some(i) = avail[scanned..].iter().position(|&c| c == b'\n') {
                // The limit holds however the line arrived: whole in one
                // read or over several.
                if scanned + i > MAX_LINE + 1 {
                    return Err(self.fail(IoFailure::Overlong));
                }
                let start = self.rpos;
                self.rpos += scanned + i + 1;
                return Ok(&self.rbuf[start..self.rpos]);
            }
            scanned = avail.len();
            if scanned > MAX_LINE + 1 {
                return Err(self.fail(IoFailure::Overlong));
            }
            if self.rpos > 0 && self.rpos * 2 > self.rbuf.capacity() {
                self.rbuf.drain(..self.rpos);
                self.rpos = 0;
            }
            match self.recv(0) {
                Ok(()) => {}
                // An unterminated last line is still a line, as libESMTP's
                // reader saw it; the next read reports the close.
                Err(IoFailure::Closed) if scanned > 0 => {
                    self.failure = Some(IoFailure::Closed);
                    let start = self.rpos;
                    self.rpos = self.rbuf.len();
                    return Ok(&self.rbuf[start..]);
                }
                Err(f) => return Err(self.fail(f)),
            }
        }
    }
}

/// Adapts the connection to the reply parser.
impl LineSource for Conn {
    fn next_line(&mut self) -> Result<&[u8], ReplyError> {
        self.read_line().map_err(|f| match f {
            IoFailure::Overlong => ReplyError::Unterminated,
            _ => ReplyError::Dropped,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn service_ports() {
        assert_eq!(service_port(c"2525"), Some(2525));
        assert_eq!(service_port(c"smtp"), Some(25));
        // Unknown: the session fails as getaddrinfo would, not on port 25.
        assert_eq!(service_port(c"no-such-service"), None);
    }

    /// getaddrinfo's length decides how much is copied: one that does not
    /// fit a sockaddr_storage, or cannot even hold the family, is refused
    /// before any byte is written, instead of overrunning the storage.
    #[test]
    fn sockaddr_copies_are_bounded() {
        let v4: SocketAddr = "192.0.2.7:2525".parse().unwrap();
        let src = SockAddr::from(v4);
        let storage = std::mem::size_of::<libc::sockaddr_storage>();
        // Readable well past the storage, so every length below is sound.
        let mut buf = vec![0u8; storage * 2];
        // SAFETY: `src` holds `src.len()` initialised bytes and `buf` is larger.
        unsafe {
            std::ptr::copy_nonoverlapping(src.as_ptr().cast::<u8>(), buf.as_mut_ptr(), src.len() as usize)
        };
        let at = buf.as_ptr().cast::<libc::sockaddr>();
        // SAFETY: `at` is readable for `buf.len()` bytes, more than any length used here.
        let copy = |len: usize| unsafe { copy_sockaddr(at, len as libc::socklen_t) };
        assert_eq!(copy(src.len() as usize).and_then(|a| a.as_socket()), Some(v4));
        assert_eq!(copy(storage).and_then(|a| a.as_socket()), Some(v4));
        for len in [storage + 1, storage * 2, 0, 1] {
            assert!(copy(len).is_none(), "{len}");
        }
    }
}
