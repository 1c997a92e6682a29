//! The turn log: one JSON line per exchange, appended atomically to a private file.
//!
//! Layout: this file (the record and the writer); `content` (what text is kept), `redact` (the
//! masking patterns), `rotate` (size-based rotation under a lock), `pause` (`/log off|on`);
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

use std::borrow::Cow;
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::os::unix::fs::{MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use serde::Serialize;
use uuid::Uuid;

use crate::options::Options;
use crate::paths::create_private_dir;
use crate::turn::{Ending, TurnOutcome};
pub use content::LogContent;
use redact::Redactor;
use rotate::{LockGuard, Rotation};

/// Bumped when a field changes meaning, so readers of old logs can tell. Version 2 added
/// `log_content`; the text fields are absent when it is `none`.
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
    pub status: &'a str,
    pub error: Option<String>,
}

/// Who asked, for what: the parts of a record that the outcome does not know.
pub struct TurnContext<'a> {
    pub session_id: &'a Uuid,
    pub turn: u32,
    pub model: &'a str,
    pub host: &'a str,
    pub options: &'a Options,
    pub user_input: &'a str,
}

impl<'a> TurnRecord<'a> {
    pub fn new(ctx: &TurnContext<'a>, outcome: &'a TurnOutcome) -> Self {
        let stats = outcome.stats.as_ref();
        // Ollama omits a count that is zero (e.g. a prompt served from cache): once the final
        // chunk is here, a missing count means 0.
        let prompt_tokens = stats.map(|s| s.prompt_eval_count.unwrap_or(0));
        let completion_tokens = stats.map(|s| s.eval_count.unwrap_or(0));
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
            model_response: Some(Cow::Borrowed(&outcome.content)),
            thinking: Some(Cow::Borrowed(&outcome.thinking)),
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
        }
    }
}

impl TurnRecord<'_> {
    /// Keeps, masks or drops the text fields as `content` says, and records the choice. Errors stay
    /// in every mode (they say why a turn failed), masked under `redact`.
    pub fn with_content(mut self, content: LogContent, redactor: Option<&Redactor>) -> Self {
        self.log_content = content;
        match content {
            LogContent::Full => {}
            LogContent::None => {
                self.user_input = None;
                self.model_response = None;
                self.thinking = None;
            }
            LogContent::Redact => {
                let built;
                let r = match redactor {
                    Some(r) => r,
                    None => {
                        built = Redactor::new();
                        &built
                    }
                };
                let mask =
                    |t: Option<Cow<'_, str>>| t.map(|t| Cow::Owned(r.redact(&t).into_owned()));
                self.user_input = mask(self.user_input.take());
                self.model_response = mask(self.model_response.take());
                self.thinking = mask(self.thinking.take());
                self.error = self.error.take().map(|e| r.redact(&e).into_owned());
            }
        }
        self
    }
}

fn is_none_or_empty(s: &Option<Cow<'_, str>>) -> bool {
    s.as_deref().is_none_or(str::is_empty)
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
    /// The `.lock` sibling every writer locks around an append (see `rotate`).
    lock: Option<File>,
    failed_before: bool,
    content: LogContent,
    redactor: Option<Redactor>,
    rotation: Rotation,
}

impl TurnLog {
    pub fn new(path: PathBuf) -> Self {
        TurnLog {
            path,
            file: None,
            lock: None,
            failed_before: false,
            content: LogContent::Full,
            redactor: None,
            rotation: Rotation::default(),
        }
    }

    /// What text the records keep.
    pub fn content(mut self, content: LogContent) -> Self {
        self.content = content;
        self.redactor = (content == LogContent::Redact).then(Redactor::new);
        self
    }

    /// When the file rotates.
    pub fn rotation(mut self, rotation: Rotation) -> Self {
        self.rotation = rotation;
        self
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
        let mut line = match self.content {
            LogContent::Full => serde_json::to_vec(record)?,
            content => {
                serde_json::to_vec(&record.clone().with_content(content, self.redactor.as_ref()))?
            }
        };
        line.push(b'\n');
        if self.lock.is_none() {
            if let Some(dir) = self.path.parent().filter(|d| !d.as_os_str().is_empty()) {
                create_private_dir(dir)?;
            }
            // Without a lock (a file system without flock) appends stay whole; only rotation
            // loses its protection against a concurrent writer.
            self.lock = open_private_append(&rotate::lock_path(&self.path)).ok();
        }
        let lock = self.lock.take();
        let guard = lock.as_ref().and_then(|f| LockGuard::exclusive(f).ok());
        let result = self.write_locked(&line);
        drop(guard);
        self.lock = lock;
        result
    }

    /// Appends `line` while holding the lock: follows a rotation done by another client, rotates
    /// if this line would overflow the file, then writes the line with one `write`.
    fn write_locked(&mut self, line: &[u8]) -> std::io::Result<()> {
        if let Some(file) = &self.file {
            if !same_file(file, &self.path) {
                self.file = None;
            }
        }
        if self.file.is_none() {
            self.file = Some(open_private_append(&self.path)?);
        }
        let len = self.file.as_ref().expect("opened above").metadata()?.len();
        if self.rotation.due(len, line.len()) {
            rotate::rotate(&self.path, self.rotation.keep)?;
            self.file = Some(open_private_append(&self.path)?);
        }
        let file = self.file.as_mut().expect("opened above");
        let n = file.write(line)?;
        if n < line.len() {
            // Only a full disk or a signal gets here; finish the line rather than leave it torn.
            file.write_all(&line[n..])?;
        }
        Ok(())
    }

    /// A warning when an existing log, or its folder, is open to other users. Shared folders with
    /// the sticky bit (like `/tmp`) are shared by design and only the file is checked there.
    pub fn permission_warning(&self) -> Option<String> {
        let meta = std::fs::metadata(&self.path).ok().filter(|m| m.is_file())?;
        let mode = meta.permissions().mode();
        if mode & 0o077 != 0 {
            return Some(format!(
                "the turn log {} is open to other users (mode {:o}); `chmod 600` it",
                self.path.display(),
                mode & 0o777
            ));
        }
        let dir = self.path.parent().filter(|d| !d.as_os_str().is_empty())?;
        let dmode = std::fs::metadata(dir).ok()?.permissions().mode();
        (dmode & 0o077 != 0 && dmode & 0o1000 == 0).then(|| {
            format!(
                "the turn log's folder {} is open to other users (mode {:o}); `chmod 700` it",
                dir.display(),
                dmode & 0o777
            )
        })
    }
}

/// Whether `file` is still the file at `path` (not renamed away by another client's rotation).
fn same_file(file: &File, path: &Path) -> bool {
    match (file.metadata(), std::fs::metadata(path)) {
        (Ok(a), Ok(b)) => a.dev() == b.dev() && a.ino() == b.ino(),
        _ => false,
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
        };
        assert!(log.append(&TurnRecord::new(&ctx, &o)).is_err());
        assert!(log.append(&TurnRecord::new(&ctx, &o)).is_ok());
    }

    fn ctx_for<'a>(id: &'a Uuid, opts: &'a Options, input: &'a str) -> TurnContext<'a> {
        TurnContext {
            session_id: id,
            turn: 1,
            model: "m",
            host: "h",
            options: opts,
            user_input: input,
        }
    }

    #[test]
    fn content_modes_keep_mask_or_drop_text() {
        let dir = tempfile::tempdir().unwrap();
        let id = Uuid::nil();
        let opts = Options::default();
        let mut o = outcome(None, Ending::Done);
        o.content = "write to ming@example.com".into();
        o.thinking = "hmm 0912345678".into();
        let ctx = ctx_for(&id, &opts, "my token is ghp_0123456789abcdefghijABCDEFGHIJ");
        for (mode, question, answer, thinking) in [
            (
                LogContent::Full,
                Some("my token is ghp_0123456789abcdefghijABCDEFGHIJ"),
                Some("write to ming@example.com"),
                Some("hmm 0912345678"),
            ),
            (
                LogContent::Redact,
                Some("my token is [secret]"),
                Some("write to [email]"),
                Some("hmm [number]"),
            ),
            (LogContent::None, None, None, None),
        ] {
            let path = dir.path().join(format!("{mode}.jsonl"));
            let mut log = TurnLog::new(path.clone()).content(mode);
            log.append(&TurnRecord::new(&ctx, &o)).unwrap();
            let v: serde_json::Value =
                serde_json::from_str(std::fs::read_to_string(&path).unwrap().trim()).unwrap();
            assert_eq!(v["log_content"], mode.as_str());
            assert_eq!(
                v.get("user_input").and_then(|x| x.as_str()),
                question,
                "{mode}"
            );
            assert_eq!(
                v.get("model_response").and_then(|x| x.as_str()),
                answer,
                "{mode}"
            );
            assert_eq!(
                v.get("thinking").and_then(|x| x.as_str()),
                thinking,
                "{mode}"
            );
            assert_eq!(v["status"], "ok");
            assert_eq!(v["log_version"], LOG_VERSION);
        }
    }

    #[test]
    fn permission_warnings_for_file_and_folder() {
        let dir = tempfile::tempdir().unwrap();
        let sub = dir.path().join("logs");
        let path = sub.join("turns.jsonl");
        let log = TurnLog::new(path.clone());
        assert!(log.permission_warning().is_none(), "no file yet");
        open_private_append(&path).unwrap();
        assert!(log.permission_warning().is_none());
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o640)).unwrap();
        assert!(log.permission_warning().unwrap().contains("mode 640"));
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
        std::fs::set_permissions(&sub, std::fs::Permissions::from_mode(0o755)).unwrap();
        assert!(log.permission_warning().unwrap().contains("folder"));
        // A sticky shared folder like /tmp is shared by design.
        std::fs::set_permissions(&sub, std::fs::Permissions::from_mode(0o1777)).unwrap();
        assert!(log.permission_warning().is_none());
    }

    #[test]
    fn two_writers_rotating_concurrently_lose_and_tear_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("turns.jsonl");
        let per_writer = 400;
        std::thread::scope(|s| {
            for w in 0..2 {
                let path = path.clone();
                s.spawn(move || {
                    let id = Uuid::nil();
                    let opts = Options::default();
                    let o = outcome(None, Ending::Done);
                    let mut log = TurnLog::new(path).rotation(Rotation {
                        max_size: 4096,
                        keep: 1000,
                    });
                    for i in 0..per_writer {
                        let q = format!("writer {w} turn {i} {}", "字".repeat(i % 50));
                        log.append(&TurnRecord::new(&ctx_for(&id, &opts, &q), &o))
                            .unwrap();
                    }
                });
            }
        });
        let mut files = rotate::rotated_siblings(&path).unwrap();
        files.push(path.clone());
        assert!(files.len() > 20, "rotated {} times", files.len() - 1);
        let mut seen = std::collections::HashSet::new();
        for f in &files {
            let text = std::fs::read_to_string(f).unwrap();
            assert!(
                text.len() <= 4096,
                "{} has {} bytes",
                f.display(),
                text.len()
            );
            for line in text.lines() {
                let v: serde_json::Value = serde_json::from_str(line)
                    .unwrap_or_else(|e| panic!("torn line in {}: {e}", f.display()));
                assert!(seen.insert(v["user_input"].as_str().unwrap().to_string()));
            }
        }
        assert_eq!(seen.len(), 2 * per_writer);
    }
}
