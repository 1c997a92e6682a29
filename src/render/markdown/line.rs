//! One complete markdown line (outside code blocks and tables) into styled rows, with
//! pulldown-cmark as the parser: the line's leading indent is kept as it was typed, the rest is
//! parsed as a document of its own, and its block (heading, list item, quote, rule, paragraph)
//! and inline parts (emphasis, code, links) become spans. A line is rendered once, when it is
//! complete, without the lines after it: emphasis that runs across a line break stays literal,
//! and a setext underline (`---` under text) is shown as a rule.

use pulldown_cmark::{CodeBlockKind, Event, Options, Parser, Tag, TagEnd};

use super::spans::{row_width, wrap, Color, Row, Sgr, Span};
use super::Look;

/// What the parser is asked to recognise besides CommonMark.
pub(super) fn options() -> Options {
    Options::ENABLE_TABLES | Options::ENABLE_STRIKETHROUGH | Options::ENABLE_TASKLISTS
}

/// The span styles of the default look.
pub(super) mod look {
    use super::{Color, Sgr};

    pub const CODE: Sgr = Sgr {
        bold: false,
        dim: false,
        italic: false,
        underline: false,
        strike: false,
        fg: Some(Color::Ansi(6)),
    };
    pub const LINK: Sgr = Sgr {
        bold: false,
        dim: false,
        italic: false,
        underline: true,
        strike: false,
        fg: Some(Color::Ansi(4)),
    };
    pub const MARKER: Sgr = Sgr {
        bold: true,
        dim: false,
        italic: false,
        underline: false,
        strike: false,
        fg: Some(Color::Ansi(6)),
    };
}

/// Builds spans from inline events (shared with table cells).
pub(super) struct Inline<'a> {
    look: &'a Look,
    pub spans: Vec<Span>,
    styles: Vec<Sgr>,
    /// An open link: its target and the first span of its text.
    link: Option<(String, usize)>,
}

impl<'a> Inline<'a> {
    pub fn new(look: &'a Look, base: Sgr) -> Self {
        Inline {
            look,
            spans: Vec::new(),
            styles: vec![base],
            link: None,
        }
    }

    fn style(&self) -> Sgr {
        self.styles.last().copied().unwrap_or_default()
    }

    fn push(&mut self, text: &str, sgr: Sgr) {
        // Tabs inside a paragraph would be measured wrong by the wrap; a space does.
        let text = text.replace('\t', "    ");
        match self.spans.last_mut() {
            Some(last) if last.sgr == sgr && last.link.is_none() => last.text.push_str(&text),
            _ => self.spans.push(Span::new(text, sgr)),
        }
    }

    fn with(&mut self, f: impl FnOnce(&mut Sgr)) {
        let mut s = self.style();
        f(&mut s);
        self.styles.push(s);
    }

    /// Takes one inline event; `false` for an event that is not inline.
    pub fn event(&mut self, event: &Event<'_>) -> bool {
        match event {
            Event::Text(t) | Event::Html(t) | Event::InlineHtml(t) => self.push(t, self.style()),
            Event::Code(t) => {
                if self.look.color {
                    let mut s = self.style();
                    s.fg = look::CODE.fg;
                    self.push(t, s);
                } else {
                    self.push(&format!("`{t}`"), self.style());
                }
            }
            Event::InlineMath(t) | Event::DisplayMath(t) => self.push(t, self.style()),
            Event::SoftBreak | Event::HardBreak => self.push(" ", self.style()),
            Event::FootnoteReference(t) => self.push(&format!("[^{t}]"), self.style()),
            Event::Start(Tag::Emphasis) => self.with(|s| s.italic = true),
            Event::Start(Tag::Strong) => self.with(|s| s.bold = true),
            Event::Start(Tag::Strikethrough) => self.with(|s| s.strike = true),
            Event::Start(Tag::Link { dest_url, .. }) => {
                self.link = Some((dest_url.to_string(), self.spans.len()));
                self.with(|s| {
                    s.underline = true;
                    s.fg = look::LINK.fg;
                });
            }
            Event::Start(Tag::Image { .. }) => {
                self.push("[image: ", self.style());
                self.link = None;
            }
            Event::End(TagEnd::Emphasis | TagEnd::Strong | TagEnd::Strikethrough) => {
                self.styles.pop();
            }
            Event::End(TagEnd::Link) => {
                self.styles.pop();
                self.end_link();
            }
            Event::End(TagEnd::Image) => self.push("]", self.style()),
            _ => return false,
        }
        true
    }

    /// A link is a hyperlink where the terminal shows them and the target is safe to put in an
    /// escape sequence; otherwise its target follows the text, unless the text is the target.
    fn end_link(&mut self) {
        let Some((url, first)) = self.link.take() else {
            return;
        };
        let text: String = self.spans[first..]
            .iter()
            .map(|s| s.text.as_str())
            .collect();
        if self.look.hyperlinks {
            if let Some(target) = osc8_target(&url) {
                for s in &mut self.spans[first..] {
                    s.link = Some(target.clone());
                }
                return;
            }
        }
        let bare = url.strip_prefix("mailto:").unwrap_or(&url);
        if !url.is_empty() && text != url && text != bare {
            self.spans.push(Span::new(format!(" ({url})"), Sgr::dim()));
        }
    }
}

/// A link target fit for an OSC 8 sequence: a web or mail address, printable ASCII only (other
/// bytes percent-encoded), so that no ESC, BEL or string terminator (7-bit or C1) can end the
/// sequence early and start one of the model's. Anything else is `None` and shown as text.
pub fn osc8_target(url: &str) -> Option<String> {
    let lower = url.to_ascii_lowercase();
    if !["http://", "https://", "mailto:"]
        .iter()
        .any(|s| lower.starts_with(s))
    {
        return None;
    }
    let mut out = String::with_capacity(url.len());
    for b in url.bytes() {
        match b {
            0x21..=0x7e => out.push(b as char),
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    (out.len() <= 2048).then_some(out)
}

/// A fence that opens a code block: its character, run length and language (the first word of
/// the info string, as the model wrote it; it is shown only, never used in an escape).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fence {
    pub ch: char,
    pub len: usize,
    pub lang: String,
}

/// `Some` when `stripped` (a line without its indent) opens a fenced code block, as the parser
/// sees it: "```a`b" opens none, for one.
pub fn fence_open(stripped: &str) -> Option<Fence> {
    let ch = stripped.chars().next().filter(|c| *c == '`' || *c == '~')?;
    let len = stripped.chars().take_while(|c| *c == ch).count();
    if len < 3 {
        return None;
    }
    match Parser::new_ext(stripped, options()).next() {
        Some(Event::Start(Tag::CodeBlock(CodeBlockKind::Fenced(info)))) => Some(Fence {
            ch,
            len,
            lang: info.split_whitespace().next().unwrap_or("").to_string(),
        }),
        _ => None,
    }
}

/// Whether `stripped` closes the block `open` opened: the same character, at least as many, and
/// nothing after but spaces.
pub fn fence_close(stripped: &str, open: &Fence) -> bool {
    let n = stripped.chars().take_while(|c| *c == open.ch).count();
    n >= open.len && stripped[n * open.ch.len_utf8()..].trim().is_empty()
}

/// A line that may be a row of a pipe table (the tables models write start with `|`).
pub fn table_row(stripped: &str) -> bool {
    stripped.starts_with('|')
}

/// A pipe table's delimiter row (`|---|:--:|`), as far as its characters go; the parser decides
/// for the whole table.
pub fn table_delimiter(stripped: &str) -> bool {
    table_row(stripped)
        && stripped.contains('-')
        && stripped
            .chars()
            .all(|c| matches!(c, '|' | '-' | ':' | ' ' | '\t'))
}

/// The columns a line's leading spaces and tabs take (a tab counts four), and the rest.
pub fn split_indent(line: &str) -> (usize, &str) {
    let rest = line.trim_start_matches([' ', '\t']);
    let cols = line[..line.len() - rest.len()]
        .chars()
        .map(|c| if c == '\t' { 4 } else { 1 })
        .sum();
    (cols, rest)
}

/// A horizontal rule across the row, dim.
pub fn rule(look: &Look, prefix: Row, width: usize, label: &str) -> Row {
    let mut row = prefix;
    let used = row_width(&row);
    let label = if label.is_empty() {
        String::new()
    } else {
        format!("── {label} ")
    };
    let fill = width
        .saturating_sub(used + crate::table::width(&label))
        .clamp(3, 80);
    row.push(Span::new(
        format!("{label}{}", "─".repeat(fill)),
        look.sgr(Sgr::dim()),
    ));
    row
}

const BULLETS: [&str; 3] = ["•", "◦", "▪"];

/// Renders one complete line that is neither code nor part of a table.
pub fn render_line(line: &str, look: &Look, width: usize, wrap_at: Option<usize>) -> Vec<Row> {
    let (indent, stripped) = split_indent(line);
    if stripped.is_empty() {
        return vec![Row::new()];
    }
    let mut quotes = 0;
    let mut list: Option<Option<u64>> = None;
    let mut marker: Option<String> = None;
    let mut task: Option<bool> = None;
    let mut heading: Option<usize> = None;
    let mut is_rule = false;
    let mut inline = Inline::new(look, Sgr::default());
    let mut any = false;
    for event in Parser::new_ext(stripped, options()) {
        any = true;
        match &event {
            Event::Start(Tag::BlockQuote(_)) => quotes += 1,
            Event::Start(Tag::List(start)) => list = Some(*start),
            Event::Start(Tag::Item) => {
                marker = Some(match list.flatten() {
                    Some(n) => format!("{n}. "),
                    None => format!("{} ", BULLETS[(indent / 2) % BULLETS.len()]),
                });
            }
            Event::TaskListMarker(done) => task = Some(*done),
            // A fence inside a quote or a list marker on the same line: shown as typed.
            Event::Start(Tag::CodeBlock(CodeBlockKind::Fenced(info))) => {
                inline.push(&format!("```{info}"), look.sgr(Sgr::dim()));
            }
            Event::Start(Tag::Heading { level, .. }) => heading = Some(*level as usize),
            Event::Rule => is_rule = true,
            _ => {
                inline.event(&event);
            }
        }
    }
    if !any {
        // A link reference definition, say: nothing to show but what was typed.
        inline.push(stripped, Sgr::default());
    }
    let mut first: Row = Vec::new();
    if indent > 0 {
        first.push(Span::plain(" ".repeat(indent)));
    }
    for _ in 0..quotes {
        first.push(Span::new("│ ", look.sgr(Sgr::dim())));
    }
    let mut rest = first.clone();
    if let Some(m) = marker {
        rest.push(Span::plain(" ".repeat(crate::table::width(&m))));
        first.push(Span::new(m, look.sgr(look::MARKER)));
    }
    if let Some(done) = task {
        let (mark, sgr) = if done {
            ("[x] ", Sgr::fg(2))
        } else {
            ("[ ] ", Sgr::default())
        };
        first.push(Span::new(mark, look.sgr(sgr)));
        rest.push(Span::plain("    "));
    }
    if is_rule {
        return vec![rule(look, first, width, "")];
    }
    let mut spans = inline.spans;
    if let Some(level) = heading {
        if look.color {
            for s in &mut spans {
                s.sgr.bold = true;
                s.sgr.underline |= level == 1;
                if s.sgr.fg.is_none() {
                    s.sgr.fg = Some(Color::Ansi(5));
                }
            }
        } else {
            first.push(Span::plain(format!("{} ", "#".repeat(level))));
        }
    }
    if !look.color {
        for s in &mut spans {
            s.sgr = Sgr::default();
        }
    }
    wrap(&spans, wrap_at, &first, &rest)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn look(color: bool) -> Look {
        Look {
            color,
            hyperlinks: false,
        }
    }

    fn plain(line: &str) -> Vec<String> {
        render_line(line, &look(false), 40, Some(40))
            .iter()
            .map(|r| r.iter().map(|s| s.text.as_str()).collect())
            .collect()
    }

    #[test]
    fn blocks_keep_their_structure_without_colour() {
        assert_eq!(plain("## Setup"), ["## Setup"]);
        assert_eq!(plain("- item"), ["• item"]);
        assert_eq!(plain("  - nested"), ["  ◦ nested"]);
        assert_eq!(plain("3. third"), ["3. third"]);
        assert_eq!(plain("- [ ] todo"), ["• [ ] todo"]);
        assert_eq!(plain("- [x] done"), ["• [x] done"]);
        assert_eq!(plain("> quoted *text*"), ["│ quoted text"]);
        assert_eq!(plain("use `cargo` now"), ["use `cargo` now"]);
        assert_eq!(plain("---")[0].chars().filter(|c| *c == '─').count(), 40);
        assert_eq!(plain(""), [""]);
        assert_eq!(plain("[1]: https://x.example"), ["[1]: https://x.example"]);
    }

    #[test]
    fn malformed_markup_stays_literal() {
        assert_eq!(plain("**not closed"), ["**not closed"]);
        assert_eq!(plain("`open code"), ["`open code"]);
        assert_eq!(plain("[text](unclosed"), ["[text](unclosed"]);
        assert_eq!(plain("#hashtag"), ["#hashtag"]);
        assert_eq!(plain("| a | b |"), ["| a | b |"]);
        assert_eq!(plain("-"), ["• "]);
        assert_eq!(plain("> ```py"), ["│ ```py"]);
    }

    #[test]
    fn links_show_their_target_unless_it_is_the_text() {
        assert_eq!(
            plain("see [docs](https://d.example/x)"),
            ["see docs (https://d.example/x)"]
        );
        assert_eq!(plain("<https://d.example>"), ["https://d.example"]);
        let rows = render_line(
            "[docs](https://d.example/ü)",
            &Look {
                color: true,
                hyperlinks: true,
            },
            40,
            None,
        );
        assert_eq!(rows[0][0].link.as_deref(), Some("https://d.example/%C3%BC"));
    }

    #[test]
    fn osc8_targets_are_printable_ascii_web_or_mail_addresses() {
        assert_eq!(osc8_target("javascript:alert(1)"), None);
        assert_eq!(osc8_target("file:///etc/passwd"), None);
        assert_eq!(osc8_target("x"), None);
        assert_eq!(
            osc8_target("https://a.example/\x1b\\\x07\u{9c} b").as_deref(),
            Some("https://a.example/%1B\\%07%C2%9C%20b")
        );
        assert_eq!(
            osc8_target("MAILTO:a@b.example").as_deref(),
            Some("MAILTO:a@b.example")
        );
    }

    #[test]
    fn list_items_wrap_under_their_text() {
        let rows: Vec<String> = render_line("- one two three four", &look(false), 12, Some(12))
            .iter()
            .map(|r| r.iter().map(|s| s.text.as_str()).collect())
            .collect();
        assert_eq!(rows, ["• one two ", "  three four"]);
    }

    #[test]
    fn fences_open_and_close_as_commonmark_says() {
        let f = fence_open("```rust title").unwrap();
        assert_eq!((f.ch, f.len, f.lang.as_str()), ('`', 3, "rust"));
        assert_eq!(fence_open("~~~~").unwrap().len, 4);
        assert_eq!(fence_open("``"), None);
        assert_eq!(fence_open("```a`b"), None, "a backtick in the info string");
        assert_eq!(fence_open("text"), None);
        assert!(fence_close("```", &f));
        assert!(fence_close("````  ", &f));
        assert!(!fence_close("``", &f));
        assert!(!fence_close("~~~", &f));
        assert!(!fence_close("``` rust", &f));
    }

    #[test]
    fn table_rows_and_delimiters() {
        assert!(table_row("| a |"));
        assert!(!table_row("a | b"));
        assert!(table_delimiter("|---|:--:|"));
        assert!(table_delimiter("| --- | --- |"));
        assert!(!table_delimiter("| a |"));
        assert!(!table_delimiter("|||"));
    }

    #[test]
    fn indents_count_tabs_as_four() {
        assert_eq!(split_indent("\t  x"), (6, "x"));
        assert_eq!(split_indent("x"), (0, "x"));
        assert_eq!(split_indent("   "), (3, ""));
    }
}
