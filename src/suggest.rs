//! "Did you mean …?": the closest known word to a mistyped one.

/// The candidate nearest to `word` by edit distance, if it is close enough to be a likely typo.
pub fn nearest<'a>(word: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    let limit = (word.chars().count() / 3).max(2);
    candidates
        .into_iter()
        .map(|c| (distance(word, c), c))
        .filter(|(d, _)| *d <= limit)
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c)
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
}
