//! What can go wrong talking to an OpenAI-compatible server, each with a message that says what to
//! do next; and the pure rules that read an error body, whatever its shape, and turn a failed
//! HTTP answer into one of them.

use serde_json::Value;

use crate::error::ApiError;
use crate::net::excerpt;
use crate::net::reason_phrase;

/// How errors name an OpenAI-compatible server.
pub const SERVER: &str = "the server";

pub fn unreachable(url: &str, reason: String) -> ApiError {
    ApiError::Unreachable {
        server: SERVER,
        url: url.to_string(),
        reason: reason.into(),
        hint: "is it running, and is --base-url right?",
    }
}

/// The facts of a failed answer that decide what it means.
pub struct Failure<'a> {
    /// The base URL.
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
            key_var: "OPENAI_API_KEY",
            key_sent: f.key_sent,
        },
        404 if f.model.is_some() && about_the_model(&info) => {
            ApiError::model_not_served(f.model.unwrap_or_default(), &url, &message)
        }
        404 => ApiError::NotFound {
            url: f.endpoint.to_string(),
            message: message.into(),
            hint: "is --base-url right? It usually ends in /v1",
        },
        429 => ApiError::RateLimited {
            status: 429,
            message: message.into(),
            retry_after: f.retry_after.map(|s| s.trim().to_string()).map(Into::into),
        },
        status => ApiError::Status {
            server: SERVER,
            status,
            message: message.into(),
        },
    }
}

/// Whether a 404 is about the model rather than the address: a structured error that names a
/// model. A bare "404 page not found" means the URL is wrong.
fn about_the_model(info: &ErrorInfo) -> bool {
    info.code.as_deref() == Some("model_not_found")
        || (info.kind.is_some() && info.message.to_ascii_lowercase().contains("model"))
        || info.message.starts_with("model '")
}

/// What an error body says, whichever of the common shapes it has.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ErrorInfo {
    pub message: String,
    /// `type` (`invalid_request_error`, `not_found_error`, …), when given.
    pub kind: Option<String>,
    /// `code` (`model_not_found`, `invalid_api_key`, …), when given as a string.
    pub code: Option<String>,
}

impl ErrorInfo {
    /// Reads `{"error":{"message","type","code"}}` (OpenAI, Ollama's /v1), `{"error":"…"}`,
    /// `{"object":"error","message":…}` (vLLM), `{"detail":…}` (FastAPI gateways), or plain text.
    pub fn from_body(body: &[u8]) -> ErrorInfo {
        match serde_json::from_slice::<Value>(body) {
            Ok(v) => Self::from_value(&v).unwrap_or_else(|| Self::text(&v.to_string())),
            Err(_) => Self::text(&String::from_utf8_lossy(body)),
        }
    }

    /// The error an event or body carries, if it is one.
    pub fn from_value(v: &Value) -> Option<ErrorInfo> {
        let text = |v: Option<&Value>| v.and_then(Value::as_str).map(str::to_string);
        match v.get("error") {
            Some(Value::String(s)) => return Some(Self::text(s)),
            Some(e @ Value::Object(_)) => {
                return Some(ErrorInfo {
                    message: excerpt(&text(e.get("message")).unwrap_or_else(|| e.to_string())),
                    kind: text(e.get("type")),
                    code: text(e.get("code")),
                })
            }
            _ => {}
        }
        if v.get("object").and_then(Value::as_str) == Some("error") {
            return Some(ErrorInfo {
                message: excerpt(&text(v.get("message")).unwrap_or_default()),
                kind: text(v.get("type")),
                code: text(v.get("code")),
            });
        }
        match v.get("detail") {
            Some(Value::String(s)) => Some(Self::text(s)),
            Some(d @ Value::Array(_)) => Some(Self::text(&d.to_string())),
            _ => None,
        }
    }

    fn text(s: &str) -> ErrorInfo {
        ErrorInfo {
            message: excerpt(s),
            ..Default::default()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn failure(status: u16, body: &'static [u8]) -> Failure<'static> {
        Failure {
            url: "http://h/v1",
            endpoint: "http://h/v1/chat/completions",
            status,
            body,
            retry_after: None,
            model: Some("nope"),
            key_sent: true,
        }
    }

    #[test]
    fn recorded_unknown_model_is_model_not_found() {
        let e = classify(&failure(
            404,
            br#"{"error":{"message":"model 'nope' not found","type":"not_found_error","param":null,"code":null}}"#,
        ));
        assert!(matches!(e, ApiError::ModelNotFound { .. }), "{e:?}");
        let text = e.to_string();
        assert!(
            text.starts_with("model 'nope' not found at http://h/v1"),
            "{text}"
        );
    }

    #[test]
    fn openai_and_vllm_unknown_models() {
        let openai = br#"{"error":{"message":"The model `nope` does not exist or you do not have access to it.","type":"invalid_request_error","param":null,"code":"model_not_found"}}"#;
        assert!(matches!(
            classify(&failure(404, openai)),
            ApiError::ModelNotFound { .. }
        ));
        let vllm = br#"{"object":"error","message":"The model `nope` does not exist.","type":"NotFoundError","param":null,"code":404}"#;
        assert!(matches!(
            classify(&failure(404, vllm)),
            ApiError::ModelNotFound { .. }
        ));
    }

    #[test]
    fn a_bare_404_means_a_wrong_address() {
        let e = classify(&failure(404, b"404 page not found"));
        assert!(matches!(e, ApiError::NotFound { .. }));
        assert!(e.to_string().contains("/v1"));
        let listing = Failure {
            model: None,
            ..failure(
                404,
                br#"{"error":{"message":"model 'x' not found","type":"not_found_error"}}"#,
            )
        };
        assert!(matches!(classify(&listing), ApiError::NotFound { .. }));
    }

    #[test]
    fn a_rejected_key_names_its_variable() {
        let body = br#"{"error":{"message":"Incorrect API key provided: sk-secret-123.","type":"invalid_request_error","param":null,"code":"invalid_api_key"}}"#;
        let e = classify(&failure(401, body));
        assert!(matches!(
            e,
            ApiError::Unauthorized {
                status: 401,
                key_sent: true,
                ..
            }
        ));
        let text = e.to_string();
        assert!(text.contains("OPENAI_API_KEY"), "{text}");
        let no_key = Failure {
            key_sent: false,
            ..failure(401, b"")
        };
        let e = classify(&no_key);
        assert!(matches!(
            e,
            ApiError::Unauthorized {
                key_sent: false,
                ..
            }
        ));
        assert!(e.to_string().contains("Unauthorized"), "{e}");
    }

    #[test]
    fn rate_limits_say_when_to_retry() {
        let body = br#"{"error":{"message":"Rate limit reached","type":"requests","param":null,"code":"rate_limit_exceeded"}}"#;
        let e = classify(&Failure {
            retry_after: Some("20"),
            ..failure(429, body)
        });
        assert_eq!(
            e.to_string(),
            "the server is rate-limiting requests (429: Rate limit reached); try again in 20 s"
        );
        let e = classify(&Failure {
            retry_after: Some("Wed, 21 Oct 2026 07:28:00 GMT"),
            ..failure(429, body)
        });
        assert!(e
            .to_string()
            .ends_with("try again after Wed, 21 Oct 2026 07:28:00 GMT"));
        assert!(!classify(&failure(429, body))
            .to_string()
            .contains("try again"));
    }

    #[test]
    fn server_errors_keep_their_message() {
        let e = classify(&failure(
            500,
            br#"{"error":{"message":"llama runner process has terminated","type":"api_error","param":null,"code":null}}"#,
        ));
        assert_eq!(
            e.to_string(),
            "the server answered 500: llama runner process has terminated"
        );
        assert_eq!(
            classify(&failure(502, b"")).to_string(),
            "the server answered 502: Bad Gateway"
        );
    }

    #[test]
    fn error_bodies_of_every_shape() {
        let recorded = br#"{"error":{"message":"model 'nope' not found","type":"not_found_error","param":null,"code":null}}"#;
        assert_eq!(
            ErrorInfo::from_body(recorded),
            ErrorInfo {
                message: "model 'nope' not found".into(),
                kind: Some("not_found_error".into()),
                code: None
            }
        );
        let openai = br#"{"error":{"message":"The model `x` does not exist","type":"invalid_request_error","param":null,"code":"model_not_found"}}"#;
        assert_eq!(
            ErrorInfo::from_body(openai).code.as_deref(),
            Some("model_not_found")
        );
        let vllm = br#"{"object":"error","message":"The model `x` does not exist.","type":"NotFoundError","param":null,"code":404}"#;
        assert_eq!(
            ErrorInfo::from_body(vllm).message,
            "The model `x` does not exist."
        );
        assert_eq!(ErrorInfo::from_body(br#"{"error":"boom"}"#).message, "boom");
        assert_eq!(
            ErrorInfo::from_body(br#"{"detail":"Not Found"}"#).message,
            "Not Found"
        );
        assert_eq!(
            ErrorInfo::from_body(b"404 page not found\n").message,
            "404 page not found"
        );
        assert_eq!(ErrorInfo::from_body(b"").message, "");
        let long = "x".repeat(1000);
        assert!(
            ErrorInfo::from_body(long.as_bytes())
                .message
                .chars()
                .count()
                <= 301
        );
        assert_eq!(ErrorInfo::from_value(&json!({"choices": []})), None);
    }
}
