//! The slash-command parser and its completion: no panic, command names case-blind.
//! The invariants live in `ollama_chat::fuzzing::slash`, which its property-test twin also runs.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| ollama_chat::fuzzing::slash(data));
