//! `smtp_tlsrpt_submit`: sending a TLS report (RFC 8460 §5) to the
//! addresses a policy domain publishes. Declared in `libesmtp-ext.h`.

use std::ffi::{c_char, c_int, c_void, CString};

use super::ext::valid_domain;
use super::inuse::{session_running, Using};
use super::{check_args, cstr, guarded, handle, need, smtp_session_t};
use crate::esmtp::error::{self, set_error};
use crate::esmtp::policy::tlsrpt::submit::{self, Outcome, SubmitError};
use crate::esmtp::protocol::RunOptions;

/// Called once for each address of the domain's record with what became
/// of the report there: `ok` 1 when the receiver took it (an HTTPS 2xx,
/// or the relay's 2xx to the message), else 0; `detail` says how, in
/// words. Both strings are valid during the call.
pub type smtp_tlsrpt_submit_cb_t =
    Option<unsafe extern "C" fn(uri: *const c_char, ok: c_int, detail: *const c_char, arg: *mut c_void)>;

/// A string for C: NUL and other control characters from the network
/// shown as `?`.
fn c_text(s: &str) -> CString {
    let clean: String = s.chars().map(|c| if c.is_control() { '?' } else { c }).collect();
    CString::new(clean).unwrap_or_default()
}

/// Sends `report` (a document from `smtp_tlsrpt_report`, every policy
/// in it `policy_domain`'s) to every address in `policy_domain`'s
/// `_smtp._tls` TXT record (RFC 8460 §3), gzip'd: to `https:` addresses
/// by POST (`application/tlsrpt+gzip`, no redirect followed), to
/// `mailto:` addresses as an RFC 8460 §5.3 message from `from`.
///
/// `session` supplies the resolver and timeout (`smtp_tls_set_resolver`,
/// `smtp_tls_set_policy_timeout`: each DNS question and each POST is held
/// to it), the trust for HTTPS receivers (the library's own TLS context,
/// as for MTA-STS policies, or the application's `SSL_CTX`), and for
/// `mailto:` addresses the way to send mail: when the session delivers to
/// MX hosts (`smtp_set_mx_domain`), the MX hosts of the address's domain,
/// on the same port, with opportunistic TLS; else the SMTP relay
/// (`smtp_set_server`) with its STARTTLS, implicit TLS, timeouts and SASL
/// settings. Each message carries `TLS-Required: No` (RFC 8689). The messages go in
/// a session of the library's own: the session's messages and callbacks
/// are not used or changed. `from` is the submitter's mailbox (the From:
/// field and the envelope sender); its domain is the submitter named in
/// the message. `cb` (may be NULL) is called once for each URI of the
/// record, in order, those not used (another scheme, malformed, beyond
/// the first 8) included with `ok` 0.
///
/// Returns how many addresses took the report (0 when none did), or -1
/// with `smtp_errno()` set: `SMTP_ERR_INVAL` for NULL or malformed
/// arguments, a `report` that is not an RFC 8460 report of `policy_domain`,
/// or during `smtp_start_session` of `session`; `SMTP_ERR_TLSRPT_NO_RECORD`
/// when the domain has no usable record; a getaddrinfo code
/// (`SMTP_ERR_EAI_AGAIN`, `SMTP_ERR_EAI_FAIL`) when the record could not
/// be looked up. While it runs, `cb` may read `session` but not change or
/// destroy it.
///
/// # Safety
/// `session` must be null or a live session; the strings null or C
/// strings; `cb` callable with `arg` during the call.
#[no_mangle]
pub unsafe extern "C" fn smtp_tlsrpt_submit(
    session: smtp_session_t,
    policy_domain: *const c_char,
    from: *const c_char,
    report: *const c_char,
    cb: smtp_tlsrpt_submit_cb_t,
    arg: *mut c_void,
) -> c_int {
    guarded!(-1, {
        // SAFETY: per the function's contract.
        let s = need!(unsafe { handle(session) }, -1);
        check_args!(!session_running(s), -1);
        // SAFETY: per the function's contract.
        let text = |p| unsafe { cstr(p) }.and_then(|c| c.to_str().ok());
        let domain = need!(text(policy_domain).filter(|d| valid_domain(d)), -1);
        let (from, report) = need!(text(from).zip(text(report)), -1);
        // SAFETY: the auth context was given by the application through
        // smtp_auth_set_context and must still be alive, as for
        // smtp_start_session.
        let auth = unsafe { super::auth::enabled_context(s.auth_ctx.get()) };
        // Marked in use, as smtp_start_session marks it: the callback can
        // neither change the settings being used nor free the session.
        let _using = Using::run(s);
        let mut each = |o: &Outcome| {
            if let Some(cb) = cb {
                let (uri, detail) = (c_text(&o.uri), c_text(&o.detail));
                // SAFETY: the application's callback, per the contract;
                // the strings live until it returns.
                unsafe { cb(uri.as_ptr(), c_int::from(o.ok), detail.as_ptr(), arg) };
            }
        };
        match submit::submit(s, &RunOptions { auth }, domain, from, report, &mut each) {
            Ok(n) => c_int::try_from(n).unwrap_or(c_int::MAX),
            Err(SubmitError::Invalid(_)) => {
                set_error(error::ERR_INVAL);
                -1
            }
            Err(SubmitError::NoRecord(_)) => {
                set_error(error::ERR_TLSRPT_NO_RECORD);
                -1
            }
            Err(SubmitError::Lookup(gai, _)) => {
                set_error(0);
                error::set_herror(gai, 0);
                -1
            }
        }
    })
}
