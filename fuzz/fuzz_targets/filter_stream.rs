#![no_main]
//! smtpd's filter protocol as whole streams: config, report and filter lines of protocol 0.4 to 0.7, dispatched with every callback registered and every context field needed.
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    mailcompat::fuzzing::filter_stream(data);
});
