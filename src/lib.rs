//! ollama-chat: a terminal chat client for Ollama.
//!
//! # Layout
//! The data flows one way, and the modules follow it:
//!
//! ```text
//! input (repl | oneshot | replay) → chat (history, context budget) → backend (the seam)
//!   → ollama | openai | anthropic (request, stream decoder) → turn (stream ⟂ Ctrl-C ⟂ stall)
//!   → render (terminal markdown | terminal | plain) + log + session file
//! ```
//!
//! - The conversation's own types, which belong to no API: `conversation` (role, message and its
//!   parts, request, stream events, statistics, turn status, and the history with its token
//!   counts and archive), `models` (what a server says of its models), `error` (the one
//!   `ApiError` of every backend, with the `kind()` that exit codes and hints come from, and
//!   `Secrets`: what the client sends that no error text may show; the backend blanks them),
//!   `options` (typed model options). Pure data. `untrusted`: the one sanitiser, and the
//!   `Untrusted` string that carries text from outside (server errors, model names and facts,
//!   session and log fields) and can only be displayed sanitised.
//! - `cli` (what the user typed) → `config_file` (the config file: TOML checked against clap's
//!   own flags, its settings put under the command line by precedence, roles, `config show`) →
//!   `config` (flags + environment → one `Config`), with `paths` (XDG folders) and `dotenv` (a
//!   `.env` file's API keys); `interactive`: `-i`, one answer then the REPL on the terminal;
//!   `term`: the terminal description (which streams are terminals, colour for each, the width
//!   and height, OSC 8 hyperlinks), decided once in `run` and passed to every printer.
//! - Input: `repl` (the line editor; one table of slash commands drives parsing, help and
//!   completion; `repl::picker` the numbered model list; the only module that reads lines) or
//!   `oneshot` (`-p` and piped stdin); `approve`: the tool-call prompt, one key read from the
//!   terminal (the REPL, one-shot and the re-run ask with it); `attach`: files into a message
//!   (images by their bytes, text files as fenced blocks, paths found in typed text).
//! - `chat`: one run's state and `send`, tying a turn's outcome to the history, the log and the
//!   session; `chat::context` its context-window steps, `chat::facts` the model's facts from the
//!   cache and the server in the background (and the REPL's preload), `chat::session` starting or
//!   resuming it, `chat::tools` the tool loop (show, ask, run, send the results back). `tools`:
//!   the tools themselves (built-ins confined to their roots, `fetch_url`, `run_command`, the
//!   stdio MCP client) and how a call and its result are shown.
//!   `context`: the pure policy behind them (budget, strategies, token estimates, window sources,
//!   the facts cache's format, `/context` text).
//! - `backend`: the one seam and the only module that knows which APIs exist. Everything above
//!   it asks a `Backend` (chat, model lists, model facts, loaded models, model management) and
//!   gets the neutral types back, or a typed `Unsupported` for what that server cannot do.
//! - The API adapters, each mapping the neutral types to its API and importing nothing of another
//!   API or of the seam: `ollama` (`host`, `wire`, `ndjson`, `body`, `reply`, `client`,
//!   `manage`, `error`), `openai` and `anthropic` (each `wire`, `stream`, `client`, `error`);
//!   `net` is what their clients share (loopback detection, root-cause messages, no TLS
//!   certificates for plain `http://`), `sse` the server-sent-event framing of the two SSE APIs.
//! - `turn`: one exchange, a `ReplySource`'s stream raced against Ctrl-C (or SIGTERM/SIGHUP, whose
//!   listener is `signals`) and a stall timer (the backend in the program, a script under the
//!   paused clock in its tests).
//! - `render` (terminal or plain output, word wrap, the statistics block; `render::markdown`:
//!   replies as markdown on a terminal as they stream, with pulldown-cmark and syntect) and `log`
//!   (the JSON-lines turn log: privacy modes, rotation; and reading it back: rotated files,
//!   streaming records, filters, percentiles and aggregates).
//! - `session`: the session files only (format, state, loader, writer, catalog, records as text,
//!   export, branching at a turn) and their index (SQLite FTS5: search and summaries, a cache
//!   rebuilt from the files); showing one is `commands::replay`.
//! - `commands`: the subcommands (`sessions` with `search` and `tree`, `replay` and `rerun`,
//!   `models`, `ps`, `show`, `pull`, `create`, `cp`, `rm`, `logs`, `stats`), each in its own
//!   module, with `modelfile` (Modelfile text → a new model's description, pure); `table` lines
//!   up columns by display width (Chinese-safe); `suggest` finds "did you mean"; `exit_code` is
//!   what the process returns.
//!
//! `fuzzing` (hidden) holds the invariants the fuzz targets in `fuzz/` and their property-test
//! twins check, one function per parser.
//!
//! `architecture_tests` checks these rules on the source: adapters import only the neutral
//! types, nothing neutral reaches up, no module cycles, `is_terminal()` only in `term`.

// The one exception, FTS5's C interface for ranking, says why where it allows it.
#![deny(unsafe_code)]

pub mod anthropic;
pub mod approve;
pub mod attach;
pub mod backend;
pub mod chat;
pub mod cli;
pub mod commands;
pub mod config;
pub mod config_file;
pub mod context;
pub mod conversation;
pub mod dotenv;
pub mod error;
pub mod exit_code;
#[doc(hidden)]
pub mod fuzzing;
pub mod interactive;
pub mod log;
pub mod modelfile;
pub mod models;
pub mod net;
pub mod ollama;
pub mod oneshot;
pub mod openai;
pub mod options;
pub mod paths;
pub mod render;
pub mod repl;
pub mod session;
pub mod signals;
pub mod sse;
pub mod suggest;
pub mod table;
pub mod term;
pub mod tools;
pub mod turn;
pub mod untrusted;

#[cfg(test)]
mod architecture_tests;
#[cfg(test)]
mod printer_scan_tests;

use std::cell::OnceCell;
use std::path::Path;

use backend::Backend;
use chat::ModelChoice;
use cli::Cli;
use config::Config;
use dotenv::{DotEnv, READ_FROM_DOTENV};
use error::ApiError;
use exit_code::ExitCode;
use term::Term;

/// A request that cannot work as given (exit code 2).
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct UsageError(pub String);

/// Runs the program from its command line `args`, as clap parsed it into `user`: the config file
/// is read and put under it, then [`run`]. `main` only prints the error and exits.
pub fn run_args(args: &[std::ffi::OsString], user: clap::ArgMatches) -> anyhow::Result<ExitCode> {
    use clap::FromArgMatches;
    use cli::{Command, ConfigAction};
    let process_env = |k: &str| std::env::var(k).ok();
    // What needs no settings runs first: a broken config file must not stop its own repair.
    let typed = Cli::from_arg_matches(&user)?;
    let config_path = config_file::load::path(&user, &process_env).map(|(p, _)| p);
    let out = &mut std::io::stdout();
    match typed.command {
        Some(Command::Completions { shell }) => return commands::shell::completions(shell, out),
        Some(Command::Man) => return commands::shell::man(out),
        Some(Command::Config {
            action: ConfigAction::Init { force },
        }) => return commands::config::init(config_path.as_deref(), force, out),
        Some(Command::Config {
            action: ConfigAction::Path,
        }) => return commands::config::path(config_path.as_deref(), out),
        _ => {}
    }
    let loaded = config_file::load::load(args, user, &process_env)?;
    for w in &loaded.warnings {
        crate::render::style::warn(format_args!("{w}"));
    }
    if let Some(Command::Config {
        action: ConfigAction::Show,
    }) = loaded.cli.command
    {
        return commands::config::show(&loaded, &process_env, out);
    }
    run(loaded)
}

/// Runs the program with its settings.
pub fn run(loaded: config_file::load::Loaded) -> anyhow::Result<ExitCode> {
    let key = config_file::load::KeyCell::new(&loaded.layered);
    let key_var = loaded.layered.api.key_var();
    let mut cli = loaded.cli;
    init_tracing(cli.debug);
    let term = Term::detect(cli.color);
    let (interactive, color) = (cli.interactive, cli.color);
    let command = cli.command.take();
    // The config file's key (and its command) only for what may reach a server.
    let needs_key = command.as_ref().is_none_or(cli::Command::talks_to_server);
    // The environment wins over `.env`, which is read only if one of its variables is asked for.
    let dotenv: OnceCell<DotEnv> = OnceCell::new();
    let env = |k: &str| {
        std::env::var(k)
            .ok()
            .or_else(|| {
                READ_FROM_DOTENV
                    .contains(&k)
                    .then(|| dotenv.get_or_init(|| DotEnv::load(Path::new(".env"))))
                    .and_then(|d| d.get(k).map(str::to_string))
            })
            // The config file's key comes last: the environment and `.env` win.
            .or_else(|| (needs_key && k == key_var).then(|| key.get()).flatten())
    };
    let config = Config::resolve(cli, &env);
    if let Some(e) = key.error() {
        return Err(e.into());
    }
    let roles = config_file::roles::list(loaded.file.as_ref(), config_file::load::roles_dir(&env));
    let servers = loaded
        .file
        .iter()
        .flat_map(|f| f.mcp.iter().map(|(s, _)| s.clone()));
    let config = config.map(|mut c| {
        c.role = loaded.role;
        c.roles = roles;
        c.tools.declare_servers(servers);
        c
    });
    let dotenv_warnings = dotenv.get().map(|d| d.warnings.as_slice()).unwrap_or(&[]);
    for w in dotenv_warnings {
        crate::render::style::warn(format_args!("{w}"));
    }
    let config = config?;
    for w in &config.warnings {
        crate::render::style::warn(format_args!("{w}"));
    }
    if let Some(command) = command {
        return commands::run(command, &config, &term);
    }
    let rt = runtime()?;
    let key = config.api_key.as_ref().map(|k| k.expose().to_string());
    let backend = Backend::new(config.api, &config.base_url, key)?
        .with_headers(&config.headers)?
        .with_max_line(config.max_line);
    if interactive {
        return interactive::run(&rt, &backend, &config, &term, color);
    }
    if config.prompt.is_none() && term.stdin_tty {
        repl::run(&rt, &backend, &config, &term)
    } else {
        oneshot::run(&rt, &backend, &config, &term)
    }
}

/// One worker thread, not the current-thread runtime: the HTTP connection task must keep running
/// between turns, so that a cancelled reply's connection is closed at once (which is what stops the
/// server generating), not at the next `block_on`.
pub fn runtime() -> std::io::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
}

/// The one line an error is shown as: its message, then each cause the message does not already
/// say (most of our errors quote their cause), sanitised, since a server or a file may have put
/// escape sequences into any of them.
pub fn error_line(err: &anyhow::Error) -> String {
    let mut line = err.to_string();
    for cause in err.chain().skip(1) {
        let cause = cause.to_string();
        if !line.contains(&cause) {
            line.push_str(": ");
            line.push_str(&cause);
        }
    }
    render::sanitize(&line).into_owned()
}

/// The exit code an error stands for.
pub fn exit_code_for(err: &anyhow::Error) -> ExitCode {
    if let Some(e) = err.downcast_ref::<ApiError>() {
        return e.exit_code();
    }
    if let Some(e) = err.downcast_ref::<commands::CommandError>() {
        return e.exit_code();
    }
    if let Some(e) = err.downcast_ref::<ModelChoice>() {
        return match e {
            ModelChoice::Api(e) => e.exit_code(),
            ModelChoice::NoneInstalled { .. } => ExitCode::ModelNotFound,
            ModelChoice::Ambiguous { .. } => ExitCode::Usage,
        };
    }
    if let Some(e) = err.downcast_ref::<session::SessionError>() {
        return e.exit_code();
    }
    if let Some(e) = err.downcast_ref::<config_file::load::LoadError>() {
        use config_file::load::LoadError;
        match e {
            LoadError::KeyCommand(_) => return ExitCode::Error,
            LoadError::SystemFile { source, .. } if !paths::NotAFile::is(source) => {
                return ExitCode::Error
            }
            _ => return ExitCode::Usage,
        }
    }
    if err.downcast_ref::<UsageError>().is_some()
        || err.downcast_ref::<config::ConfigError>().is_some()
        || err.downcast_ref::<options::OptionError>().is_some()
        || names_no_file(err)
    {
        return ExitCode::Usage;
    }
    ExitCode::Error
}

/// Whether the error is a file the user named that is not there or not a file (a folder, a
/// FIFO, a device): bad input, like a bad flag.
fn names_no_file(err: &anyhow::Error) -> bool {
    err.chain().any(|c| {
        c.is::<paths::NotAFile>()
            || c.downcast_ref::<std::io::Error>()
                .is_some_and(paths::NotAFile::is)
    })
}

fn init_tracing(level: u8) {
    use tracing_subscriber::EnvFilter;
    let default = match level {
        // The MCP SDK's own warnings would repeat, unsanitised, what a failed server is
        // reported as once; RUST_LOG=rmcp=debug shows them.
        0 => "warn,rmcp=off",
        1 => "ollama_chat=info",
        _ => "ollama_chat=debug",
    };
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_target(false)
        .without_time()
        .try_init();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_error_line_says_each_cause_once_and_is_sanitised() {
        let io = std::io::Error::other("is a device, not a file");
        let err = anyhow::Error::from(session::SessionError::Read {
            path: "/dev/zero".into(),
            source: io,
        });
        assert_eq!(
            error_line(&err),
            "cannot read the session file /dev/zero: is a device, not a file"
        );
        let err = anyhow::anyhow!("inner \x1b]0;pwned\x07 text").context("outer");
        let line = error_line(&err);
        assert!(line.starts_with("outer: inner "), "{line}");
        assert!(!line.contains('\x1b') && !line.contains('\x07'), "{line}");
    }
}
