//! Reading the index: ranked search hits with their text, and every session's summary.

use std::collections::{HashMap, VecDeque};
use std::path::{Path, PathBuf};

use chrono::{DateTime, TimeZone, Utc};
use rusqlite::{OptionalExtension, Row};
use uuid::Uuid;

use super::docs::{text_at, text_of, Role, Summary};
use super::query::Query;
use super::rank::{self, Parts};
use super::{Index, IndexError};
use crate::session::format::{parse_event, parse_header, Parent};
use crate::session::load::{load_file, Loaded};

/// Which messages a search looks at, how many hits it returns, and whether with their scores.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Filters {
    /// Only messages sent to this model; without a `:tag`, any tag of it.
    pub model: Option<String>,
    /// Only messages from this time on (milliseconds since the epoch).
    pub since: Option<i64>,
    /// Only these roles; empty means user, assistant and system (thinking only when asked for).
    pub roles: Vec<Role>,
    pub limit: usize,
    /// Give each hit its BM25 score, even when that takes counting every message that holds a
    /// common phrase (as costly as finding them): for `--json`, where the score is shown.
    pub scores: bool,
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
    /// BM25, lower is better; `None` when not asked for and not known without more work.
    pub score: Option<f64>,
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

/// How many matches are ranked together (see [`Index::search`]): a few tens of milliseconds.
pub const RANK_BATCH: usize = 10_000;

/// A message the ranking offered, with what the filters and the hit need.
struct Ranked {
    /// What it is ranked by: its BM25, or for a query of one phrase a multiple of it.
    key: f64,
    /// Its BM25 terms (see `rank`).
    terms: Vec<f64>,
    id: i64,
    name: String,
    session: Option<String>,
    session_name: Option<String>,
    off: Option<i64>,
    seq: i64,
    turn: i64,
    /// `None`: a code this version does not know.
    role: Option<Role>,
    at: i64,
    model: String,
}

/// The matches of a query, read window by window of message ids from the newest, each window in
/// ascending order: FTS5 walks its lists backwards at about twice the cost.
struct Windows {
    first: i64,
    /// The newest id not yet read.
    top: i64,
    width: i64,
    exhausted: bool,
    /// Matches read so far.
    matched: i64,
    /// Messages in the index, as `bm25_parts` says.
    rows_in_index: i64,
}

impl Windows {
    fn new(first: i64, last: i64, batch_size: usize) -> Windows {
        Windows {
            first,
            top: last,
            width: batch_size as i64,
            exhausted: false,
            matched: 0,
            rows_in_index: 0,
        }
    }

    /// The next window's matches, oldest first, with their BM25 terms. The window after it is
    /// wide enough for `wanted` more matches at the density just seen (every match in a window
    /// is scored, whether it is ranked now or not), and at most twice as wide for lack of them.
    fn next(
        &mut self,
        stmt: &mut rusqlite::CachedStatement<'_>,
        fts: &str,
        wanted: usize,
    ) -> rusqlite::Result<Vec<(i64, Vec<f64>)>> {
        let bottom = self.top.saturating_sub(self.width - 1).max(self.first);
        let mut rows = stmt.query(rusqlite::params![fts, bottom, self.top])?;
        let mut found = Vec::new();
        while let Some(row) = rows.next()? {
            let parts = row
                .get_ref(1)
                .ok()
                .and_then(|v| v.as_blob().ok())
                .and_then(Parts::from_blob)
                .unwrap_or(Parts {
                    rows: 0,
                    terms: Vec::new(),
                });
            self.rows_in_index = self.rows_in_index.max(parts.rows);
            found.push((row.get::<_, i64>(0)?, parts.terms));
        }
        self.matched += found.len() as i64;
        if bottom <= self.first {
            self.exhausted = true;
            return Ok(found);
        }
        let (span, got, wanted) = (self.top - bottom + 1, found.len() as i64, wanted as i64);
        self.top = bottom - 1;
        self.width = match got {
            0 => span.saturating_mul(2),
            g => (wanted.max(1).saturating_mul(span) / g)
                .saturating_add(wanted / 8 + 1)
                .min(span.saturating_mul(2)),
        }
        .max(1);
        Ok(found)
    }
}

impl Filters {
    fn accepts(&self, role: Role, at: i64, model: &str) -> bool {
        let role_ok = match self.roles.as_slice() {
            [] => role != Role::Thinking,
            r => r.contains(&role),
        };
        let model_ok = self.model.as_deref().is_none_or(|want| {
            model == want
                || (!want.contains(':')
                    && model
                        .strip_prefix(want)
                        .is_some_and(|tag| tag.starts_with(':')))
        });
        role_ok && model_ok && self.since.is_none_or(|since| at >= since)
    }
}

impl Index {
    /// The best `filters.limit` messages for `query`: by BM25, then newest first.
    ///
    /// The matches are ranked in batches of [`RANK_BATCH`], newest first (message ids grow as
    /// files are indexed, oldest file first): ranking costs a few microseconds a match, and a
    /// common word matches most messages. Within a batch the order is exact; a later batch is
    /// only looked at when the filters leave too few hits in the ones before. The filters and
    /// what a hit shows are looked up only for the best of each batch, until there are enough.
    ///
    /// The matches are found window by window of message ids, from the newest (see
    /// [`Windows`]). BM25's document frequencies are counted here, once (see `rank`).
    pub fn search(&self, query: &Query, filters: &Filters) -> Result<Vec<Hit>, IndexError> {
        self.search_in_batches(query, filters, RANK_BATCH)
    }

    pub(super) fn search_in_batches(
        &self,
        query: &Query,
        filters: &Filters,
        batch_size: usize,
    ) -> Result<Vec<Hit>, IndexError> {
        let err = self.sql_err();
        let batch_size = batch_size.max(1);
        // Apart: SQLite reads only one end of the table for each, but all of it for both.
        let end = |sql: &str| -> Result<Option<i64>, IndexError> {
            self.conn.query_row(sql, [], |r| r.get(0)).map_err(&err)
        };
        let (first, last) = (
            end("SELECT min(id) FROM msg")?,
            end("SELECT max(id) FROM msg")?,
        );
        let (Some(first), Some(last)) = (first, last) else {
            return Ok(Vec::new());
        };
        let mut window = self
            .conn
            .prepare_cached(&format!(
                "SELECT rowid, {}(fts) FROM fts WHERE fts MATCH ?1 AND rowid BETWEEN ?2 AND ?3",
                rank::NAME
            ))
            .map_err(&err)?;
        let mut about = self
            .conn
            .prepare_cached(
                "SELECT f.name, m.seq, m.turn, m.role, m.at, m.model, f.id, f.sname, m.off
                 FROM msg m JOIN files f ON f.fid = m.fid WHERE m.id = ?1",
            )
            .map_err(&err)?;
        // Matches found and not yet ranked, newest first.
        let mut pending: VecDeque<(i64, Vec<f64>)> = VecDeque::new();
        let mut windows = Windows::new(first, last, batch_size);
        // Several phrases weigh by how rare each is: counted before the first ranking. One
        // phrase weighs the same in every match, so the order needs no count.
        let mut idfs: Option<Vec<f64>> = None;
        let mut chosen: Vec<Ranked> = Vec::new();
        while chosen.len() < filters.limit && !(windows.exhausted && pending.is_empty()) {
            while pending.len() < batch_size && !windows.exhausted {
                let found = windows
                    .next(&mut window, &query.fts, batch_size - pending.len())
                    .map_err(&err)?;
                pending.extend(found.into_iter().rev());
            }
            if idfs.is_none() && query.phrases.len() > 1 {
                idfs = Some(self.idfs(query, windows.rows_in_index)?);
            }
            let ranked_by = |terms: &[f64]| match &idfs {
                Some(idfs) => rank::score(terms, idfs),
                None => rank::score(terms, &[1.0]),
            };
            let mut batch: Vec<(i64, f64, Vec<f64>)> = pending
                .drain(..batch_size.min(pending.len()))
                .map(|(id, terms)| (id, ranked_by(&terms), terms))
                .collect();
            batch.sort_by(|a, b| a.1.total_cmp(&b.1).then(b.0.cmp(&a.0)));
            let wanted = filters.limit - chosen.len();
            let mut picked: Vec<Ranked> = Vec::new();
            for (id, key, terms) in batch {
                // Past the limit only the messages scored the same as the last one, which the
                // time may put before it.
                if picked.len() >= wanted && picked.last().is_some_and(|c| c.key < key) {
                    break;
                }
                let found = about
                    .query_row([id], |r| {
                        Ok(Ranked {
                            key,
                            terms,
                            id,
                            name: r.get(0)?,
                            seq: r.get(1)?,
                            turn: r.get(2)?,
                            role: Role::from_code(r.get(3)?),
                            at: r.get(4)?,
                            model: r.get(5)?,
                            session: r.get(6)?,
                            session_name: r.get(7)?,
                            off: r.get(8)?,
                        })
                    })
                    .optional()
                    .map_err(&err)?;
                if let Some(c) = found.filter(|c| {
                    c.role
                        .is_some_and(|role| filters.accepts(role, c.at, &c.model))
                }) {
                    picked.push(c);
                }
            }
            picked.sort_by(|a, b| {
                a.key
                    .total_cmp(&b.key)
                    .then(b.at.cmp(&a.at))
                    .then(b.id.cmp(&a.id))
            });
            picked.truncate(wanted);
            chosen.extend(picked);
        }
        // One phrase: every match was seen and counted, or they are counted now if wanted.
        let idfs = match idfs {
            Some(idfs) => Some(idfs),
            None if chosen.is_empty() => None,
            None if windows.exhausted => {
                Some(vec![rank::idf(windows.rows_in_index, windows.matched)])
            }
            None if filters.scores => Some(self.idfs(query, windows.rows_in_index)?),
            None => None,
        };
        // Each text is read from its record in the session file; a file that is not as the
        // index says (changed since) is read whole, once.
        let mut files: HashMap<String, Option<Loaded>> = HashMap::new();
        let mut hits = Vec::with_capacity(chosen.len());
        for c in chosen {
            let Some(role) = c.role else { continue };
            let path = self.dir.join(&c.name);
            let session = c.session.as_deref().and_then(|s| Uuid::parse_str(s).ok());
            let alone = match (c.off, session) {
                (Some(off), Some(id)) => read_record(&path, off, c.seq, role)
                    .map(|text| (id, c.session_name.clone(), text)),
                _ => None,
            };
            let Some((id, name, text)) = alone.or_else(|| {
                let loaded = files
                    .entry(c.name.clone())
                    .or_insert_with(|| load_file(&path).ok());
                let l = loaded.as_ref()?;
                // Changed since it was indexed (a race with a chat): the next search is right.
                let text = text_at(l, c.seq, role)?;
                Some((l.header.id, l.state.name.clone(), text.to_string()))
            }) else {
                continue;
            };
            hits.push(Hit {
                path,
                id,
                name,
                turn: usize::try_from(c.turn).unwrap_or(0),
                role,
                at: Utc.timestamp_millis_opt(c.at).single().unwrap_or_default(),
                model: c.model,
                score: idfs.as_ref().map(|idfs| rank::score(&c.terms, idfs)),
                text,
            });
        }
        Ok(hits)
    }

    /// Each phrase's inverse document frequency: how many messages hold it, counted.
    fn idfs(&self, query: &Query, rows: i64) -> Result<Vec<f64>, IndexError> {
        let err = self.sql_err();
        let mut count = self
            .conn
            .prepare_cached("SELECT count(*) FROM fts WHERE fts MATCH ?1")
            .map_err(&err)?;
        query
            .phrases
            .iter()
            .map(|p| {
                count
                    .query_row([p], |r| r.get(0))
                    .map(|hits| rank::idf(rows, hits))
                    .map_err(&err)
            })
            .collect()
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

/// The text of one message from its record alone (the file's line at `off`), or `None` when
/// that record is not the message the index says it is.
fn read_record(path: &Path, off: i64, seq: i64, role: Role) -> Option<String> {
    use std::io::{BufRead, BufReader, Read, Seek, SeekFrom};
    let mut file = crate::paths::open_regular(path).ok()?;
    file.seek(SeekFrom::Start(u64::try_from(off).ok()?)).ok()?;
    let mut line = Vec::new();
    BufReader::new(file)
        .take(RECORD_MAX)
        .read_until(b'\n', &mut line)
        .ok()?;
    let line = std::str::from_utf8(&line)
        .ok()?
        .trim_end_matches(['\n', '\r']);
    if seq < 0 {
        return parse_header(line).ok()?.system;
    }
    text_of(&parse_event(line).ok()?.change, role).map(str::to_string)
}

/// A record longer than this is not read alone.
const RECORD_MAX: u64 = 64 << 20;

fn listed(r: &Row<'_>, dir: &Path) -> rusqlite::Result<Listed> {
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
