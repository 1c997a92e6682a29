//! A `.env` file in the working directory (`KEY=VALUE` lines), read for the OpenAI and Anthropic
//! backends' keys as Python's dotenv users expect. Parsing is pure and never evaluates anything: no
//! variable expansion, no command substitution. Values are never printed, not even in warnings.

use std::io::Read;
use std::path::Path;

/// The variables a `.env` file may set; anything else in it is left alone. Not the base URL: a
/// `.env` in a folder someone else wrote (a cloned repository) must not be able to send the key
/// from the user's environment to a server of its choosing.
pub const READ_FROM_DOTENV: &[&str] = &["OPENAI_API_KEY", "ANTHROPIC_API_KEY"];

/// A larger file is not a `.env` file.
const MAX_BYTES: u64 = 1 << 20;

/// The parsed file: variables in file order (a later line wins), and what was skipped.
#[derive(Debug, Default, PartialEq)]
pub struct DotEnv {
    vars: Vec<(String, String)>,
    pub warnings: Vec<String>,
}

impl DotEnv {
    pub fn get(&self, key: &str) -> Option<&str> {
        self.vars
            .iter()
            .rev()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    /// Reads `path` if it exists; a missing file is an empty one, an unreadable one a warning.
    pub fn load(path: &Path) -> DotEnv {
        // Asked first: opening a FIFO named `.env` would wait for a writer forever.
        match std::fs::metadata(path) {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return DotEnv::default(),
            Ok(meta) => {
                if let Some(what) = crate::paths::not_regular(&meta) {
                    return DotEnv::warning(format!("{} {what}; not read", path.display()));
                }
            }
            Err(_) => {}
        }
        let file = match std::fs::File::open(path) {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return DotEnv::default(),
            Err(e) => return DotEnv::warning(format!("cannot read {}: {e}", path.display())),
        };
        let mut bytes = Vec::new();
        if let Err(e) = file.take(MAX_BYTES + 1).read_to_end(&mut bytes) {
            return DotEnv::warning(format!("cannot read {}: {e}", path.display()));
        }
        if bytes.len() as u64 > MAX_BYTES {
            return DotEnv::warning(format!("{} is larger than 1 MiB; not read", path.display()));
        }
        match String::from_utf8(bytes) {
            Ok(text) => parse(&text, &path.display().to_string()),
            Err(_) => DotEnv::warning(format!("{} is not UTF-8 text; not read", path.display())),
        }
    }

    fn warning(w: String) -> DotEnv {
        DotEnv {
            vars: Vec::new(),
            warnings: vec![w],
        }
    }
}

/// Parses `.env` text: `KEY=VALUE`, optional `export `, `#` comments, values bare, in single quotes
/// (literal) or double quotes (`\n`, `\"`, `\\` escapes). `name` is used in warnings.
pub fn parse(text: &str, name: &str) -> DotEnv {
    let mut out = DotEnv::default();
    for (i, raw) in text.lines().enumerate() {
        let line = raw.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        match parse_line(line) {
            Ok((key, value)) => out.vars.push((key.to_string(), value)),
            Err(why) => out
                .warnings
                .push(format!("{name} line {}: {why}; line ignored", i + 1)),
        }
    }
    out
}

fn parse_line(line: &str) -> Result<(&str, String), &'static str> {
    let line = line.strip_prefix("export ").unwrap_or(line).trim_start();
    let (key, rest) = line.split_once('=').ok_or("expected KEY=VALUE")?;
    let key = key.trim();
    let valid_key = !key.is_empty()
        && !key.starts_with(|c: char| c.is_ascii_digit())
        && key
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '.');
    if !valid_key {
        return Err("not a variable name before `=`");
    }
    Ok((key, parse_value(rest.trim_start())?))
}

fn parse_value(v: &str) -> Result<String, &'static str> {
    let (value, after) = if let Some(rest) = v.strip_prefix('\'') {
        let end = rest.find('\'').ok_or("unterminated single quote")?;
        (rest[..end].to_string(), &rest[end + 1..])
    } else if let Some(rest) = v.strip_prefix('"') {
        let mut value = String::new();
        let mut chars = rest.char_indices();
        let end = loop {
            match chars.next() {
                None => return Err("unterminated double quote"),
                Some((i, '"')) => break i,
                Some((_, '\\')) => match chars.next() {
                    Some((_, 'n')) => value.push('\n'),
                    Some((_, 't')) => value.push('\t'),
                    Some((_, c @ ('"' | '\\' | '\''))) => value.push(c),
                    Some((_, c)) => {
                        value.push('\\');
                        value.push(c);
                    }
                    None => return Err("unterminated double quote"),
                },
                Some((_, c)) => value.push(c),
            }
        };
        (value, &rest[end + 1..])
    } else {
        // Bare: a ` #` starts a comment; a `#` inside a word does not.
        let end = v
            .char_indices()
            .find(|&(i, c)| c == '#' && i > 0 && v[..i].ends_with([' ', '\t']))
            .map_or(v.len(), |(i, _)| i);
        return Ok(v[..end].trim_end().to_string());
    };
    let after = after.trim_start();
    if after.is_empty() || after.starts_with('#') {
        Ok(value)
    } else {
        Err("text after the closing quote")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn get(text: &str, key: &str) -> Option<String> {
        parse(text, ".env").get(key).map(str::to_string)
    }

    #[test]
    fn plain_quoted_and_exported_values() {
        let text = "# keys\nOPENAI_API_KEY=sk-abc\nexport OPENAI_BASE_URL = \"http://h:8000/v1\"\nB='lit $X \\n'\n";
        assert_eq!(get(text, "OPENAI_API_KEY").as_deref(), Some("sk-abc"));
        assert_eq!(
            get(text, "OPENAI_BASE_URL").as_deref(),
            Some("http://h:8000/v1")
        );
        assert_eq!(get(text, "B").as_deref(), Some("lit $X \\n"));
        assert_eq!(get(text, "MISSING"), None);
    }

    #[test]
    fn comments_after_values() {
        assert_eq!(get("K=v # note", "K").as_deref(), Some("v"));
        assert_eq!(get("K=a#b", "K").as_deref(), Some("a#b"));
        assert_eq!(get("K=\"a # b\" # note", "K").as_deref(), Some("a # b"));
        assert_eq!(get("K='x' #c", "K").as_deref(), Some("x"));
    }

    #[test]
    fn double_quote_escapes() {
        assert_eq!(
            get(r#"K="a\"b\\c\nd\qe""#, "K").as_deref(),
            Some("a\"b\\c\nd\\qe")
        );
    }

    #[test]
    fn empty_values_crlf_and_last_wins() {
        let text = "K=\r\nK2=first\r\nK2=second\r\n";
        assert_eq!(get(text, "K").as_deref(), Some(""));
        assert_eq!(get(text, "K2").as_deref(), Some("second"));
    }

    #[test]
    fn bad_lines_warn_without_their_values() {
        let d = parse(
            "just words\n=nokey\n1X=y\nK=\"sk-unterminated\nQ='open\nR=\"x\" trailing\nGOOD=1\n",
            ".env",
        );
        assert_eq!(d.get("GOOD"), Some("1"));
        assert_eq!(d.warnings.len(), 6, "{:?}", d.warnings);
        assert!(d.warnings[0].starts_with(".env line 1:"));
        assert!(d.warnings.iter().all(|w| !w.contains("sk-unterminated")));
    }

    #[test]
    fn chinese_values() {
        assert_eq!(
            get("NOTE=\"你好，世界\"", "NOTE").as_deref(),
            Some("你好，世界")
        );
    }

    #[test]
    fn loading_files() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(DotEnv::load(&dir.path().join("none")), DotEnv::default());
        let p = dir.path().join(".env");
        std::fs::write(&p, "OPENAI_API_KEY=sk-1\n").unwrap();
        assert_eq!(DotEnv::load(&p).get("OPENAI_API_KEY"), Some("sk-1"));
        std::fs::write(&p, b"K=\xff\n").unwrap();
        assert_eq!(DotEnv::load(&p).warnings.len(), 1);
        assert_eq!(DotEnv::load(dir.path()).warnings.len(), 1, "a folder");
    }
}
