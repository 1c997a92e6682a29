//! The sessions folder: every saved session, newest first, and finding one by path, id or name.

use std::path::{Path, PathBuf};
use std::time::SystemTime;

use super::load::{load_file, Loaded};
use super::SessionError;

/// One file in the sessions folder, read or not.
pub struct Entry {
    pub path: PathBuf,
    pub modified: SystemTime,
    pub session: Result<Loaded, SessionError>,
}

/// Every `*.jsonl` file in `dir`, most recently changed first. A missing folder is an empty list.
pub fn list(dir: &Path) -> Result<Vec<Entry>, SessionError> {
    let read = match std::fs::read_dir(dir) {
        Ok(r) => r,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(source) => {
            return Err(SessionError::Read {
                path: dir.display().to_string(),
                source,
            })
        }
    };
    let mut files: Vec<(PathBuf, SystemTime)> = read
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "jsonl") && p.is_file())
        .map(|p| {
            let m = std::fs::metadata(&p)
                .and_then(|m| m.modified())
                .unwrap_or(SystemTime::UNIX_EPOCH);
            (p, m)
        })
        .collect();
    files.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    Ok(files
        .into_iter()
        .map(|(path, modified)| Entry {
            session: load_file(&path),
            path,
            modified,
        })
        .collect())
}

/// The session a user means by `query`: an existing file path, else an id (or its first
/// characters) or a name from `/save` in the sessions folder. Of several sessions with one name,
/// the most recent.
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
    let entries = list(dir)?;
    let sessions: Vec<Loaded> = entries.into_iter().filter_map(|e| e.session.ok()).collect();
    let by_id: Vec<&Loaded> = sessions
        .iter()
        .filter(|s| {
            let id = s.header.id;
            id.to_string().starts_with(&q) || id.simple().to_string().starts_with(&q)
        })
        .collect();
    if let [one] = by_id.as_slice() {
        return Ok((*one).clone());
    }
    if let Some(named) = sessions.iter().find(|s| {
        s.state
            .name
            .as_deref()
            .is_some_and(|n| n.to_lowercase() == q)
    }) {
        return Ok(named.clone());
    }
    if by_id.len() > 1 {
        return Err(SessionError::Ambiguous {
            query: query.to_string(),
            ids: by_id
                .iter()
                .map(|s| super::short_id(&s.header.id))
                .collect(),
        });
    }
    Err(SessionError::NotFound(query.to_string()))
}

/// A query with a folder in it or the file suffix means a file, never an id or a name.
pub fn looks_like_path(query: &str) -> bool {
    query.contains('/') || query.ends_with(".jsonl")
}

/// The session changed most recently (`--continue`). A damaged newest file is an error, not a
/// reason to continue an older session silently.
pub fn most_recent(dir: Option<&Path>) -> Result<Loaded, SessionError> {
    let dir = dir.ok_or(SessionError::NoFolder)?;
    match list(dir)?.into_iter().next() {
        Some(e) => e.session,
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
    fn an_empty_or_missing_folder_has_nothing_to_continue() {
        let dir = tempfile::tempdir().unwrap();
        assert!(matches!(
            most_recent(Some(&dir.path().join("none"))),
            Err(SessionError::NothingToContinue)
        ));
        assert!(list(&dir.path().join("none")).unwrap().is_empty());
        assert!(matches!(most_recent(None), Err(SessionError::NoFolder)));
    }
}
