//! What a person types into `sessions search` → an FTS5 expression, and the text the index is fed.
//! Pure.
//!
//! FTS5's `unicode61` tokenizer splits on spaces and punctuation only, so a run of Chinese is one
//! long token and `天气` would never be found inside `今天天气很好`. Both the indexed text and the
//! query therefore go through [`spaced`], which puts every character of a script written without
//! spaces (Han, kana, Hangul, Thai, Lao, Khmer, Myanmar) on its own; a word of such a script in a
//! query becomes a phrase of its characters, which matches them side by side and nowhere else.
//! Every term is quoted, so nothing typed can be read as an FTS5 operator or column filter.

use std::borrow::Cow;

/// A parsed query: the expression for `MATCH`, and the words to highlight in a hit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Query {
    pub fts: String,
    /// Each phrase of `fts` alone, in its order (FTS5 numbers them so): `fts` is all of them.
    pub phrases: Vec<String>,
    pub needles: Vec<Needle>,
}

/// A word to highlight: case is ignored; a word of a spaced script must start a word.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Needle {
    pub text: String,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum QueryError {
    #[error("nothing to search for: give a word, a \"phrase\" or a prefix*")]
    Empty,
}

/// Whether `c` belongs to a script written without spaces between words.
pub fn unspaced(c: char) -> bool {
    matches!(c as u32,
        0x0E00..=0x0EFF        // Thai, Lao
        | 0x1000..=0x109F      // Myanmar
        | 0x1780..=0x17FF      // Khmer
        | 0x1100..=0x11FF      // Hangul Jamo
        | 0x3040..=0x30FF      // Hiragana, Katakana
        | 0x3130..=0x318F      // Hangul compatibility Jamo
        | 0x31F0..=0x31FF      // Katakana extensions
        | 0x3400..=0x4DBF      // CJK extension A
        | 0x4E00..=0x9FFF      // CJK unified ideographs
        | 0xAC00..=0xD7AF      // Hangul syllables
        | 0xF900..=0xFAFF      // CJK compatibility ideographs
        | 0x20000..=0x3FFFF) // CJK extensions B…
}

/// `text` with a space on each side of every character of an unspaced script, so that the
/// tokenizer makes each one a token. Text without such characters is returned as it is.
pub fn spaced(text: &str) -> Cow<'_, str> {
    if !text.chars().any(unspaced) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() * 2);
    for c in text.chars() {
        if unspaced(c) {
            out.push(' ');
            out.push(c);
            out.push(' ');
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

/// Parses a query: words (all must appear), `"phrases"` (the words side by side) and `prefix*`.
/// A word in an unspaced script is a phrase of its characters. Terms with no letter or digit are
/// ignored; a query left with none is [`QueryError::Empty`].
pub fn parse(input: &str) -> Result<Query, QueryError> {
    let mut fts = Vec::new();
    let mut needles = Vec::new();
    for term in terms(input) {
        let (text, prefix) = match term {
            Term::Phrase(t) => (t, false),
            Term::Word(w) => match w.strip_suffix('*') {
                Some(stem) => (stem.trim_end_matches('*'), true),
                None => (w, false),
            },
        };
        let words = words(text);
        if words.is_empty() {
            continue;
        }
        let body = spaced(text).replace('"', "\"\"");
        // A prefix of one character of an unspaced script is that character (each is a token).
        let star = prefix && !text.chars().last().is_some_and(unspaced);
        fts.push(format!(
            "\"{}\"{}",
            body.trim(),
            if star { "*" } else { "" }
        ));
        needles.extend(words.into_iter().map(|w| Needle {
            text: w.to_string(),
        }));
    }
    if fts.is_empty() {
        return Err(QueryError::Empty);
    }
    needles.dedup();
    Ok(Query {
        fts: fts.join(" "),
        phrases: fts,
        needles,
    })
}

enum Term<'a> {
    Word(&'a str),
    Phrase(&'a str),
}

/// Splits on whitespace outside double quotes; an unclosed quote runs to the end.
fn terms(input: &str) -> Vec<Term<'_>> {
    let mut out = Vec::new();
    let mut rest = input;
    loop {
        rest = rest.trim_start();
        if rest.is_empty() {
            return out;
        }
        if let Some(inner) = rest.strip_prefix('"') {
            let end = inner.find('"').unwrap_or(inner.len());
            out.push(Term::Phrase(&inner[..end]));
            rest = inner.get(end + 1..).unwrap_or("");
        } else {
            let end = rest.find(char::is_whitespace).unwrap_or(rest.len());
            out.push(Term::Word(&rest[..end]));
            rest = &rest[end..];
        }
    }
}

/// The runs of letters and digits in `text`: what the tokenizer keeps, with a run of an
/// unspaced script kept whole (to highlight it whole).
fn words(text: &str) -> Vec<&str> {
    text.split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fts(q: &str) -> String {
        parse(q).unwrap().fts
    }

    #[test]
    fn the_expression_is_its_phrases() {
        let q = parse(r#"rust "borrow checker" 天气 photo*"#).unwrap();
        assert_eq!(q.phrases.len(), 4);
        assert_eq!(q.fts, q.phrases.join(" "));
    }

    #[test]
    fn words_phrases_and_prefixes() {
        assert_eq!(fts("rust"), r#""rust""#);
        assert_eq!(fts("  rust   tokio "), r#""rust" "tokio""#);
        assert_eq!(
            fts(r#""borrow checker" rules"#),
            r#""borrow checker" "rules""#
        );
        assert_eq!(fts("photo*"), r#""photo"*"#);
        assert_eq!(fts("photo**"), r#""photo"*"#);
        assert_eq!(
            fts(r#""hello wor"*"#),
            r#""hello wor""#,
            "a star after a phrase is a word"
        );
    }

    #[test]
    fn chinese_words_become_phrases_of_characters() {
        assert_eq!(fts("天气"), r#""天  气""#);
        assert_eq!(fts("上海 weather"), r#""上  海" "weather""#);
        assert_eq!(fts("iPhone手机"), r#""iPhone 手  机""#);
        assert_eq!(fts("今天天气很好"), r#""今  天  天  气  很  好""#);
        assert_eq!(fts("上*"), r#""上""#);
        assert_eq!(fts("こんにちは"), r#""こ  ん  に  ち  は""#);
        assert_eq!(fts("서울"), r#""서  울""#);
        let q = parse("天气 上海").unwrap();
        assert_eq!(
            q.needles,
            vec![
                Needle {
                    text: "天气".into()
                },
                Needle {
                    text: "上海".into()
                }
            ]
        );
    }

    #[test]
    fn one_two_and_more_characters_mixed_with_latin() {
        assert_eq!(fts("晴"), r#""晴""#);
        assert_eq!(fts("iPhone手"), r#""iPhone 手""#);
        assert_eq!(fts("手机iPhone"), r#""手  机 iPhone""#);
        assert_eq!(fts(r#""a 天 b""#), r#""a  天  b""#);
        assert_eq!(fts("上海x*"), r#""上  海 x"*"#);
    }

    /// FTS5's matching of a phrase against indexed text, for text whose only separators are
    /// spaces: the phrase's tokens side by side, the last one a prefix when starred.
    fn matches(query: &str, text: &str) -> bool {
        let q = parse(query).unwrap().fts;
        let star = q.ends_with('*');
        let q: Vec<String> = q
            .trim_end_matches('*')
            .trim_matches('"')
            .split_whitespace()
            .map(str::to_lowercase)
            .collect();
        let t: Vec<String> = spaced(text)
            .split_whitespace()
            .map(str::to_lowercase)
            .collect();
        t.windows(q.len()).any(|w| {
            w.iter()
                .zip(&q)
                .enumerate()
                .all(|(i, (a, b))| match star && i + 1 == q.len() {
                    true => a.starts_with(b.as_str()),
                    false => a == b,
                })
        })
    }

    #[test]
    fn every_piece_of_a_text_finds_it() {
        for text in [
            "今天上海的天气很好",
            "iPhone手机很好用",
            "东京の天気 ok 서울날씨x",
        ] {
            let chars: Vec<char> = text.chars().collect();
            // A Latin word cut in two is not a word.
            let inside_word = |i: usize| {
                i > 0
                    && i < chars.len()
                    && chars[i - 1].is_ascii_alphabetic()
                    && chars[i].is_ascii_alphabetic()
            };
            for start in 0..chars.len() {
                for end in start + 1..=chars.len() {
                    let piece: String = chars[start..end].iter().collect();
                    if piece.trim() != piece || inside_word(start) || inside_word(end) {
                        continue;
                    }
                    let q = format!("\"{piece}\"");
                    assert!(
                        matches(&q, text),
                        "{q} in {text}: {}",
                        parse(&q).unwrap().fts
                    );
                }
            }
        }
    }

    #[test]
    fn pieces_not_side_by_side_do_not_match() {
        let text = "今天上海的天气很好";
        assert!(!matches("天海", text));
        assert!(!matches("海上", text));
        assert!(!matches("好今", text));
        assert!(
            !matches("\"上海 天气\"", text),
            "上海 is not followed by 天气"
        );
        assert!(matches("上海的", text));
        assert!(matches("好", text));
        assert!(!matches("手机iPhone", "手机很好 iPhone"));
        assert!(matches("手机iPhone", "买了手机iPhone"));
    }

    #[test]
    fn operators_and_quotes_are_only_text() {
        // FTS5 syntax typed by a person is searched for, never obeyed.
        assert_eq!(fts("a OR b"), r#""a" "OR" "b""#);
        assert_eq!(fts("body:x"), r#""body:x""#);
        assert_eq!(fts("NEAR(a b)"), r#""NEAR(a" "b)""#);
        assert_eq!(fts(r#"say"hi"#), r#""say""hi""#);
        assert_eq!(fts("-x ^y"), r#""-x" "^y""#);
    }

    #[test]
    fn malformed_queries() {
        assert_eq!(parse(""), Err(QueryError::Empty));
        assert_eq!(parse("   \t"), Err(QueryError::Empty));
        assert_eq!(parse("* ** \"\" \" \" ... ，。"), Err(QueryError::Empty));
        assert_eq!(fts("\"unclosed phrase"), r#""unclosed phrase""#);
        assert_eq!(fts("\"\" x"), r#""x""#);
        assert_eq!(fts("e-mail"), r#""e-mail""#);
        let q = parse("e-mail").unwrap();
        assert_eq!(q.needles.len(), 2);
    }

    #[test]
    fn spacing_leaves_other_text_alone() {
        assert!(matches!(spaced("plain text"), Cow::Borrowed(_)));
        assert_eq!(spaced("a上b"), "a 上 b");
        assert_eq!(spaced("café"), "café");
    }
}
