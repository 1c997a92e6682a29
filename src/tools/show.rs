//! How a tool call and its result are shown to the person: the name and pretty-printed
//! arguments, then one line about the result, all sanitised (the model wrote the arguments, a
//! file or server the result).

use std::io::{self, Write};
use std::time::Duration;

use crate::conversation::{ToolCall, ToolStatus};
use crate::render::style::Style;
use crate::untrusted::{sanitize, sanitize_line};

/// The most of a call's arguments shown before the prompt.
const MAX_SHOWN_ARGS: usize = 4000;

/// `⚙ name {pretty arguments}` on its own lines.
pub fn write_call<W: Write + ?Sized>(w: &mut W, call: &ToolCall, style: Style) -> io::Result<()> {
    let args = serde_json::to_string_pretty(&call.arguments).unwrap_or_default();
    let args = super::cap(args, MAX_SHOWN_ARGS);
    let head = style.dim(&format!("⚙ {}", sanitize_line(&call.name)));
    writeln!(w, "{head} {}", sanitize(&args))
}

/// `  → ok · 1.2 KiB · 0.01 s: first line` — one line about a result.
pub fn write_result<W: Write + ?Sized>(
    w: &mut W,
    status: ToolStatus,
    text: &str,
    took: Duration,
    style: Style,
) -> io::Result<()> {
    let first = text.lines().find(|l| !l.trim().is_empty()).unwrap_or("");
    let first: String = first.chars().take(100).collect();
    let line = format!(
        "  → {} · {} · {:.2} s: {}",
        status.as_str(),
        crate::error::size_text(text.len()),
        took.as_secs_f64(),
        sanitize_line(&first)
    );
    writeln!(w, "{}", style.dim(&line))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn calls_and_results_are_sanitised() {
        let call = ToolCall {
            id: None,
            name: "read\u{1b}[2Jfile".into(),
            arguments: serde_json::json!({"path": "\u{1b}]52;c;aGk=\u{7}笔记"}),
        };
        let mut out = Vec::new();
        write_call(&mut out, &call, Style { color: false }).unwrap();
        write_result(
            &mut out,
            ToolStatus::Ok,
            "\n\u{1b}[31m红\u{9b}x",
            Duration::from_millis(10),
            Style { color: false },
        )
        .unwrap();
        let text = String::from_utf8(out).unwrap();
        assert!(
            !text.contains('\u{1b}') && !text.contains('\u{9b}'),
            "{text:?}"
        );
        assert!(text.contains("笔记") && text.contains("红"), "{text}");
    }
}
