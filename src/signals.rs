//! SIGTERM and SIGHUP: the signals that end a run from outside (a service manager, a closed
//! terminal). A reply they interrupt is kept like one Ctrl-C stops, then the run exits 128+signal.
//!
//! Listening replaces the default action (dying at once), so a [`Watcher`] acts on every signal:
//! while the run is busy (a turn, a command) it records the first one, which a turn races as it
//! races Ctrl-C, and the run ends once that work is done; at the REPL's prompt, where every
//! change is already written and the line editor cannot be woken from its read, it ends the
//! process at once with the terminal's modes put back. A second signal while busy also ends it
//! at once: whoever sends it twice means it (a run blocked on a slow file or server). Before a
//! watcher exists, the defaults apply, which is right where nothing is unsaved.

use std::future::Future;
use std::io::{self, Write};
use std::sync::{Arc, Mutex, PoisonError};

use rustix::termios::{tcgetattr, tcsetattr, OptionalActions, Termios};
use tokio::runtime::Runtime;
use tokio::signal::unix::{signal, Signal, SignalKind};
use tokio::sync::watch;

use crate::exit_code::ExitCode;

/// A signal asking the whole run to end.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StopSignal {
    /// SIGTERM: `kill`, a service manager, a shutdown.
    Terminate,
    /// SIGHUP: the terminal went away.
    Hangup,
}

impl StopSignal {
    /// As shells name it.
    pub fn name(self) -> &'static str {
        match self {
            StopSignal::Terminate => "SIGTERM",
            StopSignal::Hangup => "SIGHUP",
        }
    }

    /// 128 + the signal's number, as shells report a process the signal killed.
    pub fn exit_code(self) -> ExitCode {
        match self {
            StopSignal::Terminate => ExitCode::Terminated,
            StopSignal::Hangup => ExitCode::HungUp,
        }
    }
}

/// Listens for SIGTERM and SIGHUP from the moment it is made; a signal that came before the
/// first `recv` is not lost.
struct Signals {
    term: Option<Signal>,
    hup: Option<Signal>,
}

impl Signals {
    /// Starts listening. Must be called inside a tokio runtime (`Runtime::enter`). A signal that
    /// cannot be listened for keeps its default action rather than failing the run.
    fn listen() -> Self {
        let listen = |kind| {
            signal(kind)
                .map_err(|e: io::Error| tracing::debug!("cannot listen for a signal: {e}"))
                .ok()
        };
        Signals {
            term: listen(SignalKind::terminate()),
            hup: listen(SignalKind::hangup()),
        }
    }

    /// Resolves with the next stop signal.
    async fn recv(&mut self) -> StopSignal {
        async fn next(s: &mut Option<Signal>) {
            if let Some(s) = s {
                if s.recv().await.is_some() {
                    return;
                }
            }
            std::future::pending().await
        }
        tokio::select! {
            biased;
            () = next(&mut self.term) => StopSignal::Terminate,
            () = next(&mut self.hup) => StopSignal::Hangup,
        }
    }
}

/// Where the run is, as far as a stop signal cares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// Waiting in the line editor: a signal ends the process there and then.
    Prompt,
    /// A turn or a command: a signal is recorded, and the run ends once it is done.
    Busy,
}

/// The run's side of the signal watcher (a task on the runtime).
pub struct Watcher {
    /// Held by the watcher task while it decides (and exits), so the run cannot leave the prompt
    /// half-way through.
    phase: Arc<Mutex<Phase>>,
    got: watch::Receiver<Option<StopSignal>>,
}

/// How to leave the terminal as it was found, when ending at once.
struct Terminal {
    original: Option<Termios>,
    stdout_tty: bool,
}

impl Watcher {
    /// Starts listening, busy. Call before the terminal's modes are changed, so that they can be
    /// put back.
    pub fn start(rt: &Runtime, stdout_tty: bool) -> Self {
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
        Watcher { phase, got }
    }

    /// The signal that came while the run was busy, if one did: the run should end with it.
    pub fn received(&self) -> Option<StopSignal> {
        *self.got.borrow()
    }

    /// Before the line editor: the signal that came during the last turn or command, if one did
    /// (then the REPL ends), else from now on a signal ends the process at once.
    pub fn enter_prompt(&self) -> Result<(), StopSignal> {
        let mut phase = self.phase.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(s) = self.received() {
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
    pub fn signalled(&self) -> impl Future<Output = StopSignal> + use<> {
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
    /// Ends the process at once: the terminal's modes back, one line, 128 + signal.
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

/// What a turn races: Ctrl-C (`interrupt`, `None`) or a stop signal, whichever comes first; the
/// stop signal when both are there, since it also ends the run.
pub async fn interrupt_or_stop(
    interrupt: impl Future<Output = ()>,
    stop: impl Future<Output = StopSignal>,
) -> Option<StopSignal> {
    tokio::select! {
        biased;
        s = stop => Some(s),
        () = interrupt => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exit_codes_are_128_plus_the_signal() {
        assert_eq!(StopSignal::Terminate.exit_code() as i32, 128 + 15);
        assert_eq!(StopSignal::Hangup.exit_code() as i32, 128 + 1);
    }
}
