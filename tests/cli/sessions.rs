//! Sessions as a user meets them: every REPL chat saved as it goes (private files), resumed with
//! `--continue`, `--session` or `/session load`, named with `/save`, surviving `kill -9`, and
//! listed, shown, exported and deleted with `ollama-chat sessions`.

use std::os::unix::fs::PermissionsExt;
use std::path::PathBuf;
use std::time::Duration;

use rexpect::process::Signal;
use rexpect::session::{spawn_command, PtySession};
use serde_json::{json, Value};

use crate::harness::{messages, read_jsonl, TestEnv};
use crate::pty::enter;
use crate::support::fake_ollama::{ChatReply, Script};

const PROMPT: &str = ">>> ";

/// rexpect reads the terminal byte by byte as Latin-1; this turns UTF-8 text into what it sees.
fn l(s: &str) -> String {
    s.bytes().map(char::from).collect()
}

pub fn sessions_dir(env: &TestEnv) -> PathBuf {
    env.home.path().join(".local/share/ollama-chat/sessions")
}

pub fn session_files(env: &TestEnv) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(sessions_dir(env))
        .map(|r| r.filter_map(Result::ok).map(|e| e.path()).collect())
        .unwrap_or_default();
    files.sort();
    files
}

fn spawn(env: &TestEnv, args: &[&str]) -> PtySession {
    let mut cmd = env.std_command();
    cmd.args(args);
    spawn_command(cmd, Some(20_000)).expect("spawn in a pty")
}

fn start(env: &TestEnv, args: &[&str]) -> PtySession {
    let mut p = spawn(env, args);
    p.exp_string(PROMPT).expect("the prompt appears");
    p
}

fn ask(p: &mut PtySession, line: &str) {
    enter(p, line);
    p.exp_string(&l(&format!("echo: {line}"))).unwrap();
    p.exp_string(PROMPT).unwrap();
}

fn bye(mut p: PtySession) {
    p.send_control('d').unwrap();
    p.exp_eof().unwrap();
}

fn pairs(v: &[(&str, &str)]) -> Vec<(String, String)> {
    v.iter()
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .collect()
}

#[test]
fn a_repl_chat_is_saved_privately_and_continue_resumes_it() {
    let env = TestEnv::new();
    let mut p = start(&env, &["-s", "sys", "-o", "temperature=0.5"]);
    ask(&mut p, "one");
    ask(&mut p, "第二個問題");
    bye(p);

    let files = session_files(&env);
    assert_eq!(files.len(), 1, "one chat, one session file");
    let mode = |p: &std::path::Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&files[0]), 0o600);
    assert_eq!(mode(&sessions_dir(&env)), 0o700);
    let records = read_jsonl(&files[0]);
    assert_eq!(records[0]["kind"], "session");
    assert_eq!(records[0]["version"], 2);
    assert_eq!(records[0]["system"], "sys");
    assert_eq!(records[0]["options"], json!({"temperature": 0.5}));
    let kinds: Vec<&str> = records
        .iter()
        .map(|r| r["kind"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, ["session", "user", "assistant", "user", "assistant"]);
    assert_eq!(records[4]["content"], "echo: 第二個問題");
    assert!(records[4]["completion_tokens"].as_u64().unwrap() > 0);

    // A new run with --continue and no flags: the old history, model and options.
    let mut p = spawn(&env, &["--continue"]);
    p.exp_string("Resumed session").unwrap();
    p.exp_string(PROMPT).unwrap();
    ask(&mut p, "three");
    bye(p);
    let bodies = env.fake.chat_bodies();
    assert_eq!(
        messages(&bodies[2]),
        pairs(&[
            ("system", "sys"),
            ("user", "one"),
            ("assistant", "echo: one"),
            ("user", "第二個問題"),
            ("assistant", "echo: 第二個問題"),
            ("user", "three"),
        ])
    );
    assert_eq!(bodies[2]["options"], json!({"temperature": 0.5}));
    assert_eq!(session_files(&env).len(), 1, "continued, not copied");
    assert_eq!(read_jsonl(&files[0]).len(), 7);
    // The turn log knows it is one session.
    let log = env.log_records();
    assert_eq!(log[2]["session_id"], log[0]["session_id"]);
    assert_eq!(log[2]["session_id"], records[0]["id"]);
    assert_eq!(log[2]["turn"], 3);
}

#[test]
fn session_by_name_or_path_in_one_shot_mode_and_flags_override() {
    let env = TestEnv::new();
    env.fake.set_models(&["tiny", "other"]);
    env.cmd()
        .args(["-m", "tiny", "--session", "work", "-p", "hello"])
        .assert()
        .success()
        .stdout("echo: hello");
    env.cmd()
        .args(["--session", "work", "-m", "other", "-p", "again"])
        .assert()
        .success();
    let bodies = env.fake.chat_bodies();
    assert_eq!(bodies[1]["model"], "other");
    assert_eq!(
        messages(&bodies[1]),
        pairs(&[
            ("user", "hello"),
            ("assistant", "echo: hello"),
            ("user", "again")
        ])
    );
    // The model switch is part of the session now.
    let files = session_files(&env);
    assert_eq!(files.len(), 1);
    let recs = read_jsonl(&files[0]);
    assert!(recs
        .iter()
        .any(|r| r["kind"] == "model" && r["model"] == "other"));
    assert!(recs
        .iter()
        .any(|r| r["kind"] == "name" && r["name"] == "work"));

    // A path that does not exist yet is a new session saved exactly there.
    let path = env.home.path().join("notes/today.jsonl");
    let p = path.to_str().unwrap();
    env.cmd()
        .args(["-m", "tiny", "--session", p, "-p", "first"])
        .assert()
        .success();
    env.cmd()
        .args(["--session", p, "-p", "second"])
        .assert()
        .success();
    assert_eq!(
        messages(&env.fake.chat_bodies()[3]),
        pairs(&[
            ("user", "first"),
            ("assistant", "echo: first"),
            ("user", "second")
        ])
    );
    assert_eq!(read_jsonl(&path).len(), 5);
    // One-shot runs without --session save nothing.
    env.cmd().args(["-m", "tiny", "-p", "x"]).assert().success();
    assert_eq!(session_files(&env).len(), 1);
}

#[test]
fn save_names_a_session_and_session_load_switches_to_it() {
    let env = TestEnv::new();
    let mut p = start(&env, &[]);
    ask(&mut p, "alpha");
    enter(&mut p, "/save 第一個 chat");
    p.exp_string(&l("Saved as \"第一個 chat\"")).unwrap();
    p.exp_string(PROMPT).unwrap();
    bye(p);

    let mut p = start(&env, &[]);
    ask(&mut p, "beta");
    enter(&mut p, "/session load 第一個 chat");
    p.exp_string("Resumed session").unwrap();
    p.exp_string(PROMPT).unwrap();
    ask(&mut p, "gamma");
    enter(&mut p, "/session");
    p.exp_string("saved to").unwrap();
    p.exp_string(PROMPT).unwrap();
    enter(&mut p, "/session load nothing-like-this");
    p.exp_string("no saved session matches").unwrap();
    p.exp_string(PROMPT).unwrap();
    bye(p);
    assert_eq!(
        messages(&env.fake.chat_bodies()[2]),
        pairs(&[
            ("user", "alpha"),
            ("assistant", "echo: alpha"),
            ("user", "gamma")
        ])
    );
    assert_eq!(session_files(&env).len(), 2);
}

#[test]
fn help_says_save_creates_no_model() {
    let env = TestEnv::new();
    let mut p = start(&env, &[]);
    enter(&mut p, "/?");
    p.exp_string("it creates no model").unwrap();
    p.exp_string("/session load").unwrap();
    p.exp_string(PROMPT).unwrap();
    bye(p);
    assert!(session_files(&env).is_empty(), "nothing happened, no file");
}

#[test]
fn clear_is_saved_and_a_resumed_chat_stays_cleared() {
    let env = TestEnv::new();
    let mut p = start(&env, &["-s", "sys"]);
    ask(&mut p, "before");
    enter(&mut p, "/clear");
    p.exp_string("Cleared").unwrap();
    p.exp_string(PROMPT).unwrap();
    bye(p);
    env.cmd().args(["-c", "-p", "after"]).assert().success();
    assert_eq!(
        messages(&env.fake.chat_bodies()[1]),
        pairs(&[("system", "sys"), ("user", "after")])
    );
}

#[test]
fn kill_9_mid_reply_loses_only_the_turn_in_flight() {
    let env = TestEnv::new();
    env.fake
        .push_chat(ChatReply::Tokens(vec!["fine".into(), ".".into()]));
    env.fake.push_chat(ChatReply::Script(Script {
        tokens: (0..500).map(|i| format!(" w{i}")).collect(),
        delay: Duration::from_millis(20),
        ..Default::default()
    }));
    let mut p = start(&env, &[]);
    enter(&mut p, "first");
    p.exp_string("fine.").unwrap();
    p.exp_string(PROMPT).unwrap();
    enter(&mut p, "a long answer please");
    p.exp_string(" w3").unwrap();
    p.process_mut().kill(Signal::SIGKILL).unwrap();

    env.cmd()
        .args(["--continue", "-p", "after the crash"])
        .assert()
        .success();
    assert_eq!(
        messages(&env.fake.chat_bodies()[2]),
        pairs(&[
            ("user", "first"),
            ("assistant", "fine."),
            ("user", "after the crash")
        ])
    );
    // The question that was in flight is still in the file for the record.
    env.cmd()
        .args(["sessions", "show", session_files(&env)[0].to_str().unwrap()])
        .assert()
        .success()
        .stdout(predicates::str::contains(">>> a long answer please"));
}

fn one_shot_session(env: &TestEnv, name: &str, question: &str) -> Value {
    env.cmd()
        .args(["--session", name, "-p", question])
        .assert()
        .success();
    let files = session_files(env);
    let f = files
        .iter()
        .find(|f| {
            read_jsonl(f)
                .iter()
                .any(|r| r["kind"] == "name" && r["name"] == name)
        })
        .unwrap();
    read_jsonl(f)[0].clone()
}

#[test]
fn sessions_lists_newest_first_with_chinese_truncated_by_width() {
    let env = TestEnv::new();
    one_shot_session(&env, "english", "What is photosynthesis?");
    let long = "請用很多很多很多很多很多很多很多很多很多很多很多很多很多很多很多很多很多很多很多很多字解釋光合作用";
    let header = one_shot_session(&env, "中文", long);
    let out = env.cmd().arg("sessions").assert().success();
    let text = String::from_utf8(out.get_output().stdout.clone()).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 3, "{text}");
    assert!(lines[0].starts_with("ID"));
    assert!(lines[0].contains("FIRST MESSAGE"));
    let id8 = &header["id"].as_str().unwrap().replace('-', "")[..8];
    assert!(lines[1].starts_with(id8), "newest first: {text}");
    assert!(lines[1].contains("中文") && lines[1].contains("tiny:latest"));
    assert!(lines[1].contains('…'), "long line cut: {text}");
    assert!(lines[1].starts_with(&format!("{id8}  中文")));
    // Cut by display columns: a pipe gets 80.
    let width = ollama_chat::table::width(lines[1]);
    assert!(width <= 80, "{width}: {}", lines[1]);
    assert!(lines[2].contains("What is photosynthesis?"));
    // The columns line up even with wide characters before them.
    let col = |l: &str| {
        let i = l.find("tiny:latest").unwrap();
        l[..i]
            .chars()
            .map(|c| if c.is_ascii() { 1 } else { 2 })
            .sum::<usize>()
    };
    assert_eq!(col(lines[1]), col(lines[2]));
}

#[test]
fn an_empty_list_says_where_sessions_go() {
    let env = TestEnv::new();
    env.cmd()
        .arg("sessions")
        .assert()
        .success()
        .stdout(predicates::str::contains("No saved sessions yet"));
}

#[test]
fn show_and_markdown_export() {
    let env = TestEnv::new();
    let h = one_shot_session(&env, "md", "你好 teacher");
    let id = h["id"].as_str().unwrap();
    env.cmd()
        .args(["sessions", "show", &id[..6]])
        .assert()
        .success()
        .stdout(predicates::str::contains(
            ">>> 你好 teacher\necho: 你好 teacher\n[",
        ));
    env.cmd()
        .args(["sessions", "export", "md", "--format", "markdown"])
        .assert()
        .success()
        .stdout(predicates::str::contains(
            "## User\n\n你好 teacher\n\n## Assistant\n\necho: 你好 teacher",
        ));
}

#[test]
fn json_export_is_a_chat_body_the_server_accepts() {
    let env = TestEnv::new();
    env.cmd()
        .args(["-s", "老師", "-o", "seed=3", "--session", "j", "-p", "一"])
        .assert()
        .success();
    let out = env
        .cmd()
        .args(["sessions", "export", "j", "--format", "json"])
        .assert()
        .success();
    let body = out.get_output().stdout.clone();
    let v: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(
        v,
        json!({
            "model": "tiny:latest",
            "messages": [
                {"role": "system", "content": "老師"},
                {"role": "user", "content": "一"},
                {"role": "assistant", "content": "echo: 一"}
            ],
            "stream": false,
            "options": {"seed": 3}
        })
    );
    // What `curl -d @file http://…/api/chat` does: POST the bytes as they are.
    let (status, reply) = post(&env, "/api/chat", &body);
    assert_eq!(status, 200, "{reply}");
    let answer: Value = serde_json::from_str(&reply).unwrap();
    assert_eq!(answer["done"], true);
    assert_eq!(env.fake.chat_bodies().last().unwrap(), &v);
}

/// A bare HTTP/1.1 POST, as curl sends it; returns the status and the body.
fn post(env: &TestEnv, path: &str, body: &[u8]) -> (u16, String) {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(env.fake.host_port()).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    let head = format!(
        "POST {path} HTTP/1.1\r\nHost: {}\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        env.fake.host_port(),
        body.len()
    );
    s.write_all(head.as_bytes()).unwrap();
    s.write_all(body).unwrap();
    let mut resp = Vec::new();
    s.read_to_end(&mut resp).unwrap();
    let text = String::from_utf8_lossy(&resp).to_string();
    let status = text[9..12].parse().unwrap();
    let body = text.split_once("\r\n\r\n").map(|x| x.1).unwrap_or("");
    (status, body.to_string())
}

#[test]
fn rm_asks_or_needs_yes() {
    let env = TestEnv::new();
    one_shot_session(&env, "gone", "x");
    one_shot_session(&env, "kept", "y");
    env.cmd()
        .args(["sessions", "rm", "gone"])
        .assert()
        .code(2)
        .stderr(predicates::str::contains("add --yes"));
    assert_eq!(session_files(&env).len(), 2);

    let mut p = spawn(&env, &["sessions", "rm", "kept"]);
    p.exp_string("[y/N]").unwrap();
    enter(&mut p, "n");
    p.exp_string("Kept it.").unwrap();
    p.exp_eof().unwrap();
    assert_eq!(session_files(&env).len(), 2);

    let mut p = spawn(&env, &["sessions", "rm", "kept"]);
    p.exp_string("[y/N]").unwrap();
    enter(&mut p, "y");
    p.exp_string("Deleted session").unwrap();
    p.exp_eof().unwrap();
    env.cmd()
        .args(["sessions", "rm", "gone", "--yes"])
        .assert()
        .success();
    assert!(session_files(&env).is_empty());
}

#[test]
fn no_session_saves_nothing() {
    let env = TestEnv::new();
    let mut p = start(&env, &["--no-session"]);
    ask(&mut p, "private");
    enter(&mut p, "/save x");
    p.exp_string("not being saved").unwrap();
    p.exp_string(PROMPT).unwrap();
    bye(p);
    assert!(session_files(&env).is_empty());
}

#[test]
fn continue_with_nothing_saved_is_a_clear_error() {
    let env = TestEnv::new();
    env.cmd()
        .args(["--continue", "-p", "x"])
        .assert()
        .code(1)
        .stderr("ollama-chat: there is no saved session to continue yet\n");
}

#[test]
fn a_session_open_in_one_chat_cannot_be_resumed_by_another() {
    let env = TestEnv::new();
    let mut p = start(&env, &["--session", "shared"]);
    ask(&mut p, "first chat");
    let out = env
        .cmd()
        .args(["--session", "shared", "-p", "second chat"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("is open in another ollama-chat"),
        "{stderr}"
    );
    assert_eq!(
        env.fake.chat_bodies().len(),
        1,
        "the second chat sent nothing"
    );
    bye(p);
    // Once the first chat has ended, the session is free again.
    env.cmd()
        .args(["--session", "shared", "-p", "second chat"])
        .assert()
        .success();
    let last = env.fake.chat_bodies().pop().unwrap();
    assert_eq!(messages(&last).len(), 3, "the resumed history came along");
}

/// `sessions rm` refuses the session of a running chat: deleting it would lose that chat's later
/// turns without a word.
#[test]
fn a_session_open_in_a_chat_cannot_be_deleted() {
    let env = TestEnv::new();
    let mut p = start(&env, &["--session", "kept"]);
    ask(&mut p, "still here");
    let out = env
        .cmd()
        .args(["sessions", "rm", "--yes", "kept"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("is open in another ollama-chat"),
        "{stderr}"
    );
    assert_eq!(session_files(&env).len(), 1, "the file is still there");
    bye(p);
    env.cmd()
        .args(["sessions", "rm", "--yes", "kept"])
        .assert()
        .success();
    assert!(session_files(&env).is_empty());
}
