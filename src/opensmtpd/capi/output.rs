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

/// Writes what stdout takes now; true if something is left.
pub fn flush_nonblocking() -> bool {
    OUT.with(|o| {
        let mut o = o.borrow_mut();
        let mut off = 0;
        while off < o.len() {
            // SAFETY: writes from a live buffer of the given length.
            let n = unsafe { libc::write(1, o[off..].as_ptr().cast(), o.len() - off) };
            if n > 0 {
                off += n as usize;
                continue;
            }
            let e = std::io::Error::last_os_error();
            if n < 0 && e.kind() == std::io::ErrorKind::Interrupted {
                continue;
            }
            if n < 0 && e.kind() != std::io::ErrorKind::WouldBlock {
                // smtpd is gone: nothing can be delivered any more.
                std::process::exit(0);
            }
            break;
        }
        o.drain(..off);
        !o.is_empty()
    })
}

/// Writes everything, waiting for stdout as needed.
pub fn flush_blocking() {
    while flush_nonblocking() {
        let mut pfd = libc::pollfd { fd: 1, events: libc::POLLOUT, revents: 0 };
        // SAFETY: one valid pollfd.
        unsafe { libc::poll(&mut pfd, 1, -1) };
    }
}

/// As `flush_blocking`, for the way out: never panics, never blocks on a
/// stdout nobody reads (a full pipe on exit is given up).
pub fn flush_blocking_quietly() {
    let _ = OUT.try_with(|o| {
        if let Ok(mut o) = o.try_borrow_mut() {
            let mut off = 0;
            while off < o.len() {
                // SAFETY: writes from a live buffer of the given length.
                let n = unsafe { libc::write(1, o[off..].as_ptr().cast(), o.len() - off) };
                if n > 0 {
                    off += n as usize;
                    continue;
                }
                let e = std::io::Error::last_os_error();
                match e.kind() {
                    std::io::ErrorKind::Interrupted => {}
                    std::io::ErrorKind::WouldBlock => {
                        let mut pfd = libc::pollfd { fd: 1, events: libc::POLLOUT, revents: 0 };
                        // SAFETY: one valid pollfd; a bounded wait.
                        if unsafe { libc::poll(&mut pfd, 1, 5000) } <= 0 {
                            break;
                        }
                    }
                    _ => break,
                }
            }
            o.clear();
        }
    });
}
