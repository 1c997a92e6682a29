//! Text from outside the user's own keyboard and flags — server errors, model names and facts,
//! session and log fields, file contents — is hostile: it can hold terminal escapes (set the window
//! title, write the clipboard with OSC 52, make the terminal answer a query into the input) or
//! bidi overrides that reorder what a person reads. This module is the one sanitiser and the
//! [`Untrusted`] type that carries such text from where it enters to where it is printed, and
//! can only be displayed sanitised.

use std::borrow::Cow;
use std::fmt;

use serde::{Deserialize, Serialize};

/// A string from outside. `Display` (and `Debug`) show it sanitised, so printing it anywhere is
/// safe by construction; [`Untrusted::raw`] gives the bytes as they came, for what goes back to a
/// server, into a file, or to a pipe that must stay byte-exact — never to a terminal.
#[derive(Clone, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Untrusted(String);

impl Untrusted {
    pub fn new(text: impl Into<String>) -> Self {
        Untrusted(text.into())
    }

    /// The text as it came: for requests, files and byte-exact pipes, not for a terminal.
    pub fn raw(&self) -> &str {
        &self.0
    }

    pub fn into_raw(self) -> String {
        self.0
    }

    /// Changes the raw text, e.g. to blank a secret the server echoed.
    pub fn edit(&mut self, f: impl FnOnce(&mut String)) {
        f(&mut self.0)
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Sanitised for a terminal.
    pub fn shown(&self) -> Cow<'_, str> {
        sanitize(&self.0)
    }

    /// Sanitised onto one line (newlines and tabs shown as spaces), for a table cell or a note.
    pub fn one_line(&self) -> Cow<'_, str> {
        sanitize_line(&self.0)
    }
}

/// The same for a field that may be absent.
pub trait MaybeUntrusted {
    /// The text as it came, if any: not for a terminal.
    fn raw(&self) -> Option<&str>;
    /// Sanitised, or empty when absent.
    fn shown(&self) -> String;
}

impl MaybeUntrusted for Option<Untrusted> {
    fn raw(&self) -> Option<&str> {
        self.as_ref().map(Untrusted::raw)
    }

    fn shown(&self) -> String {
        self.as_ref().map(Untrusted::to_string).unwrap_or_default()
    }
}

impl fmt::Display for Untrusted {
    /// Sanitised; width and alignment flags (`{:<20}`) apply to what is shown.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(&sanitize(&self.0))
    }
}

impl fmt::Debug for Untrusted {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&*sanitize(&self.0), f)
    }
}

impl From<String> for Untrusted {
    fn from(s: String) -> Self {
        Untrusted(s)
    }
}

impl From<&str> for Untrusted {
    fn from(s: &str) -> Self {
        Untrusted(s.to_string())
    }
}

impl PartialEq<str> for Untrusted {
    fn eq(&self, other: &str) -> bool {
        self.0 == other
    }
}

impl PartialEq<&str> for Untrusted {
    fn eq(&self, other: &&str) -> bool {
        self.0 == *other
    }
}

/// [`sanitize`], and newlines and tabs become spaces: for text that must stay on one line (a table
/// cell, a one-line diagnostic).
pub fn sanitize_line(text: &str) -> Cow<'_, str> {
    if all_bytes(text, |b| is_plain_byte(b) && b != b'\n' && b != b'\t') {
        return Cow::Borrowed(text);
    }
    if !text.contains(['\n', '\t']) {
        return sanitize(text);
    }
    Cow::Owned(sanitize(&text.replace(['\n', '\t'], " ")).into_owned())
}

/// Returns `text` with every character that could steer the terminal replaced by a visible stand-in.
/// Newlines and tabs pass; carriage returns are dropped (they could overwrite a line); other C0
/// controls and DEL become Unicode "control pictures" (ESC shows as ␛); C1 controls and bidi
/// overrides become `<U+XXXX>`. Text that needs no change is returned without copying.
pub fn sanitize(text: &str) -> Cow<'_, str> {
    if all_bytes(text, is_plain_byte) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        match c {
            '\n' | '\t' => out.push(c),
            '\r' => {}
            '\u{0}'..='\u{1f}' => out.push(char::from_u32(0x2400 + c as u32).unwrap_or('?')),
            '\u{7f}' => out.push('\u{2421}'),
            '\u{80}'..='\u{9f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}' => {
                out.push_str(&format!("<U+{:04X}>", c as u32));
            }
            _ => out.push(c),
        }
    }
    Cow::Owned(out)
}

/// Whether every byte of `text` passes `ok`, looked at 32 at a time without stopping inside a
/// chunk (which the compiler turns into vector instructions): most text needs no change, and
/// a list of ten thousand sessions checks every cell.
fn all_bytes(text: &str, ok: impl Fn(u8) -> bool) -> bool {
    let mut chunks = text.as_bytes().chunks_exact(32);
    for chunk in &mut chunks {
        if !chunk.iter().fold(true, |all, &b| all & ok(b)) {
            return false;
        }
    }
    chunks.remainder().iter().all(|&b| ok(b))
}

/// Bytes that can never start or be part of a dangerous character. 0xC2 leads the C1 controls and
/// 0xE2 the bidi overrides; they send the text down the careful path.
fn is_plain_byte(b: u8) -> bool {
    (b >= 0x20 && b != 0x7f && b != 0xc2 && b != 0xe2) || b == b'\n' || b == b'\t'
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bad_byte_is_found_at_every_place_in_and_across_chunks() {
        for len in [1, 31, 32, 33, 64, 70] {
            for at in 0..len {
                for bad in ["\x1b", "\n", "\u{9b}", "\u{202e}"] {
                    let mut text = "x".repeat(len);
                    text.replace_range(at..at + 1, bad);
                    let line = sanitize_line(&text);
                    assert!(matches!(line, Cow::Owned(_)), "{len} {at} {bad:?}");
                    assert!(!line.contains(['\x1b', '\n', '\u{9b}', '\u{202e}']));
                    assert_eq!(matches!(sanitize(&text), Cow::Owned(_)), bad != "\n");
                }
            }
            assert!(matches!(sanitize_line(&"y".repeat(len)), Cow::Borrowed(_)));
        }
    }

    #[test]
    fn untrusted_displays_sanitised_and_keeps_the_raw_text() {
        let t = Untrusted::new("a\x1b]52;c;ZXZpbA==\x07\u{202e}b");
        assert_eq!(t.to_string(), "a␛]52;c;ZXZpbA==␇<U+202E>b");
        assert_eq!(format!("{t:?}"), "\"a␛]52;c;ZXZpbA==␇<U+202E>b\"");
        assert_eq!(t.raw(), "a\x1b]52;c;ZXZpbA==\x07\u{202e}b");
        assert_eq!(format!("[{:<4}]", Untrusted::new("x\x07")), "[x␇  ]");
        let json = serde_json::to_string(&t).unwrap();
        assert_eq!(serde_json::from_str::<Untrusted>(&json).unwrap(), t);
    }

    #[test]
    fn one_line_flattens_newlines_and_tabs() {
        assert_eq!(sanitize_line("a\nb\tc\x1b"), "a b c␛");
        assert_eq!(Untrusted::new("x\ny").one_line(), "x y");
    }

    #[test]
    fn plain_text_is_not_copied() {
        assert!(matches!(sanitize("hello, 世界\n\tok"), Cow::Borrowed(_)));
    }

    #[test]
    fn escape_sequences_are_neutralised() {
        // Clear screen, move cursor, set title, OSC 52 clipboard write.
        let evil = "a\x1b[2J\x1b[H\x1b]0;pwned\x07\x1b]52;c;ZXZpbA==\x07b";
        let safe = sanitize(evil);
        assert!(!safe.contains('\x1b'));
        assert!(!safe.contains('\x07'));
        assert_eq!(safe, "a␛[2J␛[H␛]0;pwned␇␛]52;c;ZXZpbA==␇b");
    }

    #[test]
    fn carriage_return_backspace_and_del() {
        assert_eq!(sanitize("line\r\nnext"), "line\nnext");
        assert_eq!(sanitize("safe\rEVIL"), "safeEVIL");
        assert_eq!(sanitize("a\x08b\x7f"), "a␈b␡");
    }

    #[test]
    fn c1_controls_and_bidi_overrides() {
        assert_eq!(sanitize("x\u{9b}31m"), "x<U+009B>31m");
        assert_eq!(sanitize("abc\u{202e}fed"), "abc<U+202E>fed");
        assert_eq!(sanitize("\u{2066}x\u{2069}"), "<U+2066>x<U+2069>");
    }

    #[test]
    fn harmless_characters_sharing_lead_bytes_survive() {
        // U+00E9 (0xC3), U+00A0 (0xC2 0xA0), U+2014 em dash (0xE2), emoji ZWJ sequences.
        assert_eq!(sanitize("café\u{a0}— 👨‍👩‍👧"), "café\u{a0}— 👨‍👩‍👧");
    }
}
