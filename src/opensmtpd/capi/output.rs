//! Answers queued for smtpd, written to stdout.

use std::cell::RefCell;

thread_local! {
    static OUT: RefCell<Vec<u8>> = const { RefCell::new(Vec::new()) };
}

pub fn push(bytes: &[u8]) {
    OUT.with(|o| o.borrow_mut().extend_from_slice(bytes));
}

pub fn with<R>(f: impl FnOnce(&mut Vec<u8>) -> R) -> R {
    OUT.with(|o| f(&mut o.borrow_mut()))
}

enum Wrote {
    All,
    /// stdout is full for now.
    Blocked,
    /// smtpd is gone.
    Gone,
}

/// Writes from the front of `o` until done or blocked, removing what went.
fn write_out(o: &mut Vec<u8>) -> Wrote {
    let mut off = 0;
    let result = loop {
        if off == o.len() {
            break Wrote::All;
        }
        // SAFETY: writes from a live buffer of the given length.
        let n = unsafe { libc::write(1, o[off..].as_ptr().cast(), o.len() - off) };
        if n > 0 {
            off += n as usize;
            continue;
        }
        // errno itself, not io::ErrorKind: decoding a kind reads a table
        // the hot path otherwise never touches (see bench/hot_sections.py).
        match std::io::Error::last_os_error().raw_os_error() {
            Some(libc::EINTR) => {}
            Some(libc::EAGAIN) => break Wrote::Blocked,
            _ => break Wrote::Gone,
        }
    };
    o.drain(..off);
    result
}

fn wait_writable(timeout_ms: i32) -> bool {
    let mut pfd = libc::pollfd { fd: 1, events: libc::POLLOUT, revents: 0 };
    // SAFETY: one valid pollfd.
    unsafe { libc::poll(&mut pfd, 1, timeout_ms) > 0 }
}

/// Writes what stdout takes now; true if something is left.
pub fn flush_nonblocking() -> bool {
    OUT.with(|o| match write_out(&mut o.borrow_mut()) {
        Wrote::All => false,
        Wrote::Blocked => true,
        // Nothing can be delivered any more: smtpd has gone away.
        Wrote::Gone => std::process::exit(0),
    })
}

/// Writes everything, waiting for stdout as needed.
pub fn flush_blocking() {
    while flush_nonblocking() {
        wait_writable(-1);
    }
}

/// As `flush_blocking`, on the way out: never panics, and gives up on a
/// stdout nobody has read for five seconds.
pub fn flush_blocking_quietly() {
    let _ = OUT.try_with(|o| {
        if let Ok(mut o) = o.try_borrow_mut() {
            while let Wrote::Blocked = write_out(&mut o) {
                if !wait_writable(5000) {
                    break;
                }
            }
            o.clear();
        }
    });
}
