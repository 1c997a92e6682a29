//! The OpenAI-compatible endpoints Ollama serves under `/v1` (`POST /v1/chat/completions`,
//! `GET /v1/models`, `GET /v1/models/{id}`), shaped like the recordings 23–25: server-sent events
//! (`data: {chunk}` + blank line, `data: [DONE]`), the usage chunk when `stream_options.
//! include_usage` is set, and errors as `{"error":{"message","type","param","code"}}`.
//!
//! Scripted replies (`push_chat`) are shared with the other chat routes and played by the same
//! engine (`reply.rs`) through `OpenAiFrames`; its faults map as: `End::Error` → an OpenAI-style error event, then the stream ends without
//! `[DONE]` (what OpenAI and vLLM send; Ollama v0.32 itself just ends the stream), `End::Drop` and
//! `End::Stall` as on `/api/chat`, `split_every` cuts the SSE bytes anywhere.

use std::fmt::Write as _;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use serde_json::Value;

use super::anthropic::{check_x_api_key, is_anthropic};
use super::chat::{messages, prompt_tokens, tokenize};
use super::hostile::{self, ChatApi, Listing};
use super::http::{After, Conn, Gone, Request};
use super::json::{decode_body, go_quote, go_str, str_field};
use super::reply::{play, take_queued, Frames, Part, Plan, Queued};
use super::routes::{capabilities, normalize_model_name, JSON};

pub(crate) const SSE: &str = "text/event-stream";

/// The error `type` Ollama gives each status (openai.NewError).
pub(crate) fn openai_error_type(status: u16) -> &'static str {
    match status {
        400 => "invalid_request_error",
        404 => "not_found_error",
        _ => "api_error",
    }
}

/// `{"error":{"message":…,"type":…,"param":null,"code":…}}`
pub(crate) fn openai_error_json(message: &str, kind: &str, code: Option<&str>) -> String {
    format!(
        r#"{{"error":{{"message":{},"type":{},"param":null,"code":{}}}}}"#,
        go_str(message),
        go_str(kind),
        code.map_or_else(|| "null".to_string(), go_str)
    )
}

impl Conn<'_> {
    /// An error from the chat handler (Content-Type without charset, as recorded).
    pub(crate) fn send_openai_error(&self, status: u16, message: &str) -> Result<After, Gone> {
        let json = openai_error_json(message, openai_error_type(status), None);
        self.send(
            status,
            &[("Content-Type", "application/json")],
            json.as_bytes(),
        )
    }

    /// An error from the /v1 middleware's own checks (gin's JSON type, with charset, as recorded).
    pub(crate) fn send_openai_request_error(&self, message: &str) -> Result<After, Gone> {
        let json = openai_error_json(message, openai_error_type(400), None);
        self.send(400, &[("Content-Type", JSON)], json.as_bytes())
    }
}

/// The key check of a server started with `require_api_key`: 401 in OpenAI's shape (in
/// Anthropic's for an Anthropic request), or `None` when the request may go on.
pub(crate) fn check_api_key(req: &Request, conn: &Conn) -> Option<Result<After, Gone>> {
    if is_anthropic(req) {
        return check_x_api_key(req, conn);
    }
    let wanted = conn.shared.lock().api_key.clone()?;
    let given = req
        .header("Authorization")
        .and_then(|h| h.strip_prefix("Bearer "))
        .unwrap_or("");
    if given == wanted {
        return None;
    }
    let message = if given.is_empty() {
        "You didn't provide an API key.".to_string()
    } else {
        // OpenAI echoes a masked key; this fake echoes it whole, so a client that prints the
        // server's message unredacted is caught by the tests.
        format!("Incorrect API key provided: {given}.")
    };
    let json = openai_error_json(&message, "invalid_request_error", Some("invalid_api_key"));
    Some(conn.send(
        401,
        &[("Content-Type", "application/json")],
        json.as_bytes(),
    ))
}

pub(crate) fn handle_v1_models(req: &Request, conn: &Conn) -> Result<After, Gone> {
    if let Some(denied) = check_api_key(req, conn) {
        return denied;
    }
    if let Some(endless) = hostile::endless_listing(conn, Listing::V1Models) {
        return endless;
    }
    let body = {
        let state = conn.shared.lock();
        let data: Vec<String> = state
            .models
            .iter()
            .map(|m| {
                format!(
                    r#"{{"id":{},"object":"model","created":{},"owned_by":"library"}}"#,
                    go_str(&m.name),
                    unix_now() - 3600
                )
            })
            .collect();
        format!(r#"{{"object":"list","data":[{}]}}"#, data.join(","))
    };
    conn.send(
        200,
        &[("Content-Type", "application/json")],
        body.as_bytes(),
    )
}

/// `GET /v1/models/{id}`.
pub(crate) fn handle_v1_model(req: &Request, conn: &Conn) -> Result<After, Gone> {
    if let Some(denied) = check_api_key(req, conn) {
        return denied;
    }
    let id = req.path().trim_start_matches("/v1/models/");
    let found = conn.shared.lock().find_model(id).is_some();
    if !found {
        let message = format!("model '{}' not found", normalize_model_name(id));
        return conn.send_openai_error(404, &message);
    }
    let body = format!(
        r#"{{"id":{},"object":"model","created":{},"owned_by":"library"}}"#,
        go_str(id),
        unix_now() - 3600
    );
    conn.send(
        200,
        &[("Content-Type", "application/json")],
        body.as_bytes(),
    )
}

pub(crate) fn handle_v1_chat(req: &Request, conn: &Conn) -> Result<After, Gone> {
    if let Some(answered) = hostile::chat(req, conn, ChatApi::OpenAi) {
        return answered;
    }
    let started = Instant::now();
    if let Some(denied) = check_api_key(req, conn) {
        return denied;
    }
    let decoded = decode_body(&req.body, "openai.ChatCompletionRequest");
    let usage = decoded.as_ref().is_ok_and(include_usage);
    let script = match take_queued(conn, &OpenAiFrames::new(usage)) {
        Queued::Nothing => return default_v1_chat(decoded, conn, started),
        Queued::Answered(result) => return result,
        Queued::Play(script) => *script,
    };
    let body = decoded.unwrap_or(Value::Null);
    let model = str_field(&body, "model").to_string();
    conn.shared.mark_loaded(&model, &body);
    let stream = v1_stream_requested(&body);
    let plan = Plan::scripted(script, model, prompt_tokens(&body), stream, started);
    play(conn, &plan, &mut OpenAiFrames::new(usage))
}

/// The real server's checks, then an echo of the last user message (as on `/api/chat`).
pub(crate) fn default_v1_chat(
    decoded: Result<Value, String>,
    conn: &Conn,
    started: Instant,
) -> Result<After, Gone> {
    let body = match decoded {
        Ok(body) => body,
        Err(message) => return conn.send_openai_request_error(&message),
    };
    if messages(&body).is_empty() {
        return conn.send_openai_request_error("[] is too short - 'messages'");
    }
    let effort = str_field(&body, "reasoning_effort");
    if !effort.is_empty() && !["high", "medium", "low", "none"].contains(&effort) {
        let message = format!(
            "invalid reasoning value: '{effort}' (must be \"high\", \"medium\", \"low\", or \"none\")"
        );
        return conn.send_openai_request_error(&message);
    }
    let model = str_field(&body, "model");
    if model.is_empty() {
        return conn.send_openai_error(400, "model is required");
    }
    let caps = conn
        .shared
        .lock()
        .find_model(model)
        .map(|m| capabilities(&m.name));
    let Some(caps) = caps else {
        return conn.send_openai_error(404, &format!("model '{model}' not found"));
    };
    let has_image = messages(&body).iter().any(|m| {
        m["content"]
            .as_array()
            .is_some_and(|parts| parts.iter().any(|p| p["type"] == "image_url"))
    });
    if has_image && !caps.contains(&"vision") {
        return conn.send_openai_error(400, super::anthropic::NO_VISION);
    }
    let think = !effort.is_empty() && effort != "none";
    if think && !caps.contains(&"thinking") {
        let message = format!("{} does not support thinking", go_quote(model));
        return conn.send_openai_error(400, &message);
    }
    let last_user = messages(&body)
        .iter()
        .rev()
        .find(|m| m.get("role").and_then(Value::as_str) == Some("user"))
        .map(|m| match m["content"].as_array() {
            // Content parts: the text part.
            Some(parts) => parts
                .iter()
                .find(|p| p["type"] == "text")
                .and_then(|p| p["text"].as_str())
                .unwrap_or(""),
            None => str_field(m, "content"),
        })
        .unwrap_or("");
    let mut thinking = if think {
        tokenize(&format!("thinking about: {last_user}"))
    } else {
        Vec::new()
    };
    let mut tokens = tokenize(&format!("echo: {last_user}"));
    let mut done_reason = "stop";
    if let Some(limit) = body.get("max_tokens").and_then(Value::as_u64) {
        let limit = usize::try_from(limit).unwrap_or(usize::MAX);
        if thinking.len() + tokens.len() > limit {
            thinking.truncate(limit);
            tokens.truncate(limit - thinking.len());
            done_reason = "length";
        }
    }
    conn.shared.mark_loaded(model, &body);
    let plan = Plan::generated(
        model,
        thinking,
        tokens,
        done_reason,
        prompt_tokens(&body),
        v1_stream_requested(&body),
        started,
    );
    play(conn, &plan, &mut OpenAiFrames::new(include_usage(&body)))
}

/// Unlike `/api/chat`, `/v1` streams only when asked to.
pub(crate) fn v1_stream_requested(body: &Value) -> bool {
    body.get("stream").and_then(Value::as_bool).unwrap_or(false)
}

pub(crate) fn include_usage(body: &Value) -> bool {
    body.pointer("/stream_options/include_usage")
        .and_then(Value::as_bool)
        .unwrap_or(false)
}

fn chunk_json(id: &str, plan: &Plan, choices: &str, usage: Option<&str>) -> String {
    let mut out = format!(
        r#"{{"id":{},"object":"chat.completion.chunk","created":{},"model":{},"system_fingerprint":"fp_ollama","choices":{choices}"#,
        go_str(id),
        unix_now(),
        go_str(&plan.model)
    );
    if let Some(usage) = usage {
        let _ = write!(out, r#","usage":{usage}"#);
    }
    out.push('}');
    out
}

fn usage_json(plan: &Plan) -> String {
    format!(
        r#"{{"prompt_tokens":{},"completion_tokens":{},"total_tokens":{}}}"#,
        plan.prompt_eval_count,
        plan.eval_count,
        plan.prompt_eval_count + plan.eval_count
    )
}

fn completion_id() -> String {
    format!("chatcmpl-{}", unix_nanos() % 999)
}

// ============================================================================================
// OpenAI's frames: server-sent events
// ============================================================================================

/// `/v1/chat/completions`' bytes: one `data: {chunk}` event per HTTP chunk, the role in the first
/// delta, thinking as `reasoning`; the end is a `finish_reason` chunk, the usage chunk when asked
/// for, and `data: [DONE]`.
pub(crate) struct OpenAiFrames {
    id: String,
    usage: bool,
    sent_any: bool,
    /// Tool calls were sent: the finish reason is `tool_calls`.
    called: bool,
}

impl OpenAiFrames {
    pub(crate) fn new(usage: bool) -> Self {
        OpenAiFrames {
            id: completion_id(),
            usage,
            sent_any: false,
            called: false,
        }
    }
}

fn event(json: &str) -> String {
    format!("data: {json}\n\n")
}

impl Frames for OpenAiFrames {
    fn stream_headers(&self) -> &'static [(&'static str, &'static str)] {
        &[("Content-Type", SSE)]
    }

    fn token(&mut self, plan: &Plan, part: Part, text: &str) -> Vec<String> {
        let role = if self.sent_any {
            ""
        } else {
            r#""role":"assistant","#
        };
        self.sent_any = true;
        let delta = match part {
            Part::Text => format!(r#"{{{role}"content":{}}}"#, go_str(text)),
            Part::Thinking => format!(r#"{{{role}"content":"","reasoning":{}}}"#, go_str(text)),
        };
        let choices = format!(r#"[{{"index":0,"delta":{delta},"finish_reason":null}}]"#);
        vec![event(&chunk_json(&self.id, plan, &choices, None))]
    }

    /// Each call: a first delta with its id and name, then its arguments in three fragments.
    fn tool_calls(&mut self, plan: &Plan) -> Vec<String> {
        self.called = true;
        let mut frames = Vec::new();
        for (i, (name, args)) in plan.tool_calls.iter().enumerate() {
            let first = format!(
                r#"[{{"index":0,"delta":{{"role":"assistant","content":null,"tool_calls":[{{"index":{i},"id":"call_{i}","type":"function","function":{{"name":{},"arguments":""}}}}]}},"finish_reason":null}}]"#,
                go_str(&super::reply::wire_name(name))
            );
            frames.push(event(&chunk_json(&self.id, plan, &first, None)));
            for piece in super::reply::argument_pieces(args) {
                let more = format!(
                    r#"[{{"index":0,"delta":{{"tool_calls":[{{"index":{i},"function":{{"arguments":{}}}}}]}},"finish_reason":null}}]"#,
                    go_str(&piece)
                );
                frames.push(event(&chunk_json(&self.id, plan, &more, None)));
            }
        }
        frames
    }

    fn end(&mut self, plan: &Plan) -> Vec<String> {
        let reason = if self.called {
            "tool_calls"
        } else {
            &plan.done_reason
        };
        let choices = format!(
            r#"[{{"index":0,"delta":{{}},"finish_reason":{}}}]"#,
            go_str(reason)
        );
        let mut frames = vec![event(&chunk_json(&self.id, plan, &choices, None))];
        if self.usage {
            let json = chunk_json(&self.id, plan, "[]", Some(&usage_json(plan)));
            frames.push(event(&json));
        }
        frames.push("data: [DONE]\n\n".to_string());
        frames
    }

    /// An OpenAI-style error event, and no `[DONE]` (what OpenAI and vLLM send).
    fn stream_error(&mut self, _plan: &Plan, message: &str) -> Vec<String> {
        vec![event(&openai_error_json(message, "api_error", None))]
    }

    /// One `chat.completion` object (recording 24_v1_chat_completions_nonstream).
    fn whole(&self, plan: &Plan) -> (&'static str, String) {
        let mut message = format!(
            r#"{{"role":"assistant","content":{}"#,
            go_str(&plan.tokens.concat())
        );
        if !plan.thinking.is_empty() {
            let _ = write!(
                message,
                r#","reasoning":{}"#,
                go_str(&plan.thinking.concat())
            );
        }
        message.push('}');
        let json = format!(
            r#"{{"id":{},"object":"chat.completion","created":{},"model":{},"system_fingerprint":"fp_ollama","choices":[{{"index":0,"message":{message},"finish_reason":{}}}],"usage":{}}}"#,
            go_str(&completion_id()),
            unix_now(),
            go_str(&plan.model),
            go_str(&plan.done_reason),
            usage_json(plan)
        );
        ("application/json", json)
    }

    fn error(&self, status: u16, message: &str) -> (&'static str, String) {
        let json = openai_error_json(message, openai_error_type(status), None);
        ("application/json", json)
    }
}

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

fn unix_nanos() -> u128 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos())
}
