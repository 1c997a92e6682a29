//! The sessions index: a SQLite database (FTS5 for the text) beside the session files, so that
//! search, the list, finding by name and the branch tree do not parse every file each time.
//!
//! It is a cache. The JSONL files stay the truth: the index is brought up to date lazily, by
//! whoever reads it, from each file's size and modification time (a changed file is indexed
//! again whole, a removed one forgotten). Chats never open it, so a chat is never slowed or
//! blocked by it and cannot leave it half-written; readers that update it at the same time take
//! turns through SQLite's write lock (WAL mode, a busy timeout), and each re-checks a file inside
//! its transaction so the work is not done twice. A damaged index is deleted and built again
//! with a warning; deleting it by hand loses nothing.
//!
//! Layout: `query` (what is typed → an FTS5 expression; the CJK spacing), `docs` (a session →
//! its summary and searchable messages), `snippet` (the line shown under a hit), `refresh`
//! (files → index), `search` (query + filters → ranked hits), `rank` (BM25 without FTS5's second
//! pass over the matches).

pub mod docs;
pub mod query;
mod rank;
pub mod refresh;
pub mod search;
pub mod snippet;

use std::path::{Path, PathBuf};
use std::time::Duration;

use rusqlite::{Connection, ErrorCode, TransactionBehavior};

pub use docs::{Role, Summary};
pub use search::{Filters, Hit};

/// Where the index of the sessions folder `dir` lives: `index/sessions.sqlite` beside it (in
/// the data folder), so the sessions folder holds nothing but sessions.
pub fn db_path(dir: &Path) -> PathBuf {
    dir.parent()
        .unwrap_or(dir)
        .join("index")
        .join("sessions.sqlite")
}

/// The database and its write-ahead log and shared memory.
fn db_files(dir: &Path) -> [PathBuf; 3] {
    let db = db_path(dir);
    let with = |s: &str| {
        let mut p = db.clone().into_os_string();
        p.push(s);
        PathBuf::from(p)
    };
    [db.clone(), with("-wal"), with("-shm")]
}

/// Bumped when the tables change; an index of another version is rebuilt.
const SCHEMA: i64 = 2;

/// How long a reader waits for another one that is updating the index.
const BUSY: Duration = Duration::from_secs(10);

/// Why the index could not be used. The session files are never touched by it.
#[derive(Debug, thiserror::Error)]
pub enum IndexError {
    #[error("the sessions index {path} cannot be used: {source}")]
    Sql {
        path: String,
        #[source]
        source: rusqlite::Error,
    },
    #[error("cannot create the sessions index folder {path}: {source}")]
    Create {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot read the sessions folder {path}: {source}")]
    Folder {
        path: String,
        #[source]
        source: std::io::Error,
    },
}

impl IndexError {
    /// A damaged file (or something else in its place): worth deleting and building again.
    fn is_damage(&self) -> bool {
        match self {
            IndexError::Sql { source, .. } => matches!(
                source.sqlite_error_code(),
                Some(ErrorCode::DatabaseCorrupt | ErrorCode::NotADatabase)
            ),
            IndexError::Create { .. } | IndexError::Folder { .. } => false,
        }
    }
}

/// An open index of one sessions folder.
pub struct Index {
    conn: Connection,
    dir: PathBuf,
    path: PathBuf,
}

impl Index {
    /// Opens (creating if needed) the index of `dir` and brings it up to date, then runs `f` on
    /// it. A damaged index is deleted, built again from the files and `f` run once more; the
    /// returned warnings say so.
    pub fn with<T>(
        dir: &Path,
        f: impl FnMut(&mut Index) -> Result<T, IndexError>,
    ) -> Result<(T, Vec<String>), IndexError> {
        Index::with_announce(dir, &|_| {}, f)
    }

    /// [`Index::with`], calling `announce` with the number of files first when there are many
    /// to index (a first build), so that a person can be told why this takes a while.
    pub fn with_announce<T>(
        dir: &Path,
        announce: &dyn Fn(usize),
        mut f: impl FnMut(&mut Index) -> Result<T, IndexError>,
    ) -> Result<(T, Vec<String>), IndexError> {
        let mut run = |fresh: bool| -> Result<T, IndexError> {
            let mut index = Index::open(dir, fresh)?;
            index.refresh_announcing(announce)?;
            f(&mut index)
        };
        match run(false) {
            Err(e) if e.is_damage() => {
                let warning = format!(
                    "the sessions index {} was damaged ({e}); building it again from the session files",
                    db_path(dir).display()
                );
                run(true).map(|t| (t, vec![warning]))
            }
            other => other.map(|t| (t, Vec::new())),
        }
    }

    /// Deletes the index of `dir` and builds it again (`sessions reindex`).
    pub fn rebuild(dir: &Path) -> Result<(), IndexError> {
        let mut index = Index::open(dir, true)?;
        index.refresh()?;
        index.optimize()
    }

    /// Merges the index into one segment, so that a word's messages are read from one place:
    /// worth it after many files were indexed at once.
    fn optimize(&self) -> Result<(), IndexError> {
        self.conn
            .execute_batch("INSERT INTO fts(fts) VALUES('optimize')")
            .map_err(self.sql_err())
    }

    /// The size of the index on disk, with its write-ahead log.
    pub fn disk_size(dir: &Path) -> u64 {
        db_files(dir)
            .iter()
            .filter_map(|p| std::fs::metadata(p).ok())
            .map(|m| m.len())
            .sum()
    }

    fn open(dir: &Path, fresh: bool) -> Result<Index, IndexError> {
        let path = db_path(dir);
        if fresh {
            for p in db_files(dir) {
                let _ = std::fs::remove_file(p);
            }
        }
        if let Some(parent) = path.parent() {
            crate::paths::create_private_dir(parent).map_err(|source| IndexError::Create {
                path: parent.display().to_string(),
                source,
            })?;
        }
        // Created private before SQLite opens it: it holds the conversations' words. Its
        // journal files take the same permissions.
        {
            use std::os::unix::fs::OpenOptionsExt;
            let _ = std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(0o600)
                .open(&path);
        }
        let err = |source| IndexError::Sql {
            path: path.display().to_string(),
            source,
        };
        let conn = Connection::open(&path).map_err(err)?;
        conn.busy_timeout(BUSY).map_err(err)?;
        rank::register(&conn).map_err(err)?;
        let index = Index {
            conn,
            dir: dir.to_path_buf(),
            path: path.clone(),
        };
        index.prepare().map_err(err)?;
        Ok(index)
    }

    /// WAL mode, and the tables of this version (an older index is emptied and built again).
    fn prepare(&self) -> rusqlite::Result<()> {
        let c = &self.conn;
        let mode: String = c.query_row("PRAGMA journal_mode=WAL", [], |r| r.get(0))?;
        tracing::debug!("sessions index journal mode: {mode}");
        c.execute_batch("PRAGMA synchronous=NORMAL")?;
        let version: i64 = c.query_row("PRAGMA user_version", [], |r| r.get(0))?;
        if version == SCHEMA {
            return Ok(());
        }
        let tx = rusqlite::Transaction::new_unchecked(c, TransactionBehavior::Immediate)?;
        // Another reader may have created them meanwhile.
        let version: i64 = tx.query_row("PRAGMA user_version", [], |r| r.get(0))?;
        if version != SCHEMA {
            tx.execute_batch(&format!(
                "DROP TABLE IF EXISTS files; DROP TABLE IF EXISTS msg; DROP TABLE IF EXISTS fts;
                 {TABLES}
                 PRAGMA user_version = {SCHEMA};"
            ))?;
        }
        tx.commit()
    }

    fn sql_err(&self) -> impl Fn(rusqlite::Error) -> IndexError + '_ {
        |source| IndexError::Sql {
            path: self.path.display().to_string(),
            source,
        }
    }
}

/// `files`: one row per session file with what the list needs (or why it could not be read);
/// `msg`: one row per searchable message, with where its record starts in the file (`off`), so
/// that a hit's text is read from that line alone; `fts`: the words of each message
/// (contentless: the text stays in the session file), with 16 MiB of new words gathered in
/// memory before they are written out (fewer, larger segments to merge). Outside a first
/// build, segments are not merged as they are written (`automerge` 0), which would add a good
/// part to the cost of indexing many new files in a search; a refresh of a few files merges a
/// little instead (see `refresh`), and FTS5 still merges when a level reaches 16 segments.
const TABLES: &str = "
CREATE TABLE files(
    fid INTEGER PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    size INTEGER NOT NULL,
    mtime INTEGER NOT NULL,
    id TEXT, sname TEXT, created INTEGER, last_at INTEGER, model TEXT, turns INTEGER,
    first_line TEXT, parent TEXT, parent_turn INTEGER, parent_events INTEGER,
    error TEXT
);
CREATE TABLE msg(
    id INTEGER PRIMARY KEY,
    fid INTEGER NOT NULL,
    seq INTEGER NOT NULL,
    turn INTEGER NOT NULL,
    role INTEGER NOT NULL,
    at INTEGER NOT NULL,
    model TEXT NOT NULL,
    off INTEGER
);
CREATE INDEX msg_fid ON msg(fid);
CREATE VIRTUAL TABLE fts USING fts5(body, content='', contentless_delete=1,
    tokenize='unicode61 remove_diacritics 2');
INSERT INTO fts(fts, rank) VALUES('hashsize', 16777216);
INSERT INTO fts(fts, rank) VALUES('automerge', 0);
";

#[cfg(test)]
mod tests;
