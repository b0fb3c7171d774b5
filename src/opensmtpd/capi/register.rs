//! The registration functions of opensmtpd.h: one per filter phase and
//! report event. They only record the callback; `osmtpd_run` turns the
//! records into `register|…` lines.

use std::ffi::{c_char, c_int};

use super::callbacks::Cb;
use super::register;
use crate::opensmtpd::ctx::osmtpd_ctx;
use crate::opensmtpd::phase::Phase;

/// The `incoming` argument of the report registrations: libopensmtpd's
/// table has smtp-out (0) and smtp-in (1) entries only, and refuses any
/// other value.
fn direction(incoming: c_int) -> bool {
    match incoming {
        0 => false,
        1 => true,
        _ => super::die(b"Trying to register unknown event"),
    }
}

/// Registers the filter callback for the `connect` phase (smtp-in).
///
/// # Safety
/// `cb` must have the prototype opensmtpd.h declares.
#[no_mangle]
pub unsafe extern "C" fn osmtpd_register_filter_connect(
    cb: Option<unsafe extern "C" fn(*mut osmtpd_ctx, *const c_char, *mut libc::sockaddr_storage)>,
) {
    register(true, true, Phase::Connect, cb.map(Cb::Connect));
}

/// Registers the filter callback for the `helo` phase (smtp-in).
///
/// # Safety
/// `cb` must have the prototype opensmtpd.h declares.
#[no_mangle]
pub unsafe extern "C" fn osmtpd_register_filter_helo(
    cb: Option<unsafe extern "C" fn(*mut osmtpd_ctx, *const c_char)>,
) {
    register(true, true, Phase::Helo, cb.map(Cb::Text));
}

/// Registers the filter callback for the `ehlo` phase (smtp-in).
///
/// # Safety
/// `cb` must have the prototype opensmtpd.h declares.
#[no_mangle]
pub unsafe extern "C" fn osmtpd_register_filter_ehlo(
    cb: Option<unsafe extern "C" fn(*mut osmtpd_ctx, *const c_char)>,
) {
    register(true, true, Phase::Ehlo, cb.map(Cb::Text));
}

/// Registers the filter callback for the `starttls` phase (smtp-in).
///
/// # Safety
/// `cb` must have the prototype opensmtpd.h declares.
#[no_mangle]
pub unsafe extern "C" fn osmtpd_register_filter_starttls(cb: Option<unsafe extern "C" fn(*mut osmtpd_ctx)>) {
    register(true, true, Phase::StartTls, cb.map(Cb::Plain));
}

/// Registers the filter callback for the `auth` phase (smtp-in).
///
/// # Safety
/// `cb` must have the prototype opensmtpd.h declares.
#[no_mangle]
pub unsafe extern "C" fn osmtpd_register_filter_auth(
    cb: Option<unsafe extern "C" fn(*mut osmtpd_ctx, *const c_char)>,
) {
    register(true, true, Phase::Auth, cb.map(Cb::Text));
}

/// Registers the filter callback for the `mailfrom` phase (smtp-in).
///
/// # Safety
/// `cb` must have the prototype opensmtpd.h declares.
#[no_mangle]
pub unsafe extern "C" fn osmtpd_register_filter_mailfrom(
    cb: Option<unsafe extern "C" fn(*mut osmtpd_ctx, *const c_char)>,
) {
    register(true, true, Phase::MailFrom, cb.map(Cb::Text));
}

/// Registers the filter callback for the `rcptto` phase (smtp-in).
///
/// # Safety
/// `cb` must have the prototype opensmtpd.h declares.
#[no_mangle]
pub unsafe extern "C" fn osmtpd_register_filter_rcptto(
    cb: Option<unsafe extern "C" fn(*mut osmtpd_ctx, *const c_char)>,
) {
    register(true, true, Phase::RcptTo, cb.map(Cb::Text));
}

/// Registers the filter callback for the `data` phase (smtp-in).
///
/// # Safety
/// `cb` must have the prototype opensmtpd.h declares.
#[no_mangle]
pub unsafe extern "C" fn osmtpd_register_filter_data(cb: Option<unsafe extern "C" fn(*mut osmtpd_ctx)>) {
    register(true, true, Phase::Data, cb.map(Cb::Plain));
}

/// Registers the filter callback for the `dataline` phase (smtp-in).
///
/// # Safety
/// `cb` must have the prototype opensmtpd.h declares.
#[no_mangle]
pub unsafe extern "C" fn osmtpd_register_filter_dataline(
    cb: Option<unsafe extern "C" fn(*mut osmtpd_ctx, *const c_char)>,
) {
    register(true, true, Phase::DataLine, cb.map(Cb::Text));
}

/// Registers the filter callback for the `rset` phase (smtp-in).
///
/// # Safety
/// `cb` must have the prototype opensmtpd.h declares.
#[no_mangle]
pub unsafe extern "C" fn osmtpd_register_filter_rset(cb: Option<unsafe extern "C" fn(*mut osmtpd_ctx)>) {
    register(true, true, Phase::Rset, cb.map(Cb::Plain));
}

/// Registers the filter callback for the `quit` phase (smtp-in).
///
/// # Safety
/// `cb` must have the prototype opensmtpd.h declares.
#[no_mangle]
pub unsafe extern "C" fn osmtpd_register_filter_quit(cb: Option<unsafe extern "C" fn(*mut osmtpd_ctx)>) {
    register(true, true, Phase::Quit, cb.map(Cb::Plain));
}

/// Registers the filter callback for the `noop` phase (smtp-in).
///
/// # Safety
/// `cb` must have the prototype opensmtpd.h declares.
#[no_mangle]
pub unsafe extern "C" fn osmtpd_register_filter_noop(cb: Option<unsafe extern "C" fn(*mut osmtpd_ctx)>) {
    register(true, true, Phase::Noop, cb.map(Cb::Plain));
}

/// Registers the filter callback for the `help` phase (smtp-in).
///
/// # Safety
/// `cb` must have the prototype opensmtpd.h declares.
#[no_mangle]
pub unsafe extern "C" fn osmtpd_register_filter_help(cb: Option<unsafe extern "C" fn(*mut osmtpd_ctx)>) {
    register(true, true, Phase::Help, cb.map(Cb::Plain));
}

/// Registers the filter callback for the `wiz` phase (smtp-in).
///
/// # Safety
/// `cb` must have the prototype opensmtpd.h declares.
#[no_mangle]
pub unsafe extern "C" fn osmtpd_register_filter_wiz(cb: Option<unsafe extern "C" fn(*mut osmtpd_ctx)>) {
    register(true, true, Phase::Wiz, cb.map(Cb::Plain));
}

/// Registers the filter callback for the `commit` phase (smtp-in).
///
/// # Safety
/// `cb` must have the prototype opensmtpd.h declares.
#[no_mangle]
pub unsafe extern "C" fn osmtpd_register_filter_commit(cb: Option<unsafe extern "C" fn(*mut osmtpd_ctx)>) {
    register(true, true, Phase::Commit, cb.map(Cb::Plain));
}

/// Registers the report callback for `connect` in one direction (`incoming`
/// 1: smtp-in, 0: smtp-out).
///
/// # Safety
/// `cb` must have the prototype opensmtpd.h declares.
#[no_mangle]
pub unsafe extern "C" fn osmtpd_register_report_connect(
    incoming: c_int,
    cb: Option<
        unsafe extern "C" fn(
            *mut osmtpd_ctx,
            *const c_char,
            c_int,
            *mut libc::sockaddr_storage,
            *mut libc::sockaddr_storage,
        ),
    >,
) {
    register(false, direction(incoming), Phase::LinkConnect, cb.map(Cb::LinkConnect));
}

/// Registers the report callback for `disconnect` in one direction (`incoming`
/// 1: smtp-in, 0: smtp-out).
///
/// # Safety
/// `cb` must have the prototype opensmtpd.h declares.
#[no_mangle]
pub unsafe extern "C" fn osmtpd_register_report_disconnect(
    incoming: c_int,
    cb: Option<unsafe extern "C" fn(*mut osmtpd_ctx)>,
) {
    register(false, direction(incoming), Phase::LinkDisconnect, cb.map(Cb::Plain));
}

/// Registers the report callback for `greeting` in one direction (`incoming`
/// 1: smtp-in, 0: smtp-out).
///
/// # Safety
/// `cb` must have the prototype opensmtpd.h declares.
#[no_mangle]
pub unsafe extern "C" fn osmtpd_register_report_greeting(
    incoming: c_int,
    cb: Option<unsafe extern "C" fn(*mut osmtpd_ctx, *const c_char)>,
) {
    register(false, direction(incoming), Phase::LinkGreeting, cb.map(Cb::Text));
}

/// Registers the report callback for `identify` in one direction (`incoming`
/// 1: smtp-in, 0: smtp-out).
///
/// # Safety
/// `cb` must have the prototype opensmtpd.h declares.
#[no_mangle]
pub unsafe extern "C" fn osmtpd_register_report_identify(
    incoming: c_int,
    cb: Option<unsafe extern "C" fn(*mut osmtpd_ctx, *const c_char)>,
) {
    register(false, direction(incoming), Phase::LinkIdentify, cb.map(Cb::Text));
}

/// Registers the report callback for `tls` in one direction (`incoming`
/// 1: smtp-in, 0: smtp-out).
///
/// # Safety
/// `cb` must have the prototype opensmtpd.h declares.
#[no_mangle]
pub unsafe extern "C" fn osmtpd_register_report_tls(
    incoming: c_int,
    cb: Option<unsafe extern "C" fn(*mut osmtpd_ctx, *const c_char)>,
) {
    register(false, direction(incoming), Phase::LinkTls, cb.map(Cb::Text));
}

/// Registers the report callback for `auth` in one direction (`incoming`
/// 1: smtp-in, 0: smtp-out).
///
/// # Safety
/// `cb` must have the prototype opensmtpd.h declares.
#[no_mangle]
pub unsafe extern "C" fn osmtpd_register_report_auth(
    incoming: c_int,
    cb: Option<unsafe extern "C" fn(*mut osmtpd_ctx, *const c_char, c_int)>,
) {
    register(false, direction(incoming), Phase::LinkAuth, cb.map(Cb::Auth));
}

/// Registers the report callback for `begin` in one direction (`incoming`
/// 1: smtp-in, 0: smtp-out).
///
/// # Safety
/// `cb` must have the prototype opensmtpd.h declares.
#[no_mangle]
pub unsafe extern "C" fn osmtpd_register_report_begin(
    incoming: c_int,
    cb: Option<unsafe extern "C" fn(*mut osmtpd_ctx, u32)>,
) {
    register(false, direction(incoming), Phase::TxBegin, cb.map(Cb::Msg));
}

/// Registers the report callback for `mail` in one direction (`incoming`
/// 1: smtp-in, 0: smtp-out).
///
/// # Safety
/// `cb` must have the prototype opensmtpd.h declares.
#[no_mangle]
pub unsafe extern "C" fn osmtpd_register_report_mail(
    incoming: c_int,
    cb: Option<unsafe extern "C" fn(*mut osmtpd_ctx, u32, *const c_char, c_int)>,
) {
    register(false, direction(incoming), Phase::TxMail, cb.map(Cb::MsgAddr));
}

/// Registers the report callback for `rcpt` in one direction (`incoming`
/// 1: smtp-in, 0: smtp-out).
///
/// # Safety
/// `cb` must have the prototype opensmtpd.h declares.
#[no_mangle]
pub unsafe extern "C" fn osmtpd_register_report_rcpt(
    incoming: c_int,
    cb: Option<unsafe extern "C" fn(*mut osmtpd_ctx, u32, *const c_char, c_int)>,
) {
    register(false, direction(incoming), Phase::TxRcpt, cb.map(Cb::MsgAddr));
}

/// Registers the report callback for `envelope` in one direction (`incoming`
/// 1: smtp-in, 0: smtp-out).
///
/// # Safety
/// `cb` must have the prototype opensmtpd.h declares.
#[no_mangle]
pub unsafe extern "C" fn osmtpd_register_report_envelope(
    incoming: c_int,
    cb: Option<unsafe extern "C" fn(*mut osmtpd_ctx, u32, u64)>,
) {
    register(false, direction(incoming), Phase::TxEnvelope, cb.map(Cb::Envelope));
}

/// Registers the report callback for `data` in one direction (`incoming`
/// 1: smtp-in, 0: smtp-out).
///
/// # Safety
/// `cb` must have the prototype opensmtpd.h declares.
#[no_mangle]
pub unsafe extern "C" fn osmtpd_register_report_data(
    incoming: c_int,
    cb: Option<unsafe extern "C" fn(*mut osmtpd_ctx, u32, c_int)>,
) {
    register(false, direction(incoming), Phase::TxData, cb.map(Cb::MsgStatus));
}

/// Registers the report callback for `commit` in one direction (`incoming`
/// 1: smtp-in, 0: smtp-out).
///
/// # Safety
/// `cb` must have the prototype opensmtpd.h declares.
#[no_mangle]
pub unsafe extern "C" fn osmtpd_register_report_commit(
    incoming: c_int,
    cb: Option<unsafe extern "C" fn(*mut osmtpd_ctx, u32, usize)>,
) {
    register(false, direction(incoming), Phase::TxCommit, cb.map(Cb::Commit));
}

/// Registers the report callback for `rollback` in one direction (`incoming`
/// 1: smtp-in, 0: smtp-out).
///
/// # Safety
/// `cb` must have the prototype opensmtpd.h declares.
#[no_mangle]
pub unsafe extern "C" fn osmtpd_register_report_rollback(
    incoming: c_int,
    cb: Option<unsafe extern "C" fn(*mut osmtpd_ctx, u32)>,
) {
    register(false, direction(incoming), Phase::TxRollback, cb.map(Cb::Msg));
}

/// Registers the report callback for `client` in one direction (`incoming`
/// 1: smtp-in, 0: smtp-out).
///
/// # Safety
/// `cb` must have the prototype opensmtpd.h declares.
#[no_mangle]
pub unsafe extern "C" fn osmtpd_register_report_client(
    incoming: c_int,
    cb: Option<unsafe extern "C" fn(*mut osmtpd_ctx, *const c_char)>,
) {
    register(false, direction(incoming), Phase::ProtocolClient, cb.map(Cb::Text));
}

/// Registers the report callback for `server` in one direction (`incoming`
/// 1: smtp-in, 0: smtp-out).
///
/// # Safety
/// `cb` must have the prototype opensmtpd.h declares.
#[no_mangle]
pub unsafe extern "C" fn osmtpd_register_report_server(
    incoming: c_int,
    cb: Option<unsafe extern "C" fn(*mut osmtpd_ctx, *const c_char)>,
) {
    register(false, direction(incoming), Phase::ProtocolServer, cb.map(Cb::Text));
}

/// Registers the report callback for `response` in one direction (`incoming`
/// 1: smtp-in, 0: smtp-out).
///
/// # Safety
/// `cb` must have the prototype opensmtpd.h declares.
#[no_mangle]
pub unsafe extern "C" fn osmtpd_register_report_response(
    incoming: c_int,
    cb: Option<unsafe extern "C" fn(*mut osmtpd_ctx, *const c_char)>,
) {
    register(false, direction(incoming), Phase::FilterResponse, cb.map(Cb::Text));
}

/// Registers the report callback for `timeout` in one direction (`incoming`
/// 1: smtp-in, 0: smtp-out).
///
/// # Safety
/// `cb` must have the prototype opensmtpd.h declares.
#[no_mangle]
pub unsafe extern "C" fn osmtpd_register_report_timeout(
    incoming: c_int,
    cb: Option<unsafe extern "C" fn(*mut osmtpd_ctx)>,
) {
    register(false, direction(incoming), Phase::Timeout, cb.map(Cb::Plain));
}
