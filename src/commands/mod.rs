//! The subcommands, one module each; this file dispatches them and holds what the model commands
//! share: their errors, the y/N question, and following a progress stream under Ctrl-C.
//!
//! Layout: `sessions` (list, show, rm, export), `replay` (show a session), `rerun` (send its turns
//! again through a chat); `list` (`models`, `ps`), `show`, `pull` (also the REPL's offer to pull),
//! `create`, `copy` (`cp`), `remove` (`rm`); `progress` (bars or plain lines), `format` (sizes,
//! times, counts, tables);
//! `logs` (recent turns, `-f`) and `stats` (aggregates) over the turn log, with `select` (the
//! files and filter they share).

pub mod config;
pub mod copy;
pub mod create;
pub mod embed;
pub mod format;
pub mod list;
pub mod logs;
pub mod progress;
pub mod pull;
pub mod remove;
pub mod replay;
pub mod rerun;
pub mod search;
pub mod select;
pub mod sessions;
pub mod shell;
pub mod show;
pub mod stats;
pub mod tree;

use std::future::Future;
use std::io::{self, BufRead, Write};
use std::time::Duration;

use tokio::runtime::Runtime;

use crate::backend::{Backend, ProgressStream};
use crate::chat::ctrl_c;
use crate::cli::Command;
use crate::config::Config;
use crate::error::ApiError;
use crate::exit_code::ExitCode;
use crate::modelfile::ParseError;
use crate::term::Term;
use progress::ProgressView;

/// Runs a subcommand to its end; what it prints follows `term`.
pub fn run(command: Command, config: &Config, term: &Term) -> anyhow::Result<ExitCode> {
    let result = match command {
        Command::Sessions { action } => sessions::run(action, config, term),
        Command::Replay(args) => replay::run(&args, config, term),
        Command::Models(args) => with_backend(config, |rt, c| list::models(rt, c, &args)),
        Command::Ps(args) => with_backend(config, |rt, c| list::ps(rt, c, &args)),
        Command::Show(args) => with_backend(config, |rt, c| show::run(rt, c, term, &args)),
        Command::Pull(args) => {
            with_backend(config, |rt, c| pull::run(rt, c, config, term, &args.model))
        }
        Command::Create(args) => {
            with_backend(config, |rt, c| create::run(rt, c, config, term, &args))
        }
        Command::Cp(args) => with_backend(config, |rt, c| copy::run(rt, c, &args)),
        Command::Rm(args) => with_backend(config, |rt, c| remove::run(rt, c, term, &args)),
        Command::Logs(args) => logs::run(&args, config, term),
        Command::Stats(args) => stats::run(&args, config),
        Command::Completions { shell } => shell::completions(shell, &mut io::stdout().lock()),
        Command::Man => shell::man(&mut io::stdout().lock()),
        Command::Complete { what } => shell::names(what, config, &mut io::stdout().lock()),
        // It needs the settings before they are resolved: `lib::run_args` runs it.
        Command::Config { .. } => Err(anyhow::anyhow!("`config` is run before the settings")),
        Command::Embed(args) => with_backend(config, |rt, c| embed::run(rt, c, config, &args)),
    };
    match result {
        // The reader of our output went away (`| head`): that is not a failure.
        Err(e) if is_broken_pipe(&e) => Ok(ExitCode::Success),
        other => other,
    }
}

/// Runs a model command against the configured server; one whose API cannot do it refuses with
/// one line (an `Unsupported` error, exit code 2).
fn with_backend(
    config: &Config,
    command: impl FnOnce(&Runtime, &Backend) -> anyhow::Result<ExitCode>,
) -> anyhow::Result<ExitCode> {
    let rt = crate::runtime()?;
    let key = config.api_key.as_ref().map(|k| k.expose().to_string());
    let backend = Backend::new(config.api, &config.base_url, key)?
        .with_headers(&config.headers)?
        .with_max_line(config.max_line);
    command(&rt, &backend)
}

fn is_broken_pipe(e: &anyhow::Error) -> bool {
    e.chain().any(|c| {
        c.downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
    })
}

/// Why a model command failed, beyond what [`ApiError`] says.
#[derive(Debug, thiserror::Error)]
pub enum CommandError {
    #[error("model '{0}' is not installed (`ollama-chat models` lists what is)")]
    NotInstalled(String),
    /// An `{"error": …}` line inside a 200 stream.
    #[error("{what} failed: {message}")]
    Stream { what: String, message: String },
    #[error("{what} ended before Ollama reported success")]
    Unfinished { what: String },
    /// The user's input cannot work (exit code 2).
    #[error("{0}")]
    Usage(String),
    #[error("{}", modelfile_error(.path, .error))]
    Modelfile { path: String, error: ParseError },
}

impl CommandError {
    pub fn exit_code(&self) -> ExitCode {
        match self {
            CommandError::NotInstalled(_) => ExitCode::ModelNotFound,
            CommandError::Usage(_) | CommandError::Modelfile { .. } => ExitCode::Usage,
            _ => ExitCode::Error,
        }
    }
}

/// `path:line:column: message`, the form editors jump to.
fn modelfile_error(path: &str, e: &ParseError) -> String {
    match e.at {
        Some((line, column)) => format!("{path}:{line}:{column}: {}", e.kind),
        None => format!("{path}: {}", e.kind),
    }
}

/// Asks a yes/no question on stderr and reads the answer from stdin; anything but yes is no.
pub fn confirm(question: &str) -> io::Result<bool> {
    let mut err = io::stderr().lock();
    write!(err, "{question} [y/N] ")?;
    err.flush()?;
    let mut answer = String::new();
    io::stdin().lock().read_line(&mut answer)?;
    Ok(matches!(
        answer.trim().to_ascii_lowercase().as_str(),
        "y" | "yes"
    ))
}

/// Runs `work` unless Ctrl-C comes first (`None`). Dropping `work` closes its connection, which
/// is how Ollama is told to stop a pull.
pub async fn unless_interrupted<T>(work: impl Future<Output = T>) -> Option<T> {
    tokio::select! {
        // Polled first, so the handler is in place before any work shows progress.
        biased;
        _ = ctrl_c() => None,
        r = work => Some(r),
    }
}

/// Shows a status stream until Ollama says `success`. An error line, a silence longer than
/// `stall`, or an end without `success` is a failure of `what`.
pub async fn follow(
    mut stream: ProgressStream,
    view: &mut ProgressView,
    what: &str,
    stall: Duration,
) -> anyhow::Result<()> {
    let mut succeeded = false;
    loop {
        let next = tokio::time::timeout(stall, stream.next())
            .await
            .map_err(|_| ApiError::Stalled {
                server: "Ollama",
                secs: stall.as_secs(),
                before_first: false,
                flag: "--load-timeout",
            })??;
        let Some(update) = next else { break };
        if let Some(message) = update.error {
            view.stop();
            return Err(CommandError::Stream {
                what: what.to_string(),
                message: message.to_string(),
            }
            .into());
        }
        succeeded |= update.status == "success";
        view.update(&update);
    }
    view.stop();
    if succeeded {
        Ok(())
    } else {
        Err(CommandError::Unfinished {
            what: what.to_string(),
        }
        .into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::modelfile::parse;

    #[test]
    fn modelfile_errors_read_like_compiler_errors() {
        let e = parse("FROM x\nPARAMETER seed x").unwrap_err();
        let c = CommandError::Modelfile {
            path: "Modelfile".into(),
            error: e,
        };
        assert_eq!(
            c.to_string(),
            "Modelfile:2:16: PARAMETER option seed takes a whole number, not \"x\""
        );
        assert_eq!(c.exit_code(), ExitCode::Usage);
        let e = parse("").unwrap_err();
        let c = CommandError::Modelfile {
            path: "M".into(),
            error: e,
        };
        assert!(c.to_string().starts_with("M: no FROM line"));
    }
}
