//! Text tables for terminals: columns measured in display cells (a Chinese character takes two),
//! text cut with `…` to fit, numbers right-aligned.

use std::io::IsTerminal;

use unicode_width::UnicodeWidthChar;

/// Display cells of `s`.
pub fn width(s: &str) -> usize {
    s.chars().map(|c| c.width().unwrap_or(0)).sum()
}

/// `s` cut to at most `max` cells, ending in `…` if anything was cut.
pub fn truncate(s: &str, max: usize) -> String {
    if width(s) <= max {
        return s.to_string();
    }
    let mut out = String::new();
    let mut used = 0;
    for c in s.chars() {
        let w = c.width().unwrap_or(0);
        if used + w + 1 > max {
            break;
        }
        out.push(c);
        used += w;
    }
    if max > 0 {
        out.push('…');
    }
    out
}

/// `s` cut and padded to exactly `cells` cells, left-aligned.
pub fn left(s: &str, cells: usize) -> String {
    let t = truncate(s, cells);
    let pad = cells.saturating_sub(width(&t));
    format!("{t}{}", " ".repeat(pad))
}

/// `s` padded to `cells` cells, right-aligned (numbers are never cut).
pub fn right(s: &str, cells: usize) -> String {
    let pad = cells.saturating_sub(width(s));
    format!("{}{s}", " ".repeat(pad))
}

/// The width to lay a table out in: the terminal's, else `$COLUMNS`, else 120.
pub fn output_width() -> usize {
    let stdout = std::io::stdout();
    if stdout.is_terminal() {
        if let Ok(ws) = rustix::termios::tcgetwinsize(&stdout) {
            if ws.ws_col > 0 {
                return usize::from(ws.ws_col);
            }
        }
    }
    std::env::var("COLUMNS")
        .ok()
        .and_then(|c| c.trim().parse().ok())
        .filter(|&c| c >= 20)
        .unwrap_or(120)
}

/// `1234567` → `1,234,567`.
pub fn thousands(n: u64) -> String {
    let s = n.to_string();
    let mut out = String::with_capacity(s.len() + s.len() / 3);
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// Seconds with about three significant digits: `0.412s`, `12.3s`, `245s`.
pub fn secs(x: Option<f64>) -> String {
    match x {
        None => "-".into(),
        Some(x) if x < 10.0 => format!("{x:.2}s"),
        Some(x) if x < 100.0 => format!("{x:.1}s"),
        Some(x) => format!("{x:.0}s"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn widths_count_cells() {
        assert_eq!(width("abc"), 3);
        assert_eq!(width("法國的首都"), 10);
        assert_eq!(width("a法b"), 4);
    }

    #[test]
    fn truncation_respects_wide_characters() {
        assert_eq!(truncate("hello", 10), "hello");
        assert_eq!(truncate("hello world", 6), "hello…");
        // 5 cells: two wide characters (4) and the ellipsis (1).
        assert_eq!(truncate("法國的首都是哪裡", 5), "法國…");
        assert_eq!(truncate("法國的首都是哪裡", 6), "法國…");
        assert_eq!(width(&truncate("法國的首都是哪裡", 6)), 5);
        assert_eq!(left("法國的首都是哪裡", 6), "法國… ");
        assert_eq!(left("ok", 4), "ok  ");
        assert_eq!(right("12", 4), "  12");
        assert_eq!(truncate("abc", 0), "");
    }

    #[test]
    fn numbers() {
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(1000), "1,000");
        assert_eq!(thousands(1234567), "1,234,567");
        assert_eq!(secs(Some(0.4123)), "0.41s");
        assert_eq!(secs(Some(12.34)), "12.3s");
        assert_eq!(secs(Some(245.4)), "245s");
        assert_eq!(secs(None), "-");
    }
}
