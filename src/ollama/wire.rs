//! The JSON shapes of Ollama's API that the client sends and reads (v0.32, see the transcripts),
//! and the mapping from the conversation's own types to them.

use std::borrow::Cow;

use serde::{Deserialize, Serialize};

use crate::conversation::{
    arguments_object, ChatRequest, FinalStats, Message, Remote, Think, ToolCall, ToolSpec,
};
use crate::models::{LoadedModel, ModelSummary};
use crate::options::Options;

/// One entry of `messages`, exactly as `POST /api/chat` takes it. Thinking is not sent back.
#[derive(Debug, Serialize)]
pub struct WireMessage<'a> {
    pub role: &'static str,
    pub content: &'a str,
    /// The model's thinking goes back only with the tool calls it led to, as Ollama asks.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub thinking: Option<&'a str>,
    /// Base64 images, without a media type (Ollama finds it from the bytes).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub images: Vec<&'a str>,
    /// The calls an assistant message made, sent back so the model sees what it asked for.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub tool_calls: Vec<WireToolCall<'a>>,
    /// A tool message names the function it is the result of.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tool_name: Option<&'a str>,
}

impl<'a> From<&'a Message> for WireMessage<'a> {
    fn from(m: &'a Message) -> Self {
        WireMessage {
            role: m.role.as_str(),
            content: &m.content,
            thinking: m.thinking.as_deref().filter(|_| !m.tool_calls.is_empty()),
            images: m.images.iter().map(|i| i.data.as_str()).collect(),
            tool_calls: m.tool_calls.iter().map(WireToolCall::from).collect(),
            tool_name: m.tool_result.as_ref().map(|r| r.name.as_str()),
        }
    }
}

/// `{"function":{"name","arguments"}}`: Ollama takes the arguments as an object.
#[derive(Debug, Serialize)]
pub struct WireToolCall<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id: Option<&'a str>,
    pub function: WireFunction<'a>,
}

#[derive(Debug, Serialize)]
pub struct WireFunction<'a> {
    pub name: &'a str,
    pub arguments: &'a serde_json::Value,
}

impl<'a> From<&'a ToolCall> for WireToolCall<'a> {
    fn from(c: &'a ToolCall) -> Self {
        WireToolCall {
            id: c.id.as_deref(),
            function: WireFunction {
                name: &c.name,
                arguments: &c.arguments,
            },
        }
    }
}

/// One entry of `tools`, as the recorded request has it.
#[derive(Debug, Serialize)]
pub struct WireTool<'a> {
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub function: &'a ToolSpec,
}

/// The request's tools, serialised one by one without collecting them.
#[derive(Debug, Clone, Copy)]
pub struct WireTools<'a>(pub &'a [ToolSpec]);

impl WireTools<'_> {
    fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl Serialize for WireTools<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(self.0.iter().map(|function| WireTool {
            kind: "function",
            function,
        }))
    }
}

/// The messages of a request, serialised one by one as [`WireMessage`]s without collecting them.
#[derive(Debug, Clone, Copy)]
pub struct WireMessages<'a>(pub &'a [Message]);

impl Serialize for WireMessages<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(self.0.iter().map(WireMessage::from))
    }
}

/// The body of `POST /api/chat`. Borrowed so that a long history is serialised without a copy.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct WireRequest<'a> {
    pub model: &'a str,
    pub messages: WireMessages<'a>,
    pub stream: bool,
    #[serde(skip_serializing_if = "Options::is_empty")]
    pub options: &'a Options,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub format: Option<&'a serde_json::Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub think: Option<&'a Think>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub keep_alive: Option<&'a serde_json::Value>,
    #[serde(skip_serializing_if = "WireTools::is_empty")]
    pub tools: WireTools<'a>,
    /// `false`: refuse a prompt over the window (400) instead of dropping old messages.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub truncate: Option<bool>,
    /// `false`: stop at the window instead of shifting the context mid-reply.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub shift: Option<bool>,
}

impl<'a> From<&ChatRequest<'a>> for WireRequest<'a> {
    fn from(r: &ChatRequest<'a>) -> Self {
        WireRequest {
            model: r.model,
            messages: WireMessages(r.messages),
            stream: r.stream,
            options: r.options,
            format: r.format,
            think: r.think,
            keep_alive: r.keep_alive,
            tools: WireTools(r.tools),
            truncate: r.strict_window.then_some(false),
            shift: r.strict_window.then_some(false),
        }
    }
}

/// One NDJSON line of a chat stream. Strings borrow from the line when they hold no escapes, so a
/// token costs no allocation.
#[derive(Debug, Default, Deserialize)]
pub struct ChatChunk<'a> {
    #[serde(default, borrow)]
    pub message: Option<ChunkMessage<'a>>,
    #[serde(default)]
    pub done: bool,
    #[serde(default, borrow)]
    pub done_reason: Option<Cow<'a, str>>,
    #[serde(default, deserialize_with = "duration")]
    pub total_duration: u64,
    #[serde(default, deserialize_with = "duration")]
    pub load_duration: u64,
    #[serde(default, deserialize_with = "count")]
    pub prompt_eval_count: Option<u64>,
    #[serde(default, deserialize_with = "duration")]
    pub prompt_eval_duration: u64,
    #[serde(default, deserialize_with = "count")]
    pub eval_count: Option<u64>,
    #[serde(default, deserialize_with = "duration")]
    pub eval_duration: u64,
    /// Set on a failure inside a 200 stream.
    #[serde(default, borrow)]
    pub error: Option<Cow<'a, str>>,
    /// Where a cloud model ran, when the server forwarded the request.
    #[serde(default, borrow)]
    pub remote_model: Option<Cow<'a, str>>,
    #[serde(default, borrow)]
    pub remote_host: Option<Cow<'a, str>>,
}

/// A duration in nanoseconds as Go writes one (an `int64`): a negative, fractional or out-of-range
/// number from a broken or hostile server is 0, "not reported", rather than a reason to refuse
/// the whole reply.
fn duration<'de, D: serde::Deserializer<'de>>(d: D) -> Result<u64, D::Error> {
    Ok(count(d)?.unwrap_or(0))
}

/// A token count: anything but a whole number that fits a `u64` is `None`, "not reported".
fn count<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<u64>, D::Error> {
    let n = Option::<serde_json::Number>::deserialize(d)?;
    Ok(n.and_then(|n| n.as_u64()))
}

/// The `message` of a stream chunk.
#[derive(Debug, Default, Deserialize)]
pub struct ChunkMessage<'a> {
    #[serde(default, borrow)]
    pub content: Cow<'a, str>,
    #[serde(default, borrow)]
    pub thinking: Option<Cow<'a, str>>,
    /// Calls come whole in one chunk (`[{id?, function:{index?, name, arguments}}]`).
    #[serde(default)]
    pub tool_calls: Vec<ChunkToolCall>,
}

/// One entry of a chunk's `tool_calls`.
#[derive(Debug, Deserialize)]
pub struct ChunkToolCall {
    #[serde(default)]
    pub id: Option<String>,
    pub function: ChunkFunction,
}

#[derive(Debug, Deserialize)]
pub struct ChunkFunction {
    pub name: String,
    #[serde(default)]
    pub arguments: serde_json::Value,
}

impl ChunkToolCall {
    /// The call in the conversation's terms; arguments that are not an object are made one.
    pub fn to_call(&self) -> ToolCall {
        ToolCall {
            id: self.id.clone().filter(|id| !id.is_empty()),
            name: self.function.name.clone(),
            arguments: arguments_object(self.function.arguments.clone()),
        }
    }
}

/// What the final chunk reports, owned so it can outlive the line it came from.
/// Ollama omits zero metrics, so absent counts are `None` and absent durations 0.
pub fn final_stats(c: &ChatChunk<'_>) -> FinalStats {
    FinalStats {
        done_reason: c.done_reason.as_deref().map(str::to_string),
        total_duration: c.total_duration,
        load_duration: c.load_duration,
        prompt_eval_count: c.prompt_eval_count,
        prompt_eval_duration: c.prompt_eval_duration,
        eval_count: c.eval_count,
        eval_duration: c.eval_duration,
        usage_unknown: false,
        remote: Remote::new(c.remote_model.as_deref(), c.remote_host.as_deref()),
    }
}

/// The `{"error": "..."}` body of a failed request.
#[derive(Debug, Deserialize)]
pub struct ErrorBody {
    pub error: String,
    /// Where to sign in, on a 401 from a server that forwards to ollama.com's cloud models.
    #[serde(default)]
    pub signin_url: Option<String>,
}

/// `GET /api/tags`.
#[derive(Debug, Clone, Deserialize)]
pub struct TagsResponse {
    #[serde(default)]
    pub models: Vec<ModelSummary>,
}

/// `GET /api/ps`.
#[derive(Debug, Clone, Deserialize)]
pub struct PsResponse {
    #[serde(default)]
    pub models: Vec<LoadedModel>,
}

/// The body of `POST /api/pull`.
#[derive(Debug, Serialize)]
pub struct PullRequest<'a> {
    pub model: &'a str,
}

/// The body of `POST /api/copy`.
#[derive(Debug, Serialize)]
pub struct CopyRequest<'a> {
    pub source: &'a str,
    pub destination: &'a str,
}

/// The body of `DELETE /api/delete` and `POST /api/show`.
#[derive(Debug, Serialize)]
pub struct ModelRequest<'a> {
    pub model: &'a str,
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_cloud_model_s_final_chunk_says_where_it_ran() {
        let line = r#"{"model":"gpt-oss:120b-cloud","remote_model":"gpt-oss:120b","remote_host":"https://ollama.com:443","created_at":"2026-12-03T07:23:16Z","message":{"role":"assistant","content":""},"done":true,"done_reason":"stop","eval_count":3}"#;
        let chunk: ChatChunk<'_> = serde_json::from_str(line).unwrap();
        let stats = final_stats(&chunk);
        let remote = stats.remote.unwrap();
        assert_eq!(remote.model, "gpt-oss:120b");
        assert_eq!(remote.host, "https://ollama.com:443");
        let local: ChatChunk<'_> = serde_json::from_str(r#"{"done":true}"#).unwrap();
        assert_eq!(final_stats(&local).remote, None);
        let endless = format!(r#"{{"done":true,"remote_model":"{}"}}"#, "x".repeat(10_000));
        let chunk: ChatChunk<'_> = serde_json::from_str(&endless).unwrap();
        let remote = final_stats(&chunk).remote.unwrap();
        assert_eq!(remote.model.len(), crate::conversation::Remote::MAX);
        assert_eq!(remote.host, "");
    }

    use super::*;
    use crate::conversation::Role;
    use crate::models::ModelInfo;

    #[test]
    fn request_matches_the_recorded_shape() {
        let messages = vec![
            Message::new(Role::System, "be brief"),
            Message::new(Role::User, "hi"),
        ];
        let mut options = Options::default();
        options.set("num_predict", "40").unwrap();
        let req = ChatRequest {
            model: "tiny",
            messages: &messages,
            stream: true,
            options: &options,
            format: None,
            think: None,
            keep_alive: None,
            tools: &[],
            strict_window: false,
        };
        assert_eq!(
            serde_json::to_string(&WireRequest::from(&req)).unwrap(),
            r#"{"model":"tiny","messages":[{"role":"system","content":"be brief"},{"role":"user","content":"hi"}],"stream":true,"options":{"num_predict":40}}"#
        );
    }

    /// The recorded tools request (transcript 20), and a tool round trip as the API notes give it.
    #[test]
    fn tools_and_tool_messages_match_the_recorded_shape() {
        let tools = [ToolSpec {
            name: "get_weather".into(),
            description: "Get weather".into(),
            parameters: serde_json::json!({"type":"object","properties":{"city":{"type":"string"}},"required":["city"]}),
        }];
        let mut call = Message::new(Role::Assistant, "");
        call.tool_calls.push(ToolCall {
            id: None,
            name: "get_weather".into(),
            arguments: serde_json::json!({"city": "北京"}),
        });
        let mut result = Message::new(Role::Tool, "晴");
        result.tool_result = Some(crate::conversation::ToolResultOf {
            name: "get_weather".into(),
            call_id: None,
        });
        let messages = [Message::new(Role::User, "weather?"), call, result];
        let options = Options::default();
        let req = ChatRequest {
            stream: false,
            tools: &tools,
            ..ChatRequest::new("tiny", &messages[..1], &options)
        };
        let recorded: serde_json::Value = serde_json::from_str(
            r#"{"model":"tiny","messages":[{"role":"user","content":"weather?"}],"stream":false,"tools":[{"type":"function","function":{"name":"get_weather","description":"Get weather","parameters":{"type":"object","properties":{"city":{"type":"string"}},"required":["city"]}}}]}"#,
        )
        .unwrap();
        assert_eq!(
            serde_json::to_value(WireRequest::from(&req)).unwrap(),
            recorded
        );
        let req = ChatRequest::new("tiny", &messages, &options);
        let body = serde_json::to_value(WireRequest::from(&req)).unwrap();
        assert_eq!(
            body["messages"][1],
            serde_json::json!({"role":"assistant","content":"","tool_calls":[{"function":{"name":"get_weather","arguments":{"city":"北京"}}}]})
        );
        assert_eq!(
            body["messages"][2],
            serde_json::json!({"role":"tool","content":"晴","tool_name":"get_weather"})
        );
        assert!(body.get("tools").is_none(), "no tools, no field");
    }

    #[test]
    fn final_chunk_fields() {
        let line = br#"{"model":"tiny","created_at":"2026-11-29T00:09:39.306954297Z","message":{"role":"assistant","content":""},"done":true,"done_reason":"length","total_duration":513003934,"load_duration":1046115,"prompt_eval_count":54,"prompt_eval_duration":79144000,"eval_count":40,"eval_duration":427743000}"#;
        let c: ChatChunk = serde_json::from_slice(line).unwrap();
        let s = final_stats(&c);
        assert!(c.done);
        assert_eq!(s.done_reason.as_deref(), Some("length"));
        assert_eq!(s.prompt_eval_count, Some(54));
        assert_eq!(s.eval_count, Some(40));
        assert!((s.eval_rate().unwrap() - 93.515).abs() < 0.01);
    }

    #[test]
    fn negative_and_absurd_numbers_are_not_reported_rather_than_refused() {
        let line = br#"{"model":"m","message":{"role":"assistant","content":""},"done":true,"total_duration":18446744073709551615,"load_duration":-9223372036854775808,"prompt_eval_count":-1,"prompt_eval_duration":1.5e300,"eval_count":7,"eval_duration":-1}"#;
        let c: ChatChunk = serde_json::from_slice(line).unwrap();
        let s = final_stats(&c);
        assert_eq!(s.total_duration, u64::MAX);
        assert_eq!(
            (s.load_duration, s.prompt_eval_duration, s.eval_duration),
            (0, 0, 0)
        );
        assert_eq!((s.prompt_eval_count, s.eval_count), (None, Some(7)));
        let text: Result<ChatChunk, _> = serde_json::from_slice(br#"{"eval_count":"7"}"#);
        assert!(text.is_err(), "a string is not a number");
    }

    #[test]
    fn load_only_final_chunk_has_no_metrics() {
        let line = br#"{"model":"tiny2","created_at":"2026-11-29T00:10:04.900367651Z","message":{"role":"assistant","content":""},"done":true,"done_reason":"load"}"#;
        let c: ChatChunk = serde_json::from_slice(line).unwrap();
        let s = final_stats(&c);
        assert_eq!(s.eval_count, None);
        assert_eq!(s.eval_rate(), None);
    }

    #[test]
    fn show_response_reads_the_recording() {
        let body = r#"{"modelfile":"FROM x\n","parameters":"top_p                          0.95\nstop                           \"<end_of_turn>\"","template":"{{ .Prompt }}","system":"You are Tiny.","details":{"parent_model":"","format":"gguf","family":"gemma3","families":["gemma3"],"parameter_size":"268.10M","quantization_level":"Q4_K_M"},"model_info":{"general.architecture":"gemma3","gemma3.context_length":32768,"gemma3.embedding_length":640},"tensors":[{"name":"a","type":"F32","shape":[640]}],"capabilities":["completion"],"modified_at":"2026-11-29T00:04:09.192291589Z"}"#;
        let s: ModelInfo = serde_json::from_str(body).unwrap();
        assert_eq!(s.architecture(), Some("gemma3"));
        assert_eq!(s.arch_number("context_length"), Some(32768));
        assert_eq!(s.arch_number("embedding_length"), Some(640));
        assert_eq!(s.license, "");
        assert_eq!(
            s.parameter_pairs(),
            vec![("top_p", "0.95"), ("stop", "\"<end_of_turn>\"")]
        );
        assert_eq!(
            s.details.quantization_level.as_ref().map(|q| q.raw()),
            Some("Q4_K_M")
        );
    }

    #[test]
    fn tokens_borrow_without_escapes() {
        let line = br#"{"message":{"role":"assistant","content":" capital"},"done":false}"#;
        let c: ChatChunk = serde_json::from_slice(line).unwrap();
        assert!(matches!(
            c.message.unwrap().content,
            Cow::Borrowed(" capital")
        ));
    }
}
