#![no_main]
//! SASL challenges: SCRAM server-first and server-final, CRAM-MD5, LOGIN, XOAUTH2 and OAUTHBEARER errors.
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    mailcompat::fuzzing::sasl(data);
});
