//! The index against real session files in a temporary folder: what a query finds (words,
//! phrases, prefixes, Chinese), filters, ranking, and keeping up with the files.

use std::path::Path;

use chrono::{TimeZone, Utc};

use super::query::parse;
use super::*;
use crate::options::Options;
use crate::session::format::{Change, Event, Header, Reply};
use crate::session::store::SessionWriter;

fn reply(content: &str) -> Change {
    Change::Assistant(Reply::ok(content, "secret musing"))
}

/// A session with `model`, one exchange per pair, all at `day` (days after 2026-01-01).
fn session(dir: &Path, model: &str, pairs: &[(&str, &str)], day: i64) -> uuid::Uuid {
    let h = Header::new(model, "http://h", None, &Options::default());
    let id = h.id;
    let mut w = SessionWriter::create_in(dir, h);
    let at = Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap() + chrono::Duration::days(day);
    for (q, a) in pairs {
        let mut e = Event::now(Change::User {
            content: q.to_string(),
            images: Vec::new(),
        });
        e.at = at;
        w.append(&e).unwrap();
        let mut e = Event::now(reply(a));
        e.at = at;
        w.append(&e).unwrap();
    }
    id
}

/// A sessions folder inside a temporary one, as the index goes beside it.
struct Folder(std::path::PathBuf);

impl Folder {
    fn path(&self) -> &Path {
        &self.0
    }
}

fn all() -> Filters {
    Filters {
        model: None,
        since: None,
        roles: Vec::new(),
        limit: 50,
        scores: true,
    }
}

fn find(dir: &Path, q: &str, f: &Filters) -> Vec<Hit> {
    Index::with(dir, |i| i.search(&parse(q).unwrap(), f))
        .unwrap()
        .0
}

fn texts(hits: &[Hit]) -> Vec<String> {
    hits.iter().map(|h| h.text.clone()).collect()
}

#[test]
fn words_phrases_and_prefixes() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = Folder(tmp.path().join("sessions"));
    session(
        dir.path(),
        "m",
        &[
            (
                "Tell me about the borrow checker",
                "The borrow checker enforces rules.",
            ),
            ("checker borrow", "Photosynthesis uses light."),
        ],
        0,
    );
    let d = dir.path();
    assert_eq!(
        find(d, "borrow checker", &all()).len(),
        3,
        "all words, any order"
    );
    assert_eq!(
        texts(&find(d, "\"borrow checker\"", &all())),
        [
            "The borrow checker enforces rules.",
            "Tell me about the borrow checker"
        ]
    );
    assert_eq!(
        texts(&find(d, "photo*", &all())),
        ["Photosynthesis uses light."]
    );
    assert!(find(d, "photo", &all()).is_empty(), "a word is whole");
    assert_eq!(find(d, "BORROW", &all()).len(), 3, "any case");
    assert!(find(d, "nowhere", &all()).is_empty());
    // FTS5 syntax is text, never an error.
    assert!(find(d, "a OR b NEAR( x:", &all()).is_empty());
}

#[test]
fn chinese_two_character_words_and_longer() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = Folder(tmp.path().join("sessions"));
    session(
        dir.path(),
        "m",
        &[
            ("今天上海的天气怎么样？", "上海今天晴，气温二十度。"),
            ("海上有风吗", "天上有气球"),
            ("東京の天気は？", "晴れです。"),
            ("서울 날씨 어때요?", "맑아요."),
        ],
        0,
    );
    let d = dir.path();
    assert_eq!(texts(&find(d, "天气", &all())), ["今天上海的天气怎么样？"]);
    assert_eq!(find(d, "上海", &all()).len(), 2, "not 海上");
    assert_eq!(
        texts(&find(d, "上海的天气", &all())),
        ["今天上海的天气怎么样？"]
    );
    assert_eq!(
        texts(&find(d, "气温 二十", &all())),
        ["上海今天晴，气温二十度。"]
    );
    assert_eq!(texts(&find(d, "天気", &all())), ["東京の天気は？"]);
    assert_eq!(texts(&find(d, "날씨", &all())), ["서울 날씨 어때요?"]);
    assert!(find(d, "天海", &all()).is_empty());
    // One character finds every message with it.
    assert_eq!(find(d, "晴", &all()).len(), 2);
}

#[test]
fn every_piece_of_a_chinese_text_finds_it() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = Folder(tmp.path().join("sessions"));
    let text = "买了iPhone手机，今天上海的天气很好";
    session(dir.path(), "m", &[(text, "-"), ("天", "好")], 0);
    let d = dir.path();
    let chars: Vec<char> = text.chars().collect();
    for start in 0..chars.len() {
        for end in start + 1..=chars.len() {
            let piece: String = chars[start..end].iter().collect();
            let latin = |i: usize| chars.get(i).is_some_and(char::is_ascii_alphabetic);
            // A Latin word cut in two is not a word; punctuation alone is no query.
            if (start > 0 && latin(start - 1) && latin(start))
                || (latin(end - 1) && latin(end))
                || !piece.chars().any(char::is_alphanumeric)
            {
                continue;
            }
            let got = texts(&find(d, &format!("\"{piece}\""), &all()));
            assert!(got.contains(&text.to_string()), "{piece}: {got:?}");
        }
    }
    assert_eq!(
        find(d, "天", &all()).len(),
        2,
        "a character alone or in a run"
    );
    assert_eq!(find(d, "好", &all()).len(), 2, "a character ending a run");
    assert!(find(d, "海上", &all()).is_empty());
    assert!(find(d, "机iPhone", &all()).is_empty());
}

#[test]
fn a_record_not_where_the_index_says_is_read_from_the_whole_file() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = Folder(tmp.path().join("sessions"));
    let d = dir.path();
    session(d, "m", &[("walnut", "-")], 0);
    assert_eq!(texts(&find(d, "walnut", &all())), ["walnut"]);
    // The same size and time, but a blank line in front: every record one byte later.
    let path = refresh::scan(d).unwrap()[0].name.clone();
    let path = d.join(path);
    let before = std::fs::metadata(&path).unwrap();
    let text = std::fs::read_to_string(&path).unwrap();
    std::fs::write(&path, format!("\n{}", &text[..text.len() - 1])).unwrap();
    std::fs::File::options()
        .write(true)
        .open(&path)
        .unwrap()
        .set_modified(before.modified().unwrap())
        .unwrap();
    let hits = find(d, "walnut", &all());
    assert_eq!(texts(&hits), ["walnut"]);
}

#[test]
fn filters_by_model_time_and_role() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = Folder(tmp.path().join("sessions"));
    let d = dir.path();
    session(d, "llama3.2:1b", &[("kiwi one", "kiwi reply")], 0);
    session(d, "llama3.2:latest", &[("kiwi two", "x")], 10);
    session(d, "qwen3", &[("kiwi three", "y")], 20);
    let with = |f: Filters| texts(&find(d, "kiwi", &f));
    let model = |m: &str| Filters {
        model: Some(m.into()),
        ..all()
    };
    assert_eq!(with(model("llama3.2")).len(), 3, "any tag");
    assert_eq!(with(model("llama3.2:1b")), ["kiwi reply", "kiwi one"]);
    assert!(with(model("llama3")).is_empty(), "a name is whole");
    let since = Utc.with_ymd_and_hms(2026, 1, 5, 0, 0, 0).unwrap();
    let f = Filters {
        since: Some(since.timestamp_millis()),
        ..all()
    };
    assert_eq!(with(f), ["kiwi three", "kiwi two"]);
    let f = Filters {
        roles: vec![Role::Assistant],
        ..all()
    };
    assert_eq!(with(f), ["kiwi reply"]);
    // Thinking only when asked for.
    assert!(find(d, "musing", &all()).is_empty());
    let f = Filters {
        roles: vec![Role::Thinking],
        ..all()
    };
    assert_eq!(find(d, "musing", &f).len(), 3);
    let f = Filters { limit: 2, ..all() };
    assert_eq!(with(f).len(), 2);
}

#[test]
fn ranking_prefers_the_better_match_and_breaks_ties_by_time() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = Folder(tmp.path().join("sessions"));
    let d = dir.path();
    let old = session(d, "m", &[("zebra", "-")], 1);
    let new = session(d, "m", &[("zebra", "-")], 5);
    session(d, "m", &[("zebra zebra zebra", "-")], 3);
    let hits = find(d, "zebra", &all());
    assert_eq!(hits[0].text, "zebra zebra zebra");
    assert_eq!(hits[1].id, new, "equal scores: the newer first");
    assert_eq!(hits[2].id, old);
    assert_eq!(hits[1].score, hits[2].score);
    assert_eq!((hits[1].turn, hits[1].role), (1, Role::User));
}

#[test]
fn many_matches_are_ranked_newest_batch_first() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = Folder(tmp.path().join("sessions"));
    let d = dir.path();
    let old = session(d, "a", &[("plum plum plum", "-")], 1);
    std::thread::sleep(std::time::Duration::from_millis(20));
    let mid = session(d, "b", &[("plum", "-")], 2);
    std::thread::sleep(std::time::Duration::from_millis(20));
    let new = session(d, "b", &[("plum and more words", "-")], 3);
    let search = |f: &Filters, batch| {
        Index::with(d, |i| {
            i.search_in_batches(&parse("plum").unwrap(), f, batch)
        })
        .unwrap()
        .0
        .iter()
        .map(|h| h.id)
        .collect::<Vec<_>>()
    };
    assert_eq!(search(&all(), 10), [old, mid, new], "one batch: exact");
    assert_eq!(search(&all(), 2), [mid, new, old], "the newest two first");
    let f = Filters {
        model: Some("a".into()),
        ..all()
    };
    assert_eq!(
        search(&f, 1),
        [old],
        "filtered out of the newest: the next batch"
    );
    let f = Filters { limit: 1, ..all() };
    assert_eq!(search(&f, 2), [mid]);
}

/// Every hit's score is what FTS5's own `bm25()` gives its message, whatever the batch, for
/// words, phrases, prefixes and Chinese; without `scores` it is left out only when finding it
/// would take counting the matches the search did not reach.
#[test]
fn scores_are_fts5_bm25_at_every_batch_size() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = Folder(tmp.path().join("sessions"));
    let d = dir.path();
    let texts = [
        ("the weather today is fine, the weather today", "the sun"),
        ("what about the weather today", "the weather is the weather"),
        ("the rain and the cloud", "今天上海的天气很好"),
        ("weather weather weather", "上海天气"),
        (
            "today the weather",
            "a longer message about the weather today and tomorrow too",
        ),
        ("天气", "weather for today"),
    ];
    for (i, pair) in texts.iter().enumerate() {
        session(d, "m", &[*pair, ("the end", "weathered")], i as i64);
    }
    for q in [
        "\"the weather today\"",
        "weather",
        "the weather",
        "weath*",
        "天气",
        "上海 天气",
        "the \"the weather\"",
    ] {
        let query = parse(q).unwrap();
        let (expected, _) = Index::with(d, |i| {
            let mut stmt = i
                .conn
                .prepare("SELECT bm25(fts) FROM fts WHERE fts MATCH ?1")
                .unwrap();
            let mut v: Vec<f64> = stmt
                .query_map([&query.fts], |r| r.get(0))
                .unwrap()
                .collect::<Result<_, _>>()
                .unwrap();
            v.sort_by(f64::total_cmp);
            Ok(v)
        })
        .unwrap();
        assert!(!expected.is_empty(), "{q}");
        for batch in [1, 2, 3, 5, 100] {
            let (hits, _) = Index::with(d, |i| i.search_in_batches(&query, &all(), batch)).unwrap();
            let mut got: Vec<f64> = hits.iter().map(|h| h.score.unwrap()).collect();
            got.sort_by(f64::total_cmp);
            assert_eq!(got.len(), expected.len(), "{q}, batches of {batch}");
            for (g, e) in got.iter().zip(&expected) {
                assert!((g - e).abs() < 1e-9, "{q}, batches of {batch}: {g} vs {e}");
            }
            let unasked = Filters {
                scores: false,
                limit: 1,
                ..all()
            };
            let (hits, _) =
                Index::with(d, |i| i.search_in_batches(&query, &unasked, batch)).unwrap();
            // One phrase whose every match was seen is scored for free; several phrases are
            // counted before ranking anyway.
            let free = query.phrases.len() > 1 || batch >= expected.len();
            assert_eq!(hits[0].score.is_some(), free, "{q}, batches of {batch}");
            if batch >= expected.len() {
                let s = hits[0].score.unwrap();
                assert!((s - expected[0]).abs() < 1e-9, "{q}: the best first");
            }
        }
    }
}

#[test]
fn keeps_up_with_new_changed_and_removed_files() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = Folder(tmp.path().join("sessions"));
    let d = dir.path();
    session(d, "m", &[("apple", "-")], 0);
    assert_eq!(find(d, "apple", &all()).len(), 1);
    let h = Header::new("m", "h", None, &Options::default());
    let mut w = SessionWriter::create_in(d, h);
    w.append(&Event::now(Change::User {
        content: "banana".into(),
        images: Vec::new(),
    }))
    .unwrap();
    assert_eq!(find(d, "banana", &all()).len(), 1, "a new file");
    w.append(&Event::now(Change::User {
        content: "apple again".into(),
        images: Vec::new(),
    }))
    .unwrap();
    assert_eq!(find(d, "apple", &all()).len(), 2, "a grown file");
    std::fs::remove_file(w.path()).unwrap();
    drop(w);
    assert_eq!(find(d, "apple", &all()).len(), 1, "a removed file");
    assert!(find(d, "banana", &all()).is_empty());
    let listed = Index::with(d, |i| i.list()).unwrap().0;
    assert_eq!(listed.len(), 1);
}

#[test]
fn a_damaged_index_is_rebuilt_with_a_warning() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = Folder(tmp.path().join("sessions"));
    let d = dir.path();
    session(d, "m", &[("cherry", "-")], 0);
    assert_eq!(find(d, "cherry", &all()).len(), 1);
    let files = db_files(d);
    for f in &files[1..] {
        let _ = std::fs::remove_file(f);
    }
    std::fs::write(db_path(d), vec![0x5a; 8192]).unwrap();
    let (hits, warnings) = Index::with(d, |i| i.search(&parse("cherry").unwrap(), &all())).unwrap();
    assert_eq!(hits.len(), 1);
    assert_eq!(warnings.len(), 1, "{warnings:?}");
    assert!(warnings[0].contains("damaged"), "{}", warnings[0]);
    // Deleted: built again, silently.
    std::fs::remove_file(db_path(d)).unwrap();
    let (hits, warnings) = Index::with(d, |i| i.search(&parse("cherry").unwrap(), &all())).unwrap();
    assert_eq!((hits.len(), warnings.len()), (1, 0));
}

#[test]
fn many_files_to_index_are_announced_first() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path().join("sessions");
    for _ in 0..refresh::ANNOUNCE_FROM {
        session(&d, "m", &[("fig", "-")], 0);
    }
    let heard = std::cell::Cell::new(None);
    let announce = |n| heard.set(Some(n));
    let (listed, _) = Index::with_announce(&d, &announce, |i| i.list()).unwrap();
    assert_eq!(listed.len(), refresh::ANNOUNCE_FROM);
    assert_eq!(heard.get(), Some(refresh::ANNOUNCE_FROM));
    heard.set(None);
    session(&d, "m", &[("fig", "-")], 0);
    Index::with_announce(&d, &announce, |i| i.list()).unwrap();
    assert_eq!(heard.get(), None, "a few new files are not worth a word");
}

#[test]
fn the_index_is_private() {
    use std::os::unix::fs::PermissionsExt;
    let tmp = tempfile::tempdir().unwrap();
    let dir = Folder(tmp.path().join("sessions"));
    session(dir.path(), "m", &[("x", "y")], 0);
    Index::with(dir.path(), |i| i.list()).unwrap();
    let mode = std::fs::metadata(db_path(dir.path()))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600);
}

#[test]
fn a_damaged_session_file_is_listed_with_its_error() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = Folder(tmp.path().join("sessions"));
    std::fs::create_dir(dir.path()).unwrap();
    std::fs::write(dir.path().join("bad.jsonl"), "not a session\n").unwrap();
    let listed = Index::with(dir.path(), |i| i.list()).unwrap().0;
    assert_eq!(listed.len(), 1);
    assert!(listed[0]
        .session
        .as_ref()
        .unwrap_err()
        .contains("not an ollama-chat session"));
}

#[test]
fn readers_and_writers_at_the_same_time() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path().join("sessions");
    for i in 0..20 {
        session(&d, "m", &[(&format!("seed {i} lychee"), "-")], 0);
    }
    std::thread::scope(|s| {
        // Two chats appending, turn after turn…
        for chat in 0..2 {
            let d = d.clone();
            s.spawn(move || {
                let h = Header::new("m", "h", None, &Options::default());
                let mut w = SessionWriter::create_in(&d, h);
                for t in 0..40 {
                    w.append(&Event::now(Change::User {
                        content: format!("chat {chat} turn {t} lychee"),
                        images: Vec::new(),
                    }))
                    .unwrap();
                    w.append(&Event::now(reply("ok"))).unwrap();
                }
            });
        }
        // …while three searches refresh and read the index.
        for _ in 0..3 {
            let d = d.clone();
            s.spawn(move || {
                for _ in 0..10 {
                    let hits = find(&d, "lychee", &all());
                    assert!(hits.len() >= 20, "{}", hits.len());
                }
            });
        }
    });
    let hits = find(&d, "lychee", &all());
    assert_eq!(hits.len(), 50, "limit");
    let f = Filters {
        limit: 1000,
        ..all()
    };
    assert_eq!(find(&d, "lychee", &f).len(), 20 + 80);
}
