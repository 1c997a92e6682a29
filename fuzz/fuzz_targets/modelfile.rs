//! The Modelfile parser: what parses and prints parses back to itself.
//! The invariants live in `ollama_chat::fuzzing::modelfile`, which its property-test twin also runs.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| ollama_chat::fuzzing::modelfile(data));
