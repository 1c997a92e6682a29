//! The turn log: one JSON line per exchange, appended atomically to a private file.
//!
//! Layout: this file (the record, and what each `--log-content` mode keeps of it); `writer` (the
//! private append-only file), `content` (the modes), `redact` (the masking patterns), `rotate`
//! (size-based rotation under a lock), `pause` (`/log off|on`);
//! for readers: `read` (streaming lines and records), `timestamp` (their times), `scan` (many
//! files on several threads), `tail` (following the live file), `filter` (the selection),
//! `quantile` and `stats` (aggregates).

pub mod content;
pub mod filter;
pub mod pause;
pub mod quantile;
pub mod read;
pub mod redact;
pub mod rotate;
pub mod scan;
pub mod stats;
pub mod tail;
pub mod timestamp;
pub mod writer;

use std::borrow::Cow;
use std::collections::BTreeMap;

use serde::Serialize;
use uuid::Uuid;

use crate::context::ContextAction;
use crate::conversation::{Approval, Image, ToolStatus, TurnStatus};
use crate::error::{ApiError, Secrets};
use crate::options::Options;
use crate::turn::{Ending, TurnOutcome};
pub use content::LogContent;
use redact::Redactor;
pub use writer::{open_private_append, LogError, TurnLog};

/// Bumped when a field changes meaning, so readers of old logs can tell. Version 2 added
/// `log_content`; the text fields are absent when it is `none`. (The context fields were added
/// without a bump: fields are only ever added, and readers ignore ones they do not know.)
pub const LOG_VERSION: u32 = 2;

/// One line of the turn log. The schema is documented in the README; fields are only ever added.
#[derive(Debug, Clone, Serialize)]
pub struct TurnRecord<'a> {
    pub log_version: u32,
    /// How much text this record keeps.
    pub log_content: LogContent,
    /// When the request was sent (UTC, RFC 3339).
    pub timestamp: String,
    pub session_id: &'a Uuid,
    pub turn: u32,
    pub model: &'a str,
    pub host: &'a str,
    pub options: &'a Options,
    /// Absent (like the reply and thinking) when `log_content` is `none`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user_input: Option<Cow<'a, str>>,
    /// The images sent with the question: name, media type, size and sha256, never their bytes;
    /// absent when `log_content` is `none` (then only `image_count` says there were some).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub images: Option<&'a [Image]>,
    #[serde(skip_serializing_if = "is_zero")]
    pub image_count: usize,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub model_response: Option<Cow<'a, str>>,
    #[serde(skip_serializing_if = "is_none_or_empty")]
    pub thinking: Option<Cow<'a, str>>,
    /// Seconds from request sent to final chunk (or to the end of a failed or cancelled turn).
    pub response_time: f64,
    /// Seconds from request sent to the first reply text.
    pub ttft: Option<f64>,
    pub prompt_tokens: Option<u64>,
    pub completion_tokens: Option<u64>,
    pub tokens_used: Option<u64>,
    pub tokens_per_second: Option<f64>,
    pub done_reason: Option<&'a str>,
    /// Where a cloud model really ran (`remote_model`, `remote_host`), when the server said.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub remote_model: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub remote_host: Option<&'a str>,
    pub status: TurnStatus,
    pub error: Option<String>,
    /// Text in `error` quoted from the server's reply (an unreadable line), which may carry
    /// conversation text: left out under `log_content: none`.
    #[serde(skip)]
    pub error_quote: Option<Cow<'a, str>>,
    /// `chat` for a turn; `summarize` for the call that condensed older messages before it.
    pub call: &'a str,
    /// The prompt's size as the client counted it before sending (exact where Ollama counted
    /// before, estimated otherwise); null when the window was unknown.
    pub context_tokens: Option<u64>,
    pub context_window: Option<u64>,
    /// Where the window figure came from: `num_ctx`, `loaded`, `model_parameter`, `assumed`.
    pub context_window_source: Option<&'a str>,
    /// What the context strategy dropped or summarised before this request, if anything. Its
    /// `summary` is conversation text, kept, masked or dropped like the question.
    pub context_action: Option<Cow<'a, ContextAction>>,
    /// Present (true) when Ollama evaluated fewer prompt tokens than were sent: it cut the prompt.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub context_server_truncated: bool,
    /// The texts cut to [`MAX_TEXT`] bytes to keep the record bounded, each with its whole
    /// length in bytes (absent when nothing was cut).
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub cut: BTreeMap<&'static str, usize>,
    /// The role in use (`--role`, `/role`); absent without one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub role: Option<&'a str>,
    /// The functions the reply asked to call and what became of each (absent when none).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub tool_calls: Vec<ToolLog>,
}

/// One tool call of a reply, as the log keeps it. Its arguments and result are conversation
/// text: kept, masked or dropped as `log_content` says.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ToolLog {
    pub name: String,
    pub approval: Approval,
    pub status: ToolStatus,
    /// Seconds it ran.
    pub duration: f64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub arguments: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub result: Option<String>,
}

/// The most bytes of one text (question, answer, thinking, error) a record keeps: a reply of
/// hundreds of megabytes must not become a record of that size, past the log's own maximum.
pub const MAX_TEXT: usize = 1024 * 1024;

/// The context facts of one request, for its log line.
#[derive(Debug, Clone, PartialEq)]
pub struct ContextLog {
    pub call: &'static str,
    pub tokens: Option<u64>,
    pub window: Option<u64>,
    pub window_source: Option<&'static str>,
    pub action: Option<ContextAction>,
    pub server_truncated: bool,
}

impl Default for ContextLog {
    fn default() -> Self {
        ContextLog {
            call: "chat",
            tokens: None,
            window: None,
            window_source: None,
            action: None,
            server_truncated: false,
        }
    }
}

/// Who asked, for what: the parts of a record that the outcome does not know.
pub struct TurnContext<'a> {
    pub session_id: &'a Uuid,
    pub turn: u32,
    pub model: &'a str,
    pub host: &'a str,
    pub options: &'a Options,
    pub user_input: &'a str,
    /// The images sent with the question.
    pub images: &'a [Image],
    pub context: &'a ContextLog,
}

impl<'a> TurnRecord<'a> {
    pub fn new(ctx: &TurnContext<'a>, outcome: &'a TurnOutcome) -> Self {
        let stats = outcome.stats.as_ref();
        // Ollama omits a count that is zero (e.g. a prompt served from cache): once the final
        // chunk is here, a missing count means 0 — unless the server gave no counts at all.
        let counted = stats.filter(|s| !s.usage_unknown);
        let prompt_tokens = counted.map(|s| s.prompt_eval_count.unwrap_or(0));
        let completion_tokens = counted.map(|s| s.eval_count.unwrap_or(0));
        TurnRecord {
            log_version: LOG_VERSION,
            log_content: LogContent::Full,
            timestamp: outcome
                .started_at
                .to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
            session_id: ctx.session_id,
            turn: ctx.turn,
            model: ctx.model,
            host: ctx.host,
            options: ctx.options,
            user_input: Some(Cow::Borrowed(ctx.user_input)),
            images: (!ctx.images.is_empty()).then_some(ctx.images),
            image_count: ctx.images.len(),
            model_response: Some(Cow::Borrowed(&outcome.content)),
            thinking: Some(Cow::Borrowed(&outcome.thinking)),
            response_time: round_ms(outcome.elapsed.as_secs_f64()),
            ttft: outcome.ttft.map(|d| round_ms(d.as_secs_f64())),
            prompt_tokens,
            completion_tokens,
            tokens_used: prompt_tokens
                .zip(completion_tokens)
                .map(|(p, c)| p.saturating_add(c)),
            tokens_per_second: stats.and_then(|s| s.eval_rate()).map(round_ms),
            done_reason: stats.and_then(|s| s.done_reason.as_deref()),
            remote_model: stats
                .and_then(|s| s.remote.as_ref())
                .map(|r| r.model.as_str())
                .filter(|m| !m.is_empty()),
            remote_host: stats
                .and_then(|s| s.remote.as_ref())
                .map(|r| r.host.as_str())
                .filter(|h| !h.is_empty()),
            status: outcome.status(),
            error: match &outcome.ending {
                Ending::Failed(e) => Some(e.to_string()),
                Ending::Cancelled(r) => Some(r.describe().to_string()),
                Ending::Done => None,
            },
            error_quote: match &outcome.ending {
                // As `error` quotes it: sanitised.
                Ending::Failed(ApiError::Decode(d)) => Some(d.excerpt.shown()),
                _ => None,
            },
            call: ctx.context.call,
            context_tokens: ctx.context.tokens,
            context_window: ctx.context.window,
            context_window_source: ctx.context.window_source,
            context_action: ctx.context.action.as_ref().map(Cow::Borrowed),
            context_server_truncated: ctx.context.server_truncated,
            cut: BTreeMap::new(),
            role: None,
            tool_calls: Vec::new(),
        }
    }
}

impl<'a> TurnRecord<'a> {
    /// The last line of defence before the record is written: the secrets the client sends
    /// blanked from the error, whatever path it came by. The conversation's text is the user's
    /// and the model's, and is left to `log_content`.
    pub fn without_secrets(mut self, secrets: &Secrets) -> Self {
        if let Some(e) = &mut self.error {
            *e = secrets.scrub(e).into_owned();
        }
        self
    }

    /// Each text cut to `max` bytes (at a character boundary), and `cut` saying which and how
    /// long it was.
    pub fn capped(mut self, max: usize) -> Self {
        let mut cut = std::mem::take(&mut self.cut);
        for (name, text) in [
            ("user_input", &mut self.user_input),
            ("model_response", &mut self.model_response),
            ("thinking", &mut self.thinking),
        ] {
            if let Some(t) = text.as_mut().filter(|t| t.len() > max) {
                cut.insert(name, t.len());
                *t = Cow::Owned(t[..floor_char_boundary(t, max)].to_string());
            }
        }
        if let Some(e) = self.error.as_mut().filter(|e| e.len() > max) {
            cut.insert("error", e.len());
            e.truncate(floor_char_boundary(e, max));
        }
        for t in &mut self.tool_calls {
            for text in [&mut t.arguments, &mut t.result].into_iter().flatten() {
                if text.len() > max {
                    cut.insert("tool_calls", text.len());
                    text.truncate(floor_char_boundary(text, max));
                }
            }
        }
        self.cut = cut;
        self
    }

    /// Keeps, masks or drops the conversation text as `content` says, and records the choice.
    /// The text is the question, answer and thinking (for a summarize call: the transcript sent
    /// and the summary), and the summary in `context_action`. Errors stay in every mode (they say
    /// why a turn failed) but are masked under `redact` and `none`, and under `none` lose any
    /// excerpt of the server's reply they quote.
    pub fn with_content(mut self, content: LogContent, redactor: Option<&Redactor>) -> Self {
        self.log_content = content;
        if content == LogContent::Full {
            return self;
        }
        let built;
        let r = match redactor {
            Some(r) => r,
            None => {
                built = Redactor::new();
                &built
            }
        };
        for t in &mut self.tool_calls {
            if content == LogContent::None {
                t.arguments = None;
                t.result = None;
            }
            for text in [&mut t.arguments, &mut t.result].into_iter().flatten() {
                *text = r.redact(text).into_owned();
            }
        }
        if content == LogContent::None {
            self.user_input = None;
            self.images = None;
            self.model_response = None;
            self.thinking = None;
            if let (Some(e), Some(q)) = (&mut self.error, self.error_quote.take()) {
                if !q.is_empty() {
                    *e = e.replace(&*q, "[excerpt not logged]");
                }
            }
        }
        // Unchanged text stays borrowed: a huge prompt is not copied to be logged.
        let mask = |t: Option<Cow<'a, str>>| {
            t.map(|t| {
                let masked = match r.redact(&t) {
                    Cow::Owned(m) => Some(m),
                    Cow::Borrowed(_) => None,
                };
                masked.map_or(t, Cow::Owned)
            })
        };
        self.user_input = mask(self.user_input.take());
        self.model_response = mask(self.model_response.take());
        self.thinking = mask(self.thinking.take());
        self.error = self.error.take().map(|e| r.redact(&e).into_owned());
        if let Some(action) = self.context_action.as_mut() {
            if let Some(summary) = &action.summary {
                let kept = (content == LogContent::Redact).then(|| r.redact(summary).into_owned());
                action.to_mut().summary = kept;
            }
        }
        self
    }

    /// The record as one log line, newline included.
    pub fn to_line(&self) -> serde_json::Result<Vec<u8>> {
        let text = |t: &Option<Cow<'_, str>>| t.as_deref().map_or(0, str::len);
        let mut line = Vec::with_capacity(
            512 + text(&self.user_input) + text(&self.model_response) + text(&self.thinking),
        );
        serde_json::to_writer(&mut line, self)?;
        line.push(b'\n');
        Ok(line)
    }
}

/// The largest index `<= max` that starts a character of `s`.
fn floor_char_boundary(s: &str, max: usize) -> usize {
    let mut i = max.min(s.len());
    while !s.is_char_boundary(i) {
        i -= 1;
    }
    i
}

fn is_zero(n: &usize) -> bool {
    *n == 0
}

fn is_none_or_empty(s: &Option<Cow<'_, str>>) -> bool {
    s.as_deref().is_none_or(str::is_empty)
}

fn round_ms(x: f64) -> f64 {
    (x * 1000.0).round() / 1000.0
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::conversation::FinalStats;
    use std::time::Duration;

    pub(super) fn outcome(stats: Option<FinalStats>, ending: Ending) -> TurnOutcome {
        TurnOutcome {
            started_at: chrono::DateTime::parse_from_rfc3339("2026-11-29T01:02:03.456Z")
                .unwrap()
                .with_timezone(&chrono::Utc),
            content: "巴黎。".into(),
            thinking: String::new(),
            tool_calls: Vec::new(),
            stats,
            ttft: Some(Duration::from_millis(120)),
            elapsed: Duration::from_millis(1500),
            ending,
        }
    }

    /// `f` given the context of turn 1 of a nil session, asking `user_input`.
    fn in_context<T>(user_input: &str, f: impl FnOnce(&TurnContext<'_>) -> T) -> T {
        let id = Uuid::nil();
        let opts = Options::default();
        f(&TurnContext {
            session_id: &id,
            turn: 1,
            model: "tiny",
            host: "http://127.0.0.1:11434",
            options: &opts,
            user_input,
            images: &[],
            context: &ContextLog::default(),
        })
    }

    fn record_json(o: &TurnOutcome) -> serde_json::Value {
        in_context("法國的首都？", |ctx| {
            serde_json::to_value(TurnRecord::new(ctx, o)).unwrap()
        })
    }

    #[test]
    fn tool_calls_keep_name_status_and_timing_and_their_text_follows_the_mode() {
        let o = outcome(None, Ending::Done);
        let tools = vec![ToolLog {
            name: "read_file".into(),
            approval: Approval::Yes,
            status: ToolStatus::Ok,
            duration: 0.25,
            arguments: Some(r#"{"path":"笔记.txt"}"#.into()),
            result: Some("key sk-abcdefghijklmnopqrstuvwxyz0123456789".into()),
        }];
        let line = |mode: LogContent| {
            in_context("q", |ctx| {
                let mut r = TurnRecord::new(ctx, &o);
                r.tool_calls = tools.clone();
                serde_json::to_value(r.with_content(mode, None).capped(12)).unwrap()
            })
        };
        let full = line(LogContent::Full);
        let t = &full["tool_calls"][0];
        assert_eq!(
            (&t["name"], &t["approval"], &t["status"], &t["duration"]),
            (
                &serde_json::json!("read_file"),
                &serde_json::json!("yes"),
                &serde_json::json!("ok"),
                &serde_json::json!(0.25)
            )
        );
        assert_eq!(t["arguments"], r#"{"path":"笔"#, "cut at a character");
        assert!(full["cut"]["tool_calls"].is_number());
        let none = line(LogContent::None);
        assert!(none["tool_calls"][0].get("arguments").is_none());
        assert!(none["tool_calls"][0].get("result").is_none());
        assert_eq!(none["tool_calls"][0]["status"], "ok");
        let redacted = in_context("q", |ctx| {
            let mut r = TurnRecord::new(ctx, &o);
            r.tool_calls = tools.clone();
            serde_json::to_value(r.with_content(LogContent::Redact, None)).unwrap()
        });
        let result = redacted["tool_calls"][0]["result"].as_str().unwrap();
        assert!(!result.contains("sk-abcdefghij"), "{result}");
        let plain = record_json(&o);
        assert!(plain.get("tool_calls").is_none(), "absent without calls");
    }

    #[test]
    fn long_texts_are_cut_at_a_character_and_said_so() {
        let mut o = outcome(None, Ending::Done);
        o.content = "巴".repeat(10); // 30 bytes
        let line = in_context("short", |ctx| TurnRecord::new(ctx, &o).capped(8).to_line()).unwrap();
        let v: serde_json::Value = serde_json::from_slice(&line).unwrap();
        assert_eq!(
            v["model_response"], "巴巴",
            "8 bytes end inside the third character"
        );
        assert_eq!(v["user_input"], "short");
        assert_eq!(v["cut"], serde_json::json!({"model_response": 30}));
        let whole = in_context("short", |ctx| {
            TurnRecord::new(ctx, &o).capped(MAX_TEXT).to_line()
        })
        .unwrap();
        let v: serde_json::Value = serde_json::from_slice(&whole).unwrap();
        assert!(v.get("cut").is_none());
    }

    #[test]
    fn ok_record_has_token_counts() {
        let stats = FinalStats {
            done_reason: Some("stop".into()),
            prompt_eval_count: Some(26),
            eval_count: Some(298),
            eval_duration: 1_061_000_000,
            ..Default::default()
        };
        let v = record_json(&outcome(Some(stats), Ending::Done));
        assert_eq!(v["timestamp"], "2026-11-29T01:02:03.456Z");
        assert_eq!(v["prompt_tokens"], 26);
        assert_eq!(v["completion_tokens"], 298);
        assert_eq!(v["tokens_used"], 324);
        assert_eq!(v["tokens_per_second"], 280.867);
        assert_eq!(v["response_time"], 1.5);
        assert_eq!(v["ttft"], 0.12);
        assert_eq!(v["status"], "ok");
        assert_eq!(v["error"], serde_json::Value::Null);
        assert_eq!(v["user_input"], "法國的首都？");
        assert!(v.get("thinking").is_none());
    }

    #[test]
    fn cached_prompt_counts_as_zero_not_null() {
        let stats = FinalStats {
            eval_count: Some(5),
            ..Default::default()
        };
        let v = record_json(&outcome(Some(stats), Ending::Done));
        assert_eq!(v["prompt_tokens"], 0);
        assert_eq!(v["tokens_used"], 5);
    }

    #[test]
    fn a_server_without_usage_gives_unknown_counts() {
        let stats = FinalStats {
            done_reason: Some("stop".into()),
            usage_unknown: true,
            ..Default::default()
        };
        let v = record_json(&outcome(Some(stats), Ending::Done));
        assert_eq!(v["prompt_tokens"], serde_json::Value::Null);
        assert_eq!(v["tokens_used"], serde_json::Value::Null);
        assert_eq!(v["done_reason"], "stop");
    }

    #[test]
    fn failed_record_has_the_error_and_no_counts() {
        let v = record_json(&outcome(
            None,
            Ending::Failed(crate::error::ApiError::Incomplete),
        ));
        assert_eq!(v["status"], "error");
        assert_eq!(v["tokens_used"], serde_json::Value::Null);
        assert!(v["error"].as_str().unwrap().contains("final chunk"));
    }

    pub(super) fn ctx_for<'a>(id: &'a Uuid, opts: &'a Options, input: &'a str) -> TurnContext<'a> {
        TurnContext {
            session_id: id,
            turn: 1,
            model: "m",
            host: "h",
            options: opts,
            user_input: input,
            images: &[],
            context: &NO_CONTEXT,
        }
    }

    static NO_CONTEXT: ContextLog = ContextLog {
        call: "chat",
        tokens: None,
        window: None,
        window_source: None,
        action: None,
        server_truncated: false,
    };

    fn summary_action(summary: Option<&str>) -> ContextAction {
        ContextAction {
            strategy: crate::context::Strategy::Summarize,
            messages: 2,
            exchanges: 1,
            tokens: 600,
            tokens_after: 1500,
            summary: summary.map(str::to_string),
            archived: 0..2,
        }
    }

    #[test]
    fn context_fields() {
        let o = outcome(None, Ending::Done);
        let v = record_json(&o);
        assert_eq!(v["call"], "chat");
        assert!(v["context_tokens"].is_null());
        assert!(v["context_action"].is_null());
        assert!(v.get("context_server_truncated").is_none());

        let id = Uuid::nil();
        let opts = Options::default();
        let mut action = summary_action(None);
        action.strategy = crate::context::Strategy::Truncate;
        let log = ContextLog {
            call: "summarize",
            tokens: Some(1500),
            window: Some(2048),
            window_source: Some("loaded"),
            action: Some(action),
            server_truncated: true,
        };
        let ctx = TurnContext {
            context: &log,
            ..ctx_for(&id, &opts, "q")
        };
        let v = serde_json::to_value(TurnRecord::new(&ctx, &o)).unwrap();
        assert_eq!(v["call"], "summarize");
        assert_eq!(v["context_tokens"], 1500);
        assert_eq!(v["context_window"], 2048);
        assert_eq!(v["context_window_source"], "loaded");
        assert_eq!(
            v["context_action"],
            serde_json::json!({"strategy":"truncate","messages":2,"exchanges":1,"tokens":600,"tokens_after":1500})
        );
        assert_eq!(v["context_server_truncated"], true);
    }

    /// Writes one record through a log with `mode` and reads the line back.
    fn written(mode: LogContent, ctx: &TurnContext<'_>, o: &TurnOutcome) -> serde_json::Value {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.jsonl");
        TurnLog::new(path.clone())
            .content(mode)
            .append(&TurnRecord::new(ctx, o))
            .unwrap();
        serde_json::from_str(std::fs::read_to_string(&path).unwrap().trim()).unwrap()
    }

    #[test]
    fn the_summary_in_context_action_follows_the_content_mode() {
        let id = Uuid::nil();
        let opts = Options::default();
        let o = outcome(None, Ending::Done);
        let log = ContextLog {
            action: Some(summary_action(Some(
                "小明 (ming@example.com) asked about Paris",
            ))),
            ..ContextLog::default()
        };
        let ctx = TurnContext {
            context: &log,
            ..ctx_for(&id, &opts, "q")
        };
        let summary = |mode| written(mode, &ctx, &o)["context_action"].clone();
        assert_eq!(
            summary(LogContent::Full)["summary"],
            "小明 (ming@example.com) asked about Paris"
        );
        assert_eq!(
            summary(LogContent::Redact)["summary"],
            "小明 ([email]) asked about Paris"
        );
        let none = summary(LogContent::None);
        assert!(none.get("summary").is_none(), "{none}");
        // The rest of the action is metadata and stays.
        assert_eq!(none["strategy"], "summarize");
        assert_eq!(none["tokens_after"], 1500);
    }

    #[test]
    fn errors_are_masked_and_lose_reply_excerpts_without_content() {
        let id = Uuid::nil();
        let opts = Options::default();
        let ctx = ctx_for(&id, &opts, "q");
        let bad_line = br#"{"message":{"content":"your card 4111 1111 1111 1111 is"#;
        let parsed = serde_json::from_slice::<serde_json::Value>(bad_line).unwrap_err();
        let decode = crate::error::DecodeError::new(bad_line, parsed);
        let o = outcome(None, Ending::Failed(ApiError::Decode(decode)));
        let full = written(LogContent::Full, &ctx, &o);
        assert!(full["error"].as_str().unwrap().contains("4111 1111"));
        let redacted = written(LogContent::Redact, &ctx, &o);
        let e = redacted["error"].as_str().unwrap();
        assert!(e.contains("your card [number]"), "{e}");
        let none = written(LogContent::None, &ctx, &o);
        let e = none["error"].as_str().unwrap();
        assert!(e.starts_with("unreadable line from the server ("), "{e}");
        assert!(e.ends_with(": [excerpt not logged]"), "{e}");
        assert!(!e.contains("card"), "{e}");
        assert_eq!(none["status"], "error");

        // A server message is kept under `none`, with secrets masked.
        let o = outcome(
            None,
            Ending::Failed(ApiError::InStream {
                server: "the server",
                message: "bad key sk-proj-0123456789abcdefghijKLMNOP".into(),
            }),
        );
        let e = written(LogContent::None, &ctx, &o)["error"].clone();
        assert_eq!(
            e,
            "the server reported an error during the reply: bad key [secret]"
        );
    }
}
