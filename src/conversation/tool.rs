//! What the client offers the model to call: a tool's name, what it is for and the JSON schema of
//! its arguments. Every API adapter maps it to its own `tools` shape.

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// A function offered to the model.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ToolSpec {
    pub name: String,
    pub description: String,
    /// A JSON schema of the arguments object (`{"type":"object","properties":…}`).
    pub parameters: Value,
}

/// Who let a call run, or why it did not: recorded with every call.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Approval {
    /// The person answered yes to this call.
    Yes,
    /// The person answered "always" for this tool, now or earlier in the chat.
    Always,
    /// Allowed up front (`--allow-tool`).
    Allowed,
    /// The person answered no.
    No,
    /// Nobody could be asked (one-shot mode without a terminal) and it was not allowed up front.
    Unattended,
    /// Not asked: the chat stopped first (Ctrl-C, the step limit, an unknown tool).
    NotAsked,
}

impl Approval {
    /// Whether the call may run.
    pub fn runs(self) -> bool {
        matches!(self, Approval::Yes | Approval::Always | Approval::Allowed)
    }
}

/// How a tool call ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ToolStatus {
    Ok,
    /// It ran and failed (or its arguments were refused); the model was told why.
    Error,
    /// It never ran: refused by the person or the policy, or skipped.
    Refused,
    /// Stopped by Ctrl-C or its time limit while it ran.
    Cancelled,
}

impl ToolStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            ToolStatus::Ok => "ok",
            ToolStatus::Error => "error",
            ToolStatus::Refused => "refused",
            ToolStatus::Cancelled => "cancelled",
        }
    }
}

/// A tool name for the APIs that allow only `[A-Za-z0-9_-]` in one (OpenAI, Anthropic): an MCP
/// tool's `server.tool` goes out as `server__tool`.
pub fn dotless(name: &str) -> std::borrow::Cow<'_, str> {
    if name.contains('.') {
        name.replace('.', "__").into()
    } else {
        name.into()
    }
}

/// The name the model called, back in the client's terms (`server__tool` → `server.tool`).
pub fn dotted(name: &str) -> String {
    name.replacen("__", ".", 1)
}

/// A tool call's arguments as the model sent them, turned into the object every API takes back:
/// an object stays as it is, a string holding a JSON object is parsed (OpenAI sends arguments as
/// text), anything else (absent, null, a bare value, broken JSON) becomes an object that keeps
/// what was sent under `"_raw"`, so the tool refuses it and the model sees why.
pub fn arguments_object(value: Value) -> Value {
    match value {
        Value::Object(_) => value,
        Value::Null => Value::Object(Default::default()),
        Value::String(s) if s.trim().is_empty() => Value::Object(Default::default()),
        Value::String(s) => match serde_json::from_str::<Value>(&s) {
            Ok(v @ Value::Object(_)) => v,
            _ => serde_json::json!({ "_raw": s }),
        },
        other => serde_json::json!({ "_raw": other }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn names_without_dots_and_back() {
        assert_eq!(dotless("fs.read_file"), "fs__read_file");
        assert_eq!(dotted("fs__read_file"), "fs.read_file");
        assert_eq!(dotless("now"), "now");
        assert_eq!(dotted("read_file"), "read_file");
    }

    #[test]
    fn arguments_become_an_object_whatever_was_sent() {
        assert_eq!(arguments_object(json!({"a": 1})), json!({"a": 1}));
        assert_eq!(
            arguments_object(json!(r#"{"路径":"文件"}"#)),
            json!({"路径": "文件"})
        );
        assert_eq!(arguments_object(Value::Null), json!({}));
        assert_eq!(arguments_object(json!("  ")), json!({}));
        assert_eq!(
            arguments_object(json!("{broken")),
            json!({"_raw": "{broken"})
        );
        assert_eq!(arguments_object(json!("[1]")), json!({"_raw": "[1]"}));
        assert_eq!(arguments_object(json!(7)), json!({"_raw": 7}));
    }
}
