#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| enrollment::fuzzing::tk01(data));
