//! The one error of every backend: what went wrong talking to a server, with a message that says
//! what to do next, and a `kind()` from which exit codes and hints are derived once. Each API
//! adapter turns its failures into these; nothing above the seam sees a per-API error.

use crate::exit_code::ExitCode;

/// What kind of failure an [`ApiError`] is: the part callers decide on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// Nothing answered at the address.
    Unreachable,
    /// The server does not have the model.
    ModelNotFound,
    /// The server wants an API key, or refused the one given.
    Unauthorized,
    /// Too many requests: try again later.
    RateLimited,
    /// The server is overloaded (Anthropic's 529): try again later.
    Overloaded,
    /// The server failed (a 5xx, an error inside the stream, another status).
    Server,
    /// The server answered something the client cannot read, or cut the reply short.
    Protocol,
    /// No data for longer than the stall limit.
    Stalled,
    /// The request asks for something this API cannot express (an option, a setting).
    Request,
    /// This server offers no such thing (model management on an OpenAI-compatible server).
    Unsupported,
    /// Anything else on the way (TLS, a bad URL).
    Transport,
}

impl ErrorKind {
    /// The process exit code for a run that ends with this error.
    pub fn exit_code(self) -> ExitCode {
        match self {
            ErrorKind::Unreachable => ExitCode::Unreachable,
            ErrorKind::ModelNotFound => ExitCode::ModelNotFound,
            ErrorKind::Unauthorized => ExitCode::Unauthorized,
            ErrorKind::Request | ErrorKind::Unsupported => ExitCode::Usage,
            _ => ExitCode::Error,
        }
    }

    /// Whether the same request could succeed later unchanged (a rerun stops at the first turn
    /// otherwise only for failures that will repeat on every turn).
    pub fn is_fatal_for_every_turn(self) -> bool {
        matches!(
            self,
            ErrorKind::Unreachable
                | ErrorKind::ModelNotFound
                | ErrorKind::Unauthorized
                | ErrorKind::Request
                | ErrorKind::Unsupported
        )
    }
}

/// A failed request or reply, from any API.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("cannot reach {server} at {url} ({reason}) — {hint}")]
    Unreachable {
        server: &'static str,
        url: String,
        reason: String,
        /// What to check: `ollama serve`, or the base URL.
        hint: &'static str,
    },
    #[error("model '{model}' not found{detail}")]
    ModelNotFound {
        model: String,
        /// Where, what the server said and what to do, as the adapter knows it.
        detail: String,
    },
    #[error("{}", unauthorized(.url, *.status, .message, .key_var, *.key_sent))]
    Unauthorized {
        url: String,
        status: u16,
        message: String,
        /// The variable the key is read from.
        key_var: &'static str,
        key_sent: bool,
    },
    #[error("{url} answered 404 ({message}) — {hint}")]
    NotFound {
        url: String,
        message: String,
        hint: &'static str,
    },
    #[error("the server is rate-limiting requests ({status}: {message}){}", retry_hint(.retry_after))]
    RateLimited {
        status: u16,
        message: String,
        retry_after: Option<String>,
    },
    #[error("the server is overloaded ({status}: {message}) — try again in a moment")]
    Overloaded { status: u16, message: String },
    #[error("{server} answered {status}: {message}")]
    Status {
        server: &'static str,
        status: u16,
        message: String,
    },
    #[error("{server} reported an error during the reply: {message}")]
    InStream {
        server: &'static str,
        message: String,
    },
    #[error("the connection to {server} was lost before the reply finished ({reason})")]
    Disconnected {
        server: &'static str,
        reason: String,
    },
    #[error("the reply ended before the server sent its final chunk")]
    Incomplete,
    #[error("no data from {server} for {secs} s, so the reply was abandoned (raise the limit with --timeout)")]
    Stalled { server: &'static str, secs: u64 },
    #[error(transparent)]
    Decode(#[from] DecodeError),
    #[error(transparent)]
    TooLong(#[from] TooLong),
    #[error("unexpected answer from {url}: {reason}")]
    Unexpected { url: String, reason: String },
    /// A setting the API has no way to express; the message names it and what to do.
    #[error("{0}")]
    Request(String),
    #[error("{server} cannot {what}{}", alternative(.hint))]
    Unsupported {
        server: &'static str,
        what: &'static str,
        hint: Option<&'static str>,
    },
    #[error("request to {url} failed: {reason}")]
    Transport { url: String, reason: String },
}

impl ApiError {
    pub fn kind(&self) -> ErrorKind {
        match self {
            ApiError::Unreachable { .. } => ErrorKind::Unreachable,
            ApiError::ModelNotFound { .. } => ErrorKind::ModelNotFound,
            ApiError::Unauthorized { .. } => ErrorKind::Unauthorized,
            ApiError::RateLimited { .. } => ErrorKind::RateLimited,
            ApiError::Overloaded { .. } => ErrorKind::Overloaded,
            ApiError::Status { .. } | ApiError::InStream { .. } => ErrorKind::Server,
            ApiError::NotFound { .. }
            | ApiError::Disconnected { .. }
            | ApiError::Incomplete
            | ApiError::Decode(_)
            | ApiError::TooLong(_)
            | ApiError::Unexpected { .. } => ErrorKind::Protocol,
            ApiError::Stalled { .. } => ErrorKind::Stalled,
            ApiError::Request(_) => ErrorKind::Request,
            ApiError::Unsupported { .. } => ErrorKind::Unsupported,
            ApiError::Transport { .. } => ErrorKind::Transport,
        }
    }

    pub fn exit_code(&self) -> ExitCode {
        self.kind().exit_code()
    }
}

fn unauthorized(url: &str, status: u16, message: &str, key_var: &str, key_sent: bool) -> String {
    if key_sent {
        format!("the server at {url} refused the API key ({status}: {message}) — check {key_var}")
    } else {
        format!("the server at {url} wants an API key ({status}: {message}) — set {key_var} in the environment or in a .env file")
    }
}

fn retry_hint(retry_after: &Option<String>) -> String {
    match retry_after.as_deref() {
        None => String::new(),
        Some(v) if v.parse::<u64>().is_ok() => format!("; try again in {v} s"),
        Some(v) => format!("; try again after {v}"),
    }
}

fn alternative(hint: &Option<&'static str>) -> String {
    hint.map(|h| format!(" ({h})")).unwrap_or_default()
}

/// Bytes from the server that are not what the API promised (a line that is not JSON, an HTML
/// error page where events were expected).
#[derive(Debug, thiserror::Error)]
#[error("unreadable line from the server ({source}): {excerpt}")]
pub struct DecodeError {
    /// The start of the offending text, for the message (never the whole of a huge line).
    pub excerpt: String,
    #[source]
    pub source: serde_json::Error,
}

impl DecodeError {
    /// The error for `bytes` that failed to parse.
    pub fn new(bytes: &[u8], source: serde_json::Error) -> Self {
        let mut end = bytes.len().min(120);
        // Never cut a character in half.
        while end < bytes.len() && end > 0 && (bytes[end] & 0xC0) == 0x80 {
            end -= 1;
        }
        DecodeError {
            excerpt: String::from_utf8_lossy(&bytes[..end]).into_owned(),
            source,
        }
    }
}

/// A line or an event longer than a stream decoder holds: a broken or hostile server, refused
/// before it fills the memory.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the server sent {what} longer than {}; the reply was stopped", size_text(*.limit))]
pub struct TooLong {
    /// "a line" or "an event".
    pub what: &'static str,
    /// The limit, in bytes.
    pub limit: usize,
}

/// A size as a person reads it: whole MiB where it is one, bytes otherwise.
pub fn size_text(bytes: usize) -> String {
    const MIB: usize = 1024 * 1024;
    const KIB: usize = 1024;
    if bytes >= MIB && bytes.is_multiple_of(MIB) {
        format!("{} MiB", bytes / MIB)
    } else if bytes >= KIB && bytes.is_multiple_of(KIB) {
        format!("{} KiB", bytes / KIB)
    } else {
        format!("{bytes} bytes")
    }
}

/// Why decoding a reply stopped: the server sent something unreadable or too long, or the event
/// sink failed.
#[derive(Debug)]
pub enum FeedError<E> {
    Decode(DecodeError),
    TooLong(TooLong),
    Sink(E),
}

impl<E> From<TooLong> for FeedError<E> {
    fn from(e: TooLong) -> Self {
        FeedError::TooLong(e)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_give_the_documented_exit_codes() {
        let unreachable = ApiError::Unreachable {
            server: "Ollama",
            url: "http://127.0.0.1:9".into(),
            reason: "refused".into(),
            hint: "is `ollama serve` running?",
        };
        assert_eq!(unreachable.exit_code(), ExitCode::Unreachable);
        assert_eq!(
            unreachable.to_string(),
            "cannot reach Ollama at http://127.0.0.1:9 (refused) — is `ollama serve` running?"
        );
        let missing = ApiError::ModelNotFound {
            model: "x".into(),
            detail: String::new(),
        };
        assert_eq!(missing.exit_code(), ExitCode::ModelNotFound);
        let key = ApiError::Unauthorized {
            url: "u".into(),
            status: 401,
            message: "no".into(),
            key_var: "ANTHROPIC_API_KEY",
            key_sent: true,
        };
        assert_eq!(key.exit_code(), ExitCode::Unauthorized);
        assert!(key.to_string().ends_with("check ANTHROPIC_API_KEY"));
        assert_eq!(ApiError::Request("x".into()).exit_code(), ExitCode::Usage);
        assert_eq!(ApiError::Incomplete.exit_code(), ExitCode::Error);
        assert!(ErrorKind::Unreachable.is_fatal_for_every_turn());
        assert!(!ErrorKind::Server.is_fatal_for_every_turn());
    }

    #[test]
    fn rate_limits_say_when_to_retry() {
        let e = |after: Option<&str>| ApiError::RateLimited {
            status: 429,
            message: "slow down".into(),
            retry_after: after.map(str::to_string),
        };
        assert_eq!(
            e(Some("20")).to_string(),
            "the server is rate-limiting requests (429: slow down); try again in 20 s"
        );
        assert!(e(Some("Wed, 21 Oct 2026 07:28:00 GMT"))
            .to_string()
            .ends_with("try again after Wed, 21 Oct 2026 07:28:00 GMT"));
        assert!(!e(None).to_string().contains("try again"));
    }

    #[test]
    fn an_excerpt_never_splits_a_character() {
        let text = "好".repeat(100);
        let err = serde_json::from_slice::<serde_json::Value>(text.as_bytes()).unwrap_err();
        let d = DecodeError::new(text.as_bytes(), err);
        assert!(d.excerpt.chars().all(|c| c == '好'));
        assert!(d.excerpt.len() <= 120);
    }
}
