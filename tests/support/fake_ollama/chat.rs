//! `POST /api/chat`: validation like the real server, the default echo reply, and Ollama's NDJSON
//! frames for the reply engine (`reply.rs`) that plays it and scripted replies.

use std::fmt::Write as _;
use std::time::{Duration, Instant, SystemTime};

use serde_json::Value;

use super::context::{count_prompt, message_tokens, refusal, request_window, whole_prompt};
use super::fast::fast_or_default_chat;
use super::hostile::{self, ChatApi};
use super::http::{After, Conn, Gone, Request};
use super::json::{
    check_field, decode_body, first_json_value, go_quote, go_str, rfc3339_nano, str_field,
};
use super::reply::{play, take_queued, Frames, Part, Plan, Queued};
use super::routes::{capabilities, keep_alive, JSON, NDJSON};

// ============================================================================================
// POST /api/chat
// ============================================================================================

pub(crate) fn handle_chat(req: &Request, conn: &Conn) -> Result<After, Gone> {
    if let Some(answered) = hostile::chat(req, conn, ChatApi::Ollama) {
        return answered;
    }
    // A hosted Ollama (see `require_ollama_key`): the key as a bearer token, or a 401.
    let wanted = conn.shared.lock().ollama_key.clone();
    if let Some(key) = wanted {
        if req.header("authorization") != Some(format!("Bearer {key}").as_str()) {
            return conn.send_error(401, "unauthorized");
        }
    }
    let started = Instant::now();
    let decoded = decode_chat_request(&req.body);
    if let Ok(body) = &decoded {
        // A model not in memory is loaded first (see `set_load_delay`).
        conn.shared.wait_for_load(str_field(body, "model"), body);
    }
    let load_only = decoded.as_ref().is_ok_and(|body| messages(body).is_empty());
    let queued = if load_only {
        Queued::Nothing
    } else {
        take_queued(conn, &OllamaFrames)
    };
    let script = match queued {
        Queued::Nothing => return fast_or_default_chat(decoded, conn, started),
        Queued::Answered(result) => return result,
        Queued::Play(script) => *script,
    };
    // Scripted replies skip validation; the request only supplies the model name, the stream flag
    // and the prompt size.
    let body = first_json_value(&req.body)
        .and_then(Result::ok)
        .unwrap_or(Value::Null);
    let model = str_field(&body, "model").to_string();
    conn.shared.mark_loaded(&model, &body);
    let prompt = count_prompt(conn.shared, &body);
    let plan = Plan::scripted(script, model, prompt, stream_requested(&body), started);
    play(conn, &plan, &mut OllamaFrames)
}

/// What a real server answers when nothing is queued: validation, then an echo of the last user message.
pub(crate) fn default_chat(
    decoded: Result<Value, String>,
    conn: &Conn,
    started: Instant,
) -> Result<After, Gone> {
    let body = match decoded {
        Ok(body) => body,
        Err(message) => return conn.send_error(400, &message),
    };
    let model = str_field(&body, "model");
    if model.is_empty() {
        return conn.send_error(400, "model is required");
    }
    let caps = conn
        .shared
        .lock()
        .find_model(model)
        .map(|m| capabilities(&m.name));
    let Some(caps) = caps else {
        return conn.send_error(404, &format!("model '{model}' not found"));
    };
    if !caps.contains(&"completion") {
        return conn.send_error(400, &format!("{} does not support chat", go_quote(model)));
    }
    let think = think_requested(&body);
    if think && !caps.contains(&"thinking") {
        return conn.send_error(
            400,
            &format!("{} does not support thinking", go_quote(model)),
        );
    }
    // As in 20_chat_tools_unsupported.
    let wants_tools = body
        .get("tools")
        .and_then(Value::as_array)
        .is_some_and(|t| !t.is_empty());
    if wants_tools && !caps.contains(&"tools") {
        return conn.send_error(400, &format!("{} does not support tools", go_quote(model)));
    }

    if let Some(refusal) = image_refusal(&body, caps) {
        return conn.send_error(400, &refusal);
    }

    let messages = messages(&body);
    if body.get("truncate") == Some(&Value::Bool(false)) {
        let window = request_window(conn.shared, &body);
        if let Some(refusal) = refusal(whole_prompt(&body), window) {
            return conn.send_error(400, &refusal);
        }
    }
    if messages.is_empty() {
        // Load (or with keep_alive 0, unload) the model: one JSON object even when streaming.
        let reason = if keep_alive(&body) == Some(Duration::ZERO) {
            conn.shared.unload(model);
            "unload"
        } else {
            conn.shared.mark_loaded(model, &body);
            "load"
        };
        let json = format!(
            r#"{{"model":{},"created_at":{},"message":{},"done":true,"done_reason":{}}}"#,
            go_str(model),
            go_str(&rfc3339_nano(SystemTime::now())),
            message_json("", ""),
            go_str(reason)
        );
        return conn.send_json(200, &json);
    }

    let last_user = messages
        .iter()
        .rev()
        .find(|m| m.get("role").and_then(Value::as_str) == Some("user"))
        .map(|m| str_field(m, "content"))
        .unwrap_or("");
    let mut thinking = if think {
        tokenize(&format!("thinking about: {last_user}"))
    } else {
        Vec::new()
    };
    let mut tokens = tokenize(&format!("echo: {last_user}"));
    let mut done_reason = "stop";
    let prompt_eval_count = count_prompt(conn.shared, &body);
    // Generating past the window stops the reply, as in 22_ctx_overflow_during_generation.
    let room = request_window(conn.shared, &body).saturating_sub(prompt_eval_count);
    let room = usize::try_from(room).unwrap_or(usize::MAX);
    if thinking.len() + tokens.len() > room {
        thinking.truncate(room);
        tokens.truncate(room - thinking.len());
        done_reason = "length";
    }
    if let Some(limit) = body.pointer("/options/num_predict").and_then(Value::as_i64) {
        let limit = usize::try_from(limit).unwrap_or(usize::MAX); // negative: no limit
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
        prompt_eval_count,
        stream_requested(&body),
        started,
    );
    play(conn, &plan, &mut OllamaFrames)
}

/// Decodes a chat body as Go's `json.Decoder` into `api.ChatRequest` would, with its error messages.
pub(crate) fn decode_chat_request(body: &[u8]) -> Result<Value, String> {
    let value = decode_body(body, "api.ChatRequest")?;
    check_field(&value, "ChatRequest.model", "string", Value::is_string)?;
    check_field(
        &value,
        "ChatRequest.messages",
        "[]api.Message",
        Value::is_array,
    )?;
    check_field(&value, "ChatRequest.stream", "bool", Value::is_boolean)?;
    Ok(value)
}

pub(crate) fn messages(body: &Value) -> &[Value] {
    body.get("messages")
        .and_then(Value::as_array)
        .map_or(&[], Vec::as_slice)
}

pub(crate) fn stream_requested(body: &Value) -> bool {
    body.get("stream").and_then(Value::as_bool).unwrap_or(true)
}

/// `think: true` or a level ("low", "medium", "high").
pub(crate) fn think_requested(body: &Value) -> bool {
    match body.get("think") {
        Some(Value::Bool(b)) => *b,
        Some(Value::String(s)) => !s.is_empty() && s != "false",
        _ => false,
    }
}

/// The fake's prompt size before any cut: per message, see `context::message_tokens`.
pub(crate) fn prompt_tokens(body: &Value) -> u64 {
    messages(body).iter().map(message_tokens).sum()
}

/// Splits text like the recordings' tokens: a space starts a new token (" hello"), a newline is a
/// token of its own, characters are never split.
pub(crate) fn tokenize(text: &str) -> Vec<String> {
    let mut tokens = Vec::new();
    let mut current = String::new();
    for ch in text.chars() {
        if ch == '\n' {
            if !current.is_empty() {
                tokens.push(std::mem::take(&mut current));
            }
            tokens.push("\n".to_string());
            continue;
        }
        if ch == ' ' && !current.is_empty() && !current.ends_with(' ') {
            tokens.push(std::mem::take(&mut current));
        }
        current.push(ch);
    }
    if !current.is_empty() {
        tokens.push(current);
    }
    tokens
}

// ============================================================================================
// Ollama's frames: NDJSON lines
// ============================================================================================

/// `/api/chat`'s bytes: one NDJSON line per chunk, the `done:true` object last, errors as
/// `{"error":msg}`.
pub(crate) struct OllamaFrames;

impl Frames for OllamaFrames {
    fn stream_headers(&self) -> &'static [(&'static str, &'static str)] {
        &[("Content-Type", NDJSON)]
    }

    fn token(&mut self, plan: &Plan, part: Part, text: &str) -> Vec<String> {
        let message = match part {
            Part::Thinking => message_json("", text),
            Part::Text => message_json(text, ""),
        };
        vec![format!(
            "{{\"model\":{},\"created_at\":{},\"message\":{},\"done\":false}}\n",
            go_str(&plan.model),
            go_str(&rfc3339_nano(SystemTime::now())),
            message
        )]
    }

    /// All calls in one chunk, as Ollama sends them once its parser has them whole.
    fn tool_calls(&mut self, plan: &Plan) -> Vec<String> {
        let calls: Vec<Value> = plan
            .tool_calls
            .iter()
            .enumerate()
            .map(|(i, (name, args))| {
                serde_json::json!({"id": format!("call_{i}"), "function": {"index": i, "name": name, "arguments": args}})
            })
            .collect();
        vec![format!(
            "{{\"model\":{},\"created_at\":{},\"message\":{{\"role\":\"assistant\",\"content\":\"\",\"tool_calls\":{}}},\"done\":false}}\n",
            go_str(&plan.model),
            go_str(&rfc3339_nano(SystemTime::now())),
            serde_json::to_string(&calls).unwrap()
        )]
    }

    fn end(&mut self, plan: &Plan) -> Vec<String> {
        vec![final_json(plan, "", "") + "\n"]
    }

    fn stream_error(&mut self, _plan: &Plan, message: &str) -> Vec<String> {
        vec![error_json(message) + "\n"]
    }

    fn whole(&self, plan: &Plan) -> (&'static str, String) {
        let json = final_json(plan, &plan.tokens.concat(), &plan.thinking.concat());
        (JSON, json)
    }

    fn error(&self, _status: u16, message: &str) -> (&'static str, String) {
        (JSON, error_json(message))
    }
}

/// The `done:true` object, field order as in the recordings; zero metrics are omitted (Go omitempty).
pub(crate) fn final_json(plan: &Plan, content: &str, thinking: &str) -> String {
    let load_duration: u64 = 1_046_115;
    let prompt_eval_duration = plan.prompt_eval_count.saturating_mul(1_465_000);
    let eval_duration = plan.eval_count.saturating_mul(10_000_000);
    let elapsed = u64::try_from(plan.started.elapsed().as_nanos()).unwrap_or(u64::MAX);
    let total_duration = load_duration
        .saturating_add(prompt_eval_duration)
        .saturating_add(eval_duration)
        .saturating_add(elapsed);
    let mut out = format!(r#"{{"model":{}"#, go_str(&plan.model));
    // A cloud model: where the server forwarded the request. Not recorded; the fields and their
    // place follow `api.ChatResponse` in Ollama's source (both omitted when empty).
    if let Some(remote) = plan.model.strip_suffix("-cloud") {
        let _ = write!(
            out,
            r#","remote_model":{},"remote_host":"https://ollama.com:443""#,
            go_str(remote)
        );
    }
    let _ = write!(
        out,
        r#","created_at":{},"message":{},"done":true"#,
        go_str(&rfc3339_nano(SystemTime::now())),
        message_json(content, thinking)
    );
    if !plan.done_reason.is_empty() {
        let _ = write!(out, r#","done_reason":{}"#, go_str(&plan.done_reason));
    }
    let metrics = [
        ("total_duration", total_duration),
        ("load_duration", load_duration),
        ("prompt_eval_count", plan.prompt_eval_count),
        ("prompt_eval_duration", prompt_eval_duration),
        ("eval_count", plan.eval_count),
        ("eval_duration", eval_duration),
    ];
    for (name, value) in metrics {
        if value > 0 {
            let _ = write!(out, r#","{name}":{value}"#);
        }
    }
    out.push('}');
    out
}

pub(crate) fn message_json(content: &str, thinking: &str) -> String {
    let mut out = format!(r#"{{"role":"assistant","content":{}"#, go_str(content));
    if !thinking.is_empty() {
        let _ = write!(out, r#","thinking":{}"#, go_str(thinking));
    }
    out.push('}');
    out
}

pub(crate) fn error_json(message: &str) -> String {
    format!(r#"{{"error":{}}}"#, go_str(message))
}

/// What the recorded server answers for `images` it cannot take (29_chat_image_*): a string that
/// is not plain base64 (a `data:` prefix), or any image for a model without vision.
fn image_refusal(body: &Value, caps: &[&str]) -> Option<String> {
    use base64::Engine as _;
    let mut any = false;
    for m in messages(body) {
        let images = m.get("images").and_then(Value::as_array);
        for (i, image) in images.into_iter().flatten().enumerate() {
            any = true;
            let text = image.as_str().unwrap_or_default();
            if let Err(e) = base64::engine::general_purpose::STANDARD.decode(text) {
                let at = match e {
                    base64::DecodeError::InvalidByte(at, _) => at,
                    _ => text.len(),
                };
                return Some(format!(
                    "json: cannot unmarshal string into Alias.images.{i} of type api.ImageData: illegal base64 data at input byte {at}"
                ));
            }
        }
    }
    (any && !caps.contains(&"vision")).then(|| super::anthropic::NO_VISION.to_string())
}
