//! Server-sent events and the OpenAI and Anthropic decoders on them: cut anywhere, same events.
//! The invariants live in `ollama_chat::fuzzing::sse`, which its property-test twin also runs.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| ollama_chat::fuzzing::sse(data));
