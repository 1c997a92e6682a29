//! Styled text for the markdown renderer: spans of text with their attributes, word wrap of spans
//! into rows, and the one function that turns a row into bytes with the renderer's own escapes.
//!
//! Span text is model text that was sanitised before it got here; a span never holds a newline.
//! Every styled span is closed with a reset, so a row that was written whole leaves no style open.

use unicode_width::UnicodeWidthChar;

use crate::table::width as text_width;

/// A colour: one of the terminal's palette (it follows the user's light or dark scheme) or an
/// exact one (the `dark` and `light` themes).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Color {
    Ansi(u8),
    Rgb(u8, u8, u8),
}

/// The SGR attributes of a span; the default is the terminal's own look.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Sgr {
    pub bold: bool,
    pub dim: bool,
    pub italic: bool,
    pub underline: bool,
    pub strike: bool,
    pub fg: Option<Color>,
}

impl Sgr {
    pub fn fg(n: u8) -> Sgr {
        Sgr {
            fg: Some(Color::Ansi(n)),
            ..Sgr::default()
        }
    }

    pub fn dim() -> Sgr {
        Sgr {
            dim: true,
            ..Sgr::default()
        }
    }

    fn is_plain(&self) -> bool {
        *self == Sgr::default()
    }

    /// The sequence, starting from a reset so nothing of the previous span leaks.
    fn write(&self, out: &mut String) {
        out.push_str("\x1b[0");
        for (on, code) in [
            (self.bold, ";1"),
            (self.dim, ";2"),
            (self.italic, ";3"),
            (self.underline, ";4"),
            (self.strike, ";9"),
        ] {
            if on {
                out.push_str(code);
            }
        }
        // Written in place: this runs for every styled span of every row.
        use std::fmt::Write as _;
        match self.fg {
            Some(Color::Ansi(n)) if n < 16 => {
                out.push_str(if n < 8 { ";3" } else { ";9" });
                out.push(char::from(b'0' + n % 8));
            }
            Some(Color::Ansi(n)) => {
                let _ = write!(out, ";38;5;{n}");
            }
            Some(Color::Rgb(r, g, b)) => {
                let _ = write!(out, ";38;2;{r};{g};{b}");
            }
            None => {}
        }
        out.push('m');
    }
}

/// Text in one style, perhaps a hyperlink (its target already checked by `inline::osc8_target`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Span {
    pub text: String,
    pub sgr: Sgr,
    pub link: Option<String>,
}

impl Span {
    pub fn new(text: impl Into<String>, sgr: Sgr) -> Span {
        Span {
            text: text.into(),
            sgr,
            link: None,
        }
    }

    pub fn plain(text: impl Into<String>) -> Span {
        Span::new(text, Sgr::default())
    }
}

/// One screen row.
pub type Row = Vec<Span>;

pub fn row_width(row: &[Span]) -> usize {
    row.iter().map(|s| text_width(&s.text)).sum()
}

/// Appends `row` to `out`: styles only with `color`, each span closed again.
pub fn write_row(row: &[Span], color: bool, out: &mut String) {
    // A style is closed before plain text and at the end of the row; the next span's own
    // sequence starts with a reset, so styled spans in a row need no close between them.
    let mut open = false;
    for span in row {
        let styled = color && !span.sgr.is_plain();
        if open && !styled {
            out.push_str("\x1b[0m");
            open = false;
        }
        if let Some(url) = &span.link {
            out.push_str("\x1b]8;;");
            out.push_str(url);
            out.push_str("\x1b\\");
        }
        if styled {
            span.sgr.write(out);
            open = true;
        }
        out.push_str(&span.text);
        if span.link.is_some() {
            out.push_str("\x1b]8;;\x1b\\");
        }
    }
    if open {
        out.push_str("\x1b[0m");
    }
}

/// Word wrap of spans to `width` columns, by the same rules as `render::wrap::Wrapper` (so an
/// unstyled line wraps exactly as it did while it streamed): breaks at spaces and around wide
/// characters, a space at the edge becomes the break, a word longer than a row is cut at the edge.
/// `first` starts the first row and `rest` every other (a list item's hanging indent).
pub fn wrap(spans: &[Span], width: Option<usize>, first: &[Span], rest: &[Span]) -> Vec<Row> {
    let fits = |w: usize| row_width(first) + row_width(spans) <= w;
    if width.is_none_or(fits) {
        // Most lines fit: one row, without filling character by character.
        vec![one_row(spans, first)]
    } else {
        fill(spans, width, first, rest)
    }
}

/// `first` and the spans in one row, joined where their styles meet, as filling joins them.
fn one_row(spans: &[Span], first: &[Span]) -> Row {
    let mut row = first.to_vec();
    for span in spans.iter().filter(|s| !s.text.is_empty()) {
        match row.last_mut() {
            Some(last) if last.sgr == span.sgr && last.link == span.link => {
                last.text.push_str(&span.text)
            }
            _ => row.push(span.clone()),
        }
    }
    row
}

fn fill(spans: &[Span], width: Option<usize>, first: &[Span], rest: &[Span]) -> Vec<Row> {
    let mut f = Filler {
        width: width.unwrap_or(usize::MAX),
        rows: Vec::new(),
        row: first.to_vec(),
        col: row_width(first),
        rest,
        rest_width: row_width(rest),
        word: Vec::new(),
        word_width: 0,
    };
    for (i, span) in spans.iter().enumerate() {
        for c in span.text.chars() {
            f.push(c, i, spans);
        }
    }
    f.end_word(spans);
    f.rows.push(f.row);
    f.rows
}

struct Filler<'a> {
    width: usize,
    rows: Vec<Row>,
    row: Row,
    col: usize,
    rest: &'a [Span],
    rest_width: usize,
    /// The word being read: characters and the span each came from.
    word: Vec<(char, usize)>,
    word_width: usize,
}

impl Filler<'_> {
    fn push(&mut self, c: char, span: usize, spans: &[Span]) {
        let w = c.width().unwrap_or(0);
        if c == ' ' {
            self.end_word(spans);
            if self.col + 1 > self.width {
                self.newline();
            } else {
                self.put(c, span, spans);
            }
        } else if w >= 2 {
            self.end_word(spans);
            if self.col + w > self.width {
                self.newline();
            }
            self.put(c, span, spans);
        } else {
            self.word.push((c, span));
            self.word_width += w;
        }
    }

    fn end_word(&mut self, spans: &[Span]) {
        if self.word.is_empty() {
            return;
        }
        let word = std::mem::take(&mut self.word);
        let w = std::mem::take(&mut self.word_width);
        let start = self.row_start();
        if self.col + w > self.width {
            if self.col > start && w <= self.width.saturating_sub(self.rest_width) {
                self.newline();
            } else {
                if self.col > start {
                    self.newline();
                }
                for (c, i) in word {
                    if self.col + c.width().unwrap_or(0) > self.width && self.col > self.row_start()
                    {
                        self.newline();
                    }
                    self.put(c, i, spans);
                }
                return;
            }
        }
        for (c, i) in word {
            self.put(c, i, spans);
        }
    }

    fn row_start(&self) -> usize {
        if self.rows.is_empty() {
            0
        } else {
            self.rest_width
        }
    }

    fn newline(&mut self) {
        let row = std::mem::replace(&mut self.row, self.rest.to_vec());
        self.rows.push(row);
        self.col = self.rest_width;
    }

    fn put(&mut self, c: char, span: usize, spans: &[Span]) {
        self.col += c.width().unwrap_or(0);
        let from = &spans[span];
        match self.row.last_mut() {
            Some(last) if last.sgr == from.sgr && last.link == from.link => last.text.push(c),
            _ => self.row.push(Span {
                text: c.to_string(),
                sgr: from.sgr,
                link: from.link.clone(),
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(rows: &[Row]) -> Vec<String> {
        rows.iter()
            .map(|r| r.iter().map(|s| s.text.as_str()).collect())
            .collect()
    }

    #[test]
    fn wraps_like_the_streaming_wrapper() {
        let mut w = crate::render::wrap::Wrapper::new(12);
        let src = "one two three four five six 你好世界你好世界 abcdefghijklmnopq end";
        let mut expect = String::new();
        w.push(src, &mut expect);
        w.flush(&mut expect);
        let rows = wrap(&[Span::plain(src)], Some(12), &[], &[]);
        assert_eq!(text(&rows).join("\n"), expect);
    }

    #[test]
    fn a_hanging_indent_starts_every_row_but_the_first() {
        let rows = wrap(
            &[Span::plain("alpha beta gamma")],
            Some(10),
            &[Span::plain("• ")],
            &[Span::plain("  ")],
        );
        assert_eq!(text(&rows), ["• alpha ", "  beta ", "  gamma"]);
    }

    #[test]
    fn styles_follow_their_characters_across_a_break() {
        let bold = Sgr {
            bold: true,
            ..Sgr::default()
        };
        let rows = wrap(
            &[Span::plain("a "), Span::new("bold word", bold)],
            Some(6),
            &[],
            &[],
        );
        assert_eq!(text(&rows), ["a bold", "word"]);
        assert_eq!(rows[1][0].sgr, bold);
    }

    #[test]
    fn a_row_that_fits_is_the_row_filling_gives() {
        let bold = Sgr {
            bold: true,
            ..Sgr::default()
        };
        let link = Span {
            text: "l k".into(),
            sgr: Sgr::default(),
            link: Some("https://a.example/".into()),
        };
        let spans = [
            Span::plain(""),
            Span::plain("a "),
            Span::plain("b"),
            Span::new(" 你好 ", bold),
            Span::new("c", bold),
            link.clone(),
            link,
            Span::plain(" end "),
        ];
        let firsts = [vec![], vec![Span::plain("• ")], vec![Span::new("│ ", bold)]];
        for first in &firsts {
            for n in 0..=spans.len() {
                let part = &spans[..n];
                let need = row_width(first) + row_width(part);
                for width in [Some(need), Some(need + 3), None] {
                    assert_eq!(
                        wrap(part, width, first, &[]),
                        fill(part, width, first, &[]),
                        "{n} spans, width {width:?}"
                    );
                }
            }
        }
    }

    #[test]
    fn no_width_means_one_row() {
        let rows = wrap(&[Span::plain("a b c")], None, &[Span::plain("> ")], &[]);
        assert_eq!(text(&rows), ["> a b c"]);
    }

    #[test]
    fn rows_close_every_style_they_open() {
        let mut out = String::new();
        let row = vec![
            Span::new("x", Sgr::fg(4)),
            Span {
                text: "l".into(),
                sgr: Sgr::default(),
                link: Some("https://a.example/".into()),
            },
        ];
        write_row(&row, true, &mut out);
        assert_eq!(
            out,
            "\x1b[0;34mx\x1b[0m\x1b]8;;https://a.example/\x1b\\l\x1b]8;;\x1b\\"
        );
        out.clear();
        write_row(&row, false, &mut out);
        assert_eq!(out, "x\x1b]8;;https://a.example/\x1b\\l\x1b]8;;\x1b\\");
    }
}
