//! Sessions: every chat saved as it goes, so it can be resumed, replayed, re-run and exported.
//! This module is the file, not the chat: `chat::session` ties a session to a running chat, and
//! `commands::rerun` sends a session's turns again.
//!
//! Layout: `format` (the versioned record types and a pure line parser), `state` (what the records
//! add up to), `load` (file → state; damage handling), `store` (the append-only writer),
//! `catalog` (the sessions folder: listing and finding by id or name), `index` (the search
//! index and summaries that keep the catalog fast), `text` (records as lines for a person),
//! `export` (Markdown and the request body of the configured API), `fork` (a branch at a turn),
//! `blobs` (attached images, kept once each by hash beside the sessions).

pub mod blobs;
pub mod catalog;
pub mod export;
pub mod fork;
pub mod format;
pub mod index;
pub mod load;
pub mod state;
pub mod store;
pub mod text;

pub use format::{Change, Event, Header, Parent, Reply, ToolRecord};
pub use load::{load_file, Loaded};
pub use state::SessionState;
pub use store::SessionWriter;

use format::LineError;

/// Why a session could not be read, found or written. Each message names the file (and line).
#[derive(Debug, thiserror::Error)]
pub enum SessionError {
    #[error("cannot read the session file {path}: {source}")]
    Read {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot write the session file {path}: {source}")]
    Write {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("{path}: line {line}: {error}; the file was left as it is")]
    Line {
        path: String,
        line: usize,
        error: LineError,
    },
    #[error("no saved session matches {0:?}; `ollama-chat sessions` lists them")]
    NotFound(String),
    #[error("{query:?} matches several sessions ({}); give more of the id", .ids.join(", "))]
    Ambiguous { query: String, ids: Vec<String> },
    #[error("the session {path} is open in another ollama-chat; finish that chat first, or start a new session")]
    InUse { path: String },
    #[error("the image {name} of this session cannot be read from {dir} ({reason}); the session was not resumed")]
    Blob {
        name: String,
        dir: String,
        reason: String,
    },
    #[error("there is no saved session to continue yet")]
    NothingToContinue,
    #[error("sessions are off: no home folder is known (set HOME or XDG_DATA_HOME)")]
    NoFolder,
}

impl SessionError {
    /// A session the user named that is not there, or not a file, is bad input (2), like a bad
    /// flag; a file that is damaged, in use or cannot be written is a failure (1).
    pub fn exit_code(&self) -> crate::exit_code::ExitCode {
        use crate::exit_code::ExitCode;
        match self {
            SessionError::Read { source, .. } if crate::paths::NotAFile::is(source) => {
                ExitCode::Usage
            }
            SessionError::NotFound(_) | SessionError::Ambiguous { .. } => ExitCode::Usage,
            _ => ExitCode::Error,
        }
    }
}

/// The short form of an id shown in lists and accepted wherever an id is.
pub fn short_id(id: &uuid::Uuid) -> String {
    id.simple().to_string()[..8].to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::exit_code::ExitCode;

    #[test]
    fn a_named_session_that_is_not_there_is_bad_input_a_damaged_one_a_failure() {
        let missing =
            crate::paths::read_regular(std::path::Path::new("/no/such/file"), 1).unwrap_err();
        let read = |source| SessionError::Read {
            path: "p".into(),
            source,
        };
        assert_eq!(read(missing).exit_code(), ExitCode::Usage);
        let denied = std::io::Error::from(std::io::ErrorKind::PermissionDenied);
        assert_eq!(read(denied).exit_code(), ExitCode::Error);
        assert_eq!(
            SessionError::NotFound("x".into()).exit_code(),
            ExitCode::Usage
        );
        let busy = SessionError::InUse { path: "p".into() };
        assert_eq!(busy.exit_code(), ExitCode::Error);
    }
}
