//! Reads many log files fast: large files are cut at line boundaries into pieces that worker
//! threads parse in parallel, each into its own partial result, merged at the end. Line numbers
//! of malformed lines are made file-relative again after the pieces are counted.

use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

use super::read::{open, Lines, Problems, Record};

/// Files smaller than this are read by one thread.
const MIN_PIECE: u64 = 8 << 20;

/// A byte range of one file.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Piece {
    file: usize,
    start: u64,
    end: u64,
}

/// What one piece produced.
struct Done<S> {
    piece: usize,
    state: S,
    problems: Problems,
    lines: u64,
}

/// Reads `files` in order, calling `each` for every record (on some worker's `state`), and returns
/// the merged state and the malformed lines. `threads` = 1 reads everything on this thread.
pub fn scan_files<S: Send>(
    files: &[PathBuf],
    threads: usize,
    init: impl Fn() -> S + Sync,
    each: impl Fn(&mut S, Record<'_>) + Sync,
    merge: impl Fn(&mut S, S),
) -> io::Result<(S, Problems)> {
    let mut pieces = Vec::new();
    for (i, path) in files.iter().enumerate() {
        pieces.extend(split(i, path, threads)?);
    }
    let next = AtomicUsize::new(0);
    let done: Mutex<Vec<Done<S>>> = Mutex::new(Vec::new());
    let first_error: Mutex<Option<io::Error>> = Mutex::new(None);
    let work = || loop {
        let k = next.fetch_add(1, Ordering::Relaxed);
        let Some(piece) = pieces.get(k) else { return };
        let mut state = init();
        let mut problems = Problems::default();
        match read_piece(&files[piece.file], piece, &mut problems, |r| {
            each(&mut state, r)
        }) {
            Ok(lines) => done.lock().expect("no panics").push(Done {
                piece: k,
                state,
                problems,
                lines,
            }),
            Err(e) => {
                first_error.lock().expect("no panics").get_or_insert(e);
                return;
            }
        }
    };
    let workers = threads.clamp(1, pieces.len().max(1));
    if workers == 1 {
        work();
    } else {
        std::thread::scope(|s| {
            for _ in 0..workers {
                s.spawn(work);
            }
        });
    }
    if let Some(e) = first_error.into_inner().expect("no panics") {
        return Err(e);
    }
    let mut done = done.into_inner().expect("no panics");
    done.sort_by_key(|d| d.piece);
    let mut state: Option<S> = None;
    let mut problems = Problems::default();
    let mut offset = 0;
    for (k, d) in done.into_iter().enumerate() {
        if k > 0 && pieces[k].file != pieces[k - 1].file {
            offset = 0;
        }
        let mut p = d.problems;
        for m in &mut p.first {
            m.line += offset;
        }
        offset += d.lines;
        problems.merge(p);
        match &mut state {
            None => state = Some(d.state),
            Some(s) => merge(s, d.state),
        }
    }
    Ok((state.unwrap_or_else(init), problems))
}

/// Cuts a file into up to `n` pieces that each start at the beginning of a line.
fn split(file: usize, path: &Path, n: usize) -> io::Result<Vec<Piece>> {
    let mut f = open(path)?;
    let len = f.metadata()?.len();
    let n = if len < MIN_PIECE { 1 } else { n.max(1) as u64 };
    let mut cuts = vec![0];
    for k in 1..n {
        let at = next_line_start(&mut f, k * len / n)?;
        if at < len && at > *cuts.last().expect("starts with 0") {
            cuts.push(at);
        }
    }
    cuts.push(len);
    Ok(cuts
        .windows(2)
        .map(|w| Piece {
            file,
            start: w[0],
            end: w[1],
        })
        .collect())
}

/// The offset of the first line that starts at or after `pos`.
fn next_line_start(f: &mut File, pos: u64) -> io::Result<u64> {
    if pos == 0 {
        return Ok(0);
    }
    f.seek(SeekFrom::Start(pos - 1))?;
    let mut buf = [0u8; 64 * 1024];
    let mut at = pos - 1;
    loop {
        let n = f.read(&mut buf)?;
        if n == 0 {
            return Ok(at);
        }
        if let Some(i) = memchr::memchr(b'\n', &buf[..n]) {
            return Ok(at + i as u64 + 1);
        }
        at += n as u64;
    }
}

/// Reads one piece; returns how many lines it held.
fn read_piece(
    path: &Path,
    piece: &Piece,
    problems: &mut Problems,
    f: impl FnMut(Record<'_>),
) -> io::Result<u64> {
    let mut file = open(path)?;
    file.seek(SeekFrom::Start(piece.start))?;
    let mut lines = Lines::new(file.take(piece.end - piece.start));
    super::read::scan_lines(&mut lines, path, problems, f)?;
    Ok(lines.line_no - 1)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    #[test]
    fn pieces_cover_the_file_at_line_starts() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.jsonl");
        let mut f = File::create(&path).unwrap();
        let mut n = 0;
        while f.metadata().unwrap().len() < 2 * MIN_PIECE + 12_345 {
            writeln!(f, "{{\"timestamp\":\"2026-11-29T00:00:00Z\",\"turn\":{n}}}").unwrap();
            n += 1;
        }
        writeln!(f, "broken").unwrap();
        drop(f);
        let bytes = std::fs::read(&path).unwrap();
        let pieces = split(0, &path, 3).unwrap();
        assert_eq!(pieces.len(), 3);
        assert_eq!(pieces[0].start, 0);
        assert_eq!(pieces[2].end, bytes.len() as u64);
        for w in pieces.windows(2) {
            assert_eq!(w[0].end, w[1].start);
            assert_eq!(bytes[w[1].start as usize - 1], b'\n');
        }
        for threads in [1, 3] {
            let (turns, problems) = scan_files(
                &[path.clone(), path.clone()],
                threads,
                Vec::new,
                |v: &mut Vec<u64>, r| v.push(r.meta.turn.unwrap()),
                |a, b| a.extend(b),
            )
            .unwrap();
            let mut sorted = turns.clone();
            sorted.sort_unstable();
            sorted.dedup();
            assert_eq!(turns.len() as u64, 2 * n);
            assert_eq!(sorted.len() as u64, n);
            assert_eq!(problems.count, 2);
            assert_eq!(problems.first[0].line, n + 1, "threads {threads}");
            assert_eq!(problems.first[1].line, n + 1, "threads {threads}");
        }
    }

    #[test]
    fn a_missing_file_is_an_error_naming_it() {
        let err = scan_files(
            &[PathBuf::from("no/such.jsonl")],
            2,
            || (),
            |_, _| {},
            |_, _| {},
        )
        .err()
        .unwrap();
        assert!(err.to_string().contains("no/such.jsonl"), "{err}");
    }
}
