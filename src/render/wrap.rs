//! Word wrap for streamed text on a terminal: breaks lines at word boundaries before the right
//! edge, counting display columns (a CJK character takes two), one piece of text at a time.

use unicode_width::UnicodeWidthChar;

/// Wraps text that arrives in arbitrary pieces. A word is held back only while it might still fit
/// on the current line; a word longer than a whole line is broken wherever the edge falls.
#[derive(Debug, Clone)]
pub struct Wrapper {
    width: usize,
    col: usize,
    word: String,
    word_width: usize,
    /// The current word did not fit on a whole line and is being written as it comes.
    overflowing: bool,
}

impl Wrapper {
    /// `width` in columns; at least 2 so that a wide character always fits.
    pub fn new(width: usize) -> Self {
        Wrapper {
            width: width.max(2),
            col: 0,
            word: String::new(),
            word_width: 0,
            overflowing: false,
        }
    }

    /// Back to the start of an empty line, as `Wrapper::new` with the same width (the buffer of
    /// the held word is kept).
    pub fn reset(&mut self) {
        self.col = 0;
        self.word.clear();
        self.word_width = 0;
        self.overflowing = false;
    }

    pub fn width(&self) -> usize {
        self.width
    }

    /// Whether nothing is held back and the cursor is at the start of a line.
    pub fn at_line_start(&self) -> bool {
        self.col == 0 && self.word.is_empty()
    }

    /// Wraps `text` (already sanitised: no control characters but `\n` and `\t`) into `out`.
    pub fn push(&mut self, text: &str, out: &mut String) {
        for c in text.chars() {
            self.push_char(c, out);
        }
    }

    /// Writes out the word held back (at the end of a reply, or before styles change).
    pub fn flush(&mut self, out: &mut String) {
        out.push_str(&self.word);
        self.col += self.word_width;
        self.word.clear();
        self.word_width = 0;
    }

    fn newline(&mut self, out: &mut String) {
        out.push('\n');
        self.col = 0;
    }

    fn push_char(&mut self, c: char, out: &mut String) {
        match c {
            '\n' => {
                self.flush(out);
                self.overflowing = false;
                self.newline(out);
            }
            ' ' | '\t' => {
                self.flush(out);
                self.overflowing = false;
                let w = if c == '\t' { 8 - self.col % 8 } else { 1 };
                if self.col + w > self.width {
                    self.newline(out); // the break replaces the space
                } else {
                    out.push(c);
                    self.col += w;
                }
            }
            c => {
                let w = c.width().unwrap_or(0);
                if w >= 2 {
                    // Ideographs need no spaces to break between them.
                    self.flush(out);
                    self.overflowing = false;
                    if self.col + w > self.width {
                        self.newline(out);
                    }
                    out.push(c);
                    self.col += w;
                } else if self.overflowing {
                    if self.col + w > self.width {
                        self.newline(out);
                    }
                    out.push(c);
                    self.col += w;
                } else {
                    self.word.push(c);
                    self.word_width += w;
                    self.fit_word(out);
                }
            }
        }
    }

    /// Moves the held word to a new line when it no longer fits on this one, or starts writing it
    /// out when it is longer than a whole line.
    fn fit_word(&mut self, out: &mut String) {
        if self.col + self.word_width <= self.width {
            return;
        }
        if self.col > 0 && self.word_width <= self.width {
            self.newline(out);
            return;
        }
        if self.col > 0 {
            self.newline(out);
        }
        let word = std::mem::take(&mut self.word);
        self.word_width = 0;
        self.overflowing = true;
        for c in word.chars() {
            let w = c.width().unwrap_or(0);
            if self.col + w > self.width {
                self.newline(out);
            }
            out.push(c);
            self.col += w;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn wrap(width: usize, pieces: &[&str]) -> String {
        let mut w = Wrapper::new(width);
        let mut out = String::new();
        for p in pieces {
            w.push(p, &mut out);
        }
        w.flush(&mut out);
        out
    }

    #[test]
    fn breaks_at_spaces() {
        assert_eq!(
            wrap(10, &["the quick brown fox jumps"]),
            "the quick \nbrown fox \njumps"
        );
    }

    #[test]
    fn pieces_may_split_words_anywhere() {
        let whole = wrap(12, &["one two three four five six"]);
        let split = wrap(12, &["on", "e tw", "o thr", "ee four f", "ive six"]);
        assert_eq!(whole, split);
        for line in whole.lines() {
            assert!(line.trim_end().chars().count() <= 12, "{line:?}");
        }
    }

    #[test]
    fn newlines_reset_the_column() {
        assert_eq!(wrap(8, &["abc\ndefg hij"]), "abc\ndefg hij");
        assert_eq!(wrap(8, &["abcdefg\nhi"]), "abcdefg\nhi");
    }

    #[test]
    fn long_words_are_broken_at_the_edge() {
        assert_eq!(wrap(5, &["ab abcdefghijk x"]), "ab \nabcde\nfghij\nk x");
    }

    #[test]
    fn wide_characters_count_two_columns() {
        // 6 ideographs = 12 columns: 5 fit in 10 columns.
        assert_eq!(wrap(10, &["你好世界你好"]), "你好世界你\n好");
        assert_eq!(wrap(10, &["ab 你好世界"]), "ab 你好世\n界");
    }

    #[test]
    fn a_space_at_the_edge_becomes_the_break() {
        assert_eq!(wrap(5, &["abcde fg"]), "abcde\nfg");
    }

    #[test]
    fn held_word_is_not_written_until_known() {
        let mut w = Wrapper::new(20);
        let mut out = String::new();
        w.push("hello wor", &mut out);
        assert_eq!(out, "hello ");
        assert!(!w.at_line_start());
        w.push("ld", &mut out);
        w.flush(&mut out);
        assert_eq!(out, "hello world");
    }
}
