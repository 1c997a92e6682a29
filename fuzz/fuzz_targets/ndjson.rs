//! The NDJSON chat stream of `/api/chat`: cut anywhere, same events; fast path agrees with serde.
//! The invariants live in `ollama_chat::fuzzing::ndjson`, which its property-test twin also runs.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| ollama_chat::fuzzing::ndjson(data));
