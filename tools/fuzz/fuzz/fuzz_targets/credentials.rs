//! cargo-fuzz target `credentials`: [`fuzz::target_credentials`].
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| fuzz::target_credentials(data));
