//! Integration tests, one binary so the fake server is compiled once: the real `ollama-chat`
//! binary against the in-repo fake Ollama server, through pipes (assert_cmd) and pseudo-terminals
//! (rexpect), with HOME, XDG folders and OLLAMA_HOST isolated per test; the fake's own self-tests
//! (`fake_selftest`); and session save → load round trips through the library (`session_roundtrip`).

#[path = "../support/mod.rs"]
mod support;

#[macro_use]
mod harness;

mod anthropic;
mod attach;
mod comfort;
mod config;
mod context;
mod embed;
mod failures;
mod fake_selftest;
mod hostile;
mod hostile_escapes;
mod log;
mod log_privacy;
mod logs_cmd;
mod markdown;
mod models;
mod network;
mod oneshot;
mod openai;
mod pty;
mod pull_create;
mod repl;
mod repl_commands;
mod repl_input;
mod replay;
mod secrets;
mod session_moved;
mod session_roundtrip;
mod session_search;
mod sessions;
mod signals;
mod speed;
mod stats_cmd;
mod term;
mod tools;
mod tools_pty;
