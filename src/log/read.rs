//! Reads turn logs as a stream: which files make up a log, lines split without holding a file in
//! memory, records parsed by borrowing from the line, and malformed lines counted with their file
//! and line number instead of stopping the read.
//!
//! Old lines are accepted: version 1 (no `log_content`) and the unversioned lines of the notes'
//! Python lab (`timestamp` without a zone, no `model` or `status`: read as UTC, model unknown, ok).

use std::borrow::Cow;
use std::fs::File;
use std::io::{self, Read};
use std::path::{Path, PathBuf};

use serde::Deserialize;

use super::rotate::{rotated_siblings, rotation_number};
use super::timestamp::parse_timestamp;
use crate::conversation::TurnStatus;
use crate::paths::NotAFile;

/// The metadata of one record: what `stats` and the filters need, borrowed from the line.
#[derive(Debug, Deserialize)]
pub struct Meta<'a> {
    /// 0 for lines written before the log had versions.
    #[serde(default)]
    pub log_version: u32,
    #[serde(borrow)]
    pub timestamp: Cow<'a, str>,
    #[serde(borrow, default)]
    pub session_id: Cow<'a, str>,
    #[serde(default)]
    pub turn: Option<u64>,
    #[serde(borrow, default)]
    pub model: Cow<'a, str>,
    #[serde(default)]
    pub response_time: Option<f64>,
    #[serde(default)]
    pub ttft: Option<f64>,
    #[serde(default)]
    pub prompt_tokens: Option<u64>,
    #[serde(default)]
    pub completion_tokens: Option<u64>,
    #[serde(default)]
    pub tokens_used: Option<u64>,
    #[serde(default)]
    pub tokens_per_second: Option<f64>,
    #[serde(borrow, default)]
    status: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    pub log_content: Option<Cow<'a, str>>,
    /// `summarize` for the call that condensed older messages before a turn; absent before the
    /// context window was logged, which means `chat`.
    #[serde(borrow, default)]
    call: Option<Cow<'a, str>>,
}

impl Meta<'_> {
    /// A missing status is an old line, and old lines only recorded turns that worked.
    pub fn status(&self) -> Option<TurnStatus> {
        match self.status.as_deref() {
            None | Some("ok") => Some(TurnStatus::Ok),
            Some("error") => Some(TurnStatus::Error),
            Some("cancelled") => Some(TurnStatus::Cancelled),
            Some("terminated") => Some(TurnStatus::Terminated),
            Some("hangup") => Some(TurnStatus::Hangup),
            // A status this version does not know (from a newer writer).
            Some(_) => None,
        }
    }

    /// A summarize call, not a turn of its own (see `stats` for how it is counted).
    pub fn is_summarize(&self) -> bool {
        self.call.as_deref() == Some("summarize")
    }

    /// An `embed` run (`ollama-chat embed`): a request, not a turn of a chat.
    pub fn is_embed(&self) -> bool {
        self.call.as_deref() == Some("embed")
    }

    pub fn status_str(&self) -> &str {
        self.status.as_deref().unwrap_or("ok")
    }

    /// Tokens in and out; old lines only have the total, which counts as neither.
    pub fn tokens(&self) -> (Option<u64>, Option<u64>) {
        (self.prompt_tokens, self.completion_tokens)
    }
}

/// The text of one record, parsed only when it is needed (`--grep`, the table's question column).
#[derive(Debug, Deserialize, Default)]
pub struct Texts<'a> {
    #[serde(borrow, default)]
    pub user_input: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    pub model_response: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    pub thinking: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    pub error: Option<Cow<'a, str>>,
}

/// A record with the parts every reader needs worked out.
pub struct Record<'a> {
    pub meta: Meta<'a>,
    /// Milliseconds since the Unix epoch.
    pub at: i64,
    /// The line as written, without its newline: `logs --json` prints it unchanged.
    pub line: &'a [u8],
}

/// Parses one line into a record, or says why it is not one.
pub fn parse_record(line: &[u8]) -> Result<Record<'_>, String> {
    let meta: Meta<'_> = serde_json::from_slice(line).map_err(|e| describe(&e))?;
    let at = parse_timestamp(&meta.timestamp)
        .ok_or_else(|| format!("bad timestamp {:?}", meta.timestamp))?;
    Ok(Record { meta, at, line })
}

/// The text fields of a line already known to be a record.
pub fn parse_texts(line: &[u8]) -> Texts<'_> {
    serde_json::from_slice(line).unwrap_or_default()
}

fn describe(e: &serde_json::Error) -> String {
    use serde_json::error::Category;
    let msg = e.to_string().replace(" at line 1 column ", " at column ");
    match e.classify() {
        Category::Syntax | Category::Eof | Category::Io => format!("not JSON: {msg}"),
        Category::Data => format!("not a turn record: {msg}"),
    }
}

/// Splits a reader into lines without holding more than the longest line.
pub struct Lines<R> {
    inner: R,
    buf: Vec<u8>,
    start: usize,
    end: usize,
    /// Where the search for the next newline goes on (bytes before it hold none).
    scanned: usize,
    /// File offset of `buf[0]`.
    base: u64,
    eof: bool,
    /// Number of the line `next` returns next (1-based).
    pub line_no: u64,
}

const CHUNK: usize = 256 * 1024;

impl<R: Read> Lines<R> {
    pub fn new(inner: R) -> Self {
        Lines {
            inner,
            buf: vec![0; CHUNK],
            start: 0,
            end: 0,
            scanned: 0,
            base: 0,
            eof: false,
            line_no: 1,
        }
    }

    /// The next whole line (without `\n` or `\r\n`). At the end of the input, an unterminated last
    /// line is returned too if `take_partial`; otherwise it stays buffered so that `follow` can
    /// wait for the rest of it.
    pub fn next_line(&mut self, take_partial: bool) -> io::Result<Option<&[u8]>> {
        Ok(self.next_range(take_partial)?.map(|r| self.line(r)))
    }

    /// Like `next_line`, as a range for `line`, so that callers can decide what to do next
    /// without holding a borrow.
    pub fn next_range(&mut self, take_partial: bool) -> io::Result<Option<std::ops::Range<usize>>> {
        let (from, to) = loop {
            let from_scan = self.scanned.max(self.start);
            if let Some(i) = memchr::memchr(b'\n', &self.buf[from_scan..self.end]) {
                let from = self.start;
                self.start = from_scan + i + 1;
                self.scanned = self.start;
                break (from, from_scan + i);
            }
            self.scanned = self.end;
            if self.eof {
                if take_partial && self.start < self.end {
                    let from = self.start;
                    self.start = self.end;
                    break (from, self.end);
                }
                return Ok(None);
            }
            self.fill()?;
        };
        self.line_no += 1;
        let to = if to > from && self.buf[to - 1] == b'\r' {
            to - 1
        } else {
            to
        };
        Ok(Some(from..to))
    }

    /// The bytes of a range `next_range` returned (valid until the next call).
    pub fn line(&self, r: std::ops::Range<usize>) -> &[u8] {
        &self.buf[r]
    }

    /// The file offset just past the last line returned.
    pub fn consumed(&self) -> u64 {
        self.base + self.start as u64
    }

    /// Lets a reader that hit the end look again (the file may have grown).
    pub fn rearm(&mut self) {
        self.eof = false;
    }

    /// Bytes of an unterminated line held back at the end.
    pub fn pending(&self) -> usize {
        self.end - self.start
    }

    pub fn get_ref(&self) -> &R {
        &self.inner
    }

    fn fill(&mut self) -> io::Result<()> {
        if self.start > 0 {
            self.buf.copy_within(self.start..self.end, 0);
            self.end -= self.start;
            self.scanned -= self.start;
            self.base += self.start as u64;
            self.start = 0;
        }
        if self.end == self.buf.len() {
            self.buf.resize(self.buf.len() * 2, 0);
        }
        loop {
            match self.inner.read(&mut self.buf[self.end..]) {
                Ok(0) => {
                    self.eof = true;
                    return Ok(());
                }
                Ok(n) => {
                    self.end += n;
                    return Ok(());
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
    }
}

/// A line that is not a turn record.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Malformed {
    pub file: PathBuf,
    pub line: u64,
    pub reason: String,
}

/// Malformed lines: all counted, the first few kept with details (memory stays bounded).
#[derive(Debug, Default)]
pub struct Problems {
    pub count: u64,
    pub first: Vec<Malformed>,
}

impl Problems {
    const DETAILS: usize = 20;

    pub fn add(&mut self, file: &Path, line: u64, reason: String) {
        self.count += 1;
        if self.first.len() < Self::DETAILS {
            self.first.push(Malformed {
                file: file.to_path_buf(),
                line,
                reason,
            });
        }
    }

    pub fn merge(&mut self, other: Problems) {
        self.count += other.count;
        let room = Self::DETAILS.saturating_sub(self.first.len());
        self.first.extend(other.first.into_iter().take(room));
    }

    /// One warning line per kept detail, then how many more there were.
    pub fn warnings(&self) -> Vec<String> {
        let mut out: Vec<String> = self
            .first
            .iter()
            .map(|m| {
                format!(
                    "skipped malformed line {}:{}: {}",
                    m.file.display(),
                    m.line,
                    m.reason
                )
            })
            .collect();
        let rest = self.count - self.first.len() as u64;
        if rest > 0 {
            out.push(format!("… and {rest} more malformed lines"));
        }
        out
    }
}

/// The files of the log at `path`: its rotated siblings, oldest first, then the live file. Files
/// that do not exist are left out.
pub fn log_files(path: &Path) -> io::Result<Vec<PathBuf>> {
    let mut files = rotated_siblings(path)?;
    if path.exists() {
        files.push(path.to_path_buf());
    }
    Ok(files)
}

/// Files given on the command line, rotated siblings put oldest first (`turns.jsonl.2`,
/// `turns.jsonl.1`, `turns.jsonl`), whatever order a shell glob gave them in. Other files keep
/// their order.
pub fn order_given(paths: &[PathBuf]) -> Vec<PathBuf> {
    let key = |p: &PathBuf| -> (PathBuf, i64) {
        let name = p.file_name().and_then(|n| n.to_str()).unwrap_or("");
        if let Some((stem, _)) = name.rsplit_once('.') {
            let base = p.with_file_name(stem);
            if let Some(n) = rotation_number(&base, p) {
                return (base, -i64::from(n));
            }
        }
        (p.clone(), 0)
    };
    let mut first_seen: Vec<PathBuf> = Vec::new();
    let mut keyed: Vec<(usize, i64, PathBuf)> = Vec::new();
    for p in paths {
        let (base, rank) = key(p);
        let group = match first_seen.iter().position(|b| *b == base) {
            Some(g) => g,
            None => {
                first_seen.push(base);
                first_seen.len() - 1
            }
        };
        keyed.push((group, rank, p.clone()));
    }
    keyed.sort_by_key(|(g, rank, _)| (*g, *rank));
    keyed.into_iter().map(|(_, _, p)| p).collect()
}

/// Opens a log file for reading, with the path in the error; only a regular file (a FIFO or
/// `/dev/zero` would never end).
pub fn open(path: &Path) -> io::Result<File> {
    crate::paths::open_regular(path)
        .map_err(|e| NotAFile::context(e, format_args!("cannot read {}", path.display())))
}

/// Reads every line of `file`, handing records to `f` and counting the rest in `problems`.
/// Blank lines are skipped silently.
pub fn scan_file<R: Read>(
    reader: R,
    file: &Path,
    problems: &mut Problems,
    f: impl FnMut(Record<'_>),
) -> io::Result<()> {
    scan_lines(&mut Lines::new(reader), file, problems, f)
}

/// `scan_file` over lines already set up (a piece of a file, for `scan`).
pub fn scan_lines<R: Read>(
    lines: &mut Lines<R>,
    file: &Path,
    problems: &mut Problems,
    mut f: impl FnMut(Record<'_>),
) -> io::Result<()> {
    loop {
        let no = lines.line_no;
        let Some(line) = lines.next_line(true)? else {
            return Ok(());
        };
        if line.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        match parse_record(line) {
            Ok(r) => f(r),
            Err(reason) => problems.add(file, no, reason),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_new_old_and_malformed() {
        let v2 = br#"{"log_version":2,"log_content":"none","timestamp":"2026-11-29T00:00:00Z","session_id":"s","turn":1,"model":"m","status":"cancelled","response_time":1.5,"ttft":null,"prompt_tokens":null}"#;
        let r = parse_record(v2).unwrap();
        assert_eq!(r.meta.status(), Some(TurnStatus::Cancelled));
        assert_eq!(r.meta.response_time, Some(1.5));
        assert_eq!(r.meta.ttft, None);
        assert_eq!(r.meta.log_content.as_deref(), Some("none"));
        let lab = br#"{"timestamp": "2025-03-01T10:00:00.123456", "session_id": "abc", "user_input": "\u4f60\u597d", "model_response": "hi", "response_time": 0.8, "tokens_used": null}"#;
        let r = parse_record(lab).unwrap();
        assert_eq!(r.meta.log_version, 0);
        assert_eq!(r.meta.status(), Some(TurnStatus::Ok));
        assert_eq!(r.meta.model, "");
        assert_eq!(parse_texts(lab).user_input.as_deref(), Some("你好"));
        let future = br#"{"log_version":9,"timestamp":"2026-11-29T00:00:00Z","status":"timeout","new":{"x":[1]}}"#;
        assert_eq!(parse_record(future).unwrap().meta.status(), None);

        let err = |l: &[u8]| parse_record(l).err().unwrap();
        assert!(
            err(b"{\"timestamp\": ").starts_with("not JSON"),
            "{}",
            err(b"{\"timestamp\": ")
        );
        assert!(err(b"garbage").contains("at column 1"));
        assert!(err(b"[1,2]").starts_with("not a turn record"));
        assert!(err(b"{\"model\":\"m\"}").contains("missing field `timestamp`"));
        assert!(err(br#"{"timestamp":"soon"}"#).contains("bad timestamp"));
        assert!(
            err(br#"{"timestamp":"2026-11-29T00:00:00Z","prompt_tokens":"many"}"#)
                .starts_with("not a turn record")
        );
    }

    #[test]
    fn lines_split_across_reads_and_long_lines() {
        // A reader that returns one byte at a time, and a line longer than the buffer.
        struct Trickle<'a>(&'a [u8]);
        impl Read for Trickle<'_> {
            fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
                match self.0.split_first() {
                    Some((b, rest)) if !buf.is_empty() => {
                        buf[0] = *b;
                        self.0 = rest;
                        Ok(1)
                    }
                    _ => Ok(0),
                }
            }
        }
        let long = "長".repeat(CHUNK);
        let text = format!("a\r\n\n{long}\nlast");
        let mut l = Lines::new(Trickle(text.as_bytes()));
        assert_eq!(l.next_line(true).unwrap(), Some(&b"a"[..]));
        assert_eq!(l.next_line(true).unwrap(), Some(&b""[..]));
        assert_eq!(l.next_line(true).unwrap(), Some(long.as_bytes()));
        assert_eq!(l.line_no, 4);
        assert_eq!(l.next_line(true).unwrap(), Some(&b"last"[..]));
        assert_eq!(l.next_line(true).unwrap(), None);

        let mut l = Lines::new(&b"whole\npart"[..]);
        assert_eq!(l.next_line(false).unwrap(), Some(&b"whole"[..]));
        assert_eq!(l.next_line(false).unwrap(), None);
        assert_eq!(l.pending(), 4);
    }

    #[test]
    fn scan_counts_problems_with_line_numbers() {
        let text = "{\"timestamp\":\"2026-11-29T00:00:00Z\"}\n\nnot json\n{\"timestamp\":\"2026-11-29T00:00:01Z\"}\n{\"trunc";
        let mut problems = Problems::default();
        let mut seen = Vec::new();
        scan_file(text.as_bytes(), Path::new("t.jsonl"), &mut problems, |r| {
            seen.push(r.at)
        })
        .unwrap();
        assert_eq!(seen, vec![1_795_910_400_000, 1_795_910_401_000]);
        assert_eq!(problems.count, 2);
        assert_eq!(problems.first[0].line, 3);
        assert_eq!(problems.first[1].line, 5);
        assert!(problems.warnings()[0].starts_with("skipped malformed line t.jsonl:3: not JSON"));
    }

    #[test]
    fn given_files_put_rotations_oldest_first() {
        let p = |s: &str| PathBuf::from(s);
        let given = [
            p("a/turns.jsonl"),
            p("a/turns.jsonl.1"),
            p("b.jsonl"),
            p("a/turns.jsonl.10"),
            p("a/turns.jsonl.2"),
        ];
        assert_eq!(
            order_given(&given),
            vec![
                p("a/turns.jsonl.10"),
                p("a/turns.jsonl.2"),
                p("a/turns.jsonl.1"),
                p("a/turns.jsonl"),
                p("b.jsonl")
            ]
        );
    }
}
