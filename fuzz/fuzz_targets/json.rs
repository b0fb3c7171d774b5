#![no_main]
//! JSON as TLSRPT results come back to the aggregation API.
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    mailcompat::fuzzing::json(data);
});
