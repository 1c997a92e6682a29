//! `ollama-chat logs`: the most recent matching turns as a table or JSON lines, then, with
//! `--follow`, new turns as they are logged.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::io::{self, BufWriter, Write};
use std::path::PathBuf;
use std::time::Duration;

use chrono::TimeZone;

use super::format::secs;
use super::select::{warn_problems, Selection};
use crate::cli::LogsArgs;
use crate::config::Config;
use crate::exit_code::ExitCode;
use crate::log::filter::Filter;
use crate::log::read::{open, parse_record, parse_texts, scan_file, Problems, Record};
use crate::log::tail::Tail;
use crate::table::{left, right, truncate};
use crate::term::Term;
use crate::untrusted::sanitize;
use crate::UsageError;

/// Rows shown when `-n` is not given (JSON output shows all).
const DEFAULT_ROWS: usize = 20;
/// How often `--follow` looks for new lines.
const POLL: Duration = Duration::from_millis(200);

pub fn run(args: &LogsArgs, config: &Config, term: &Term) -> anyhow::Result<ExitCode> {
    let sel = Selection::new(&args.select, config.log_path.as_deref())?;
    let live = match (args.follow, &sel.live) {
        (false, _) => None,
        (true, Some(p)) => Some(p.clone()),
        (true, None) => {
            return Err(UsageError(
                "--follow follows one log: give one file, or none for the turn log".into(),
            )
            .into())
        }
    };
    if live.is_none() && sel.say_if_empty() {
        return Ok(ExitCode::Success);
    }
    // When following, the live file is read by the tail, so nothing slips between the two.
    let backlog: Vec<PathBuf> = sel
        .files
        .iter()
        .filter(|f| Some(*f) != live.as_ref())
        .cloned()
        .collect();
    let mut tail = live.map(Tail::new);
    let color = term.stdout.color;
    let mut out = BufWriter::new(io::stdout().lock());
    let mut problems = Problems::default();

    let layout = match args.limit.or((!args.json).then_some(DEFAULT_ROWS)) {
        None => {
            let r = stream_all(
                &backlog,
                tail.as_mut(),
                &sel.filter,
                &mut problems,
                &mut out,
            );
            // A closed stdout (`| head`) ends the command successfully (see `commands::run`).
            r??;
            Layout::new(&[], term.width)
        }
        Some(limit) => {
            let mut recent = Recent::new(limit);
            for path in &backlog {
                scan_file(open(path)?, path, &mut problems, |r| {
                    recent.offer(&sel.filter, &r)
                })?;
            }
            if let Some(t) = &mut tail {
                drain_tail(t, &mut problems, |r| recent.offer(&sel.filter, &r))?;
            }
            show_recent(recent, args.json, tail.is_some(), term, &mut out)?
        }
    };
    warn_problems(&problems);
    match tail {
        Some(t) => follow(t, &sel.filter, &layout, args.json, color, out),
        None => Ok(ExitCode::Success),
    }
}

/// `--json` without `-n`: every matching line, in file order, without holding any.
fn stream_all(
    backlog: &[PathBuf],
    tail: Option<&mut Tail>,
    filter: &Filter,
    problems: &mut Problems,
    out: &mut impl Write,
) -> io::Result<io::Result<()>> {
    let mut failed = None;
    let mut each = |r: Record<'_>| {
        if failed.is_none() && filter.matches(&r) {
            failed = write_line(out, r.line).err();
        }
    };
    for path in backlog {
        scan_file(open(path)?, path, problems, &mut each)?;
    }
    if let Some(t) = tail {
        drain_tail(t, problems, &mut each)?;
    }
    Ok(failed.map_or(Ok(()), Err).and_then(|()| out.flush()))
}

/// Prints the kept rows (table or JSON lines) and, on stderr, how many more matched.
fn show_recent(
    recent: Recent,
    json: bool,
    following: bool,
    term: &Term,
    out: &mut impl Write,
) -> anyhow::Result<Layout> {
    let color = term.stdout.color;
    let (matched, shown) = (recent.matched, recent.heap.len() as u64);
    let rows = recent.into_sorted(json);
    let layout = Layout::new(&rows, term.width);
    let printed = if json {
        // The lines as logged for a program; on a terminal, harmless (JSON lets C1 controls
        // and bidi overrides stand unescaped in a string).
        rows.iter().try_for_each(|r| match term.stdout.tty {
            true => write_line(out, sanitize(&r.raw).as_bytes()),
            false => write_line(out, r.raw.as_bytes()),
        })
    } else if rows.is_empty() && !following {
        Ok(())
    } else {
        layout
            .header(out, color)
            .and_then(|()| rows.iter().try_for_each(|r| layout.row(out, r, color)))
    };
    printed.and_then(|()| out.flush())?;
    if !json && !following {
        if matched == 0 {
            crate::render::style::notice(format_args!("no turns match"));
        } else if matched > shown {
            crate::render::style::notice(format_args!(
                "showing the last {shown} of {matched} matching turns; -n N shows more"
            ));
        }
    }
    Ok(layout)
}

fn write_line(out: &mut impl Write, line: &[u8]) -> io::Result<()> {
    out.write_all(line)?;
    out.write_all(b"\n")
}

/// Hands every complete line the tail has now to `f` as a record; malformed ones are counted.
fn drain_tail(
    t: &mut Tail,
    problems: &mut Problems,
    mut f: impl FnMut(Record<'_>),
) -> io::Result<()> {
    let path = t.path().to_path_buf();
    while let Some((no, line)) = t.next_line()? {
        if line.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        match parse_record(line) {
            Ok(r) => f(r),
            Err(reason) => problems.add(&path, no, reason),
        }
    }
    Ok(())
}

/// Prints new matching turns until stdout closes (or the user presses Ctrl-C).
fn follow(
    mut tail: Tail,
    filter: &Filter,
    layout: &Layout,
    json: bool,
    color: bool,
    mut out: impl Write,
) -> anyhow::Result<ExitCode> {
    loop {
        let mut problems = Problems::default();
        let mut failed = None;
        drain_tail(&mut tail, &mut problems, |r| {
            if failed.is_some() || !filter.matches(&r) {
                return;
            }
            failed = if json {
                write_line(&mut out, r.line).err()
            } else {
                layout
                    .row(&mut out, &Row::from_record(&r, false), color)
                    .err()
            };
        })?;
        warn_problems(&problems);
        // Until stdout closes: a broken pipe is a success (see `commands::run`).
        failed.map_or(Ok(()), Err).and_then(|()| out.flush())?;
        std::thread::sleep(POLL);
    }
}

/// One turn as the table shows it.
struct Row {
    at: i64,
    session: String,
    model: String,
    latency: Option<f64>,
    ttft: Option<f64>,
    tokens: String,
    status: String,
    question: String,
    /// The line as logged, for `--json -n`.
    raw: String,
}

impl Row {
    fn from_record(r: &Record<'_>, keep_raw: bool) -> Row {
        let m = &r.meta;
        let texts = parse_texts(r.line);
        let question = match texts.user_input.as_deref() {
            // Its "question" is the instruction and transcript sent to be condensed.
            _ if m.is_summarize() => "(summarize call: condensing earlier messages)".into(),
            Some(q) => {
                let first = q.trim().lines().next().unwrap_or("");
                sanitize(first).replace('\t', " ")
            }
            None if m.log_content.as_deref() == Some("none") => "(not logged)".into(),
            None => String::new(),
        };
        let tokens = match m.tokens() {
            (Some(i), Some(o)) => format!("{i}/{o}"),
            _ => m.tokens_used.map_or("-".into(), |t| t.to_string()),
        };
        Row {
            at: r.at,
            session: m.session_id.chars().take(8).collect(),
            model: if m.model.is_empty() {
                "?".into()
            } else {
                sanitize(&m.model).into_owned()
            },
            latency: m.response_time,
            ttft: m.ttft,
            tokens,
            status: m.status_str().to_string(),
            question,
            raw: if keep_raw {
                String::from_utf8_lossy(r.line).into_owned()
            } else {
                String::new()
            },
        }
    }
}

/// The `n` most recent matching turns (by time, then by reading order), in bounded memory. Only
/// their lines are copied while reading; rows are built for the survivors at the end.
struct Recent {
    cap: usize,
    heap: BinaryHeap<Reverse<Keyed>>,
    seq: u64,
    matched: u64,
}

struct Keyed {
    key: (i64, u64),
    line: Vec<u8>,
}

impl PartialEq for Keyed {
    fn eq(&self, o: &Self) -> bool {
        self.key == o.key
    }
}
impl Eq for Keyed {}
impl PartialOrd for Keyed {
    fn partial_cmp(&self, o: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(o))
    }
}
impl Ord for Keyed {
    fn cmp(&self, o: &Self) -> std::cmp::Ordering {
        self.key.cmp(&o.key)
    }
}

impl Recent {
    fn new(cap: usize) -> Self {
        Recent {
            cap,
            heap: BinaryHeap::new(),
            seq: 0,
            matched: 0,
        }
    }

    fn offer(&mut self, filter: &Filter, r: &Record<'_>) {
        if !filter.matches(r) {
            return;
        }
        self.matched += 1;
        self.seq += 1;
        let key = (r.at, self.seq);
        if self.cap == 0 {
            return;
        }
        let mut line = Vec::new();
        if self.heap.len() >= self.cap {
            if self.heap.peek().is_some_and(|Reverse(k)| key <= k.key) {
                return; // older than everything kept
            }
            // Reuse the evicted line's buffer.
            line = self.heap.pop().map(|Reverse(k)| k.line).unwrap_or_default();
            line.clear();
        }
        line.extend_from_slice(r.line);
        self.heap.push(Reverse(Keyed { key, line }));
    }

    fn into_sorted(self, keep_raw: bool) -> Vec<Row> {
        let mut v: Vec<Keyed> = self.heap.into_iter().map(|Reverse(k)| k).collect();
        v.sort();
        v.iter()
            .filter_map(|k| parse_record(&k.line).ok())
            .map(|r| Row::from_record(&r, keep_raw))
            .collect()
    }
}

/// Column widths, decided once so that followed rows line up with the first ones.
struct Layout {
    model: usize,
    question: usize,
}

const TIME_W: usize = 19;
const SESSION_W: usize = 8;
const LATENCY_W: usize = 7;
const TTFT_W: usize = 6;
const TOKENS_W: usize = 11;
const STATUS_W: usize = 10;

impl Layout {
    fn new(rows: &[Row], total: usize) -> Layout {
        let model = rows
            .iter()
            .map(|r| crate::table::width(&r.model))
            .max()
            .unwrap_or(12)
            .clamp(5, 24);
        let fixed = TIME_W + SESSION_W + model + LATENCY_W + TTFT_W + TOKENS_W + STATUS_W + 7 * 2;
        Layout {
            model,
            question: total.saturating_sub(fixed).max(16),
        }
    }

    fn header(&self, out: &mut impl Write, color: bool) -> io::Result<()> {
        let line = format!(
            "{}  {}  {}  {}  {}  {}  {}  {}",
            left("TIME", TIME_W),
            left("SESSION", SESSION_W),
            left("MODEL", self.model),
            right("LATENCY", LATENCY_W),
            right("TTFT", TTFT_W),
            right("TOKENS", TOKENS_W),
            left("STATUS", STATUS_W),
            "QUESTION",
        );
        if color {
            writeln!(out, "\x1b[1m{line}\x1b[0m")
        } else {
            writeln!(out, "{line}")
        }
    }

    fn row(&self, out: &mut impl Write, r: &Row, color: bool) -> io::Result<()> {
        let time = chrono::Local
            .timestamp_millis_opt(r.at)
            .single()
            .map(|t| t.format("%Y-%m-%d %H:%M:%S").to_string())
            .unwrap_or_else(|| "?".into());
        let status = left(&r.status, STATUS_W);
        let status = match (color, r.status.as_str()) {
            (true, "error") => format!("\x1b[31m{status}\x1b[0m"),
            (true, "cancelled" | "terminated" | "hangup") => format!("\x1b[33m{status}\x1b[0m"),
            _ => status,
        };
        let line = format!(
            "{}  {}  {}  {}  {}  {}  {}  {}",
            left(&time, TIME_W),
            left(&r.session, SESSION_W),
            left(&r.model, self.model),
            right(&secs(r.latency), LATENCY_W),
            right(&secs(r.ttft), TTFT_W),
            right(&r.tokens, TOKENS_W),
            status,
            truncate(&r.question, self.question),
        );
        writeln!(out, "{}", line.trim_end())
    }
}
