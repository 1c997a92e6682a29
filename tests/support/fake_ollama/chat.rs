//! `POST /api/chat`: validation like the real server, then the reply engine shared by the default
//! echo reply and scripted replies (streams, faults, byte splits).

use std::fmt::Write as _;
use std::time::{Duration, Instant, SystemTime};

use serde_json::Value;

use super::context::{count_prompt, message_tokens, request_window};
use super::fast::fast_or_default_chat;
use super::http::{response_head, After, BodyOut, Conn, Framing, Gone, Request};
use super::json::{
    check_field, decode_body, first_json_value, go_quote, go_str, rfc3339_nano, str_field,
};
use super::routes::{capabilities, keep_alive, JSON, NDJSON};
use super::{ChatReply, End, Script};

// ============================================================================================
// POST /api/chat
// ============================================================================================

pub(crate) fn handle_chat(req: &Request, conn: &Conn) -> Result<After, Gone> {
    let started = Instant::now();
    let decoded = decode_chat_request(&req.body);
    let load_only = decoded.as_ref().is_ok_and(|body| messages(body).is_empty());
    let scripted = if load_only {
        None
    } else {
        conn.shared.lock().queue.pop_front()
    };
    let script = match scripted {
        None => return fast_or_default_chat(decoded, conn, started),
        Some(ChatReply::HttpError { status, message }) => return conn.send_error(status, &message),
        Some(ChatReply::HttpErrorHeaders {
            status,
            message,
            headers,
        }) => {
            let mut all: Vec<(&str, &str)> = vec![("Content-Type", JSON)];
            all.extend(headers.iter().map(|(k, v)| (k.as_str(), v.as_str())));
            return conn.send(status, &all, error_json(&message).as_bytes());
        }
        Some(ChatReply::Raw(bytes)) => {
            conn.write_all(&bytes)?;
            return Ok(After::Close);
        }
        Some(ChatReply::Tokens(tokens)) => Script {
            tokens,
            ..Script::default()
        },
        Some(ChatReply::Thinking { thinking, content }) => Script {
            thinking,
            tokens: content,
            ..Script::default()
        },
        Some(ChatReply::Script(script)) => script,
    };

    // Scripted replies skip validation; the request only supplies the model name, the stream flag
    // and the prompt size.
    let body = first_json_value(&req.body)
        .and_then(Result::ok)
        .unwrap_or(Value::Null);
    let model = str_field(&body, "model").to_string();
    conn.shared.mark_loaded(&model, &body);
    let eval_count = (script.thinking.len() + script.tokens.len()) as u64;
    let plan = Plan {
        model,
        prompt_eval_count: script
            .prompt_eval_count
            .unwrap_or_else(|| count_prompt(conn.shared, &body)),
        eval_count: script.eval_count.unwrap_or(eval_count),
        done_reason: script.done_reason.unwrap_or_else(|| "stop".to_string()),
        thinking: script.thinking,
        tokens: script.tokens,
        first_delay: script.first_delay,
        delay: script.delay,
        end: script.end,
        split_every: script.split_every,
        stream: stream_requested(&body),
        started,
    };
    run_plan(conn, &plan)
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

    let messages = messages(&body);
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
    let plan = Plan {
        model: model.to_string(),
        prompt_eval_count,
        eval_count: (thinking.len() + tokens.len()) as u64,
        done_reason: done_reason.to_string(),
        thinking,
        tokens,
        first_delay: Duration::ZERO,
        delay: Duration::ZERO,
        end: End::Final,
        split_every: None,
        stream: stream_requested(&body),
        started,
    };
    run_plan(conn, &plan)
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
// Reply engine (shared by default and scripted replies)
// ============================================================================================

pub(crate) struct Plan {
    pub(crate) model: String,
    pub(crate) thinking: Vec<String>,
    pub(crate) tokens: Vec<String>,
    pub(crate) first_delay: Duration,
    pub(crate) delay: Duration,
    pub(crate) end: End,
    pub(crate) split_every: Option<usize>,
    pub(crate) prompt_eval_count: u64,
    pub(crate) eval_count: u64,
    pub(crate) done_reason: String,
    pub(crate) stream: bool,
    pub(crate) started: Instant,
}

pub(crate) fn run_plan(conn: &Conn, plan: &Plan) -> Result<After, Gone> {
    if plan.stream {
        stream_reply(conn, plan)
    } else {
        whole_reply(conn, plan)
    }
}

/// `application/x-ndjson`, chunked, one line per chunk (or `split_every` pieces).
pub(crate) fn stream_reply(conn: &Conn, plan: &Plan) -> Result<After, Gone> {
    let head = response_head(
        200,
        &[("Content-Type", NDJSON)],
        Framing::Chunked,
        conn.close,
    );
    let mut out = BodyOut::new(conn, head, true, plan.split_every);
    conn.wait(plan.first_delay)?;
    let thinking = plan.thinking.iter().map(|t| message_json("", t));
    let content = plan.tokens.iter().map(|t| message_json(t, ""));
    let mut sent_any = false;
    for message in thinking.chain(content) {
        if sent_any {
            conn.wait(plan.delay)?;
        }
        let line = format!(
            r#"{{"model":{},"created_at":{},"message":{},"done":false}}"#,
            go_str(&plan.model),
            go_str(&rfc3339_nano(SystemTime::now())),
            message
        );
        out.push_line(&line)?;
        sent_any = true;
    }
    match &plan.end {
        End::Final | End::Error(_) => {
            if sent_any {
                conn.wait(plan.delay)?;
            }
            let line = match &plan.end {
                End::Error(message) => error_json(message),
                _ => final_json(plan, "", ""),
            };
            out.push_line(&line)?;
            out.finish()?;
            Ok(After::KeepAlive)
        }
        End::Drop => {
            out.flush()?;
            Ok(After::Close)
        }
        End::Stall(duration) => {
            out.flush()?;
            conn.wait(*duration)?;
            Ok(After::Close)
        }
    }
}

/// A `"stream": false` answer comes after the time the whole stream would have taken.
pub(crate) fn wait_whole_generation(conn: &Conn, plan: &Plan) -> Result<(), Gone> {
    let chunks = u32::try_from(plan.thinking.len() + plan.tokens.len()).unwrap_or(u32::MAX);
    let generation = plan.delay.checked_mul(chunks).unwrap_or(Duration::MAX);
    conn.wait(plan.first_delay.saturating_add(generation))
}

/// `"stream": false`: one JSON object after the whole generation time.
pub(crate) fn whole_reply(conn: &Conn, plan: &Plan) -> Result<After, Gone> {
    wait_whole_generation(conn, plan)?;
    match &plan.end {
        End::Final => {
            let json = final_json(plan, &plan.tokens.concat(), &plan.thinking.concat());
            conn.send_body(
                200,
                &[("Content-Type", JSON)],
                json.as_bytes(),
                plan.split_every,
            )
        }
        End::Error(message) => conn.send_error(500, message),
        End::Drop => Ok(After::Close),
        End::Stall(duration) => {
            conn.wait(*duration)?;
            Ok(After::Close)
        }
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
    let mut out = format!(
        r#"{{"model":{},"created_at":{},"message":{},"done":true"#,
        go_str(&plan.model),
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
