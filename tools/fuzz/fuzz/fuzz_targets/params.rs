//! cargo-fuzz target `params`: [`fuzz::target_params`].
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| fuzz::target_params(data));
