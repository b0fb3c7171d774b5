//! Drop-in Rust implementations of two C mail libraries.
//!
//! * [`esmtp`]: libESMTP 1.1.0, shipped as `libesmtp.so.6`.
//! * [`opensmtpd`]: libopensmtpd 0.7, to be shipped as `libopensmtpd.so.0`.
//!
//! Both libraries are compiled into one static archive; the Makefile links
//! each shared object from it with that library's version script, so each
//! `.so` exports exactly the symbols of the library it replaces.

pub mod common;
pub mod esmtp;
#[cfg(feature = "fuzzing")]
pub mod fuzzing;
pub mod opensmtpd;
