//! Mailing a report (RFC 8460 §5.3) through the library's own SMTP engine.
//!
//! The message travels in a session of its own, built here and never seen
//! by the application: its messages, statuses and callbacks stay as they
//! were. From the application's session it takes only how to reach mail
//! out: when it delivers to MX hosts itself (`smtp_set_mx_domain`), the
//! report goes to the MX hosts of the address's domain, on the same port,
//! through the same resolver, with opportunistic TLS (RFC 8460 §5.3: a
//! report must get through where TLS fails); otherwise through the relay
//! set with `smtp_set_server`, with its STARTTLS, implicit TLS, TLS
//! context, timeouts, host name and SASL settings.
//!
//! [`deliver_mail`] is the one place a mailto: report leaves by.

use std::ffi::CString;

use crate::esmtp::error;
use crate::esmtp::message::{Message, Recipient};
use crate::esmtp::policy::{Config, Kind};
use crate::esmtp::protocol::{self, RunOptions};
use crate::esmtp::session::{ServerAddr, Session};
use crate::esmtp::source::MessageSource;
use crate::esmtp::status::StatusCell;

/// A message held in memory, given to the engine in one chunk.
struct Bytes {
    data: Vec<u8>,
    given: bool,
}

impl MessageSource for Bytes {
    fn rewind(&mut self) {
        self.given = false;
    }

    fn advance(&mut self) -> Result<bool, i32> {
        let first = !self.given;
        self.given = true;
        Ok(first && !self.data.is_empty())
    }

    fn chunk(&self) -> &[u8] {
        if self.given {
            &self.data
        } else {
            &[]
        }
    }
}

/// A session of ours for one report to `to`, reaching mail out as `app`
/// does.
fn internal_session(app: &Session, to: &str) -> Session {
    let s = Session::default();
    if let Some(mx) = app.mx_domain.borrow().as_ref() {
        let domain = to.rsplit_once('@').map_or("", |(_, d)| d);
        *s.mx_domain.borrow_mut() =
            Some(ServerAddr { host: CString::new(domain).unwrap_or_default(), port: mx.port.clone() });
        let app_cfg = app.tls_policy.borrow();
        *s.tls_policy.borrow_mut() = Config {
            kind: Kind::Opportunistic,
            resolvers: app_cfg.resolvers.clone(),
            timeout: app_cfg.timeout,
            ..Config::default()
        };
    }
    *s.server.borrow_mut() = app.server.borrow().clone();
    *s.hostname.borrow_mut() = app.hostname.borrow().clone();
    s.timeouts.set(app.timeouts.get());
    s.starttls.set(app.starttls.get());
    s.implicit_tls.set(app.implicit_tls.get());
    s.tls_resume.set(app.tls_resume.get());
    let ctx = app.tls_ctx.get();
    if !ctx.is_null() {
        // SAFETY: the application's session holds a reference to this
        // SSL_CTX (taken in smtp_starttls_set_ctx) for as long as it
        // lives, which outlasts this call; the one taken here is ours,
        // and `Session`'s drop gives it back.
        unsafe { openssl_sys::SSL_CTX_up_ref(ctx.cast()) };
        s.tls_ctx.set(ctx);
    }
    s
}

/// The status as a detail: `250 2.0.0 text`, or `what` when empty.
fn status_text(st: &StatusCell, what: &str) -> String {
    let code = st.code();
    if code == 0 {
        return what.to_owned();
    }
    let text = st.text().unwrap_or_default();
    let text: String = text.chars().filter(|c| !c.is_control()).take(200).collect();
    format!("{code} {}", text.trim())
}

/// Sends `content` (a whole message, CRLF line ends) from `from` to `to`:
/// `Ok` with the server's reply once a server took it for `to`, `Err`
/// with why not. Leaves the thread's libESMTP error as it found it: the
/// outcome is the detail.
pub fn deliver_mail(
    app: &Session,
    opts: &RunOptions,
    from: &str,
    to: &str,
    content: Vec<u8>,
) -> Result<String, String> {
    if app.server.borrow().is_none() && app.mx_domain.borrow().is_none() {
        return Err(
            "no way to send mail: set a relay (smtp_set_server) or MX delivery (smtp_set_mx_domain)".into()
        );
    }
    let (Ok(from), Ok(to)) = (CString::new(from), CString::new(to)) else {
        return Err("mailbox with a NUL byte".into());
    };
    let saved = error::save();
    let s = internal_session(app, to.to_str().unwrap_or_default());
    let m = Message::default();
    *m.reverse_path.borrow_mut() = Some(from);
    m.recipients.push(Recipient::new(to));
    *m.source.borrow_mut() = Some(Box::new(Bytes { data: content, given: false }));
    let m = s.messages.push(m);
    // Marked running, as smtp_start_session marks the sessions it runs.
    s.running.set(true);
    let ran = protocol::run(&s, opts) != 0;
    s.running.set(false);
    let why = error::describe();
    error::restore(saved);
    let rcpt = m.recipients.get(0);
    let rcpt_ok = rcpt.is_some_and(|r| (200..300).contains(&r.status.code()));
    let msg_code = m.message_status.code();
    if ran && rcpt_ok && (200..300).contains(&msg_code) {
        return Ok(status_text(&m.message_status, "accepted"));
    }
    let detail = if !ran {
        let what = if app.mx_domain.borrow().is_some() { "no MX host reached" } else { "relay not reached" };
        format!("{what}: {why}")
    } else if (200..300).contains(&m.reverse_path_status.code()) || m.reverse_path_status.code() == 0 {
        match rcpt {
            Some(r) if !rcpt_ok && r.status.code() != 0 => {
                format!("recipient refused: {}", status_text(&r.status, ""))
            }
            _ => format!("message refused: {}", status_text(&m.message_status, &why)),
        }
    } else {
        format!("sender refused: {}", status_text(&m.reverse_path_status, ""))
    };
    Err(detail)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{BufRead, BufReader, Write};
    use std::net::TcpListener;

    /// A relay on loopback answering with `rcpt` to RCPT; returns what it
    /// received after DATA.
    fn relay(rcpt: &'static str) -> (String, std::thread::JoinHandle<Vec<String>>) {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = l.local_addr().unwrap().to_string();
        let t = std::thread::spawn(move || {
            let (c, _) = l.accept().unwrap();
            c.set_read_timeout(Some(std::time::Duration::from_secs(10))).unwrap();
            let mut w = c.try_clone().unwrap();
            let mut r = BufReader::new(c);
            let mut seen = Vec::new();
            w.write_all(b"220 relay\r\n").unwrap();
            let mut data = false;
            for _ in 0..10_000 {
                let mut line = String::new();
                if r.read_line(&mut line).unwrap_or(0) == 0 {
                    break;
                }
                seen.push(line.clone());
                let cmd = line.to_ascii_uppercase();
                let reply: &[u8] = if data {
                    if line != ".\r\n" {
                        continue;
                    }
                    data = false;
                    b"250 2.0.0 queued as R1\r\n"
                } else if cmd.starts_with("EHLO") {
                    b"250 relay\r\n"
                } else if cmd.starts_with("RCPT") {
                    rcpt.as_bytes()
                } else if cmd.starts_with("DATA") {
                    data = true;
                    b"354 go\r\n"
                } else if cmd.starts_with("QUIT") {
                    let _ = w.write_all(b"221 bye\r\n");
                    break;
                } else {
                    b"250 ok\r\n"
                };
                w.write_all(reply).unwrap();
            }
            seen
        });
        (addr, t)
    }

    fn app_with(server: &str) -> Session {
        let app = Session::default();
        *app.server.borrow_mut() = Some(crate::esmtp::session::ServerAddr::parse(server.as_bytes()));
        *app.hostname.borrow_mut() = Some(CString::new("client.example").unwrap());
        app
    }

    #[test]
    fn a_message_goes_through_the_relay_untouched() {
        let (addr, srv) = relay("250 2.1.5 ok\r\n");
        let app = app_with(&addr);
        let body =
            b"From: a@b.example\r\nTo: c@d.example\r\nDate: x\r\nMessage-ID: <1@b>\r\n\r\n.dot\r\n".to_vec();
        let r = deliver_mail(&app, &RunOptions::default(), "a@b.example", "c@d.example", body);
        assert_eq!(r, Ok("250 2.0.0 queued as R1".to_owned()));
        let seen = srv.join().unwrap();
        assert!(seen.contains(&"MAIL FROM:<a@b.example>\r\n".to_owned()), "{seen:?}");
        assert!(seen.contains(&"RCPT TO:<c@d.example>\r\n".to_owned()));
        // Dot-stuffed on the wire; the headers given are kept as they are.
        assert!(seen.contains(&"..dot\r\n".to_owned()));
        assert!(seen.contains(&"Message-ID: <1@b>\r\n".to_owned()));
        assert!(app.messages.is_empty(), "the application's session is not touched");
    }

    #[test]
    fn refusals_and_errors_are_details() {
        let (addr, srv) = relay("550 5.1.1 no such user\r\n");
        let app = app_with(&addr);
        error::set_error(error::ERR_NOTHING_TO_DO);
        let r =
            deliver_mail(&app, &RunOptions::default(), "a@b.example", "c@d.example", b"X: y\r\n".to_vec());
        assert_eq!(r, Err("recipient refused: 550 5.1.1 no such user".to_owned()));
        srv.join().unwrap();
        assert_eq!(error::errno(), error::ERR_NOTHING_TO_DO, "the caller's error state is kept");
        // Nothing listens on port 9 of loopback.
        let r = deliver_mail(
            &app_with("127.0.0.1:9"),
            &RunOptions::default(),
            "a@b.example",
            "c@d.example",
            vec![],
        );
        assert!(r.as_ref().is_err_and(|e| e.starts_with("relay not reached: ")), "{r:?}");
        let r =
            deliver_mail(&Session::default(), &RunOptions::default(), "a@b.example", "c@d.example", vec![]);
        assert!(r.is_err_and(|e| e.contains("smtp_set_server") && e.contains("smtp_set_mx_domain")));
    }
}
