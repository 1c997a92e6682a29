//! The piece of a message shown under a search hit: one line around the first place where the
//! most of the query's words are close together, with the matches marked. Pure; the caller sanitises the text first when it is for a terminal, so the
//! marks count what is shown.

use std::ops::Range;

use super::query::{unspaced, Needle};
use crate::table::width;

/// One line of a message, and where the query's words are in it (byte ranges).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Snippet {
    pub text: String,
    pub marks: Vec<Range<usize>>,
}

impl Snippet {
    /// The line with each mark wrapped in `open` and `close` (bold on a colour terminal).
    pub fn painted(&self, open: &str, close: &str) -> String {
        let mut out = String::with_capacity(self.text.len() + self.marks.len() * 8);
        let mut at = 0;
        for m in &self.marks {
            out.push_str(&self.text[at..m.start]);
            out.push_str(open);
            out.push_str(&self.text[m.clone()]);
            out.push_str(close);
            at = m.end;
        }
        out.push_str(&self.text[at..]);
        out
    }
}

/// About this many columns of context are kept before the first match.
const LEAD: usize = 24;

/// `text` on one line (every run of whitespace one space), cut to `cols` display columns around
/// the first match that starts the most different needles within the line (a phrase of common
/// words is shown where it stands, not at the first "the"), with `…` where it was cut.
pub fn snippet(text: &str, needles: &[Needle], cols: usize) -> Snippet {
    let flat = text.split_whitespace().collect::<Vec<_>>().join(" ");
    let all = find_all(&flat, needles);
    let first = anchor(&flat, &all, cols.saturating_sub(LEAD.min(cols / 3)));
    // Step back from the first match by up to LEAD columns, to a character boundary.
    let mut start = first;
    let mut lead = 0;
    for (i, c) in flat[..first].char_indices().rev() {
        lead += width(c.encode_utf8(&mut [0; 4]));
        if lead > LEAD.min(cols / 3) {
            break;
        }
        start = i;
    }
    let ellipsis_before = start > 0;
    let room = cols
        .saturating_sub(if ellipsis_before { 1 } else { 0 })
        .max(1);
    let mut end = start;
    let mut used = 0;
    for (i, c) in flat[start..].char_indices() {
        let w = width(c.encode_utf8(&mut [0; 4]));
        if used + w > room {
            break;
        }
        used += w;
        end = start + i + c.len_utf8();
    }
    let mut cut_after = end < flat.len();
    if cut_after && used + 1 > room {
        // Make room for the trailing `…`.
        if let Some((i, _)) = flat[start..end].char_indices().last() {
            end = start + i;
        }
        cut_after = true;
    }
    let prefix = if ellipsis_before { "…" } else { "" };
    let mut out = String::from(prefix);
    out.push_str(&flat[start..end]);
    if cut_after {
        out.push('…');
    }
    let shift = |r: &Range<usize>| r.start - start + prefix.len()..r.end - start + prefix.len();
    let marks = all
        .iter()
        .filter(|m| m.start >= start && m.end <= end)
        .map(shift)
        .collect();
    Snippet { text: out, marks }
}

/// Where the first match is from which the most different needles (case ignored) start within
/// `reach` bytes; 0 without matches.
fn anchor(flat: &str, all: &[Range<usize>], reach: usize) -> usize {
    let mut best = (0, 0);
    for (i, m) in all.iter().enumerate() {
        let mut seen: Vec<&str> = Vec::new();
        for n in all[i..]
            .iter()
            .take_while(|n| n.start - m.start < reach.max(1))
        {
            let word = &flat[n.clone()];
            if !seen.iter().any(|s| s.eq_ignore_ascii_case(word)) {
                seen.push(word);
            }
        }
        if seen.len() > best.0 {
            best = (seen.len(), m.start);
        }
    }
    best.1
}

/// Every match of every needle, in order, not overlapping. Case is ignored; a needle that starts
/// with a letter of a spaced script matches only at the start of a word.
fn find_all(text: &str, needles: &[Needle]) -> Vec<Range<usize>> {
    let chars: Vec<(usize, char)> = text.char_indices().collect();
    let lower = |c: char| c.to_lowercase().next().unwrap_or(c);
    let needles: Vec<Vec<char>> = needles
        .iter()
        .map(|n| n.text.chars().map(lower).collect::<Vec<_>>())
        .filter(|n| !n.is_empty())
        .collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let boundary = i == 0 || {
            let before = chars[i - 1].1;
            !before.is_alphanumeric() || unspaced(before)
        };
        let hit = needles.iter().find(|n| {
            (boundary || unspaced(n[0]))
                && i + n.len() <= chars.len()
                && n.iter().zip(&chars[i..]).all(|(a, (_, b))| *a == lower(*b))
        });
        match hit {
            Some(n) => {
                let end = chars.get(i + n.len()).map_or(text.len(), |(b, _)| *b);
                out.push(chars[i].0..end);
                i += n.len();
            }
            None => i += 1,
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn n(words: &[&str]) -> Vec<Needle> {
        words
            .iter()
            .map(|w| Needle {
                text: w.to_string(),
            })
            .collect()
    }

    fn shown(s: &Snippet) -> String {
        s.painted("[", "]")
    }

    #[test]
    fn marks_every_match_ignoring_case() {
        let s = snippet(
            "The Weather in 上海:\nweather\tis fine",
            &n(&["weather", "上海"]),
            80,
        );
        assert_eq!(shown(&s), "The [Weather] in [上海]: [weather] is fine");
    }

    #[test]
    fn a_latin_word_matches_at_a_word_start_only() {
        let s = snippet("concatenate a cat; 猫cat", &n(&["cat"]), 80);
        assert_eq!(shown(&s), "concatenate a [cat]; 猫[cat]");
        let s = snippet("今天天气很好", &n(&["天气"]), 80);
        assert_eq!(shown(&s), "今天[天气]很好");
    }

    #[test]
    fn long_text_is_cut_around_the_first_match_by_columns() {
        let text = format!("{} 上海 {}", "早".repeat(100), "晚".repeat(100));
        let s = snippet(&text, &n(&["上海"]), 40);
        assert!(
            s.text.starts_with('…') && s.text.ends_with('…'),
            "{}",
            s.text
        );
        assert!(width(&s.text) <= 40, "{}", width(&s.text));
        assert_eq!(s.marks.len(), 1);
        assert_eq!(&s.text[s.marks[0].clone()], "上海");
        // The start when the match is near it; no match: the start.
        let s = snippet(&"word ".repeat(50), &n(&["zzz"]), 20);
        assert!(!s.text.starts_with('…') && s.text.ends_with('…'));
        assert!(width(&s.text) <= 20);
        assert!(s.marks.is_empty());
    }

    #[test]
    fn a_phrase_of_common_words_is_shown_where_it_stands() {
        let text = format!(
            "the start of it {} and then: what about the Weather today? more",
            "filler words ".repeat(20)
        );
        let s = snippet(&text, &n(&["the", "weather", "today"]), 60);
        assert!(
            shown(&s).contains("[the] [Weather] [today]"),
            "{}",
            shown(&s)
        );
        assert!(s.text.starts_with('…'));
    }

    #[test]
    fn odd_inputs() {
        assert_eq!(snippet("", &n(&["x"]), 10).text, "");
        assert_eq!(snippet("abc", &n(&[]), 10).text, "abc");
        assert_eq!(snippet("abc", &n(&[""]), 10).text, "abc");
        let s = snippet("abcdef", &n(&["abc"]), 1);
        assert!(width(&s.text) <= 1, "{:?}", s.text);
        // A match cut by the edge is not marked half.
        let s = snippet("xx abcdef", &n(&["abcdef"]), 6);
        assert!(s.marks.iter().all(|m| m.end <= s.text.len()));
    }
}
