//! The OpenAI-compatible endpoints Ollama serves under `/v1` (`POST /v1/chat/completions`,
//! `GET /v1/models`, `GET /v1/models/{id}`), shaped like the recordings 23–25: server-sent events
//! (`data: {chunk}` + blank line, `data: [DONE]`), the usage chunk when `stream_options.
//! include_usage` is set, and errors as `{"error":{"message","type","param","code"}}`.
//!
//! Scripted replies (`push_chat`) are shared with `/api/chat`, so the same script drives both APIs;
//! its faults map as: `End::Error` → an OpenAI-style error event, then the stream ends without
//! `[DONE]` (what OpenAI and vLLM send; Ollama v0.32 itself just ends the stream), `End::Drop` and
//! `End::Stall` as on `/api/chat`, `split_every` cuts the SSE bytes anywhere.

use std::fmt::Write as _;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde_json::Value;

use super::chat::{messages, prompt_tokens, tokenize, wait_whole_generation, Plan};
use super::http::{response_head, After, BodyOut, Conn, Framing, Gone, Request};
use super::json::{decode_body, go_quote, go_str, str_field};
use super::routes::{capabilities, normalize_model_name, JSON};
use super::{ChatReply, End, Script};

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

/// The key check of a server started with `require_api_key`: 401 in OpenAI's shape, or `None`
/// when the request may go on.
pub(crate) fn check_api_key(req: &Request, conn: &Conn) -> Option<Result<After, Gone>> {
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
    let started = Instant::now();
    if let Some(denied) = check_api_key(req, conn) {
        return denied;
    }
    let decoded = decode_body(&req.body, "openai.ChatCompletionRequest");
    let scripted = conn.shared.lock().queue.pop_front();
    let script = match scripted {
        None => return default_v1_chat(decoded, conn, started),
        Some(ChatReply::HttpError { status, message }) => {
            return conn.send_openai_error(status, &message)
        }
        Some(ChatReply::HttpErrorHeaders {
            status,
            message,
            headers,
        }) => {
            let json = openai_error_json(&message, openai_error_type(status), None);
            let mut all: Vec<(&str, &str)> = vec![("Content-Type", "application/json")];
            all.extend(headers.iter().map(|(k, v)| (k.as_str(), v.as_str())));
            return conn.send(status, &all, json.as_bytes());
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
    let body = decoded.unwrap_or(Value::Null);
    let model = str_field(&body, "model").to_string();
    conn.shared.mark_loaded(&model, &body);
    let eval_count = (script.thinking.len() + script.tokens.len()) as u64;
    let plan = Plan {
        model,
        prompt_eval_count: script
            .prompt_eval_count
            .unwrap_or_else(|| prompt_tokens(&body)),
        eval_count: script.eval_count.unwrap_or(eval_count),
        done_reason: script.done_reason.unwrap_or_else(|| "stop".to_string()),
        thinking: script.thinking,
        tokens: script.tokens,
        first_delay: script.first_delay,
        delay: script.delay,
        end: script.end,
        split_every: script.split_every,
        stream: v1_stream_requested(&body),
        started,
    };
    run_v1_plan(conn, &plan, include_usage(&body))
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
    let think = !effort.is_empty() && effort != "none";
    if think && !caps.contains(&"thinking") {
        let message = format!("{} does not support thinking", go_quote(model));
        return conn.send_openai_error(400, &message);
    }
    let last_user = messages(&body)
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
    if let Some(limit) = body.get("max_tokens").and_then(Value::as_u64) {
        let limit = usize::try_from(limit).unwrap_or(usize::MAX);
        if thinking.len() + tokens.len() > limit {
            thinking.truncate(limit);
            tokens.truncate(limit - thinking.len());
            done_reason = "length";
        }
    }
    conn.shared.mark_loaded(model, &body);
    let plan = Plan {
        model: model.to_string(),
        prompt_eval_count: prompt_tokens(&body),
        eval_count: (thinking.len() + tokens.len()) as u64,
        done_reason: done_reason.to_string(),
        thinking,
        tokens,
        first_delay: Duration::ZERO,
        delay: Duration::ZERO,
        end: End::Final,
        split_every: None,
        stream: v1_stream_requested(&body),
        started,
    };
    run_v1_plan(conn, &plan, include_usage(&body))
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

pub(crate) fn run_v1_plan(conn: &Conn, plan: &Plan, usage: bool) -> Result<After, Gone> {
    if plan.stream {
        sse_reply(conn, plan, usage)
    } else {
        whole_v1_reply(conn, plan)
    }
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

/// `text/event-stream`, chunked, one event per HTTP chunk (or `split_every` pieces).
pub(crate) fn sse_reply(conn: &Conn, plan: &Plan, usage: bool) -> Result<After, Gone> {
    let head = response_head(200, &[("Content-Type", SSE)], Framing::Chunked, conn.close);
    let mut out = BodyOut::new(conn, head, true, plan.split_every);
    let event = |json: &str| format!("data: {json}\n\n");
    let id = completion_id();
    conn.wait(plan.first_delay)?;
    let thinking = plan.thinking.iter().map(|t| (String::new(), t.clone()));
    let content = plan.tokens.iter().map(|t| (t.clone(), String::new()));
    let mut sent_any = false;
    for (text, thought) in thinking.chain(content) {
        if sent_any {
            conn.wait(plan.delay)?;
        }
        let role = if sent_any {
            ""
        } else {
            r#""role":"assistant","#
        };
        let mut delta = format!(r#"{{{role}"content":{}"#, go_str(&text));
        if !thought.is_empty() {
            let _ = write!(delta, r#","reasoning":{}"#, go_str(&thought));
        }
        delta.push('}');
        let choices = format!(r#"[{{"index":0,"delta":{delta},"finish_reason":null}}]"#);
        out.push(event(&chunk_json(&id, plan, &choices, None)).as_bytes())?;
        sent_any = true;
    }
    match &plan.end {
        End::Final => {
            if sent_any {
                conn.wait(plan.delay)?;
            }
            let choices = format!(
                r#"[{{"index":0,"delta":{{}},"finish_reason":{}}}]"#,
                go_str(&plan.done_reason)
            );
            out.push(event(&chunk_json(&id, plan, &choices, None)).as_bytes())?;
            if usage {
                let json = chunk_json(&id, plan, "[]", Some(&usage_json(plan)));
                out.push(event(&json).as_bytes())?;
            }
            out.push(b"data: [DONE]\n\n")?;
            out.finish()?;
            Ok(After::KeepAlive)
        }
        End::Error(message) => {
            if sent_any {
                conn.wait(plan.delay)?;
            }
            let json = openai_error_json(message, "api_error", None);
            out.push(event(&json).as_bytes())?;
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

/// `"stream": false`: one `chat.completion` object (recording 24_v1_chat_completions_nonstream).
pub(crate) fn whole_v1_reply(conn: &Conn, plan: &Plan) -> Result<After, Gone> {
    wait_whole_generation(conn, plan)?;
    match &plan.end {
        End::Final => {
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
            conn.send_body(
                200,
                &[("Content-Type", "application/json")],
                json.as_bytes(),
                plan.split_every,
            )
        }
        End::Error(message) => conn.send_openai_error(500, message),
        End::Drop => Ok(After::Close),
        End::Stall(duration) => {
            conn.wait(*duration)?;
            Ok(After::Close)
        }
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
