//! Fast-stream mode for benchmarks: every chat request is answered with N tokens as fast as the
//! socket takes them (one NDJSON line per HTTP chunk, as the real server frames them, but written
//! in large batches rather than one `write` per token).

use std::fmt::Write as _;
use std::io::Write as _;
use std::time::{Duration, Instant, SystemTime};

use serde_json::Value;

use super::chat::{
    default_chat, final_json, message_json, messages, prompt_tokens, stream_requested,
};
use super::http::{response_head, After, Conn, Framing, Gone};
use super::json::{go_str, rfc3339_nano, str_field};
use super::reply::Plan;
use super::routes::NDJSON;
use super::{End, FakeOllama};

// ============================================================================================
// Public API
// ============================================================================================

/// How the fake answers chats in fast-stream mode.
#[derive(Clone, Debug)]
pub struct FastStream {
    /// Tokens when the request sets no `options.num_predict` (with it, exactly that many, ending
    /// with `done_reason: "length"`, as a real model that is never done early would).
    pub default_tokens: usize,
    /// Server-side wait before the first chunk (the model's "time to first token"); the response
    /// head goes out with the first chunk, as Go sends it.
    pub first_delay: Duration,
    /// Tokens of a markdown answer (headings, emphasis, lists, code blocks, tables) instead of
    /// prose: the cost of rendering markdown on a terminal.
    pub markdown: bool,
}

impl Default for FastStream {
    fn default() -> Self {
        FastStream {
            default_tokens: 1000,
            first_delay: Duration::ZERO,
            markdown: false,
        }
    }
}

impl FakeOllama {
    /// Answers every chat (that has no queued reply) in fast-stream mode; `None` returns to the
    /// default echo reply.
    pub fn set_fast_stream(&self, fast: Option<FastStream>) {
        self.shared.lock().fast = fast;
    }
}

/// The reply text fast-stream mode sends for `tokens` tokens, for checking what a client shows.
pub fn fast_stream_text(tokens: usize) -> String {
    (0..tokens).map(|i| TOKENS[i % TOKENS.len()]).collect()
}

// ============================================================================================
// The reply
// ============================================================================================

/// Realistic token shapes: words with a leading space, punctuation, a newline, CJK and an emoji,
/// none of which Go's encoder would escape.
const TOKENS: &[&str] = &[
    " The", " quick", " brown", " fox", " jumps", " over", " the", " lazy", " dog", ".", "\n",
    " 你好", "，", "世界", "！", " 🦊", " and", " then", " it", " rests",
];

#[path = "markdown_answer.rs"]
mod markdown_answer;
use markdown_answer::MARKDOWN_TOKENS;

/// Bytes gathered before one `write`: large enough that syscalls do not dominate, small enough
/// that the first chunk of a long reply leaves at once.
const BATCH: usize = 64 * 1024;

pub(crate) fn fast_reply(conn: &Conn, fast: &FastStream, body: &Value) -> Result<After, Gone> {
    let model = go_str(str_field(body, "model"));
    let (count, done_reason) = match body.pointer("/options/num_predict").and_then(Value::as_i64) {
        Some(n) if n >= 0 => (usize::try_from(n).unwrap_or(usize::MAX), "length"),
        _ => (fast.default_tokens, "stop"),
    };
    let started = Instant::now();
    conn.wait(fast.first_delay)?;
    let head = response_head(
        200,
        &[("Content-Type", NDJSON)],
        Framing::Chunked,
        conn.close,
    );
    let mut buf = Vec::with_capacity(BATCH + 4096);
    buf.extend_from_slice(&head);
    let tokens = if fast.markdown {
        MARKDOWN_TOKENS
    } else {
        TOKENS
    };
    let messages: Vec<String> = tokens.iter().map(|t| message_json(t, "")).collect();
    let mut created = go_str(&rfc3339_nano(SystemTime::now()));
    let mut line = String::with_capacity(256);
    for i in 0..count {
        line.clear();
        let _ = write!(
            line,
            r#"{{"model":{model},"created_at":{created},"message":{},"done":false}}"#,
            messages[i % messages.len()]
        );
        push_chunk(&mut buf, &line);
        // The first token leaves alone (time to first token); later ones in batches.
        if i == 0 || buf.len() >= BATCH {
            conn.write_all(&buf)?;
            buf.clear();
            created = go_str(&rfc3339_nano(SystemTime::now()));
        }
    }
    let plan = Plan {
        model: str_field(body, "model").to_string(),
        thinking: Vec::new(),
        tokens: Vec::new(),
        first_delay: Duration::ZERO,
        delay: Duration::ZERO,
        end: End::Final,
        split_every: None,
        prompt_eval_count: prompt_tokens(body),
        eval_count: count as u64,
        done_reason: done_reason.to_string(),
        stream: true,
        ping: false,
        tool_calls: Vec::new(),
        started,
    };
    push_chunk(&mut buf, &final_json(&plan, "", ""));
    buf.extend_from_slice(b"0\r\n\r\n");
    conn.write_all(&buf)?;
    Ok(After::KeepAlive)
}

/// Appends one NDJSON line as one HTTP chunk.
fn push_chunk(buf: &mut Vec<u8>, line: &str) {
    let _ = write!(buf, "{:x}\r\n", line.len() + 1);
    buf.extend_from_slice(line.as_bytes());
    buf.extend_from_slice(b"\n\r\n");
}

/// The fast reply when fast-stream mode is on and the request is a valid streaming chat for an
/// installed model; otherwise the default reply (which also produces the server's errors).
pub(crate) fn fast_or_default_chat(
    decoded: Result<Value, String>,
    conn: &Conn,
    started: Instant,
) -> Result<After, Gone> {
    let fast = conn.shared.lock().fast.clone();
    if let (Some(fast), Ok(body)) = (fast, &decoded) {
        let installed = conn
            .shared
            .lock()
            .find_model(str_field(body, "model"))
            .is_some();
        if installed && stream_requested(body) && !messages(body).is_empty() {
            conn.shared.mark_loaded(str_field(body, "model"), body);
            return fast_reply(conn, &fast, body);
        }
    }
    default_chat(decoded, conn, started)
}
