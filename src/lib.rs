//! ollama-chat: a terminal chat client for Ollama.
//!
//! # Layout
//! The data flows one way, and the modules follow it:
//!
//! - `cli` (what the user typed) → `config` (flags + environment → one `Config`), with `paths`
//!   (XDG folders) and `options` (typed model options).
//! - Input: `repl` (the line editor and slash commands) or `oneshot` (`-p` and piped stdin).
//! - `conversation`: the `messages` history, pure data.
//! - `ollama`: the only code that speaks HTTP (`host`, `wire`, `ndjson`, `body`, `client`).
//! - `turn`: one exchange, the stream raced against Ctrl-C and a stall timer.
//! - `render` (terminal or plain output, sanitising) and `log` (the JSON-lines turn log).
//! - `chat`: one run's state, tying a turn's outcome to the history and the log.
//! - `exit_code`: what the process returns.

pub mod chat;
pub mod cli;
pub mod config;
pub mod conversation;
pub mod exit_code;
pub mod log;
pub mod ollama;
pub mod oneshot;
pub mod options;
pub mod paths;
pub mod render;
pub mod repl;
pub mod suggest;
pub mod turn;

use std::io::IsTerminal;

use chat::ModelChoice;
use cli::Cli;
use config::Config;
use exit_code::ExitCode;
use ollama::{ApiError, Client};

/// A request that cannot work as given (exit code 2).
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct UsageError(pub String);

/// Runs the program; `main` only prints the error and exits.
pub fn run(mut cli: Cli) -> anyhow::Result<ExitCode> {
    init_tracing(cli.debug);
    let command = cli.command.take();
    let env = |k: &str| std::env::var(k).ok();
    let config = Config::resolve(cli, &env)?;
    for w in &config.warnings {
        eprintln!("ollama-chat: warning: {w}");
    }
    if let Some(command) = command {
        match command {}
    }
    // One worker thread, not the current-thread runtime: the HTTP connection task must keep
    // running between turns, so that a cancelled reply's connection is closed at once (which is
    // what stops the server generating), not at the next `block_on`.
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()?;
    let client = Client::new(&config.base_url, config.api_key.clone())?;
    if config.prompt.is_none() && std::io::stdin().is_terminal() {
        repl::run(&rt, &client, &config)
    } else {
        oneshot::run(&rt, &client, &config)
    }
}

/// The exit code an error stands for.
pub fn exit_code_for(err: &anyhow::Error) -> ExitCode {
    let api = |e: &ApiError| match e {
        ApiError::Unreachable { .. } => ExitCode::Unreachable,
        ApiError::ModelNotFound { .. } => ExitCode::ModelNotFound,
        _ => ExitCode::Error,
    };
    if let Some(e) = err.downcast_ref::<ApiError>() {
        return api(e);
    }
    if let Some(e) = err.downcast_ref::<ModelChoice>() {
        return match e {
            ModelChoice::Api(e) => api(e),
            ModelChoice::NoneInstalled { .. } => ExitCode::ModelNotFound,
            ModelChoice::Ambiguous { .. } => ExitCode::Usage,
        };
    }
    if err.downcast_ref::<UsageError>().is_some()
        || err.downcast_ref::<config::ConfigError>().is_some()
    {
        return ExitCode::Usage;
    }
    ExitCode::Error
}

fn init_tracing(level: u8) {
    use tracing_subscriber::EnvFilter;
    let default = match level {
        0 => "warn",
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
