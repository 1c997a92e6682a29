//! Brings the index up to date with the sessions folder: files that are new or whose size or
//! modification time changed are indexed again whole, removed ones are forgotten.
//!
//! A file's size and time are taken before it is read, so a chat appending to it meanwhile only
//! makes the next refresh read it again. Work is committed in batches, so a large first build
//! neither holds everything in memory nor keeps another reader waiting for long; inside each
//! transaction a file is checked again, since another reader may just have indexed it.

use std::os::unix::fs::MetadataExt;
use std::path::Path;

use rusqlite::{params, OptionalExtension, Transaction, TransactionBehavior};
use rustc_hash::{FxHashMap, FxHashSet};

use super::docs::{documents, Summary};
use super::query::spaced;
use super::{Index, IndexError};
use crate::session::load::{parse, read_file, record_starts};

/// A session file as the folder shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OnDisk {
    pub name: String,
    pub size: i64,
    /// Modification time, nanoseconds since the epoch.
    pub mtime: i64,
}

/// From this many files to index, the caller hears of it before the work starts.
pub const ANNOUNCE_FROM: usize = 200;

/// After indexing this many files at once (a first build), the index is merged into one segment.
const OPTIMIZE_AFTER: usize = 1000;

/// A refresh of fewer files than this also merges up to this many pages of the index's
/// segments (a few milliseconds); one of more files has enough to do.
const MERGE_BELOW: usize = 50;
const MERGE_PAGES: usize = 256;

/// Files indexed per transaction, at most…
const BATCH_FILES: usize = 500;
/// …and bytes of them.
const BATCH_BYTES: i64 = 64 << 20;

/// Every `*.jsonl` regular file in `dir` (following symbolic links), in the folder's order:
/// each caller orders them as it needs. A missing folder is empty.
///
/// Every refresh looks at each file's size and time; with thousands of files that is most of a
/// search's time, so the look-ups are shared among a few threads.
pub fn scan(dir: &Path) -> std::io::Result<Vec<OnDisk>> {
    let read = match std::fs::read_dir(dir) {
        Ok(r) => r,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(e),
    };
    let entries: Vec<(String, std::fs::DirEntry)> = read
        .filter_map(Result::ok)
        .filter_map(|e| {
            let name = e.file_name().into_string().ok()?;
            name.ends_with(".jsonl").then_some((name, e))
        })
        .collect();
    let threads = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .clamp(1, SCAN_THREADS)
        .min(entries.len().div_ceil(SCAN_CHUNK_MIN).max(1));
    let chunk = entries.len().div_ceil(threads).max(1);
    let out: Vec<OnDisk> = std::thread::scope(|s| {
        let parts: Vec<_> = entries
            .chunks(chunk)
            .map(|part| s.spawn(move || part.iter().filter_map(on_disk).collect::<Vec<_>>()))
            .collect();
        parts
            .into_iter()
            .flat_map(|p| p.join().unwrap_or_else(|e| std::panic::resume_unwind(e)))
            .collect()
    });
    Ok(out)
}

/// Threads that look at the files, at most…
const SCAN_THREADS: usize = 4;
/// …each with at least this many files.
const SCAN_CHUNK_MIN: usize = 500;

fn on_disk((name, e): &(String, std::fs::DirEntry)) -> Option<OnDisk> {
    // The entry's own metadata (one `statx` in the folder, no path walk); a symbolic link is
    // followed to its file.
    let m = match e.file_type().ok()?.is_symlink() {
        true => std::fs::metadata(e.path()).ok()?,
        false => e.metadata().ok()?,
    };
    if !m.is_file() {
        return None;
    }
    Some(OnDisk {
        name: name.clone(),
        size: i64::try_from(m.size()).unwrap_or(i64::MAX),
        mtime: m.mtime().saturating_mul(1_000_000_000) + m.mtime_nsec(),
    })
}

impl Index {
    /// Indexes what changed in the folder since the last time.
    pub fn refresh(&mut self) -> Result<(), IndexError> {
        self.refresh_announcing(&|_| {})
    }

    /// The same, calling `announce` first when at least [`ANNOUNCE_FROM`] files are to be read.
    pub fn refresh_announcing(&mut self, announce: &dyn Fn(usize)) -> Result<(), IndexError> {
        let disk = scan(&self.dir).map_err(|source| IndexError::Folder {
            path: self.dir.display().to_string(),
            source,
        })?;
        let err = self.sql_err();
        // Every search looks up every file's name: a fast hash (a folder's own names cannot
        // be chosen to collide by anyone who could not write its files anyway).
        let mut known: FxHashMap<String, (i64, i64)> =
            FxHashMap::with_capacity_and_hasher(disk.len(), Default::default());
        {
            let mut stmt = self
                .conn
                .prepare("SELECT name, size, mtime FROM files")
                .map_err(&err)?;
            let rows = stmt
                .query_map([], |r| Ok((r.get(0)?, (r.get(1)?, r.get(2)?))))
                .map_err(&err)?;
            for row in rows {
                let (name, stamp) = row.map_err(&err)?;
                known.insert(name, stamp);
            }
        }
        let names: FxHashSet<&str> = disk.iter().map(|d| d.name.as_str()).collect();
        let gone: Vec<&String> = known
            .keys()
            .filter(|n| !names.contains(n.as_str()))
            .collect();
        // Oldest first, so that message ids grow with time: search ranks the newest first.
        let mut stale: Vec<&OnDisk> = disk
            .iter()
            .filter(|d| known.get(&d.name) != Some(&(d.size, d.mtime)))
            .collect();
        stale.sort_by(|a, b| a.mtime.cmp(&b.mtime).then_with(|| a.name.cmp(&b.name)));
        if gone.is_empty() && stale.is_empty() {
            return Ok(());
        }
        tracing::debug!(
            "sessions index: {} to index, {} gone",
            stale.len(),
            gone.len()
        );
        if stale.len() >= ANNOUNCE_FROM {
            announce(stale.len());
        }
        // A large page cache makes indexing and merging cheaper; a search reads each page of a
        // common word's list once, and caching them all would only cost memory and page faults
        // (a phrase of common words: 24 MiB and about half its time), so it gets SQLite's own.
        self.conn
            .execute_batch(&format!("PRAGMA cache_size={WRITE_CACHE_KIB}"))
            .map_err(&err)?;
        let done = self.write_changes(&gone, &stale);
        self.conn
            .execute_batch(&format!("PRAGMA cache_size={READ_CACHE_KIB}"))
            .map_err(&err)?;
        done
    }

    fn write_changes(&self, gone: &[&String], stale: &[&OnDisk]) -> Result<(), IndexError> {
        let err = self.sql_err();
        let tx =
            Transaction::new_unchecked(&self.conn, TransactionBehavior::Immediate).map_err(&err)?;
        for name in gone {
            forget(&tx, name).map_err(&err)?;
        }
        tx.commit().map_err(&err)?;
        // A first build merges as it goes: without it the segments it writes before the final
        // merge pile up, and the file keeps their pages (about 15% of it) once they are freed.
        let big = stale.len() >= OPTIMIZE_AFTER;
        if big {
            self.set_automerge(AUTOMERGE_BUILD)?;
        }
        for batch in batches(stale) {
            let tx = Transaction::new_unchecked(&self.conn, TransactionBehavior::Immediate)
                .map_err(&err)?;
            for d in batch {
                index_file(&tx, &self.dir, d).map_err(&err)?;
            }
            tx.commit().map_err(&err)?;
        }
        if big {
            self.optimize()?;
            self.set_automerge(0)?;
        } else if stale.len() < MERGE_BELOW {
            self.conn
                .execute_batch(&format!(
                    "INSERT INTO fts(fts, rank) VALUES('merge', {MERGE_PAGES})"
                ))
                .map_err(&err)?;
        }
        Ok(())
    }

    fn set_automerge(&self, n: usize) -> Result<(), IndexError> {
        self.conn
            .execute_batch(&format!(
                "INSERT INTO fts(fts, rank) VALUES('automerge', {n})"
            ))
            .map_err(self.sql_err())
    }
}

/// FTS5's own default.
const AUTOMERGE_BUILD: usize = 4;

/// The page cache while the index is written (64 MiB), and while it is read (SQLite's default,
/// 2 MB), as `PRAGMA cache_size` takes them: negative, in KiB.
const WRITE_CACHE_KIB: i64 = -65536;
const READ_CACHE_KIB: i64 = -2000;

fn batches<'a>(files: &'a [&'a OnDisk]) -> Vec<&'a [&'a OnDisk]> {
    let mut out = Vec::new();
    let mut start = 0;
    let mut bytes = 0;
    for (i, d) in files.iter().enumerate() {
        bytes += d.size;
        if i + 1 - start >= BATCH_FILES || bytes >= BATCH_BYTES {
            out.push(&files[start..=i]);
            start = i + 1;
            bytes = 0;
        }
    }
    if start < files.len() {
        out.push(&files[start..]);
    }
    out
}

/// Removes a file's messages and its row.
fn forget(tx: &Transaction<'_>, name: &str) -> rusqlite::Result<()> {
    let fid: Option<i64> = tx
        .query_row("SELECT fid FROM files WHERE name = ?1", [name], |r| {
            r.get(0)
        })
        .optional()?;
    if let Some(fid) = fid {
        forget_messages(tx, fid)?;
        tx.execute("DELETE FROM files WHERE fid = ?1", [fid])?;
    }
    Ok(())
}

fn forget_messages(tx: &Transaction<'_>, fid: i64) -> rusqlite::Result<()> {
    let ids: Vec<i64> = tx
        .prepare_cached("SELECT id FROM msg WHERE fid = ?1")?
        .query_map([fid], |r| r.get(0))?
        .collect::<Result<_, _>>()?;
    let mut del = tx.prepare_cached("DELETE FROM fts WHERE rowid = ?1")?;
    for id in ids {
        del.execute([id])?;
    }
    tx.prepare_cached("DELETE FROM msg WHERE fid = ?1")?
        .execute([fid])?;
    Ok(())
}

/// Reads one file and replaces what the index holds of it, unless another reader just did.
fn index_file(tx: &Transaction<'_>, dir: &Path, d: &OnDisk) -> rusqlite::Result<()> {
    let row: Option<(i64, i64, i64)> = tx
        .prepare_cached("SELECT fid, size, mtime FROM files WHERE name = ?1")?
        .query_row([&d.name], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
        .optional()?;
    if let Some((fid, size, mtime)) = row {
        if (size, mtime) == (d.size, d.mtime) {
            return Ok(());
        }
        forget_messages(tx, fid)?;
    }
    let path = dir.join(&d.name);
    // The bytes are kept for where each record starts: a hit's text is read from there.
    let bytes = read_file(&path);
    let loaded = bytes
        .as_ref()
        .map_err(|e| e.to_string())
        .and_then(|b| parse(b, Some(&path)).map_err(|e| e.to_string()));
    let ms = |t: &chrono::DateTime<chrono::Utc>| t.timestamp_millis();
    let fid: i64 = match &loaded {
        Ok(l) => {
            let s = Summary::of(l, path.clone());
            tx.prepare_cached(
                "INSERT INTO files(name, size, mtime, id, sname, created, last_at, model, turns,
                     first_line, parent, parent_turn, parent_events, error)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, NULL)
                 ON CONFLICT(name) DO UPDATE SET size = ?2, mtime = ?3, id = ?4, sname = ?5,
                     created = ?6, last_at = ?7, model = ?8, turns = ?9, first_line = ?10,
                     parent = ?11, parent_turn = ?12, parent_events = ?13, error = NULL
                 RETURNING fid",
            )?
            .query_row(
                params![
                    d.name,
                    d.size,
                    d.mtime,
                    s.id.to_string(),
                    s.name,
                    ms(&s.created),
                    ms(&s.last_at),
                    s.model,
                    s.turns as i64,
                    s.first_user_line,
                    s.parent.map(|p| p.id.to_string()),
                    s.parent.map(|p| p.turn as i64),
                    s.parent.map(|p| p.events as i64),
                ],
                |r| r.get(0),
            )?
        }
        Err(e) => tx
            .prepare_cached(
                "INSERT INTO files(name, size, mtime, error) VALUES (?1, ?2, ?3, ?4)
                 ON CONFLICT(name) DO UPDATE SET size = ?2, mtime = ?3, id = NULL, sname = NULL,
                     created = NULL, last_at = NULL, model = NULL, turns = NULL,
                     first_line = NULL, parent = NULL, parent_turn = NULL,
                     parent_events = NULL, error = ?4
                 RETURNING fid",
            )?
            .query_row(params![d.name, d.size, d.mtime, e], |r| r.get(0))?,
    };
    let (Ok(l), Ok(bytes)) = (&loaded, &bytes) else {
        return Ok(());
    };
    let starts = record_starts(bytes);
    let mut msg = tx.prepare_cached(
        "INSERT INTO msg(fid, seq, turn, role, at, model, off) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
    )?;
    let mut fts = tx.prepare_cached("INSERT INTO fts(rowid, body) VALUES (?1, ?2)")?;
    for doc in documents(l) {
        msg.execute(params![
            fid,
            doc.seq,
            doc.turn as i64,
            doc.role as i64,
            doc.at,
            doc.model,
            usize::try_from(doc.seq + 1)
                .ok()
                .and_then(|i| starts.get(i))
                .map(|&o| o as i64)
        ])?;
        fts.execute(params![tx.last_insert_rowid(), spaced(doc.text).as_ref()])?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(size: i64) -> OnDisk {
        OnDisk {
            name: "x".into(),
            size,
            mtime: 0,
        }
    }

    #[test]
    fn batches_cut_by_count_and_bytes() {
        let small: Vec<OnDisk> = (0..1001).map(|_| d(1)).collect();
        let refs: Vec<&OnDisk> = small.iter().collect();
        let sizes: Vec<usize> = batches(&refs).iter().map(|b| b.len()).collect();
        assert_eq!(sizes, [500, 500, 1]);
        let big = [d(BATCH_BYTES), d(1), d(BATCH_BYTES - 1), d(1)];
        let refs: Vec<&OnDisk> = big.iter().collect();
        let sizes: Vec<usize> = batches(&refs).iter().map(|b| b.len()).collect();
        assert_eq!(sizes, [1, 2, 1]);
        assert!(batches(&[]).is_empty());
    }

    #[test]
    fn scan_sees_session_files_only() {
        let dir = tempfile::tempdir().unwrap();
        assert!(scan(&dir.path().join("none")).unwrap().is_empty());
        std::fs::write(dir.path().join("b.jsonl"), "12345").unwrap();
        std::fs::write(dir.path().join("a.jsonl"), "1").unwrap();
        std::fs::write(dir.path().join("notes.txt"), "x").unwrap();
        std::fs::create_dir(dir.path().join("c.jsonl")).unwrap();
        let mut got: Vec<(String, i64)> = scan(dir.path())
            .unwrap()
            .into_iter()
            .map(|d| (d.name, d.size))
            .collect();
        got.sort();
        assert_eq!(got, [("a.jsonl".to_string(), 1), ("b.jsonl".into(), 5)]);
    }
}
