//! `-i` (as `python -i`): answer once, as one-shot mode does (the prompt and any piped stdin),
//! then chat on at the terminal with that exchange in the history. The exchange is carried by
//! the session file: the answer is saved to a session that the chat then resumes.

use std::fs::File;

use tokio::runtime::Runtime;

use crate::backend::Backend;
use crate::config::{Config, SessionChoice};
use crate::exit_code::ExitCode;
use crate::term::Term;
use crate::UsageError;

/// Runs the one-shot answer, then the REPL on the terminal.
pub fn run(
    rt: &Runtime,
    backend: &Backend,
    config: &Config,
    term: &Term,
    color: crate::term::ColorChoice,
) -> anyhow::Result<ExitCode> {
    if term.stdin_tty && config.prompt.is_none() {
        // Nothing to answer first: a plain chat.
        return crate::repl::run(rt, backend, config, term);
    }
    // Both checked before anything is sent: a question answered into the void helps no one.
    let tty = match term.stdin_tty {
        true => None,
        false => Some(open_terminal()?),
    };
    if !term.stdout.tty {
        return Err(UsageError("-i chats on at the terminal, but stdout is not one".into()).into());
    }
    // Several models and none named: the person picks one at the terminal first.
    let picked = match &tty {
        Some(t) => {
            let mut input = std::io::BufReader::new(t.try_clone()?);
            crate::repl::pick_at_start(rt, backend, config, &mut input)?
        }
        None => crate::repl::pick_at_start(rt, backend, config, &mut std::io::stdin().lock())?,
    };
    let mut config = picked.unwrap_or_else(|| config.clone());
    if config.session.choice == SessionChoice::New {
        let Some(dir) = &config.session.dir else {
            return Err(UsageError(
                "-i keeps the exchange in a session, and no home folder is known for one".into(),
            )
            .into());
        };
        let path = dir.join(format!("{}.jsonl", uuid::Uuid::new_v4()));
        config.session.choice = SessionChoice::Open(path.display().to_string());
    }
    let code = crate::oneshot::run(rt, backend, &config, term)?;
    if code != ExitCode::Success {
        return Ok(code);
    }
    if let Some(tty) = tty {
        rustix::stdio::dup2_stdin(&tty)
            .map_err(|e| anyhow::anyhow!("cannot read the terminal: {e}"))?;
    }
    // The answer may not end its line.
    println!();
    // The chat resumes the session the answer was saved to, as `--session` or `-c` would.
    config.prompt = None;
    let term = Term::detect(color);
    crate::repl::run(rt, backend, &config, &term)
}

/// The controlling terminal, for the chat after a pipe.
fn open_terminal() -> Result<File, UsageError> {
    File::options()
        .read(true)
        .write(true)
        .open("/dev/tty")
        .map_err(|e| {
            UsageError(format!(
                "-i needs a terminal to chat on, and there is none ({e})"
            ))
        })
}
