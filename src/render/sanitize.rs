//! Makes untrusted model text harmless for a terminal: no escape sequences, no cursor movement,
//! no hidden bidirectional reordering.

use std::borrow::Cow;

/// Returns `text` with every character that could steer the terminal replaced by a visible stand-in.
/// Newlines and tabs pass; carriage returns are dropped (they could overwrite a line); other C0
/// controls and DEL become Unicode "control pictures" (ESC shows as ␛); C1 controls and bidi
/// overrides become `<U+XXXX>`. Text that needs no change is returned without copying.
pub fn sanitize(text: &str) -> Cow<'_, str> {
    if text.bytes().all(is_plain_byte) {
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

/// Bytes that can never start or be part of a dangerous character. 0xC2 leads the C1 controls and
/// 0xE2 the bidi overrides; they send the text down the careful path.
fn is_plain_byte(b: u8) -> bool {
    (b >= 0x20 && b != 0x7f && b != 0xc2 && b != 0xe2) || b == b'\n' || b == b'\t'
}

#[cfg(test)]
mod tests {
    use super::*;

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
