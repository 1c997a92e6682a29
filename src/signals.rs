//! SIGTERM and SIGHUP: the signals that end a run from outside (a service manager, a closed
//! terminal). A reply they interrupt is kept like one Ctrl-C stops, then the run exits 128+signal.
//!
//! Listening replaces the default action (dying at once), so only the code that can act on them
//! listens: a turn races them (as it races Ctrl-C), and the REPL keeps one watcher for the
//! prompt. Before a [`Signals`] exists, the defaults apply, which is right where nothing is
//! unsaved.

use std::future::Future;
use std::io;

use tokio::signal::unix::{signal, Signal, SignalKind};

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
pub struct Signals {
    term: Option<Signal>,
    hup: Option<Signal>,
}

impl Signals {
    /// Starts listening. Must be called inside a tokio runtime (`Runtime::enter`). A signal that
    /// cannot be listened for keeps its default action rather than failing the run.
    pub fn listen() -> Self {
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
    pub async fn recv(&mut self) -> StopSignal {
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
