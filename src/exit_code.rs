//! The process exit codes, documented in the README; scripts rely on them.

/// Why the process ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExitCode {
    Success = 0,
    /// Anything else that went wrong: a failed reply, an unwritable file, a server error.
    Error = 1,
    /// Bad flags, bad option values, nothing to send, no model chosen.
    Usage = 2,
    /// No server answered at the configured address.
    Unreachable = 3,
    /// The server does not have the requested model.
    ModelNotFound = 4,
    /// The server refused the API key, or wants one and none was given (401/403).
    Unauthorized = 5,
    /// The terminal went away mid-run (128 + SIGHUP); what was said so far is saved.
    HungUp = 129,
    /// Ctrl-C (128 + SIGINT), as shells expect.
    Interrupted = 130,
    /// Asked to end (128 + SIGTERM); what was said so far is saved.
    Terminated = 143,
}

impl From<ExitCode> for std::process::ExitCode {
    fn from(c: ExitCode) -> Self {
        std::process::ExitCode::from(c as u8)
    }
}
