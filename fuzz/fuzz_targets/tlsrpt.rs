#![no_main]
//! `_smtp._tls` records, the report mail they lead to, report documents,
//! and the reply to a report's POST.
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    mailcompat::fuzzing::tlsrpt(data);
});
