#![no_main]
//! The HTTP/1.1 response to the MTA-STS fetch: head, Content-Length, chunks, read in pieces split at 0xFE.
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    mailcompat::fuzzing::http(data);
});
