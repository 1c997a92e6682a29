//! The context window, as the real server handles it: a deterministic tokenizer-like prompt count,
//! the window a request gets (`num_ctx`, else the server default, never more than a cap), and
//! silent truncation when the prompt does not fit (oldest non-system messages dropped, the latest
//! kept; a single over-long message cut), as in the `22_ctx_overflow_*` recordings.

use std::time::{Duration, Instant, SystemTime};

use serde_json::Value;

use super::chat::messages;
use super::json::str_field;
use super::{FakeOllama, Shared};

impl FakeOllama {
    /// The window a request without `num_ctx` gets (Ollama's `OLLAMA_CONTEXT_LENGTH` or the
    /// Modelfile's `num_ctx`); `/api/show` reports it as the model's `num_ctx` parameter.
    /// Default: 2048, as the recorded server.
    pub fn set_default_num_ctx(&self, n: u64) {
        self.shared.lock().default_num_ctx = n;
    }

    /// The most any request gets, whatever its `num_ctx` asks (like a server capping `num_ctx`);
    /// `/api/ps` shows the capped value.
    pub fn set_num_ctx_cap(&self, cap: Option<u64>) {
        self.shared.lock().num_ctx_cap = cap;
    }

    /// How many chat requests the fake had to cut because their prompt exceeded the window.
    pub fn truncations(&self) -> usize {
        self.shared.lock().truncations
    }

    /// How long a chat (or a load-only request) waits when its model is not in memory, as a real
    /// server loads it from disk; requests for a model being loaded wait for the same load.
    /// Default: none.
    pub fn set_load_delay(&self, delay: Duration) {
        self.shared.lock().load_delay = delay;
    }
}

impl Shared {
    /// Waits while `model` loads, if it is not in memory (see [`FakeOllama::set_load_delay`]);
    /// then it is, as the request asked.
    pub(crate) fn wait_for_load(&self, model: &str, body: &Value) {
        let ready_at = {
            let mut state = self.lock();
            let Some(name) = state.find_model(model).map(|m| m.name.clone()) else {
                return;
            };
            let now = Instant::now();
            let in_memory = state
                .loaded
                .iter()
                .any(|l| l.name == name && l.expires_at > SystemTime::now());
            if state.load_delay.is_zero() || in_memory {
                return;
            }
            let delay = state.load_delay;
            *state.loading.entry(name).or_insert(now + delay)
        };
        let now = Instant::now();
        if ready_at > now {
            std::thread::sleep(ready_at - now);
        }
        self.mark_loaded(model, body);
        let mut state = self.lock();
        if let Some(name) = state.find_model(model).map(|m| m.name.clone()) {
            state.loading.remove(&name);
        }
    }
}

/// A Modelfile's `MESSAGE` history, which the server puts before every chat with the model:
/// models whose name contains "msg" have the one recorded in `32_show_model_with_messages`.
pub(crate) fn model_history(name: &str) -> &'static [(&'static str, &'static str)] {
    if name.to_ascii_lowercase().contains("msg") {
        &[("user", "What is 2+2?"), ("assistant", "4.")]
    } else {
        &[]
    }
}

/// Tokens of the model's history, counted like any message.
pub(crate) fn history_tokens(name: &str) -> u64 {
    model_history(name)
        .iter()
        .map(|(role, content)| {
            message_tokens(&serde_json::json!({"role": role, "content": content}))
        })
        .sum()
}

/// The refusal of a prompt over the window when the request says `truncate: false`: a 400 whose
/// `error` is the runner's own JSON, as in `30_chat_truncate_false_overflow` (the recording is a
/// non-streamed request; a streamed one is refused the same way, before any chunk, since the
/// server checks the prompt before it starts the reply).
pub(crate) fn refusal(prompt: u64, window: u64) -> Option<String> {
    let inner = format!(
        r#"{{"error":{{"code":400,"message":"request ({prompt} tokens) exceeds the available context size ({window} tokens), try increasing it","type":"exceed_context_size_error","n_prompt_tokens":{prompt},"n_ctx":{window}}}}}"#
    );
    (prompt > window).then_some(inner)
}

/// Whether a character counts as one token by itself (Han, kana, Hangul, CJK punctuation).
pub(crate) fn is_cjk(c: char) -> bool {
    matches!(c as u32,
        0x1100..=0x11FF
        | 0x2E80..=0x2FDF
        | 0x3000..=0x303F
        | 0x3040..=0x30FF
        | 0x3100..=0x31FF
        | 0x3400..=0x4DBF
        | 0x4E00..=0x9FFF
        | 0xAC00..=0xD7AF
        | 0xF900..=0xFAFF
        | 0xFF00..=0xFFEF
        | 0x20000..=0x3FFFF)
}

/// The fake's size of one message: ceil(other characters / 4) + one per CJK character + 4 for
/// the template around it, + 256 per image (what gemma3, the recorded models' family, spends on
/// one).
pub(crate) fn message_tokens(message: &Value) -> u64 {
    let content = str_field(message, "content");
    let cjk = content.chars().filter(|&c| is_cjk(c)).count() as u64;
    let other = content.chars().count() as u64 - cjk;
    let images = message
        .get("images")
        .and_then(Value::as_array)
        .map_or(0, |i| i.len() as u64);
    other.div_ceil(4) + cjk + 4 + IMAGE_TOKENS * images
}

/// Prompt tokens one image costs on the fake.
pub(crate) const IMAGE_TOKENS: u64 = 256;

/// The window this request gets.
pub(crate) fn request_window(shared: &Shared, body: &Value) -> u64 {
    let state = shared.lock();
    let asked = body
        .pointer("/options/num_ctx")
        .and_then(Value::as_u64)
        .filter(|&n| n > 0)
        .unwrap_or(state.default_num_ctx);
    state.num_ctx_cap.map_or(asked, |cap| asked.min(cap))
}

/// The prompt Ollama would evaluate: all messages when they fit the window; else the system
/// messages and the latest message plus as many of the newest others as fit; a latest message
/// that alone does not fit is cut to half the window (the recorded server kept 131 of 256).
/// Returns the prompt count and whether anything was cut.
pub(crate) fn evaluated_prompt(body: &Value, window: u64) -> (u64, bool) {
    let messages = messages(body);
    let sizes: Vec<u64> = messages.iter().map(message_tokens).collect();
    let total: u64 = sizes.iter().sum();
    if total <= window || messages.is_empty() {
        return (total, false);
    }
    let last = messages.len() - 1;
    let is_system = |i: usize| messages[i].get("role").and_then(Value::as_str) == Some("system");
    let mut kept: u64 = (0..last)
        .filter(|&i| is_system(i))
        .map(|i| sizes[i])
        .sum::<u64>()
        + sizes[last];
    if kept > window {
        return (window / 2 + 3, true);
    }
    for i in (0..last).rev().filter(|&i| !is_system(i)) {
        if kept + sizes[i] > window {
            break;
        }
        kept += sizes[i];
    }
    (kept, true)
}

/// Counts the prompt of a chat request the way the server would, cutting it to the window
/// (the model's own Modelfile history counts too, and is never cut).
pub(crate) fn count_prompt(shared: &Shared, body: &Value) -> u64 {
    let window = request_window(shared, body);
    let history = history_tokens(str_field(body, "model"));
    let (count, cut) = evaluated_prompt(body, window.saturating_sub(history));
    if cut {
        shared.lock().truncations += 1;
    }
    count + history
}

/// The prompt before any cut: the model's history and every message sent.
pub(crate) fn whole_prompt(body: &Value) -> u64 {
    history_tokens(str_field(body, "model"))
        + messages(body).iter().map(message_tokens).sum::<u64>()
}
