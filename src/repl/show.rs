//! `/show …`: what the model is, from `POST /api/show`, formatted for a person (and sanitised:
//! a Modelfile is text from elsewhere, like a reply).

use std::fmt::Write as _;

use super::command::ShowWhat;
use super::Repl;
use crate::models::ModelInfo;
use crate::options::Options;
use crate::untrusted::{sanitize, sanitize_line, Untrusted};

impl Repl<'_> {
    pub(super) fn show(&mut self, what: ShowWhat) {
        let model = self.chat.model.clone();
        let shown = match self.rt.block_on(self.chat.backend.model_info(&model)) {
            Ok(s) => s,
            Err(e) => return self.error(&super::models::describe_api_error(&e)),
        };
        let session_system = self.chat.conversation.system().map(str::to_string);
        let text = match what {
            ShowWhat::Info => info(&shown),
            ShowWhat::Parameters => parameters(&shown, &self.chat.settings.options),
            ShowWhat::System => system(&shown, session_system.as_deref()),
            ShowWhat::Template => or_none(
                &shown.template.to_string(),
                "No prompt template was specified for this model.",
            ),
            ShowWhat::Modelfile => or_none(
                &shown.modelfile.to_string(),
                "The server sent no Modelfile.",
            ),
            ShowWhat::License => or_none(
                &shown.license.to_string(),
                "No license was specified for this model.",
            ),
        };
        print!("{}", sanitize(&text));
    }
}

fn or_none(text: &str, none: &str) -> String {
    let t = text.trim_end();
    if t.is_empty() {
        format!("{none}\n")
    } else {
        format!("{t}\n")
    }
}

/// The `/show info` block: model facts, capabilities, parameters, system prompt, license.
pub fn info(s: &ModelInfo) -> String {
    let mut out = String::from("  Model\n");
    let d = &s.details;
    let rows: [(&str, Option<String>); 6] = [
        (
            "architecture",
            s.architecture().map(|a| sanitize_line(a).into_owned()),
        ),
        ("family", d.family.as_ref().map(Untrusted::to_string)),
        (
            "parameters",
            d.parameter_size.as_ref().map(Untrusted::to_string),
        ),
        (
            "context length",
            s.arch_number("context_length").map(|n| n.to_string()),
        ),
        (
            "embedding length",
            s.arch_number("embedding_length").map(|n| n.to_string()),
        ),
        (
            "quantization",
            d.quantization_level.as_ref().map(Untrusted::to_string),
        ),
    ];
    for (key, value) in rows {
        if let Some(v) = value.filter(|v| !v.is_empty()) {
            let _ = writeln!(out, "    {key:<20}{v}");
        }
    }
    if !s.capabilities.is_empty() {
        out.push_str("\n  Capabilities\n");
        for c in &s.capabilities {
            let _ = writeln!(out, "    {}", c.one_line());
        }
    }
    let params = s.parameter_pairs();
    if !params.is_empty() {
        out.push_str("\n  Parameters\n");
        for (name, value) in params {
            let (name, value) = (sanitize_line(name), sanitize_line(value));
            let _ = writeln!(out, "    {name:<15}{value}");
        }
    }
    for (title, text, max_lines) in [("System", &s.system, 4), ("License", &s.license, 2)] {
        let text = text.to_string();
        let lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
        if lines.is_empty() {
            continue;
        }
        let _ = writeln!(out, "\n  {title}");
        for l in lines.iter().take(max_lines) {
            let _ = writeln!(out, "    {}", l.trim());
        }
        if lines.len() > max_lines {
            out.push_str("    …\n");
        }
    }
    out
}

/// The model's own parameters, then those set in this chat (which win).
pub fn parameters(s: &ModelInfo, session: &Options) -> String {
    let mut out = String::new();
    let params = s.parameter_pairs();
    if params.is_empty() {
        out.push_str("No parameters were specified for this model.\n");
    } else {
        out.push_str("Model defined parameters:\n");
        for (name, value) in params {
            let (name, value) = (sanitize_line(name), sanitize_line(value));
            let _ = writeln!(out, "{name:<30} {value}");
        }
    }
    if !session.is_empty() {
        out.push_str("\nUser defined parameters:\n");
        for (name, value) in session.iter() {
            let shown = match value {
                serde_json::Value::Array(items) => items
                    .iter()
                    .map(|v| v.to_string())
                    .collect::<Vec<_>>()
                    .join(" "),
                v => v.to_string(),
            };
            let _ = writeln!(out, "{name:<30} {shown}");
        }
    }
    out
}

/// The system prompt in use: this chat's own, else the model's.
pub fn system(s: &ModelInfo, session: Option<&str>) -> String {
    match session {
        Some(text) => format!(
            "{}\n(set in this chat; it replaces the model's own)\n",
            sanitize(text)
        ),
        None => or_none(
            &s.system.to_string(),
            "No system message was specified for this model.",
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Shaped like transcript 04_show_tiny (tensors left out).
    fn tiny() -> ModelInfo {
        serde_json::from_str(r#"{"modelfile":"FROM x\n","parameters":"top_p                          0.95\nnum_ctx                        2048\nstop                           \"<end_of_turn>\"\ntemperature                    0.7\ntop_k                          64","template":"{{ .Prompt }}","system":"You are Tiny, a terse test assistant.","details":{"parent_model":"","format":"gguf","family":"gemma3","families":["gemma3"],"parameter_size":"268.10M","quantization_level":"Q4_K_M"},"model_info":{"general.architecture":"gemma3","gemma3.context_length":32768,"gemma3.embedding_length":640},"capabilities":["completion","thinking"],"modified_at":"2026-11-29T00:04:09.192291589Z"}"#).unwrap()
    }

    #[test]
    fn info_block() {
        insta::assert_snapshot!("show_info", info(&tiny()));
    }

    #[test]
    fn info_without_optional_parts() {
        let s = ModelInfo::default();
        assert_eq!(info(&s), "  Model\n");
    }

    #[test]
    fn parameters_list_model_and_chat_values() {
        let mut o = Options::default();
        o.set("temperature", "0.2").unwrap();
        o.set_list("stop", &["a", "b c"]).unwrap();
        let text = parameters(&tiny(), &o);
        assert!(
            text.starts_with("Model defined parameters:\ntop_p                          0.95\n")
        );
        assert!(text.ends_with("User defined parameters:\nstop                           \"a\" \"b c\"\ntemperature                    0.2\n"));
        assert_eq!(
            parameters(&ModelInfo::default(), &Options::default()),
            "No parameters were specified for this model.\n"
        );
    }

    #[test]
    fn system_prefers_the_chat_own() {
        assert_eq!(
            system(&tiny(), None),
            "You are Tiny, a terse test assistant.\n"
        );
        assert!(system(&tiny(), Some("be brief")).starts_with("be brief\n"));
        assert_eq!(
            system(&ModelInfo::default(), None),
            "No system message was specified for this model.\n"
        );
    }
}
