//! The connection to the server: name resolution, connecting, and buffered
//! reads and writes with libESMTP's per-operation timeouts.
//!
//! Commands are collected in a write buffer and sent in one system call
//! when a reply is needed (pipelining), with Nagle's algorithm off so a
//! flushed group never waits for a delayed ACK.

use std::ffi::{CStr, CString};
use std::io;
use std::net::SocketAddr;
use std::os::fd::AsRawFd;
use std::rc::Rc;

use socket2::{Domain, SockAddr, Socket, Type};

use super::events::Monitor;
use super::reply::{LineSource, ReplyError, MAX_LINE};

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
    // valid for ai_addrlen bytes, and the list is freed exactly once.
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
            if !a.ai_addr.is_null() {
                let len = a.ai_addrlen;
                let (_, addr) = SockAddr::try_init(|storage, slen| {
                    std::ptr::copy_nonoverlapping(a.ai_addr.cast::<u8>(), storage.cast::<u8>(), len as usize);
                    *slen = len;
                    Ok(())
                })
                .expect("copying a sockaddr cannot fail");
                addrs.push(addr);
            }
            ai = a.ai_next;
        }
        libc::freeaddrinfo(res);
        Ok(Resolved { addrs, canon })
    }
}

pub struct Conn {
    sock: Socket,
    rbuf: Vec<u8>,
    rpos: usize,
    wbuf: Vec<u8>,
    timeout_ms: i64,
    monitor: Option<Rc<dyn Monitor>>,
    monitor_on: bool,
    failure: Option<IoFailure>,
    /// Something was sent since the last read: a reply is unlikely to be
    /// there yet, so wait before trying to read.
    wrote: bool,
}

/// Unread server bytes we keep while writing before we stop reading.
const MAX_READ_AHEAD: usize = 4 << 20;
/// Flush the write buffer early beyond this size (large bodies).
const WRITE_HIGH_WATER: usize = 256 << 10;

impl Conn {
    /// Connects to `addr`, waiting at most `timeout_ms` (libESMTP had no
    /// connect timeout; we use the greeting timeout).
    pub fn connect(addr: &SockAddr, timeout_ms: i64) -> io::Result<Conn> {
        let domain = match addr.as_socket() {
            Some(SocketAddr::V6(_)) => Domain::IPV6,
            Some(SocketAddr::V4(_)) => Domain::IPV4,
            None => Domain::from(addr.family() as i32),
        };
        // Non-blocking from the start: connecting and every later read and
        // write wait in poll(2) with libESMTP's timeouts.
        let sock = Socket::new(domain, Type::STREAM.nonblocking().cloexec(), None)?;
        match sock.connect(addr) {
            Ok(()) => {}
            Err(e) if e.raw_os_error() == Some(libc::EINPROGRESS) => {
                let mut pfd = libc::pollfd { fd: sock.as_raw_fd(), events: libc::POLLOUT, revents: 0 };
                let timeout = timeout_ms.clamp(1, i32::MAX as i64) as i32;
                // SAFETY: one valid pollfd for the duration of the call.
                match unsafe { libc::poll(&mut pfd, 1, timeout) } {
                    0 => return Err(io::Error::from_raw_os_error(libc::ETIMEDOUT)),
                    n if n < 0 => return Err(io::Error::last_os_error()),
                    _ => {}
                }
                if let Some(e) = sock.take_error()? {
                    return Err(e);
                }
            }
            Err(e) => return Err(e),
        }
        if addr.as_socket().is_some() {
            // Small pipelined groups must not wait for delayed ACKs.
            sock.set_nodelay(true)?;
        }
        Ok(Conn {
            sock,
            rbuf: Vec::with_capacity(16 << 10),
            rpos: 0,
            wbuf: Vec::with_capacity(16 << 10),
            timeout_ms,
            monitor: None,
            monitor_on: false,
            failure: None,
            wrote: false,
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

    pub fn pending_output(&self) -> bool {
        !self.wbuf.is_empty()
    }

    /// Waits for `events` on the socket within the timeout.
    fn wait(&self, events: libc::c_short) -> Result<libc::c_short, IoFailure> {
        let mut pfd = libc::pollfd { fd: self.sock.as_raw_fd(), events, revents: 0 };
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
            let e = io::Error::last_os_error();
            if e.kind() != io::ErrorKind::Interrupted {
                return Err(IoFailure::Os(e.raw_os_error().unwrap_or(0)));
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
        if let Some(f) = self.failure {
            return Err(f);
        }
        if self.wbuf.is_empty() {
            return Ok(());
        }
        if self.monitor_on {
            if let Some(m) = &self.monitor {
                m.monitor(&self.wbuf, 1);
            }
        }
        let mut off = 0;
        while off < self.wbuf.len() {
            match self.sock.send_with_flags(&self.wbuf[off..], libc::MSG_NOSIGNAL) {
                Ok(n) => off += n,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    let want_read = self.rbuf.len() - self.rpos < MAX_READ_AHEAD;
                    let events = libc::POLLOUT | if want_read { libc::POLLIN } else { 0 };
                    let rev = self.wait(events).map_err(|f| self.fail(f))?;
                    if want_read && rev & (libc::POLLIN | libc::POLLHUP) != 0 && rev & libc::POLLOUT == 0 {
                        self.read_some().map_err(|f| self.fail(f))?;
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => {
                    let f = IoFailure::Os(e.raw_os_error().unwrap_or(0));
                    return Err(self.fail(f));
                }
            }
        }
        self.wbuf.clear();
        self.wrote = true;
        Ok(())
    }

    /// Reads what is available (at least one byte, or fails).
    fn read_some(&mut self) -> Result<(), IoFailure> {
        if self.rpos > 0 && self.rpos == self.rbuf.len() {
            self.rbuf.clear();
            self.rpos = 0;
        }
        if std::mem::take(&mut self.wrote) {
            self.wait(libc::POLLIN)?;
        }
        let start = self.rbuf.len();
        if self.rbuf.capacity() - start < 4096 {
            self.rbuf.reserve(8192);
        }
        let spare = self.rbuf.spare_capacity_mut();
        match self.sock.recv(spare) {
            Ok(0) => Err(IoFailure::Closed),
            Ok(n) => {
                // SAFETY: recv initialised the first `n` spare bytes.
                unsafe { self.rbuf.set_len(start + n) };
                if self.monitor_on {
                    if let Some(m) = &self.monitor {
                        m.monitor(&self.rbuf[start..], 0);
                    }
                }
                Ok(())
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock || e.kind() == io::ErrorKind::Interrupted => {
                self.wait(libc::POLLIN)?;
                Ok(())
            }
            Err(e) => Err(IoFailure::Os(e.raw_os_error().unwrap_or(0))),
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
                let start = self.rpos;
                self.rpos += scanned + i + 1;
                return Ok(&self.rbuf[start..self.rpos]);
            }
            scanned = avail.len();
            if scanned > MAX_LINE {
                return Err(self.fail(IoFailure::Overlong));
            }
            if self.rpos > 0 && self.rpos * 2 > self.rbuf.capacity() {
                self.rbuf.drain(..self.rpos);
                self.rpos = 0;
            }
            match self.read_some() {
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
