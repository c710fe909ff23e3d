//! cargo-fuzz target `config`: [`fuzz::target_config`].
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| fuzz::target_config(data));
