//! `ollama-chat sessions search` and the REPL's `/search`: ranked hits over every saved session,
//! each with the session, the turn and a line of the message with the query's words marked; and
//! `sessions reindex`.

use std::io::{self, Write};
use std::path::Path;

use crate::cli::SearchArgs;
use crate::config::Config;
use crate::exit_code::ExitCode;
use crate::log::filter::parse_time;
use crate::render::style::Style;
use crate::session::index::query::{self, Needle, Query};
use crate::session::index::snippet::snippet;
use crate::session::index::{Filters, Hit, Index, Role};
use crate::session::{short_id, SessionError};
use crate::term::Term;
use crate::untrusted::{sanitize, sanitize_line};
use crate::UsageError;

pub fn run(args: &SearchArgs, config: &Config, term: &Term) -> anyhow::Result<ExitCode> {
    let dir = config
        .session
        .dir
        .as_deref()
        .ok_or(SessionError::NoFolder)?;
    let query = query::parse(&query_text(&args.query)).map_err(|e| UsageError(e.to_string()))?;
    let filters = filters(args).map_err(UsageError)?;
    let hits = search(dir, &query, &filters)?;
    let mut out = io::BufWriter::new(io::stdout().lock());
    if args.json {
        print_json(&mut out, &hits, &query.needles, term.stdout.tty)?;
    } else {
        let style = Style {
            color: term.stdout.color,
        };
        print_hits(&mut out, &hits, &query.needles, style, term.width)?;
    }
    out.flush()?;
    if hits.is_empty() {
        eprintln!("No saved session matches.");
    } else if !args.json && term.stderr.tty {
        eprintln!("{}", HINT);
    }
    Ok(ExitCode::Success)
}

/// How to open what was found.
const HINT: &str =
    "Open a hit at its turn with `--session ID:TURN` (an earlier turn is branched, the session kept as it was).";

/// `/search QUERY` in a chat: the ten best hits, as the command prints them.
pub fn slash_search(config: &Config, term: &Term, arg: &str) -> Result<String, String> {
    let dir = config
        .session
        .dir
        .as_deref()
        .ok_or_else(|| SessionError::NoFolder.to_string())?;
    let query =
        query::parse(arg).map_err(|e| format!("{e} (/search WORDS, \"a phrase\", prefix*)"))?;
    let filters = Filters {
        model: None,
        since: None,
        roles: Vec::new(),
        limit: 10,
        scores: false,
    };
    let hits = search(dir, &query, &filters).map_err(|e| e.to_string())?;
    if hits.is_empty() {
        return Ok("No saved session matches.".into());
    }
    let mut out = Vec::new();
    let style = Style {
        color: term.stdout.color,
    };
    print_hits(&mut out, &hits, &query.needles, style, term.width).map_err(|e| e.to_string())?;
    out.extend_from_slice(b"Open one at its turn with /session load ID:TURN.");
    Ok(String::from_utf8_lossy(&out).into_owned())
}

/// Searches the folder's index (bringing it up to date first); no folder, no hits.
fn search(dir: &Path, query: &Query, filters: &Filters) -> anyhow::Result<Vec<Hit>> {
    if !dir.is_dir() {
        return Ok(Vec::new());
    }
    let announce = |n: usize| {
        crate::render::style::notice(format_args!(
            "indexing {n} saved sessions for search; this happens once, later searches read only what changed"
        ))
    };
    let (hits, warnings) = Index::with_announce(dir, &announce, |i| i.search(query, filters))?;
    for w in warnings {
        crate::render::style::warn(format_args!("{w}"));
    }
    Ok(hits)
}

/// `sessions reindex`.
pub fn reindex(config: &Config) -> anyhow::Result<ExitCode> {
    let dir = config
        .session
        .dir
        .as_deref()
        .ok_or(SessionError::NoFolder)?;
    let started = std::time::Instant::now();
    Index::rebuild(dir)?;
    let files = crate::session::index::refresh::scan(dir)?.len();
    println!(
        "Indexed {files} session file{} in {:.1} s ({:.1} MiB on disk).",
        if files == 1 { "" } else { "s" },
        started.elapsed().as_secs_f64(),
        Index::disk_size(dir) as f64 / (1024.0 * 1024.0)
    );
    Ok(ExitCode::Success)
}

/// The words as typed on the command line: an argument with spaces in it and no quotes of its
/// own was one quoted string in the shell, so it is a phrase.
pub fn query_text(args: &[String]) -> String {
    args.iter()
        .map(|a| {
            if a.trim().contains(char::is_whitespace) && !a.contains('"') {
                format!("\"{a}\"")
            } else {
                a.clone()
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

fn filters(args: &SearchArgs) -> Result<Filters, String> {
    let now = chrono::Utc::now().timestamp_millis();
    let since = args
        .since
        .as_deref()
        .map(|t| parse_time(t, now, &chrono::Local).map_err(|e| format!("--since: {e}")))
        .transpose()?;
    let roles = args
        .role
        .iter()
        .map(|r| Role::parse(r))
        .collect::<Result<Vec<_>, _>>()?;
    if args.limit == 0 {
        return Err("-n must be at least 1".into());
    }
    Ok(Filters {
        model: args.model.clone().filter(|m| !m.is_empty()),
        since,
        roles,
        limit: args.limit,
        scores: args.json,
    })
}

/// Each hit as two lines: where it is (`ID:TURN`, when, model, name, role) and a line of the
/// message with the query's words in bold (on a colour terminal). Everything from the session
/// is sanitised before it is measured and marked.
pub fn print_hits<W: Write>(
    out: &mut W,
    hits: &[Hit],
    needles: &[Needle],
    style: Style,
    width: usize,
) -> io::Result<()> {
    for h in hits {
        let when = h.at.with_timezone(&chrono::Local).format("%Y-%m-%d %H:%M");
        let name = h
            .name
            .as_deref()
            .map(|n| format!("  \"{}\"", sanitize_line(n)))
            .unwrap_or_default();
        let meta = format!(
            "{when}  {}{name}  {}",
            sanitize_line(&h.model),
            h.role.name()
        );
        writeln!(out, "{}:{}  {}", short_id(&h.id), h.turn, style.dim(&meta))?;
        let s = snippet(&sanitize(&h.text), needles, width.saturating_sub(4).max(20));
        let line = match style.color {
            true => s.painted("\x1b[1m", "\x1b[0m"),
            false => s.text,
        };
        writeln!(out, "    {line}")?;
    }
    Ok(())
}

/// One JSON object a hit: the session, file, turn, role, time, model, score, the snippet and
/// the whole message. On a terminal each line is sanitised (JSON lets C1 controls and bidi
/// overrides stand in a string); in a pipe it is the text as saved.
pub fn print_json<W: Write>(
    out: &mut W,
    hits: &[Hit],
    needles: &[Needle],
    tty: bool,
) -> io::Result<()> {
    for h in hits {
        let v = serde_json::json!({
            "session": h.id,
            "name": h.name,
            "file": h.path,
            "turn": h.turn,
            "role": h.role.name(),
            "at": crate::session::format::timestamp::format(&h.at),
            "model": h.model,
            "score": h.score,
            "snippet": snippet(&h.text, needles, 160).text,
            "text": h.text,
        });
        let line = v.to_string();
        match tty {
            true => writeln!(out, "{}", sanitize(&line))?,
            false => writeln!(out, "{line}")?,
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{TimeZone, Utc};

    #[test]
    fn an_argument_with_spaces_is_a_phrase() {
        let a = |v: &[&str]| query_text(&v.iter().map(|s| s.to_string()).collect::<Vec<_>>());
        assert_eq!(a(&["borrow", "checker"]), "borrow checker");
        assert_eq!(a(&["borrow checker"]), "\"borrow checker\"");
        assert_eq!(a(&["\"borrow checker\" x"]), "\"borrow checker\" x");
        assert_eq!(a(&[" pad "]), " pad ");
        assert_eq!(a(&["上海 天气"]), "\"上海 天气\"");
    }

    fn args(extra: &[&str]) -> SearchArgs {
        use clap::Parser;
        let mut v = vec!["ollama-chat", "sessions", "search", "x"];
        v.extend_from_slice(extra);
        let cli = crate::cli::Cli::try_parse_from(v).unwrap();
        match cli.command {
            Some(crate::cli::Command::Sessions {
                action: Some(crate::cli::SessionsAction::Search(a)),
            }) => a,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn flags_become_filters() {
        let f = filters(&args(&[
            "--role",
            "user,thinking",
            "--model",
            "qwen3",
            "-n",
            "5",
        ]))
        .unwrap();
        assert_eq!(f.roles, [Role::User, Role::Thinking]);
        assert_eq!(f.model.as_deref(), Some("qwen3"));
        assert_eq!(f.limit, 5);
        assert!(filters(&args(&["--since", "1h"])).unwrap().since.is_some());
        assert!(filters(&args(&["--since", "soon"]))
            .unwrap_err()
            .starts_with("--since:"));
        assert!(filters(&args(&["--role", "tool"])).is_err());
        assert!(filters(&args(&["-n", "0"])).is_err());
    }

    fn hit(text: &str) -> Hit {
        Hit {
            path: "/s/a.jsonl".into(),
            id: uuid::Uuid::nil(),
            name: Some("天气".into()),
            turn: 3,
            role: Role::Assistant,
            at: Utc.with_ymd_and_hms(2026, 1, 2, 3, 4, 5).unwrap(),
            model: "qwen3:8b".into(),
            score: Some(-1.5),
            text: text.into(),
        }
    }

    #[test]
    fn hits_read_well_with_and_without_colour() {
        let q = query::parse("上海").unwrap();
        let mut out = Vec::new();
        print_hits(
            &mut out,
            &[hit("今天上海\n很热")],
            &q.needles,
            Style { color: false },
            80,
        )
        .unwrap();
        let text = String::from_utf8(out).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert!(lines[0].starts_with("00000000:3  2026-01-0"), "{text}");
        assert!(
            lines[0].ends_with("qwen3:8b  \"天气\"  assistant"),
            "{text}"
        );
        assert_eq!(lines[1], "    今天上海 很热");
        let mut out = Vec::new();
        print_hits(
            &mut out,
            &[hit("今天上海")],
            &q.needles,
            Style { color: true },
            80,
        )
        .unwrap();
        let text = String::from_utf8(out).unwrap();
        assert!(text.contains("今天\x1b[1m上海\x1b[0m"), "{text:?}");
    }

    #[test]
    fn json_lines_decode_back() {
        let q = query::parse("上海").unwrap();
        let mut out = Vec::new();
        print_json(&mut out, &[hit("今天上海")], &q.needles, false).unwrap();
        let v: serde_json::Value = serde_json::from_slice(&out).unwrap();
        assert_eq!(v["turn"], 3);
        assert_eq!(v["role"], "assistant");
        assert_eq!(v["text"], "今天上海");
        assert_eq!(v["snippet"], "今天上海");
        assert_eq!(v["at"], "2026-01-02T03:04:05.000Z");
    }
}
