//! libESMTP 1.1.0, re-implemented: the protocol core and its C API.

pub mod appdata;
pub mod capi;
pub mod conn;
pub mod error;
pub mod events;
pub mod extensions;
pub mod headers;
pub mod message;
pub mod params;
pub mod policy;
pub mod protocol;
#[cfg(test)]
mod random_input_tests;
pub mod reply;
pub mod sasl;
pub mod session;
pub mod source;
pub mod status;
pub mod tls;
