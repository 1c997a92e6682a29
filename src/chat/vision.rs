//! Whether the model can see the images attached to a message: asked of Ollama before sending
//! (`/api/show` → `capabilities` has `vision`, once per model), and a server's own refusal
//! (OpenAI-compatible and Anthropic servers cannot be asked) turned into one clear line.

use std::collections::HashMap;

use crate::backend::Backend;
use crate::error::ApiError;
use crate::untrusted::{sanitize_line, Untrusted};

/// Models whose capabilities have been asked, and whether they include `vision`.
#[derive(Debug, Default)]
pub struct VisionCache {
    sees: HashMap<String, bool>,
}

impl VisionCache {
    /// `Ok` when `model` can see images or nobody can tell (a server without model facts, an
    /// error asking, a server that lists no capabilities: the chat request then says what is
    /// wrong); else the line that refuses, naming installed models that can.
    pub async fn check(&mut self, backend: &Backend, model: &str) -> Result<(), String> {
        if !backend.capabilities().model_facts {
            return Ok(());
        }
        let sees = match self.sees.get(model) {
            Some(&s) => s,
            None => {
                let Ok(info) = backend.model_info(model).await else {
                    return Ok(());
                };
                let sees = info.capabilities.is_empty() || has_vision(&info.capabilities);
                self.sees.insert(model.to_string(), sees);
                sees
            }
        };
        if sees {
            return Ok(());
        }
        let mut able: Vec<String> = match backend.installed_models().await {
            Ok(models) => models
                .iter()
                .filter(|m| has_vision(&m.capabilities))
                .map(|m| m.name.one_line().into_owned())
                .collect(),
            Err(_) => Vec::new(),
        };
        able.sort();
        Err(cannot_see(model, &able))
    }
}

fn has_vision(capabilities: &[Untrusted]) -> bool {
    capabilities.iter().any(|c| c == "vision")
}

/// `llama3.2 cannot see images; try a vision model such as gemma3, llava`.
pub fn cannot_see(model: &str, able: &[String]) -> String {
    let model = sanitize_line(model);
    match able {
        [] => format!(
            "{model} cannot see images, and no installed model can; pull a vision model such as gemma3, llama3.2-vision or qwen2.5vl (nothing was sent)"
        ),
        _ => format!(
            "{model} cannot see images; try a vision model such as {} (/model NAME, or -m NAME; nothing was sent)",
            able.iter().take(5).cloned().collect::<Vec<_>>().join(", ")
        ),
    }
}

/// Words by which servers refuse images: Ollama's runner ("Multimodal data provided, but model
/// does not support multimodal requests"), vLLM and llama.cpp ("image input is not supported",
/// "does not support images"), OpenAI ("does not support image input").
fn refuses_images(message: &str) -> bool {
    let m = message.to_ascii_lowercase();
    (m.contains("multimodal") || m.contains("image") || m.contains("vision"))
        && (m.contains("not support") || m.contains("unsupported") || m.contains("not supported"))
}

/// A failed turn that carried images: when the server's words say it refused them, the error
/// says so plainly (the server's words stay, in parentheses).
pub fn explain_refusal(e: &mut ApiError, model: &str) {
    let (server, status, message) = match e {
        ApiError::Status {
            server,
            status,
            message,
        } => (*server, *status, message.raw().to_string()),
        _ => return,
    };
    if !refuses_images(&message) {
        return;
    }
    let inner = innermost_message(&message);
    *e = ApiError::Status {
        server,
        status,
        message: format!(
            "{} cannot see images ({inner}); try a vision model",
            sanitize_line(model)
        )
        .into(),
    };
}

/// The message of an error whose text is itself JSON (Ollama passes its runner's error on as a
/// string: `{"error":{"code":400,"message":"…"}}`), however deep; the text itself otherwise.
fn innermost_message(text: &str) -> String {
    let mut text = text.to_string();
    for _ in 0..4 {
        let Ok(v) = serde_json::from_str::<serde_json::Value>(&text) else {
            break;
        };
        let next = v
            .pointer("/error/message")
            .or_else(|| v.get("error"))
            .or_else(|| v.get("message"))
            .and_then(|m| m.as_str());
        match next {
            Some(n) => text = n.to_string(),
            None => break,
        }
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_refusal_names_models_that_can() {
        assert_eq!(
            cannot_see("llama3.2", &["gemma3:4b".into(), "llava:latest".into()]),
            "llama3.2 cannot see images; try a vision model such as gemma3:4b, llava:latest (/model NAME, or -m NAME; nothing was sent)"
        );
        assert!(cannot_see("x\u{1b}[2J", &[])
            .starts_with("x␛[2J cannot see images, and no installed model can"));
    }

    #[test]
    fn recorded_refusals_become_one_clear_line() {
        // 29_chat_image_nonvision (Ollama) and 29_v1_chat_image_nonvision (its /v1), as the
        // adapters hand them on.
        let ollama = r#"{"error":{"code":400,"message":"Multimodal data provided, but model does not support multimodal requests.","type":"invalid_request_error"}}"#;
        let mut e = ApiError::Status {
            server: "Ollama",
            status: 400,
            message: ollama.to_string().into(),
        };
        explain_refusal(&mut e, "tiny");
        assert_eq!(
            e.to_string(),
            "Ollama answered 400: tiny cannot see images (Multimodal data provided, but model does not support multimodal requests.); try a vision model"
        );
        // Other failures are left as they were.
        let mut e = ApiError::Status {
            server: "Ollama",
            status: 400,
            message: "\"tiny\" does not support thinking".to_string().into(),
        };
        explain_refusal(&mut e, "tiny");
        assert_eq!(
            e.to_string(),
            "Ollama answered 400: \"tiny\" does not support thinking"
        );
        let mut e = ApiError::Incomplete;
        explain_refusal(&mut e, "tiny");
        assert!(matches!(e, ApiError::Incomplete));
    }

    #[test]
    fn refusal_words() {
        for yes in [
            "Multimodal data provided, but model does not support multimodal requests.",
            "image input is not supported by this model",
            "The model does not support images",
            "vision is unsupported",
        ] {
            assert!(refuses_images(yes), "{yes}");
        }
        for no in [
            "model is required",
            "image too large",
            "does not support thinking",
        ] {
            assert!(!refuses_images(no), "{no}");
        }
    }

    #[test]
    fn nested_json_messages_are_unwrapped() {
        assert_eq!(
            innermost_message(r#"{"error":{"message":"{\"error\":{\"message\":\"deep\"}}"}}"#),
            "deep"
        );
        assert_eq!(innermost_message("plain"), "plain");
        assert_eq!(innermost_message(r#"{"other":1}"#), r#"{"other":1}"#);
    }
}
