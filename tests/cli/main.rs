//! Integration tests: the real `ollama-chat` binary against the in-repo fake Ollama server, through
//! pipes (assert_cmd) and pseudo-terminals (rexpect), with HOME, XDG folders and OLLAMA_HOST
//! isolated per test.

#[path = "../support/mod.rs"]
mod support;

mod failures;
mod harness;
mod log;
mod oneshot;
mod repl;
mod speed;
