#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| verifier::fuzzing::cbor_cose(data));
