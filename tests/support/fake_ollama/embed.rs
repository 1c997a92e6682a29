//! `POST /api/embed` and the OpenAI-compatible `POST /v1/embeddings`, shaped like the
//! `12_embed*` and `13_v1_embeddings*` recordings: deterministic vectors (8 numbers, or
//! `dimensions`), one per input, for models with the embedding capability; others get the
//! recorded 501.

use std::fmt::Write as _;

use serde_json::Value;

use super::context::message_tokens;
use super::http::{After, Conn, Gone, Request};
use super::json::{decode_body, go_str, str_field};
use super::routes::capabilities;

/// What the recorded server said to an embedding request for a chat-only model.
const NO_EMBEDDINGS: &str = "This server does not support embeddings. Start it with `--embeddings`";

/// The inputs of a request: a string or a list of strings.
fn inputs(body: &Value) -> Vec<String> {
    match body.get("input") {
        Some(Value::String(s)) => vec![s.clone()],
        Some(Value::Array(items)) => items
            .iter()
            .map(|v| v.as_str().unwrap_or("").to_string())
            .collect(),
        _ => Vec::new(),
    }
}

/// The vector of input `i`: `dims` numbers that differ by input and position.
fn vector(i: usize, text: &str, dims: usize) -> String {
    let seed = text.chars().count() + 1;
    let numbers: Vec<String> = (0..dims)
        .map(|k| format!("{}", ((i + 1) * (k + 1) * seed) as f64 / 1000.0 - 0.5))
        .collect();
    format!("[{}]", numbers.join(","))
}

/// The model (installed, able to embed), the inputs and the dimensions; or the answer to give.
fn parse(req: &Request, conn: &Conn) -> Result<(String, Vec<String>, usize), Result<After, Gone>> {
    let body = match decode_body(&req.body, "api.EmbedRequest") {
        Ok(b) => b,
        Err(message) => return Err(conn.send_error(400, &message)),
    };
    let model = str_field(&body, "model").to_string();
    let caps = conn
        .shared
        .lock()
        .find_model(&model)
        .map(|m| capabilities(&m.name));
    let Some(caps) = caps else {
        return Err(conn.send_error(404, &format!("model '{model}' not found")));
    };
    if !caps.contains(&"embedding") {
        return Err(conn.send_error(501, NO_EMBEDDINGS));
    }
    let dims = body
        .get("dimensions")
        .and_then(Value::as_u64)
        .map_or(8, |d| d as usize);
    Ok((model, inputs(&body), dims))
}

fn tokens(inputs: &[String]) -> u64 {
    inputs
        .iter()
        .map(|t| message_tokens(&serde_json::json!({"content": t})) - 4)
        .sum()
}

pub(crate) fn handle_embed(req: &Request, conn: &Conn) -> Result<After, Gone> {
    let (model, inputs, dims) = match parse(req, conn) {
        Ok(p) => p,
        Err(answered) => return answered,
    };
    let vectors: Vec<String> = inputs
        .iter()
        .enumerate()
        .map(|(i, t)| vector(i, t, dims))
        .collect();
    let body = format!(
        r#"{{"model":{},"embeddings":[{}],"total_duration":57772878,"load_duration":3195006,"prompt_eval_count":{}}}"#,
        go_str(&model),
        vectors.join(","),
        tokens(&inputs)
    );
    conn.send_json(200, &body)
}

pub(crate) fn handle_v1_embeddings(req: &Request, conn: &Conn) -> Result<After, Gone> {
    let (model, inputs, dims) = match parse(req, conn) {
        Ok(p) => p,
        Err(answered) => return answered,
    };
    let mut data = String::new();
    for (i, t) in inputs.iter().enumerate() {
        if i > 0 {
            data.push(',');
        }
        let _ = write!(
            data,
            r#"{{"object":"embedding","embedding":{},"index":{i}}}"#,
            vector(i, t, dims)
        );
    }
    let n = tokens(&inputs);
    let body = format!(
        r#"{{"object":"list","data":[{data}],"model":{},"usage":{{"prompt_tokens":{n},"total_tokens":{n}}}}}"#,
        go_str(&model)
    );
    conn.send_json(200, &body)
}
