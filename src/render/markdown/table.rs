//! A pipe table, once all its lines are in: parsed by pulldown-cmark, laid out in box-drawing
//! columns that fit the terminal width (display width, so CJK text takes two columns a
//! character), cells wrapped when the columns must shrink.

use pulldown_cmark::{Alignment, Event, Parser, Tag, TagEnd};

use super::line::{options, Inline};
use super::spans::{row_width, wrap, Row, Sgr, Span};
use super::Look;

/// The narrowest a column is squeezed to before the table is left wider than the terminal.
const MIN_COLUMN: usize = 3;

/// The table `lines` make, or `None` when the parser sees no table in them.
pub fn render_table(lines: &[String], look: &Look, width: usize) -> Option<Vec<Row>> {
    let source = lines.join("\n");
    let mut aligns: Vec<Alignment> = Vec::new();
    let mut rows: Vec<Vec<Vec<Span>>> = Vec::new();
    let mut head_rows = 0;
    let mut cell: Option<Inline<'_>> = None;
    let mut in_head = false;
    let mut seen_table = false;
    for event in Parser::new_ext(&source, options()) {
        match event {
            Event::Start(Tag::Table(a)) => {
                if seen_table {
                    return None;
                }
                seen_table = true;
                aligns = a;
            }
            Event::Start(Tag::TableHead) => {
                in_head = true;
                rows.push(Vec::new());
            }
            Event::End(TagEnd::TableHead) => {
                in_head = false;
                head_rows = rows.len();
            }
            Event::Start(Tag::TableRow) => rows.push(Vec::new()),
            Event::Start(Tag::TableCell) => {
                let base = if in_head && look.color {
                    Sgr {
                        bold: true,
                        ..Sgr::default()
                    }
                } else {
                    Sgr::default()
                };
                cell = Some(Inline::new(look, base));
            }
            Event::End(TagEnd::TableCell) => {
                let spans = cell.take().map(|c| c.spans).unwrap_or_default();
                rows.last_mut()?.push(spans);
            }
            Event::Start(Tag::Paragraph) | Event::End(TagEnd::Paragraph) if !seen_table => {
                return None
            }
            e => {
                if let Some(c) = cell.as_mut() {
                    c.event(&e);
                } else if !matches!(e, Event::End(_)) {
                    return None;
                }
            }
        }
    }
    if !seen_table {
        return None;
    }
    if !look.color {
        for s in rows.iter_mut().flatten().flatten() {
            s.sgr = Sgr::default();
        }
    }
    Some(layout(&rows, head_rows, &aligns, look, width))
}

fn layout(
    rows: &[Vec<Vec<Span>>],
    head_rows: usize,
    aligns: &[Alignment],
    look: &Look,
    width: usize,
) -> Vec<Row> {
    let cols = rows.iter().map(Vec::len).max().unwrap_or(0).max(1);
    let mut widths: Vec<usize> = (0..cols)
        .map(|c| {
            rows.iter()
                .filter_map(|r| r.get(c))
                .map(|cell| row_width(cell))
                .max()
                .unwrap_or(0)
                .max(1)
        })
        .collect();
    // "│ a │ b │": three columns of border and padding per column, and one.
    let avail = width.saturating_sub(3 * cols + 1);
    while widths.iter().sum::<usize>() > avail {
        let Some((i, w)) = widths
            .iter()
            .copied()
            .enumerate()
            .max_by_key(|(_, w)| *w)
            .filter(|(_, w)| *w > MIN_COLUMN)
        else {
            break;
        };
        widths[i] = w - 1;
    }
    let border = look.sgr(Sgr::dim());
    let line = |l: &str, m: &str, r: &str| -> Row {
        let mut s = String::from(l);
        for (i, w) in widths.iter().enumerate() {
            s.push_str(&"─".repeat(w + 2));
            s.push_str(if i + 1 < widths.len() { m } else { r });
        }
        vec![Span::new(s, border)]
    };
    let mut out = vec![line("┌", "┬", "┐")];
    for (n, row) in rows.iter().enumerate() {
        if n == head_rows && n > 0 {
            out.push(line("├", "┼", "┤"));
        }
        let cells: Vec<Vec<Row>> = widths
            .iter()
            .enumerate()
            .map(|(c, w)| {
                let empty = Vec::new();
                let spans = row.get(c).unwrap_or(&empty);
                wrap(spans, Some(*w), &[], &[])
            })
            .collect();
        let height = cells.iter().map(Vec::len).max().unwrap_or(1);
        for k in 0..height {
            let mut r: Row = vec![Span::new("│", border)];
            for (c, w) in widths.iter().enumerate() {
                let part = cells[c].get(k).cloned().unwrap_or_default();
                let part: Row = trim_end(part);
                let pad = w.saturating_sub(row_width(&part));
                let (before, after) = match aligns.get(c) {
                    Some(Alignment::Right) => (pad, 0),
                    Some(Alignment::Center) => (pad / 2, pad - pad / 2),
                    _ => (0, pad),
                };
                r.push(Span::plain(" ".repeat(before + 1)));
                r.extend(part);
                r.push(Span::plain(" ".repeat(after + 1)));
                r.push(Span::new("│", border));
            }
            out.push(r);
        }
    }
    out.push(line("└", "┴", "┘"));
    out
}

/// The row without the space a wrap may leave at its end.
fn trim_end(mut row: Row) -> Row {
    while let Some(last) = row.last_mut() {
        let t = last.text.trim_end_matches(' ').len();
        last.text.truncate(t);
        if last.text.is_empty() {
            row.pop();
        } else {
            break;
        }
    }
    row
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(rows: &[Row]) -> Vec<String> {
        rows.iter()
            .map(|r| r.iter().map(|s| s.text.as_str()).collect())
            .collect()
    }

    fn lines(src: &str) -> Vec<String> {
        src.lines().map(String::from).collect()
    }

    const LOOK: Look = Look {
        color: false,
        hyperlinks: false,
    };

    #[test]
    fn columns_line_up_by_display_width() {
        let rows = render_table(
            &lines("| 城市 | pop |\n|---|--:|\n| 台北 | 2.5M |\n| Kaohsiung | 2.7M |"),
            &LOOK,
            80,
        )
        .unwrap();
        assert_eq!(
            text(&rows),
            [
                "┌───────────┬──────┐",
                "│ 城市      │  pop │",
                "├───────────┼──────┤",
                "│ 台北      │ 2.5M │",
                "│ Kaohsiung │ 2.7M │",
                "└───────────┴──────┘",
            ]
        );
    }

    #[test]
    fn a_narrow_terminal_wraps_cells() {
        let rows = render_table(
            &lines("| a | b |\n|---|---|\n| one two three four | x |"),
            &LOOK,
            20,
        )
        .unwrap();
        for r in &rows {
            assert!(row_width(r) <= 20, "{:?}", text(&rows));
        }
        assert_eq!(text(&rows)[4], "│ three four   │   │");
    }

    #[test]
    fn what_is_not_a_table_is_none() {
        assert!(render_table(&lines("| a |\n| b |"), &LOOK, 80).is_none());
        assert!(render_table(&lines("| a | b |\n|---|"), &LOOK, 80).is_none());
        assert!(render_table(&[], &LOOK, 80).is_none());
    }

    #[test]
    fn ragged_rows_are_padded() {
        let rows = render_table(&lines("| a | b |\n|---|---|\n| 1 |"), &LOOK, 80).unwrap();
        assert_eq!(text(&rows)[3], "│ 1 │   │");
    }
}
