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

/// An image sent with a message: what it is (name, media type found from the bytes, size,
/// sha256) and its bytes base64-encoded, as every API takes them.
///
/// Serialised (in session records) without its bytes: those are kept once, by hash, beside the
/// sessions, and put back in `data` when a session is resumed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Image {
    /// The file's name as shown (`[image: cat.png, 182 KB]`), not a path.
    pub name: String,
    pub media_type: String,
    /// Bytes before encoding.
    pub size: u64,
    /// Hex sha256 of the bytes: the blob's name, and what the turn log records.
    pub sha256: String,
    /// The bytes, base64; empty until loaded (a session record names the image only).
    #[serde(skip)]
    pub data: Base64,
}

impl Image {
    /// An image from bytes held in memory (small ones: a file is read in pieces by `attach`).
    pub fn from_bytes(
        name: impl Into<String>,
        media_type: impl Into<String>,
        bytes: &[u8],
    ) -> Self {
        use base64::Engine as _;
        use sha2::Digest as _;
        Image {
            name: name.into(),
            media_type: media_type.into(),
            size: bytes.len() as u64,
            sha256: hex(&sha2::Sha256::digest(bytes)),
            data: Base64::new(base64::engine::general_purpose::STANDARD.encode(bytes)),
        }
    }
}

/// Lower-case hex of a digest.
pub fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write as _;
    bytes
        .iter()
        .fold(String::with_capacity(bytes.len() * 2), |mut s, b| {
            let _ = write!(s, "{b:02x}");
            s
        })
}

/// Base64 text shared rather than copied: a 20 MB photo is 27 MB of base64, and the history,
/// the session writer and the request body all hold the same one. Kept as `Bytes`, which takes
/// over the encoder's buffer without copying it (an `Arc<str>` would copy it once more).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Base64(bytes::Bytes);

impl Base64 {
    /// Wraps text that is base64 already (the caller encoded it).
    pub fn new(encoded: String) -> Self {
        Base64(bytes::Bytes::from(encoded.into_bytes()))
    }

    pub fn as_str(&self) -> &str {
        // Base64 is ASCII: built only from a `String`, so this cannot fail.
        std::str::from_utf8(&self.0).unwrap_or_default()
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The text as a `Bytes` that shares it: a request body can hold it without a copy.
    pub fn to_bytes(&self) -> bytes::Bytes {
        self.0.clone()
    }
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
