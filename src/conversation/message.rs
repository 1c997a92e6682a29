//! A message of the conversation in the client's own terms: who wrote it, its text, the model's
//! thinking, and room for what later features attach (images, tool calls and their results).
//! Each API adapter maps these to and from its own wire shapes.
//!
//! The serde shape is the session file's (`{"role","content"[,"thinking"]}`): every field added
//! later is optional there, so old session files stay readable.

use serde::{Deserialize, Serialize};

/// Who wrote a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    System,
    User,
    Assistant,
    /// The result of a tool call, handed back to the model.
    Tool,
}

impl Role {
    /// The name every API uses for it.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::System => "system",
            Role::User => "user",
            Role::Assistant => "assistant",
            Role::Tool => "tool",
        }
    }
}

/// One entry of the history.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Message {
    pub role: Role,
    /// The text part.
    pub content: String,
    /// The model's reasoning before its reply; kept for the record, never sent back.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub thinking: Option<String>,
    /// Images attached to a user message, in the order given.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub images: Vec<Image>,
    /// Functions the model asked to call (an assistant message).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tool_calls: Vec<ToolCall>,
    /// For a `Tool` message: which call this is the result of.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tool_result: Option<ToolResultOf>,
}

impl Message {
    pub fn new(role: Role, content: impl Into<String>) -> Self {
        Message {
            role,
            content: content.into(),
            thinking: None,
            images: Vec::new(),
            tool_calls: Vec::new(),
            tool_result: None,
        }
    }

    /// Whether the message is text alone (no images, tool calls or tool result), the only kind
    /// every API takes as a plain string.
    pub fn is_text_only(&self) -> bool {
        self.images.is_empty() && self.tool_calls.is_empty() && self.tool_result.is_none()
    }
}

/// An image sent with a message: its bytes, base64-encoded as every API takes them, and their
/// media type (found from the bytes, not the file name).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Image {
    pub media_type: String,
    pub base64: String,
}

/// A function call the model asked for.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ToolCall {
    /// The server's id for the call, when it gives one (OpenAI and Anthropic do, Ollama does not).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    pub name: String,
    pub arguments: serde_json::Value,
}

/// Which call a tool message answers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ToolResultOf {
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub call_id: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_text_message_serialises_as_before() {
        let m = Message::new(Role::User, "你好");
        assert_eq!(
            serde_json::to_string(&m).unwrap(),
            r#"{"role":"user","content":"你好"}"#
        );
        let back: Message =
            serde_json::from_str(r#"{"role":"assistant","content":"a","thinking":"t"}"#).unwrap();
        assert_eq!(back.thinking.as_deref(), Some("t"));
        assert!(back.is_text_only());
    }

    #[test]
    fn role_names() {
        for r in [Role::System, Role::User, Role::Assistant, Role::Tool] {
            assert_eq!(serde_json::to_value(r).unwrap(), r.as_str());
        }
    }
}
