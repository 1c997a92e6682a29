//! What a server says about its models, in the client's own terms: the installed ones, the loaded
//! ones, one model's facts, the progress of a pull or create, and what a new model is made of.
//!
//! Their serde shapes are Ollama's (recorded from a v0.32 server): it is the API with the richest
//! model management, and its names are the ones users know from `ollama show`. Other adapters
//! fill in what their API can say and leave the rest at its default.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::options::Options;
use crate::untrusted::Untrusted;

/// One installed model.
#[derive(Debug, Clone, Deserialize)]
pub struct ModelSummary {
    pub name: Untrusted,
    #[serde(default)]
    pub size: u64,
    #[serde(default)]
    pub modified_at: Option<Untrusted>,
    #[serde(default)]
    pub details: ModelDetails,
    #[serde(default)]
    pub capabilities: Vec<Untrusted>,
    /// The model's content digest: a changed model has a new one.
    #[serde(default)]
    pub digest: Option<Untrusted>,
}

impl ModelSummary {
    /// A model known by name alone (a server that lists ids only).
    pub fn named(name: impl Into<Untrusted>) -> Self {
        ModelSummary {
            name: name.into(),
            size: 0,
            modified_at: None,
            details: ModelDetails::default(),
            capabilities: Vec::new(),
            digest: None,
        }
    }
}

/// The `details` block shared by tags, ps and show.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
pub struct ModelDetails {
    #[serde(default)]
    pub format: Option<Untrusted>,
    #[serde(default)]
    pub family: Option<Untrusted>,
    #[serde(default)]
    pub parameter_size: Option<Untrusted>,
    #[serde(default)]
    pub quantization_level: Option<Untrusted>,
    #[serde(default)]
    pub context_length: Option<u64>,
}

/// A model loaded in memory.
#[derive(Debug, Clone, Deserialize)]
pub struct LoadedModel {
    pub name: Untrusted,
    /// Bytes in memory, RAM and VRAM together.
    #[serde(default)]
    pub size: u64,
    #[serde(default)]
    pub size_vram: u64,
    #[serde(default)]
    pub details: ModelDetails,
    #[serde(default)]
    pub expires_at: Option<Untrusted>,
    /// The context window actually allocated, which may differ from the model's maximum.
    #[serde(default)]
    pub context_length: Option<u64>,
}

/// `POST /api/show`. Every text field may be absent (a model without a system prompt has none).
#[derive(Debug, Clone, Default, Deserialize)]
pub struct ModelInfo {
    #[serde(default)]
    pub modelfile: Untrusted,
    #[serde(default)]
    pub parameters: Untrusted,
    #[serde(default)]
    pub template: Untrusted,
    #[serde(default)]
    pub system: Untrusted,
    #[serde(default)]
    pub license: Untrusted,
    #[serde(default)]
    pub details: ModelDetails,
    #[serde(default)]
    pub model_info: serde_json::Map<String, Value>,
    #[serde(default)]
    pub capabilities: Vec<Untrusted>,
    #[serde(default)]
    pub modified_at: Option<Untrusted>,
    /// A Modelfile's `MESSAGE` lines: a history the server puts before every chat with the model.
    #[serde(default)]
    pub messages: Vec<ShowMessage>,
    /// The whole answer as received, for `show --json`.
    #[serde(skip)]
    pub raw: Value,
}

/// The body of an embedding request: Ollama's `/api/embed` and OpenAI's `/embeddings` take the
/// same three fields.
#[derive(Debug, Serialize)]
pub struct EmbedRequest<'a> {
    pub model: &'a str,
    pub input: &'a [String],
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dimensions: Option<u32>,
}

impl EmbedRequest<'_> {
    /// The request as JSON bytes, for either API's endpoint.
    pub fn body(&self) -> Result<Vec<u8>, crate::error::ApiError> {
        serde_json::to_vec(self).map_err(|e| {
            crate::error::ApiError::Request(format!("cannot encode the request: {e}").into())
        })
    }
}

/// What an embedding request gives back: one vector per input, in the inputs' order, and the
/// server's count of the tokens it read.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Embeddings {
    pub vectors: Vec<Vec<f64>>,
    pub prompt_tokens: Option<u64>,
}

/// One `MESSAGE` of a model's own history, as `/api/show` returns it.
#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq, Eq)]
pub struct ShowMessage {
    #[serde(default)]
    pub role: Untrusted,
    #[serde(default)]
    pub content: Untrusted,
}

impl ModelInfo {
    /// Whether the server says the model can think (`capabilities` has `thinking`).
    pub fn can_think(&self) -> bool {
        self.capabilities.iter().any(|c| c.raw() == "thinking")
    }

    /// `general.architecture`, which prefixes the other `model_info` keys.
    pub fn architecture(&self) -> Option<&str> {
        self.model_info
            .get("general.architecture")
            .and_then(serde_json::Value::as_str)
    }

    /// A per-architecture number such as `context_length` (`gemma3.context_length`).
    pub fn arch_number(&self, key: &str) -> Option<u64> {
        let arch = self.architecture()?;
        self.model_info
            .get(&format!("{arch}.{key}"))
            .and_then(serde_json::Value::as_u64)
    }

    /// The `parameters` block as (name, value) pairs, in the server's order, as sent: sanitise
    /// before printing.
    pub fn parameter_pairs(&self) -> Vec<(&str, &str)> {
        self.parameters
            .raw()
            .lines()
            .filter_map(|l| {
                let l = l.trim();
                let (name, value) = l.split_once(char::is_whitespace)?;
                Some((name, value.trim()))
            })
            .collect()
    }

    /// A `model_info` entry of the model's own architecture, e.g. `context_length` →
    /// `gemma3.context_length`.
    pub fn arch_info(&self, key: &str) -> Option<&Value> {
        let arch = self.model_info.get("general.architecture")?.as_str()?;
        self.model_info.get(&format!("{arch}.{key}"))
    }
}

/// One line of a `/api/pull` or `/api/create` stream.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
pub struct Progress {
    #[serde(default)]
    pub status: Untrusted,
    /// Set while a layer is transferred; `total`/`completed` are its bytes (omitted when zero).
    #[serde(default)]
    pub digest: Option<Untrusted>,
    #[serde(default)]
    pub total: Option<u64>,
    #[serde(default)]
    pub completed: Option<u64>,
    /// A failure inside the 200 stream.
    #[serde(default)]
    pub error: Option<Untrusted>,
}

/// `license` is one string, or a list when a Modelfile has several LICENSE lines.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
pub enum License {
    One(String),
    Many(Vec<String>),
}

/// One `messages` entry of a create request (a Modelfile MESSAGE).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CreateMessage {
    pub role: String,
    pub content: String,
}

/// The body of `POST /api/create`: JSON only, built from a parsed Modelfile.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CreateRequest {
    pub model: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub from: Option<String>,
    /// File name → `sha256:<hex>` of an uploaded blob (a local GGUF).
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub files: BTreeMap<String, String>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub adapters: BTreeMap<String, String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub template: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub system: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub license: Option<License>,
    #[serde(skip_serializing_if = "Options::is_empty")]
    pub parameters: Options,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub messages: Vec<CreateMessage>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub requires: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::untrusted::MaybeUntrusted;

    #[test]
    fn ps_matches_the_recording() {
        let body = r#"{"models":[{"name":"tiny:latest","model":"tiny:latest","size":285149756,"digest":"74ad131c9d8278532f41d87de16dd2dbbf89e785df4f3a1e892917fa3578d3ad","details":{"parent_model":"","format":"gguf","family":"gemma3","families":["gemma3"],"parameter_size":"268.10M","quantization_level":"Q4_K_M"},"expires_at":"2026-11-29T00:34:14.261747097Z","size_vram":0,"context_length":2048}]}"#;
        let ps: Value = serde_json::from_str(body).unwrap();
        let m: LoadedModel = serde_json::from_value(ps["models"][0].clone()).unwrap();
        assert_eq!(m.name, "tiny:latest");
        assert_eq!(m.size, 285_149_756);
        assert_eq!(m.size_vram, 0);
        assert_eq!(m.context_length, Some(2048));
        assert_eq!(m.details.family.raw(), Some("gemma3"));
    }

    #[test]
    fn progress_lines_of_a_pull() {
        let p: Progress = serde_json::from_str(
            r#"{"status":"pulling 74ad131c9d82","digest":"sha256:74ad","total":253113673}"#,
        )
        .unwrap();
        assert_eq!(p.total, Some(253_113_673));
        assert_eq!(p.completed, None);
        let e: Progress =
            serde_json::from_str(r#"{"error":"pull model manifest: no such host"}"#).unwrap();
        assert_eq!(e.error.raw(), Some("pull model manifest: no such host"));
        assert_eq!(e.status, "");
    }

    #[test]
    fn create_request_matches_the_recorded_shape() {
        let mut parameters = Options::default();
        parameters.set("num_ctx", "512").unwrap();
        parameters.set("temperature", "0.2").unwrap();
        parameters.set("stop", "<end_of_turn>").unwrap();
        let req = CreateRequest {
            model: "tiny3".into(),
            from: Some("tiny".into()),
            files: BTreeMap::new(),
            adapters: BTreeMap::new(),
            template: None,
            system: Some("You are Tiny3. Reply with one word.".into()),
            license: None,
            parameters,
            messages: Vec::new(),
            requires: None,
        };
        let got: Value = serde_json::to_value(&req).unwrap();
        let want: Value = serde_json::from_str(r#"{"model":"tiny3","from":"tiny","system":"You are Tiny3. Reply with one word.","parameters":{"num_ctx":512,"temperature":0.2,"stop":["<end_of_turn>"]}}"#).unwrap();
        assert_eq!(got, want);
    }

    #[test]
    fn show_arch_info() {
        let s: ModelInfo = serde_json::from_str(
            r#"{"model_info":{"general.architecture":"gemma3","gemma3.context_length":32768}}"#,
        )
        .unwrap();
        assert_eq!(s.arch_info("context_length"), Some(&Value::from(32768)));
        assert_eq!(s.system, "");
    }
}
