//! How Ollama's failures become the client's one error ([`ApiError`]): the server named "Ollama",
//! and the hints that fit it (`ollama serve`, `ollama pull`, `OLLAMA_HOST`).

use reqwest::StatusCode;

use super::wire::ErrorBody;
use crate::error::ApiError;
use crate::net::excerpt;

/// How errors name the server.
pub const SERVER: &str = "Ollama";

pub fn unreachable(url: &str, reason: String) -> ApiError {
    ApiError::Unreachable {
        server: SERVER,
        url: url.to_string(),
        reason: reason.into(),
        hint: "is `ollama serve` running? (set OLLAMA_HOST or --host for another server)",
    }
}

pub fn model_not_found(model: &str) -> ApiError {
    ApiError::ModelNotFound {
        model: model.to_string().into(),
        detail: format!(
            " — pull it with `ollama pull {model}`, or choose an installed one with --model"
        )
        .into(),
    }
}

pub fn disconnected(reason: String) -> ApiError {
    ApiError::Disconnected {
        server: SERVER,
        reason: reason.into(),
    }
}

/// A failed answer: Ollama's `{"error": …}` body (or the text of a proxy's page) and its status.
/// `model` is the model a request was about, so a 404 naming it means it is not installed.
pub fn from_status(
    url: &str,
    status: StatusCode,
    body: &[u8],
    model: Option<&str>,
    key_sent: bool,
) -> ApiError {
    let message = match serde_json::from_slice::<ErrorBody>(body) {
        Ok(e) => excerpt(&e.error),
        Err(_) => excerpt(&String::from_utf8_lossy(body)),
    };
    let message = if message.is_empty() {
        status.canonical_reason().unwrap_or("").to_string()
    } else {
        message
    };
    if status == StatusCode::NOT_FOUND && message.contains("not found") {
        if let Some(model) = model.filter(|_| message.starts_with("model ")) {
            return model_not_found(model);
        }
    }
    if status == StatusCode::UNAUTHORIZED || status == StatusCode::FORBIDDEN {
        return ApiError::Unauthorized {
            url: url.to_string(),
            status: status.as_u16(),
            message: message.into(),
            key_var: "OLLAMA_API_KEY",
            key_sent,
        };
    }
    ApiError::Status {
        server: SERVER,
        status: status.as_u16(),
        message: message.into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recorded_error_bodies() {
        let e = from_status(
            "http://h",
            StatusCode::NOT_FOUND,
            br#"{"error":"model 'nope' not found"}"#,
            Some("nope"),
            false,
        );
        assert!(matches!(e, ApiError::ModelNotFound { ref model, .. } if model == "nope"));
        assert!(e.to_string().contains("ollama pull nope"), "{e}");
        let e = from_status(
            "http://h",
            StatusCode::BAD_REQUEST,
            br#"{"error":"\"tiny\" does not support thinking"}"#,
            Some("tiny"),
            false,
        );
        assert_eq!(
            e.to_string(),
            "Ollama answered 400: \"tiny\" does not support thinking"
        );
        let e = from_status("http://h", StatusCode::BAD_GATEWAY, b"", None, false);
        assert_eq!(e.to_string(), "Ollama answered 502: Bad Gateway");
        let e = from_status(
            "http://h",
            StatusCode::UNAUTHORIZED,
            b"unauthorized",
            None,
            true,
        );
        assert_eq!(e.exit_code(), crate::exit_code::ExitCode::Unauthorized);
    }
}
