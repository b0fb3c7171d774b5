//! libopensmtpd 0.7, re-implemented: the OpenSMTPD filter protocol and its
//! C API (issue 4, in progress).

pub mod ctx;
pub mod params;
pub mod phase;
pub mod protocol;
pub mod registration;
pub mod reply;
pub mod session;
