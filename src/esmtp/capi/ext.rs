//! Our extensions to the libESMTP API, declared in `libesmtp-ext.h`.
//! libesmtp.h's names and values are untouched; a program that uses these
//! can test for the header with `__has_include(<libesmtp-ext.h>)`.

use std::ffi::c_int;

use super::{guarded, handle, need, smtp_session_t};

/// Implicit TLS (RFC 8314, usually port 465): with `on`, each connection of
/// the session starts with a TLS handshake, before the server's greeting.
/// The same certificate checks and events as for STARTTLS apply,
/// `SMTP_EV_STARTTLS_OK` included; STARTTLS is then not used. Returns 1,
/// or 0 with `SMTP_ERR_INVAL` for a NULL session.
///
/// # Safety
/// `session` must be null or a live session.
#[no_mangle]
pub unsafe extern "C" fn smtp_tls_set_implicit(session: smtp_session_t, on: c_int) -> c_int {
    guarded!(0, {
        // SAFETY: per the function's contract.
        let s = need!(unsafe { handle(session) }, 0);
        s.implicit_tls.set(on != 0);
        1
    })
}
