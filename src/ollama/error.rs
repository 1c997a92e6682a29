//! What can go wrong talking to the server, each with a message that says what to do next. The
//! variants that only Ollama's own API produces name Ollama; the rest name the server they were
//! given (`server`: "Ollama", or "the server" for an OpenAI-compatible one).

use super::ndjson::DecodeError;
use crate::openai::OpenAiError;

/// A failed request or reply.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("cannot reach Ollama at {url} ({reason}) — is `ollama serve` running? (set OLLAMA_HOST or --host for another server)")]
    Unreachable { url: String, reason: String },
    #[error("model '{model}' not found — pull it with `ollama pull {model}`, or choose an installed one with --model")]
    ModelNotFound { model: String },
    #[error("Ollama answered {status}: {message}")]
    Status { status: u16, message: String },
    #[error("{server} reported an error during the reply: {message}")]
    InStream {
        server: &'static str,
        message: String,
    },
    #[error("the connection to {server} was lost before the reply finished ({reason})")]
    Disconnected {
        server: &'static str,
        reason: String,
    },
    #[error("the reply ended before the server sent its final chunk")]
    Incomplete,
    #[error("no data from {server} for {secs} s, so the reply was abandoned (raise the limit with --timeout)")]
    Stalled { server: &'static str, secs: u64 },
    #[error(transparent)]
    Decode(#[from] DecodeError),
    /// From an OpenAI-compatible server.
    #[error(transparent)]
    OpenAi(#[from] OpenAiError),
    #[error("request to {url} failed: {reason}")]
    Transport { url: String, reason: String },
}

impl ApiError {
    /// Errors after which the same request could succeed later without changes.
    pub fn is_unreachable(&self) -> bool {
        matches!(self, ApiError::Unreachable { .. })
    }
}
