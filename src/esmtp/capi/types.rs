//! The C types of libesmtp.h that are not callbacks.

use crate::esmtp::message::{EtrnNode, Message, Recipient};
use crate::esmtp::session::Session;

pub type smtp_session_t = *mut Session;
pub type smtp_message_t = *mut Message;
pub type smtp_recipient_t = *mut Recipient;
pub type smtp_etrn_node_t = *mut EtrnNode;
pub type smtp_status_t = crate::esmtp::status::SmtpStatus;

// libesmtp.h declares these parameters with enum types. They arrive as C
// ints; the aliases only carry the names into the generated header, where
// cbindgen.toml turns them into `enum ...` (any int value is accepted and
// checked, unlike a Rust enum, which C could fill with an invalid value).
pub type header_option = std::ffi::c_int;
pub type ret_flags = std::ffi::c_int;
pub type notify_flags = std::ffi::c_int;
pub type e8bitmime_body = std::ffi::c_int;
pub type by_mode = std::ffi::c_int;
pub type starttls_option = std::ffi::c_int;
