//! Reading the index: ranked search hits with their text, and every session's summary.

use std::collections::HashMap;
use std::path::PathBuf;

use chrono::{DateTime, TimeZone, Utc};
use rusqlite::{params, Row};
use uuid::Uuid;

use super::docs::{text_at, Role, Summary};
use super::query::Query;
use super::{Index, IndexError};
use crate::session::format::Parent;
use crate::session::load::{load_file, Loaded};

/// Which messages a search looks at, and how many hits it returns.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Filters {
    /// Only messages sent to this model; without a `:tag`, any tag of it.
    pub model: Option<String>,
    /// Only messages from this time on (milliseconds since the epoch).
    pub since: Option<i64>,
    /// Only these roles; empty means user, assistant and system (thinking only when asked for).
    pub roles: Vec<Role>,
    pub limit: usize,
}

/// One message that matched.
#[derive(Debug, Clone, PartialEq)]
pub struct Hit {
    pub path: PathBuf,
    pub id: Uuid,
    pub name: Option<String>,
    pub turn: usize,
    pub role: Role,
    pub at: DateTime<Utc>,
    pub model: String,
    /// BM25, lower is better.
    pub score: f64,
    /// The whole message, as in the session file.
    pub text: String,
}

/// A session file as the index knows it: its summary, or why it could not be read.
#[derive(Debug, Clone)]
pub struct Listed {
    pub path: PathBuf,
    /// Modification time, nanoseconds since the epoch.
    pub mtime: i64,
    pub session: Result<Summary, String>,
}

impl Index {
    /// The best `filters.limit` messages for `query`: by BM25, then newest first.
    pub fn search(&self, query: &Query, filters: &Filters) -> Result<Vec<Hit>, IndexError> {
        let err = self.sql_err();
        let roles = match filters.roles.as_slice() {
            [] => vec![Role::User, Role::Assistant, Role::System],
            r => r.to_vec(),
        };
        let mask: i64 = roles.iter().map(|r| 1i64 << (*r as i64)).sum();
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT f.name, m.seq, m.turn, m.role, m.at, m.model, bm25(fts) AS score
                 FROM fts JOIN msg m ON m.id = fts.rowid JOIN files f ON f.fid = m.fid
                 WHERE fts MATCH ?1
                   AND ((1 << m.role) & ?2) != 0
                   AND (?3 IS NULL OR m.at >= ?3)
                   AND (?4 IS NULL OR m.model = ?4
                        OR (instr(?4, ':') = 0 AND substr(m.model, 1, length(?4) + 1) = ?4 || ':'))
                 ORDER BY score, m.at DESC, m.id DESC
                 LIMIT ?5",
            )
            .map_err(&err)?;
        let rows = stmt
            .query_map(
                params![
                    query.fts,
                    mask,
                    filters.since,
                    filters.model,
                    filters.limit as i64
                ],
                |r| {
                    Ok((
                        r.get::<_, String>(0)?,
                        r.get::<_, i64>(1)?,
                        r.get::<_, i64>(2)?,
                        r.get::<_, i64>(3)?,
                        r.get::<_, i64>(4)?,
                        r.get::<_, String>(5)?,
                        r.get::<_, f64>(6)?,
                    ))
                },
            )
            .map_err(&err)?
            .collect::<Result<Vec<_>, _>>()
            .map_err(&err)?;
        // The text is read from the session files: a few, once each.
        let mut files: HashMap<String, Option<Loaded>> = HashMap::new();
        let mut hits = Vec::with_capacity(rows.len());
        for (name, seq, turn, role, at, model, score) in rows {
            let loaded = files
                .entry(name.clone())
                .or_insert_with(|| load_file(&self.dir.join(&name)).ok());
            let Some(l) = loaded.as_ref() else { continue };
            let Some(role) = Role::from_code(role) else {
                continue;
            };
            // Changed since it was indexed (a race with a chat): the next search is right.
            let Some(text) = text_at(l, seq, role) else {
                continue;
            };
            hits.push(Hit {
                path: self.dir.join(&name),
                id: l.header.id,
                name: l.state.name.clone(),
                turn: usize::try_from(turn).unwrap_or(0),
                role,
                at: Utc.timestamp_millis_opt(at).single().unwrap_or_default(),
                model,
                score,
                text: text.to_string(),
            });
        }
        Ok(hits)
    }

    /// Every session file, most recently changed first.
    pub fn list(&self) -> Result<Vec<Listed>, IndexError> {
        let err = self.sql_err();
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT name, mtime, id, sname, created, last_at, model, turns, first_line,
                        parent, parent_turn, parent_events, error
                 FROM files ORDER BY mtime DESC, name",
            )
            .map_err(&err)?;
        let rows = stmt
            .query_map([], |r| listed(r, &self.dir))
            .map_err(&err)?
            .collect::<Result<Vec<_>, _>>()
            .map_err(&err)?;
        Ok(rows)
    }
}

fn listed(r: &Row<'_>, dir: &std::path::Path) -> rusqlite::Result<Listed> {
    let path = dir.join(r.get::<_, String>(0)?);
    let mtime = r.get(1)?;
    if let Some(e) = r.get::<_, Option<String>>(12)? {
        return Ok(Listed {
            path,
            mtime,
            session: Err(e),
        });
    }
    let time = |ms: i64| Utc.timestamp_millis_opt(ms).single().unwrap_or_default();
    let uuid = |s: Option<String>| s.and_then(|s| Uuid::parse_str(&s).ok());
    let parent = match (
        uuid(r.get(9)?),
        r.get::<_, Option<i64>>(10)?,
        r.get::<_, Option<i64>>(11)?,
    ) {
        (Some(id), Some(turn), Some(events)) => Some(Parent {
            id,
            turn: usize::try_from(turn).unwrap_or(0),
            events: usize::try_from(events).unwrap_or(0),
        }),
        _ => None,
    };
    let session = Summary {
        path: path.clone(),
        id: uuid(r.get(2)?).unwrap_or_default(),
        name: r.get(3)?,
        created: time(r.get(4)?),
        last_at: time(r.get(5)?),
        model: r.get(6)?,
        turns: usize::try_from(r.get::<_, i64>(7)?).unwrap_or(0),
        first_user_line: r.get(8)?,
        parent,
    };
    Ok(Listed {
        path,
        mtime,
        session: Ok(session),
    })
}
