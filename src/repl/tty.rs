//! Keeps an Enter typed ahead (while a reply streams) an Enter. Between prompts the terminal is
//! in its normal mode, whose ICRNL turns the Enter key's CR into LF; the line editor would then
//! read Ctrl+J, which inserts a newline instead of sending. So ICRNL stays off while the REPL
//! runs, and the terminal is restored when it ends.

use std::io;

use rustix::termios::{tcgetattr, tcsetattr, InputModes, OptionalActions, Termios};

/// Restores the terminal's original input modes when dropped.
pub struct TypeaheadGuard {
    original: Option<Termios>,
}

impl TypeaheadGuard {
    /// Turns ICRNL off on stdin; does nothing when stdin is not a terminal.
    pub fn new() -> Self {
        let stdin = io::stdin();
        let Ok(original) = tcgetattr(&stdin) else {
            return TypeaheadGuard { original: None };
        };
        let mut changed = original.clone();
        changed.input_modes.remove(InputModes::ICRNL);
        match tcsetattr(&stdin, OptionalActions::Now, &changed) {
            Ok(()) => TypeaheadGuard {
                original: Some(original),
            },
            Err(_) => TypeaheadGuard { original: None },
        }
    }
}

impl Drop for TypeaheadGuard {
    fn drop(&mut self) {
        if let Some(original) = self.original.take() {
            let _ = tcsetattr(io::stdin(), OptionalActions::Now, &original);
        }
    }
}

/// Runs `f` with ICRNL back on, for a question read as a plain line (the model list's), where
/// the Enter key's CR must end the line.
pub fn with_enter_as_newline<T>(f: impl FnOnce() -> T) -> T {
    let stdin = io::stdin();
    let Ok(now) = tcgetattr(&stdin) else {
        return f();
    };
    let mut changed = now.clone();
    changed.input_modes.insert(InputModes::ICRNL);
    let set = tcsetattr(&stdin, OptionalActions::Now, &changed).is_ok();
    let result = f();
    if set {
        let _ = tcsetattr(&stdin, OptionalActions::Now, &now);
    }
    result
}
