//! SIGTERM and SIGHUP in the REPL. During a turn they end it as Ctrl-C does (the partial reply is
//! kept, saved and logged) and then the chat. At the prompt they end the chat at once: every
//! change is written when it happens, so nothing is unsaved there, and the line editor, blocked
//! in its read, cannot be woken any other way. A second signal during a turn or a command (an
//! editor, a slow server) also ends it at once: whoever sends it means it.

use std::io::{self, Write};
use std::sync::{Arc, Mutex, PoisonError};

use rustix::termios::{tcgetattr, tcsetattr, OptionalActions, Termios};
use tokio::runtime::Runtime;
use tokio::sync::watch;

use crate::signals::{Signals, StopSignal};

/// Where the REPL is, as far as a stop signal cares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// Waiting in the line editor: a signal ends the process there and then.
    Prompt,
    /// A turn or a command: a signal is recorded, and the REPL ends once it is done.
    Busy,
}

/// The REPL's side of the signal watcher.
pub(super) struct Stops {
    /// Held by the watcher while it decides (and exits), so the loop cannot leave the prompt
    /// half-way through.
    phase: Arc<Mutex<Phase>>,
    got: watch::Receiver<Option<StopSignal>>,
}

/// How to leave the terminal as it was found, when ending from the prompt.
struct Terminal {
    original: Option<Termios>,
    stdout_tty: bool,
}

impl Stops {
    /// Starts listening; call before the terminal's modes are changed, so they can be restored.
    pub fn watch(rt: &Runtime, stdout_tty: bool) -> Self {
        let terminal = Terminal {
            original: tcgetattr(io::stdin()).ok(),
            stdout_tty,
        };
        let phase = Arc::new(Mutex::new(Phase::Busy));
        let (tx, got) = watch::channel(None);
        let mut signals = {
            let _in = rt.enter();
            Signals::listen()
        };
        let shared = phase.clone();
        rt.spawn(async move {
            loop {
                let s = signals.recv().await;
                let phase = shared.lock().unwrap_or_else(PoisonError::into_inner);
                if *phase == Phase::Prompt || tx.borrow().is_some() {
                    terminal.leave(s);
                }
                tx.send_replace(Some(s));
            }
        });
        Stops { phase, got }
    }

    /// Before the line editor: the signal that came during the last turn or command, if one did
    /// (then the REPL ends), else from now on a signal ends the process.
    pub fn enter_prompt(&self) -> Result<(), StopSignal> {
        let mut phase = self.phase.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(s) = *self.got.borrow() {
            return Err(s);
        }
        *phase = Phase::Prompt;
        Ok(())
    }

    /// After the line editor returned: a signal now waits for what the line asks to be done.
    pub fn leave_prompt(&self) {
        *self.phase.lock().unwrap_or_else(PoisonError::into_inner) = Phase::Busy;
    }

    /// Resolves when a stop signal has come (at once if one already has): a turn races it.
    pub fn signalled(&self) -> impl std::future::Future<Output = StopSignal> + use<> {
        let mut got = self.got.clone();
        async move {
            if let Ok(s) = got.wait_for(Option::is_some).await {
                if let Some(s) = *s {
                    return s;
                }
            }
            std::future::pending().await
        }
    }
}

impl Terminal {
    /// Ends the process from the prompt: the terminal's modes back, one line, 128 + signal.
    fn leave(&self, s: StopSignal) -> ! {
        if let Some(t) = &self.original {
            let _ = tcsetattr(io::stdin(), OptionalActions::Now, t);
        }
        if self.stdout_tty {
            // The line editor's bracketed paste off again.
            let _ = io::stdout().write_all(b"\x1b[?2004l");
            let _ = io::stdout().flush();
        }
        // After a hang-up there may be no terminal to write to: then nothing is said.
        let _ = writeln!(io::stderr(), "\nollama-chat: stopped by {}", s.name());
        std::process::exit(s.exit_code() as i32)
    }
}
