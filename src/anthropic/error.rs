//! What a failed answer from a Messages API server means, as the one `ApiError`: the pure rules
//! that read Anthropic's error body (`{"type":"error","error":{"type","message"}}`), Ollama's
//! variants of it (an inner error serialised into `message`; OpenAI's shape on `/v1/models`), and
//! the status, with a message that says what to do next.

use serde_json::Value;

use crate::error::ApiError;
use crate::net::excerpt;
use crate::net::reason_phrase;

/// How errors name a Messages API server.
pub const SERVER: &str = "the server";

/// The variable the key comes from.
pub const KEY_VAR: &str = "ANTHROPIC_API_KEY";

pub fn unreachable(url: &str, reason: String) -> ApiError {
    ApiError::Unreachable {
        server: SERVER,
        url: url.to_string(),
        reason: reason.into(),
        hint: "is it running, and is --base-url (or ANTHROPIC_BASE_URL) right?",
    }
}

/// The facts of a failed answer that decide what it means.
pub struct Failure<'a> {
    /// The base URL (the server's root).
    pub url: &'a str,
    /// The full URL that was asked, for a 404 that means the address is wrong.
    pub endpoint: &'a str,
    pub status: u16,
    pub body: &'a [u8],
    pub retry_after: Option<&'a str>,
    /// The model of a chat request (not of a model listing).
    pub model: Option<&'a str>,
    /// Whether a key was sent. A key the server echoes back is blanked by the backend, which
    /// blanks it from every error of every API.
    pub key_sent: bool,
}

/// Turns a non-success answer into the error it means.
pub fn classify(f: &Failure<'_>) -> ApiError {
    let info = ErrorInfo::from_body(f.body);
    let mut message = info.message.clone();
    if message.is_empty() {
        message = reason_phrase(f.status).to_string();
    }
    let url = f.url.to_string();
    match f.status {
        401 | 403 => ApiError::Unauthorized {
            url,
            status: f.status,
            message: message.into(),
            key_var: KEY_VAR,
            key_sent: f.key_sent,
        },
        404 if f.model.is_some() && about_the_model(&info) => {
            ApiError::model_not_served(f.model.unwrap_or_default(), &url, &message)
        }
        404 => ApiError::NotFound {
            url: f.endpoint.to_string(),
            message: message.into(),
            hint: "is --base-url right? It is the server's root, without /v1",
        },
        429 => ApiError::RateLimited {
            status: 429,
            message: message.into(),
            retry_after: f.retry_after.map(|s| s.trim().to_string()).map(Into::into),
        },
        529 => ApiError::Overloaded {
            status: 529,
            message: message.into(),
        },
        status => ApiError::Status {
            server: SERVER,
            status,
            message: message.into(),
        },
    }
}

/// Whether a 404 is about the model rather than the address: a structured error that names a
/// model (Ollama: "model 'x' not found"; Anthropic: "model: x"). A bare "404 page not found"
/// means the URL is wrong.
fn about_the_model(info: &ErrorInfo) -> bool {
    info.kind.is_some() && info.message.to_ascii_lowercase().contains("model")
}

/// What an error body says.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ErrorInfo {
    pub message: String,
    /// Anthropic's error `type` (`not_found_error`, `overloaded_error`, …), when given.
    pub kind: Option<String>,
}

impl ErrorInfo {
    /// Reads `{"type":"error","error":{"type","message"}}`, OpenAI's `{"error":{"message","type"}}`,
    /// `{"error":"…"}`, or plain text.
    pub fn from_body(body: &[u8]) -> ErrorInfo {
        let Ok(v) = serde_json::from_slice::<Value>(body) else {
            return Self::text(&String::from_utf8_lossy(body));
        };
        let text = |v: Option<&Value>| v.and_then(Value::as_str).map(str::to_string);
        match v.get("error") {
            Some(Value::String(s)) => Self::text(s),
            Some(e @ Value::Object(_)) => {
                Self::from_parts(text(e.get("type")), text(e.get("message")))
            }
            _ => match text(v.get("message")) {
                Some(m) => Self::from_parts(text(v.get("type")), Some(m)),
                None => Self::text(&v.to_string()),
            },
        }
    }

    /// From an error object's `type` and `message`. Ollama may put a whole error body of its
    /// own, serialised, into `message`: its inner message is the one worth showing.
    pub fn from_parts(kind: Option<String>, message: Option<String>) -> ErrorInfo {
        let message = message.unwrap_or_default();
        let inner = serde_json::from_str::<Value>(&message).ok().and_then(|v| {
            let e = v.get("error")?;
            e.get("message")
                .and_then(Value::as_str)
                .or(e.as_str())
                .map(str::to_string)
        });
        ErrorInfo {
            kind,
            ..Self::text(inner.as_deref().unwrap_or(&message))
        }
    }

    /// The message with its type, for an error met inside a reply.
    pub fn describe(&self) -> String {
        match (&self.kind, self.message.is_empty()) {
            (_, true) => "unknown error".to_string(),
            (Some(kind), false) => format!("{} ({kind})", self.message),
            (None, false) => self.message.clone(),
        }
    }

    fn text(s: &str) -> ErrorInfo {
        ErrorInfo {
            message: excerpt(s),
            kind: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ErrorKind;

    fn failure(status: u16, body: &'static [u8]) -> Failure<'static> {
        Failure {
            url: "http://h",
            endpoint: "http://h/v1/messages",
            status,
            body,
            retry_after: None,
            model: Some("no-such"),
            key_sent: true,
        }
    }

    /// Bodies from recordings 28_v1_messages_*.
    const UNKNOWN_MODEL: &[u8] = br#"{"type":"error","error":{"type":"not_found_error","message":"model 'no-such' not found"},"request_id":"req_8a386b61e19df8cb2f2e232c"}"#;
    const NO_VISION: &[u8] = br#"{"type":"error","error":{"type":"invalid_request_error","message":"{\"error\":{\"code\":400,\"message\":\"Multimodal data provided, but model does not support multimodal requests.\",\"type\":\"invalid_request_error\"}}"},"request_id":"req_3cf90596e9f139a100d72f26"}"#;
    const NO_TOOLS: &[u8] = br#"{"type":"error","error":{"type":"invalid_request_error","message":"registry.ollama.ai/library/tiny:latest does not support tools"},"request_id":"req_84e9ce8a9b7284edbd8b8db1"}"#;
    const MISSING_MAX: &[u8] = br#"{"type":"error","error":{"type":"invalid_request_error","message":"max_tokens is required and must be positive"},"request_id":"req_0f1977070cbe5482bb6556ab"}"#;

    #[test]
    fn recorded_unknown_model_is_model_not_found() {
        let e = classify(&failure(404, UNKNOWN_MODEL));
        assert!(matches!(e, ApiError::ModelNotFound { .. }), "{e:?}");
        assert_eq!(
            e.to_string(),
            "model 'no-such' not found at http://h (model 'no-such' not found) — choose a model the server serves with --model"
        );
        let served = e.with_served(&["tiny".into(), "tiny-think".into()]);
        assert!(served
            .to_string()
            .ends_with("— it serves: tiny, tiny-think; choose one with --model"));
        let anthropic = br#"{"type":"error","error":{"type":"not_found_error","message":"model: claude-nope"}}"#;
        assert!(matches!(
            classify(&failure(404, anthropic)),
            ApiError::ModelNotFound { .. }
        ));
    }

    #[test]
    fn other_404s_mean_a_wrong_address() {
        let e = classify(&failure(404, b"404 page not found"));
        assert!(matches!(e, ApiError::NotFound { .. }), "{e:?}");
        assert!(e.to_string().contains("without /v1"), "{e}");
        assert!(
            e.to_string()
                .starts_with("http://h/v1/messages answered 404"),
            "{e}"
        );
        let listing = Failure {
            model: None,
            ..failure(404, UNKNOWN_MODEL)
        };
        assert!(matches!(classify(&listing), ApiError::NotFound { .. }));
    }

    #[test]
    fn recorded_400s_keep_the_inner_message() {
        let e = classify(&failure(400, NO_VISION));
        assert_eq!(
            e.to_string(),
            "the server answered 400: Multimodal data provided, but model does not support multimodal requests."
        );
        assert_eq!(e.kind(), ErrorKind::Server);
        assert!(classify(&failure(400, NO_TOOLS))
            .to_string()
            .ends_with("does not support tools"));
        assert!(classify(&failure(400, MISSING_MAX))
            .to_string()
            .contains("max_tokens is required"));
    }

    #[test]
    fn refused_keys_name_their_variable() {
        let body = br#"{"type":"error","error":{"type":"authentication_error","message":"invalid x-api-key sk-ant-secret"}}"#;
        for status in [401, 403] {
            let e = classify(&failure(status, body));
            assert_eq!(e.kind(), ErrorKind::Unauthorized);
            let text = e.to_string();
            assert!(text.ends_with("check ANTHROPIC_API_KEY"), "{text}");
        }
        let no_key = Failure {
            key_sent: false,
            ..failure(401, b"")
        };
        let text = classify(&no_key).to_string();
        assert!(
            text.contains("wants an API key (401: Unauthorized) — set ANTHROPIC_API_KEY"),
            "{text}"
        );
    }

    #[test]
    fn rate_limits_overload_and_server_errors() {
        let body = br#"{"type":"error","error":{"type":"rate_limit_error","message":"Number of requests has exceeded your rate limit"}}"#;
        let e = classify(&Failure {
            retry_after: Some(" 20 "),
            ..failure(429, body)
        });
        assert_eq!(e.kind(), ErrorKind::RateLimited);
        assert!(e.to_string().ends_with("try again in 20 s"), "{e}");
        let e = classify(&failure(
            529,
            br#"{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}"#,
        ));
        assert_eq!(e.kind(), ErrorKind::Overloaded);
        assert_eq!(
            e.to_string(),
            "the server is overloaded (529: Overloaded) — try again in a moment"
        );
        assert_eq!(
            classify(&failure(529, b"")).to_string(),
            "the server is overloaded (529: Overloaded) — try again in a moment"
        );
        let e = classify(&failure(
            500,
            br#"{"type":"error","error":{"type":"api_error","message":"Internal server error"}}"#,
        ));
        assert_eq!(
            e.to_string(),
            "the server answered 500: Internal server error"
        );
        assert_eq!(
            classify(&failure(502, b"")).to_string(),
            "the server answered 502: Bad Gateway"
        );
    }

    #[test]
    fn error_bodies_of_every_shape() {
        assert_eq!(
            ErrorInfo::from_body(UNKNOWN_MODEL),
            ErrorInfo {
                message: "model 'no-such' not found".into(),
                kind: Some("not_found_error".into())
            }
        );
        let openai = br#"{"error":{"message":"model 'x' not found","type":"not_found_error","param":null,"code":null}}"#;
        assert_eq!(ErrorInfo::from_body(openai).message, "model 'x' not found");
        assert_eq!(ErrorInfo::from_body(br#"{"error":"boom"}"#).message, "boom");
        assert_eq!(
            ErrorInfo::from_body(br#"{"message":"m","type":"t"}"#)
                .kind
                .as_deref(),
            Some("t")
        );
        assert_eq!(
            ErrorInfo::from_body(b"upstream timed out\n").message,
            "upstream timed out"
        );
        assert_eq!(ErrorInfo::from_body(b"").message, "");
        assert_eq!(ErrorInfo::from_body(b"[1]").message, "[1]");
        let long = "x".repeat(1000);
        assert!(
            ErrorInfo::from_body(long.as_bytes())
                .message
                .chars()
                .count()
                <= 301
        );
        let inner_string = ErrorInfo::from_parts(None, Some(r#"{"error":"inner"}"#.into()));
        assert_eq!(inner_string.message, "inner");
        assert_eq!(ErrorInfo::default().describe(), "unknown error");
    }
}
