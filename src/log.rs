//! The turn log: one JSON line per exchange, appended atomically to a private file.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use serde::Serialize;
use uuid::Uuid;

use crate::context::ContextAction;
use crate::options::Options;
use crate::paths::create_private_dir;
use crate::turn::{Ending, TurnOutcome};

/// Bumped when a field changes meaning, so readers of old logs can tell.
pub const LOG_VERSION: u32 = 1;

/// One line of the turn log. The schema is documented in the README; fields are only ever added.
#[derive(Debug, Serialize)]
pub struct TurnRecord<'a> {
    pub log_version: u32,
    /// When the request was sent (UTC, RFC 3339).
    pub timestamp: String,
    pub session_id: &'a Uuid,
    pub turn: u32,
    pub model: &'a str,
    pub host: &'a str,
    pub options: &'a Options,
    pub user_input: &'a str,
    pub model_response: &'a str,
    #[serde(skip_serializing_if = "str::is_empty")]
    pub thinking: &'a str,
    /// Seconds from request sent to final chunk (or to the end of a failed or cancelled turn).
    pub response_time: f64,
    /// Seconds from request sent to the first reply text.
    pub ttft: Option<f64>,
    pub prompt_tokens: Option<u64>,
    pub completion_tokens: Option<u64>,
    pub tokens_used: Option<u64>,
    pub tokens_per_second: Option<f64>,
    pub done_reason: Option<&'a str>,
    pub status: &'a str,
    pub error: Option<String>,
    /// `chat` for a turn; `summarize` for the call that condensed older messages before it.
    pub call: &'a str,
    /// The prompt's size as the client counted it before sending (exact where Ollama counted
    /// before, estimated otherwise); null when the window was unknown.
    pub context_tokens: Option<u64>,
    pub context_window: Option<u64>,
    /// Where the window figure came from: `num_ctx`, `loaded`, `model_parameter`, `assumed`.
    pub context_window_source: Option<&'a str>,
    /// What the context strategy dropped or summarised before this request, if anything.
    pub context_action: Option<&'a ContextAction>,
    /// Present (true) when Ollama evaluated fewer prompt tokens than were sent: it cut the prompt.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub context_server_truncated: bool,
}

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
            timestamp: outcome
                .started_at
                .to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
            session_id: ctx.session_id,
            turn: ctx.turn,
            model: ctx.model,
            host: ctx.host,
            options: ctx.options,
            user_input: ctx.user_input,
            model_response: &outcome.content,
            thinking: &outcome.thinking,
            response_time: round_ms(outcome.elapsed.as_secs_f64()),
            ttft: outcome.ttft.map(|d| round_ms(d.as_secs_f64())),
            prompt_tokens,
            completion_tokens,
            tokens_used: prompt_tokens.zip(completion_tokens).map(|(p, c)| p + c),
            tokens_per_second: stats.and_then(|s| s.eval_rate()).map(round_ms),
            done_reason: stats.and_then(|s| s.done_reason.as_deref()),
            status: outcome.status(),
            error: match &outcome.ending {
                Ending::Failed(e) => Some(e.to_string()),
                Ending::Cancelled(r) => Some(r.describe().to_string()),
                Ending::Done => None,
            },
            call: ctx.context.call,
            context_tokens: ctx.context.tokens,
            context_window: ctx.context.window,
            context_window_source: ctx.context.window_source,
            context_action: ctx.context.action.as_ref(),
            context_server_truncated: ctx.context.server_truncated,
        }
    }
}

impl TurnRecord<'_> {
    /// The record as one log line, newline included.
    pub fn to_line(&self) -> serde_json::Result<Vec<u8>> {
        let mut line = Vec::with_capacity(
            512 + self.user_input.len() + self.model_response.len() + self.thinking.len(),
        );
        serde_json::to_writer(&mut line, self)?;
        line.push(b'\n');
        Ok(line)
    }
}

fn round_ms(x: f64) -> f64 {
    (x * 1000.0).round() / 1000.0
}

/// Why a record could not be written.
#[derive(Debug, thiserror::Error)]
#[error("cannot write the turn log {path}: {source}")]
pub struct LogError {
    pub path: PathBuf,
    #[source]
    pub source: std::io::Error,
}

/// An append-only turn log file. Opened on first use with mode 0600 in a 0700 folder.
pub struct TurnLog {
    path: PathBuf,
    file: Option<File>,
    failed_before: bool,
}

impl TurnLog {
    pub fn new(path: PathBuf) -> Self {
        TurnLog {
            path,
            file: None,
            failed_before: false,
        }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Appends one record as a single `write` of one line, so that several clients sharing the
    /// file never interleave their lines. Returns an error only the first time writing fails, so
    /// the caller warns once and the chat goes on.
    pub fn append(&mut self, record: &TurnRecord<'_>) -> Result<(), LogError> {
        match self.try_append(record) {
            Ok(()) => Ok(()),
            Err(source) if !self.failed_before => {
                self.failed_before = true;
                self.file = None;
                Err(LogError {
                    path: self.path.clone(),
                    source,
                })
            }
            Err(_) => {
                self.file = None;
                Ok(())
            }
        }
    }

    fn try_append(&mut self, record: &TurnRecord<'_>) -> std::io::Result<()> {
        let line = record.to_line()?;
        if self.file.is_none() {
            self.file = Some(open_private_append(&self.path)?);
        }
        let file = self.file.as_mut().expect("opened above");
        let n = file.write(&line)?;
        if n < line.len() {
            // Only a full disk or a signal gets here; finish the line rather than leave it torn.
            file.write_all(&line[n..])?;
        }
        Ok(())
    }

    /// A warning when an existing log can be read by others.
    pub fn permission_warning(&self) -> Option<String> {
        let mode = std::fs::metadata(&self.path).ok()?.permissions().mode();
        (mode & 0o077 != 0).then(|| {
            format!(
                "the turn log {} is readable by other users (mode {:o}); `chmod 600` it",
                self.path.display(),
                mode & 0o777
            )
        })
    }
}

/// Opens `path` for appending, creating it (and its folder) private to the user.
pub fn open_private_append(path: &Path) -> std::io::Result<File> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        create_private_dir(dir)?;
    }
    OpenOptions::new()
        .create(true)
        .append(true)
        .mode(0o600)
        .open(path)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ollama::wire::FinalStats;
    use std::time::Duration;

    fn outcome(stats: Option<FinalStats>, ending: Ending) -> TurnOutcome {
        TurnOutcome {
            started_at: chrono::DateTime::parse_from_rfc3339("2026-11-29T01:02:03.456Z")
                .unwrap()
                .with_timezone(&chrono::Utc),
            content: "巴黎。".into(),
            thinking: String::new(),
            stats,
            ttft: Some(Duration::from_millis(120)),
            elapsed: Duration::from_millis(1500),
            ending,
        }
    }

    fn record_json(o: &TurnOutcome) -> serde_json::Value {
        let id = Uuid::nil();
        let opts = Options::default();
        let ctx = TurnContext {
            session_id: &id,
            turn: 1,
            model: "tiny",
            host: "http://127.0.0.1:11434",
            options: &opts,
            user_input: "法國的首都？",
            context: &ContextLog::default(),
        };
        serde_json::to_value(TurnRecord::new(&ctx, o)).unwrap()
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
            Ending::Failed(crate::ollama::ApiError::Incomplete),
        ));
        assert_eq!(v["status"], "error");
        assert_eq!(v["tokens_used"], serde_json::Value::Null);
        assert!(v["error"].as_str().unwrap().contains("final chunk"));
    }

    #[test]
    fn file_is_private_and_lines_are_whole() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sub/turns.jsonl");
        let mut log = TurnLog::new(path.clone());
        let o = outcome(
            None,
            Ending::Cancelled(crate::turn::CancelReason::Interrupt),
        );
        let id = Uuid::nil();
        let opts = Options::default();
        let ctx = TurnContext {
            session_id: &id,
            turn: 1,
            model: "m",
            host: "h",
            options: &opts,
            user_input: "q",
            context: &ContextLog::default(),
        };
        log.append(&TurnRecord::new(&ctx, &o)).unwrap();
        log.append(&TurnRecord::new(&ctx, &o)).unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        assert_eq!(text.lines().count(), 2);
        for line in text.lines() {
            let v: serde_json::Value = serde_json::from_str(line).unwrap();
            assert_eq!(v["status"], "cancelled");
            assert_eq!(v["error"], "interrupted by the user");
        }
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        let dmode = std::fs::metadata(path.parent().unwrap())
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(dmode & 0o777, 0o700);
        assert!(log.permission_warning().is_none());
    }

    #[test]
    fn unwritable_log_fails_once() {
        let mut log = TurnLog::new(PathBuf::from("/proc/definitely/not/here.jsonl"));
        let o = outcome(None, Ending::Done);
        let id = Uuid::nil();
        let opts = Options::default();
        let ctx = TurnContext {
            session_id: &id,
            turn: 1,
            model: "m",
            host: "h",
            options: &opts,
            user_input: "q",
            context: &ContextLog::default(),
        };
        assert!(log.append(&TurnRecord::new(&ctx, &o)).is_err());
        assert!(log.append(&TurnRecord::new(&ctx, &o)).is_ok());
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
        let log = ContextLog {
            call: "summarize",
            tokens: Some(1500),
            window: Some(2048),
            window_source: Some("loaded"),
            action: Some(ContextAction {
                strategy: crate::context::Strategy::Truncate,
                messages: 2,
                exchanges: 1,
                tokens: 600,
                tokens_after: 1500,
                summary: None,
                archived: 0..2,
            }),
            server_truncated: true,
        };
        let ctx = TurnContext {
            session_id: &id,
            turn: 3,
            model: "m",
            host: "h",
            options: &opts,
            user_input: "q",
            context: &log,
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
}
