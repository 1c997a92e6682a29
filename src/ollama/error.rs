//! How Ollama's failures become the client's one error ([`ApiError`]): the server named "Ollama",
//! and the hints that fit it (`ollama serve`, `ollama pull`, `OLLAMA_HOST`).

use reqwest::StatusCode;

use super::wire::ErrorBody;
use crate::conversation::MAX_PLAUSIBLE_TOKENS;
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
    let parsed = serde_json::from_slice::<ErrorBody>(body).ok();
    if let Some((prompt_tokens, window)) = parsed.as_ref().and_then(|e| context_exceeded(&e.error))
    {
        return ApiError::ContextExceeded {
            server: SERVER,
            prompt_tokens,
            window,
        };
    }
    let signin_url = parsed.as_ref().and_then(|e| e.signin_url.as_deref());
    let message = match &parsed {
        Some(e) => excerpt(&e.error),
        None => excerpt(&String::from_utf8_lossy(body)),
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
    if status == StatusCode::UNAUTHORIZED {
        if let Some(signin) = signin_url.filter(|u| !u.trim().is_empty()) {
            return ApiError::SignIn {
                url: url.to_string(),
                status: status.as_u16(),
                message: message.into(),
                signin_url: Some(excerpt(signin).into()),
            };
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

/// The prompt size and window in a refusal of a prompt over the window (`truncate: false`): the
/// runner's own JSON error, carried as the text of Ollama's `error` (recorded in
/// `30_chat_truncate_false_overflow`). Implausible figures are no refusal the client can act on.
pub fn context_exceeded(error: &str) -> Option<(u64, u64)> {
    let inner: serde_json::Value = serde_json::from_str(error.trim()).ok()?;
    let e = inner.get("error")?;
    if e.get("type")?.as_str()? != "exceed_context_size_error" {
        return None;
    }
    let plausible = |n: u64| Some(n).filter(|&n| n > 0 && n <= MAX_PLAUSIBLE_TOKENS);
    let prompt = e.get("n_prompt_tokens")?.as_u64().and_then(plausible)?;
    let window = e.get("n_ctx")?.as_u64().and_then(plausible)?;
    Some((prompt, window))
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
        // 30_chat_truncate_false_overflow, byte for byte.
        let recorded = br#"{"error":"{\"error\":{\"code\":400,\"message\":\"request (2299 tokens) exceeds the available context size (256 tokens), try increasing it\",\"type\":\"exceed_context_size_error\",\"n_prompt_tokens\":2299,\"n_ctx\":256}}"}"#;
        let e = from_status(
            "http://h",
            StatusCode::BAD_REQUEST,
            recorded,
            Some("tiny"),
            false,
        );
        assert!(
            matches!(
                e,
                ApiError::ContextExceeded {
                    prompt_tokens: 2299,
                    window: 256,
                    ..
                }
            ),
            "{e:?}"
        );
        assert_eq!(e.exit_code(), crate::exit_code::ExitCode::Usage);
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

    #[test]
    fn a_refusal_over_the_window_in_every_malformed_form_is_a_plain_error() {
        let ok =
            r#"{"error":{"type":"exceed_context_size_error","n_prompt_tokens":30,"n_ctx":16}}"#;
        assert_eq!(context_exceeded(ok), Some((30, 16)));
        for bad in [
            "",
            "request exceeds the available context size",
            "{}",
            r#"{"error":"exceed_context_size_error"}"#,
            r#"{"error":{"type":"other","n_prompt_tokens":30,"n_ctx":16}}"#,
            r#"{"error":{"type":"exceed_context_size_error","n_ctx":16}}"#,
            r#"{"error":{"type":"exceed_context_size_error","n_prompt_tokens":30}}"#,
            r#"{"error":{"type":"exceed_context_size_error","n_prompt_tokens":30,"n_ctx":0}}"#,
            r#"{"error":{"type":"exceed_context_size_error","n_prompt_tokens":-1,"n_ctx":16}}"#,
            r#"{"error":{"type":"exceed_context_size_error","n_prompt_tokens":30,"n_ctx":18446744073709551615}}"#,
            r#"{"error":{"type":"exceed_context_size_error","n_prompt_tokens":"30","n_ctx":16}}"#,
        ] {
            assert_eq!(context_exceeded(bad), None, "{bad}");
        }
        let body = serde_json::json!({"error": r#"{"error":{"type":"other"}}"#}).to_string();
        let e = from_status(
            "http://h",
            StatusCode::BAD_REQUEST,
            body.as_bytes(),
            None,
            false,
        );
        assert!(matches!(e, ApiError::Status { status: 400, .. }), "{e:?}");
    }

    #[test]
    fn a_401_with_a_sign_in_url_says_ollama_signin_and_shows_the_url_sanitised() {
        let body = br#"{"error":"unauthorized","signin_url":"https://ollama.com/connect?name=box&key=abc\u001b[2J"}"#;
        let e = from_status("http://h", StatusCode::UNAUTHORIZED, body, Some("m"), false);
        assert_eq!(e.exit_code(), crate::exit_code::ExitCode::Unauthorized);
        let text = e.to_string();
        assert!(text.contains("ollama signin"), "{text}");
        assert!(
            text.contains("https://ollama.com/connect?name=box&key=abc"),
            "{text}"
        );
        assert!(!text.contains('\u{1b}'), "{text:?}");
        // Without a URL it is the usual key error.
        let e = from_status(
            "http://h",
            StatusCode::UNAUTHORIZED,
            br#"{"error":"unauthorized","signin_url":" "}"#,
            None,
            false,
        );
        assert!(matches!(e, ApiError::Unauthorized { .. }), "{e:?}");
    }
}
