//! Anthropic's Messages API as Ollama v0.32 serves it at `POST /v1/messages`, shaped like the
//! recordings 28_v1_messages_*: named server-sent events (`message_start`, `content_block_start`,
//! `content_block_delta`…, `content_block_stop`, `message_delta` with `stop_reason` and usage,
//! `message_stop`), the non-stream `message` object, and errors as
//! `{"type":"error","error":{"type","message"},"request_id"}`. Ollama ignores `thinking` here (a
//! model without it does not refuse, and the recorded thinking model answered in text only), so
//! the default echo reply has no thinking block.
//!
//! What Anthropic's own servers add, for scripted replies (`push_chat`, played by `reply.rs`):
//! `event: ping` after `message_start` (`Script::ping`); thinking tokens as a `thinking` block of
//! `thinking_delta`s closed by a `signature_delta`; `End::Error(msg)` as a mid-stream
//! `event: error` of type `overloaded_error`; `HttpError` statuses with Anthropic's error types
//! (401 `authentication_error`, 404 `not_found_error`, 429 `rate_limit_error`, 529
//! `overloaded_error`, 500 `api_error`…); and, with `require_api_key`, the `x-api-key` check.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use serde_json::{json, Value};

use super::chat::tokenize;
use super::context::count_prompt;
use super::hostile::{self, ChatApi};
use super::http::{After, Conn, Gone, Request};
use super::json::{decode_body, go_str, str_field};
use super::openai::SSE;
use super::reply::{play, take_queued, Frames, Part, Plan, Queued};
use super::routes::{capabilities, fnv1a, JSON};

/// What the recorded server answered for an image sent to a model without vision.
pub(crate) const NO_VISION: &str = r#"{"error":{"code":400,"message":"Multimodal data provided, but model does not support multimodal requests.","type":"invalid_request_error"}}"#;

pub(crate) fn handle_messages(req: &Request, conn: &Conn) -> Result<After, Gone> {
    if let Some(answered) = hostile::chat(req, conn, ChatApi::Anthropic) {
        return answered;
    }
    let started = Instant::now();
    if let Some(denied) = check_x_api_key(req, conn) {
        return denied;
    }
    let decoded = decode_body(&req.body, "api.MessagesRequest");
    let estimate = decoded.as_ref().map_or(0, input_estimate);
    let mut frames = AnthropicFrames::new(estimate);
    let script = match take_queued(conn, &frames) {
        Queued::Nothing => return default_messages(decoded, conn, &mut frames, started),
        Queued::Answered(result) => return result,
        Queued::Play(script) => *script,
    };
    // Scripted replies skip validation, as on the other chat routes.
    let body = decoded.unwrap_or(Value::Null);
    let chat = ollama_body(&body);
    let model = str_field(&body, "model").to_string();
    conn.shared.mark_loaded(&model, &chat);
    let prompt = count_prompt(conn.shared, &chat);
    let plan = Plan::scripted(script, model, prompt, stream_requested(&body), started);
    play(conn, &plan, &mut frames)
}

/// The recorded server's checks, in its order, then an echo of the last user message cut at
/// `max_tokens`.
fn default_messages(
    decoded: Result<Value, String>,
    conn: &Conn,
    frames: &mut AnthropicFrames,
    started: Instant,
) -> Result<After, Gone> {
    // The middleware's own checks answer with gin's JSON type (with charset), as recorded.
    let refuse = |message: &str| {
        let json = anthropic_error_json("invalid_request_error", message);
        conn.send(400, &[("Content-Type", JSON)], json.as_bytes())
    };
    let body = match decoded {
        Ok(body) => body,
        Err(message) => return refuse(&message),
    };
    let model = str_field(&body, "model");
    if model.is_empty() {
        return refuse("model is required");
    }
    let max_tokens = body.get("max_tokens").and_then(Value::as_i64).unwrap_or(0);
    if max_tokens <= 0 {
        return refuse("max_tokens is required and must be positive");
    }
    // The chat handler's errors come after the stream's headers were set, as recorded.
    let stream = stream_requested(&body);
    let fail = |status: u16, message: &str| {
        let json = anthropic_error_json(error_type(status), message);
        let mut headers = Vec::new();
        if stream {
            headers.extend([("Cache-Control", "no-cache"), ("Connection", "keep-alive")]);
        }
        headers.push(("Content-Type", "application/json"));
        conn.send(status, &headers, json.as_bytes())
    };
    let found = conn
        .shared
        .lock()
        .find_model(model)
        .map(|m| (m.name.clone(), capabilities(&m.name)));
    let Some((name, caps)) = found else {
        return fail(404, &format!("model '{model}' not found"));
    };
    let has_tools = body
        .get("tools")
        .and_then(Value::as_array)
        .is_some_and(|tools| !tools.is_empty());
    if has_tools && !caps.contains(&"tools") {
        let message = format!("{} does not support tools", registry_name(&name));
        return fail(400, &message);
    }
    if has_image(&body) && !caps.contains(&"vision") {
        return fail(400, NO_VISION);
    }

    let chat = ollama_body(&body);
    let last_user = chat["messages"]
        .as_array()
        .into_iter()
        .flatten()
        .rev()
        .find(|m| m["role"] == "user")
        .map_or("", |m| str_field(m, "content"));
    let mut tokens = tokenize(&format!("echo: {last_user}"));
    let mut done_reason = "stop";
    let limit = usize::try_from(max_tokens).unwrap_or(usize::MAX);
    if tokens.len() > limit {
        tokens.truncate(limit);
        done_reason = "length";
    }
    let prompt = count_prompt(conn.shared, &chat);
    conn.shared.mark_loaded(model, &chat);
    let plan = Plan::generated(
        model,
        Vec::new(),
        tokens,
        done_reason,
        prompt,
        stream,
        started,
    );
    play(conn, &plan, frames)
}

/// With `require_api_key`, a request must carry `x-api-key: <key>` (401 in Anthropic's shape
/// otherwise); `None` when it may go on.
pub(crate) fn check_x_api_key(req: &Request, conn: &Conn) -> Option<Result<After, Gone>> {
    let wanted = conn.shared.lock().api_key.clone()?;
    let given = req.header("x-api-key").unwrap_or("");
    if given == wanted {
        return None;
    }
    let message = if given.is_empty() {
        "x-api-key header is required"
    } else {
        "invalid x-api-key"
    };
    let json = anthropic_error_json("authentication_error", message);
    Some(conn.send(
        401,
        &[("Content-Type", "application/json")],
        json.as_bytes(),
    ))
}

/// Whether a request is Anthropic's (for the routes both APIs share, such as `GET /v1/models`).
pub(crate) fn is_anthropic(req: &Request) -> bool {
    req.header("x-api-key").is_some() || req.header("anthropic-version").is_some()
}

/// Unlike `/api/chat`, `/v1/messages` streams only when asked to.
fn stream_requested(body: &Value) -> bool {
    body.get("stream").and_then(Value::as_bool).unwrap_or(false)
}

/// Text of a `content` (or `system`): a string, or the `text` of its text blocks.
fn text_of(content: &Value) -> String {
    match content {
        Value::String(s) => s.clone(),
        Value::Array(blocks) => blocks
            .iter()
            .filter(|b| b["type"] == "text")
            .map(|b| str_field(b, "text"))
            .collect::<Vec<_>>()
            .join("\n"),
        _ => String::new(),
    }
}

fn has_image(body: &Value) -> bool {
    let messages = body.get("messages").and_then(Value::as_array);
    messages.into_iter().flatten().any(|m| {
        m["content"]
            .as_array()
            .is_some_and(|blocks| blocks.iter().any(|b| b["type"] == "image"))
    })
}

/// The request as the `/api/chat` body Ollama turns it into (system first, text only), for the
/// fake's prompt count and `/api/ps`.
fn ollama_body(body: &Value) -> Value {
    let mut messages = Vec::new();
    let system = text_of(&body["system"]);
    if !system.is_empty() {
        messages.push(json!({"role": "system", "content": system}));
    }
    for m in body["messages"].as_array().into_iter().flatten() {
        messages.push(json!({"role": m["role"], "content": text_of(&m["content"])}));
    }
    json!({"model": body["model"], "messages": messages})
}

/// The `input_tokens` of `message_start`: Ollama's estimate before the prompt is evaluated, a
/// quarter of the bytes of the system prompt and each message's role and text.
fn input_estimate(body: &Value) -> u64 {
    let system = text_of(&body["system"]).len();
    let messages: usize = body["messages"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|m| str_field(m, "role").len() + text_of(&m["content"]).len())
        .sum();
    ((system + messages) / 4) as u64
}

/// "tiny:latest" → "registry.ollama.ai/library/tiny:latest", as Ollama names models in errors.
fn registry_name(name: &str) -> String {
    if name.contains('/') {
        format!("registry.ollama.ai/{name}")
    } else {
        format!("registry.ollama.ai/library/{name}")
    }
}

/// Anthropic's error `type` for a status.
fn error_type(status: u16) -> &'static str {
    match status {
        400 => "invalid_request_error",
        401 => "authentication_error",
        403 => "permission_error",
        404 => "not_found_error",
        413 => "request_too_large",
        429 => "rate_limit_error",
        529 => "overloaded_error",
        _ => "api_error",
    }
}

/// `{"type":"error","error":{"type":…,"message":…},"request_id":"req_…"}`
fn anthropic_error_json(kind: &str, message: &str) -> String {
    format!(
        r#"{{"type":"error","error":{{"type":{},"message":{}}},"request_id":{}}}"#,
        go_str(kind),
        go_str(message),
        go_str(&format!("req_{}", hex_id()))
    )
}

/// 24 hex digits, different on every call (the recorded ids' length).
fn hex_id() -> String {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    let seed = format!("{nanos}-{}", NEXT.fetch_add(1, Ordering::Relaxed));
    let (a, b) = (fnv1a(seed.as_bytes(), 1), fnv1a(seed.as_bytes(), 2));
    format!("{a:016x}{:08x}", b as u32)
}

/// Anthropic's stop reason for Ollama's done reason.
fn stop_reason(done_reason: &str) -> &str {
    match done_reason {
        "stop" => "end_turn",
        "length" => "max_tokens",
        other => other,
    }
}

// ============================================================================================
// Anthropic's frames: named server-sent events
// ============================================================================================

/// `/v1/messages`' bytes: one `event: name` + `data: {json}` per HTTP chunk; a content block per
/// part of the reply (thinking, then text), opened at its first token and closed before the next
/// block or the end.
pub(crate) struct AnthropicFrames {
    id: String,
    input_estimate: u64,
    /// The block being streamed, and its index.
    open: Option<Part>,
    index: usize,
    /// The thinking so far, which the block's signature signs.
    thinking: String,
    /// Tool calls were sent: the stop reason is `tool_use`.
    called: bool,
}

impl AnthropicFrames {
    pub(crate) fn new(input_estimate: u64) -> Self {
        AnthropicFrames {
            id: format!("msg_{}", hex_id()),
            input_estimate,
            open: None,
            index: 0,
            thinking: String::new(),
            called: false,
        }
    }

    /// Ends the open block, a thinking block with its signature first.
    fn close_block(&mut self) -> Vec<String> {
        let Some(part) = self.open.take() else {
            return Vec::new();
        };
        let mut frames = Vec::new();
        if part == Part::Thinking {
            let delta = format!(
                r#"{{"type":"signature_delta","signature":{}}}"#,
                go_str(&signature(&self.thinking))
            );
            frames.push(self.delta(&delta));
        }
        let stop = format!(r#"{{"type":"content_block_stop","index":{}}}"#, self.index);
        frames.push(sse("content_block_stop", &stop));
        self.index += 1;
        frames
    }

    fn delta(&self, delta: &str) -> String {
        let json = format!(
            r#"{{"type":"content_block_delta","index":{},"delta":{delta}}}"#,
            self.index
        );
        sse("content_block_delta", &json)
    }
}

fn sse(event: &str, json: &str) -> String {
    format!("event: {event}\ndata: {json}\n\n")
}

/// A stand-in for Anthropic's opaque signature of a thinking block.
fn signature(thinking: &str) -> String {
    format!("fake-sig-{:016x}", fnv1a(thinking.as_bytes(), 7))
}

impl Frames for AnthropicFrames {
    fn stream_headers(&self) -> &'static [(&'static str, &'static str)] {
        &[
            ("Cache-Control", "no-cache"),
            ("Connection", "keep-alive"),
            ("Content-Type", SSE),
        ]
    }

    fn start(&mut self, plan: &Plan) -> Vec<String> {
        let json = format!(
            r#"{{"type":"message_start","message":{{"id":{},"type":"message","role":"assistant","model":{},"content":[],"usage":{{"input_tokens":{},"output_tokens":0}}}}}}"#,
            go_str(&self.id),
            go_str(&plan.model),
            self.input_estimate
        );
        let mut frames = vec![sse("message_start", &json)];
        if plan.ping {
            frames.push(sse("ping", r#"{"type":"ping"}"#));
        }
        frames
    }

    fn token(&mut self, _plan: &Plan, part: Part, text: &str) -> Vec<String> {
        let mut frames = Vec::new();
        if self.open != Some(part) {
            frames.extend(self.close_block());
            let block = match part {
                Part::Thinking => r#"{"type":"thinking","thinking":""}"#,
                Part::Text => r#"{"type":"text","text":""}"#,
            };
            let json = format!(
                r#"{{"type":"content_block_start","index":{},"content_block":{block}}}"#,
                self.index
            );
            frames.push(sse("content_block_start", &json));
            self.open = Some(part);
        }
        let delta = match part {
            Part::Thinking => {
                self.thinking.push_str(text);
                format!(r#"{{"type":"thinking_delta","thinking":{}}}"#, go_str(text))
            }
            Part::Text => format!(r#"{{"type":"text_delta","text":{}}}"#, go_str(text)),
        };
        frames.push(self.delta(&delta));
        frames
    }

    /// Each call a `tool_use` block whose input arrives in three `input_json_delta`s.
    fn tool_calls(&mut self, plan: &Plan) -> Vec<String> {
        self.called = true;
        let mut frames = self.close_block();
        for (i, (name, args)) in plan.tool_calls.iter().enumerate() {
            let start = format!(
                r#"{{"type":"content_block_start","index":{},"content_block":{{"type":"tool_use","id":"toolu_{i}","name":{},"input":{{}}}}}}"#,
                self.index,
                go_str(&super::reply::wire_name(name))
            );
            frames.push(sse("content_block_start", &start));
            for piece in super::reply::argument_pieces(args) {
                let delta = format!(
                    r#"{{"type":"input_json_delta","partial_json":{}}}"#,
                    go_str(&piece)
                );
                frames.push(self.delta(&delta));
            }
            let stop = format!(r#"{{"type":"content_block_stop","index":{}}}"#, self.index);
            frames.push(sse("content_block_stop", &stop));
            self.index += 1;
        }
        frames
    }

    fn end(&mut self, plan: &Plan) -> Vec<String> {
        let mut frames = self.close_block();
        let reason = if self.called {
            "tool_use"
        } else {
            stop_reason(&plan.done_reason)
        };
        let json = format!(
            r#"{{"type":"message_delta","delta":{{"stop_reason":{}}},"usage":{{"input_tokens":{},"output_tokens":{}}}}}"#,
            go_str(reason),
            plan.prompt_eval_count,
            plan.eval_count
        );
        frames.push(sse("message_delta", &json));
        frames.push(sse("message_stop", r#"{"type":"message_stop"}"#));
        frames
    }

    /// The error event Anthropic sends mid-stream when it is overloaded; the stream then ends.
    fn stream_error(&mut self, _plan: &Plan, message: &str) -> Vec<String> {
        let json = format!(
            r#"{{"type":"error","error":{{"type":"overloaded_error","message":{}}}}}"#,
            go_str(message)
        );
        vec![sse("error", &json)]
    }

    /// One `message` object (recording 28_v1_messages_nonstream), a thinking block first if any.
    fn whole(&self, plan: &Plan) -> (&'static str, String) {
        let mut content = Vec::new();
        if !plan.thinking.is_empty() {
            let thinking = plan.thinking.concat();
            content.push(format!(
                r#"{{"type":"thinking","thinking":{},"signature":{}}}"#,
                go_str(&thinking),
                go_str(&signature(&thinking))
            ));
        }
        content.push(format!(
            r#"{{"type":"text","text":{}}}"#,
            go_str(&plan.tokens.concat())
        ));
        let json = format!(
            r#"{{"id":{},"type":"message","role":"assistant","model":{},"content":[{}],"stop_reason":{},"usage":{{"input_tokens":{},"output_tokens":{}}}}}"#,
            go_str(&self.id),
            go_str(&plan.model),
            content.join(","),
            go_str(stop_reason(&plan.done_reason)),
            plan.prompt_eval_count,
            plan.eval_count
        );
        ("application/json", json)
    }

    fn error(&self, status: u16, message: &str) -> (&'static str, String) {
        let json = anthropic_error_json(error_type(status), message);
        ("application/json", json)
    }
}
