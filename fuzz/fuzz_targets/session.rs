#![no_main]
//! A whole SMTP session against a fake server whose replies the fuzzer
//! chooses (pipelining, STARTTLS, AUTH, DATA and BDAT included), with an
//! oracle: a status is 2xx only when the server accepted.
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    mailcompat::fuzzing::session(data);
});
