//! Styles for the client's own lines (notices, errors), never for model text: whether to use them
//! comes from the stream's colour in `crate::term::Term`, decided once at start-up.
//!
//! Those lines often quote text from outside (a server's error, a file name, a session's model),
//! so what is painted is sanitised first, with or without colour: a styled line can carry no
//! escape but its own. The same holds for [`warn`], the one way a warning reaches stderr.

use std::fmt::Display;

use crate::untrusted::sanitize;

/// Dim and red, or plain text when colour is off; sanitised either way.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Style {
    pub color: bool,
}

impl Style {
    pub fn dim(&self, s: &str) -> String {
        self.paint("2", s)
    }

    pub fn red(&self, s: &str) -> String {
        self.paint("31", s)
    }

    fn paint(&self, code: &str, s: &str) -> String {
        let s = sanitize(s);
        if self.color {
            format!("\x1b[{code}m{s}\x1b[0m")
        } else {
            s.to_string()
        }
    }
}

/// Writes `ollama-chat: warning: …` to stderr, sanitised (a warning often quotes a file or a
/// server). A closed stderr is no reason to fail.
pub fn warn(what: impl Display) {
    eprintln!("ollama-chat: warning: {}", sanitize(&what.to_string()));
}

/// The same for a one-line notice that is not a warning (`ollama-chat: …`).
pub fn notice(what: impl Display) {
    eprintln!("ollama-chat: {}", sanitize(&what.to_string()));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn colour_only_when_asked() {
        assert_eq!(Style { color: true }.dim("x"), "\x1b[2mx\x1b[0m");
        assert_eq!(Style { color: true }.red("x"), "\x1b[31mx\x1b[0m");
        assert_eq!(Style { color: false }.dim("x"), "x");
    }

    #[test]
    fn painted_text_is_sanitised() {
        assert_eq!(
            Style { color: true }.red("e\x1b[2J"),
            "\x1b[31me␛[2J\x1b[0m"
        );
        assert_eq!(
            Style { color: false }.dim("\x1b]52;c;eA==\x07"),
            "␛]52;c;eA==␇"
        );
    }
}
