//! The subcommands, one module each; `run` dispatches them.
//!
//! Layout: `sessions` (list, show, rm, export), `replay` (show or re-run a session).

pub mod replay;
pub mod sessions;

use crate::cli::Command;
use crate::config::Config;
use crate::exit_code::ExitCode;

/// Runs a subcommand to its end.
pub fn run(command: Command, config: &Config) -> anyhow::Result<ExitCode> {
    let result = match command {
        Command::Sessions { action } => sessions::run(action, config),
        Command::Replay(args) => replay::run(&args, config),
    };
    match result {
        // The reader of our output went away (`| head`): that is not a failure.
        Err(e) if is_broken_pipe(&e) => Ok(ExitCode::Success),
        other => other,
    }
}

fn is_broken_pipe(e: &anyhow::Error) -> bool {
    e.chain().any(|c| {
        c.downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
    })
}
