//! "Did you mean …?": the closest known word to a mistyped one.

/// The longest word, in characters, that is worth a suggestion: no command, option or instruction
/// is near this long, and the edit distance costs the product of the two lengths.
pub const MAX_WORD: usize = 64;

/// The candidate nearest to `word` by edit distance, if it is close enough to be a likely typo.
/// A word longer than [`MAX_WORD`] characters gets none, at once.
pub fn nearest<'a>(word: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    if word.len() > MAX_WORD * 4 || word.chars().nth(MAX_WORD).is_some() {
        return None;
    }
    let limit = (word.chars().count() / 3).max(2);
    candidates
        .into_iter()
        .map(|c| (distance(word, c), c))
        .filter(|(d, _)| *d <= limit)
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c)
}

/// An unknown word as an error quotes it: at most [`MAX_WORD`] characters, cut on a character
/// with `…` appended, so a pasted page does not become the message.
pub fn shown(word: &str) -> String {
    match word.char_indices().nth(MAX_WORD) {
        Some((i, _)) => format!("{}…", &word[..i]),
        None => word.to_string(),
    }
}

/// Edit distance over characters (not bytes, so CJK input counts sensibly) where swapping two
/// neighbours costs one edit, as it does when typing: the optimal string alignment distance.
pub fn distance(a: &str, b: &str) -> usize {
    strsim::osa_distance(a, b)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn distances() {
        assert_eq!(distance("", ""), 0);
        assert_eq!(distance("abc", ""), 3);
        assert_eq!(distance("kitten", "sitting"), 3);
        assert_eq!(distance("老師", "老师"), 1);
        assert_eq!(distance("bey", "bye"), 1);
    }

    #[test]
    fn nearest_only_when_close() {
        let words = ["clear", "show", "set", "bye"];
        assert_eq!(nearest("claer", words), Some("clear"));
        assert_eq!(nearest("bey", words), Some("bye"));
        assert_eq!(nearest("xyzzy", words), None);
    }

    #[test]
    fn long_words_get_no_suggestion_at_once() {
        let words = ["clear", "show", "set", "bye"];
        let at_limit = format!("clear{}", "e".repeat(MAX_WORD - 5));
        assert_eq!(
            nearest(&at_limit, ["clear", at_limit.as_str()]),
            Some(at_limit.as_str())
        );
        let over = format!("{at_limit}e");
        assert_eq!(nearest(&over, [over.as_str()]), None);
        // A megabyte of one word: answered at once rather than after 10^12 steps.
        let huge = "x".repeat(1 << 20);
        let started = std::time::Instant::now();
        assert_eq!(nearest(&huge, words), None);
        assert!(started.elapsed() < std::time::Duration::from_millis(100));
    }

    #[test]
    fn a_shown_word_is_an_excerpt() {
        assert_eq!(shown("claer"), "claer");
        let exact = "好".repeat(MAX_WORD);
        assert_eq!(shown(&exact), exact);
        assert_eq!(shown(&format!("{exact}好")), format!("{exact}…"));
    }
}
