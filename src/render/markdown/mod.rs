//! Replies rendered as markdown on a terminal, as they stream.
//!
//! Layout: `line` (one complete line: block and inline markup, with pulldown-cmark); `table`
//! (a pipe table once it is complete); `highlight` (code lines, with syntect); `spans` (styled
//! text, its word wrap, its bytes); this file (the streaming: what is shown while a line is
//! incomplete and how it is replaced).
//!
//! How a line streams: the current, incomplete line is shown as it arrives, sanitised and
//! word-wrapped exactly as without markdown, so the first token shows at once. When the line
//! is complete it is rendered once: the cursor goes back to where the line started (`\r`, and
//! up by the rows its wrapping took, which the renderer counted), clears to the end of the
//! screen, and writes the styled rows. A line that renders as it was typed (plain prose) is not
//! rewritten at all. Nothing above the current line is touched, except a table: a line starting
//! with `|` is held on screen as typed until the next line says whether it is a table's header;
//! a table's other rows are not shown until the table ends, then it replaces its header line,
//! laid out to the width. Code lines are highlighted one by one as each ends, and never wrapped
//! (the terminal folds a long one; copying keeps it whole). Thinking is not rendered here.
//!
//! Text comes in sanitised (`crate::untrusted::sanitize`), so a reply holds no control character
//! by the time its markup is read; the only escapes written are this module's own (SGR styles
//! closed on every row, cursor up, clear, OSC 8 with a checked target).

pub mod highlight;
mod line;
mod spans;
mod table;

#[cfg(test)]
mod screen;
#[cfg(test)]
mod tests;

use std::io::{self, Write};

use unicode_width::UnicodeWidthChar;

use super::wrap::Wrapper;
pub use highlight::Theme;
use highlight::{Code, PaletteRules};
use line::{fence_close, fence_open, render_line, rule, split_indent, Fence};
use spans::{write_row, Row, Sgr, Span};

/// How much styling the terminal gets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Look {
    /// Colours and attributes (off: structure only, for NO_COLOR and `--color never`).
    pub color: bool,
    /// OSC 8 hyperlinks.
    pub hyperlinks: bool,
}

impl Look {
    /// `s`, or no style without colour.
    pub fn sgr(&self, s: Sgr) -> Sgr {
        if self.color {
            s
        } else {
            Sgr::default()
        }
    }
}

/// What a caller decides for a reply rendered as markdown, from its `Term` and settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MarkdownView {
    pub theme: Theme,
    pub hyperlinks: bool,
    /// Columns, for tables and rules (and the wrap, when the renderer wraps).
    pub width: usize,
    /// Rows of the terminal, when known: a line that took more cannot be reached to restyle.
    pub height: Option<usize>,
}

impl MarkdownView {
    /// For replies on stdout: `Some` only when stdout is a terminal (never a pipe, whatever
    /// colour is forced there) and markdown is `on`; the width and height asked now, as the
    /// window may have been resized.
    pub fn for_stdout(term: &crate::term::Term, on: bool, theme: Theme) -> Option<MarkdownView> {
        (on && term.stdout.tty).then(|| MarkdownView {
            theme,
            hyperlinks: term.hyperlinks,
            width: term.current_width(),
            height: term.current_height(),
        })
    }
}

/// Rows assumed when the terminal does not say.
const DEFAULT_HEIGHT: usize = 24;

enum Block {
    Text,
    Code { fence: Fence, code: Box<Code> },
}

/// Whether the current line is being shown as it arrives.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Echo {
    /// Not yet known (only spaces so far, after a line that may be a table's header).
    Undecided,
    Shown,
    /// A table row while a table is held: shown when the table is complete.
    Held,
}

/// The streaming markdown renderer of one reply.
pub struct Markdown {
    look: Look,
    theme: Theme,
    width: usize,
    wrap: bool,
    max_rows: usize,
    block: Block,
    /// The current line as far as it came (sanitised).
    line: String,
    /// Bytes of `line` shown.
    shown: usize,
    echo: Echo,
    /// What showing the current line wrote (with the wrapper's line breaks).
    echo_text: String,
    /// Word wrap of the current line as it is shown (text lines, when the reply is wrapped).
    wrapper: Option<Wrapper>,
    /// Where the cursor is, in rows below the line's first and columns, after a line not written
    /// through the wrapper (the terminal folds it).
    soft: Fold,
    /// Lines held back: a possible table header, then the table's rows.
    held: Vec<String>,
    table: bool,
    /// Rows the held lines take on screen (the header as typed, and its line break).
    held_rows: usize,
    /// Bytes for the terminal, written at the end of each call.
    out: String,
    /// A styled line being built, kept for its buffer.
    styled: String,
    /// The palette's style for each scope, learnt once for every code block of the reply.
    rules: PaletteRules,
}

impl Markdown {
    /// `color` and `wrap` as the renderer has them; the rest from `view`.
    pub fn new(view: MarkdownView, color: bool, wrap: bool) -> Markdown {
        let width = view.width.max(crate::term::MIN_WIDTH);
        Markdown {
            look: Look {
                color,
                hyperlinks: view.hyperlinks,
            },
            theme: view.theme,
            width,
            wrap,
            max_rows: view
                .height
                .unwrap_or(DEFAULT_HEIGHT)
                .saturating_sub(1)
                .max(1),
            block: Block::Text,
            line: String::new(),
            shown: 0,
            echo: Echo::Undecided,
            echo_text: String::new(),
            wrapper: wrap.then(|| Wrapper::new(width)),
            soft: Fold::default(),
            held: Vec::new(),
            table: false,
            held_rows: 0,
            out: String::new(),
            styled: String::new(),
            rules: PaletteRules::default(),
        }
    }

    /// Whether everything shown ends a line.
    pub fn at_line_start(&self) -> bool {
        self.line.is_empty()
    }

    /// Takes the next piece of the reply, already sanitised.
    pub fn push<W: Write>(&mut self, text: &str, out: &mut W) -> io::Result<()> {
        let mut rest = text;
        while let Some(i) = memchr::memchr(b'\n', rest.as_bytes()) {
            self.line.push_str(&rest[..i]);
            self.show_more();
            self.complete();
            rest = &rest[i + 1..];
        }
        self.line.push_str(rest);
        self.show_more();
        self.drain(out)
    }

    /// The reply is over (or cancelled): the last line and any held table are rendered, and
    /// styles are reset.
    pub fn finish<W: Write>(&mut self, out: &mut W) -> io::Result<()> {
        if !self.line.is_empty() {
            self.complete();
        }
        if !self.held.is_empty() {
            let rows = self.render_held();
            self.erase(self.held_rows);
            self.held_rows = 0;
            self.print(&rows);
        }
        if self.look.color {
            self.out.push_str("\x1b[0m");
        }
        self.drain(out)
    }

    fn drain<W: Write>(&mut self, out: &mut W) -> io::Result<()> {
        if !self.out.is_empty() {
            out.write_all(self.out.as_bytes())?;
            self.out.clear();
        }
        Ok(())
    }

    fn in_code(&self) -> bool {
        matches!(self.block, Block::Code { .. })
    }

    /// Shows what arrived of the current line, unless it belongs to a held table.
    fn show_more(&mut self) {
        if self.echo == Echo::Undecided {
            if !self.held.is_empty() {
                let t = self.line.trim_start_matches([' ', '\t']);
                if t.is_empty() {
                    return;
                }
                self.echo = if line::table_row(t) {
                    Echo::Held
                } else {
                    Echo::Shown
                };
            } else if self.line.is_empty() {
                return;
            } else {
                self.echo = Echo::Shown;
            }
        }
        if self.echo == Echo::Held || self.shown == self.line.len() {
            return;
        }
        let start = self.out.len();
        let new = &self.line[self.shown..];
        let code = self.in_code();
        match self.wrapper.as_mut().filter(|_| !code) {
            Some(w) => w.push(new, &mut self.out),
            None => {
                self.out.push_str(new);
                self.soft.advance(new, self.width);
            }
        }
        self.shown = self.line.len();
        self.echo_text.push_str(&self.out[start..]);
    }

    /// The current line is complete: render it, or hold it. Its buffers are kept for the next.
    fn complete(&mut self) {
        let mut line = std::mem::take(&mut self.line);
        let echoed = std::mem::take(&mut self.echo_text);
        let mut echoed = self.complete_line(&line, echoed);
        line.clear();
        self.line = line;
        echoed.clear();
        self.echo_text = echoed;
    }

    /// `complete` for `line`, with `echoed` what showing it wrote; gives `echoed` back.
    fn complete_line(&mut self, line: &str, echoed: String) -> String {
        let rows_up = memchr::memchr_iter(b'\n', echoed.as_bytes()).count() + self.soft.row;
        // The word the wrapper still held is not on screen.
        let mut tail = String::new();
        if let Some(w) = self.wrapper.as_mut() {
            w.flush(&mut tail);
            w.reset();
        }
        self.shown = 0;
        self.soft = Fold::default();
        self.echo = Echo::Undecided;
        let shown = Shown {
            text: echoed,
            tail,
            rows: rows_up,
        };

        if let Block::Code { fence, code } = &mut self.block {
            let (indent, stripped) = split_indent(line);
            let row = if fence_close(stripped, fence) {
                self.block = Block::Text;
                rule(&self.look, indent_row(indent), self.width, "")
            } else {
                code.line(line, &mut self.rules)
            };
            self.replace(&shown, &[row]);
            return shown.text;
        }
        if !self.held.is_empty() {
            let stripped = split_indent(line).1;
            let continues = line::table_row(stripped)
                && (self.table || (self.held.len() == 1 && line::table_delimiter(stripped)));
            if continues {
                self.held.push(line.to_string());
                self.table = true;
                return shown.text;
            }
            let rows = self.render_held();
            self.erase(self.held_rows + shown.rows);
            self.held_rows = 0;
            self.print(&rows);
            self.fresh(line, None);
            return shown.text;
        }
        self.fresh(line, Some(&shown));
        shown.text
    }

    /// A complete line with nothing held before it; `shown` is what of it is on screen (`None`:
    /// nothing, it was cleared with the lines held before it).
    fn fresh(&mut self, line: &str, shown: Option<&Shown>) {
        let (indent, stripped) = split_indent(line);
        if line::table_row(stripped) {
            // Perhaps a table's header: it stays as typed until the next line tells.
            let rows = match shown {
                Some(s) => {
                    self.out.push_str(&s.tail);
                    s.rows
                }
                None => {
                    let start = self.out.len();
                    match self.wrapper.as_mut() {
                        Some(w) => {
                            w.push(line, &mut self.out);
                            w.flush(&mut self.out);
                            w.reset();
                            self.out[start..].matches('\n').count()
                        }
                        None => {
                            self.out.push_str(line);
                            let mut fold = Fold::default();
                            fold.advance(line, self.width);
                            fold.row
                        }
                    }
                }
            };
            self.out.push('\n');
            self.held_rows = rows + 1;
            self.held.push(line.to_string());
            return;
        }
        let rows = match fence_open(stripped) {
            Some(fence) => {
                let label = crate::table::truncate(&fence.lang, 30);
                let row = rule(&self.look, indent_row(indent), self.width, &label);
                let code = Box::new(Code::new(&fence.lang, self.theme, self.look.color));
                self.block = Block::Code { fence, code };
                vec![row]
            }
            None => render_line(
                line,
                &self.look,
                self.width,
                self.wrap.then_some(self.width),
            ),
        };
        match shown {
            Some(s) => self.replace(s, &rows),
            None => self.print(&rows),
        }
    }

    /// Replaces the current line's raw form on screen with `rows`.
    fn replace(&mut self, shown: &Shown, rows: &[Row]) {
        let mut styled = std::mem::take(&mut self.styled);
        styled.clear();
        self.replace_with(shown, rows, &mut styled);
        self.styled = styled;
    }

    fn replace_with(&mut self, shown: &Shown, rows: &[Row], styled: &mut String) {
        for (i, row) in rows.iter().enumerate() {
            if i > 0 {
                styled.push('\n');
            }
            write_row(row, self.look.color, styled);
        }
        let on_screen = shown.text.len() + shown.tail.len();
        if on_screen == styled.len()
            && styled.starts_with(&shown.text)
            && styled.ends_with(&shown.tail)
        {
            // It looks as it was typed: finish the line, nothing to redraw.
            self.out.push_str(&shown.tail);
            self.out.push('\n');
            return;
        }
        if shown.rows >= self.max_rows {
            // Its start has scrolled out of reach: it stays as typed.
            self.out.push_str(&shown.tail);
            self.out.push('\n');
            return;
        }
        if !shown.text.is_empty() || shown.rows > 0 {
            self.erase(shown.rows);
        }
        self.out.push_str(styled);
        self.out.push('\n');
    }

    /// Moves to the start of the line `up` rows above and clears from there down.
    fn erase(&mut self, up: usize) {
        self.out.push('\r');
        if up > 0 {
            use std::fmt::Write as _;
            let _ = write!(self.out, "\x1b[{up}A");
        }
        self.out.push_str("\x1b[J");
    }

    fn print(&mut self, rows: &[Row]) {
        for row in rows {
            write_row(row, self.look.color, &mut self.out);
            self.out.push('\n');
        }
    }

    /// The held lines, as a table, or (when the parser sees none) as the lines they are.
    fn render_held(&mut self) -> Vec<Row> {
        let lines = std::mem::take(&mut self.held);
        let was_table = std::mem::take(&mut self.table);
        if was_table {
            if let Some(rows) = table::render_table(&lines, &self.look, self.width) {
                return rows;
            }
        }
        let wrap_at = self.wrap.then_some(self.width);
        lines
            .iter()
            .flat_map(|l| render_line(l, &self.look, self.width, wrap_at))
            .collect()
    }
}

/// What of the current line is on screen when it completes.
struct Shown {
    text: String,
    /// The last word, which the wrapper had not written yet.
    tail: String,
    /// Rows below the one the line started on.
    rows: usize,
}

fn indent_row(indent: usize) -> Row {
    if indent == 0 {
        Row::new()
    } else {
        vec![Span::plain(" ".repeat(indent))]
    }
}

/// The cursor of a terminal that folds long lines, from a line's start: a character that does
/// not fit in what is left of the row (a wide one in the last column, say) goes to the next;
/// at the right edge the cursor waits there until the next character comes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct Fold {
    row: usize,
    col: usize,
}

impl Fold {
    fn advance(&mut self, text: &str, width: usize) {
        let width = width.max(2);
        for c in text.chars() {
            if c == '\t' {
                // A tab moves to the next stop, never past the last column.
                if self.col < width {
                    self.col = ((self.col / 8 + 1) * 8).min(width - 1);
                }
                continue;
            }
            let w = c.width().unwrap_or(0);
            if self.col + w > width {
                self.row += 1;
                self.col = 0;
            }
            self.col += w;
        }
    }
}
