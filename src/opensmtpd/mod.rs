//! libopensmtpd 0.7, re-implemented: the OpenSMTPD filter protocol and its
//! C API (issue 4, in progress).
//!
//! Done: the context layout, the phase table, line and parameter parsing,
//! reply lines, registration lines, sessions. To come: dispatching events
//! to the filter's callbacks (with the fixes COMPATIBILITY.md will list),
//! the C API and its variadic shim, the event loop (libevent's global base,
//! which filters add their own events to), `libopensmtpd.so.0` and
//! `opensmtpd.h`, the C tests and the benchmark.

pub mod capi;
pub mod ctx;
pub mod dispatch;
pub mod params;
pub mod phase;
pub mod protocol;
pub mod registration;
pub mod reply;
pub mod session;
