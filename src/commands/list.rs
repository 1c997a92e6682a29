//! `models` (alias `list`) and `ps`: what is installed and what is loaded, as an aligned table or,
//! with `--json`, one JSON array for scripts.

use std::io::{self, Write};

use chrono::{DateTime, Utc};
use serde_json::{json, Value};
use tokio::runtime::Runtime;

use super::format::{human_bytes, processor, relative_str, table, until};
use crate::backend::Backend;
use crate::cli::ListArgs;
use crate::exit_code::ExitCode;
use crate::models::LoadedModel;
use crate::models::ModelSummary;
use crate::untrusted::MaybeUntrusted;

pub fn models(rt: &Runtime, client: &Backend, args: &ListArgs) -> anyhow::Result<ExitCode> {
    let models = rt.block_on(client.installed_models())?;
    let text = if args.json {
        json_lines(models.iter().map(tag_json).collect())
    } else {
        if models.is_empty() {
            crate::render::style::notice(format_args!(
                "no models installed; get one with `ollama-chat pull llama3.2`"
            ));
        }
        models_table(&models, Utc::now())
    };
    print(&text)
}

pub fn ps(rt: &Runtime, client: &Backend, args: &ListArgs) -> anyhow::Result<ExitCode> {
    let loaded = rt.block_on(client.loaded_models())?;
    let text = if args.json {
        json_lines(loaded.iter().map(running_json).collect())
    } else {
        ps_table(&loaded, Utc::now())
    };
    print(&text)
}

fn print(text: &str) -> anyhow::Result<ExitCode> {
    let mut out = io::stdout().lock();
    match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        Err(e) if e.kind() != io::ErrorKind::BrokenPipe => Err(e.into()),
        _ => Ok(ExitCode::Success),
    }
}

fn json_lines(items: Vec<Value>) -> String {
    let mut s = serde_json::to_string_pretty(&Value::Array(items)).unwrap_or_default();
    s.push('\n');
    s
}

pub fn models_table(models: &[ModelSummary], now: DateTime<Utc>) -> String {
    let rows: Vec<Vec<String>> = models
        .iter()
        .map(|m| {
            let d = &m.details;
            vec![
                m.name.to_string(),
                human_bytes(m.size),
                d.family.shown(),
                d.parameter_size.shown(),
                d.quantization_level.shown(),
                relative_str(m.modified_at.raw(), now),
            ]
        })
        .collect();
    table(
        &["NAME", "SIZE", "FAMILY", "PARAMS", "QUANT", "MODIFIED"],
        &rows,
    )
}

pub fn ps_table(models: &[LoadedModel], now: DateTime<Utc>) -> String {
    let rows: Vec<Vec<String>> = models
        .iter()
        .map(|m| {
            vec![
                m.name.to_string(),
                human_bytes(m.size),
                processor(m.size, m.size_vram),
                m.context_length.map(|c| c.to_string()).unwrap_or_default(),
                until(m.expires_at.raw(), now),
            ]
        })
        .collect();
    table(&["NAME", "SIZE", "PROCESSOR", "CONTEXT", "UNTIL"], &rows)
}

fn tag_json(m: &ModelSummary) -> Value {
    let d = &m.details;
    json!({
        "name": m.name,
        "size": m.size,
        "modified_at": m.modified_at,
        "family": d.family,
        "parameter_size": d.parameter_size,
        "quantization_level": d.quantization_level,
        "context_length": d.context_length,
        "capabilities": m.capabilities,
    })
}

fn running_json(m: &LoadedModel) -> Value {
    json!({
        "name": m.name,
        "size": m.size,
        "size_vram": m.size_vram,
        "processor": processor(m.size, m.size_vram),
        "context_length": m.context_length,
        "expires_at": m.expires_at,
    })
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;

    const TAGS: &str = r#"{"models":[{"name":"tiny-think:latest","model":"tiny-think:latest","modified_at":"2026-11-29T00:04:24.895981715Z","size":253113743,"digest":"ad59","details":{"parent_model":"","format":"gguf","family":"gemma3","families":["gemma3"],"parameter_size":"268.10M","quantization_level":"Q4_K_M","context_length":32768,"embedding_length":640},"capabilities":["completion","thinking"]},{"name":"tiny:latest","model":"tiny:latest","modified_at":"2026-11-28T00:04:09.192291589Z","size":1300000000,"digest":"74ad","details":{"family":"gemma3","parameter_size":"268.10M","quantization_level":"Q4_K_M"},"capabilities":["completion"]}]}"#;

    #[test]
    fn the_recorded_tags_as_a_table() {
        let tags: Value = serde_json::from_str(TAGS).unwrap();
        let models: Vec<ModelSummary> = serde_json::from_value(tags["models"].clone()).unwrap();
        let now = Utc.with_ymd_and_hms(2026, 11, 29, 0, 9, 33).unwrap();
        assert_eq!(
            models_table(&models, now),
            "NAME               SIZE    FAMILY  PARAMS   QUANT   MODIFIED\n\
             tiny-think:latest  253 MB  gemma3  268.10M  Q4_K_M  5 minutes ago\n\
             tiny:latest        1.3 GB  gemma3  268.10M  Q4_K_M  1 day ago\n"
        );
        let j = tag_json(&models[0]);
        assert_eq!(j["capabilities"], json!(["completion", "thinking"]));
        assert_eq!(j["context_length"], 32768);
    }

    #[test]
    fn the_recorded_ps_as_a_table() {
        let ps: Vec<LoadedModel> = serde_json::from_str(r#"[{"name":"tiny:latest","model":"tiny:latest","size":285149756,"digest":"74ad","details":{"family":"gemma3"},"expires_at":"2026-11-29T00:34:14.261747097Z","size_vram":0,"context_length":2048}]"#).unwrap();
        let now = Utc.with_ymd_and_hms(2026, 11, 29, 0, 9, 33).unwrap();
        assert_eq!(
            ps_table(&ps, now),
            "NAME         SIZE    PROCESSOR  CONTEXT  UNTIL\n\
             tiny:latest  285 MB  100% CPU   2048     in 24 minutes\n"
        );
        assert_eq!(running_json(&ps[0])["processor"], "100% CPU");
    }

    #[test]
    fn an_empty_list_is_just_the_header() {
        assert_eq!(
            models_table(&[], Utc::now()),
            "NAME  SIZE  FAMILY  PARAMS  QUANT  MODIFIED\n"
        );
    }
}
