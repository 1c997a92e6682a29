//! `ollama-chat stats`: aggregates of the selected turns as tables or one JSON object. Large logs
//! are read on all cores (see `log::scan`).

use std::io::{self, BufWriter, Write};

use serde::Serialize;

use super::format::thousands;
use super::select::{warn_problems, Selection};
use crate::cli::StatsArgs;
use crate::config::Config;
use crate::exit_code::ExitCode;
use crate::log::quantile::{Summary, EXACT_LIMIT, RELATIVE_ERROR};
use crate::log::read::Malformed;
use crate::log::scan::scan_files;
use crate::log::stats::{GroupBy, GroupReport, Stats};
use crate::table::{left, right, width};
use crate::UsageError;

pub fn run(args: &StatsArgs, config: &Config) -> anyhow::Result<ExitCode> {
    let by = args
        .by
        .as_deref()
        .map(GroupBy::parse)
        .transpose()
        .map_err(UsageError)?;
    let sel = Selection::new(&args.select, config.log_path.as_deref())?;
    sel.say_if_empty();
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let filter = &sel.filter;
    let (stats, problems) = scan_files(
        &sel.files,
        threads,
        || Stats::new(by, chrono::Local),
        |s, r| {
            if filter.matches(&r) {
                s.add(&r)
            }
        },
        |a, b| a.merge(b),
    )?;
    let overall = stats.overall.report("all".into());
    let groups = stats.group_reports();
    let mut out = BufWriter::new(io::stdout().lock());
    let printed = if args.json {
        let report = JsonReport {
            files: sel.files.iter().map(|p| p.display().to_string()).collect(),
            by: by.map(GroupBy::as_str),
            overall: &overall,
            groups: &groups,
            malformed: MalformedReport {
                count: problems.count,
                first: &problems.first,
            },
            percentiles: PERCENTILE_METHOD,
            exact_limit: EXACT_LIMIT,
            relative_error: RELATIVE_ERROR,
        };
        serde_json::to_writer(&mut out, &report)
            .map_err(io::Error::from)
            .and_then(|()| writeln!(out))
    } else {
        write_tables(&mut out, by, &overall, &groups)
    };
    printed.and_then(|()| out.flush())?;
    warn_problems(&problems);
    Ok(ExitCode::Success)
}

const PERCENTILE_METHOD: &str =
    "nearest rank over completed turns; exact while a group has at most \
     exact_limit values, else from a log-bucketed histogram within relative_error";

#[derive(Serialize)]
struct JsonReport<'a> {
    files: Vec<String>,
    by: Option<&'static str>,
    overall: &'a GroupReport,
    groups: &'a [GroupReport],
    malformed: MalformedReport<'a>,
    percentiles: &'static str,
    exact_limit: usize,
    relative_error: f64,
}

#[derive(Serialize)]
struct MalformedReport<'a> {
    count: u64,
    first: &'a [Malformed],
}

/// The counts table, then one table per timing, each with the overall row first.
fn write_tables(
    out: &mut impl Write,
    by: Option<GroupBy>,
    overall: &GroupReport,
    groups: &[GroupReport],
) -> io::Result<()> {
    if overall.turns == 0 && overall.summarize_calls == 0 && overall.embed_calls == 0 {
        return writeln!(out, "No turns match.");
    }
    let rows: Vec<&GroupReport> = std::iter::once(overall).chain(groups).collect();
    let key_w = rows
        .iter()
        .map(|r| width(&r.key))
        .max()
        .unwrap_or(3)
        .clamp(12, 40);
    let head = by.map_or("", GroupBy::as_str);
    // The summarize column only when the context strategy made any such call.
    let summaries = overall.summarize_calls > 0;
    let summary_cell = |r: &GroupReport| match (summaries, r.summarize_failed) {
        (false, _) => String::new(),
        (true, 0) => format!("  {:>16}", thousands(r.summarize_calls)),
        (true, failed) => format!(
            "  {:>16}",
            format!(
                "{} ({} failed)",
                thousands(r.summarize_calls),
                thousands(failed)
            )
        ),
    };
    // The embed column only when `ollama-chat embed` was run.
    let embeds = overall.embed_calls > 0;
    let embed_cell = |r: &GroupReport| match embeds {
        false => String::new(),
        true => format!("  {:>11}", thousands(r.embed_calls)),
    };
    writeln!(
        out,
        "{}  {:>8}  {:>8}  {:>7}  {:>9}  {:>12}  {:>12}{}{}",
        left(head, key_w),
        "turns",
        "sessions",
        "errors",
        "cancelled",
        "tokens in",
        "tokens out",
        if summaries {
            format!("  {:>16}", "summarize calls")
        } else {
            String::new()
        },
        if embeds {
            format!("  {:>11}", "embed calls")
        } else {
            String::new()
        }
    )?;
    for r in &rows {
        writeln!(
            out,
            "{}  {:>8}  {:>8}  {:>7}  {:>9}  {:>12}  {:>12}{}{}",
            left(&r.key, key_w),
            thousands(r.turns),
            thousands(r.sessions as u64),
            percent(r.error_rate),
            percent(r.cancel_rate),
            thousands(r.prompt_tokens),
            thousands(r.completion_tokens),
            summary_cell(r),
            embed_cell(r)
        )?;
    }
    let mut approximate = false;
    type Pick = fn(&GroupReport) -> Option<Summary>;
    let timings: [(&str, Pick, usize); 3] = [
        ("latency (s)", |r| r.latency, 3),
        ("TTFT (s)", |r| r.ttft, 3),
        ("tokens/s", |r| r.tokens_per_second, 1),
    ];
    for (title, pick, decimals) in timings {
        writeln!(out)?;
        writeln!(
            out,
            "{}  {:>9}  {:>9}  {:>9}  {:>9}  {:>9}",
            left(title, key_w),
            "p50",
            "p95",
            "p99",
            "max",
            "n"
        )?;
        for r in &rows {
            let cells = match pick(r) {
                None => [
                    "-".to_string(),
                    "-".into(),
                    "-".into(),
                    "-".into(),
                    "0".into(),
                ],
                Some(s) => {
                    approximate |= !s.exact;
                    let mark = if s.exact { "" } else { "~" };
                    let f = |x: f64| format!("{mark}{x:.decimals$}");
                    [
                        f(s.p50),
                        f(s.p95),
                        f(s.p99),
                        format!("{:.decimals$}", s.max),
                        thousands(s.count),
                    ]
                }
            };
            writeln!(
                out,
                "{}  {}",
                left(&r.key, key_w),
                cells.map(|c| right(&c, 9)).join("  ")
            )?;
        }
    }
    writeln!(out)?;
    writeln!(
        out,
        "Timings are over completed (ok) turns; percentiles by nearest rank."
    )?;
    if summaries {
        writeln!(
            out,
            "Summarize calls (made to fit the context window) are not turns; their tokens are in the totals."
        )?;
    }
    if approximate {
        writeln!(
            out,
            "~ marks percentiles of groups with over {} values, taken from a log-bucketed histogram \
             (within ±{}%); the others and every max are exact.",
            thousands(EXACT_LIMIT as u64),
            RELATIVE_ERROR * 100.0
        )?;
    }
    Ok(())
}

fn percent(rate: f64) -> String {
    format!("{:.1}%", rate * 100.0)
}
