#![no_main]
//! DNS responses: compression pointers, truncation, counts that lie.
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    mailcompat::fuzzing::dns(data);
});
