//! Styles for the client's own lines (notices, errors), never for model text: whether to use them
//! comes from the stream's colour in `crate::term::Term`, decided once at start-up.

/// Dim and red, or plain text when colour is off.
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
        if self.color {
            format!("\x1b[{code}m{s}\x1b[0m")
        } else {
            s.to_string()
        }
    }
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
}
