//! Everything that speaks the OpenAI chat-completions API (OpenAI, vLLM, llama.cpp's server, a
//! gateway, Ollama's own `/v1`): what goes over the wire and how settings map to it (`wire`), how
//! server-sent events (cut by the shared `crate::sse`) become chat events (`stream`), the HTTP
//! client (`client`) and its errors (`error`).

pub mod client;
pub mod error;
pub mod stream;
pub mod wire;

pub use client::{ChatResponse, Client};

/// The default `--base-url`.
pub const DEFAULT_BASE_URL: &str = "https://api.openai.com/v1";
