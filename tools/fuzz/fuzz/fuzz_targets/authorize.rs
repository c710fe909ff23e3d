//! cargo-fuzz target `authorize`: [`fuzz::target_authorize`].
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| fuzz::target_authorize(data));
