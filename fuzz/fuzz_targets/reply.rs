#![no_main]
//! The SMTP reply reader: multi-line replies split across reads, with and
//! without enhanced status codes, and EHLO keyword parsing of what it reads.
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    mailcompat::fuzzing::reply(data);
});
