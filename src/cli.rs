//! The command line as the user types it (clap). No I/O here; `config` turns it into a `Config`.

use std::path::PathBuf;

use clap::{Parser, Subcommand};

/// A fast, careful terminal chat client for Ollama.
///
/// With a terminal on stdin it opens a chat (type /? for help). With `-p` or piped input it answers
/// once on stdout and exits, so it fits in pipes and scripts.
#[derive(Debug, Parser)]
#[command(name = "ollama-chat", version, about, max_term_width = 100)]
pub struct Cli {
    /// A command other than chatting; without one, chat.
    #[command(subcommand)]
    pub command: Option<Command>,

    /// Model to chat with [env: OLLAMA_CHAT_MODEL]; if unset and only one model is installed, that one.
    #[arg(short, long)]
    pub model: Option<String>,

    /// Ask this and print the answer (one-shot). Piped stdin is appended to it as one message.
    #[arg(short, long, value_name = "TEXT")]
    pub prompt: Option<String>,

    /// System prompt for the conversation.
    #[arg(short, long, value_name = "TEXT")]
    pub system: Option<String>,

    /// Model option, e.g. `-o temperature=0.3 -o num_ctx=8192`; repeat `stop=…` for several stop words.
    #[arg(short = 'o', long = "option", value_name = "KEY=VALUE")]
    pub options: Vec<String>,

    /// Ollama server, in OLLAMA_HOST syntax (`host:port`, `https://host/path`) [env: OLLAMA_HOST].
    #[arg(long, value_name = "HOST", global = true)]
    pub host: Option<String>,

    /// Ask a thinking model to think first: `true`, `false`, or an effort level (`low`, `medium`, `high`).
    #[arg(long, value_name = "WHEN", num_args = 0..=1, default_missing_value = "true")]
    pub think: Option<String>,

    /// Ask for output in a format: `json`, or a JSON schema.
    #[arg(long, value_name = "FORMAT")]
    pub format: Option<String>,

    /// How long the model stays loaded after the reply (e.g. `5m`, `1h`, `0` to unload).
    #[arg(long, value_name = "DURATION")]
    pub keep_alive: Option<String>,

    /// Append every turn to this JSON-lines file [default: $XDG_STATE_HOME/ollama-chat/turns.jsonl].
    #[arg(long, value_name = "PATH", conflicts_with = "no_log")]
    pub log: Option<PathBuf>,

    /// Do not write the turn log.
    #[arg(long)]
    pub no_log: bool,

    /// What text the turn log keeps: `full`, `redact` (masks e-mail addresses, keys and tokens, card
    /// and phone numbers) or `none` (metadata only) [env: OLLAMA_CHAT_LOG_CONTENT] [default: full].
    #[arg(long, value_name = "WHAT")]
    pub log_content: Option<String>,

    /// Rotate the turn log before it grows past this size (`50MiB`, `500KB`, `0` never) [default: 50MiB].
    #[arg(long, value_name = "SIZE")]
    pub log_max_size: Option<String>,

    /// How many rotated turn logs (`turns.jsonl.1` … `.N`) to keep.
    #[arg(long, value_name = "N", default_value_t = 5, value_parser = clap::value_parser!(u32).range(1..=1000))]
    pub log_keep: u32,

    /// Give up on a reply after this many seconds without data from the server.
    #[arg(long, value_name = "SECS", default_value_t = 300)]
    pub timeout: u64,

    /// Diagnostics on stderr (`-v` info, `-vv` debug); RUST_LOG works too.
    #[arg(short = 'v', long = "debug", action = clap::ArgAction::Count, global = true)]
    pub debug: u8,
}

/// Commands besides chatting. Each lives in its own module and is dispatched from `lib::run`.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Show recent turns from the turn log as a table (or JSON lines), optionally following it.
    Logs(LogsArgs),
    /// Turns, sessions, error and cancel rates, tokens, and latency, TTFT and tokens/second
    /// percentiles from the turn log, overall or by model, day or session.
    Stats(StatsArgs),
}

/// Which turns `logs` and `stats` read. Times are local unless they carry a zone.
#[derive(Debug, Clone, clap::Args)]
pub struct SelectArgs {
    /// Log files to read (rotated ones and logs from other machines too) [default: the turn log and
    /// its rotated files].
    #[arg(value_name = "FILE")]
    pub files: Vec<PathBuf>,

    /// Only this session (a prefix of its id is enough).
    #[arg(long, value_name = "ID")]
    pub session: Option<String>,

    /// Only this model; without a `:tag`, any tag of it.
    #[arg(long = "model", value_name = "NAME")]
    pub model: Option<String>,

    /// Only turns from this time on: `2026-11-29`, `2026-11-29T08:00`, RFC 3339, or an age (`1h`, `7d`).
    #[arg(long, value_name = "TIME")]
    pub since: Option<String>,

    /// Only turns before this time (same forms as --since).
    #[arg(long, value_name = "TIME")]
    pub until: Option<String>,

    /// Only turns that ended so: `ok`, `error`, `cancelled` (repeat or separate with commas).
    #[arg(long, value_name = "STATUS", value_delimiter = ',')]
    pub status: Vec<String>,

    /// Only turns whose question, answer, thinking or error contains TEXT (any case).
    #[arg(long, value_name = "TEXT")]
    pub grep: Option<String>,
}

/// `ollama-chat logs`.
#[derive(Debug, Clone, clap::Args)]
pub struct LogsArgs {
    #[command(flatten)]
    pub select: SelectArgs,

    /// How many of the most recent matching turns to show [default: 20; with --json, all].
    #[arg(short = 'n', long, value_name = "N")]
    pub limit: Option<usize>,

    /// Print the matching records as JSON lines, exactly as logged.
    #[arg(long)]
    pub json: bool,

    /// Keep printing turns as they are logged (Ctrl-C to stop); follows rotation.
    #[arg(short = 'f', long)]
    pub follow: bool,
}

/// `ollama-chat stats`.
#[derive(Debug, Clone, clap::Args)]
pub struct StatsArgs {
    #[command(flatten)]
    pub select: SelectArgs,

    /// Also split the figures by `model`, `day` (local) or `session`.
    #[arg(long, value_name = "WHAT")]
    pub by: Option<String>,

    /// Print one JSON object instead of tables.
    #[arg(long)]
    pub json: bool,
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn cli_definition_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn think_without_value_means_true() {
        let c = Cli::try_parse_from(["ollama-chat", "--think"]).unwrap();
        assert_eq!(c.think.as_deref(), Some("true"));
        let c = Cli::try_parse_from(["ollama-chat", "--think=high"]).unwrap();
        assert_eq!(c.think.as_deref(), Some("high"));
    }

    #[test]
    fn log_and_no_log_conflict() {
        assert!(Cli::try_parse_from(["ollama-chat", "--log", "x", "--no-log"]).is_err());
    }

    #[test]
    fn logs_and_stats_arguments() {
        let c = Cli::try_parse_from([
            "ollama-chat",
            "logs",
            "a.jsonl",
            "b.jsonl",
            "--model",
            "qwen3",
            "--status",
            "error,cancelled",
            "-n",
            "5",
            "--json",
            "-f",
        ])
        .unwrap();
        let Some(Command::Logs(a)) = c.command else {
            panic!("not logs")
        };
        assert_eq!(a.select.files.len(), 2);
        assert_eq!(a.select.model.as_deref(), Some("qwen3"));
        assert_eq!(a.select.status, vec!["error", "cancelled"]);
        assert_eq!(a.limit, Some(5));
        assert!(a.json && a.follow);
        let c =
            Cli::try_parse_from(["ollama-chat", "stats", "--by", "day", "--since", "7d"]).unwrap();
        let Some(Command::Stats(s)) = c.command else {
            panic!("not stats")
        };
        assert_eq!(s.by.as_deref(), Some("day"));
        assert_eq!(s.select.since.as_deref(), Some("7d"));
    }

    #[test]
    fn options_repeat() {
        let c = Cli::try_parse_from(["ollama-chat", "-o", "stop=a", "--option", "stop=b"]).unwrap();
        assert_eq!(c.options, vec!["stop=a", "stop=b"]);
    }
}
