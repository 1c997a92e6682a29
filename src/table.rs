//! Plain-text tables lined up by display width, so Chinese text (two columns a character) keeps the
//! columns straight, and truncation to a width that never cuts a character in half. Tables whose
//! columns are known up front (`render`), and fixed-width cells for output that streams (`left`,
//! `right`, as `logs -f` prints rows as they come).
//!
//! Cells often hold text from outside (model names, session names, log labels), so every cell is
//! sanitised onto one line here, whatever the caller did: a table cannot print a control byte.

use unicode_width::{UnicodeWidthChar, UnicodeWidthStr};

use crate::untrusted::sanitize_line;

/// Columns a string takes on a terminal. Printable ASCII, most of what is measured, takes one
/// a byte (a list of ten thousand sessions measures every cell).
pub fn width(s: &str) -> usize {
    match s.bytes().all(|b| (0x20..0x7f).contains(&b)) {
        true => s.len(),
        false => UnicodeWidthStr::width(s),
    }
}

/// `s` sanitised onto one line and cut to at most `max` columns, with `…` where it was cut.
pub fn truncate(s: &str, max: usize) -> String {
    let s = sanitize_line(s);
    // No character takes more columns than it has bytes.
    if s.len() <= max {
        return s.into_owned();
    }
    // One pass: where the text would be cut, and whether it is too wide at all.
    let (mut used, mut cut) = (0, None);
    for (i, c) in s.char_indices() {
        used += c.width().unwrap_or(0);
        if cut.is_none() && used > max.saturating_sub(1) {
            cut = Some(i);
        }
        if used > max {
            let mut out = match max {
                0 => return String::new(),
                _ => s[..cut.unwrap_or(i)].to_string(),
            };
            out.push('…');
            return out;
        }
    }
    s.into_owned()
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
    let (clean, widths) = measure(rows);
    let mut out = String::new();
    for row in &clean {
        let start = out.len();
        for (c, (cell, w)) in row.iter().enumerate() {
            out.push_str(cell);
            if c + 1 < row.len() {
                let pad = widths[c] - w + 2;
                out.extend(std::iter::repeat_n(' ', pad));
            }
        }
        let end = start + out[start..].trim_end().len();
        out.truncate(end);
        out.push('\n');
    }
    out
}

/// The columns the first `cols` columns of `rows` take as [`render`] lays them out (the widest
/// line of those columns alone).
pub fn columns_width(rows: &[Vec<String>], cols: usize) -> usize {
    let clipped: Vec<&[String]> = rows.iter().map(|r| &r[..cols.min(r.len())]).collect();
    let (clean, widths) = measure(&clipped);
    clean
        .iter()
        .map(|row| {
            row.iter()
                .enumerate()
                .map(|(c, (_, w))| if c + 1 < row.len() { widths[c] + 2 } else { *w })
                .sum::<usize>()
        })
        .max()
        .unwrap_or(0)
}

/// Rows of cells sanitised onto one line, each with its width.
type Measured<'a> = Vec<Vec<(std::borrow::Cow<'a, str>, usize)>>;

/// Each cell sanitised, with its width, and each column's width: measured once.
fn measure<R: AsRef<[String]>>(rows: &[R]) -> (Measured<'_>, Vec<usize>) {
    let clean: Measured<'_> = rows
        .iter()
        .map(|r| {
            r.as_ref()
                .iter()
                .map(|c| {
                    let c = sanitize_line(c);
                    let w = width(&c);
                    (c, w)
                })
                .collect()
        })
        .collect();
    let cols = clean.iter().map(Vec::len).max().unwrap_or(0);
    let mut widths = vec![0; cols];
    for row in &clean {
        for (c, (_, w)) in row.iter().enumerate() {
            widths[c] = widths[c].max(*w);
        }
    }
    (clean, widths)
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
    fn the_width_of_columns_is_that_of_their_rendered_lines() {
        let rows: Vec<Vec<String>> = [
            vec!["ID", "名字", "x", "last"],
            vec!["bbb", "n", "天气很好", "tail"],
            vec!["c", "", "y"],
            vec!["\x1b[2J", "ok\tgo", "z", "-"],
        ]
        .iter()
        .map(|r| r.iter().map(|c| c.to_string()).collect())
        .collect();
        for cols in 0..=4 {
            let clipped: Vec<Vec<String>> = rows
                .iter()
                .map(|r| r[..cols.min(r.len())].to_vec())
                .collect();
            let rendered = render(&clipped).lines().map(width).max().unwrap_or(0);
            assert_eq!(columns_width(&rows, cols), rendered, "{cols} columns");
        }
    }

    #[test]
    fn ascii_is_measured_like_any_text() {
        for s in [
            "",
            "plain",
            "a b~",
            "tab\there",
            "\x7f",
            "é",
            "名字",
            "a\u{301}",
        ] {
            assert_eq!(width(s), UnicodeWidthStr::width(s), "{s:?}");
        }
        // Cut where the old way cut: each prefix, each limit.
        let text = "ab你好c\u{301}世界 end";
        for max in 0..16 {
            let t = truncate(text, max);
            assert!(width(&t) <= max, "{max}: {t}");
            if width(text) > max && max > 0 {
                assert!(
                    t.ends_with('…') && width(&t) >= max.saturating_sub(2),
                    "{max}: {t}"
                );
            }
        }
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
