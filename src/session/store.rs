//! The session file writer: append-only, one record per line, private (0600 in a 0700 folder),
//! flushed after every record and synced to disk after every turn.
//!
//! A file removed or replaced under a running chat (another program, the user, `mv`) is noticed
//! at the next record: the writer still holds the old file open, with every record in it, so it
//! writes the whole session again (at the same path if that is free, else beside it, leaving the
//! other file alone) and goes on there. Nothing of either is lost; a note says what happened.

use std::fs::{File, OpenOptions};
use std::io::{Seek, SeekFrom, Write};
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use super::blobs::Blobs;
use super::format::{event_line, header_line, Change, Event, Header};
use super::load::Loaded;
use super::SessionError;
use crate::paths::create_private_dir;

/// Appends a session's records to its file. A new session's file is created with its first record,
/// so a chat in which nothing happened leaves no file behind.
#[derive(Debug)]
pub struct SessionWriter {
    path: PathBuf,
    file: Option<File>,
    /// Which file `path` named when it was opened (device, inode): another one there now means
    /// ours was removed or replaced.
    identity: Option<(u64, u64)>,
    /// Written (with the first event) when the file does not exist yet.
    pending_header: Option<Header>,
    id: uuid::Uuid,
    /// What the user should hear about the file (it was removed or replaced), said once.
    notice: Option<String>,
}

impl SessionWriter {
    /// A new session at `path`; fails later, on the first write, if something is already there.
    pub fn create(path: PathBuf, header: Header) -> Self {
        SessionWriter {
            path,
            id: header.id,
            file: None,
            identity: None,
            pending_header: Some(header),
            notice: None,
        }
    }

    /// A new session in the sessions folder, named by its id.
    pub fn create_in(dir: &Path, header: Header) -> Self {
        Self::create(dir.join(format!("{}.jsonl", header.id)), header)
    }

    /// Continues a loaded session file. A torn last record (a crash) is cut off first, so the next
    /// record starts on a line of its own; nothing else in the file is touched.
    pub fn resume(loaded: &Loaded) -> Result<Self, SessionError> {
        let path = loaded.path.clone().expect("only files are resumed");
        let write_err = |source| SessionError::Write {
            path: path.display().to_string(),
            source,
        };
        let mut file = OpenOptions::new()
            .read(true)
            .append(true)
            .open(&path)
            .map_err(write_err)?;
        lock(&file).map_err(|e| in_use_or(e, &path))?;
        let len = file.metadata().map_err(write_err)?.len();
        if len != loaded.intact_len {
            file.set_len(loaded.intact_len).map_err(write_err)?;
        }
        if !loaded.ends_with_newline {
            file.write_all(b"\n").map_err(write_err)?;
        }
        Ok(SessionWriter {
            id: loaded.header.id,
            path,
            identity: identity(&file),
            file: Some(file),
            pending_header: None,
            notice: None,
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn id(&self) -> uuid::Uuid {
        self.id
    }

    /// Whether the file exists yet (a first record has been written).
    pub fn started(&self) -> bool {
        self.pending_header.is_none()
    }

    /// Appends one event as one `write` of one line (with the header, for a new file).
    pub fn append(&mut self, event: &Event) -> Result<(), SessionError> {
        self.try_append(event)
            .map_err(|source| SessionError::Write {
                path: self.path.display().to_string(),
                source,
            })
    }

    /// The one line to tell the user about the file, if something happened to it since asked.
    pub fn take_notice(&mut self) -> Option<String> {
        self.notice.take()
    }

    fn try_append(&mut self, event: &Event) -> std::io::Result<()> {
        // The images first: a record must never name a blob that is not there.
        if let Change::User { images, .. } = &event.change {
            let blobs = Blobs::beside(&self.path);
            for image in images {
                blobs.save(image)?;
            }
        }
        if self.file.is_none() {
            let file = self.open()?;
            self.identity = identity(&file);
            self.file = Some(file);
        } else {
            self.follow_the_file()?;
        }
        // Built in the event's own line, so a huge message is not copied once more.
        let mut text = event_line(event);
        text.push('\n');
        if let Some(h) = &self.pending_header {
            text.insert_str(0, &format!("{}\n", header_line(h)));
        }
        let file = self.file.as_mut().expect("opened above");
        file.write_all(text.as_bytes())?;
        self.pending_header = None;
        Ok(())
    }

    fn open(&self) -> std::io::Result<File> {
        if let Some(dir) = self.path.parent().filter(|d| !d.as_os_str().is_empty()) {
            create_private_dir(dir)?;
        }
        // A new session never takes over a file that is already there.
        open_private(&self.path, self.pending_header.is_some())
    }

    /// Notices that the path no longer names our file, and then writes everything again to a
    /// new file: at the same path if it is free (removed), else beside it (replaced).
    fn follow_the_file(&mut self) -> std::io::Result<()> {
        let (Some(ours), Some(old)) = (self.identity, self.file.as_ref()) else {
            return Ok(());
        };
        let now = match std::fs::metadata(&self.path) {
            Ok(m) => Some((m.dev(), m.ino())),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
            // Cannot tell (a folder made unreadable): go on with the file we have.
            Err(_) => return Ok(()),
        };
        if now == Some(ours) {
            return Ok(());
        }
        let (new_path, mut new) = match now {
            None => (self.path.clone(), open_private(&self.path, true)?),
            Some(_) => self.create_beside()?,
        };
        let mut old = old;
        old.seek(SeekFrom::Start(0))?;
        std::io::copy(&mut old, &mut new)?;
        self.notice = Some(match now {
            None => format!(
                "the session file {} was removed; saving this session again there",
                self.path.display()
            ),
            Some(_) => format!(
                "the session file {} was replaced by another file; saving this session to {} instead",
                self.path.display(),
                new_path.display()
            ),
        });
        self.identity = identity(&new);
        self.file = Some(new);
        self.path = new_path;
        Ok(())
    }

    /// `name-2.jsonl`, `name-3.jsonl`, … beside the file that took our place.
    fn create_beside(&self) -> std::io::Result<(PathBuf, File)> {
        let stem = self
            .path
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_else(|| "session".into());
        for n in 2..1000 {
            let path = self.path.with_file_name(format!("{stem}-{n}.jsonl"));
            match open_private(&path, true) {
                Ok(f) => return Ok((path, f)),
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
                Err(e) => return Err(e),
            }
        }
        Err(std::io::Error::new(
            std::io::ErrorKind::AlreadyExists,
            "no free name beside it",
        ))
    }

    /// Makes what was written survive a power cut. Called once per turn, not per record, so the
    /// cost is paid after the reply, never before the request.
    pub fn sync(&mut self) -> Result<(), SessionError> {
        match &self.file {
            Some(f) => f.sync_data().map_err(|source| SessionError::Write {
                path: self.path.display().to_string(),
                source,
            }),
            None => Ok(()),
        }
    }
}

/// Opens a session file to read back and append to, private, locked for this process; with
/// `create_new`, only a file that does not exist yet.
fn open_private(path: &Path, create_new: bool) -> std::io::Result<File> {
    let file = OpenOptions::new()
        .read(true)
        .append(true)
        .create_new(create_new)
        .mode(0o600)
        .open(path)?;
    lock(&file)?;
    Ok(file)
}

fn identity(file: &File) -> Option<(u64, u64)> {
    file.metadata().ok().map(|m| (m.dev(), m.ino()))
}

/// Holds the session file for this process as long as it is open: two chats appending to one
/// session would interleave their records. The lock goes with the file when it is closed. It does
/// not wait: a lock held elsewhere is a `WouldBlock` error, which `resume` reports as in use.
fn lock(file: &File) -> std::io::Result<()> {
    file.try_lock().map_err(std::io::Error::from)
}

/// Holds the lock of the session file at `path` while `f` runs (deleting it, say), or says it is
/// in use: a running chat holds its session's lock, and its later turns would be lost.
pub fn while_not_in_use<T>(
    path: &Path,
    f: impl FnOnce() -> Result<T, SessionError>,
) -> Result<T, SessionError> {
    let file = File::open(path).map_err(|source| SessionError::Write {
        path: path.display().to_string(),
        source,
    })?;
    lock(&file).map_err(|e| in_use_or(e, path))?;
    let result = f();
    drop(file);
    result
}

fn in_use_or(e: std::io::Error, path: &Path) -> SessionError {
    if e.kind() == std::io::ErrorKind::WouldBlock {
        SessionError::InUse {
            path: path.display().to_string(),
        }
    } else {
        SessionError::Write {
            path: path.display().to_string(),
            source: e,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::options::Options;
    use crate::session::format::Change;
    use crate::session::load::load_file;
    use std::os::unix::fs::PermissionsExt;

    fn header() -> Header {
        Header::new("tiny", "http://h", None, &Options::default())
    }

    fn user(s: &str) -> Event {
        Event::now(Change::User {
            content: s.into(),
            images: Vec::new(),
        })
    }

    #[test]
    fn nothing_is_written_until_something_happens() {
        let dir = tempfile::tempdir().unwrap();
        let w = SessionWriter::create_in(&dir.path().join("sessions"), header());
        assert!(!w.path().exists());
        assert!(!w.started());
    }

    #[test]
    fn private_file_in_a_private_folder() {
        let dir = tempfile::tempdir().unwrap();
        let mut w = SessionWriter::create_in(&dir.path().join("a/sessions"), header());
        w.append(&user("q")).unwrap();
        w.sync().unwrap();
        let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(w.path()), 0o600);
        assert_eq!(mode(w.path().parent().unwrap()), 0o700);
        let text = std::fs::read_to_string(w.path()).unwrap();
        assert_eq!(text.lines().count(), 2);
        assert!(text.ends_with('\n'));
    }

    #[test]
    fn a_session_in_use_elsewhere_is_not_resumed_until_it_is_free() {
        let dir = tempfile::tempdir().unwrap();
        let mut first = SessionWriter::create_in(dir.path(), header());
        first.append(&user("mine")).unwrap();
        let path = first.path().to_path_buf();
        let loaded = load_file(&path).unwrap();
        let err = SessionWriter::resume(&loaded).unwrap_err();
        assert!(matches!(err, SessionError::InUse { .. }), "{err}");
        assert!(err.to_string().contains("open in another ollama-chat"));
        let before = std::fs::read(&path).unwrap();
        drop(first); // the other chat ends
        let mut second = SessionWriter::resume(&load_file(&path).unwrap()).unwrap();
        second.append(&user("now mine")).unwrap();
        assert!(std::fs::read(&path).unwrap().starts_with(&before));
    }

    #[test]
    fn never_overwrites_an_existing_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("mine.txt");
        std::fs::write(&path, "precious\n").unwrap();
        let mut w = SessionWriter::create(path.clone(), header());
        assert!(w.append(&user("q")).is_err());
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "precious\n");
    }

    #[test]
    fn resuming_cuts_a_torn_record_and_appends_whole_lines() {
        let dir = tempfile::tempdir().unwrap();
        let mut w = SessionWriter::create_in(dir.path(), header());
        w.append(&user("one")).unwrap();
        w.append(&user("two")).unwrap();
        let path = w.path().to_path_buf();
        drop(w);
        let full = std::fs::read(&path).unwrap();
        std::fs::write(&path, &full[..full.len() - 5]).unwrap();

        let loaded = load_file(&path).unwrap();
        assert_eq!(loaded.warnings.len(), 1);
        let mut w = SessionWriter::resume(&loaded).unwrap();
        w.append(&user("three")).unwrap();
        let again = load_file(&path).unwrap();
        assert!(again.warnings.is_empty());
        assert_eq!(again.events.len(), 2);
        assert_eq!(
            again.events[1].change,
            Change::User {
                content: "three".into(),
                images: Vec::new(),
            }
        );
    }

    #[test]
    fn resuming_after_a_lost_newline_keeps_the_record() {
        let dir = tempfile::tempdir().unwrap();
        let mut w = SessionWriter::create_in(dir.path(), header());
        w.append(&user("one")).unwrap();
        let path = w.path().to_path_buf();
        drop(w);
        let full = std::fs::read(&path).unwrap();
        std::fs::write(&path, &full[..full.len() - 1]).unwrap();
        let mut w = SessionWriter::resume(&load_file(&path).unwrap()).unwrap();
        w.append(&user("two")).unwrap();
        assert_eq!(load_file(&path).unwrap().events.len(), 2);
    }

    fn contents(path: &Path) -> Vec<Change> {
        load_file(path)
            .unwrap()
            .events
            .into_iter()
            .map(|e| e.change)
            .collect()
    }

    #[test]
    fn a_removed_file_is_written_again_whole_with_a_note() {
        let dir = tempfile::tempdir().unwrap();
        let mut w = SessionWriter::create_in(dir.path(), header());
        w.append(&user("one")).unwrap();
        assert_eq!(w.take_notice(), None);
        let path = w.path().to_path_buf();
        std::fs::remove_file(&path).unwrap();
        w.append(&user("two")).unwrap();
        let note = w.take_notice().expect("a note");
        assert_eq!(
            note,
            format!(
                "the session file {} was removed; saving this session again there",
                path.display()
            )
        );
        assert_eq!(w.take_notice(), None, "said once");
        assert_eq!(w.path(), path);
        w.append(&user("three")).unwrap();
        assert_eq!(w.take_notice(), None);
        assert_eq!(
            contents(&path),
            [user("one"), user("two"), user("three")].map(|e| e.change)
        );
        // Still ours: another chat cannot resume it.
        assert!(matches!(
            SessionWriter::resume(&load_file(&path).unwrap()),
            Err(SessionError::InUse { .. })
        ));
    }

    #[test]
    fn a_replaced_file_is_left_alone_and_the_session_goes_on_beside_it() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("work.jsonl");
        let mut w = SessionWriter::create(path.clone(), header());
        w.append(&user("one")).unwrap();
        // Another program puts its own file in place (as `mv` or an editor's save does).
        let other = dir.path().join("other.tmp");
        std::fs::write(&other, "someone else's\n").unwrap();
        std::fs::rename(&other, &path).unwrap();
        w.append(&user("two")).unwrap();
        let moved = dir.path().join("work-2.jsonl");
        assert_eq!(
            w.take_notice().unwrap(),
            format!(
                "the session file {} was replaced by another file; saving this session to {} instead",
                path.display(),
                moved.display()
            )
        );
        assert_eq!(w.path(), moved);
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "someone else's\n");
        assert_eq!(
            contents(&moved),
            [user("one"), user("two")].map(|e| e.change)
        );
    }

    #[test]
    fn a_session_not_written_yet_has_nothing_to_notice() {
        let dir = tempfile::tempdir().unwrap();
        let mut w = SessionWriter::create_in(dir.path(), header());
        w.append(&user("one")).unwrap();
        w.append(&user("two")).unwrap();
        assert_eq!(w.take_notice(), None);
        assert_eq!(contents(w.path()).len(), 2);
    }
}
