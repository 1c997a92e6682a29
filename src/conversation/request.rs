//! What one chat request asks for, in the client's own terms: the model, the history and the
//! settings. Each adapter maps it to its API's body, refusing what that API cannot express.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::message::Message;
use super::tool::ToolSpec;
use crate::options::Options;

/// `think` takes a boolean or, for some models, an effort level.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Think {
    On(bool),
    Level(String),
}

/// One chat request. Borrowed, so that a long history is encoded without a copy.
#[derive(Debug, Clone, Copy)]
pub struct ChatRequest<'a> {
    pub model: &'a str,
    pub messages: &'a [Message],
    pub stream: bool,
    /// Model options under Ollama's names (`temperature`, `num_ctx`, …), the client's vocabulary.
    pub options: &'a Options,
    /// `"json"` or a JSON schema the reply must follow.
    pub format: Option<&'a Value>,
    pub think: Option<&'a Think>,
    /// How long the server keeps the model loaded (an Ollama setting).
    pub keep_alive: Option<&'a Value>,
    /// Functions the model may call; empty when tools are off.
    pub tools: &'a [ToolSpec],
    /// The client budgeted this history for the window, so the server must refuse a prompt that
    /// does not fit rather than silently drop or shift part of it (Ollama's `truncate: false`,
    /// `shift: false`; other APIs never cut silently and have no such switch).
    pub strict_window: bool,
}

impl Think {
    /// The effort levels `think` takes besides true and false, least first (`max` since Ollama
    /// v0.32; each API maps them to its own scale).
    pub const LEVELS: [&'static str; 4] = ["low", "medium", "high", "max"];

    /// Whether thinking is asked for at all (`think: false` is not).
    pub fn is_on(&self) -> bool {
        !matches!(self, Think::On(false))
    }
}

impl<'a> ChatRequest<'a> {
    /// A streamed request with no settings beyond the options.
    pub fn new(model: &'a str, messages: &'a [Message], options: &'a Options) -> Self {
        ChatRequest {
            model,
            messages,
            stream: true,
            options,
            format: None,
            think: None,
            keep_alive: None,
            tools: &[],
            strict_window: false,
        }
    }
}
