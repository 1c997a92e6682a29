//! Ways to type more than one line: `"""` blocks (pure), Ctrl+J for a newline, and Ctrl+G (or
//! `/edit`) to compose in `$VISUAL`/`$EDITOR`.

use std::fs::OpenOptions;
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::PathBuf;
use std::process::Command;
use std::sync::{Arc, Mutex};

use rustyline::{
    Cmd, ConditionalEventHandler, Event, EventContext, EventHandler, KeyEvent, RepeatCount,
};

const QUOTES: &str = "\"\"\"";

/// What the user finished typing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Typed {
    /// A line as typed: a command when it starts with `/`, else a message.
    Line(String),
    /// The inside of a `"""` block: always a message, even when it starts with `/`.
    Message(String),
}

impl Typed {
    pub fn text(&self) -> &str {
        match self {
            Typed::Line(t) | Typed::Message(t) => t,
        }
    }
}

/// An open `"""` block: lines typed so far.
#[derive(Debug, Default)]
pub struct Block {
    lines: Option<Vec<String>>,
    /// The block belongs to a command (`/set system """…`): keep the quotes for its parser.
    command: bool,
}

impl Block {
    pub fn is_open(&self) -> bool {
        self.lines.is_some()
    }

    /// Forgets an open block (Ctrl-C).
    pub fn cancel(&mut self) {
        self.lines = None;
    }

    /// Feeds one typed line; returns the whole input once it is complete. A line starting with
    /// `"""` opens a block (unless it also ends with one), a line ending with `"""` closes it, and
    /// the lines between become one message, joined with newlines, as in `ollama run`.
    pub fn feed(&mut self, line: &str) -> Option<Typed> {
        let Some(lines) = self.lines.as_mut() else {
            return self.first(line);
        };
        let trimmed = line.trim_end();
        match trimmed.strip_suffix(QUOTES) {
            Some(last) => {
                lines.push(last.to_string());
                let mut lines = self.lines.take().unwrap_or_default();
                if self.command {
                    return Some(Typed::Line(lines.join("\n") + QUOTES));
                }
                if lines.first().is_some_and(|l| l.trim().is_empty()) {
                    lines.remove(0);
                }
                if lines.last().is_some_and(|l| l.trim().is_empty()) {
                    lines.pop();
                }
                Some(Typed::Message(lines.join("\n")))
            }
            None => {
                lines.push(line.to_string());
                None
            }
        }
    }

    fn first(&mut self, line: &str) -> Option<Typed> {
        let t = line.trim_start();
        if let Some(rest) = t.strip_prefix(QUOTES) {
            if let Some(inner) = rest.trim_end().strip_suffix(QUOTES) {
                return Some(Typed::Message(inner.to_string()));
            }
            self.lines = Some(vec![rest.to_string()]);
            self.command = false;
            return None;
        }
        if opens_command_block(t) {
            self.lines = Some(vec![line.to_string()]);
            self.command = true;
            return None;
        }
        Some(Typed::Line(line.to_string()))
    }
}

/// `/set system """text` without the closing quotes.
fn opens_command_block(t: &str) -> bool {
    let mut words = t.splitn(3, char::is_whitespace);
    let (Some(cmd), Some(sub), Some(arg)) = (words.next(), words.next(), words.next()) else {
        return false;
    };
    cmd.eq_ignore_ascii_case("/set")
        && sub.eq_ignore_ascii_case("system")
        && arg.trim_start().starts_with(QUOTES)
        && arg.trim().matches(QUOTES).count() == 1
}

/// Why the editor could not be used.
#[derive(Debug, thiserror::Error)]
pub enum EditorError {
    #[error("cannot prepare a file for the editor: {0}")]
    File(std::io::Error),
    #[error("cannot start the editor '{editor}': {source} (set VISUAL or EDITOR)")]
    Start {
        editor: String,
        source: std::io::Error,
    },
    #[error("the editor '{editor}' exited with {status}; nothing was changed")]
    Failed { editor: String, status: String },
}

/// The editor command: `$VISUAL`, else `$EDITOR`, else `vi`; it may carry arguments (`code -w`).
pub fn editor_command(env: &dyn Fn(&str) -> Option<String>) -> String {
    ["VISUAL", "EDITOR"]
        .iter()
        .filter_map(|k| env(k))
        .find(|v| !v.trim().is_empty())
        .unwrap_or_else(|| "vi".to_string())
}

/// Opens `initial` in the user's editor and returns what was saved, trailing newlines removed;
/// `None` when the result is empty. The file is private and removed afterwards.
pub fn compose(initial: &str, editor: &str) -> Result<Option<String>, EditorError> {
    let path = std::env::temp_dir().join(format!("ollama-chat-{}.md", uuid::Uuid::new_v4()));
    let result = compose_in(&path, initial, editor);
    let _ = std::fs::remove_file(&path);
    result
}

fn compose_in(path: &PathBuf, initial: &str, editor: &str) -> Result<Option<String>, EditorError> {
    let mut file = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .map_err(EditorError::File)?;
    file.write_all(initial.as_bytes())
        .map_err(EditorError::File)?;
    drop(file);
    // Through the shell, so that an editor given with arguments works; the path goes in as $1.
    let status = Command::new("sh")
        .arg("-c")
        .arg(format!("{editor} \"$1\""))
        .arg("sh")
        .arg(path)
        .status()
        .map_err(|source| EditorError::Start {
            editor: editor.to_string(),
            source,
        })?;
    if !status.success() {
        return Err(EditorError::Failed {
            editor: editor.to_string(),
            status: status.to_string(),
        });
    }
    let text = std::fs::read_to_string(path).map_err(EditorError::File)?;
    let text = text.trim_end_matches(['\n', '\r']);
    Ok(Some(text.to_string()).filter(|t| !t.trim().is_empty()))
}

/// Where the Ctrl+G key handler leaves the line being edited, for the loop to open the editor.
pub type EditorRequest = Arc<Mutex<Option<String>>>;

/// Ctrl+G: take the line typed so far and end `readline`, so the loop can run the editor with
/// the terminal back in its normal mode.
struct ComposeKey(EditorRequest);

impl ConditionalEventHandler for ComposeKey {
    fn handle(&self, _: &Event, _: RepeatCount, _: bool, ctx: &EventContext) -> Option<Cmd> {
        if let Ok(mut slot) = self.0.lock() {
            *slot = Some(ctx.line().to_string());
        }
        Some(Cmd::AcceptLine)
    }
}

/// Binds Ctrl+J (insert a newline) and Ctrl+G (compose in the editor) on `editor`.
pub fn bind_keys<H: rustyline::Helper, I: rustyline::history::History>(
    editor: &mut rustyline::Editor<H, I>,
) -> EditorRequest {
    let request = EditorRequest::default();
    editor.bind_sequence(KeyEvent::ctrl('J'), EventHandler::Simple(Cmd::Newline));
    editor.bind_sequence(
        KeyEvent::ctrl('G'),
        EventHandler::Conditional(Box::new(ComposeKey(Arc::clone(&request)))),
    );
    request
}

#[cfg(test)]
mod tests {
    use super::*;

    fn feed_all(lines: &[&str]) -> Vec<Option<String>> {
        let mut b = Block::default();
        lines
            .iter()
            .map(|l| b.feed(l).map(|t| t.text().to_string()))
            .collect()
    }

    #[test]
    fn ordinary_lines_pass_through() {
        assert_eq!(
            feed_all(&["hello", "  /bye"]),
            vec![Some("hello".into()), Some("  /bye".into())]
        );
    }

    #[test]
    fn a_block_joins_lines() {
        let out = feed_all(&["\"\"\"", "first line", "  second 第二", "\"\"\""]);
        assert_eq!(out[..3], [None, None, None]);
        assert_eq!(out[3].as_deref(), Some("first line\n  second 第二"));
    }

    #[test]
    fn text_on_the_marker_lines_is_kept() {
        let out = feed_all(&["\"\"\"Dear model,", "hello", "bye\"\"\""]);
        assert_eq!(out[2].as_deref(), Some("Dear model,\nhello\nbye"));
    }

    #[test]
    fn a_block_on_one_line() {
        assert_eq!(
            feed_all(&["\"\"\"just this\"\"\""]),
            vec![Some("just this".into())]
        );
    }

    #[test]
    fn blank_lines_inside_stay() {
        let out = feed_all(&["\"\"\"", "a", "", "b", "\"\"\""]);
        assert_eq!(out[4].as_deref(), Some("a\n\nb"));
    }

    #[test]
    fn set_system_blocks_keep_their_quotes_for_the_parser() {
        let out = feed_all(&["/set system \"\"\"You are", "a teacher.\"\"\""]);
        assert_eq!(out[0], None);
        assert_eq!(
            out[1].as_deref(),
            Some("/set system \"\"\"You are\na teacher.\"\"\"")
        );
        assert_eq!(
            feed_all(&["/set system \"\"\"one line\"\"\""]),
            vec![Some("/set system \"\"\"one line\"\"\"".into())]
        );
    }

    #[test]
    fn a_quoted_message_is_never_a_command() {
        let mut b = Block::default();
        assert_eq!(
            b.feed("\"\"\"/etc/hosts: what is it?\"\"\""),
            Some(Typed::Message("/etc/hosts: what is it?".into()))
        );
        assert_eq!(b.feed("/bye"), Some(Typed::Line("/bye".into())));
    }

    #[test]
    fn cancel_forgets_the_block() {
        let mut b = Block::default();
        assert_eq!(b.feed("\"\"\""), None);
        assert!(b.is_open());
        b.cancel();
        assert!(!b.is_open());
        assert_eq!(b.feed("next"), Some(Typed::Line("next".into())));
    }

    #[test]
    fn editor_choice() {
        let env = |vars: &'static [(&'static str, &'static str)]| {
            move |k: &str| {
                vars.iter()
                    .find(|(n, _)| *n == k)
                    .map(|(_, v)| v.to_string())
            }
        };
        assert_eq!(
            editor_command(&env(&[("EDITOR", "nano"), ("VISUAL", "code -w")])),
            "code -w"
        );
        assert_eq!(
            editor_command(&env(&[("EDITOR", "nano"), ("VISUAL", " ")])),
            "nano"
        );
        assert_eq!(editor_command(&env(&[])), "vi");
    }

    #[test]
    fn compose_runs_the_editor_on_a_private_file() {
        let out = compose("draft", "sed -i 's/draft/final text/'").unwrap();
        assert_eq!(out.as_deref(), Some("final text"));
        assert_eq!(compose("draft", "truncate -s 0").unwrap(), None);
        assert!(matches!(
            compose("x", "false"),
            Err(EditorError::Failed { .. })
        ));
    }
}
