//! Which handler answers which path, the endpoints other than chat, and the model facts they serve.

use std::fmt::Write as _;
use std::sync::atomic::Ordering;
use std::time::{Duration, SystemTime};

use serde_json::Value;

use super::anthropic::handle_messages;
use super::chat::handle_chat;
use super::context::model_history;
use super::embed::{handle_embed, handle_v1_embeddings};
use super::hostile::{self, Listing};
use super::http::{After, Conn, Gone, Request};
use super::json::{check_field, decode_body, go_str, json_str_array, rfc3339_nano, str_field};
use super::manage::route_manage;
use super::openai::{handle_v1_chat, handle_v1_model, handle_v1_models};
use super::Loaded;

// ============================================================================================
// Routing
// ============================================================================================

pub(crate) const JSON: &str = "application/json; charset=utf-8";
pub(crate) const NDJSON: &str = "application/x-ndjson";
pub(crate) const TEXT_UTF8: &str = "text/plain; charset=utf-8";
/// What gin writes for its own 404/405 pages.
pub(crate) const TEXT_PLAIN: &str = "text/plain";

/// Paths the fake serves, with their methods in Ollama's registration order (for the `Allow` header).
pub(crate) const ROUTES: &[(&str, &[&str])] = &[
    ("/", &["HEAD", "GET"]),
    ("/api/version", &["HEAD", "GET"]),
    ("/api/tags", &["HEAD", "GET"]),
    ("/api/show", &["POST"]),
    ("/api/ps", &["GET"]),
    ("/api/chat", &["POST"]),
    ("/v1/chat/completions", &["POST"]),
    ("/v1/models", &["GET"]),
    ("/v1/messages", &["POST"]),
    ("/api/embed", &["POST"]),
    ("/v1/embeddings", &["POST"]),
];

pub(crate) fn route(req: &Request, conn: &Conn) -> After {
    if let Some(result) = route_manage(req, conn) {
        return result.unwrap_or(After::Close);
    }
    let path = req.path();
    if path.starts_with("/v1/models/") && req.method == "GET" {
        return handle_v1_model(req, conn).unwrap_or(After::Close);
    }
    let result = match ROUTES.iter().find(|(p, _)| *p == path) {
        None => conn.send(404, &[("Content-Type", TEXT_PLAIN)], b"404 page not found"),
        Some((_, methods)) if !methods.contains(&req.method.as_str()) => {
            let allow = methods.join(", ");
            conn.send(
                405,
                &[("Allow", allow.as_str()), ("Content-Type", TEXT_PLAIN)],
                b"405 method not allowed",
            )
        }
        Some(_) => match path {
            "/" => conn.send(200, &[("Content-Type", TEXT_UTF8)], b"Ollama is running"),
            "/api/version" => conn.send_json(200, r#"{"version":"0.32.15"}"#),
            "/api/tags" => handle_tags(conn),
            "/api/ps" => handle_ps(conn),
            "/api/show" => handle_show(req, conn),
            "/v1/models" => handle_v1_models(req, conn),
            "/api/embed" => handle_embed(req, conn),
            "/v1/embeddings" => handle_v1_embeddings(req, conn),
            _ => {
                let result = match path {
                    "/v1/chat/completions" => handle_v1_chat(req, conn),
                    "/v1/messages" => handle_messages(req, conn),
                    _ => handle_chat(req, conn),
                };
                if result == Err(Gone::Peer) {
                    conn.shared.disconnects.fetch_add(1, Ordering::SeqCst);
                }
                result
            }
        },
    };
    result.unwrap_or(After::Close)
}

// ============================================================================================
// Endpoints other than chat
// ============================================================================================

pub(crate) fn handle_tags(conn: &Conn) -> Result<After, Gone> {
    if let Some(endless) = hostile::endless_listing(conn, Listing::Tags) {
        return endless;
    }
    let details = hostile::details(conn, TAGS_DETAILS);
    let hostile = hostile::hostile(conn);
    let body = {
        let state = conn.shared.lock();
        let models: Vec<String> = state
            .models
            .iter()
            .map(|m| {
                format!(
                    r#"{{"name":{name},"model":{name},"modified_at":{modified},"size":{size},"digest":{digest},"details":{details},"capabilities":{caps}}}"#,
                    name = go_str(&m.name),
                    modified = go_str(&m.modified_at),
                    size = hostile::number(&hostile, model_size(&m.name)),
                    digest = go_str(&model_digest(&m.name)),
                    details = details,
                    caps = json_str_array(capabilities(&m.name)),
                )
            })
            .collect();
        format!(r#"{{"models":[{}]}}"#, models.join(","))
    };
    conn.send_json(200, &body)
}

pub(crate) fn handle_ps(conn: &Conn) -> Result<After, Gone> {
    if let Some(endless) = hostile::endless_listing(conn, Listing::Ps) {
        return endless;
    }
    let details = hostile::details(conn, BASE_DETAILS);
    let hostile = hostile::hostile(conn);
    let body = {
        let mut state = conn.shared.lock();
        let now = SystemTime::now();
        state.loaded.retain(|l| l.expires_at > now);
        let mut loaded: Vec<&Loaded> = state
            .loaded
            .iter()
            .filter(|l| state.models.iter().any(|m| m.name == l.name))
            .collect();
        // The server lists the model that expires last first.
        loaded.sort_by_key(|l| std::cmp::Reverse(l.expires_at));
        let models: Vec<String> = loaded
            .iter()
            .map(|l| {
                format!(
                    r#"{{"name":{name},"model":{name},"size":{size},"digest":{digest},"details":{details},"expires_at":{expires},"size_vram":0,"context_length":{ctx}}}"#,
                    name = go_str(&l.name),
                    size = PS_SIZE,
                    digest = go_str(&model_digest(&l.name)),
                    details = details,
                    expires = go_str(&rfc3339_nano(l.expires_at)),
                    ctx = hostile::number(&hostile, l.context_length),
                )
            })
            .collect();
        format!(r#"{{"models":[{}]}}"#, models.join(","))
    };
    conn.send_json(200, &body)
}

pub(crate) fn handle_show(req: &Request, conn: &Conn) -> Result<After, Gone> {
    if let Some(endless) = hostile::endless_listing(conn, Listing::Show) {
        return endless;
    }
    let body = match decode_body(&req.body, "api.ShowRequest")
        .and_then(|v| check_field(&v, "ShowRequest.model", "string", Value::is_string).map(|_| v))
    {
        Ok(body) => body,
        Err(message) => return conn.send_error(400, &message),
    };
    let requested = [str_field(&body, "model"), str_field(&body, "name")]
        .into_iter()
        .find(|s| !s.is_empty())
        .unwrap_or("");
    if requested.is_empty() {
        return conn.send_error(400, "model is required");
    }
    let found = {
        let state = conn.shared.lock();
        let num_ctx = state.default_num_ctx;
        state
            .find_model(requested)
            .map(|m| show_json(&m.name, &m.modified_at))
            .map(|json| with_num_ctx_parameter(&json, num_ctx))
    };
    match found {
        Some(json) => conn.send_json(200, &hostile::show_json(conn, json)),
        None => conn.send_error(
            404,
            &format!("model '{}' not found", normalize_model_name(requested)),
        ),
    }
}

/// The recorded `/api/show` says `num_ctx 2048`; the fake reports its own default instead.
pub(crate) fn with_num_ctx_parameter(json: &str, num_ctx: u64) -> String {
    json.replace(
        "num_ctx                        2048",
        &format!("num_ctx                        {num_ctx}"),
    )
    .replace(
        "PARAMETER num_ctx 2048",
        &format!("PARAMETER num_ctx {num_ctx}"),
    )
}

pub(crate) fn show_json(name: &str, modified_at: &str) -> String {
    let think = capabilities(name).contains(&"thinking");
    let (template, system, parameters, modelfile_params) = if think {
        (
            THINK_TEMPLATE,
            None,
            THINK_PARAMETERS,
            THINK_MODELFILE_PARAMETERS,
        )
    } else {
        (
            PLAIN_TEMPLATE,
            Some(PLAIN_SYSTEM),
            PLAIN_PARAMETERS,
            PLAIN_MODELFILE_PARAMETERS,
        )
    };
    let mut modelfile = format!(
        "# Modelfile generated by \"ollama show\"\n# To build a new Modelfile based on this, replace FROM with:\n# FROM {name}\n\nFROM /usr/share/ollama/models/blobs/sha256-{BLOB}\nTEMPLATE \"\"\"{template}\"\"\"\n"
    );
    if let Some(system) = system {
        let _ = writeln!(modelfile, "SYSTEM {system}");
    }
    modelfile.push_str(modelfile_params);

    let mut out = format!(
        r#"{{"modelfile":{},"parameters":{},"template":{}"#,
        go_str(&modelfile),
        go_str(parameters),
        go_str(template)
    );
    if let Some(system) = system {
        let _ = write!(out, r#","system":{}"#, go_str(system));
    }
    let _ = write!(out, r#","details":{BASE_DETAILS}"#);
    let history = model_history(name);
    if !history.is_empty() {
        let messages: Vec<String> = history
            .iter()
            .map(|(role, content)| {
                format!(
                    r#"{{"role":{},"content":{}}}"#,
                    go_str(role),
                    go_str(content)
                )
            })
            .collect();
        let _ = write!(out, r#","messages":[{}]"#, messages.join(","));
    }
    let _ = write!(
        out,
        r#","model_info":{MODEL_INFO},"capabilities":{},"modified_at":{}}}"#,
        json_str_array(capabilities(name)),
        go_str(modified_at)
    );
    out
}

// ============================================================================================
// Model facts (shapes copied from 02_tags, 03_ps_after_first_load, 04_show_tiny, 04_show_tiny_think)
// ============================================================================================

pub(crate) const DEFAULT_NUM_CTX: u64 = 2048;
/// The recording server kept models loaded for 30 minutes.
pub(crate) const DEFAULT_KEEP_ALIVE: Duration = Duration::from_secs(30 * 60);
/// A negative keep_alive keeps a model loaded "forever".
pub(crate) const FOREVER: Duration = Duration::from_secs(200 * 365 * 24 * 3600);
pub(crate) const PS_SIZE: u64 = 285_149_756;
pub(crate) const BLOB: &str = "a5fd3b62230aa5ec60212297dc9d20eaa70578ac519e00d93a17e44c087a6818";

pub(crate) const BASE_DETAILS: &str = r#"{"parent_model":"","format":"gguf","family":"gemma3","families":["gemma3"],"parameter_size":"268.10M","quantization_level":"Q4_K_M"}"#;
pub(crate) const TAGS_DETAILS: &str = r#"{"parent_model":"","format":"gguf","family":"gemma3","families":["gemma3"],"parameter_size":"268.10M","quantization_level":"Q4_K_M","context_length":32768,"embedding_length":640}"#;
pub(crate) const MODEL_INFO: &str = r#"{"gemma3.attention.head_count":4,"gemma3.attention.head_count_kv":1,"gemma3.attention.key_length":256,"gemma3.attention.layer_norm_rms_epsilon":0.000001,"gemma3.attention.sliding_window":512,"gemma3.attention.value_length":256,"gemma3.block_count":18,"gemma3.context_length":32768,"gemma3.embedding_length":640,"gemma3.feed_forward_length":2048,"gemma3.rope.freq_base":1000000,"general.architecture":"gemma3","general.basename":"gemma-3","general.file_type":15,"general.license":"gemma","general.parameter_count":268098176,"general.quantization_version":2,"general.size_label":"270M","general.tags":null,"general.type":"model","tokenizer.ggml.add_bos_token":true,"tokenizer.ggml.add_eos_token":false,"tokenizer.ggml.add_sep_token":false,"tokenizer.ggml.add_space_prefix":false,"tokenizer.ggml.bos_token_id":2,"tokenizer.ggml.eos_token_id":1,"tokenizer.ggml.model":"llama","tokenizer.ggml.padding_token_id":0,"tokenizer.ggml.pre":"default","tokenizer.ggml.scores":null,"tokenizer.ggml.token_type":null,"tokenizer.ggml.tokens":null,"tokenizer.ggml.unknown_token_id":3}"#;

pub(crate) const PLAIN_TEMPLATE: &str = r#"{{- range $i, $_ := .Messages }}
{{- $last := eq (len (slice $.Messages $i)) 1 }}
{{- if eq .Role "user" }}<start_of_turn>user
{{- if and (eq $i 1) $.System }}
{{ $.System }}
{{ end }}
{{ .Content }}<end_of_turn>
{{ else if eq .Role "assistant" }}<start_of_turn>model
{{ .Content }}<end_of_turn>
{{ end }}
{{- if $last }}<start_of_turn>model
{{ end }}
{{- end }}"#;
pub(crate) const PLAIN_SYSTEM: &str = "You are Tiny, a terse test assistant.";
pub(crate) const PLAIN_PARAMETERS: &str = "top_p                          0.95\nnum_ctx                        2048\nstop                           \"<end_of_turn>\"\ntemperature                    0.7\ntop_k                          64";
pub(crate) const PLAIN_MODELFILE_PARAMETERS: &str = "PARAMETER num_ctx 2048\nPARAMETER stop <end_of_turn>\nPARAMETER temperature 0.7\nPARAMETER top_k 64\nPARAMETER top_p 0.95\n";

pub(crate) const THINK_TEMPLATE: &str = r#"{{- range $i, $_ := .Messages }}
{{- $last := eq (len (slice $.Messages $i)) 1 }}
{{- if eq .Role "system" }}<start_of_turn>system
{{ .Content }}<end_of_turn>
{{ else if eq .Role "user" }}<start_of_turn>user
{{ .Content }}<end_of_turn>
{{ else if eq .Role "assistant" }}<start_of_turn>model
{{ if .Thinking }}<think>{{ .Thinking }}</think>{{ end }}{{ .Content }}<end_of_turn>
{{ end }}
{{- if $last }}<start_of_turn>model
{{ if and $.IsThinkSet $.Think }}<think>{{ end }}
{{- end }}
{{- end }}"#;
pub(crate) const THINK_PARAMETERS: &str = "stop                           \"<end_of_turn>\"\ntemperature                    0.7\nnum_ctx                        2048";
pub(crate) const THINK_MODELFILE_PARAMETERS: &str =
    "PARAMETER num_ctx 2048\nPARAMETER stop <end_of_turn>\nPARAMETER temperature 0.7\n";

/// "tiny" → "tiny:latest"; a name whose last path segment has a tag is kept.
pub(crate) fn normalize_model_name(name: &str) -> String {
    let last_segment = name.rsplit('/').next().unwrap_or(name);
    if last_segment.contains(':') {
        name.to_string()
    } else {
        format!("{name}:latest")
    }
}

pub(crate) fn capabilities(name: &str) -> &'static [&'static str] {
    let lower = name.to_ascii_lowercase();
    if lower.contains("embed") {
        &["embedding"]
    } else if lower.contains("think") {
        &["completion", "thinking"]
    } else if lower.contains("vision") {
        &["completion", "vision"]
    } else if lower.contains("tool") {
        &["completion", "tools"]
    } else {
        &["completion"]
    }
}

/// A stable fake sha256 (64 hex digits) per model name.
pub(crate) fn model_digest(name: &str) -> String {
    (0u64..4).fold(String::with_capacity(64), |mut out, seed| {
        let _ = write!(out, "{:016x}", fnv1a(name.as_bytes(), seed));
        out
    })
}

pub(crate) fn model_size(name: &str) -> u64 {
    253_113_673 + fnv1a(name.as_bytes(), 9) % 100
}

pub(crate) fn fnv1a(bytes: &[u8], seed: u64) -> u64 {
    let mut hash = 0xcbf2_9ce4_8422_2325u64 ^ seed.wrapping_mul(0x9e37_79b9_7f4a_7c15);
    for &b in bytes {
        hash ^= u64::from(b);
        hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
    }
    hash
}

/// `keep_alive` as a duration: a number of seconds or a Go duration string ("5m", "1h30m", "0");
/// `Some(ZERO)` means unload, a negative value keeps the model forever, absent means the default.
pub(crate) fn keep_alive(body: &Value) -> Option<Duration> {
    let seconds = match body.get("keep_alive") {
        None | Some(Value::Null) => return Some(DEFAULT_KEEP_ALIVE),
        Some(Value::Number(n)) => n.as_f64()?,
        Some(Value::String(s)) => parse_go_duration(s)?,
        Some(_) => return Some(DEFAULT_KEEP_ALIVE),
    };
    if seconds < 0.0 {
        None
    } else {
        Some(Duration::try_from_secs_f64(seconds).unwrap_or(FOREVER))
    }
}

/// Seconds in a Go duration string such as "30m", "1h30m", "-1", "0" or "1.5s".
pub(crate) fn parse_go_duration(s: &str) -> Option<f64> {
    let s = s.trim();
    let (sign, mut rest) = match s.strip_prefix('-') {
        Some(rest) => (-1.0, rest),
        None => (1.0, s.strip_prefix('+').unwrap_or(s)),
    };
    if let Ok(bare) = rest.parse::<f64>() {
        return Some(sign * bare);
    }
    let mut total = 0.0;
    while !rest.is_empty() {
        let digits = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        let number: f64 = rest[..digits].parse().ok()?;
        rest = &rest[digits..];
        let unit_len = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let scale = match &rest[..unit_len] {
            "ns" => 1e-9,
            "us" | "µs" => 1e-6,
            "ms" => 1e-3,
            "s" => 1.0,
            "m" => 60.0,
            "h" => 3600.0,
            _ => return None,
        };
        rest = &rest[unit_len..];
        total += number * scale;
    }
    Some(sign * total)
}
