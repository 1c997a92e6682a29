//! The turn log file: private (0600 in a 0700 folder), append-only, one `write` per record, shared
//! safely by several clients, rotated by size under a lock.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::os::unix::fs::{MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use super::redact::Redactor;
use super::rotate::{self, LockGuard, Rotation};
use super::{LogContent, TurnRecord, MAX_TEXT};
use crate::paths::create_private_dir;

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
        let line = match self.content {
            LogContent::Full => record.clone().capped(MAX_TEXT).to_line()?,
            content => record
                .clone()
                .with_content(content, self.redactor.as_ref())
                .capped(MAX_TEXT)
                .to_line()?,
        };
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
///
/// A FIFO there is refused rather than waited on (opening one for writing waits for a reader);
/// a device such as `/dev/null` is allowed.
pub fn open_private_append(path: &Path) -> std::io::Result<File> {
    use rustix::fs::OFlags;
    use std::os::unix::fs::FileTypeExt;
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        create_private_dir(dir)?;
    }
    let fifo = || {
        std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            "is a FIFO (a named pipe), not a file",
        )
    };
    let file = OpenOptions::new()
        .create(true)
        .append(true)
        .mode(0o600)
        .custom_flags(OFlags::NONBLOCK.bits() as i32)
        .open(path)
        .map_err(|e| match e.raw_os_error() {
            Some(n) if n == rustix::io::Errno::NXIO.raw_os_error() => fifo(),
            _ => e,
        })?;
    let kind = file.metadata()?.file_type();
    if kind.is_fifo() || kind.is_socket() {
        return Err(fifo());
    }
    rustix::fs::fcntl_setfl(&file, OFlags::APPEND)?;
    Ok(file)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::log::tests::{ctx_for, outcome};
    use crate::log::{ContextLog, TurnContext, LOG_VERSION};
    use crate::options::Options;
    use crate::turn::Ending;
    use uuid::Uuid;

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
            images: &[],
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
            images: &[],
            context: &ContextLog::default(),
        };
        assert!(log.append(&TurnRecord::new(&ctx, &o)).is_err());
        assert!(log.append(&TurnRecord::new(&ctx, &o)).is_ok());
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
