//! Plain-text tables lined up by display width, so Chinese text (two columns a character) keeps the
//! columns straight, and truncation to a width that never cuts a character in half. Tables whose
//! columns are known up front (`render`), and fixed-width cells for output that streams (`left`,
//! `right`, as `logs -f` prints rows as they come).
//!
//! Cells often hold text from outside (model names, session names, log labels), so every cell is
//! sanitised onto one line here, whatever the caller did: a table cannot print a control byte.

use unicode_width::{UnicodeWidthChar, UnicodeWidthStr};

use crate::untrusted::sanitize_line;

/// Columns a string takes on a terminal.
pub fn width(s: &str) -> usize {
    UnicodeWidthStr::width(s)
}

/// `s` sanitised onto one line and cut to at most `max` columns, with `…` where it was cut.
pub fn truncate(s: &str, max: usize) -> String {
    let s = &*sanitize_line(s);
    if width(s) <= max {
        return s.to_string();
    }
    if max == 0 {
        return String::new();
    }
    let mut out = String::new();
    let mut used = 0;
    for c in s.chars() {
        let w = c.width().unwrap_or(0);
        if used + w > max - 1 {
            break;
        }
        out.push(c);
        used += w;
    }
    out.push('…');
    out
}

/// `s` cut and padded to exactly `cols` columns, left-aligned.
pub fn left(s: &str, cols: usize) -> String {
    let t = truncate(s, cols);
    let pad = cols.saturating_sub(width(&t));
    format!("{t}{}", " ".repeat(pad))
}

/// `s` sanitised and padded to `cols` columns, right-aligned (numbers are never cut).
pub fn right(s: &str, cols: usize) -> String {
    let s = &*sanitize_line(s);
    let pad = cols.saturating_sub(width(s));
    format!("{}{s}", " ".repeat(pad))
}

/// Rows laid out in columns two spaces apart, each cell sanitised onto one line; the last column
/// is not padded.
pub fn render(rows: &[Vec<String>]) -> String {
    let clean: Vec<Vec<std::borrow::Cow<'_, str>>> = rows
        .iter()
        .map(|r| r.iter().map(|c| sanitize_line(c)).collect())
        .collect();
    let rows = &clean;
    let cols = rows.iter().map(Vec::len).max().unwrap_or(0);
    let widths: Vec<usize> = (0..cols)
        .map(|c| {
            rows.iter()
                .filter_map(|r| r.get(c))
                .map(|s| width(s))
                .max()
                .unwrap_or(0)
        })
        .collect();
    let mut out = String::new();
    for row in rows {
        let mut line = String::new();
        for (c, cell) in row.iter().enumerate() {
            line.push_str(cell);
            if c + 1 < row.len() {
                let pad = widths[c] - width(cell) + 2;
                line.extend(std::iter::repeat_n(' ', pad));
            }
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn truncation_counts_columns_not_bytes() {
        assert_eq!(truncate("hello", 10), "hello");
        assert_eq!(truncate("hello world", 6), "hello…");
        assert_eq!(truncate("你好世界", 5), "你好…");
        assert_eq!(truncate("你好世界", 4), "你…");
        assert_eq!(width(&truncate("你好世界你好世界", 7)), 7);
        assert_eq!(truncate("abc", 0), "");
    }

    #[test]
    fn fixed_width_cells() {
        // 5 columns: two wide characters (4) and the ellipsis (1).
        assert_eq!(truncate("法國的首都是哪裡", 5), "法國…");
        assert_eq!(truncate("法國的首都是哪裡", 6), "法國…");
        assert_eq!(left("法國的首都是哪裡", 6), "法國… ");
        assert_eq!(left("ok", 4), "ok  ");
        assert_eq!(right("12", 4), "  12");
        assert_eq!(right("12345", 4), "12345");
    }

    #[test]
    fn columns_line_up_with_wide_characters() {
        let t = render(&[
            vec!["a".into(), "名字".into(), "x".into()],
            vec!["bbb".into(), "n".into(), "y".into()],
        ]);
        assert_eq!(t, "a    名字  x\nbbb  n     y\n");
    }

    #[test]
    fn cells_cannot_carry_control_bytes() {
        let evil = "m\x1b]0;t\x07\nx\u{9b}";
        let t = render(&[vec![evil.into(), "b".into()]]);
        assert_eq!(t, "m␛]0;t␇ x<U+009B>  b\n");
        assert_eq!(left(evil, 20), "m␛]0;t␇ x<U+009B>   ");
        assert_eq!(right("\x1b", 2), " ␛");
        assert_eq!(truncate("\x1b[2J", 3), "␛[…");
    }
}
