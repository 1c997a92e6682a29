//! The one error of every backend: what went wrong talking to a server, with a message that says
//! what to do next, and a `kind()` from which exit codes and hints are derived once. Each API
//! adapter turns its failures into these; nothing above the seam sees a per-API error.

use crate::exit_code::ExitCode;
use crate::untrusted::Untrusted;

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
        reason: Untrusted,
        /// What to check: `ollama serve`, or the base URL.
        hint: &'static str,
    },
    #[error("model '{model}' not found{detail}")]
    ModelNotFound {
        model: Untrusted,
        /// Where, what the server said and what to do, as the adapter knows it.
        detail: Untrusted,
    },
    #[error("{}", unauthorized(.url, *.status, .message, .key_var, *.key_sent))]
    Unauthorized {
        url: String,
        status: u16,
        message: Untrusted,
        /// The variable the key is read from.
        key_var: &'static str,
        key_sent: bool,
    },
    /// A 401 from a server that wants its user signed in to ollama.com (cloud models).
    #[error("{url} wants you signed in to ollama.com ({status}: {message}) — run `ollama signin` on the server's machine{}", signin_hint(.signin_url))]
    SignIn {
        url: String,
        status: u16,
        message: Untrusted,
        /// The server's sign-in page: shown sanitised, never opened.
        signin_url: Option<Untrusted>,
    },
    /// The server refused a prompt that does not fit its window (the client sent `truncate: false`
    /// so that nothing is cut silently).
    #[error("{server} refused the request: it needs {prompt_tokens} tokens, more than the {window}-token context window the model has there (nothing was cut)")]
    ContextExceeded {
        server: &'static str,
        prompt_tokens: u64,
        window: u64,
    },
    #[error("{url} answered 404 ({message}) — {hint}")]
    NotFound {
        url: String,
        message: Untrusted,
        hint: &'static str,
    },
    #[error("the server is rate-limiting requests ({status}: {message}){}", retry_hint(.retry_after))]
    RateLimited {
        status: u16,
        message: Untrusted,
        retry_after: Option<Untrusted>,
    },
    #[error("the server is overloaded ({status}: {message}) — try again in a moment")]
    Overloaded { status: u16, message: Untrusted },
    #[error("{server} answered {status}: {message}")]
    Status {
        server: &'static str,
        status: u16,
        message: Untrusted,
    },
    #[error("{server} reported an error during the reply: {message}")]
    InStream {
        server: &'static str,
        message: Untrusted,
    },
    #[error("the connection to {server} was lost before the reply finished ({reason})")]
    Disconnected {
        server: &'static str,
        reason: Untrusted,
    },
    #[error("the reply ended before the server sent its final chunk")]
    Incomplete,
    #[error("no data from {server} for {secs} s{}, so the reply was abandoned (raise the limit with {flag})", if *.before_first { " before the reply began" } else { "" })]
    Stalled {
        server: &'static str,
        secs: u64,
        /// Whether nothing had arrived yet (the model may have been loading).
        before_first: bool,
        /// The flag that sets this limit.
        flag: &'static str,
    },
    #[error(transparent)]
    Decode(#[from] DecodeError),
    #[error(transparent)]
    TooLong(#[from] TooLong),
    #[error("unexpected answer from {url}: {reason}")]
    Unexpected { url: String, reason: Untrusted },
    /// A setting the API has no way to express; the message names it and what to do.
    #[error("{0}")]
    Request(Untrusted),
    #[error("{server} cannot {what}{}", alternative(.hint))]
    Unsupported {
        server: &'static str,
        what: &'static str,
        hint: Option<&'static str>,
    },
    #[error("request to {url} failed: {reason}")]
    Transport { url: String, reason: Untrusted },
}

impl ApiError {
    pub fn kind(&self) -> ErrorKind {
        match self {
            ApiError::Unreachable { .. } => ErrorKind::Unreachable,
            ApiError::ModelNotFound { .. } => ErrorKind::ModelNotFound,
            ApiError::Unauthorized { .. } | ApiError::SignIn { .. } => ErrorKind::Unauthorized,
            ApiError::ContextExceeded { .. } => ErrorKind::Request,
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

/// How a "not found" model error ends before the server has said what it serves.
const CHOOSE: &str = " — choose a model the server serves with --model";

impl ApiError {
    /// A model an OpenAI- or Anthropic-style server at `url` does not serve, with its message.
    pub fn model_not_served(model: &str, url: &str, message: &str) -> ApiError {
        ApiError::ModelNotFound {
            model: model.into(),
            detail: format!(" at {url} ({message}){CHOOSE}").into(),
        }
    }

    /// The same error, now saying what the server does serve (when it said anything).
    pub fn with_served(self, served: &[Untrusted]) -> ApiError {
        match self {
            ApiError::ModelNotFound { model, detail } if !served.is_empty() => {
                let names: Vec<&str> = served.iter().map(Untrusted::raw).collect();
                let list = format!(
                    " — it serves: {}; choose one with --model",
                    names.join(", ")
                );
                let detail = match detail.raw().strip_suffix(CHOOSE) {
                    Some(start) => format!("{start}{list}").into(),
                    None => detail,
                };
                ApiError::ModelNotFound { model, detail }
            }
            other => other,
        }
    }
}

fn unauthorized(
    url: &str,
    status: u16,
    message: &Untrusted,
    key_var: &str,
    key_sent: bool,
) -> String {
    if key_sent {
        format!("the server at {url} refused the API key ({status}: {message}) — check {key_var}")
    } else {
        format!("the server at {url} wants an API key ({status}: {message}) — set {key_var} in the environment or in a .env file")
    }
}

fn signin_hint(url: &Option<Untrusted>) -> String {
    url.as_ref()
        .map(|u| format!(" or open {}", crate::untrusted::sanitize_line(u.raw())))
        .unwrap_or_default()
}

fn retry_hint(retry_after: &Option<Untrusted>) -> String {
    match retry_after.as_ref().map(Untrusted::raw) {
        None => String::new(),
        Some(v) if v.parse::<u64>().is_ok() => format!("; try again in {v} s"),
        Some(v) => format!("; try again after {}", crate::untrusted::sanitize_line(v)),
    }
}

fn alternative(hint: &Option<&'static str>) -> String {
    hint.map(|h| format!(" ({h})")).unwrap_or_default()
}

impl ApiError {
    /// The same error with every secret in `secrets` blanked from its texts: a server may echo
    /// the key it was sent (in a status body, an error event, an unreadable line), and a URL may
    /// carry a password. What the error means (its kind, status, exit code) is unchanged.
    pub fn scrub(self, secrets: &Secrets) -> ApiError {
        // A URL's password goes however short it is (too short for `Secrets`, which would blank
        // it everywhere): the client's own URLs are in these texts.
        let s = |t: String| blank_url_password(&secrets.scrub(&t), "<password>");
        let u = |t: Untrusted| {
            Untrusted::from(blank_url_password(&secrets.scrub(t.raw()), "<password>"))
        };
        match self {
            ApiError::Unreachable {
                server,
                url,
                reason,
                hint,
            } => ApiError::Unreachable {
                server,
                url: s(url),
                reason: u(reason),
                hint,
            },
            ApiError::ModelNotFound { model, detail } => ApiError::ModelNotFound {
                model: u(model),
                detail: u(detail),
            },
            ApiError::Unauthorized {
                url,
                status,
                message,
                key_var,
                key_sent,
            } => ApiError::Unauthorized {
                url: s(url),
                status,
                message: u(message),
                key_var,
                key_sent,
            },
            ApiError::NotFound { url, message, hint } => ApiError::NotFound {
                url: s(url),
                message: u(message),
                hint,
            },
            ApiError::RateLimited {
                status,
                message,
                retry_after,
            } => ApiError::RateLimited {
                status,
                message: u(message),
                retry_after: retry_after.map(u),
            },
            ApiError::Overloaded { status, message } => ApiError::Overloaded {
                status,
                message: u(message),
            },
            ApiError::Status {
                server,
                status,
                message,
            } => ApiError::Status {
                server,
                status,
                message: u(message),
            },
            ApiError::InStream { server, message } => ApiError::InStream {
                server,
                message: u(message),
            },
            ApiError::Disconnected { server, reason } => ApiError::Disconnected {
                server,
                reason: u(reason),
            },
            ApiError::Decode(d) => ApiError::Decode(d.scrub(secrets)),
            ApiError::Unexpected { url, reason } => ApiError::Unexpected {
                url: s(url),
                reason: u(reason),
            },
            ApiError::Request(m) => ApiError::Request(u(m)),
            ApiError::Transport { url, reason } => ApiError::Transport {
                url: s(url),
                reason: u(reason),
            },
            ApiError::SignIn {
                url,
                status,
                message,
                signin_url,
            } => ApiError::SignIn {
                url: s(url),
                status,
                message: u(message),
                signin_url: signin_url.map(u),
            },
            e @ (ApiError::Incomplete
            | ApiError::ContextExceeded { .. }
            | ApiError::Stalled { .. }
            | ApiError::Unsupported { .. }
            | ApiError::TooLong(_)) => e,
        }
    }
}

/// The secrets the client sends to a server (the API key, a password in the server's URL), so
/// that none of them is ever shown or written, whatever the server echoes back: each exact
/// occurrence becomes a placeholder naming where it came from (`<OPENAI_API_KEY>`), which also
/// covers the `Bearer <key>` form. Secrets shorter than [`Secrets::MIN_LEN`] characters are not
/// scrubbed: blanking every `1234` or `admin` would mangle ordinary text, and a key that short
/// is no secret worth the name. A key the server splits into parts is not found.
#[derive(Debug, Clone, Default)]
pub struct Secrets {
    /// Each secret and its placeholder, longest first.
    list: Vec<(String, String)>,
}

impl Secrets {
    /// Shorter secrets are left in the text.
    pub const MIN_LEN: usize = 8;

    pub fn new() -> Self {
        Secrets::default()
    }

    /// Adds `value` (e.g. an API key), shown as `<{name}>` (e.g. `<OPENAI_API_KEY>`). Also its
    /// trimmed form, should it have spaces around it.
    pub fn add(&mut self, name: &str, value: &str) {
        if value.trim().chars().count() < Self::MIN_LEN {
            return;
        }
        self.push(format!("<{name}>"), value);
        self.push(format!("<{name}>"), value.trim());
    }

    /// Adds the password of `url`'s `user:password@` part, if it has one (reqwest sends it as
    /// Basic authentication): as written, percent-decoded, and as the Basic credentials
    /// (`base64(user:password)`). `name` is where the URL came from (`OLLAMA_HOST`). The URL is
    /// read as text, not parsed, so a URL too odd to parse still has its password blanked.
    pub fn add_url_password(&mut self, name: &str, url: &str) {
        let Some((user, password)) = url_credentials(url) else {
            return;
        };
        let placeholder = format!("<{name} password>");
        let decoded = percent_decode(password);
        let user = percent_decode(user);
        use base64::Engine as _;
        let basic = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{decoded}"));
        self.push(placeholder.clone(), password);
        self.push(placeholder.clone(), &decoded);
        self.push(placeholder, &basic);
    }

    fn push(&mut self, placeholder: String, value: &str) {
        if value.chars().count() < Self::MIN_LEN || self.list.iter().any(|(v, _)| v == value) {
            return;
        }
        self.list.push((value.to_string(), placeholder));
        self.list.sort_by_key(|(v, _)| std::cmp::Reverse(v.len()));
    }

    pub fn is_empty(&self) -> bool {
        self.list.is_empty()
    }

    /// `text` with every occurrence of every secret replaced by its placeholder. Occurrences
    /// that overlap (two keys sharing characters, a key repeated into itself) are blanked as one
    /// span, so no character of any of them survives.
    pub fn scrub<'t>(&self, text: &'t str) -> std::borrow::Cow<'t, str> {
        // Every occurrence, overlapping ones included: (start, end, placeholder).
        let mut spans: Vec<(usize, usize, &str)> = Vec::new();
        for (secret, placeholder) in &self.list {
            let mut from = 0;
            while let Some(i) = text[from..].find(secret.as_str()) {
                let start = from + i;
                spans.push((start, start + secret.len(), placeholder));
                // On to the next character, not the next byte: a match starts on a boundary.
                from = start + text[start..].chars().next().map_or(1, char::len_utf8);
            }
        }
        if spans.is_empty() {
            return std::borrow::Cow::Borrowed(text);
        }
        // Earliest first; of two starting together, the longer (sorted first, and the sort is
        // stable) names the span.
        spans.sort_by_key(|&(start, _, _)| start);
        let mut out = String::with_capacity(text.len());
        let mut done = 0;
        let mut i = 0;
        while i < spans.len() {
            let (start, mut end, placeholder) = spans[i];
            i += 1;
            while i < spans.len() && spans[i].0 < end {
                end = end.max(spans[i].1);
                i += 1;
            }
            out.push_str(&text[done..start]);
            out.push_str(placeholder);
            done = end;
        }
        out.push_str(&text[done..]);
        std::borrow::Cow::Owned(out)
    }
}

/// `url` with the password of its `user:password@` part replaced by `placeholder`, however short
/// it is: what a URL is shown, logged and recorded as.
pub fn blank_url_password(url: &str, placeholder: &str) -> String {
    match url_credentials(url) {
        // Already blanked by name (`<OLLAMA_HOST password>`).
        Some((_, password)) if password.starts_with('<') && password.ends_with('>') => {
            url.to_string()
        }
        Some((user, password)) => url.replacen(
            &format!("{user}:{password}@"),
            &format!("{user}:{placeholder}@"),
            1,
        ),
        None => url.to_string(),
    }
}

/// The `user` and `password` of a URL's `user:password@` part, read as text: after `scheme://`
/// (if any), before the first `/`, up to the last `@`.
fn url_credentials(url: &str) -> Option<(&str, &str)> {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    let authority = rest.split('/').next().unwrap_or(rest);
    let (userinfo, _) = authority.rsplit_once('@')?;
    let userinfo = userinfo.trim_start_matches('[');
    userinfo.split_once(':')
}

/// `%XX` escapes decoded (as reqwest decodes a URL's password before sending it); text that
/// does not decode to UTF-8 is kept as written.
fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        let hex = |c: u8| (c as char).to_digit(16);
        if b[i] == b'%' && i + 2 < b.len() {
            if let (Some(h), Some(l)) = (hex(b[i + 1]), hex(b[i + 2])) {
                out.push((h * 16 + l) as u8);
                i += 3;
                continue;
            }
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8(out).unwrap_or_else(|_| s.to_string())
}

/// Bytes from the server that are not what the API promised (a line that is not JSON, an HTML
/// error page where events were expected).
#[derive(Debug, thiserror::Error)]
#[error("unreadable line from the server ({source}): {excerpt}")]
pub struct DecodeError {
    /// The start of the offending text, for the message (never the whole of a huge line).
    pub excerpt: Untrusted,
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
            excerpt: String::from_utf8_lossy(&bytes[..end]).into_owned().into(),
            source,
        }
    }
}

impl DecodeError {
    /// The same error with `secrets` blanked from the excerpt and from the parser's message
    /// (which may quote the text it choked on).
    pub fn scrub(self, secrets: &Secrets) -> DecodeError {
        let excerpt = secrets.scrub(self.excerpt.raw()).into_owned().into();
        let message = self.source.to_string();
        let source = match secrets.scrub(&message) {
            std::borrow::Cow::Borrowed(_) => self.source,
            std::borrow::Cow::Owned(m) => <serde_json::Error as serde::de::Error>::custom(m),
        };
        DecodeError { excerpt, source }
    }
}

/// A line or an event longer than a stream decoder holds: a broken or hostile server, refused
/// before it fills the memory.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the server sent {what} longer than {}; the reply was stopped (raise the limit with --max-line)", size_text(*.limit))]
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

/// Bytes in decimal units, as `ollama list` shows them: `253 MB`, `1.3 GB`, `512 B`.
pub fn human_bytes(n: u64) -> String {
    const UNITS: &[(&str, f64)] = &[("TB", 1e12), ("GB", 1e9), ("MB", 1e6), ("KB", 1e3)];
    for (unit, scale) in UNITS {
        let value = n as f64 / scale;
        if value >= 1.0 {
            return if value >= 10.0 || value.fract() == 0.0 {
                format!("{} {unit}", value.round() as u64)
            } else {
                format!("{value:.1} {unit}")
            };
        }
    }
    format!("{n} B")
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
    #[test]
    fn a_url_password_is_blanked_however_short() {
        assert_eq!(
            super::blank_url_password("http://me:pw@h:1/x", "<P>"),
            "http://me:<P>@h:1/x"
        );
        assert_eq!(
            super::blank_url_password("http://h:1/a:b@c", "<P>"),
            "http://h:1/a:b@c"
        );
        assert_eq!(
            super::blank_url_password("http://me@h", "<P>"),
            "http://me@h"
        );
        assert_eq!(
            super::blank_url_password(
                "error sending request for url (http://me:pw@h:1/api)",
                "<P>"
            ),
            "error sending request for url (http://me:<P>@h:1/api)"
        );
        let named = "http://me:<OLLAMA_HOST password>@h";
        assert_eq!(super::blank_url_password(named, "<P>"), named);
    }

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
            detail: String::new().into(),
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
            retry_after: after.map(str::to_string).map(Into::into),
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
        assert!(d.excerpt.raw().chars().all(|c| c == '好'));
        assert!(d.excerpt.raw().len() <= 120);
    }

    fn secrets(pairs: &[(&str, &str)]) -> Secrets {
        let mut s = Secrets::new();
        for (name, value) in pairs {
            s.add(name, value);
        }
        s
    }

    #[test]
    fn every_key_is_blanked_wherever_it_is() {
        let s = secrets(&[
            ("OPENAI_API_KEY", "sk-openai-0123456789"),
            ("OLLAMA_API_KEY", "ollama-key-abcdef"),
        ]);
        assert_eq!(
            s.scrub("bad key sk-openai-0123456789, Bearer ollama-key-abcdef; again sk-openai-0123456789"),
            "bad key <OPENAI_API_KEY>, Bearer <OLLAMA_API_KEY>; again <OPENAI_API_KEY>"
        );
        assert!(matches!(
            s.scrub("nothing here"),
            std::borrow::Cow::Borrowed(_)
        ));
        assert_eq!(s.scrub(""), "");
    }

    #[test]
    fn unicode_around_a_key_is_kept_whole() {
        let s = secrets(&[("ANTHROPIC_API_KEY", "密鑰-sk-ant-😀-12345")]);
        assert_eq!(
            s.scrub("金鑰「密鑰-sk-ant-😀-12345」無效😀"),
            "金鑰「<ANTHROPIC_API_KEY>」無效😀"
        );
    }

    #[test]
    fn overlapping_keys_leave_no_character_of_either() {
        // One key inside another: the longer one names the span.
        let s = secrets(&[("A_KEY", "abcdefgh"), ("B_KEY", "xxabcdefghyy")]);
        assert_eq!(s.scrub("1 xxabcdefghyy 2 abcdefgh"), "1 <B_KEY> 2 <A_KEY>");
        // Two keys sharing characters: blanked as one span.
        let s = secrets(&[("A_KEY", "abcdefgh12"), ("B_KEY", "efgh123456")]);
        assert_eq!(s.scrub("[abcdefgh123456]"), "[<A_KEY>]");
        // A key repeated into itself.
        let s = secrets(&[("K", "aaaaaaaa")]);
        assert_eq!(s.scrub("aaaaaaaaaa b"), "<K> b");
    }

    #[test]
    fn short_keys_are_not_scrubbed() {
        let s = secrets(&[("OLLAMA_API_KEY", "admin"), ("OPENAI_API_KEY", " 1234567 ")]);
        assert!(s.is_empty());
        assert_eq!(s.scrub("admin 1234567"), "admin 1234567");
    }

    #[test]
    fn a_url_password_is_blanked_as_written_decoded_and_as_basic_credentials() {
        let mut s = Secrets::new();
        s.add_url_password("OLLAMA_HOST", "https://me:p%40ss-w0rd!@host:443/x");
        let basic = {
            use base64::Engine as _;
            base64::engine::general_purpose::STANDARD.encode("me:p@ss-w0rd!")
        };
        let text = format!("https://me:p%40ss-w0rd!@host:443 p@ss-w0rd! Basic {basic}");
        assert_eq!(
            s.scrub(&text),
            "https://me:<OLLAMA_HOST password>@host:443 <OLLAMA_HOST password> Basic <OLLAMA_HOST password>"
        );
        // A host the resolver could not make sense of still has its password found.
        let mut s = Secrets::new();
        s.add_url_password("OLLAMA_HOST", "http://[user:hunter2hunter2@h:11434]:80");
        assert_eq!(
            s.scrub("at http://[user:hunter2hunter2@h:11434]:80"),
            "at http://[user:<OLLAMA_HOST password>@h:11434]:80"
        );
        let mut s = Secrets::new();
        s.add_url_password("X", "http://user@host:1/v1");
        s.add_url_password("X", "http://host:1/a@b");
        assert!(s.is_empty());
    }

    #[test]
    fn a_scrubbed_error_keeps_its_meaning() {
        let s = secrets(&[("OLLAMA_API_KEY", "secret-key-123")]);
        let e = ApiError::Unauthorized {
            url: "http://h".into(),
            status: 401,
            message: "bad key secret-key-123".into(),
            key_var: "OLLAMA_API_KEY",
            key_sent: true,
        }
        .scrub(&s);
        assert_eq!(e.exit_code(), ExitCode::Unauthorized);
        assert!(e.to_string().contains("bad key <OLLAMA_API_KEY>"), "{e}");
        let e = ApiError::InStream {
            server: "Ollama",
            message: "echo secret-key-123".into(),
        }
        .scrub(&s);
        assert_eq!(e.kind(), ErrorKind::Server);
        assert!(!e.to_string().contains("secret-key-123"), "{e}");
        let line = br#"{"k": "secret-key-123" oops"#;
        let err = serde_json::from_slice::<serde_json::Value>(line).unwrap_err();
        let e = ApiError::Decode(DecodeError::new(line, err)).scrub(&s);
        assert_eq!(e.kind(), ErrorKind::Protocol);
        assert!(!e.to_string().contains("secret-key-123"), "{e}");
        let typed = serde_json::from_str::<u64>(r#""secret-key-123""#).unwrap_err();
        let e = ApiError::Decode(DecodeError::new(b"x", typed)).scrub(&s);
        assert!(!e.to_string().contains("secret-key-123"), "{e}");
    }
}
