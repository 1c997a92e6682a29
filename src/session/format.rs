//! The session file format: one JSON record per line, a header first, then events. Types plus a pure
//! line parser; no I/O.
//!
//! Version 2 (version 1 had no `tool` records). Fields are only ever added within a version; a new
//! record kind or a change of meaning bumps `version`, and an older client refuses a newer file
//! rather than misreading it.

use chrono::{DateTime, SecondsFormat, Utc};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::Value;
use uuid::Uuid;

use crate::conversation::{
    Approval, Image, Message, Role, ToolCall, ToolResultOf, ToolStatus, TurnStatus,
};
use crate::error::Secrets;
use crate::options::Options;
use crate::turn::{Ending, TurnOutcome};

/// The format version this client writes and the newest it reads.
pub const VERSION: u32 = 2;

/// The `kind` of the first line.
const HEADER_KIND: &str = "session";

/// The first line of every session file: what the session started with.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Header {
    /// Always `"session"`; how a reader knows the file is one.
    pub kind: HeaderKind,
    pub version: u32,
    pub id: Uuid,
    #[serde(with = "timestamp")]
    pub created: DateTime<Utc>,
    pub model: String,
    pub host: String,
    #[serde(default)]
    pub system: Option<String>,
    #[serde(default)]
    pub options: Options,
    /// The session this one re-ran (`replay --rerun`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rerun_of: Option<Uuid>,
    /// The role the session started with (`--role NAME`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role: Option<String>,
    /// Which program wrote the file, for bug reports.
    #[serde(default)]
    pub client: String,
    /// The session this one branched from (`/fork`, `--fork`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parent: Option<Parent>,
}

/// Where a branch came from: the parent session and the turn it was taken at. The branch's file
/// starts with a copy of the parent's first `events` events, so it loads on its own (the
/// parent may be deleted) into exactly the history the parent had at that turn.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Parent {
    pub id: Uuid,
    pub turn: usize,
    pub events: usize,
}

/// The marker value of a header's `kind`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum HeaderKind {
    Session,
}

impl Header {
    pub fn new(model: &str, host: &str, system: Option<&str>, options: &Options) -> Self {
        Header {
            kind: HeaderKind::Session,
            version: VERSION,
            id: Uuid::new_v4(),
            created: Utc::now(),
            model: model.to_string(),
            host: host.to_string(),
            system: system.map(str::to_string),
            options: options.clone(),
            rerun_of: None,
            parent: None,
            role: None,
            client: concat!("ollama-chat ", env!("CARGO_PKG_VERSION")).to_string(),
        }
    }
}

/// Every line after the header: something that happened, and when.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Event {
    #[serde(with = "timestamp")]
    pub at: DateTime<Utc>,
    #[serde(flatten)]
    pub change: Change,
}

impl Event {
    pub fn now(change: Change) -> Self {
        Event {
            at: Utc::now(),
            change,
        }
    }
}

/// What an event did. Each kind is documented in the README.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Change {
    /// The user sent a message (written before the request goes out). Its images are named here
    /// (name, media type, size, sha256); their bytes are kept once each in the blob folder
    /// beside the session.
    User {
        content: String,
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        images: Vec<Image>,
    },
    /// The reply to the preceding user message, whatever became of it.
    Assistant(Reply),
    /// The history was emptied; the system prompt stays.
    Clear,
    /// Options and/or the system prompt changed. `options` is the whole new set; `system: null`
    /// removes the system prompt, an absent `system` leaves it alone.
    Set {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        options: Option<Options>,
        #[serde(
            default,
            skip_serializing_if = "Option::is_none",
            deserialize_with = "present"
        )]
        system: Option<Option<String>>,
    },
    /// Later turns go to another model.
    Model { model: String },
    /// The last exchange (the last user message and what followed it) left the history.
    Undo,
    /// Like `undo`, because the same message is about to be sent again (a `user` record follows).
    Retry,
    /// The session was given a name (`/save NAME`).
    Name { name: String },
    /// A saved role was put to use (`/role NAME`); its prompt and options follow as `set`.
    Role { role: String },
    /// Messages left the history to fit the context window: `dropped` are indices into the history
    /// as it was (0 = the first message, the system prompt if there is one). `summary`, when
    /// present, takes the place of the first dropped message as a system message.
    Context {
        dropped: Vec<usize>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        summary: Option<String>,
    },
    /// One of the last reply's tool calls was answered: who allowed it, how it went, and the
    /// result the model was given.
    Tool(ToolRecord),
}

/// A tool call's answer as the session keeps it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ToolRecord {
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub call_id: Option<String>,
    pub approval: Approval,
    pub status: ToolStatus,
    /// What the model was sent back (the tool's output, or why it did not run).
    pub content: String,
    /// Seconds the tool ran.
    #[serde(default)]
    pub duration: f64,
}

impl ToolRecord {
    /// The result as the tool message of the history.
    pub fn message(&self) -> Message {
        let mut m = Message::new(Role::Tool, self.content.clone());
        m.tool_result = Some(ToolResultOf {
            name: self.name.clone(),
            call_id: self.call_id.clone(),
        });
        m
    }
}

/// A reply and how it went: the same numbers as the turn log.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Reply {
    pub content: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub thinking: String,
    pub status: TurnStatus,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// Seconds from request sent to the final chunk (or to the end of a failed turn).
    pub latency: f64,
    /// Seconds from request sent to the first reply text.
    #[serde(default)]
    pub ttft: Option<f64>,
    #[serde(default)]
    pub prompt_tokens: Option<u64>,
    #[serde(default)]
    pub completion_tokens: Option<u64>,
    #[serde(default)]
    pub tokens_per_second: Option<f64>,
    #[serde(default)]
    pub done_reason: Option<String>,
    /// The functions the reply asked to call; `tool` records with their answers follow.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tool_calls: Vec<ToolCall>,
}

impl Reply {
    /// A finished reply with no numbers but a 0.1 s latency: what tests record.
    #[cfg(test)]
    pub fn ok(content: &str, thinking: &str) -> Self {
        Reply {
            content: content.into(),
            thinking: thinking.into(),
            status: TurnStatus::Ok,
            error: None,
            latency: 0.1,
            ttft: None,
            prompt_tokens: None,
            completion_tokens: None,
            tokens_per_second: None,
            done_reason: None,
            tool_calls: Vec::new(),
        }
    }

    pub fn from_outcome(o: &TurnOutcome) -> Self {
        let stats = o.stats.as_ref();
        let round = |x: f64| (x * 1000.0).round() / 1000.0;
        Reply {
            content: o.content.clone(),
            thinking: o.thinking.clone(),
            status: o.status(),
            error: match &o.ending {
                Ending::Done => None,
                Ending::Cancelled(r) => Some(r.describe().to_string()),
                Ending::Failed(e) => Some(e.to_string()),
            },
            latency: round(o.elapsed.as_secs_f64()),
            ttft: o.ttft.map(|d| round(d.as_secs_f64())),
            // Ollama omits a zero count; once the final chunk is here, missing means 0.
            prompt_tokens: stats.map(|s| s.prompt_eval_count.unwrap_or(0)),
            completion_tokens: stats.map(|s| s.eval_count.unwrap_or(0)),
            tokens_per_second: stats.and_then(|s| s.eval_rate()).map(round),
            done_reason: stats.and_then(|s| s.done_reason.clone()),
            tool_calls: o.tool_calls.clone(),
        }
    }

    /// The last line of defence before the reply is recorded: the secrets the client sends
    /// blanked from the error, whatever path it came by.
    pub fn without_secrets(mut self, secrets: &Secrets) -> Self {
        if let Some(e) = &mut self.error {
            *e = secrets.scrub(e).into_owned();
        }
        self
    }

    /// The reply as a message of the history: with its tool calls, and then its thinking, which
    /// some APIs want back with the calls.
    pub fn message(&self) -> Message {
        let mut m = Message::new(Role::Assistant, self.content.clone());
        if !self.tool_calls.is_empty() {
            m.tool_calls = self.tool_calls.clone();
            m.thinking = Some(self.thinking.clone()).filter(|t| !t.is_empty());
        }
        m
    }

    /// A reply that never started leaves no trace in the history.
    pub fn joins_history(&self) -> bool {
        self.status == TurnStatus::Ok || !self.content.is_empty()
    }
}

/// One line as written: the header or an event.
pub fn header_line(h: &Header) -> String {
    serde_json::to_string(h).expect("a header always serialises")
}

pub fn event_line(e: &Event) -> String {
    match bounded(&e.change, MAX_TEXT) {
        None => serde_json::to_string(e),
        Some(change) => serde_json::to_string(&Event { at: e.at, change }),
    }
    .expect("an event always serialises")
}

/// The most bytes of one text (a message, a reply, its thinking, a summary) a record keeps, so
/// that one enormous reply cannot make the file too large to open again (files are read up to
/// 256 MiB). A cut text ends with a line saying so; what the chat holds in memory is not cut.
pub const MAX_TEXT: usize = 16 * 1024 * 1024;

/// `change` with each text over `max` bytes cut at a character and marked, or `None` when every
/// text fits (the usual case: nothing is copied).
fn bounded(change: &Change, max: usize) -> Option<Change> {
    let long = |t: &str| t.len() > max;
    let fits = match change {
        Change::User { content, .. } => !long(content),
        Change::Assistant(r) => {
            !long(&r.content) && !long(&r.thinking) && !r.error.as_deref().is_some_and(long)
        }
        Change::Set {
            system: Some(Some(s)),
            ..
        } => !long(s),
        Change::Context {
            summary: Some(s), ..
        } => !long(s),
        Change::Tool(t) => !long(&t.content),
        _ => true,
    };
    if fits {
        return None;
    }
    let cut = |t: &mut String| {
        if t.len() > max {
            let whole = t.len();
            let mut end = max;
            while !t.is_char_boundary(end) {
                end -= 1;
            }
            t.truncate(end);
            t.push_str(&format!(
                "\n[cut here: the session file keeps {} of this text's {whole} bytes]",
                crate::error::size_text(max)
            ));
        }
    };
    let mut c = change.clone();
    match &mut c {
        Change::User { content, .. } => cut(content),
        Change::Assistant(r) => {
            cut(&mut r.content);
            cut(&mut r.thinking);
            if let Some(e) = &mut r.error {
                cut(e);
            }
        }
        Change::Set {
            system: Some(Some(s)),
            ..
        }
        | Change::Context {
            summary: Some(s), ..
        } => cut(s),
        Change::Tool(t) => cut(&mut t.content),
        _ => {}
    }
    Some(c)
}

/// Why one line could not be read. The loader adds the file and line number.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum LineError {
    #[error("not an ollama-chat session file ({0})")]
    NotASession(String),
    #[error("session format version {0} is newer than this ollama-chat reads (up to {VERSION}); upgrade ollama-chat to open it")]
    Version(u64),
    #[error("corrupt record: {0}")]
    Bad(String),
}

/// Parses the first line of a file.
pub fn parse_header(line: &str) -> Result<Header, LineError> {
    let value: Value = serde_json::from_str(line).map_err(|_| {
        LineError::NotASession("the first line is not a JSON session header".into())
    })?;
    let Some(obj) = value.as_object() else {
        return Err(LineError::NotASession(
            "the first line is not a JSON object".into(),
        ));
    };
    if obj.get("kind").and_then(Value::as_str) != Some(HEADER_KIND) {
        let what = if obj.contains_key("log_version") {
            "it looks like a turn log"
        } else {
            "the first line is not a session header"
        };
        return Err(LineError::NotASession(what.into()));
    }
    match obj.get("version").and_then(Value::as_u64) {
        Some(v) if v > u64::from(VERSION) => return Err(LineError::Version(v)),
        Some(0) | None => return Err(LineError::Bad("the header has no valid version".into())),
        Some(_) => {}
    }
    serde_json::from_value(value).map_err(|e| LineError::Bad(format!("bad header: {e}")))
}

/// Parses any line after the first.
pub fn parse_event(line: &str) -> Result<Event, LineError> {
    let value: Value =
        serde_json::from_str(line).map_err(|e| LineError::Bad(format!("not JSON: {e}")))?;
    if value.get("kind").and_then(Value::as_str) == Some(HEADER_KIND) {
        return Err(LineError::Bad("a second session header".into()));
    }
    serde_json::from_value(value).map_err(|e| LineError::Bad(e.to_string()))
}

/// `"system": null` means "removed", which plain `Option` cannot tell from "absent".
fn present<'de, D, T>(d: D) -> Result<Option<Option<T>>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    Option::<T>::deserialize(d).map(Some)
}

/// Timestamps as the turn log writes them: UTC, RFC 3339, milliseconds.
pub mod timestamp {
    use super::*;

    pub fn serialize<S: Serializer>(t: &DateTime<Utc>, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&format(t))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<DateTime<Utc>, D::Error> {
        let s = String::deserialize(d)?;
        DateTime::parse_from_rfc3339(&s)
            .map(|t| t.with_timezone(&Utc))
            .map_err(serde::de::Error::custom)
    }

    pub fn format(t: &DateTime<Utc>) -> String {
        t.to_rfc3339_opts(SecondsFormat::Millis, true)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_texts_are_cut_in_the_record_and_say_so() {
        let user = Change::User {
            content: "好".repeat(5),
            images: Vec::new(),
        };
        let Some(Change::User { content, .. }) = bounded(&user, 7) else {
            panic!("a 15-byte text over a 7-byte limit is cut");
        };
        assert_eq!(
            content,
            "好好\n[cut here: the session file keeps 7 bytes of this text's 15 bytes]"
        );
        assert_eq!(bounded(&user, 15), None, "a text that fits is not copied");
        let summary = Change::Context {
            dropped: vec![1],
            summary: Some("x".repeat(20)),
        };
        let Some(Change::Context {
            summary: Some(s), ..
        }) = bounded(&summary, 10)
        else {
            panic!("the summary is cut");
        };
        assert!(s.starts_with("xxxxxxxxxx\n[cut here"));
    }

    fn at() -> DateTime<Utc> {
        DateTime::parse_from_rfc3339("2026-11-29T01:02:03.456Z")
            .unwrap()
            .with_timezone(&Utc)
    }

    fn ev(change: Change) -> Event {
        Event { at: at(), change }
    }

    #[test]
    fn header_round_trip_and_shape() {
        let mut o = Options::default();
        o.set("temperature", "0.3").unwrap();
        let mut h = Header::new("tiny:latest", "http://h:1", Some("你是老師"), &o);
        h.created = at();
        h.id = Uuid::nil();
        let line = header_line(&h);
        assert!(line.starts_with(r#"{"kind":"session","version":2,"id":"00000000-"#));
        assert!(line.contains(r#""created":"2026-11-29T01:02:03.456Z""#));
        assert!(line.contains("你是老師"), "readable, not escaped: {line}");
        assert_eq!(parse_header(&line).unwrap(), h);
    }

    #[test]
    fn every_event_kind_round_trips() {
        let mut o = Options::default();
        o.set("seed", "7").unwrap();
        let reply = Reply {
            content: "光合作用".into(),
            thinking: "hmm".into(),
            status: TurnStatus::Cancelled,
            error: Some("interrupted by the user".into()),
            latency: 1.5,
            ttft: Some(0.12),
            prompt_tokens: Some(26),
            completion_tokens: Some(3),
            tokens_per_second: Some(280.5),
            done_reason: Some("stop".into()),
            tool_calls: Vec::new(),
        };
        let changes = vec![
            Change::User {
                content: "你好\nhi".into(),
                images: Vec::new(),
            },
            Change::Assistant(reply),
            Change::Clear,
            Change::Set {
                options: Some(o),
                system: None,
            },
            Change::Set {
                options: None,
                system: Some(None),
            },
            Change::Set {
                options: None,
                system: Some(Some("be brief".into())),
            },
            Change::Model {
                model: "qwen3".into(),
            },
            Change::Undo,
            Change::Retry,
            Change::Name {
                name: "老師".into(),
            },
            Change::Context {
                dropped: vec![1, 2],
                summary: Some("earlier: greetings".into()),
            },
        ];
        for c in changes {
            let line = event_line(&ev(c.clone()));
            assert!(!line.contains('\n'));
            assert_eq!(parse_event(&line).unwrap().change, c, "{line}");
        }
    }

    #[test]
    fn event_lines_read_well() {
        assert_eq!(
            event_line(&ev(Change::Clear)),
            r#"{"at":"2026-11-29T01:02:03.456Z","kind":"clear"}"#
        );
        assert_eq!(
            event_line(&ev(Change::Set {
                options: None,
                system: Some(None)
            })),
            r#"{"at":"2026-11-29T01:02:03.456Z","kind":"set","system":null}"#
        );
    }

    #[test]
    fn malformed_headers() {
        let not = |l: &str| matches!(parse_header(l), Err(LineError::NotASession(_)));
        assert!(not(""));
        assert!(not("hello"));
        assert!(not("[1,2]"));
        assert!(not(
            r#"{"kind":"user","at":"2026-11-29T01:02:03Z","content":"x"}"#
        ));
        let log = r#"{"log_version":1,"timestamp":"x"}"#;
        assert!(parse_header(log)
            .unwrap_err()
            .to_string()
            .contains("turn log"));
        assert_eq!(
            parse_header(r#"{"kind":"session","version":3}"#),
            Err(LineError::Version(3))
        );
        assert!(matches!(
            parse_header(r#"{"kind":"session","version":"1"}"#),
            Err(LineError::Bad(_))
        ));
        assert!(matches!(
            parse_header(r#"{"kind":"session","version":1,"id":"nope"}"#),
            Err(LineError::Bad(_))
        ));
    }

    #[test]
    fn malformed_events() {
        let bad = |l: &str| matches!(parse_event(l), Err(LineError::Bad(_)));
        assert!(bad(r#"{"at":"2026-11-29T01:02:03Z","kind":"user""#)); // torn
        assert!(bad(r#"{"at":"2026-11-29T01:02:03Z","kind":"dance"}"#));
        assert!(bad(r#"{"kind":"clear"}"#)); // no time
        assert!(bad(r#"{"at":"yesterday","kind":"clear"}"#));
        assert!(bad(r#"{"at":"2026-11-29T01:02:03Z","kind":"user"}"#)); // no content
        assert!(bad(
            r#"{"at":"2026-11-29T01:02:03Z","kind":"assistant","content":"x"}"#
        ));
        assert!(bad(
            r#"{"at":"2026-11-29T01:02:03Z","kind":"set","options":{"temperature":"hot"},"system":3}"#
        ));
        assert!(bad(
            r#"{"kind":"session","version":1,"id":"00000000-0000-0000-0000-000000000000"}"#
        ));
        assert!(bad("42"));
    }

    #[test]
    fn fields_added_later_are_ignored() {
        let l = r#"{"at":"2026-11-29T01:02:03Z","kind":"user","content":"x","lang":"zh"}"#;
        assert_eq!(
            parse_event(l).unwrap().change,
            Change::User {
                content: "x".into(),
                images: Vec::new(),
            }
        );
    }

    #[test]
    fn a_reply_that_never_started_leaves_the_history() {
        let mut r = Reply {
            status: TurnStatus::Error,
            error: Some("x".into()),
            ..Reply::ok("", "")
        };
        assert!(!r.joins_history());
        r.content = "partial".into();
        assert!(r.joins_history());
        r.content.clear();
        r.status = TurnStatus::Ok;
        assert!(r.joins_history());
    }
}
