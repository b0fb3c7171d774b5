#![no_main]
//! TXT strings, _mta-sts records and MTA-STS policy documents.
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    mailcompat::fuzzing::sts(data);
});
