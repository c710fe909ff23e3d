//! cargo-fuzz target `jose`: [`fuzz::target_jose`].
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| fuzz::target_jose(data));
