//! Finding file paths in a typed message, as `ollama run` does for images: absolute, relative or
//! `~/` paths, quoted or with escaped spaces, ending in an image extension; and `@path` for any
//! file. Pure: whether a path names a file is asked through a function, so a path that does not
//! exist stays text and the tests need no files.

use std::ops::Range;
use std::path::{Path, PathBuf};

use super::sniff::has_image_extension;

/// What a path found in the message is to become.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Found {
    /// An image path: attached, and taken out of the text.
    Image { span: Range<usize>, path: PathBuf },
    /// `@path`: the file attached (as text, or as an image if it is one); the text stays.
    At { span: Range<usize>, path: PathBuf },
}

impl Found {
    pub fn path(&self) -> &Path {
        match self {
            Found::Image { path, .. } | Found::At { path, .. } => path,
        }
    }
}

/// One whitespace-separated word of the message, with quotes and backslash escapes resolved.
#[derive(Debug, PartialEq)]
struct Word {
    span: Range<usize>,
    value: String,
    quoted: bool,
}

/// Splits `text` into words the way a shell would for a path: `'…'` and `"…"` at a word's start
/// quote up to the matching quote (an unmatched one is an ordinary character, as in `what's`),
/// and `\` makes the next character literal (`my\ cat.png`).
fn words(text: &str) -> Vec<Word> {
    let mut out = Vec::new();
    let mut chars = text.char_indices().peekable();
    while let Some(&(start, c)) = chars.peek() {
        if c.is_whitespace() {
            chars.next();
            continue;
        }
        if c == '\'' || c == '"' {
            if let Some(close) = text[start + 1..].find(c) {
                let end = start + 1 + close + 1;
                // A quoted word ends at its closing quote followed by a space or the end, perhaps
                // with a sentence's punctuation between (`'~/a b.png'?`), which stays text.
                let rest = &text[end..];
                let after = rest.trim_start_matches(TRAILING).chars().next();
                if after.is_none_or(char::is_whitespace) {
                    out.push(Word {
                        span: start..end,
                        value: text[start + 1..end - 1].to_string(),
                        quoted: true,
                    });
                    while chars.peek().is_some_and(|&(i, _)| i < end) {
                        chars.next();
                    }
                    continue;
                }
            }
        }
        let mut value = String::new();
        let mut end = start;
        while let Some(&(i, c)) = chars.peek() {
            if c.is_whitespace() {
                break;
            }
            chars.next();
            end = i + c.len_utf8();
            if c == '\\' {
                if let Some(&(j, next)) = chars.peek() {
                    if next == ' ' || next == '\\' || next == '\'' || next == '"' {
                        chars.next();
                        end = j + next.len_utf8();
                        value.push(next);
                        continue;
                    }
                }
            }
            value.push(c);
        }
        out.push(Word {
            span: start..end,
            value,
            quoted: false,
        });
    }
    out
}

/// The paths typed after `/image` or `/file`: quotes and backslash escapes resolved, `~/`
/// expanded.
pub fn split_paths(rest: &str, home: Option<&Path>) -> Vec<PathBuf> {
    words(rest)
        .into_iter()
        .map(|w| expand(&w.value, home).unwrap_or_else(|| PathBuf::from(&w.value)))
        .collect()
}

/// Punctuation that ends a sentence rather than a path: `what is ~/cat.png?`.
const TRAILING: &[char] = &['?', '!', ',', ';', ':', ')', '.', '。', '，', '？', '！'];

/// The paths in `text` that name files (`is_file`), in order. `home` expands `~/`.
pub fn find_paths(text: &str, home: Option<&Path>, is_file: &dyn Fn(&Path) -> bool) -> Vec<Found> {
    let mut found = Vec::new();
    for w in words(text) {
        let (mut value, mut span) = (w.value.as_str(), w.span.clone());
        if !w.quoted {
            let trimmed = value.trim_end_matches(TRAILING);
            span.end -= value.len() - trimmed.len();
            value = trimmed;
        }
        let (at, value) = match value.strip_prefix('@') {
            Some(rest) if !w.quoted => (true, rest),
            _ => (false, value),
        };
        if value.is_empty() || (!at && !has_image_extension(value)) {
            continue;
        }
        let Some(path) = expand(value, home) else {
            continue;
        };
        if !is_file(&path) {
            continue;
        }
        found.push(if at && !has_image_extension(value) {
            Found::At { span, path }
        } else {
            Found::Image { span, path }
        });
    }
    found
}

/// `~/x` under the home folder; other paths as they are (relative ones to the working folder).
fn expand(value: &str, home: Option<&Path>) -> Option<PathBuf> {
    match value.strip_prefix("~/") {
        Some(rest) => home.map(|h| h.join(rest)),
        None if value == "~" => None,
        None => Some(PathBuf::from(value)),
    }
}

/// `text` without the image paths found in it (their quotes too): where a path stood between
/// two spaces one of them goes too. Text with no image path is returned as it was, every space
/// kept.
pub fn without_images(text: &str, found: &[Found]) -> String {
    let mut out = String::with_capacity(text.len());
    let mut at = 0;
    let mut removed = false;
    for f in found {
        if let Found::Image { span, .. } = f {
            out.push_str(&text[at..span.start]);
            at = span.end;
            removed = true;
            if out.ends_with(' ') && text[at..].starts_with(' ') {
                at += 1;
            }
        }
    }
    out.push_str(&text[at..]);
    match removed {
        true => out.trim().to_string(),
        false => out,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The files that "exist" in these tests.
    const FILES: &[&str] = &[
        "/home/me/cat.png",
        "/home/me/My Photos/dog 1.JPG",
        "/tmp/a.webp",
        "cat.png",
        "./shots/screen.gif",
        "../up.jpeg",
        "notes.md",
        "src/main.rs",
        "照片/貓.png",
        "it's.png",
    ];

    fn find(text: &str) -> Vec<Found> {
        let exists = |p: &Path| FILES.iter().any(|f| Path::new(f) == p);
        find_paths(text, Some(Path::new("/home/me")), &exists)
    }

    fn paths(text: &str) -> Vec<String> {
        find(text)
            .iter()
            .map(|f| f.path().to_string_lossy().into_owned())
            .collect()
    }

    fn image(span: Range<usize>, path: &str) -> Found {
        Found::Image {
            span,
            path: path.into(),
        }
    }

    #[test]
    fn image_paths_in_their_forms() {
        assert_eq!(
            find("what is in /tmp/a.webp"),
            vec![image(11..22, "/tmp/a.webp")]
        );
        assert_eq!(paths("describe ~/cat.png please"), ["/home/me/cat.png"]);
        assert_eq!(paths("cat.png"), ["cat.png"]);
        assert_eq!(
            paths("compare ./shots/screen.gif and ../up.jpeg"),
            ["./shots/screen.gif", "../up.jpeg"]
        );
        assert_eq!(
            paths("'/home/me/My Photos/dog 1.JPG' what breed?"),
            ["/home/me/My Photos/dog 1.JPG"]
        );
        assert_eq!(
            paths("\"~/My Photos/dog 1.JPG\""),
            ["/home/me/My Photos/dog 1.JPG"]
        );
        assert_eq!(
            paths(r"look: ~/My\ Photos/dog\ 1.JPG"),
            ["/home/me/My Photos/dog 1.JPG"]
        );
        assert_eq!(paths("這是什麼 照片/貓.png？"), ["照片/貓.png"]);
        assert_eq!(paths(r"it\'s.png"), ["it's.png"]);
        assert_eq!(
            find("is '~/My Photos/dog 1.JPG'? yes"),
            vec![image(3..26, "/home/me/My Photos/dog 1.JPG")]
        );
    }

    #[test]
    fn ordinary_text_stays_text() {
        for text in [
            "",
            "what is the difference between .png and .jpg?",
            "convert photo.png to webp", // no such file
            "/tmp/missing.png",          // no such file
            "~/nope.png",
            "~",
            "what's in cat.png.txt", // not an image name
            "cat.pngx",
            "email me@cat.png", // @ inside a word
            "'cat.png",         // unmatched quote: the word is 'cat.png
            "\"cat.png\"s",     // the quote does not end the word
            "https://example.com/cat.png",
            "the file `cat.png`", // backticks are markdown, not quotes
            "@",
            "@nobody",
            "@ cat.md",
            "\"\"",
            "two  spaces\tand\nnew lines",
            "你好，世界",
        ] {
            assert_eq!(paths(text), Vec::<String>::new(), "{text:?}");
        }
    }

    #[test]
    fn sentence_punctuation_is_not_part_of_the_path() {
        let f = find("is this ~/cat.png? or cat.png.");
        assert_eq!(
            f,
            vec![image(8..17, "/home/me/cat.png"), image(22..29, "cat.png")]
        );
        assert_eq!(
            without_images("is this ~/cat.png? or cat.png.", &f),
            "is this ? or ."
        );
    }

    #[test]
    fn at_paths_name_any_file_and_stay_in_the_text() {
        let text = "review @src/main.rs and @notes.md, and @cat.png";
        let f = find(text);
        assert_eq!(
            f,
            vec![
                Found::At {
                    span: 7..19,
                    path: "src/main.rs".into()
                },
                Found::At {
                    span: 24..33,
                    path: "notes.md".into()
                },
                image(39..47, "cat.png"),
            ]
        );
        assert_eq!(
            without_images(text, &f),
            "review @src/main.rs and @notes.md, and"
        );
        assert!(find("mail @someone about it").is_empty());
    }

    #[test]
    fn removing_paths_leaves_tidy_text() {
        let text = "compare '/home/me/My Photos/dog 1.JPG' with /tmp/a.webp now\nok";
        let f = find(text);
        assert_eq!(f.len(), 2);
        assert_eq!(without_images(text, &f), "compare with now\nok");
        // Without an image path nothing changes, spaces included.
        let text = "  two  spaces, @notes.md\n  indented ";
        assert_eq!(without_images(text, &find(text)), text);
        assert_eq!(without_images("cat.png", &find("cat.png")), "");
    }

    #[test]
    fn command_arguments_are_paths() {
        let home = Some(Path::new("/home/me"));
        assert_eq!(
            split_paths(r#"~/a.png 'My Photos/b c.jpg' d\ e.gif"#, home),
            [
                PathBuf::from("/home/me/a.png"),
                PathBuf::from("My Photos/b c.jpg"),
                PathBuf::from("d e.gif")
            ]
        );
        assert!(split_paths("  ", home).is_empty());
    }

    #[test]
    fn words_split_like_a_shell() {
        let w = words(r#"a 'b c' "d" e\ f g'h"#);
        let v: Vec<(&str, bool)> = w.iter().map(|w| (w.value.as_str(), w.quoted)).collect();
        assert_eq!(
            v,
            [
                ("a", false),
                ("b c", true),
                ("d", true),
                ("e f", false),
                ("g'h", false)
            ]
        );
        assert_eq!(&r#"a 'b c' "d" e\ f g'h"#[w[3].span.clone()], r"e\ f");
    }
}
