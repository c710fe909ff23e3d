//! cargo-fuzz target `token`: [`fuzz::target_token`].
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| fuzz::target_token(data));
