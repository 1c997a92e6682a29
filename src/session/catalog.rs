//! The sessions folder: every saved session, newest first, and finding one by path, id or name.
//! Backed by the index (`super::index`), so neither parses every file.

use std::path::Path;

use super::index::refresh::scan;
use super::index::search::Listed;
use super::index::{Index, IndexError, Summary};
use super::load::{load_file, Loaded};
use super::SessionError;

/// Every session file in `dir`, most recently changed first, with the warnings to show (the
/// index was rebuilt, or could not be used). A missing folder is an empty list.
///
/// The summaries come from the index, which reads only the files that changed since it last
/// looked; if the index cannot be used (a read-only folder, a full disk), every file is read.
pub fn list(dir: &Path) -> Result<(Vec<Listed>, Vec<String>), SessionError> {
    if !dir.is_dir() {
        return Ok((Vec::new(), Vec::new()));
    }
    match Index::with(dir, |i| i.list()) {
        Ok(listed) => Ok(listed),
        Err(IndexError::Folder { path, source }) => Err(SessionError::Read { path, source }),
        Err(e) => {
            let warning = format!("{e}; reading every session file instead");
            Ok((read_all(dir)?, vec![warning]))
        }
    }
}

fn folder_error(dir: &Path, source: std::io::Error) -> SessionError {
    SessionError::Read {
        path: dir.display().to_string(),
        source,
    }
}

/// The list without the index: every file parsed.
fn read_all(dir: &Path) -> Result<Vec<Listed>, SessionError> {
    let mut files = scan(dir).map_err(|source| folder_error(dir, source))?;
    files.sort_by(|a, b| b.mtime.cmp(&a.mtime).then_with(|| a.name.cmp(&b.name)));
    Ok(files
        .into_iter()
        .map(|f| {
            let path = dir.join(&f.name);
            Listed {
                session: load_file(&path)
                    .map(|l| Summary::of(&l, path.clone()))
                    .map_err(|e| e.to_string()),
                path,
                mtime: f.mtime,
            }
        })
        .collect())
}

/// The session a user means by `query`: an existing file path, else an id (or its first
/// characters) or a name from `/save` in the sessions folder. Of several sessions with one name,
/// the most recent. Warnings about the index come back in the session's `warnings`.
pub fn find(dir: Option<&Path>, query: &str) -> Result<Loaded, SessionError> {
    let as_path = Path::new(query);
    if as_path.is_file() || looks_like_path(query) {
        return load_file(as_path);
    }
    let dir = dir.ok_or(SessionError::NoFolder)?;
    let q = query.trim().to_lowercase();
    if q.is_empty() {
        return Err(SessionError::NotFound(query.to_string()));
    }
    let (entries, warnings) = list(dir)?;
    let sessions: Vec<&Summary> = entries
        .iter()
        .filter_map(|e| e.session.as_ref().ok())
        .collect();
    let by_id: Vec<&Summary> = sessions
        .iter()
        .copied()
        .filter(|s| s.id.to_string().starts_with(&q) || s.id.simple().to_string().starts_with(&q))
        .collect();
    let chosen = match by_id.as_slice() {
        [one] => Some(*one),
        _ => sessions
            .iter()
            .copied()
            .find(|s| s.name.as_deref().is_some_and(|n| n.to_lowercase() == q)),
    };
    if let Some(s) = chosen {
        let mut loaded = load_file(&s.path)?;
        loaded.warnings.splice(0..0, warnings);
        return Ok(loaded);
    }
    if by_id.len() > 1 {
        return Err(SessionError::Ambiguous {
            query: query.to_string(),
            ids: by_id.iter().map(|s| super::short_id(&s.id)).collect(),
        });
    }
    Err(SessionError::NotFound(query.to_string()))
}

/// A query with a folder in it or the file suffix means a file, never an id or a name.
pub fn looks_like_path(query: &str) -> bool {
    query.contains('/') || query.ends_with(".jsonl")
}

/// The session changed most recently (`--continue`). A damaged newest file is an error, not a
/// reason to continue an older session silently. Only the folder is looked at and one file
/// read, so it is as fast with ten thousand sessions as with one.
pub fn most_recent(dir: Option<&Path>) -> Result<Loaded, SessionError> {
    let dir = dir.ok_or(SessionError::NoFolder)?;
    let files = scan(dir).map_err(|source| folder_error(dir, source))?;
    let newest = files
        .iter()
        .min_by(|a, b| b.mtime.cmp(&a.mtime).then_with(|| a.name.cmp(&b.name)));
    match newest {
        Some(f) => load_file(&dir.join(&f.name)),
        None => Err(SessionError::NothingToContinue),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::options::Options;
    use crate::session::format::{Change, Event, Header};
    use crate::session::store::SessionWriter;

    fn make(dir: &Path, name: Option<&str>) -> uuid::Uuid {
        let h = Header::new("tiny", "http://h", None, &Options::default());
        let id = h.id;
        let mut w = SessionWriter::create_in(dir, h);
        w.append(&Event::now(Change::User {
            content: "q".into(),
            images: Vec::new(),
        }))
        .unwrap();
        if let Some(n) = name {
            w.append(&Event::now(Change::Name { name: n.into() }))
                .unwrap();
        }
        id
    }

    #[test]
    fn find_by_id_prefix_name_or_path() {
        let dir = tempfile::tempdir().unwrap();
        let a = make(dir.path(), Some("Teacher 老師"));
        let b = make(dir.path(), None);
        let found = |q: &str| find(Some(dir.path()), q).map(|l| l.header.id);
        assert_eq!(found(&a.to_string()).unwrap(), a);
        assert_eq!(found(&b.simple().to_string()[..8]).unwrap(), b);
        assert_eq!(found("teacher 老師").unwrap(), a);
        let path = dir.path().join(format!("{b}.jsonl"));
        assert_eq!(found(path.to_str().unwrap()).unwrap(), b);
        assert!(matches!(found("zzzz"), Err(SessionError::NotFound(_))));
        assert!(matches!(found(""), Err(SessionError::NotFound(_))));
    }

    #[test]
    fn without_a_usable_index_the_list_reads_every_file() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("sessions");
        let a = make(&dir, Some("kept"));
        // Something that is not a folder where the index would go.
        std::fs::write(tmp.path().join("index"), "not a folder").unwrap();
        let (listed, warnings) = list(&dir).unwrap();
        assert_eq!(listed.len(), 1);
        assert_eq!(listed[0].session.as_ref().unwrap().id, a);
        assert_eq!(warnings.len(), 1);
        assert!(
            warnings[0].contains("reading every session file instead"),
            "{warnings:?}"
        );
        assert_eq!(find(Some(&dir), "kept").unwrap().header.id, a);
    }

    #[test]
    fn an_empty_or_missing_folder_has_nothing_to_continue() {
        let dir = tempfile::tempdir().unwrap();
        assert!(matches!(
            most_recent(Some(&dir.path().join("none"))),
            Err(SessionError::NothingToContinue)
        ));
        assert!(list(&dir.path().join("none")).unwrap().0.is_empty());
        assert!(matches!(most_recent(None), Err(SessionError::NoFolder)));
    }
}
