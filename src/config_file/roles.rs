//! Roles: saved prompts. A `[roles.NAME]` table of the config file, or a file in the roles folder:
//! `NAME.toml` (the same keys) or `NAME.md` / `NAME.txt` (the system prompt itself).

use std::path::{Path, PathBuf};

use clap::Command;

use super::{parse_role, read, Check, ConfigFile, Entry, FileError, Pos, Section};
use crate::config::RoleList;
use crate::suggest;

/// A role that cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum RoleError {
    #[error("no role {name:?}{hint}; `/roles` or `ollama-chat config show` lists them")]
    NotFound { name: String, hint: String },
    #[error("a role name is letters, digits, `-`, `_` and `.`, not {0:?}")]
    BadName(String),
    #[error(transparent)]
    File(#[from] FileError),
}

/// Whether `name` can name a role (and so a file in the roles folder: no `/`, no `..`).
pub fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name.chars().count() <= 64
        && !name.starts_with('.')
        && name
            .chars()
            .all(|c| c.is_alphanumeric() || matches!(c, '-' | '_' | '.'))
}

/// The extensions a role file may have, in the order they are looked for.
const EXTENSIONS: &[&str] = &["toml", "md", "txt"];

/// The role `name`: the config file's table first, else a file in `dir`.
pub fn find(
    file: Option<&ConfigFile>,
    dir: Option<&Path>,
    name: &str,
    cmd: &Command,
    check: Check<'_>,
) -> Result<Section, RoleError> {
    if !valid_name(name) {
        return Err(RoleError::BadName(suggest::shown(name)));
    }
    if let Some((_, s)) = file.and_then(|f| f.roles.iter().find(|(n, _)| n == name)) {
        return Ok(s.clone());
    }
    for ext in EXTENSIONS {
        let Some(path) = dir.map(|d| d.join(format!("{name}.{ext}"))) else {
            break;
        };
        let Some(text) = read(&path)? else {
            continue;
        };
        if *ext == "toml" {
            return Ok(parse_role(&text, &path, cmd, check)?);
        }
        let args = vec![format!("--system={}", text.trim())];
        return Ok(Section {
            entries: vec![Entry {
                id: "system".into(),
                args,
                at: Pos { line: 1, col: 1 },
            }],
            api_key: None,
        });
    }
    let known = names(file, dir);
    let hint = match suggest::nearest(name, known.iter().map(String::as_str)) {
        Some(n) => format!(" (did you mean {n:?}?)"),
        None if known.is_empty() => " (none is defined)".into(),
        None => String::new(),
    };
    Err(RoleError::NotFound {
        name: suggest::shown(name),
        hint,
    })
}

/// The roles of `file` and `dir`, for `/role` mid-chat.
pub fn list(file: Option<&ConfigFile>, dir: Option<PathBuf>) -> RoleList {
    let words = |s: &Section| s.entries.iter().flat_map(|e| e.args.clone()).collect();
    RoleList {
        defined: file
            .map(|f| f.roles.iter().map(|(n, s)| (n.clone(), words(s))).collect())
            .unwrap_or_default(),
        dir,
    }
}

/// Every role's name in `list`, sorted.
pub fn list_names(list: &RoleList) -> Vec<String> {
    let mut out = names(None, list.dir.as_deref());
    out.extend(list.defined.iter().map(|(n, _)| n.clone()));
    out.sort();
    out.dedup();
    out
}

/// The command-line words of role `name` in `list`, its values checked as at start-up.
pub fn find_words(list: &RoleList, name: &str) -> Result<Vec<String>, RoleError> {
    if let Some((_, words)) = list.defined.iter().find(|(n, _)| n == name) {
        return Ok(words.clone());
    }
    let cmd = <crate::cli::Cli as clap::CommandFactory>::command();
    let check = |words: &[String]| super::load::check_words(&cmd, words);
    let known = ConfigFile {
        roles: list
            .defined
            .iter()
            .map(|(n, _)| (n.clone(), Section::default()))
            .collect(),
        ..ConfigFile::default()
    };
    let section = find(Some(&known), list.dir.as_deref(), name, &cmd, &check)?;
    Ok(section.entries.into_iter().flat_map(|e| e.args).collect())
}

/// Every role's name, sorted: the config file's and the roles folder's.
pub fn names(file: Option<&ConfigFile>, dir: Option<&Path>) -> Vec<String> {
    let mut out: Vec<String> = file
        .map(|f| f.roles.iter().map(|(n, _)| n.clone()).collect())
        .unwrap_or_default();
    if let Some(entries) = dir.and_then(|d| std::fs::read_dir(d).ok()) {
        for entry in entries.flatten().take(10_000) {
            let path = PathBuf::from(entry.file_name());
            let (Some(stem), Some(ext)) = (path.file_stem(), path.extension()) else {
                continue;
            };
            let (Some(stem), Some(ext)) = (stem.to_str(), ext.to_str()) else {
                continue;
            };
            if EXTENSIONS.contains(&ext) && valid_name(stem) {
                out.push(stem.to_string());
            }
        }
    }
    out.sort();
    out.dedup();
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cli::Cli;
    use clap::CommandFactory;

    #[test]
    fn roles_from_the_file_and_the_folder() {
        let cmd = Cli::command();
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("poet.md"), "  Write verse.\n").unwrap();
        std::fs::write(
            dir.path().join("terse.toml"),
            "system = \"Be brief.\"\nthink = false\n",
        )
        .unwrap();
        std::fs::write(dir.path().join("broken.toml"), "model = \n").unwrap();
        std::fs::write(dir.path().join(".hidden.md"), "x").unwrap();
        let file = super::super::parse(
            "[roles.coder]\nsystem = \"You write Rust.\"",
            "c.toml".as_ref(),
            &cmd,
            &|_| Ok(()),
        )
        .unwrap();
        let ok = |_: &[String]| Ok(());
        let find = |name| find(Some(&file), Some(dir.path()), name, &cmd, &ok);
        assert_eq!(
            find("coder").unwrap().value("system"),
            Some("You write Rust.")
        );
        assert_eq!(find("poet").unwrap().value("system"), Some("Write verse."));
        let terse = find("terse").unwrap();
        assert_eq!(terse.value("think"), Some("false"));
        assert!(matches!(
            find("broken"),
            Err(RoleError::File(FileError::At { .. }))
        ));
        let e = find("poem").unwrap_err().to_string();
        assert!(e.contains("did you mean \"poet\""), "{e}");
        for bad in ["../x", "a/b", "", ".hidden"] {
            assert!(matches!(find(bad), Err(RoleError::BadName(_))), "{bad}");
        }
        assert_eq!(
            names(Some(&file), Some(dir.path())),
            ["broken", "coder", "poet", "terse"]
        );
        let e = super::find(None, None, "x", &cmd, &ok)
            .unwrap_err()
            .to_string();
        assert!(e.contains("none is defined"), "{e}");
    }

    #[test]
    fn a_chinese_role_name_is_a_name() {
        assert!(valid_name("翻译"));
        assert!(!valid_name("a b"));
    }
}
