//! `/load`, `/model` and `/models`: which model the chat talks to.

use std::fmt::Write as _;

use super::{picker, Repl};
use crate::backend::describe_models;
use crate::commands::format::human_bytes;
use crate::conversation::Think;
use crate::error::ApiError;
use crate::models::ModelSummary;
use crate::session::Change;
use crate::table;
use crate::untrusted::{sanitize_line, Untrusted};

impl Repl<'_> {
    /// Switches to `model` after checking that the server has it; `clear` empties the history.
    pub(super) fn load(&mut self, model: &str, clear: bool) {
        // Ollama can say up front whether it has the model and what it can do; an
        // OpenAI-compatible server answers that with the first reply.
        let backend = self.chat.backend;
        let capabilities = match backend.capabilities().model_facts {
            true => match self.rt.block_on(backend.model_info(model)) {
                Ok(s) => Some(s.capabilities),
                Err(e) => return self.error(&describe_api_error(&e)),
            },
            false => None,
        };
        let same = same_model(model, &self.chat.model);
        self.change(Change::Model {
            model: model.to_string(),
        });
        let turns = self.chat.conversation.user_turns();
        let history = if clear {
            self.change(Change::Clear);
            "with an empty conversation".to_string()
        } else if turns == 0 {
            "(the conversation is empty)".to_string()
        } else {
            format!(
                "keeping the conversation ({turns} message{}; /load {model} --clear starts afresh)",
                if turns == 1 { "" } else { "s" }
            )
        };
        let verb = if same { "Still using" } else { "Switched to" };
        self.note(&format!("{verb} {model} {history}."));
        let wants_thinking = matches!(
            &self.chat.settings.think,
            Some(Think::On(true)) | Some(Think::Level(_))
        );
        let cannot_think = capabilities
            .as_ref()
            .is_some_and(|c| !c.iter().any(|c| c == "thinking"));
        if wants_thinking && cannot_think {
            self.note(&format!(
                "{model} cannot think; /set nothink, or it will refuse every message."
            ));
        }
        if let Some(c) = &capabilities {
            self.chat.follow_model_tools(c);
        }
    }

    pub(super) fn model(&mut self, name: Option<&str>) {
        match name {
            Some(m) => self.load(m, false),
            None => {
                println!(
                    "{} at {}",
                    sanitize_line(&self.chat.model),
                    self.chat.backend.base_url()
                );
                self.offer_models();
            }
        }
    }

    /// The installed models as a numbered list to switch to; Enter keeps the current one.
    fn offer_models(&mut self) {
        let backend = self.chat.backend;
        let names = match self.rt.block_on(backend.list_models()) {
            Ok(n) if n.len() > 1 => n,
            Ok(_) => return,
            Err(e) => return self.error(&describe_api_error(&e)),
        };
        let memory = self.chat.config.models_memory.clone();
        let last = memory
            .as_deref()
            .and_then(|p| picker::remembered(p, backend.base_url()));
        let names = picker::ordered(names, last.as_deref());
        let current = self.chat.model.clone();
        let mut out = std::io::stdout().lock();
        let question = format!(
            "Switch to (number or name; Enter keeps {}): ",
            sanitize_line(&self.chat.model)
        );
        let asked =
            picker::write_menu(&mut out, &names, |n| same_model(n, &current)).and_then(|()| {
                super::tty::with_enter_as_newline(|| {
                    picker::ask(
                        &mut std::io::stdin().lock(),
                        &mut out,
                        &names,
                        &question,
                        false,
                    )
                })
            });
        drop(out);
        if let Ok(Some(i)) = asked {
            let model = names[i].raw().to_string();
            if let Some(p) = &memory {
                picker::remember(p, backend.base_url(), &model);
            }
            self.load(&model, false);
        }
    }

    pub(super) fn models(&mut self) {
        let backend = self.chat.backend;
        let listed = match backend.capabilities().model_facts {
            true => self
                .rt
                .block_on(backend.installed_models())
                .map(|models| model_table(&models, &self.chat.model)),
            false => self
                .rt
                .block_on(backend.list_models())
                .map(|names| format!("{}\n", describe_models(&names, &self.chat.model))),
        };
        match listed {
            Ok(table) => print!("{table}"),
            Err(e) => self.error(&describe_api_error(&e)),
        }
    }
}

/// The installed models, sorted, the current one marked with `*`.
pub fn model_table(models: &[ModelSummary], current: &str) -> String {
    if models.is_empty() {
        return "No models are installed; pull one with `ollama pull NAME`.\n".to_string();
    }
    let mut sorted: Vec<&ModelSummary> = models.iter().collect();
    sorted.sort_by(|a, b| a.name.cmp(&b.name));
    let width = sorted
        .iter()
        .map(|m| table::width(&m.name.one_line()))
        .max()
        .unwrap_or(4)
        .max(4);
    let mut out = format!(
        "  {:<width$}  {:<10} {:<8} {:>8}\n",
        "NAME", "PARAMS", "QUANT", "SIZE"
    );
    for m in sorted {
        let mark = if same_model(m.name.raw(), current) {
            '*'
        } else {
            ' '
        };
        let _ = writeln!(
            out,
            "{mark} {}  {:<10} {:<8} {:>8}",
            table::left(&m.name.one_line(), width),
            or_dash(&m.details.parameter_size),
            or_dash(&m.details.quantization_level),
            human_bytes(m.size)
        );
    }
    out
}

/// A detail sanitised, or `-` when the server gave none.
fn or_dash(detail: &Option<Untrusted>) -> String {
    match detail {
        Some(d) => d.one_line().into_owned(),
        None => "-".to_string(),
    }
}

/// "tiny" and "tiny:latest" are the same model.
pub fn same_model(a: &str, b: &str) -> bool {
    fn full(n: &str) -> String {
        let last = n.rsplit('/').next().unwrap_or(n);
        if last.contains(':') {
            n.to_ascii_lowercase()
        } else {
            format!("{}:latest", n.to_ascii_lowercase())
        }
    }
    full(a) == full(b)
}

/// An API error as one line for the REPL, where "--model" advice would not fit.
pub fn describe_api_error(e: &ApiError) -> String {
    match e {
        // Ollama's own hint names `ollama pull`; in the REPL `/models` is nearer to hand.
        ApiError::ModelNotFound { model, detail } if detail.raw().contains("ollama pull") => format!(
            "model '{model}' not found — pull it with `ollama pull {model}`; /models lists the installed ones"
        ),
        other => other.to_string().replace("with --model", "with /model NAME"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tag(name: &str, size: u64) -> ModelSummary {
        serde_json::from_value(serde_json::json!({
            "name": name, "size": size,
            "details": {"parameter_size": "268.10M", "quantization_level": "Q4_K_M"}
        }))
        .unwrap()
    }

    #[test]
    fn names_with_and_without_the_default_tag() {
        assert!(same_model("tiny", "tiny:latest"));
        assert!(same_model("TINY:latest", "tiny"));
        assert!(!same_model("tiny", "tiny2"));
        assert!(!same_model("qwen3:8b", "qwen3"));
        assert!(same_model("hf.co/a/b", "hf.co/a/b:latest"));
    }

    #[test]
    fn table_marks_the_current_model() {
        let t = model_table(
            &[tag("tiny2:latest", 253_113_700), tag("tiny:latest", 999)],
            "tiny",
        );
        assert_eq!(
            t,
            concat!(
                "  NAME          PARAMS     QUANT        SIZE\n",
                "  tiny2:latest  268.10M    Q4_K_M     253 MB\n",
                "* tiny:latest   268.10M    Q4_K_M      999 B\n",
            )
        );
        assert!(model_table(&[], "x").starts_with("No models"));
    }
}
