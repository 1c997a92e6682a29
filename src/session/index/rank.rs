//! `bm25_parts(fts)`: an FTS5 auxiliary function that gives a row's BM25 terms without their
//! inverse document frequencies, which the search works out itself.
//!
//! FTS5's own `bm25()` counts, once per statement, the messages that hold each phrase of the
//! query: a second pass over everything the query matches. For a phrase of common words
//! ("the weather today") that pass costs as much as the search itself, and the search runs
//! its statement once per window of messages (see `search.rs`), so `bm25()` would count again
//! for each. Here the count is made at most once per search, and not at all for a query of one
//! phrase whose matches were all seen (then every match was counted already).
//!
//! rusqlite offers no FTS5 extension API, so this file is the crate's only unsafe code: the
//! function is registered through FTS5's C interface and reads the row through the
//! `Fts5ExtensionApi` table SQLite hands it, as the built-in `bm25()` does.

#![allow(unsafe_code)]

use std::ffi::{c_int, c_void};
use std::ptr;

use rusqlite::{ffi, Connection};

/// FTS5's `bm25()` constants.
const K1: f64 = 1.2;
const B: f64 = 0.75;

/// The function's SQL name.
pub const NAME: &str = "bm25_parts";

/// What `bm25_parts` says of one row.
#[derive(Debug, Clone, PartialEq)]
pub struct Parts {
    /// Messages in the index (FTS5's row count).
    pub rows: i64,
    /// Per phrase of the query, in its order: `f·(k1+1) / (f + k1·(1 − b + b·D/avgdl))`,
    /// where `f` is how often the phrase occurs in the row and `D` the row's length in tokens.
    pub terms: Vec<f64>,
}

impl Parts {
    /// Reads the function's result: the row count, then one term per phrase, each as 8 bytes
    /// in this machine's order. `None` for anything else.
    pub fn from_blob(blob: &[u8]) -> Option<Parts> {
        if blob.len() < 8 || !blob.len().is_multiple_of(8) {
            return None;
        }
        let mut values = blob
            .chunks_exact(8)
            .map(|c| f64::from_ne_bytes(c.try_into().unwrap_or_default()));
        let rows = values.next()? as i64;
        Some(Parts {
            rows,
            terms: values.collect(),
        })
    }
}

/// BM25's inverse document frequency as FTS5 computes it, for a phrase that `hits` of `rows`
/// messages hold (never below 1e-6, so that a phrase found everywhere still counts a little).
pub fn idf(rows: i64, hits: i64) -> f64 {
    let idf = ((rows - hits) as f64 + 0.5).ln() - (hits as f64 + 0.5).ln();
    if idf <= 0.0 {
        1e-6
    } else {
        idf
    }
}

/// BM25 as FTS5's `bm25()` returns it (lower is better) from a row's parts and each phrase's
/// IDF.
pub fn score(terms: &[f64], idfs: &[f64]) -> f64 {
    -terms.iter().zip(idfs).map(|(t, i)| t * i).sum::<f64>()
}

/// Makes `bm25_parts` available on `conn`.
pub fn register(conn: &Connection) -> rusqlite::Result<()> {
    let api = fts5_api(conn)?;
    // SAFETY: `api` is the live `fts5_api` of this connection (checked non-null), which stays
    // valid as long as the connection; the name is a NUL-terminated literal; the function is
    // `extern "C"` with the signature FTS5 calls, and needs no user data or destructor.
    let rc = unsafe {
        match (*api).xCreateFunction {
            Some(create) => create(
                api,
                c"bm25_parts".as_ptr(),
                ptr::null_mut(),
                Some(bm25_parts),
                None,
            ),
            None => ffi::SQLITE_MISUSE,
        }
    };
    check(rc, "registering bm25_parts")
}

fn check(rc: c_int, what: &str) -> rusqlite::Result<()> {
    match rc {
        ffi::SQLITE_OK => Ok(()),
        rc => Err(rusqlite::Error::SqliteFailure(
            ffi::Error::new(rc),
            Some(format!("{what}: FTS5 error {rc}")),
        )),
    }
}

/// The connection's FTS5 interface, which `SELECT fts5(?1)` hands over as a bound pointer.
fn fts5_api(conn: &Connection) -> rusqlite::Result<*mut ffi::fts5_api> {
    let mut api: *mut ffi::fts5_api = ptr::null_mut();
    // SAFETY: the handle is this connection's, used on this thread only while `conn` is
    // borrowed; the statement is finalized before returning; the bound pointer is to `api`,
    // which outlives the statement, under the type name FTS5 documents for it.
    let rc = unsafe {
        let db = conn.handle();
        let mut stmt: *mut ffi::sqlite3_stmt = ptr::null_mut();
        let rc = ffi::sqlite3_prepare_v2(
            db,
            c"SELECT fts5(?1)".as_ptr(),
            -1,
            &mut stmt,
            ptr::null_mut(),
        );
        if rc != ffi::SQLITE_OK {
            rc
        } else {
            let mut rc = ffi::sqlite3_bind_pointer(
                stmt,
                1,
                (&mut api as *mut *mut ffi::fts5_api).cast::<c_void>(),
                c"fts5_api_ptr".as_ptr(),
                None,
            );
            if rc == ffi::SQLITE_OK {
                rc = match ffi::sqlite3_step(stmt) {
                    ffi::SQLITE_ROW | ffi::SQLITE_DONE => ffi::SQLITE_OK,
                    other => other,
                };
            }
            ffi::sqlite3_finalize(stmt);
            rc
        }
    };
    check(rc, "finding FTS5")?;
    if api.is_null() {
        return check(ffi::SQLITE_ERROR, "finding FTS5").map(|()| api);
    }
    Ok(api)
}

/// The table's average row length, worked out once per statement (FTS5 frees it after).
struct Average {
    rows: i64,
    tokens_per_row: f64,
}

unsafe extern "C" fn free_average(p: *mut c_void) {
    // SAFETY: FTS5 calls this once with the pointer `parts` gave `xSetAuxdata`, which came
    // from `Box::into_raw`.
    drop(unsafe { Box::from_raw(p.cast::<Average>()) });
}

/// The `fts5_extension_function` itself: the row's parts as a blob, or the error FTS5 gave.
unsafe extern "C" fn bm25_parts(
    api: *const ffi::Fts5ExtensionApi,
    fts: *mut ffi::Fts5Context,
    ctx: *mut ffi::sqlite3_context,
    _n: c_int,
    _values: *mut *mut ffi::sqlite3_value,
) {
    // SAFETY: FTS5 calls this with its live extension table and context for the current row.
    match unsafe { parts(&*api, fts) } {
        Ok(values) => {
            let bytes: Vec<u8> = values.iter().flat_map(|v| v.to_ne_bytes()).collect();
            // SAFETY: SQLite copies the bytes (`SQLITE_TRANSIENT`) before this returns.
            unsafe {
                ffi::sqlite3_result_blob(
                    ctx,
                    bytes.as_ptr().cast::<c_void>(),
                    c_int::try_from(bytes.len()).unwrap_or(0),
                    ffi::SQLITE_TRANSIENT(),
                )
            }
        }
        // SAFETY: as above.
        Err(rc) => unsafe { ffi::sqlite3_result_error_code(ctx, rc) },
    }
}

/// The row count, then per phrase its BM25 term (as in FTS5's `bm25()`, without the IDF).
///
/// # Safety
/// `api` and `fts` are what FTS5 passed to the auxiliary function for the current row.
unsafe fn parts(
    api: &ffi::Fts5ExtensionApi,
    fts: *mut ffi::Fts5Context,
) -> Result<Vec<f64>, c_int> {
    let call = |rc: c_int| {
        if rc == ffi::SQLITE_OK {
            Ok(())
        } else {
            Err(rc)
        }
    };
    let missing = ffi::SQLITE_MISUSE;
    // SAFETY (whole body): every call is one of FTS5's extension functions, given back its
    // own context and pointers to locals of the types it writes.
    unsafe {
        let get = api.xGetAuxdata.ok_or(missing)?;
        let mut average = get(fts, 0).cast::<Average>();
        if average.is_null() {
            let (mut rows, mut tokens) = (0i64, 0i64);
            call(api.xRowCount.ok_or(missing)?(fts, &mut rows))?;
            call(api.xColumnTotalSize.ok_or(missing)?(fts, -1, &mut tokens))?;
            let boxed = Box::into_raw(Box::new(Average {
                rows,
                tokens_per_row: tokens as f64 / rows.max(1) as f64,
            }));
            let set = api.xSetAuxdata.ok_or(missing)?;
            // On failure FTS5 has already called the destructor.
            call(set(fts, boxed.cast::<c_void>(), Some(free_average)))?;
            average = boxed;
        }
        let Average {
            rows,
            tokens_per_row,
        } = *average;
        let phrases = usize::try_from(api.xPhraseCount.ok_or(missing)?(fts)).unwrap_or(0);
        let mut out = vec![0.0; 1 + phrases];
        out[0] = rows as f64;
        let mut count = 0;
        call(api.xInstCount.ok_or(missing)?(fts, &mut count))?;
        let inst = api.xInst.ok_or(missing)?;
        for i in 0..count {
            let (mut phrase, mut column, mut offset) = (0, 0, 0);
            call(inst(fts, i, &mut phrase, &mut column, &mut offset))?;
            if let Some(f) = usize::try_from(phrase)
                .ok()
                .and_then(|p| out.get_mut(1 + p))
            {
                *f += 1.0;
            }
        }
        let mut length = 0;
        call(api.xColumnSize.ok_or(missing)?(fts, -1, &mut length))?;
        let norm = K1 * (1.0 - B + B * f64::from(length) / tokens_per_row);
        for f in &mut out[1..] {
            *f = *f * (K1 + 1.0) / (*f + norm);
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table(texts: &[&str]) -> Connection {
        let conn = Connection::open_in_memory().unwrap();
        register(&conn).unwrap();
        conn.execute_batch(
            "CREATE VIRTUAL TABLE fts USING fts5(body, content='', contentless_delete=1,
                 tokenize='unicode61 remove_diacritics 2')",
        )
        .unwrap();
        for (i, t) in texts.iter().enumerate() {
            conn.execute(
                "INSERT INTO fts(rowid, body) VALUES (?1, ?2)",
                rusqlite::params![i as i64 + 1, t],
            )
            .unwrap();
        }
        conn
    }

    /// `bm25()` and the parts with the IDFs counted here give the same score for every row.
    fn same_as_bm25(conn: &Connection, query: &str, phrases: &[&str]) {
        let mut stmt = conn
            .prepare(&format!(
                "SELECT rowid, bm25(fts), {NAME}(fts) FROM fts WHERE fts MATCH ?1"
            ))
            .unwrap();
        let rows: Vec<(i64, f64, Vec<u8>)> = stmt
            .query_map([query], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        assert!(!rows.is_empty(), "{query} matches nothing");
        for (rowid, bm25, blob) in rows {
            let parts = Parts::from_blob(&blob).unwrap();
            assert_eq!(parts.terms.len(), phrases.len(), "{query}");
            let idfs: Vec<f64> = phrases
                .iter()
                .map(|p| {
                    let hits: i64 = conn
                        .query_row("SELECT count(*) FROM fts WHERE fts MATCH ?1", [p], |r| {
                            r.get(0)
                        })
                        .unwrap();
                    idf(parts.rows, hits)
                })
                .collect();
            let ours = score(&parts.terms, &idfs);
            assert!(
                (ours - bm25).abs() < 1e-9 * bm25.abs().max(1.0),
                "{query} row {rowid}: {ours} vs bm25 {bm25}"
            );
        }
    }

    #[test]
    fn the_parts_give_bm25() {
        let conn = table(&[
            "the weather today is fine, the weather today",
            "what about the weather today",
            "the rain and the cloud",
            "weather weather weather",
            "today the weather",
            "今 天 天 气 很 好",
            "天 气",
            "a much longer message about the weather today and tomorrow and the day after that one",
        ]);
        same_as_bm25(&conn, "\"the weather today\"", &["\"the weather today\""]);
        same_as_bm25(&conn, "\"weather\"", &["\"weather\""]);
        same_as_bm25(&conn, "\"the\" \"weather\"", &["\"the\"", "\"weather\""]);
        same_as_bm25(&conn, "\"天 气\"", &["\"天 气\""]);
        same_as_bm25(&conn, "\"wea\"* \"today\"", &["\"wea\"*", "\"today\""]);
        same_as_bm25(&conn, "\"the\" \"the\"", &["\"the\"", "\"the\""]);
    }

    #[test]
    fn after_deletes_the_row_count_follows() {
        let conn = table(&["the weather today", "the weather", "weather", "the sun"]);
        conn.execute("DELETE FROM fts WHERE rowid = 4", []).unwrap();
        same_as_bm25(&conn, "\"weather\"", &["\"weather\""]);
        let blob: Vec<u8> = conn
            .query_row(
                &format!("SELECT {NAME}(fts) FROM fts WHERE fts MATCH 'weather' LIMIT 1"),
                [],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(Parts::from_blob(&blob).unwrap().rows, 3);
    }

    #[test]
    fn idf_never_falls_to_zero() {
        assert_eq!(idf(10, 10), 1e-6);
        assert_eq!(idf(10, 5), 1e-6);
        assert!(idf(1000, 1) > 6.0);
        assert!(idf(0, 0) > 0.0);
    }

    #[test]
    fn malformed_blobs() {
        assert_eq!(Parts::from_blob(&[]), None);
        assert_eq!(Parts::from_blob(&[0; 7]), None);
        assert_eq!(Parts::from_blob(&[0; 9]), None);
        let one = Parts::from_blob(&5f64.to_ne_bytes()).unwrap();
        assert_eq!((one.rows, one.terms.len()), (5, 0));
    }
}
