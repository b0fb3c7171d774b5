//! `osmtpd_run`: the loop on stdin/stdout.
//!
//! A filter that needs nothing else is served by a plain blocking poll(2)
//! loop. libopensmtpd's man page promises that `osmtpd_run` dispatches
//! libevent, and filters add their own events to its global base (timers,
//! libasr's asynchronous DNS): as soon as that base holds any event, from
//! before `osmtpd_run` or from a callback, the loop hands over to
//! libevent's dispatch for good, with stdin and stdout as events of the
//! same base.
//!
//! Unlike libopensmtpd 0.7, which re-armed epoll for every answer, answers
//! are written straight away after each batch of input; only when stdout is
//! full does the loop wait for it. At EOF every answer still queued is
//! written before returning, and the sessions still open get their
//! `ondelete_session`.

use std::cell::RefCell;
use std::ffi::{c_int, c_short, c_void, CString};

use super::callbacks::Table;
use super::output;
use crate::opensmtpd::dispatch::Dispatcher;
use crate::opensmtpd::protocol::{self, Line};

/// Longest line accepted from smtpd, newline excluded: the longest smtpd
/// sends, a data-line of SMTP_LINE_MAX (65535) bytes behind the protocol
/// fields (about 100 bytes). libopensmtpd's 64 KiB buffer took a line that
/// did not fit, with what followed it, for the end of input.
const MAX_LINE: usize = 65535 + 1024;

/// How much is read from smtpd at a time.
const READ_CHUNK: usize = 16 * 1024;
/// Answers waiting for smtpd beyond which input is not read: smtpd must
/// take answers before it gets more work done. Small, so that a filter
/// faster than its smtpd does not pile answers up in memory (about one
/// read's worth of answers at most comes on top).
const OUTPUT_HIGH_WATER: usize = 32 * 1024;

const EV_READ: c_short = 0x02;
const EV_WRITE: c_short = 0x04;
const EV_PERSIST: c_short = 0x10;

type EventCb = extern "C" fn(c_int, c_short, *mut c_void);

#[link(name = "event")]
extern "C" {
    fn event_init() -> *mut c_void;
    fn event_new(base: *mut c_void, fd: c_int, events: c_short, cb: EventCb, arg: *mut c_void)
        -> *mut c_void;
    fn event_add(ev: *mut c_void, tv: *const libc::timeval) -> c_int;
    fn event_del(ev: *mut c_void) -> c_int;
    fn event_free(ev: *mut c_void);
    fn event_base_dispatch(base: *mut c_void) -> c_int;
    fn event_base_loopexit(base: *mut c_void, tv: *const libc::timeval) -> c_int;
    fn event_base_get_num_events(base: *mut c_void, flags: libc::c_uint) -> c_int;
}

/// EVENT_BASE_COUNT_ACTIVE | _VIRTUAL | _ADDED: anything at all.
const EVENT_BASE_COUNT_ANY: libc::c_uint = 1 | 2 | 4;

pub struct Loop {
    pub table: Table,
    read_ev: *mut c_void,
    reading: bool,
    pub conf: Option<unsafe extern "C" fn(*const libc::c_char, *const libc::c_char)>,
    dispatcher: Dispatcher,
    input: Vec<u8>,
    base: *mut c_void,
    write_ev: *mut c_void,
    write_armed: bool,
    /// Dispatching libevent (the filter has events of its own) rather
    /// than polling stdin/stdout.
    libevent: bool,
}

thread_local! {
    static LOOP: RefCell<Option<Loop>> = const { RefCell::new(None) };
}

fn set_nonblocking(fd: c_int, on: bool) {
    // SAFETY: fcntl on our own standard descriptors.
    unsafe {
        let flags = libc::fcntl(fd, libc::F_GETFL);
        if flags >= 0 {
            let flags = if on { flags | libc::O_NONBLOCK } else { flags & !libc::O_NONBLOCK };
            libc::fcntl(fd, libc::F_SETFL, flags);
        }
    }
}

/// Runs the loop until smtpd closes stdin.
pub fn run(
    table: Table,
    conf: Option<unsafe extern "C" fn(*const libc::c_char, *const libc::c_char)>,
    needs: u32,
    registration: Vec<u8>,
) {
    // SAFETY: event_init creates libevent's global base (or returns it),
    // which is what filters' own event_set/event_add use.
    let base = unsafe { event_init() };
    if base.is_null() {
        super::die(b"event_init failed");
    }
    set_nonblocking(0, true);
    set_nonblocking(1, true);
    // SAFETY: a new event on fd 0/1 of `base`; the callbacks are ours.
    let (read_ev, write_ev) = unsafe {
        (
            event_new(base, 0, EV_READ | EV_PERSIST, on_read, std::ptr::null_mut()),
            event_new(base, 1, EV_WRITE, on_write, std::ptr::null_mut()),
        )
    };
    if read_ev.is_null() || write_ev.is_null() {
        super::die(b"event_new failed");
    }
    let dispatcher = Dispatcher::new(needs);
    LOOP.with(|l| {
        *l.borrow_mut() = Some(Loop {
            table,
            read_ev,
            reading: true,
            conf,
            dispatcher,
            input: Vec::with_capacity(MAX_LINE),
            base,
            write_ev,
            write_armed: false,
            libevent: false,
        })
    });
    output::push(&registration);
    let eof = poll_loop(base);
    if !eof {
        // SAFETY: live events on the live base.
        unsafe {
            LOOP.with(|l| {
                if let Some(l) = l.borrow_mut().as_mut() {
                    l.libevent = true;
                    if l.reading {
                        event_add(l.read_ev, std::ptr::null());
                    }
                }
            });
            flush_or_arm();
            event_base_dispatch(base);
        }
    }
    // SAFETY: our events, deleted (if added) and freed once.
    unsafe {
        event_del(read_ev);
        event_del(write_ev);
        event_free(read_ev);
        event_free(write_ev);
    }
    finish();
}

/// Whether the filter has events of its own in libevent's global base
/// (ours are not in it while polling).
fn filter_has_events(base: *mut c_void) -> bool {
    // SAFETY: the live global base.
    unsafe { event_base_get_num_events(base, EVENT_BASE_COUNT_ANY) > 0 }
}

/// Serves stdin and stdout with poll(2) while the filter needs nothing
/// else. Returns true at EOF, false when libevent must take over.
fn poll_loop(base: *mut c_void) -> bool {
    loop {
        if filter_has_events(base) {
            return false;
        }
        // Writes what it can and updates `reading`: with stdout drained the
        // loop must listen to stdin again, or poll would wait on nothing.
        flush_or_arm();
        let pending = output::with(|o| !o.is_empty());
        let reading = LOOP.with(|l| l.borrow().as_ref().is_some_and(|l| l.reading));
        if !pending && !reading {
            super::die(b"osmtpd: neither reading nor writing");
        }
        let mut fds = [
            libc::pollfd { fd: 0, events: if reading { libc::POLLIN } else { 0 }, revents: 0 },
            libc::pollfd { fd: 1, events: if pending { libc::POLLOUT } else { 0 }, revents: 0 },
        ];
        // SAFETY: two valid pollfds for the duration of the call.
        if unsafe { libc::poll(fds.as_mut_ptr(), 2, -1) } < 0 {
            if std::io::Error::last_os_error().raw_os_error() == Some(libc::EINTR) {
                continue;
            }
            super::die(b"poll failed");
        }
        if fds[0].revents != 0 && super::firewall(read_and_dispatch) {
            return true;
        }
    }
}

/// After EOF: everything queued is written, open sessions are ended. An
/// input that ends in the middle of a message's data lines is an error
/// (smtpd never does that but when it dies), reported once that is done.
fn finish() {
    set_nonblocking(1, false);
    output::flush_blocking();
    let mut cut = false;
    if let Some(mut l) = LOOP.with(|l| l.borrow_mut().take()) {
        cut = l.dispatcher.sessions.any_in_data();
        let ids = l.dispatcher.sessions.ids();
        for id in ids {
            l.dispatcher.end_session(id, &mut l.table);
        }
    }
    output::flush_blocking();
    if cut {
        super::die(b"Invalid line received: end of input in the middle of a message");
    }
}

/// An answer was queued. Within a batch of input the batch's end writes it;
/// from the filter's own events (a timer, an asynchronous DNS answer) nothing
/// else would, so it is written now, or stdout is waited for.
pub fn answer_queued() {
    let between_batches = LOOP.with(|l| l.try_borrow().map(|l| l.is_some()).unwrap_or(false));
    if between_batches {
        flush_or_arm();
    }
}

/// Writes what can be written now; waits for stdout otherwise, and stops
/// reading while too much waits. (While polling, the poll loop does the
/// waiting: only `reading` changes.)
fn flush_or_arm() {
    let pending = output::flush_nonblocking();
    let backlog = output::with(|o| o.len());
    LOOP.with(|l| {
        if let Some(l) = l.borrow_mut().as_mut() {
            let stop = l.reading && backlog > OUTPUT_HIGH_WATER;
            let resume = !l.reading && backlog <= OUTPUT_HIGH_WATER / 2;
            if stop || resume {
                l.reading = resume;
            }
            if !l.libevent {
                return;
            }
            // SAFETY: the events belong to the live base.
            unsafe {
                if pending && !l.write_armed {
                    event_add(l.write_ev, std::ptr::null());
                    l.write_armed = true;
                }
                if stop {
                    event_del(l.read_ev);
                } else if resume {
                    event_add(l.read_ev, std::ptr::null());
                }
            }
        }
    });
}

extern "C" fn on_write(_fd: c_int, _what: c_short, _arg: *mut c_void) {
    super::firewall(|| {
        LOOP.with(|l| {
            if let Some(l) = l.borrow_mut().as_mut() {
                l.write_armed = false;
            }
        });
        flush_or_arm();
    })
}

extern "C" fn on_read(_fd: c_int, _what: c_short, _arg: *mut c_void) {
    super::firewall(|| {
        if read_and_dispatch() {
            LOOP.with(|l| {
                if let Some(l) = l.borrow().as_ref() {
                    // SAFETY: the live base.
                    unsafe { event_base_loopexit(l.base, std::ptr::null()) };
                }
            });
        } else {
            flush_or_arm();
        }
    })
}

/// Reads what stdin has and handles every complete line; true at EOF.
fn read_and_dispatch() -> bool {
    let mut lp = match LOOP.with(|l| l.borrow_mut().take()) {
        Some(l) => l,
        None => return true,
    };
    let mut input = std::mem::take(&mut lp.input);
    let eof = read_into(&mut input);
    let mut start = 0;
    while let Some(i) = memchr::memchr(b'\n', &input[start..]) {
        let end = start + i;
        let line = &input[start..end];
        if line.len() > MAX_LINE {
            too_long();
        }
        handle_line(&mut lp, line.strip_suffix(b"\r").unwrap_or(line));
        start = end + 1;
    }
    input.drain(..start);
    if input.len() > MAX_LINE {
        too_long();
    }
    if eof && !input.is_empty() {
        super::die(b"Invalid line received: unterminated line at end of input");
    }
    lp.input = input;
    LOOP.with(|l| *l.borrow_mut() = Some(lp));
    eof
}

/// Whether the line ended in this read or not, the same refusal.
fn too_long() -> ! {
    super::die(format!("Invalid line received: line longer than {MAX_LINE} bytes").as_bytes())
}

/// One read of at most a buffer's worth: the loop comes back while there
/// is more, so memory stays bounded however fast smtpd writes.
fn read_into(buf: &mut Vec<u8>) -> bool {
    loop {
        let start = buf.len();
        buf.reserve(READ_CHUNK);
        // SAFETY: reads into the spare capacity reserved just above.
        let n = unsafe { libc::read(0, buf.as_mut_ptr().add(start).cast(), READ_CHUNK) };
        match n {
            0 => return true,
            n if n > 0 => {
                // SAFETY: read initialised `n` bytes.
                unsafe { buf.set_len(start + n as usize) };
                return false;
            }
            _ => match std::io::Error::last_os_error().raw_os_error() {
                Some(libc::EINTR) => continue,
                Some(libc::EAGAIN) => return false,
                _ => return true,
            },
        }
    }
}

fn handle_line(lp: &mut Loop, line: &[u8]) {
    // A way for the tests to make the loop fail as a bug would.
    #[cfg(test)]
    if line == tests::PANIC_LINE {
        panic!("a bug in the loop");
    }
    let fail = |msg: &str| {
        let mut m = msg.as_bytes().to_vec();
        m.extend_from_slice(b": ");
        m.extend_from_slice(line);
        super::die(&m)
    };
    match protocol::parse(line) {
        Err(e) => fail(e.0),
        Ok(Line::Config { key, value }) => {
            if let Some(conf) = lp.conf {
                let k = (key != b"ready" || value.is_some())
                    .then(|| CString::new(key.to_vec()).unwrap_or_default());
                let v = value.map(|v| CString::new(v.to_vec()).unwrap_or_default());
                // SAFETY: the filter's conf callback; NULL/NULL at `ready`.
                unsafe {
                    conf(
                        k.as_ref().map_or(std::ptr::null(), |k| k.as_ptr()),
                        v.as_ref().map_or(std::ptr::null(), |v| v.as_ptr()),
                    )
                };
            }
            if let Some(value) = value {
                if let Err(e) = protocol::check_config(key, value) {
                    fail(e.0)
                }
            }
        }
        Ok(Line::Event(ev)) => {
            if let Err(e) = lp.dispatcher.event(&ev, &mut lp.table) {
                fail(e.0)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::ffi::{c_char, c_void};
    use std::io::Write;
    use std::process::{Command, Stdio};

    use crate::opensmtpd::capi::register::osmtpd_register_filter_helo;
    use crate::opensmtpd::capi::{osmtpd_filter_proceed, osmtpd_local_session, osmtpd_run};
    use crate::opensmtpd::ctx::osmtpd_ctx;

    pub const PANIC_LINE: &[u8] = b"mailcompat-test|panic";
    const CHILD: &str = "MAILCOMPAT_TEST_LOOP_CHILD";

    unsafe extern "C" fn on_helo(ctx: *mut osmtpd_ctx, _: *const c_char) {
        // SAFETY: the context the library handed us.
        unsafe { osmtpd_filter_proceed(ctx) };
    }

    unsafe extern "C" fn on_create(_: *mut osmtpd_ctx) -> *mut c_void {
        std::ptr::null_mut()
    }

    unsafe extern "C" fn on_delete(_: *mut osmtpd_ctx, _: *mut c_void) {
        // SAFETY: writes a constant to stderr.
        unsafe { libc::write(2, b"ondelete\n".as_ptr().cast(), 9) };
    }

    /// Run as a filter process of its own (the test binary again), since
    /// the outcome is how that process ends.
    #[test]
    fn a_panic_in_the_loop_is_a_fatal_error_not_the_end_of_input() {
        if std::env::var_os(CHILD).is_some() {
            // SAFETY: callbacks with opensmtpd.h's prototypes.
            unsafe {
                osmtpd_register_filter_helo(Some(on_helo));
                osmtpd_local_session(Some(on_create), Some(on_delete));
            }
            osmtpd_run();
            // A filter's main returning after osmtpd_run: the end of input.
            std::process::exit(0);
        }
        let exe = std::env::current_exe().unwrap();
        let mut child = Command::new(exe)
            .args([
                "--exact",
                "opensmtpd::capi::run::tests::a_panic_in_the_loop_is_a_fatal_error_not_the_end_of_input",
            ])
            .args(["--nocapture", "--test-threads=1"])
            .env(CHILD, "1")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut input = b"config|subsystem|smtp-in\nconfig|ready\n\
            filter|0.6|1.0|smtp-in|helo|01|0a|client\n"
            .to_vec();
        input.extend_from_slice(PANIC_LINE);
        input.push(b'\n');
        child.stdin.take().unwrap().write_all(&input).unwrap();
        let out = child.wait_with_output().unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "stdout: {stdout}\nstderr: {stderr}");
        // The answer given before the failure still reaches smtpd.
        assert!(stdout.contains("filter-result|0000000000000001|000000000000000a|proceed\n"), "{stdout}");
        // One line, saying what happened, as osmtpd_errx would.
        assert_eq!(stderr.lines().count(), 1, "{stderr}");
        assert!(
            stderr.starts_with("osmtpd: internal error: a bug in the loop at src/opensmtpd/capi/run.rs:"),
            "{stderr}"
        );
    }
}
