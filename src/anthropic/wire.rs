//! The JSON shapes of Anthropic's Messages API that the client sends and reads, and the pure
//! mapping from the client's own request (Ollama's names) to them.
//!
//! What the API requires and how it is met:
//! - `max_tokens` is required: `num_predict` when it is positive, else [`DEFAULT_MAX_TOKENS`]
//!   (Ollama's "no limit" values, -1 and -2, have no equivalent, so they get the default too).
//! - System messages are not messages here: the system prompt and any summary note go, joined by
//!   a blank line, into the top-level `system` field.
//! - `user` and `assistant` must alternate: consecutive messages of one role are sent as one
//!   message of several text blocks, and a message with nothing to send (an empty reply) is
//!   skipped first.
//! - `--think` becomes `thinking: {type: enabled, budget_tokens}` (see [`thinking_budget`]); the
//!   budget counts against `max_tokens`, which must stay above it.
//!
//! A setting with no Anthropic equivalent is refused with a message naming it, never dropped.

use std::borrow::Cow;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::conversation::{dotless, ChatRequest, Message, Role, Think};
use crate::options::Options;

/// `max_tokens` when `num_predict` does not give one. The API has no "unlimited"; 4096 is enough
/// for a long chat answer and within every current model's output limit.
pub const DEFAULT_MAX_TOKENS: u64 = 4096;

/// Thinking budgets for `--think` levels; `true` is `medium`. 1024 is the API's minimum budget.
/// `max` is the largest budget the client asks for: twice `high`.
pub const THINKING_BUDGETS: &[(&str, u64)] = &[
    ("low", 1024),
    ("medium", 4096),
    ("high", 16384),
    ("max", 32768),
];

/// Ollama option → Anthropic parameter, for the options that have one.
pub const OPTION_NAMES: &[(&str, &str)] = &[
    ("temperature", "temperature"),
    ("top_p", "top_p"),
    ("top_k", "top_k"),
    ("stop", "stop_sequences"),
    ("num_predict", "max_tokens"),
];

/// A setting that cannot be expressed in the Anthropic Messages API.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum MappingError {
    #[error("{} no equivalent in the Anthropic Messages API (it takes {}); remove {}, or use --api ollama", list_options(.0), supported_options(), if .0.len() == 1 { "it" } else { "them" })]
    Options(Vec<String>),
    #[error(
        "--think={0} is not a level the Anthropic API knows: use low, medium, high, max, true or false"
    )]
    ThinkLevel(String),
    #[error("--think={level} gives a thinking budget of {budget} tokens, which must be below max_tokens (num_predict={max_tokens}); raise num_predict or choose a lower level")]
    BudgetOverMax {
        level: String,
        budget: u64,
        max_tokens: u64,
    },
    #[error(
        "--format has no equivalent in the Anthropic Messages API; remove it, or use --api ollama"
    )]
    Format,
    #[error("--keep-alive is an Ollama setting with no equivalent in the Anthropic Messages API; remove it, or use --api ollama")]
    KeepAlive,
    #[error("option {key} must be {expected} for the Anthropic Messages API")]
    BadValue { key: String, expected: &'static str },
}

fn list_options(keys: &[String]) -> String {
    match keys {
        [one] => format!("option {one} has"),
        many => format!("options {} have", many.join(", ")),
    }
}

fn supported_options() -> String {
    OPTION_NAMES
        .iter()
        .map(|(ollama, anthropic)| {
            if ollama == anthropic {
                (*ollama).to_string()
            } else {
                format!("{ollama} as {anthropic}")
            }
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// The budget for a `--think` value; `None` when thinking is off.
pub fn thinking_budget(think: Option<&Think>) -> Result<Option<(String, u64)>, MappingError> {
    let level = match think {
        None | Some(Think::On(false)) => return Ok(None),
        Some(Think::On(true)) => "medium",
        Some(Think::Level(level)) => level.as_str(),
    };
    let level = level.trim().to_ascii_lowercase();
    match level.as_str() {
        "false" | "none" => return Ok(None),
        "true" => return Ok(Some(("medium".into(), budget_of("medium")))),
        _ => {}
    }
    THINKING_BUDGETS
        .iter()
        .find(|(name, _)| *name == level)
        .map(|&(name, budget)| Some((name.to_string(), budget)))
        .ok_or(MappingError::ThinkLevel(level))
}

fn budget_of(level: &str) -> u64 {
    THINKING_BUDGETS
        .iter()
        .find(|(name, _)| *name == level)
        .map_or(DEFAULT_MAX_TOKENS, |&(_, b)| b)
}

/// `thinking: {"type":"enabled","budget_tokens":N}`.
#[derive(Debug, PartialEq, Serialize)]
pub struct Thinking {
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub budget_tokens: u64,
}

/// The body of `POST {base}/v1/messages`. Borrows the history, so a long chat is serialised
/// without a copy (merged messages excepted).
#[derive(Debug, Serialize)]
pub struct MessagesRequest<'a> {
    pub model: &'a str,
    pub max_tokens: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub system: Option<String>,
    pub messages: Vec<WireMessage<'a>>,
    pub stream: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub temperature: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub top_p: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub top_k: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stop_sequences: Option<Vec<&'a str>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub thinking: Option<Thinking>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub tools: Vec<WireTool<'a>>,
}

/// One message: a plain string when it is one piece of text, else content blocks.
#[derive(Debug, PartialEq, Serialize)]
pub struct WireMessage<'a> {
    pub role: &'static str,
    pub content: Content<'a>,
}

#[derive(Debug, PartialEq, Serialize)]
#[serde(untagged)]
pub enum Content<'a> {
    Text(&'a str),
    Blocks(Vec<Block<'a>>),
}

/// A content block the client sends. Thinking is never sent back.
#[derive(Debug, PartialEq, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Block<'a> {
    Text {
        text: &'a str,
    },
    Image {
        source: ImageSource<'a>,
    },
    /// A call the assistant made.
    ToolUse {
        id: Cow<'a, str>,
        name: Cow<'a, str>,
        input: &'a Value,
    },
    /// The answer to a call, in a user message.
    ToolResult {
        tool_use_id: Cow<'a, str>,
        content: &'a str,
    },
}

/// `{"name","description","input_schema"}`, as transcript 28 sends it.
#[derive(Debug, PartialEq, Serialize)]
pub struct WireTool<'a> {
    pub name: Cow<'a, str>,
    pub description: &'a str,
    pub input_schema: &'a Value,
}

/// The call's id, or for a call recorded without one (an older session) one made from its
/// name, so that the call and its result still match.
fn call_id<'a>(id: Option<&'a str>, name: &str) -> Cow<'a, str> {
    match id {
        Some(id) => Cow::Borrowed(id),
        None => Cow::Owned(format!("call_{}", dotless(name))),
    }
}

#[derive(Debug, PartialEq, Serialize)]
pub struct ImageSource<'a> {
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub media_type: &'a str,
    pub data: &'a str,
}

impl<'a> MessagesRequest<'a> {
    /// The streaming request for one turn, refusing what the API cannot express.
    pub fn from_chat(req: &'a ChatRequest<'a>) -> Result<Self, MappingError> {
        let options = req.options;
        check_options(options)?;
        if req.format.is_some() {
            return Err(MappingError::Format);
        }
        if req.keep_alive.is_some() {
            return Err(MappingError::KeepAlive);
        }
        let float = |key: &str| options.get(key).and_then(Value::as_f64);
        let top_k = match options.get("top_k") {
            None => None,
            Some(v) => Some(v.as_u64().ok_or_else(|| MappingError::BadValue {
                key: "top_k".into(),
                expected: "a whole number of 0 or more",
            })?),
        };
        let asked = options
            .get("num_predict")
            .and_then(Value::as_i64)
            .and_then(|n| u64::try_from(n).ok())
            .filter(|&n| n > 0);
        let budget = thinking_budget(req.think)?;
        let max_tokens = match (asked, &budget) {
            (Some(n), Some((level, b))) if n <= *b => {
                return Err(MappingError::BudgetOverMax {
                    level: level.clone(),
                    budget: *b,
                    max_tokens: n,
                })
            }
            (Some(n), _) => n,
            // Thinking counts against max_tokens: leave the default room for the answer.
            (None, Some((_, b))) => b + DEFAULT_MAX_TOKENS,
            (None, None) => DEFAULT_MAX_TOKENS,
        };
        let (system, messages) = split_history(req.messages)?;
        Ok(MessagesRequest {
            model: req.model,
            max_tokens,
            system,
            messages,
            stream: true,
            temperature: float("temperature"),
            top_p: float("top_p"),
            top_k,
            stop_sequences: stop_sequences(options)?,
            thinking: budget.map(|(_, budget_tokens)| Thinking {
                kind: "enabled",
                budget_tokens,
            }),
            tools: req
                .tools
                .iter()
                .map(|t| WireTool {
                    name: dotless(&t.name),
                    description: &t.description,
                    input_schema: &t.parameters,
                })
                .collect(),
        })
    }
}

fn check_options(options: &Options) -> Result<(), MappingError> {
    let unsupported: Vec<String> = options
        .iter()
        .map(|(k, _)| k)
        .filter(|k| !OPTION_NAMES.iter().any(|(name, _)| name == k))
        .cloned()
        .collect();
    if unsupported.is_empty() {
        Ok(())
    } else {
        Err(MappingError::Options(unsupported))
    }
}

/// `stop` as the list Anthropic wants, whether the option holds one string or several.
fn stop_sequences(options: &Options) -> Result<Option<Vec<&str>>, MappingError> {
    let bad = || MappingError::BadValue {
        key: "stop".into(),
        expected: "text",
    };
    match options.get("stop") {
        None => Ok(None),
        Some(Value::String(s)) => Ok(Some(vec![s.as_str()])),
        Some(Value::Array(items)) => items
            .iter()
            .map(|v| v.as_str().ok_or_else(bad))
            .collect::<Result<_, _>>()
            .map(Some),
        Some(_) => Err(bad()),
    }
}

/// The history as the API takes it: system messages joined into `system`, the rest as
/// alternating `user`/`assistant` messages.
fn split_history(
    history: &[Message],
) -> Result<(Option<String>, Vec<WireMessage<'_>>), MappingError> {
    let mut system: Vec<&str> = Vec::new();
    let mut messages: Vec<WireMessage<'_>> = Vec::new();
    for m in history {
        let role = match m.role {
            Role::System => {
                if !m.content.trim().is_empty() {
                    system.push(&m.content);
                }
                continue;
            }
            // Results go back as `tool_result` blocks of a user message.
            Role::Tool | Role::User => "user",
            Role::Assistant => "assistant",
        };
        let mut blocks: Vec<Block<'_>> = m
            .images
            .iter()
            .map(|i| Block::Image {
                source: ImageSource {
                    kind: "base64",
                    media_type: &i.media_type,
                    data: i.data.as_str(),
                },
            })
            .collect();
        match &m.tool_result {
            Some(of) => blocks.push(Block::ToolResult {
                tool_use_id: call_id(of.call_id.as_deref(), &of.name),
                content: &m.content,
            }),
            None if !m.content.is_empty() => blocks.push(Block::Text { text: &m.content }),
            None => {}
        }
        blocks.extend(m.tool_calls.iter().map(|c| Block::ToolUse {
            id: call_id(c.id.as_deref(), &c.name),
            name: dotless(&c.name),
            input: &c.arguments,
        }));
        if blocks.is_empty() {
            continue; // the API refuses empty content
        }
        match messages.last_mut() {
            Some(last) if last.role == role => {
                let mut merged = into_blocks(std::mem::replace(
                    &mut last.content,
                    Content::Blocks(Vec::new()),
                ));
                merged.extend(blocks);
                last.content = Content::Blocks(merged);
            }
            _ => {
                let content = match blocks.as_slice() {
                    [Block::Text { text }] => Content::Text(text),
                    _ => Content::Blocks(blocks),
                };
                messages.push(WireMessage { role, content });
            }
        }
    }
    let system = (!system.is_empty()).then(|| system.join("\n\n"));
    Ok((system, messages))
}

fn into_blocks(content: Content<'_>) -> Vec<Block<'_>> {
    match content {
        Content::Text(text) => vec![Block::Text { text }],
        Content::Blocks(blocks) => blocks,
    }
}

// ============================================================================================
// What the server sends
// ============================================================================================

/// One event of a reply stream, read flat: every event type's fields are optional here, and the
/// decoder picks what `kind` calls for. Strings borrow from the event when they hold no escapes.
#[derive(Debug, Deserialize)]
pub struct StreamEvent<'a> {
    #[serde(rename = "type", borrow)]
    pub kind: Cow<'a, str>,
    /// `message_start`: the message so far, with the prompt's token count.
    #[serde(default)]
    pub message: Option<MessageStart>,
    /// `content_block_delta` (text, thinking, signature…) or `message_delta` (`stop_reason`).
    #[serde(default, borrow)]
    pub delta: Option<Delta<'a>>,
    /// `message_delta`: the counts so far.
    #[serde(default)]
    pub usage: Option<Usage>,
    /// `error`: `{"type":…, "message":…}`.
    #[serde(default)]
    pub error: Option<ErrorBody>,
    /// `content_block_start|delta|stop`: which block.
    #[serde(default)]
    pub index: Option<usize>,
    /// `content_block_start`: the block's kind and, for `tool_use`, its id and name.
    #[serde(default)]
    pub content_block: Option<BlockStart>,
}

/// The start of a content block.
#[derive(Debug, Default, Deserialize)]
pub struct BlockStart {
    #[serde(rename = "type", default)]
    pub kind: String,
    #[serde(default)]
    pub id: Option<String>,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub input: Option<Value>,
}

#[derive(Debug, Default, Deserialize)]
pub struct MessageStart {
    #[serde(default)]
    pub usage: Option<Usage>,
}

#[derive(Debug, Default, Deserialize)]
pub struct Delta<'a> {
    #[serde(rename = "type", default, borrow, deserialize_with = "opt_cow")]
    pub kind: Option<Cow<'a, str>>,
    #[serde(default, borrow, deserialize_with = "opt_cow")]
    pub text: Option<Cow<'a, str>>,
    #[serde(default, borrow, deserialize_with = "opt_cow")]
    pub thinking: Option<Cow<'a, str>>,
    /// `input_json_delta`: the next piece of a call's arguments.
    #[serde(default, borrow, deserialize_with = "opt_cow")]
    pub partial_json: Option<Cow<'a, str>>,
    #[serde(default)]
    pub stop_reason: Option<String>,
}

/// An optional string that borrows from the input when it can, so a token costs no allocation.
fn opt_cow<'de: 'a, 'a, D>(d: D) -> Result<Option<Cow<'a, str>>, D::Error>
where
    D: serde::Deserializer<'de>,
{
    #[derive(Deserialize)]
    struct Borrowed<'a>(#[serde(borrow)] Cow<'a, str>);
    Ok(Option::<Borrowed<'a>>::deserialize(d)?.map(|b| b.0))
}

/// Token counts. The prompt is `input_tokens` plus what was written to or read from the prompt
/// cache, which Anthropic counts apart.
#[derive(Debug, Clone, Copy, Default, PartialEq, Deserialize)]
pub struct Usage {
    #[serde(default)]
    pub input_tokens: Option<u64>,
    #[serde(default)]
    pub output_tokens: Option<u64>,
    #[serde(default)]
    pub cache_creation_input_tokens: Option<u64>,
    #[serde(default)]
    pub cache_read_input_tokens: Option<u64>,
}

impl Usage {
    /// All the prompt's tokens, cached or not; `None` when the input count is missing.
    pub fn prompt_tokens(&self) -> Option<u64> {
        let cached = self
            .cache_creation_input_tokens
            .unwrap_or(0)
            .saturating_add(self.cache_read_input_tokens.unwrap_or(0));
        self.input_tokens.map(|n| n.saturating_add(cached))
    }
}

/// `{"type":"error","error":{"type":…,"message":…}}`'s inner part.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
pub struct ErrorBody {
    #[serde(rename = "type", default)]
    pub kind: Option<String>,
    #[serde(default)]
    pub message: Option<String>,
}

/// A whole (non-streamed) message.
#[derive(Debug, Deserialize)]
pub struct WholeMessage {
    #[serde(rename = "type", default)]
    pub kind: Option<String>,
    #[serde(default)]
    pub content: Vec<WholeBlock>,
    #[serde(default)]
    pub stop_reason: Option<String>,
    #[serde(default)]
    pub usage: Option<Usage>,
}

#[derive(Debug, Deserialize)]
pub struct WholeBlock {
    #[serde(rename = "type", default)]
    pub kind: String,
    #[serde(default)]
    pub text: Option<String>,
    #[serde(default)]
    pub thinking: Option<String>,
    #[serde(default)]
    pub id: Option<String>,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub input: Option<Value>,
}

/// `GET {base}/v1/models`: Anthropic's list and OpenAI's (Ollama's) both have `data[].id`.
#[derive(Debug, Deserialize)]
pub struct ModelList {
    #[serde(default)]
    pub data: Vec<ModelEntry>,
}

#[derive(Debug, Deserialize)]
pub struct ModelEntry {
    pub id: String,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::conversation::{summary_note, Image};
    use serde_json::json;

    fn options(pairs: &[&str]) -> Options {
        let mut o = Options::default();
        for p in pairs {
            o.set_pair(p).unwrap();
        }
        o
    }

    fn body(messages: &[Message], o: &Options, think: Option<&Think>) -> Value {
        let chat = ChatRequest {
            think,
            ..ChatRequest::new("m", messages, o)
        };
        serde_json::to_value(MessagesRequest::from_chat(&chat).unwrap()).unwrap()
    }

    fn refusal(o: &Options, think: Option<&Think>) -> MappingError {
        let chat = ChatRequest {
            think,
            ..ChatRequest::new("m", &[], o)
        };
        MessagesRequest::from_chat(&chat).unwrap_err()
    }

    #[test]
    fn request_matches_the_recorded_shape() {
        let messages = vec![
            Message::new(Role::System, "You are terse."),
            Message::new(Role::User, "Name a colour."),
        ];
        let o = options(&["num_predict=12"]);
        let chat = ChatRequest::new("tiny", &messages, &o);
        let req = MessagesRequest::from_chat(&chat).unwrap();
        // Byte for byte the request of recording 28_v1_messages_stream.
        assert_eq!(
            serde_json::to_string(&req).unwrap(),
            r#"{"model":"tiny","max_tokens":12,"system":"You are terse.","messages":[{"role":"user","content":"Name a colour."}],"stream":true}"#
        );
    }

    #[test]
    fn max_tokens_defaults_when_num_predict_gives_none() {
        let m = [Message::new(Role::User, "hi")];
        for o in [
            Options::default(),
            options(&["num_predict=-1"]),
            options(&["num_predict=-2"]),
            options(&["num_predict=0"]),
        ] {
            assert_eq!(body(&m, &o, None)["max_tokens"], DEFAULT_MAX_TOKENS);
        }
    }

    #[test]
    fn options_map_to_their_anthropic_names() {
        let o = options(&[
            "temperature=0.5",
            "top_p=0.9",
            "top_k=40",
            "stop=<end>",
            "stop=User:",
            "num_predict=99",
        ]);
        let b = body(&[Message::new(Role::User, "hi")], &o, None);
        assert_eq!(b["temperature"], 0.5);
        assert_eq!(b["top_p"], 0.9);
        assert_eq!(b["top_k"], 40);
        assert_eq!(b["stop_sequences"], json!(["<end>", "User:"]));
        assert_eq!(b["max_tokens"], 99);
        let one = body(&[], &options(&["stop=END"]), None);
        assert_eq!(one["stop_sequences"], json!(["END"]));
    }

    #[test]
    fn options_without_an_equivalent_are_refused_by_name() {
        let e = refusal(&options(&["num_ctx=8192", "seed=3", "top_k=4"]), None);
        assert_eq!(
            e,
            MappingError::Options(vec!["num_ctx".into(), "seed".into()])
        );
        let text = e.to_string();
        assert!(
            text.starts_with("options num_ctx, seed have no equivalent in the Anthropic"),
            "{text}"
        );
        assert!(text.contains("stop as stop_sequences"), "{text}");
        assert!(text.contains("--api ollama"), "{text}");
        let one = refusal(&options(&["repeat_penalty=1.1"]), None).to_string();
        assert!(one.starts_with("option repeat_penalty has no"), "{one}");
        // The option parser refuses a negative top_k; one from elsewhere (a session file) is
        // still refused here.
        let negative: Options = serde_json::from_value(json!({"top_k": -1})).unwrap();
        assert!(matches!(
            refusal(&negative, None),
            MappingError::BadValue { .. }
        ));
    }

    #[test]
    fn format_and_keep_alive_are_refused() {
        let o = Options::default();
        let f = json!("json");
        let chat = ChatRequest {
            format: Some(&f),
            ..ChatRequest::new("m", &[], &o)
        };
        assert_eq!(
            MessagesRequest::from_chat(&chat).unwrap_err(),
            MappingError::Format
        );
        let k = json!("5m");
        let chat = ChatRequest {
            keep_alive: Some(&k),
            tools: &[],
            ..ChatRequest::new("m", &[], &o)
        };
        assert_eq!(
            MessagesRequest::from_chat(&chat).unwrap_err(),
            MappingError::KeepAlive
        );
    }

    #[test]
    fn think_levels_become_budgets_below_max_tokens() {
        let m = [Message::new(Role::User, "hi")];
        let o = Options::default();
        assert!(body(&m, &o, Some(&Think::On(false)))
            .get("thinking")
            .is_none());
        assert!(body(&m, &o, Some(&Think::Level("false".into())))
            .get("thinking")
            .is_none());
        let on = body(&m, &o, Some(&Think::On(true)));
        assert_eq!(
            on["thinking"],
            json!({"type":"enabled","budget_tokens":4096})
        );
        assert_eq!(on["max_tokens"], 4096 + DEFAULT_MAX_TOKENS);
        for (level, budget) in [
            ("low", 1024),
            ("medium", 4096),
            ("high", 16384),
            ("max", 32768),
        ] {
            let b = body(&m, &o, Some(&Think::Level(level.into())));
            assert_eq!(b["thinking"]["budget_tokens"], budget, "{level}");
            assert!(b["max_tokens"].as_u64().unwrap() > budget);
        }
        // The recorded request: budget 1024 with max_tokens set above it.
        let b = body(
            &m,
            &options(&["num_predict=2000"]),
            Some(&Think::Level("low".into())),
        );
        assert_eq!(b["max_tokens"], 2000);
        let e = refusal(
            &options(&["num_predict=24"]),
            Some(&Think::Level("low".into())),
        );
        assert!(
            e.to_string()
                .contains("must be below max_tokens (num_predict=24)"),
            "{e}"
        );
        let e = refusal(&o, Some(&Think::Level("most".into())));
        assert_eq!(e, MappingError::ThinkLevel("most".into()));
    }

    #[test]
    fn system_messages_go_top_level_joined_never_in_messages() {
        let messages = vec![
            Message::new(Role::System, "You are terse."),
            Message::new(Role::System, summary_note("we spoke of tea")),
            Message::new(Role::User, "and now?"),
        ];
        let b = body(&messages, &Options::default(), None);
        assert_eq!(
            b["system"],
            format!("You are terse.\n\n{}", summary_note("we spoke of tea"))
        );
        assert_eq!(b["messages"], json!([{"role":"user","content":"and now?"}]));
        let none = body(&[Message::new(Role::User, "q")], &Options::default(), None);
        assert!(none.get("system").is_none());
    }

    #[test]
    fn same_role_messages_are_merged_and_empty_ones_skipped() {
        let mut thought = Message::new(Role::Assistant, "a1");
        thought.thinking = Some("hmm".into());
        let messages = vec![
            Message::new(Role::User, "q1"),
            Message::new(Role::User, "q1 again"),
            thought,
            Message::new(Role::Assistant, ""),
            Message::new(Role::User, "老師"),
            Message::new(Role::System, "late note"),
            Message::new(Role::User, "q3"),
        ];
        let b = body(&messages, &Options::default(), None);
        assert_eq!(
            b["messages"],
            json!([
                {"role":"user","content":[{"type":"text","text":"q1"},{"type":"text","text":"q1 again"}]},
                {"role":"assistant","content":"a1"},
                {"role":"user","content":[{"type":"text","text":"老師"},{"type":"text","text":"q3"}]},
            ])
        );
        assert_eq!(b["system"], "late note");
    }

    #[test]
    fn images_become_base64_blocks_before_the_text() {
        let mut m = Message::new(Role::User, "What is this?");
        m.images.push(Image::from_bytes(
            "a.png",
            "image/png",
            b"\x89PNG\r\n\x1a\n",
        ));
        let b = body(&[m], &Options::default(), None);
        assert_eq!(
            b["messages"][0]["content"],
            json!([
                {"type":"image","source":{"type":"base64","media_type":"image/png","data":"iVBORw0KGgo="}},
                {"type":"text","text":"What is this?"}
            ])
        );
    }

    #[test]
    fn calls_and_results_become_tool_use_and_tool_result_blocks() {
        use crate::conversation::{ToolCall, ToolResultOf, ToolSpec};
        let o = Options::default();
        let mut asked = Message::new(Role::Assistant, "我看看");
        asked.tool_calls = vec![
            ToolCall {
                id: Some("toolu_1".into()),
                name: "t.echo".into(),
                arguments: serde_json::json!({"text": "你好"}),
            },
            ToolCall {
                id: Some("toolu_2".into()),
                name: "now".into(),
                arguments: serde_json::json!({}),
            },
        ];
        let result = |id: &str, name: &str, text: &str| {
            let mut m = Message::new(Role::Tool, text);
            m.tool_result = Some(ToolResultOf {
                name: name.into(),
                call_id: Some(id.into()),
            });
            m
        };
        let messages = [
            Message::new(Role::User, "q"),
            asked,
            result("toolu_1", "t.echo", "echo: 你好"),
            result("toolu_2", "now", "noon"),
        ];
        let tools = [ToolSpec {
            name: "t.echo".into(),
            description: "Echo".into(),
            parameters: serde_json::json!({"type": "object"}),
        }];
        let chat = ChatRequest {
            tools: &tools,
            ..ChatRequest::new("m", &messages, &o)
        };
        let body = serde_json::to_value(MessagesRequest::from_chat(&chat).unwrap()).unwrap();
        assert_eq!(
            body["tools"],
            serde_json::json!([{"name":"t__echo","description":"Echo","input_schema":{"type":"object"}}])
        );
        assert_eq!(
            body["messages"][1],
            serde_json::json!({"role":"assistant","content":[
                {"type":"text","text":"我看看"},
                {"type":"tool_use","id":"toolu_1","name":"t__echo","input":{"text":"你好"}},
                {"type":"tool_use","id":"toolu_2","name":"now","input":{}}]})
        );
        assert_eq!(
            body["messages"][2],
            serde_json::json!({"role":"user","content":[
                {"type":"tool_result","tool_use_id":"toolu_1","content":"echo: 你好"},
                {"type":"tool_result","tool_use_id":"toolu_2","content":"noon"}]}),
            "the results of one reply go back in one user message"
        );
        assert_eq!(body["messages"].as_array().unwrap().len(), 3);
    }

    #[test]
    fn events_read_flat_and_borrow() {
        let e: StreamEvent = serde_json::from_str(
            r#"{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"You"}}"#,
        )
        .unwrap();
        assert_eq!(e.kind, "content_block_delta");
        let d = e.delta.unwrap();
        assert!(matches!(d.text, Some(Cow::Borrowed("You"))));
        let e: StreamEvent = serde_json::from_str(
            r#"{"type":"message_delta","delta":{"stop_reason":"max_tokens"},"usage":{"input_tokens":18,"output_tokens":12}}"#,
        )
        .unwrap();
        assert_eq!(e.delta.unwrap().stop_reason.as_deref(), Some("max_tokens"));
        assert_eq!(e.usage.unwrap().output_tokens, Some(12));
        let cached = Usage {
            input_tokens: Some(5),
            cache_read_input_tokens: Some(100),
            cache_creation_input_tokens: Some(7),
            output_tokens: None,
        };
        assert_eq!(cached.prompt_tokens(), Some(112));
        assert_eq!(Usage::default().prompt_tokens(), None);
    }

    #[test]
    fn absurd_cache_counts_saturate_instead_of_wrapping() {
        let absurd = Usage {
            input_tokens: Some(u64::MAX - 1),
            cache_read_input_tokens: Some(u64::MAX),
            cache_creation_input_tokens: Some(u64::MAX),
            output_tokens: Some(u64::MAX),
        };
        assert_eq!(absurd.prompt_tokens(), Some(u64::MAX));
    }
}
