//! Tab completion (commands, sub-commands, parameter names, model names) and the quiet model hint
//! in the prompt: the rustyline `Helper`. What to offer is decided by a pure function.

use std::borrow::Cow;
use std::cell::OnceCell;

use rustyline::completion::{Completer, FilenameCompleter, Pair};
use rustyline::highlight::Highlighter;
use rustyline::hint::Hinter;
use rustyline::validate::Validator;
use rustyline::{Context, Helper};

use super::command::{find, Completes, COMMANDS};
use crate::context::Strategy;
use crate::conversation::Think;
use crate::options::KNOWN;
use crate::untrusted::Untrusted;

/// Completion and prompt styling for the line editor.
pub struct ReplHelper<'a> {
    color: bool,
    /// File names after `@`, `/image` and `/file`.
    files: FilenameCompleter,
    /// Installed model names, fetched from the server the first time they are needed.
    models: OnceCell<Vec<String>>,
    fetch_models: Box<dyn Fn() -> Vec<String> + 'a>,
}

impl<'a> ReplHelper<'a> {
    pub fn new(color: bool, fetch_models: Box<dyn Fn() -> Vec<String> + 'a>) -> Self {
        ReplHelper {
            color,
            files: FilenameCompleter::new(),
            models: OnceCell::new(),
            fetch_models,
        }
    }

    fn models(&self) -> &[String] {
        self.models.get_or_init(|| (self.fetch_models)())
    }
}

/// The model names Tab may offer: only those that need no sanitising. A completion is typed into
/// the line as it is, so a name holding control characters could neither be shown safely nor
/// sent as shown.
pub fn completable(names: Vec<Untrusted>) -> Vec<String> {
    names
        .into_iter()
        .filter(|n| n.shown() == n.raw() && !n.raw().contains(['\n', '\t']))
        .map(Untrusted::into_raw)
        .collect()
}

/// Where a file path being typed begins, when one is: the arguments of a command that takes
/// paths (`/image`, `/file`), or a word starting with `@` (after the `@`).
pub fn path_start(before: &str) -> Option<usize> {
    let word = before.rfind(char::is_whitespace).map_or(0, |i| i + 1);
    if before.starts_with('/') {
        let (name, _) = before.split_once(char::is_whitespace)?;
        let spec = find(&name.to_ascii_lowercase())?;
        return (spec.completes == Completes::Paths).then_some(name.len());
    }
    before[word..].starts_with('@').then_some(word + 1)
}

/// What completes the text before the cursor: where the replaced word starts, and the choices
/// (each with a trailing space when more can follow it).
pub fn candidates(before: &str, models: &dyn Fn() -> Vec<String>) -> (usize, Vec<String>) {
    if !before.starts_with('/') {
        return (0, Vec::new());
    }
    let start = before.rfind(char::is_whitespace).map_or(0, |i| {
        i + before[i..].chars().next().map_or(1, char::len_utf8)
    });
    let word = &before[start..];
    let done: Vec<&str> = before[..start].split_whitespace().collect();
    let pick = |options: Vec<String>| -> Vec<String> {
        let lower = word.to_ascii_lowercase();
        options
            .into_iter()
            .filter(|o| o.to_ascii_lowercase().starts_with(&lower))
            .collect()
    };
    if done.is_empty() {
        let names = COMMANDS.iter().flat_map(|s| {
            let more = !s.args.is_empty();
            std::iter::once(s.name)
                .chain(s.aliases.iter().copied())
                .map(move |n| if more { format!("{n} ") } else { n.to_string() })
        });
        return (start, pick(names.collect()));
    }
    let Some(spec) = find(&done[0].to_ascii_lowercase()) else {
        return (start, Vec::new());
    };
    let args = &done[1..];
    let choices: Vec<String> = match (spec.completes, args) {
        (Completes::Subs, []) => spec
            .subs
            .iter()
            .map(|s| {
                if s.args.is_empty() {
                    s.name.to_string()
                } else {
                    format!("{} ", s.name)
                }
            })
            .collect(),
        (Completes::Subs, [sub]) => match (spec.name, sub.to_ascii_lowercase().as_str()) {
            ("/set", "parameter") => KNOWN.iter().map(|(k, _)| format!("{k} ")).collect(),
            ("/set", "think") => Think::LEVELS.map(String::from).to_vec(),
            ("/set", "format") => vec!["json".to_string()],
            ("/set", "context") => Strategy::NAMES.map(String::from).to_vec(),
            ("/set", "markdown") => ["on", "off"].map(String::from).to_vec(),
            _ => Vec::new(),
        },
        (Completes::Models, []) => models(),
        (Completes::Models, [_]) if spec.name == "/load" => vec!["--clear".to_string()],
        (Completes::Commands, []) => std::iter::once("shortcuts".to_string())
            .chain(
                COMMANDS
                    .iter()
                    .map(|s| s.name.trim_start_matches('/').to_string()),
            )
            .collect(),
        _ => Vec::new(),
    };
    (start, pick(choices))
}

impl Completer for ReplHelper<'_> {
    type Candidate = Pair;

    fn complete(
        &self,
        line: &str,
        pos: usize,
        _ctx: &Context<'_>,
    ) -> rustyline::Result<(usize, Vec<Pair>)> {
        if let Some(at) = path_start(&line[..pos]) {
            let (start, pairs) = self.files.complete_path(&line[at..pos], pos - at)?;
            return Ok((at + start, pairs));
        }
        let (start, choices) = candidates(&line[..pos], &|| self.models().to_vec());
        let pairs = choices
            .into_iter()
            .map(|c| Pair {
                display: c.trim_end().to_string(),
                replacement: c,
            })
            .collect();
        Ok((start, pairs))
    }
}

impl Highlighter for ReplHelper<'_> {
    /// Dims the model name in front of `>>> `, so the hint stays quiet.
    fn highlight_prompt<'b, 's: 'b, 'p: 'b>(
        &'s self,
        prompt: &'p str,
        _default: bool,
    ) -> Cow<'b, str> {
        match prompt.split_once(' ') {
            Some((hint, rest)) if self.color && rest.starts_with(">>>") => {
                Cow::Owned(format!("\x1b[2m{hint}\x1b[0m {rest}"))
            }
            _ => Cow::Borrowed(prompt),
        }
    }
}

impl Hinter for ReplHelper<'_> {
    type Hint = String;
}

impl Validator for ReplHelper<'_> {}

impl Helper for ReplHelper<'_> {}

/// The prompt's model hint: the last path segment, without `:latest`, at most 24 characters.
pub fn model_hint(model: &str) -> String {
    // The name may be a resumed session's, or the one the server offered.
    let model = &*crate::untrusted::sanitize_line(model);
    let last = model.rsplit('/').next().unwrap_or(model);
    let short = last.strip_suffix(":latest").unwrap_or(last);
    if short.chars().count() > 24 {
        let mut s: String = short.chars().take(23).collect();
        s.push('…');
        s
    } else {
        short.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_with_control_characters_are_never_offered() {
        let names = [
            "tiny:latest",
            "evil\x1b]0;t\x07",
            "bidi\u{202e}x",
            "two\nlines",
            "模型:7b",
        ];
        let offered = completable(names.into_iter().map(Untrusted::from).collect());
        assert_eq!(offered, ["tiny:latest", "模型:7b"]);
    }

    fn complete(before: &str) -> (usize, Vec<String>) {
        candidates(before, &|| vec!["tiny:latest".into(), "qwen3:8b".into()])
    }

    #[test]
    fn paths_complete_after_at_and_the_file_commands() {
        assert_eq!(path_start("/image ~/Pic"), Some(6));
        assert_eq!(path_start("/FILE a.rs b"), Some(5));
        assert_eq!(path_start("/image"), None, "the command name itself");
        assert_eq!(path_start("/show in"), None);
        assert_eq!(path_start("review @src/ma"), Some(8));
        assert_eq!(path_start("@"), Some(1));
        assert_eq!(path_start("mail me@x"), None);
        assert_eq!(
            path_start("@a.rs and more"),
            None,
            "only the word being typed"
        );
    }

    #[test]
    fn command_names() {
        assert_eq!(complete("/sh"), (0, vec!["/show ".to_string()]));
        assert_eq!(complete("/mo").1, vec!["/model ", "/models"]);
        assert_eq!(complete("/e").1, vec!["/edit", "/exit"]);
        assert_eq!(complete("hello /sh"), (0, vec![]));
    }

    #[test]
    fn sub_commands() {
        assert_eq!(complete("/show in"), (6, vec!["info".to_string()]));
        assert_eq!(
            complete("/set no").1,
            vec![
                "noformat",
                "nothink",
                "nowordwrap",
                "nohidethinking",
                "nohistory"
            ]
        );
        assert_eq!(complete("/set param"), (5, vec!["parameter ".to_string()]));
        assert_eq!(complete("/set think h").1, vec!["high"]);
        assert_eq!(complete("/set con"), (5, vec!["context ".to_string()]));
        assert_eq!(
            complete("/set context ").1,
            vec!["truncate", "summarize", "fail"]
        );
        assert_eq!(complete("/set context s").1, vec!["summarize"]);
        assert_eq!(complete("/set markdown ").1, vec!["on", "off"]);
        assert_eq!(complete("/set mark"), (5, vec!["markdown ".to_string()]));
        assert_eq!(complete("/show info x").1, Vec::<String>::new());
        assert_eq!(complete("/lo").1, vec!["/load ", "/log "]);
        assert_eq!(complete("/log ").1, vec!["off", "on"]);
        assert_eq!(complete("/log of"), (5, vec!["off".to_string()]));
        assert_eq!(complete("/log off ").1, Vec::<String>::new());
    }

    #[test]
    fn parameter_names() {
        assert_eq!(
            complete("/set parameter temp"),
            (15, vec!["temperature ".to_string()])
        );
        assert_eq!(complete("/set parameter num_c").1, vec!["num_ctx "]);
        assert!(complete("/set parameter temperature 0").1.is_empty());
    }

    #[test]
    fn model_names_and_flags() {
        assert_eq!(complete("/load q"), (6, vec!["qwen3:8b".to_string()]));
        assert_eq!(complete("/model ").1, vec!["tiny:latest", "qwen3:8b"]);
        assert_eq!(complete("/load tiny --c").1, vec!["--clear"]);
        assert_eq!(complete("/? sh").1, vec!["shortcuts", "show"]);
    }

    #[test]
    fn models_are_not_fetched_for_other_commands() {
        let (_, c) = candidates("/set p", &|| panic!("fetched models needlessly"));
        assert_eq!(c, vec!["parameter "]);
    }

    #[test]
    fn hints_are_short() {
        assert_eq!(model_hint("tiny:latest"), "tiny");
        assert_eq!(model_hint("qwen3:8b"), "qwen3:8b");
        assert_eq!(
            model_hint("hf.co/bartowski/Llama-3.2-3B-Instruct-GGUF:Q4_K_M")
                .chars()
                .count(),
            24
        );
    }
}
