//! `OLLAMA_HOST` and base-URL parsing: no panic, a resolved URL resolves to itself.
//! The invariants live in `ollama_chat::fuzzing::host`, which its property-test twin also runs.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| ollama_chat::fuzzing::host(data));
