//! STARTTLS (RFC 3207) and implicit TLS (RFC 8314) on the system OpenSSL.

pub mod context;
pub mod handshake;
pub mod names;
pub mod resume;
#[cfg(test)]
mod resume_tests;
