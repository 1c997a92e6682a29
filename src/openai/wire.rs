//! The JSON shapes of the OpenAI chat-completions API that the client sends and reads, and the pure
//! mapping from the client's own request (Ollama's names) to them.
//!
//! A setting with no OpenAI equivalent is refused with a message naming it, never dropped: a user
//! who asked for `num_ctx=8192` must not get a silently different answer.

use std::borrow::Cow;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::conversation::{dotless, ChatRequest, Image, Message, Think, ToolSpec};
use crate::options::Options;

/// Ollama option → OpenAI parameter, for the options that have one.
pub const OPTION_NAMES: &[(&str, &str)] = &[
    ("temperature", "temperature"),
    ("top_p", "top_p"),
    ("num_predict", "max_tokens"),
    ("seed", "seed"),
    ("stop", "stop"),
    ("presence_penalty", "presence_penalty"),
    ("frequency_penalty", "frequency_penalty"),
];

/// A setting that cannot be expressed in the OpenAI chat API.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum MappingError {
    #[error("{} no equivalent in the OpenAI chat API (it takes {}); remove {}, or use --api ollama", list_options(.0), supported_options(), if .0.len() == 1 { "it" } else { "them" })]
    Options(Vec<String>),
    #[error("--think needs an effort level with --api openai: low, medium, high, or false (sent as reasoning_effort)")]
    ThinkNeedsLevel,
    #[error("--keep-alive is an Ollama setting with no equivalent in the OpenAI chat API; remove it, or use --api ollama")]
    KeepAlive,
    #[error("option {key} must be {expected} for the OpenAI chat API")]
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
        .map(|(ollama, openai)| {
            if ollama == openai {
                (*ollama).to_string()
            } else {
                format!("{ollama} as {openai}")
            }
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// The sampling and format parameters of a request, checked once at start-up and again on every
/// turn (options may change during a chat).
#[derive(Debug, Default, PartialEq, Serialize)]
pub struct Params<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub temperature: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub top_p: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_tokens: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub seed: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stop: Option<&'a Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub presence_penalty: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub frequency_penalty: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub response_format: Option<ResponseFormat<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reasoning_effort: Option<&'a str>,
}

/// `response_format`: JSON mode, or JSON constrained by a schema.
#[derive(Debug, PartialEq, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ResponseFormat<'a> {
    JsonObject,
    JsonSchema { json_schema: JsonSchema<'a> },
}

#[derive(Debug, PartialEq, Serialize)]
pub struct JsonSchema<'a> {
    /// Required by OpenAI; any name will do.
    pub name: &'static str,
    pub schema: &'a Value,
}

impl<'a> Params<'a> {
    /// Maps the client's settings (Ollama's names) to OpenAI's, refusing what has no equivalent.
    pub fn from_settings(
        options: &'a Options,
        format: Option<&'a Value>,
        think: Option<&'a Think>,
        keep_alive: Option<&'a Value>,
    ) -> Result<Self, MappingError> {
        let unsupported: Vec<String> = options
            .iter()
            .map(|(k, _)| k)
            .filter(|k| !OPTION_NAMES.iter().any(|(name, _)| name == k))
            .cloned()
            .collect();
        if !unsupported.is_empty() {
            return Err(MappingError::Options(unsupported));
        }
        if keep_alive.is_some() {
            return Err(MappingError::KeepAlive);
        }
        let float = |key: &str| options.get(key).and_then(Value::as_f64);
        let max_tokens = match options.get("num_predict").and_then(Value::as_i64) {
            // Ollama's -1 (no limit) and -2 (fill the context) are OpenAI's default: no limit.
            Some(n) if n < 0 => None,
            Some(n) => Some(n as u64),
            None => None,
        };
        let reasoning_effort = match think {
            None => None,
            Some(Think::On(true)) => return Err(MappingError::ThinkNeedsLevel),
            Some(Think::On(false)) => Some("none"),
            // Chat Completions' highest effort is `xhigh`.
            Some(Think::Level(level)) if level == "max" => Some("xhigh"),
            Some(Think::Level(level)) => Some(level.as_str()),
        };
        let response_format = match format {
            None => None,
            Some(Value::String(s)) if s == "json" => Some(ResponseFormat::JsonObject),
            Some(schema @ Value::Object(_)) => Some(ResponseFormat::JsonSchema {
                json_schema: JsonSchema {
                    name: "response",
                    schema,
                },
            }),
            Some(_) => {
                return Err(MappingError::BadValue {
                    key: "--format".into(),
                    expected: "`json` or a JSON schema object",
                })
            }
        };
        Ok(Params {
            temperature: float("temperature"),
            top_p: float("top_p"),
            max_tokens,
            seed: options.get("seed").and_then(Value::as_i64),
            stop: options.get("stop"),
            presence_penalty: float("presence_penalty"),
            frequency_penalty: float("frequency_penalty"),
            response_format,
            reasoning_effort,
        })
    }
}

/// The body of `POST {base}/chat/completions`. Borrows the history, so a long chat is serialised
/// without a copy.
#[derive(Debug, Serialize)]
pub struct CompletionRequest<'a> {
    pub model: &'a str,
    pub messages: Vec<WireMessage<'a>>,
    pub stream: bool,
    pub stream_options: StreamOptions,
    #[serde(flatten)]
    pub params: Params<'a>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub tools: Vec<WireTool<'a>>,
}

/// `{"type":"function","function":{"name","description","parameters"}}`.
#[derive(Debug, Serialize)]
pub struct WireTool<'a> {
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub function: WireFunctionSpec<'a>,
}

#[derive(Debug, Serialize)]
pub struct WireFunctionSpec<'a> {
    pub name: Cow<'a, str>,
    pub description: &'a str,
    pub parameters: &'a Value,
}

impl<'a> From<&'a ToolSpec> for WireTool<'a> {
    fn from(t: &'a ToolSpec) -> Self {
        WireTool {
            kind: "function",
            function: WireFunctionSpec {
                name: dotless(&t.name),
                description: &t.description,
                parameters: &t.parameters,
            },
        }
    }
}

/// A call of an assistant message: OpenAI takes the arguments as a JSON string.
#[derive(Debug, Serialize)]
pub struct WireToolCall<'a> {
    pub id: Cow<'a, str>,
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub function: WireCalled<'a>,
}

#[derive(Debug, Serialize)]
pub struct WireCalled<'a> {
    pub name: Cow<'a, str>,
    pub arguments: String,
}

/// Asks for the usage chunk at the end of the stream: the turn log's token counts.
#[derive(Debug, Serialize)]
pub struct StreamOptions {
    pub include_usage: bool,
}

/// One message as OpenAI takes it: role and text (with images a list of content parts: the
/// text, then each image as a `data:` URL), an assistant's calls, a tool result's call id.
/// Thinking is never sent back.
#[derive(Debug, Serialize)]
pub struct WireMessage<'a> {
    pub role: &'static str,
    pub content: WireContent<'a>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub tool_calls: Vec<WireToolCall<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tool_call_id: Option<Cow<'a, str>>,
}

/// `content`: a plain string, as every server takes it, unless the message has images.
#[derive(Debug, Serialize)]
#[serde(untagged)]
pub enum WireContent<'a> {
    Text(&'a str),
    Parts(Vec<Part<'a>>),
}

/// A content part.
#[derive(Debug, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Part<'a> {
    Text { text: &'a str },
    ImageUrl { image_url: ImageUrl<'a> },
}

/// `{"url": "data:image/png;base64,…"}`, written straight into the body: the base64 of a large
/// photo is not copied into a URL string first.
#[derive(Debug)]
pub struct ImageUrl<'a>(pub &'a Image);

impl Serialize for ImageUrl<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let mut map = s.serialize_map(Some(1))?;
        map.serialize_entry("url", &DataUrl(self.0))?;
        map.end()
    }
}

struct DataUrl<'a>(&'a Image);

impl Serialize for DataUrl<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl std::fmt::Display for DataUrl<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "data:{};base64,", self.0.media_type)?;
        f.write_str(self.0.data.as_str())
    }
}

impl<'a> From<&'a Message> for WireMessage<'a> {
    fn from(m: &'a Message) -> Self {
        let content = if m.images.is_empty() {
            WireContent::Text(&m.content)
        } else {
            let text = (!m.content.is_empty()).then_some(Part::Text { text: &m.content });
            let images = m.images.iter().map(|i| Part::ImageUrl {
                image_url: ImageUrl(i),
            });
            WireContent::Parts(text.into_iter().chain(images).collect())
        };
        WireMessage {
            role: m.role.as_str(),
            content,
            tool_calls: m
                .tool_calls
                .iter()
                .map(|c| WireToolCall {
                    id: call_id(c.id.as_deref(), &c.name),
                    kind: "function",
                    function: WireCalled {
                        name: dotless(&c.name),
                        arguments: c.arguments.to_string(),
                    },
                })
                .collect(),
            tool_call_id: m
                .tool_result
                .as_ref()
                .map(|r| call_id(r.call_id.as_deref(), &r.name)),
        }
    }
}

/// The call's id, or for a call recorded without one (an older session) one made from its name,
/// so that the call and its result still match.
pub fn call_id<'a>(id: Option<&'a str>, name: &str) -> Cow<'a, str> {
    match id {
        Some(id) => Cow::Borrowed(id),
        None => Cow::Owned(format!("call_{}", dotless(name))),
    }
}

impl<'a> CompletionRequest<'a> {
    /// The streaming request for one turn.
    pub fn from_chat(req: &'a ChatRequest<'a>) -> Result<Self, MappingError> {
        Ok(CompletionRequest {
            model: req.model,
            messages: req.messages.iter().map(WireMessage::from).collect(),
            stream: true,
            stream_options: StreamOptions {
                include_usage: true,
            },
            params: Params::from_settings(req.options, req.format, req.think, req.keep_alive)?,
            tools: req.tools.iter().map(WireTool::from).collect(),
        })
    }
}

/// One `data:` event of a chat stream. Strings borrow from the event when they hold no escapes.
#[derive(Debug, Deserialize)]
pub struct StreamChunk<'a> {
    #[serde(default, borrow)]
    pub choices: Vec<ChunkChoice<'a>>,
    #[serde(default)]
    pub usage: Option<Usage>,
    /// `{"error": {...}}` (OpenAI, vLLM) or `{"error": "..."}`.
    #[serde(default)]
    pub error: Option<Value>,
    /// vLLM's older error event: `{"object": "error", "message": ...}`.
    #[serde(default, borrow)]
    pub object: Option<Cow<'a, str>>,
    #[serde(default, borrow)]
    pub message: Option<Cow<'a, str>>,
}

#[derive(Debug, Deserialize)]
pub struct ChunkChoice<'a> {
    #[serde(default)]
    pub index: u32,
    #[serde(default, borrow)]
    pub delta: Option<Delta<'a>>,
    #[serde(default, borrow, deserialize_with = "opt_cow")]
    pub finish_reason: Option<Cow<'a, str>>,
}

/// The new text of a chunk. Thinking arrives as `reasoning` (Ollama, newer vLLM) or
/// `reasoning_content` (llama.cpp, older vLLM, DeepSeek).
#[derive(Debug, Default, Deserialize)]
pub struct Delta<'a> {
    #[serde(default, borrow, deserialize_with = "opt_cow")]
    pub content: Option<Cow<'a, str>>,
    #[serde(default, borrow, deserialize_with = "opt_cow")]
    pub reasoning: Option<Cow<'a, str>>,
    #[serde(default, borrow, deserialize_with = "opt_cow")]
    pub reasoning_content: Option<Cow<'a, str>>,
    /// Fragments of calls: the first of each (by `index`) names it, the rest add to its
    /// `arguments` text.
    #[serde(default)]
    pub tool_calls: Vec<DeltaToolCall>,
}

/// One fragment of a streamed call.
#[derive(Debug, Default, Deserialize)]
pub struct DeltaToolCall {
    #[serde(default)]
    pub index: usize,
    #[serde(default)]
    pub id: Option<String>,
    #[serde(default)]
    pub function: Option<DeltaFunction>,
}

#[derive(Debug, Default, Deserialize)]
pub struct DeltaFunction {
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub arguments: Option<String>,
}

/// An optional string that borrows from the input when it can (serde borrows a bare `Cow` field,
/// but not one inside an `Option`), so a token costs no allocation.
fn opt_cow<'de: 'a, 'a, D>(d: D) -> Result<Option<Cow<'a, str>>, D::Error>
where
    D: serde::Deserializer<'de>,
{
    #[derive(Deserialize)]
    struct Borrowed<'a>(#[serde(borrow)] Cow<'a, str>);
    Ok(Option::<Borrowed<'a>>::deserialize(d)?.map(|b| b.0))
}

impl Delta<'_> {
    pub fn thinking(&self) -> &str {
        self.reasoning
            .as_deref()
            .filter(|s| !s.is_empty())
            .or(self.reasoning_content.as_deref())
            .unwrap_or("")
    }
}

/// Token counts, from the usage chunk (or a whole completion).
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
pub struct Usage {
    #[serde(default)]
    pub prompt_tokens: Option<u64>,
    #[serde(default)]
    pub completion_tokens: Option<u64>,
}

/// A whole (non-streamed) completion, for a server that answers a stream request in one piece.
#[derive(Debug, Deserialize)]
pub struct Completion {
    #[serde(default)]
    pub choices: Vec<CompletionChoice>,
    #[serde(default)]
    pub usage: Option<Usage>,
}

#[derive(Debug, Deserialize)]
pub struct CompletionChoice {
    #[serde(default)]
    pub message: CompletionMessage,
    #[serde(default)]
    pub finish_reason: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
pub struct CompletionMessage {
    #[serde(default)]
    pub content: Option<String>,
    #[serde(default)]
    pub reasoning: Option<String>,
    #[serde(default)]
    pub reasoning_content: Option<String>,
    #[serde(default)]
    pub tool_calls: Vec<DeltaToolCall>,
}

/// `GET {base}/models`.
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
    use crate::conversation::Role;
    use serde_json::json;

    fn options(pairs: &[&str]) -> Options {
        let mut o = Options::default();
        for p in pairs {
            o.set_pair(p).unwrap();
        }
        o
    }

    fn params_json(o: &Options, format: Option<&Value>, think: Option<&Think>) -> Value {
        serde_json::to_value(Params::from_settings(o, format, think, None).unwrap()).unwrap()
    }

    #[test]
    fn options_map_to_their_openai_names() {
        let o = options(&[
            "temperature=0.5",
            "top_p=0.9",
            "num_predict=12",
            "seed=3",
            "stop=<end>",
            "stop=User:",
            "presence_penalty=0.1",
            "frequency_penalty=-0.2",
        ]);
        assert_eq!(
            params_json(&o, None, None),
            json!({"temperature":0.5,"top_p":0.9,"max_tokens":12,"seed":3,"stop":["<end>","User:"],
                   "presence_penalty":0.1,"frequency_penalty":-0.2})
        );
        assert_eq!(params_json(&Options::default(), None, None), json!({}));
    }

    #[test]
    fn tools_calls_and_results_in_openai_shape() {
        use crate::conversation::{ToolCall, ToolResultOf};
        let tools = [ToolSpec {
            name: "t.echo".into(),
            description: "Echo".into(),
            parameters: json!({"type": "object"}),
        }];
        let mut asked = Message::new(Role::Assistant, "");
        asked.tool_calls.push(ToolCall {
            id: Some("call_1".into()),
            name: "t.echo".into(),
            arguments: json!({"text": "你好"}),
        });
        let mut result = Message::new(Role::Tool, "echo: 你好");
        result.tool_result = Some(ToolResultOf {
            name: "t.echo".into(),
            call_id: Some("call_1".into()),
        });
        let messages = [Message::new(Role::User, "q"), asked, result];
        let o = Options::default();
        let chat = ChatRequest {
            tools: &tools,
            ..ChatRequest::new("m", &messages, &o)
        };
        let body = serde_json::to_value(CompletionRequest::from_chat(&chat).unwrap()).unwrap();
        assert_eq!(
            body["tools"],
            json!([{"type":"function","function":{"name":"t__echo","description":"Echo","parameters":{"type":"object"}}}])
        );
        assert_eq!(
            body["messages"][1],
            json!({"role":"assistant","content":"","tool_calls":[{"id":"call_1","type":"function","function":{"name":"t__echo","arguments":"{\"text\":\"你好\"}"}}]})
        );
        assert_eq!(
            body["messages"][2],
            json!({"role":"tool","content":"echo: 你好","tool_call_id":"call_1"})
        );
        let plain = ChatRequest::new("m", &messages[..1], &o);
        let body = serde_json::to_value(CompletionRequest::from_chat(&plain).unwrap()).unwrap();
        assert!(body.get("tools").is_none());
    }

    #[test]
    fn unlimited_num_predict_sends_no_max_tokens() {
        assert_eq!(
            params_json(&options(&["num_predict=-1"]), None, None),
            json!({})
        );
        assert_eq!(
            params_json(&options(&["num_predict=-2"]), None, None),
            json!({})
        );
    }

    #[test]
    fn options_without_an_equivalent_are_refused_by_name() {
        let o = options(&["num_ctx=8192", "temperature=1", "top_k=40"]);
        let err = Params::from_settings(&o, None, None, None).unwrap_err();
        assert_eq!(
            err,
            MappingError::Options(vec!["num_ctx".into(), "top_k".into()])
        );
        let text = err.to_string();
        assert!(
            text.starts_with("options num_ctx, top_k have no equivalent"),
            "{text}"
        );
        assert!(text.contains("num_predict as max_tokens"), "{text}");
        assert!(text.contains("--api ollama"), "{text}");
        let one = Params::from_settings(&options(&["use_mmap=true"]), None, None, None)
            .unwrap_err()
            .to_string();
        assert!(
            one.starts_with("option use_mmap has no equivalent"),
            "{one}"
        );
    }

    #[test]
    fn think_maps_to_reasoning_effort() {
        let o = Options::default();
        let level = Think::Level("high".into());
        assert_eq!(
            params_json(&o, None, Some(&level)),
            json!({"reasoning_effort":"high"})
        );
        assert_eq!(
            params_json(&o, None, Some(&Think::On(false))),
            json!({"reasoning_effort":"none"})
        );
        assert_eq!(
            Params::from_settings(&o, None, Some(&Think::On(true)), None),
            Err(MappingError::ThinkNeedsLevel)
        );
    }

    #[test]
    fn format_maps_to_response_format() {
        let o = Options::default();
        assert_eq!(
            params_json(&o, Some(&json!("json")), None),
            json!({"response_format":{"type":"json_object"}})
        );
        let schema = json!({"type":"object","properties":{"a":{"type":"integer"}}});
        assert_eq!(
            params_json(&o, Some(&schema), None),
            json!({"response_format":{"type":"json_schema","json_schema":{"name":"response","schema":schema}}})
        );
        assert!(Params::from_settings(&o, Some(&json!(3)), None, None).is_err());
    }

    #[test]
    fn keep_alive_is_refused() {
        let o = Options::default();
        assert_eq!(
            Params::from_settings(&o, None, None, Some(&json!("5m"))),
            Err(MappingError::KeepAlive)
        );
    }

    #[test]
    fn request_matches_the_recorded_shape() {
        let messages = vec![
            Message::new(Role::System, "You are terse."),
            Message::new(Role::User, "Name a color."),
        ];
        let o = options(&["num_predict=8", "seed=3"]);
        let chat = ChatRequest {
            model: "tiny",
            messages: &messages,
            stream: true,
            options: &o,
            format: None,
            think: None,
            keep_alive: None,
            tools: &[],
            strict_window: false,
        };
        let req = CompletionRequest::from_chat(&chat).unwrap();
        assert_eq!(
            serde_json::to_string(&req).unwrap(),
            r#"{"model":"tiny","messages":[{"role":"system","content":"You are terse."},{"role":"user","content":"Name a color."}],"stream":true,"stream_options":{"include_usage":true},"max_tokens":8,"seed":3}"#
        );
    }

    #[test]
    fn images_become_data_url_parts_after_the_text() {
        // The body recorded in 29_v1_chat_image_nonvision.
        let png = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR\0\0\0\x01\0\0\0\x01\x08\x06\0\0\0\x1f\x15\xc4\x89\0\0\0\rIDATx\xdac\xfc\xcf\xc0\xf0\x1f\0\x05\x05\x02\0_\xc8\xf1\xd2\0\0\0\0IEND\xaeB`\x82";
        let mut m = Message::new(Role::User, "What is this?");
        m.images
            .push(Image::from_bytes("dot.png", "image/png", png));
        let w = serde_json::to_string(&WireMessage::from(&m)).unwrap();
        assert_eq!(
            w,
            r#"{"role":"user","content":[{"type":"text","text":"What is this?"},{"type":"image_url","image_url":{"url":"data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8DwHwAFBQIAX8jx0gAAAABJRU5ErkJggg=="}}]}"#
        );
        // Inside the data URL the base64 is still written in one piece: the body shares it.
        let parts = crate::net::json_body(&WireMessage::from(&m), &[&m.images[0].data]).unwrap();
        let at = m.images[0].data.as_str().as_ptr();
        assert!(parts.iter().any(|p| p.as_ptr() == at));
        m.content.clear();
        let w = serde_json::to_value(WireMessage::from(&m)).unwrap();
        assert_eq!(
            w["content"].as_array().unwrap().len(),
            1,
            "no empty text part"
        );
    }

    #[test]
    fn thinking_is_not_sent_back() {
        let mut m = Message::new(Role::Assistant, "42");
        m.thinking = Some("hmm".into());
        let w = serde_json::to_value(WireMessage::from(&m)).unwrap();
        assert_eq!(w, json!({"role":"assistant","content":"42"}));
    }

    #[test]
    fn chunk_fields_and_borrowing() {
        let line = br#"{"id":"chatcmpl-18","object":"chat.completion.chunk","created":1795911026,"model":"tiny","system_fingerprint":"fp_ollama","choices":[{"index":0,"delta":{"role":"assistant","content":"You"},"finish_reason":null}]}"#;
        let c: StreamChunk = serde_json::from_slice(line).unwrap();
        let delta = c.choices[0].delta.as_ref().unwrap();
        assert!(matches!(delta.content, Some(Cow::Borrowed("You"))));
        assert_eq!(c.choices[0].finish_reason, None);
        let escaped = br#"{"choices":[{"index":0,"delta":{"content":"a\nb \u003c"}}]}"#;
        let c: StreamChunk = serde_json::from_slice(escaped).unwrap();
        let content = c.choices[0].delta.as_ref().unwrap().content.as_deref();
        assert_eq!(content, Some("a\nb <"));
        let usage = br#"{"id":"chatcmpl-108","choices":[],"usage":{"prompt_tokens":23,"completion_tokens":8,"total_tokens":31}}"#;
        let c: StreamChunk = serde_json::from_slice(usage).unwrap();
        assert_eq!(
            c.usage,
            Some(Usage {
                prompt_tokens: Some(23),
                completion_tokens: Some(8)
            })
        );
    }

    #[test]
    fn thinking_from_either_field() {
        let d: Delta = serde_json::from_str(r#"{"content":"","reasoning":"hm"}"#).unwrap();
        assert_eq!(d.thinking(), "hm");
        let d: Delta = serde_json::from_str(r#"{"reasoning_content":"ok"}"#).unwrap();
        assert_eq!(d.thinking(), "ok");
        let d: Delta = serde_json::from_str(r#"{"content":null}"#).unwrap();
        assert_eq!(d.thinking(), "");
        assert_eq!(d.content, None);
    }
}
