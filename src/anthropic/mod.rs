//! Everything that speaks Anthropic's Messages API (Anthropic itself, Ollama's `/v1/messages`, a
//! gateway): what goes over the wire and how settings map to it (`wire`), how its server-sent
//! events (cut by the shared `crate::sse`) become chat events (`stream`), the HTTP client
//! (`client`) and its errors (`error`).

pub mod client;
pub mod error;
pub mod stream;
pub mod wire;

pub use client::{ChatResponse, Client};

/// The default `--base-url`: the server's root, without `/v1`.
pub const DEFAULT_BASE_URL: &str = "https://api.anthropic.com";

/// The API version every request names (the `anthropic-version` header).
pub const API_VERSION: &str = "2023-06-01";
