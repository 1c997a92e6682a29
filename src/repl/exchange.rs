//! Commands that rework the conversation's last exchange (`/retry`, `/undo`, `/edit`) or use the
//! last reply (`/copy`).

use std::io::{self, Write};

use super::copy::{osc52, select};
use super::input::{compose, editor_command};
use super::Repl;
use crate::attach::Attachment;
use crate::conversation::Role;
use crate::session::Change;

impl Repl<'_> {
    /// Asks the same question again; the new reply replaces the old one. If no reply comes, the
    /// question is back at the prompt (the old reply stays in the session file and the log).
    pub(super) fn retry(&mut self) -> Option<String> {
        let Some(question) = self.chat.conversation.last_user().map(str::to_string) else {
            self.note("Nothing to retry yet.");
            return None;
        };
        self.keep_images();
        self.change(Change::Retry);
        self.turn_as_is(&question)
    }

    /// The last message's images wait for the message sent in its place (its files' text is in
    /// the message already).
    fn keep_images(&mut self) {
        let images = self
            .chat
            .conversation
            .messages()
            .iter()
            .rev()
            .find(|m| m.role == Role::User)
            .map(|m| m.images.clone())
            .unwrap_or_default();
        let kept: Vec<Attachment> = images.into_iter().map(Attachment::Image).collect();
        self.pending.items.splice(0..0, kept);
    }

    pub(super) fn undo(&mut self) {
        match self.chat.conversation.last_user().map(str::to_string) {
            Some(q) => {
                self.change(Change::Undo);
                self.note(&format!("Removed the last exchange (\"{}\").", preview(&q)));
            }
            None => self.note("Nothing to undo."),
        }
    }

    /// Opens the last message in the editor and sends the edited text in its place.
    pub(super) fn edit(&mut self) -> Option<String> {
        let Some(last) = self.chat.conversation.last_user().map(str::to_string) else {
            self.note("There is no message to edit yet.");
            return None;
        };
        let editor = editor_command(&|k| std::env::var(k).ok());
        let edited = match compose(&last, &editor) {
            Ok(Some(text)) => text,
            Ok(None) => {
                self.note("The edited message is empty; nothing was sent.");
                return None;
            }
            Err(e) => {
                self.error(&e.to_string());
                return None;
            }
        };
        self.keep_images();
        self.change(Change::Retry);
        self.turn_as_is(&edited)
    }

    pub(super) fn copy(&mut self, n: Option<usize>) {
        let selection = match select(self.chat.conversation.last_reply(), n) {
            Ok(s) => s,
            Err(msg) => return self.note(&msg),
        };
        if !self.term.stdout.tty {
            return self.error("copying needs a terminal (it uses the OSC 52 escape sequence)");
        }
        let mut out = io::stdout().lock();
        let _ = out.write_all(osc52(&selection.text).as_bytes());
        let _ = out.flush();
        drop(out);
        self.note(&format!(
            "Copied {} to the clipboard (through your terminal: it must allow OSC 52).",
            selection.description
        ));
    }
}

/// The start of a message, on one line.
fn preview(text: &str) -> String {
    let one_line: String = text.split_whitespace().collect::<Vec<_>>().join(" ");
    let mut out: String = one_line.chars().take(40).collect();
    if one_line.chars().count() > 40 {
        out.push('…');
    }
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn preview_is_short_and_on_one_line() {
        assert_eq!(super::preview("a\nb  c"), "a b c");
        assert_eq!(
            super::preview(&"x".repeat(50)),
            format!("{}…", "x".repeat(40))
        );
    }
}
