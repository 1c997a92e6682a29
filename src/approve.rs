//! The approval prompt: `Run read_file {"path":"src/main.rs"}? [y]es / [n]o / [a]lways for this
//! tool / [e]xplain`, answered with one key (no Enter) read straight from the terminal. Used by
//! the REPL, and by one-shot runs and `replay --rerun` when they have a terminal.

use std::io::{self, Write};

use rustix::termios::{tcgetattr, tcsetattr, LocalModes, OptionalActions, SpecialCodeIndex};

use crate::chat::tools::{Answer, Approver};
use crate::conversation::ToolCall;
use crate::render::style::Style;
use crate::tools::{Kind, ToolDef};
use crate::untrusted::{sanitize, sanitize_line};

/// The most of the arguments the prompt line shows (`[e]xplain` shows them whole).
const PROMPT_ARGS: usize = 200;

/// What one key means at the prompt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Key {
    Answer(Answer),
    Explain,
    /// Not an answer: read the next key.
    Other,
}

/// The meaning of a key; `a` only where "always" is offered. Enter is no answer, so a stray
/// Enter typed ahead cannot approve anything.
pub fn parse_key(byte: u8, offer_always: bool) -> Key {
    match byte {
        b'y' | b'Y' => Key::Answer(Answer::Yes),
        b'n' | b'N' | 0x04 | 0x1b => Key::Answer(Answer::No),
        b'a' | b'A' if offer_always => Key::Answer(Answer::Always),
        b'e' | b'E' | b'?' => Key::Explain,
        0x03 => Key::Answer(Answer::Stop),
        _ => Key::Other,
    }
}

/// The prompt line (without a newline), sanitised: the model wrote the name and arguments.
pub fn prompt_text(call: &ToolCall, offer_always: bool) -> String {
    let args = call.arguments.to_string();
    let shown: String = args.chars().take(PROMPT_ARGS).collect();
    let more = if shown.len() < args.len() { "…" } else { "" };
    let always = if offer_always {
        " / [a]lways for this tool"
    } else {
        ""
    };
    format!(
        "Run {} {}{more}? [y]es / [n]o{always} / [e]xplain ",
        sanitize_line(&call.name),
        sanitize_line(&shown)
    )
}

/// What `[e]xplain` prints: what the tool does, what it may touch, the arguments in full.
pub fn write_explanation<W: Write>(w: &mut W, call: &ToolCall, tool: &ToolDef) -> io::Result<()> {
    let args = serde_json::to_string_pretty(&call.arguments).unwrap_or_default();
    writeln!(w)?;
    writeln!(
        w,
        "{}: {}",
        sanitize_line(&call.name),
        sanitize(&tool.spec.description)
    )?;
    writeln!(w, "This tool {}.", tool.kind.describe())?;
    writeln!(
        w,
        "Arguments, as the model wrote them:\n{}",
        sanitize(&args)
    )
}

/// Asks on the terminal (stdin for keys, stderr for the prompt).
pub struct TtyApprover {
    pub style: Style,
}

impl Approver for TtyApprover {
    fn ask(&mut self, call: &ToolCall, tool: &ToolDef) -> Option<Answer> {
        let offer_always = tool.kind != Kind::Run;
        let mut err = io::stderr().lock();
        loop {
            let _ = write!(err, "{}", prompt_text(call, offer_always));
            let _ = err.flush();
            let key = loop {
                let byte = read_key().ok()?;
                match parse_key(byte, offer_always) {
                    Key::Other => continue,
                    k => break k,
                }
            };
            match key {
                Key::Answer(a) => {
                    let word = match a {
                        Answer::Yes => "yes",
                        Answer::No => "no",
                        Answer::Always => "always",
                        Answer::Stop => "stopped",
                    };
                    let _ = writeln!(err, "{}", self.style.dim(word));
                    return Some(a);
                }
                _ => {
                    let _ = write_explanation(&mut err, call, tool);
                }
            }
        }
    }
}

/// One key from the terminal on stdin: no echo, no line editing, Ctrl-C as a byte.
fn read_key() -> io::Result<u8> {
    let stdin = io::stdin();
    let original = tcgetattr(&stdin)?;
    let mut raw = original.clone();
    raw.local_modes
        .remove(LocalModes::ICANON | LocalModes::ECHO | LocalModes::ISIG);
    raw.special_codes[SpecialCodeIndex::VMIN] = 1;
    raw.special_codes[SpecialCodeIndex::VTIME] = 0;
    tcsetattr(&stdin, OptionalActions::Now, &raw)?;
    let mut buf = [0u8; 1];
    let read = rustix::io::read(&stdin, &mut buf);
    tcsetattr(&stdin, OptionalActions::Now, &original)?;
    match read {
        Ok(1) => Ok(buf[0]),
        Ok(_) => Err(io::ErrorKind::UnexpectedEof.into()),
        Err(e) => Err(e.into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn call() -> ToolCall {
        ToolCall {
            id: None,
            name: "read_file".into(),
            arguments: serde_json::json!({"path": "src/main.rs"}),
        }
    }

    #[test]
    fn keys() {
        assert_eq!(parse_key(b'y', true), Key::Answer(Answer::Yes));
        assert_eq!(parse_key(b'N', true), Key::Answer(Answer::No));
        assert_eq!(parse_key(b'a', true), Key::Answer(Answer::Always));
        assert_eq!(
            parse_key(b'a', false),
            Key::Other,
            "not offered for run_command"
        );
        assert_eq!(parse_key(b'e', false), Key::Explain);
        assert_eq!(parse_key(0x03, true), Key::Answer(Answer::Stop));
        assert_eq!(parse_key(0x04, true), Key::Answer(Answer::No));
        for other in [b'\r', b'\n', b' ', b'x', 0xe4] {
            assert_eq!(parse_key(other, true), Key::Other);
        }
    }

    #[test]
    fn the_prompt_line() {
        assert_eq!(
            prompt_text(&call(), true),
            r#"Run read_file {"path":"src/main.rs"}? [y]es / [n]o / [a]lways for this tool / [e]xplain "#
        );
        assert!(!prompt_text(&call(), false).contains("[a]lways"));
        let hostile = ToolCall {
            id: None,
            name: "x\u{1b}[2J".into(),
            arguments: serde_json::json!({"a": "長".repeat(300), "b": "\n\u{1b}]0;t\u{7}"}),
        };
        let p = prompt_text(&hostile, true);
        assert!(!p.contains('\u{1b}') && !p.contains('\n'), "{p:?}");
        assert!(p.contains("…?"), "cut: {p}");
    }
}
