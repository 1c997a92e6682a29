//! Searching saved sessions and branching them, as a user meets it: `sessions search` (words,
//! phrases, Chinese, filters, `--json`) kept up to date after chats and `sessions rm`, rebuilt
//! when its index is deleted or damaged; `--fork ID:TURN` and `/fork`, the parent link in
//! `sessions`, `show`, `tree`, export and after a resume; `/search` in a chat.

use rexpect::session::{spawn_command, PtySession};
use serde_json::Value;

use crate::harness::{messages, read_jsonl, TestEnv};
use crate::pty::enter;
use crate::sessions::session_files;

fn start(env: &TestEnv, args: &[&str]) -> PtySession {
    let mut cmd = env.std_command();
    cmd.args(args);
    let mut p = spawn_command(cmd, Some(20_000)).expect("spawn in a pty");
    p.exp_string(">>> ").expect("the prompt appears");
    p
}

fn ask(p: &mut PtySession, line: &str) {
    enter(p, line);
    p.exp_string(&format!("echo: {line}")).unwrap();
    p.exp_string(">>> ").unwrap();
}

fn bye(mut p: PtySession) {
    p.send_control('d').unwrap();
    p.exp_eof().unwrap();
}

fn index_path(env: &TestEnv) -> std::path::PathBuf {
    env.home
        .path()
        .join(".local/share/ollama-chat/index/sessions.sqlite")
}

/// A one-shot chat saved under `name` (one turn per question); its id.
fn chat(env: &TestEnv, name: &str, questions: &[&str]) -> String {
    for q in questions {
        env.cmd()
            .args(["--session", name, "-p", q])
            .assert()
            .success();
    }
    let files = session_files(env);
    let f = files
        .iter()
        .find(|f| {
            read_jsonl(f)
                .iter()
                .any(|r| r["kind"] == "name" && r["name"] == name)
        })
        .unwrap();
    read_jsonl(f)[0]["id"].as_str().unwrap().to_string()
}

fn search(env: &TestEnv, args: &[&str]) -> (String, String) {
    let out = env
        .cmd()
        .args(["sessions", "search"])
        .args(args)
        .assert()
        .success();
    let o = out.get_output();
    (
        String::from_utf8(o.stdout.clone()).unwrap(),
        String::from_utf8(o.stderr.clone()).unwrap(),
    )
}

fn json_hits(env: &TestEnv, args: &[&str]) -> Vec<Value> {
    let mut a = vec!["--json"];
    a.extend_from_slice(args);
    search(env, &a)
        .0
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

fn short(id: &str) -> String {
    id.replace('-', "")[..8].to_string()
}

#[test]
fn search_finds_words_phrases_and_chinese_and_keeps_up() {
    let env = TestEnv::new();
    let weather = chat(
        &env,
        "weather",
        &["今天上海的天气怎么样？", "and tomorrow in Paris?"],
    );
    let rust = chat(&env, "rust", &["explain the borrow checker"]);

    let (out, err) = search(&env, &["天气"]);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(
        lines.len(),
        4,
        "two hits (question and echo), two lines each: {out}{err}"
    );
    assert!(
        lines[0].starts_with(&format!("{}:1  ", short(&weather))),
        "{out}"
    );
    assert!(lines[0].contains("tiny:latest  \"weather\""), "{out}");
    assert!(lines[1].contains("今天上海的天气怎么样？"), "{out}");
    assert!(err.is_empty(), "no hint in a pipe: {err}");

    // One argument with spaces is a phrase; separate words need not be side by side.
    assert_eq!(json_hits(&env, &["borrow checker"]).len(), 2);
    assert!(json_hits(&env, &["checker borrow"]).is_empty());
    assert!(json_hits(&env, &["\"checker borrow\""]).is_empty());
    assert_eq!(json_hits(&env, &["checker", "borrow"]).len(), 2);
    let hits = json_hits(&env, &["--role", "user", "borr*"]);
    assert_eq!(hits.len(), 1);
    assert_eq!(hits[0]["session"], rust.as_str());
    assert_eq!(hits[0]["turn"], 1);
    assert_eq!(hits[0]["role"], "user");
    assert_eq!(hits[0]["text"], "explain the borrow checker");
    assert_eq!(hits[0]["model"], "tiny:latest");
    let hits = json_hits(&env, &["--role", "assistant", "paris"]);
    assert_eq!(hits[0]["turn"], 2);
    assert_eq!(hits[0]["text"], "echo: and tomorrow in Paris?");
    assert!(json_hits(&env, &["--model", "other", "paris"]).is_empty());
    assert_eq!(json_hits(&env, &["--model", "tiny", "paris"]).len(), 2);
    assert!(json_hits(&env, &["--since", "1h", "paris"]).len() == 2);

    // A new chat is found at once; a deleted session is gone.
    chat(&env, "later", &["上海 again"]);
    assert_eq!(json_hits(&env, &["上海"]).len(), 4);
    env.cmd()
        .args(["sessions", "rm", "--yes", &weather])
        .assert()
        .success();
    let left = json_hits(&env, &["上海"]);
    assert_eq!(left.len(), 2);
    assert!(left
        .iter()
        .all(|h| h["text"].as_str().unwrap().contains("again")));

    let (_, err) = search(&env, &["nothing-like-it"]);
    assert_eq!(err.trim(), "No saved session matches.");
}

#[test]
fn bad_queries_and_flags_are_usage_errors() {
    let env = TestEnv::new();
    chat(&env, "a", &["x"]);
    for args in [
        &["..."][..],
        &["--role", "tool", "x"],
        &["--since", "soon", "x"],
        &["-n", "0", "x"],
    ] {
        env.cmd()
            .args(["sessions", "search"])
            .args(args)
            .assert()
            .code(2);
    }
    env.cmd().args(["sessions", "search"]).assert().code(2);
}

#[test]
fn a_deleted_or_damaged_index_is_rebuilt() {
    let env = TestEnv::new();
    chat(&env, "a", &["kumquat"]);
    assert_eq!(json_hits(&env, &["kumquat"]).len(), 2);
    let index = index_path(&env);
    assert!(index.is_file());
    let mode =
        std::os::unix::fs::PermissionsExt::mode(&std::fs::metadata(&index).unwrap().permissions());
    assert_eq!(mode & 0o777, 0o600);

    for f in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{f}", index.display()));
    }
    let (out, err) = search(&env, &["kumquat"]);
    assert_eq!(out.lines().count(), 4, "{out}");
    assert!(err.is_empty(), "a deleted index is rebuilt quietly: {err}");

    for f in ["-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{f}", index.display()));
    }
    std::fs::write(&index, vec![b'x'; 4096]).unwrap();
    let (out, err) = search(&env, &["kumquat"]);
    assert_eq!(out.lines().count(), 4, "{out}");
    assert!(err.contains("warning: the sessions index"), "{err}");
    assert!(err.contains("building it again"), "{err}");
    // The list and reindex work too.
    env.cmd()
        .args(["sessions", "reindex"])
        .assert()
        .success()
        .stdout(predicates::str::starts_with("Indexed 1 session file in "));
    env.cmd().arg("sessions").assert().success();
}

#[test]
fn fork_at_a_turn_continues_a_branch_and_keeps_the_parent() {
    let env = TestEnv::new();
    let parent = chat(&env, "trip", &["one", "two", "three"]);
    let parent_file = session_files(&env)[0].clone();
    let before = std::fs::read(&parent_file).unwrap();

    let r = format!("{}:1", short(&parent));
    env.cmd()
        .args(["--fork", &r, "-p", "another way"])
        .assert()
        .success()
        .stdout("echo: another way");
    let bodies = env.fake.chat_bodies();
    let sent = messages(bodies.last().unwrap());
    let want: Vec<(String, String)> = [
        ("user", "one"),
        ("assistant", "echo: one"),
        ("user", "another way"),
    ]
    .iter()
    .map(|(a, b)| (a.to_string(), b.to_string()))
    .collect();
    assert_eq!(sent, want);
    assert_eq!(
        std::fs::read(&parent_file).unwrap(),
        before,
        "the parent is untouched"
    );

    let files = session_files(&env);
    assert_eq!(files.len(), 2);
    let branch_file = files.iter().find(|f| **f != parent_file).unwrap();
    let header = &read_jsonl(branch_file)[0];
    assert_eq!(header["parent"]["id"], parent.as_str());
    assert_eq!(header["parent"]["turn"], 1);
    let branch = header["id"].as_str().unwrap().to_string();

    // Resuming the branch keeps the link; the list, show, tree and export say it.
    env.cmd()
        .args(["--session", &branch, "-p", "more"])
        .assert()
        .success();
    assert_eq!(read_jsonl(branch_file)[0]["parent"]["id"], parent.as_str());
    let list = env.cmd().arg("sessions").assert().success();
    let list = String::from_utf8(list.get_output().stdout.clone()).unwrap();
    assert!(list.lines().next().unwrap().contains("FROM"), "{list}");
    assert!(list.contains(&r), "{list}");
    let show = env
        .cmd()
        .args(["sessions", "show", &branch])
        .assert()
        .success();
    let show = String::from_utf8(show.get_output().stdout.clone()).unwrap();
    assert!(
        show.contains(&format!(
            "Branched from session {} at turn 1",
            short(&parent)
        )),
        "{show}"
    );
    let md = env
        .cmd()
        .args(["sessions", "export", &branch])
        .assert()
        .success();
    let md = String::from_utf8(md.get_output().stdout.clone()).unwrap();
    assert!(
        md.contains(&format!(
            "- Branched from: session `{}` at turn 1",
            short(&parent)
        )),
        "{md}"
    );
    let tree = env
        .cmd()
        .args(["sessions", "tree", &branch])
        .assert()
        .success();
    let tree = String::from_utf8(tree.get_output().stdout.clone()).unwrap();
    let lines: Vec<&str> = tree.lines().collect();
    assert_eq!(lines.len(), 2, "{tree}");
    assert!(
        lines[0].starts_with(&format!("{}  \"trip\"", short(&parent))),
        "{tree}"
    );
    assert!(
        lines[1].starts_with(&format!("└─ {}  at turn 1", short(&branch))),
        "{tree}"
    );
    assert!(lines[1].ends_with('◀'), "{tree}");

    // Search finds the branch's own turns once, and the copied ones in the parent only.
    let hits = json_hits(&env, &["--role", "user", "one"]);
    assert_eq!(hits.len(), 1);
    assert_eq!(hits[0]["session"], parent.as_str());
    let hits = json_hits(&env, &["--role", "user", "another"]);
    assert_eq!(
        (hits[0]["session"].as_str(), hits[0]["turn"].as_u64()),
        (Some(branch.as_str()), Some(2))
    );

    // A turn the session does not have, or no such session: bad input.
    let bad = format!("{}:9", short(&parent));
    env.cmd()
        .args(["--fork", &bad, "-p", "x"])
        .assert()
        .code(2)
        .stderr(predicates::str::contains(
            "has 3 turns; branch it at 0 to 3",
        ));
    env.cmd()
        .args(["--fork", "nosuch:1", "-p", "x"])
        .assert()
        .code(2);
    env.cmd()
        .args(["--fork", "x:-1", "-p", "x"])
        .assert()
        .code(2);
}

#[test]
fn slash_fork_and_slash_search_in_a_chat() {
    let env = TestEnv::new();
    let mut p = start(&env, &[]);
    ask(&mut p, "alpha");
    ask(&mut p, "beta");
    enter(&mut p, "/fork 1");
    p.exp_string("Branched session").unwrap();
    p.exp_string("at turn 1").unwrap();
    p.exp_string(">>> ").unwrap();
    ask(&mut p, "gamma");
    enter(&mut p, "/search alpha");
    p.exp_string("assistant").unwrap();
    p.exp_string("Open one at its turn with /session load ID:TURN")
        .unwrap();
    p.exp_string(">>> ").unwrap();
    enter(&mut p, "/fork 7");
    p.exp_string("has 2 turns").unwrap();
    p.exp_string(">>> ").unwrap();
    bye(p);

    let bodies = env.fake.chat_bodies();
    let sent = messages(bodies.last().unwrap());
    let texts: Vec<&str> = sent.iter().map(|(_, t)| t.as_str()).collect();
    assert_eq!(texts, ["alpha", "echo: alpha", "gamma"]);
    let files = session_files(&env);
    assert_eq!(files.len(), 2);
    let parents: Vec<Value> = files
        .iter()
        .map(|f| read_jsonl(f)[0]["parent"].clone())
        .collect();
    assert_eq!(
        parents.iter().filter(|p| p["turn"] == 1).count(),
        1,
        "{parents:?}"
    );
}

#[test]
fn session_id_colon_turn_opens_a_hit_there() {
    let env = TestEnv::new();
    let id = chat(&env, "hit", &["one", "two"]);
    // An earlier turn: a branch from there.
    let at1 = format!("{}:1", short(&id));
    env.cmd()
        .args(["--session", &at1, "-p", "other"])
        .assert()
        .success();
    let texts = |n: usize| -> Vec<String> {
        messages(&env.fake.chat_bodies()[n])
            .into_iter()
            .map(|(_, t)| t)
            .collect()
    };
    assert_eq!(texts(2), ["one", "echo: one", "other"]);
    assert_eq!(session_files(&env).len(), 2);
    // The last turn: the session itself, resumed.
    let at2 = format!("{}:2", short(&id));
    env.cmd()
        .args(["--session", &at2, "-p", "three"])
        .assert()
        .success();
    assert_eq!(texts(3), ["one", "echo: one", "two", "echo: two", "three"]);
    assert_eq!(session_files(&env).len(), 2, "resumed, not branched");
    // Not a session at all: a new session of that name, as before.
    env.cmd()
        .args(["--session", "nosuch:4", "-p", "x"])
        .assert()
        .success();
    assert_eq!(session_files(&env).len(), 3);
}

#[test]
fn two_chats_writing_while_searches_run() {
    let env = TestEnv::new();
    chat(&env, "seed", &["durian seed"]);
    std::thread::scope(|s| {
        for name in ["left", "right"] {
            let env = &env;
            s.spawn(move || {
                for t in 0..6 {
                    env.cmd()
                        .args(["--session", name, "-p", &format!("durian {name} {t}")])
                        .assert()
                        .success();
                }
            });
        }
        for _ in 0..2 {
            let env = &env;
            s.spawn(move || {
                for _ in 0..6 {
                    let hits = json_hits(env, &["-n", "100", "durian"]);
                    assert!(hits.len() >= 2, "{hits:?}");
                }
            });
        }
    });
    // Everything written is found, once, and the files are whole.
    let hits = json_hits(&env, &["-n", "100", "--role", "user", "durian"]);
    assert_eq!(hits.len(), 1 + 12);
    for f in session_files(&env) {
        for r in read_jsonl(&f) {
            assert!(r["kind"].is_string());
        }
    }
    env.cmd()
        .args(["sessions", "search", "durian"])
        .assert()
        .success()
        .stderr("");
}
