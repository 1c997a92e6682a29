//! Choosing a model from a numbered list (a terminal start with several installed and none
//! named, or `/model` alone), and remembering the choice per server so it is offered first.

use std::collections::BTreeMap;
use std::io::{self, BufRead, Read, Write};
use std::path::Path;

use crate::untrusted::Untrusted;

/// The remembered file is small; anything larger is not ours and is ignored.
const MAX_REMEMBERED: u64 = 64 << 10;

/// The names in the order offered: the one used last on this server first, the rest sorted.
pub fn ordered(mut names: Vec<Untrusted>, last: Option<&str>) -> Vec<Untrusted> {
    names.sort();
    names.dedup();
    if let Some(i) = last.and_then(|l| names.iter().position(|n| n.raw() == l)) {
        let first = names.remove(i);
        names.insert(0, first);
    }
    names
}

/// What the person typed → the index chosen: Enter is the first (or `keep`, when given), a
/// number counts from 1, a name or the start of only one name picks it.
pub fn parse_choice(answer: &str, names: &[Untrusted]) -> Result<Option<usize>, String> {
    let answer = answer.trim();
    if answer.is_empty() {
        return Ok(None);
    }
    if let Ok(n) = answer.parse::<usize>() {
        return match n {
            1.. if n <= names.len() => Ok(Some(n - 1)),
            _ => Err(format!("choose a number from 1 to {}", names.len())),
        };
    }
    if let Some(i) = names.iter().position(|m| m.raw() == answer) {
        return Ok(Some(i));
    }
    let starting: Vec<usize> = (0..names.len())
        .filter(|&i| names[i].raw().starts_with(answer))
        .collect();
    match starting[..] {
        [i] => Ok(Some(i)),
        [] => Err(format!(
            "no model {:?}; type a number or a name",
            crate::suggest::shown(answer)
        )),
        _ => Err(format!(
            "several models start with {:?}; type more of the name",
            crate::suggest::shown(answer)
        )),
    }
}

/// The numbered list, the current model (as `is_current` says) marked with `*`.
pub fn write_menu(
    out: &mut impl Write,
    names: &[Untrusted],
    is_current: impl Fn(&str) -> bool,
) -> io::Result<()> {
    let digits = names.len().to_string().len();
    for (i, name) in names.iter().enumerate() {
        let mark = if is_current(name.raw()) { '*' } else { ' ' };
        writeln!(out, "{mark}{:>digits$}) {}", i + 1, name.one_line())?;
    }
    Ok(())
}

/// Asks until a valid answer (three tries): `Ok(None)` when the person pressed Enter with
/// `default_first` false, or ended the input.
pub fn ask(
    input: &mut impl BufRead,
    out: &mut impl Write,
    names: &[Untrusted],
    question: &str,
    default_first: bool,
) -> io::Result<Option<usize>> {
    for _ in 0..3 {
        write!(out, "{question}")?;
        out.flush()?;
        let mut line = String::new();
        if input.by_ref().take(4096).read_line(&mut line)? == 0 {
            writeln!(out)?;
            return Ok(None);
        }
        match parse_choice(&line, names) {
            Ok(None) if default_first && !names.is_empty() => return Ok(Some(0)),
            Ok(choice) => return Ok(choice),
            Err(e) => writeln!(out, "{e}")?,
        }
    }
    Ok(None)
}

/// The model last chosen on server `host`, from the file at `path`.
pub fn remembered(path: &Path, host: &str) -> Option<String> {
    read_all(path).remove(host)
}

/// Records `model` as the last chosen on `host` (best effort: a failure only loses the hint).
pub fn remember(path: &Path, host: &str, model: &str) {
    let mut all = read_all(path);
    all.insert(host.to_string(), model.to_string());
    let Ok(text) = serde_json::to_string_pretty(&all) else {
        return;
    };
    if let Some(dir) = path.parent() {
        let _ = crate::paths::create_private_dir(dir);
    }
    let tmp = path.with_extension("json.tmp");
    let written = {
        use std::os::unix::fs::OpenOptionsExt;
        std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o600)
            .open(&tmp)
            .and_then(|mut f| f.write_all(text.as_bytes()))
    };
    if written.is_ok() {
        let _ = std::fs::rename(&tmp, path);
    }
}

fn read_all(path: &Path) -> BTreeMap<String, String> {
    crate::paths::read_regular(path, MAX_REMEMBERED)
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(n: &[&str]) -> Vec<Untrusted> {
        n.iter().map(|s| Untrusted::new(*s)).collect()
    }

    #[test]
    fn the_last_used_comes_first() {
        let got = ordered(names(&["b", "a", "c", "a"]), Some("c"));
        assert_eq!(got, names(&["c", "a", "b"]));
        assert_eq!(
            ordered(names(&["b", "a"]), Some("gone")),
            names(&["a", "b"])
        );
    }

    #[test]
    fn answers() {
        let n = names(&["qwen3:8b", "qwen3:32b", "llama3.2", "翻译:1b"]);
        assert_eq!(parse_choice("", &n), Ok(None));
        assert_eq!(parse_choice(" 2\n", &n), Ok(Some(1)));
        assert_eq!(parse_choice("llama", &n), Ok(Some(2)));
        assert_eq!(parse_choice("翻", &n), Ok(Some(3)));
        assert_eq!(parse_choice("qwen3:8b", &n), Ok(Some(0)));
        assert!(parse_choice("qwen", &n).unwrap_err().contains("several"));
        assert!(parse_choice("0", &n).unwrap_err().contains("1 to 4"));
        assert!(parse_choice("5", &n).unwrap_err().contains("1 to 4"));
        assert!(parse_choice("mistral", &n)
            .unwrap_err()
            .contains("no model"));
    }

    #[test]
    fn asking_retries_and_takes_the_default() {
        let n = names(&["a", "b"]);
        let mut out = Vec::new();
        let got = ask(&mut "x\n9\n2\n".as_bytes(), &mut out, &n, "? ", true).unwrap();
        assert_eq!(got, Some(1));
        let text = String::from_utf8(out).unwrap();
        assert_eq!(text.matches("? ").count(), 3, "{text}");
        assert_eq!(
            ask(&mut "\n".as_bytes(), &mut Vec::new(), &n, "? ", true).unwrap(),
            Some(0)
        );
        assert_eq!(
            ask(&mut "\n".as_bytes(), &mut Vec::new(), &n, "? ", false).unwrap(),
            None
        );
        assert_eq!(
            ask(&mut "".as_bytes(), &mut Vec::new(), &n, "? ", true).unwrap(),
            None
        );
        assert_eq!(
            ask(
                &mut "x\nx\nx\n1\n".as_bytes(),
                &mut Vec::new(),
                &n,
                "? ",
                true
            )
            .unwrap(),
            None
        );
    }

    #[test]
    fn the_menu_marks_the_current_model() {
        let mut out = Vec::new();
        write_menu(&mut out, &names(&["a", "b"]), |n| n == "b").unwrap();
        assert_eq!(String::from_utf8(out).unwrap(), " 1) a\n*2) b\n");
    }

    #[test]
    fn choices_are_remembered_per_server() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state/models.json");
        assert_eq!(remembered(&path, "http://h:1"), None);
        remember(&path, "http://h:1", "a");
        remember(&path, "http://h:2", "b");
        remember(&path, "http://h:1", "c");
        assert_eq!(remembered(&path, "http://h:1").as_deref(), Some("c"));
        assert_eq!(remembered(&path, "http://h:2").as_deref(), Some("b"));
        std::fs::write(&path, "not json").unwrap();
        assert_eq!(remembered(&path, "http://h:1"), None);
    }
}
