//! `show MODEL`: a summary (architecture, size, context, capabilities, parameters, system prompt,
//! license), or one part of it exactly as the server has it, or the whole answer as JSON.

use std::io::{self, Write};

use serde_json::Value;
use tokio::runtime::Runtime;

use super::CommandError;
use crate::backend::Backend;
use crate::cli::ShowArgs;
use crate::error::ApiError;
use crate::exit_code::ExitCode;
use crate::models::ModelInfo;
use crate::term::Term;
use crate::untrusted::{sanitize_line, Untrusted};

pub fn run(
    rt: &Runtime,
    client: &Backend,
    term: &Term,
    args: &ShowArgs,
) -> anyhow::Result<ExitCode> {
    let show = rt
        .block_on(client.model_info(&args.model))
        .map_err(|e| match e {
            ApiError::ModelNotFound { model, .. } => {
                anyhow::Error::from(CommandError::NotInstalled(model.to_string()))
            }
            e => e.into(),
        })?;
    let part = [
        (args.modelfile, "Modelfile", &show.modelfile),
        (args.parameters, "parameters", &show.parameters),
        (args.template, "template", &show.template),
        (args.system, "system prompt", &show.system),
        (args.license, "license", &show.license),
    ]
    .into_iter()
    .find(|(wanted, _, _)| *wanted);
    let text = match part {
        Some((_, what, text)) if text.raw().trim().is_empty() => {
            crate::render::style::notice(format_args!(
                "{} has no {what}",
                sanitize_line(&args.model)
            ));
            return Ok(ExitCode::Success);
        }
        // One part is data (a Modelfile to save, a template): byte for byte into a file or
        // pipe, harmless on a terminal.
        Some((_, _, text)) if term.stdout.tty => with_newline(&text.to_string()),
        Some((_, _, text)) => with_newline(text.raw()),
        // JSON escapes every control character itself.
        None if args.json => json(&show),
        // The summary is a report for a person, wherever it goes: built of sanitised text.
        None => summary(&show),
    };
    let mut out = io::stdout().lock();
    match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        Err(e) if e.kind() != io::ErrorKind::BrokenPipe => Err(e.into()),
        _ => Ok(ExitCode::Success),
    }
}

fn with_newline(text: &str) -> String {
    let mut s = text.to_string();
    if !s.ends_with('\n') {
        s.push('\n');
    }
    s
}

/// The server's answer without the tensor list, which is long and of no use to a chat client.
fn json(show: &ModelInfo) -> String {
    let mut raw = show.raw.clone();
    if let Value::Object(map) = &mut raw {
        map.remove("tensors");
    }
    with_newline(&serde_json::to_string_pretty(&raw).unwrap_or_default())
}

/// The sections `ollama show` prints, each only when the model has it.
pub fn summary(show: &ModelInfo) -> String {
    let mut out = String::new();
    let info = |k: &str| show.arch_info(k).map(value_text);
    let general = |k: &str| show.model_info.get(k).map(value_text);
    let d = &show.details;
    let model: Vec<(&str, Option<String>)> = vec![
        (
            "architecture",
            general("general.architecture").or(d.family.as_ref().map(Untrusted::to_string)),
        ),
        (
            "parameters",
            d.parameter_size.as_ref().map(Untrusted::to_string),
        ),
        ("context length", info("context_length")),
        ("embedding length", info("embedding_length")),
        (
            "quantization",
            d.quantization_level.as_ref().map(Untrusted::to_string),
        ),
    ];
    section(&mut out, "Model", &pairs(&model));
    let capabilities: Vec<String> = show.capabilities.iter().map(Untrusted::to_string).collect();
    section(&mut out, "Capabilities", &capabilities.join("\n"));
    section(&mut out, "Parameters", &show.parameters.to_string());
    section(&mut out, "System", &show.system.to_string());
    let license_text = show.license.to_string();
    let license: Vec<&str> = license_text.trim().lines().take(2).collect();
    let more = if license_text.trim().lines().count() > 2 {
        "\n…"
    } else {
        ""
    };
    section(
        &mut out,
        "License",
        &format!("{}{more}", license.join("\n")),
    );
    out
}

fn value_text(v: &Value) -> String {
    match v {
        Value::String(s) => sanitize_line(s).into_owned(),
        other => sanitize_line(&other.to_string()).into_owned(),
    }
}

fn pairs(rows: &[(&str, Option<String>)]) -> String {
    rows.iter()
        .filter_map(|(k, v)| v.as_ref().map(|v| format!("{k:<20}{v}")))
        .collect::<Vec<_>>()
        .join("\n")
}

fn section(out: &mut String, title: &str, body: &str) {
    if body.trim().is_empty() {
        return;
    }
    if !out.is_empty() {
        out.push('\n');
    }
    out.push_str(&format!("  {title}\n"));
    for line in body.trim_end().lines() {
        out.push_str(&format!("    {line}\n"));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn summary_of_a_recorded_answer() {
        let raw: Value = serde_json::from_str(r#"{"modelfile":"FROM x\n","parameters":"num_ctx                        2048\nstop                           \"<end_of_turn>\"","template":"{{ .Prompt }}","system":"You are Tiny, a terse test assistant.","details":{"parent_model":"","format":"gguf","family":"gemma3","families":["gemma3"],"parameter_size":"268.10M","quantization_level":"Q4_K_M"},"model_info":{"general.architecture":"gemma3","gemma3.context_length":32768,"gemma3.embedding_length":640},"tensors":[{"name":"a"}],"capabilities":["completion"],"modified_at":"2026-11-29T00:04:09.192291589Z"}"#).unwrap();
        let mut show: ModelInfo = serde_json::from_value(raw.clone()).unwrap();
        show.raw = raw;
        assert_eq!(
            summary(&show),
            "  Model\n    architecture        gemma3\n    parameters          268.10M\n    \
             context length      32768\n    embedding length    640\n    quantization        Q4_K_M\n\n  \
             Capabilities\n    completion\n\n  Parameters\n    num_ctx                        2048\n    \
             stop                           \"<end_of_turn>\"\n\n  System\n    You are Tiny, a terse test assistant.\n"
        );
        let j: Value = serde_json::from_str(&json(&show)).unwrap();
        assert!(j.get("tensors").is_none());
        assert_eq!(j["system"], "You are Tiny, a terse test assistant.");
    }

    #[test]
    fn long_licenses_are_cut_to_two_lines() {
        let show = ModelInfo {
            license: "MIT License\nCopyright\nPermission is hereby granted\n".into(),
            ..ModelInfo::default()
        };
        assert_eq!(
            summary(&show),
            "  License\n    MIT License\n    Copyright\n    …\n"
        );
    }
}
