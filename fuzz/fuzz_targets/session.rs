//! The session loader: what loads writes back and loads again; every cut after the header loads.
//! The invariants live in `ollama_chat::fuzzing::session`, which its property-test twin also runs.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| ollama_chat::fuzzing::session(data));
