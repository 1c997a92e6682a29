//! What can go wrong talking to Ollama, each with a message that says what to do next.

use super::ndjson::DecodeError;

/// A failed request or reply.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("cannot reach Ollama at {url} ({reason}) — is `ollama serve` running? (set OLLAMA_HOST or --host for another server)")]
    Unreachable { url: String, reason: String },
    #[error("model '{model}' not found — pull it with `ollama pull {model}`, or choose an installed one with --model")]
    ModelNotFound { model: String },
    #[error("Ollama answered {status}: {message}")]
    Status { status: u16, message: String },
    #[error("Ollama reported an error during the reply: {0}")]
    InStream(String),
    #[error("the connection to Ollama was lost before the reply finished ({reason})")]
    Disconnected { reason: String },
    #[error("the reply ended without Ollama's final chunk")]
    Incomplete,
    #[error("no data from Ollama for {0} s, so the reply was abandoned (raise the limit with --timeout)")]
    Stalled(u64),
    #[error(transparent)]
    Decode(#[from] DecodeError),
    #[error("request to {url} failed: {reason}")]
    Transport { url: String, reason: String },
}

impl ApiError {
    /// Errors after which the same request could succeed later without changes.
    pub fn is_unreachable(&self) -> bool {
        matches!(self, ApiError::Unreachable { .. })
    }
}
