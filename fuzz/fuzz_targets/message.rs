#![no_main]
//! The message reader and header rewriting: chunks split where the fuzzer puts 0xFE, bare CR and LF, dot-led lines, long lines.
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    mailcompat::fuzzing::message(data);
});
