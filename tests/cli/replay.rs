//! `replay`: a saved session shown without a server (from a file, an id, or a pipe), damaged files
//! refused with the file and line named and left untouched, and `--rerun` against a live server.

use std::path::{Path, PathBuf};

use serde_json::{json, Value};

use crate::harness::{messages, read_jsonl, Api, TestEnv};
use crate::sessions::session_files;
use crate::support::fake_ollama::ChatReply;

const EXAMPLE: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/examples/teacher-session.jsonl"
);
const SYSTEM: &str = "你是一位專業的老師，擅長用淺顯例子解釋複雜概念。";

fn example_copy(env: &TestEnv) -> PathBuf {
    let p = env.home.path().join("teacher.jsonl");
    std::fs::copy(EXAMPLE, &p).unwrap();
    p
}

/// An address where nothing listens: replay must not need a server.
fn dead_host() -> String {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap().to_string()
}

fn stdout_of(a: assert_cmd::assert::Assert) -> String {
    String::from_utf8(a.get_output().stdout.clone()).unwrap()
}

#[test]
fn replay_of_the_example_needs_no_server() {
    let env = TestEnv::new();
    let out = stdout_of(
        env.cmd()
            .env("OLLAMA_HOST", dead_host())
            .env("TZ", "UTC")
            .args(["replay", EXAMPLE])
            .assert()
            .success()
            .stderr(""),
    );
    insta::assert_snapshot!("replay_teacher", out);
}

#[test]
fn replay_reads_a_pipe_with_or_without_a_dash() {
    let env = TestEnv::new();
    let bytes = std::fs::read(EXAMPLE).unwrap();
    let from_file = stdout_of(env.cmd().args(["replay", EXAMPLE]).assert().success());
    let dash = stdout_of(
        env.cmd()
            .args(["replay", "-"])
            .write_stdin(bytes.clone())
            .assert()
            .success(),
    );
    let bare = stdout_of(
        env.cmd()
            .arg("replay")
            .write_stdin(bytes)
            .assert()
            .success(),
    );
    assert_eq!(dash, from_file);
    assert_eq!(bare, from_file);
}

#[test]
fn paced_replay_takes_about_the_recorded_time() {
    let env = TestEnv::new();
    let start = std::time::Instant::now();
    env.cmd()
        .args(["replay", EXAMPLE, "--speed", "100"])
        .assert()
        .success()
        .stdout(predicates::str::contains("排出的廢氣"));
    // The recorded chat took several seconds; a hundred times faster it still takes some time.
    assert!(start.elapsed() >= std::time::Duration::from_millis(50));
    env.cmd()
        .args(["replay", EXAMPLE, "--speed", "0"])
        .assert()
        .code(2);
}

fn assert_refused(env: &TestEnv, file: &Path, expect: &str) {
    let before = std::fs::read(file).ok();
    // A file that is not there is bad input (2); one that is damaged, a failure (1).
    let code = if before.is_some() { 1 } else { 2 };
    let out = env
        .cmd()
        .args(["replay", file.to_str().unwrap()])
        .assert()
        .code(code)
        .stdout("");
    let err = String::from_utf8(out.get_output().stderr.clone()).unwrap();
    assert_eq!(err.lines().count(), 1, "one line: {err}");
    assert!(
        err.contains(file.to_str().unwrap()),
        "names the file: {err}"
    );
    assert!(err.contains(expect), "{expect:?} in {err}");
    // Resuming it is refused the same way, and nothing is sent or written. (A missing file is
    // where `--session` starts a new session, so only an existing one can be refused.)
    if before.is_some() {
        env.cmd()
            .args(["--session", file.to_str().unwrap(), "-p", "hi"])
            .assert()
            .code(1)
            .stderr(predicates::str::contains(expect));
    }
    assert_eq!(std::fs::read(file).ok(), before, "the file is untouched");
    assert!(env.fake.chat_bodies().is_empty());
}

#[test]
fn damaged_files_are_refused_naming_file_and_line() {
    let env = TestEnv::new();
    let dir = env.home.path();
    assert_refused(
        &env,
        &dir.join("missing.jsonl"),
        "cannot read the session file",
    );

    let not = dir.join("notes.jsonl");
    std::fs::write(&not, "dear diary\n").unwrap();
    assert_refused(&env, &not, "line 1: not an ollama-chat session file");

    let text = std::fs::read_to_string(EXAMPLE).unwrap();
    let mut lines: Vec<&str> = text.lines().collect();
    lines[2] = r#"{"at":"2026-11-29T01:14:50.800Z","kind":"assistant","content":"光合"#;
    let corrupt = dir.join("corrupt.jsonl");
    std::fs::write(&corrupt, lines.join("\n") + "\n").unwrap();
    assert_refused(&env, &corrupt, "line 3: corrupt record");

    let future = dir.join("future.jsonl");
    std::fs::write(&future, text.replacen("\"version\":1", "\"version\":3", 1)).unwrap();
    assert_refused(&env, &future, "line 1: session format version 3 is newer");
}

#[test]
fn a_torn_last_record_is_skipped_with_a_warning_and_resuming_repairs_it() {
    let env = TestEnv::new();
    let path = example_copy(&env);
    let bytes = std::fs::read(&path).unwrap();
    let last_start = bytes[..bytes.len() - 1]
        .iter()
        .rposition(|&b| b == b'\n')
        .unwrap()
        + 1;
    // A few cuts through the last record, one inside a multi-byte character of the line before.
    for cut in [last_start + 1, last_start + 20, bytes.len() - 2] {
        std::fs::write(&path, &bytes[..cut]).unwrap();
        env.cmd()
            .args(["replay", path.to_str().unwrap()])
            .assert()
            .success()
            .stderr(predicates::str::contains(
                "line 8: skipped an incomplete last record",
            ))
            .stdout(predicates::str::contains("排出的廢氣"));
    }
    env.fake.set_models(&["my-teacher"]);
    env.cmd()
        .args(["--session", path.to_str().unwrap(), "-p", "thanks!"])
        .assert()
        .success()
        .stderr(predicates::str::contains(
            "skipped an incomplete last record",
        ));
    // The next load is clean: the torn bytes were cut, the new turn appended on its own lines.
    env.cmd()
        .args(["replay", path.to_str().unwrap()])
        .assert()
        .success()
        .stderr("")
        .stdout(predicates::str::contains(">>> thanks!\necho: thanks!"));
    let recs = read_jsonl(&path);
    assert_eq!(recs.len(), 9);
    let body = &env.fake.chat_bodies()[0];
    assert_eq!(
        messages(body).len(),
        8,
        "system + 3 exchanges + the new question"
    );
    assert_eq!(body["options"], json!({"temperature": 0.3, "top_p": 0.9}));
}

#[test]
fn rerun_sends_the_recorded_turns_with_the_new_replies_as_history() {
    let env = TestEnv::new();
    env.fake.set_models(&["my-teacher", "other"]);
    for r in ["NEW one", "NEW two", "NEW three"] {
        env.fake.push_chat(ChatReply::Tokens(vec![r.into()]));
    }
    let path = example_copy(&env);
    let out = stdout_of(
        env.cmd()
            .args([
                "replay",
                path.to_str().unwrap(),
                "--rerun",
                "--model",
                "other",
                "-o",
                "temperature=0",
            ])
            .assert()
            .success(),
    );
    let recorded: Vec<Value> = read_jsonl(&path);
    let questions: Vec<&str> = recorded
        .iter()
        .filter(|r| r["kind"] == "user")
        .map(|r| r["content"].as_str().unwrap())
        .collect();
    let bodies = env.fake.chat_bodies();
    assert_eq!(bodies.len(), 3);
    let news = ["NEW one", "NEW two", "NEW three"];
    for (k, body) in bodies.iter().enumerate() {
        assert_eq!(body["model"], "other");
        assert_eq!(body["options"], json!({"temperature": 0.0, "top_p": 0.9}));
        let mut want = vec![("system".to_string(), SYSTEM.to_string())];
        for i in 0..k {
            want.push(("user".into(), questions[i].into()));
            want.push(("assistant".into(), news[i].into()));
        }
        want.push(("user".into(), questions[k].into()));
        assert_eq!(messages(body), want, "request {k}");
    }
    // Old and new side by side, then the summary.
    assert!(out.contains("── turn 1/3 ──"), "{out}");
    assert!(
        out.contains("old · my-teacher\n光合作用就像植物的廚房"),
        "{out}"
    );
    assert!(out.contains("new · other\nNEW one\n"), "{out}");
    assert!(
        out.contains("old  ok      0.72 s   0.19 s      16 + 21"),
        "{out}"
    );
    assert!(out.contains("3/3 ok"), "{out}");

    // The re-run is a session of its own, and in the turn log under the same id.
    let files = session_files(&env);
    assert_eq!(files.len(), 1);
    let new = read_jsonl(&files[0]);
    assert_eq!(new[0]["rerun_of"], recorded[0]["id"]);
    assert_eq!(new[0]["model"], "other");
    let replies: Vec<&str> = new
        .iter()
        .filter(|r| r["kind"] == "assistant")
        .map(|r| r["content"].as_str().unwrap())
        .collect();
    assert_eq!(replies, news);
    let log = env.log_records();
    assert_eq!(log.len(), 3);
    assert!(log.iter().all(|r| r["session_id"] == new[0]["id"]));
    assert_eq!(read_jsonl(&path), recorded, "the original is untouched");
}

#[test]
fn rerun_without_changes_uses_the_recorded_model_and_options() {
    let env = TestEnv::new();
    env.fake.set_models(&["my-teacher"]);
    env.cmd()
        .args(["--no-session", "replay", EXAMPLE, "--rerun"])
        .assert()
        .success();
    let bodies = env.fake.chat_bodies();
    assert_eq!(bodies.len(), 3);
    assert_eq!(bodies[0]["model"], "my-teacher");
    assert_eq!(
        bodies[2]["options"],
        json!({"temperature": 0.3, "top_p": 0.9})
    );
    assert_eq!(
        messages(&bodies[1])[2],
        ("assistant".into(), "echo: 什麼是光合作用？".into())
    );
    assert!(session_files(&env).is_empty(), "--no-session");
}

every_api!(rerun_against_no_server_stops_at_the_first_turn_with_exit_3);

/// The server is down: every later turn would fail the same way, so the re-run stops after the
/// first with the unreachable exit code (under every API, where it once went on and exited 1).
fn rerun_against_no_server_stops_at_the_first_turn_with_exit_3(api: Api) {
    let env = TestEnv::with(api);
    let mut cmd = env.std_command();
    env.unreachable(
        &mut cmd,
        dead_host().rsplit(':').next().unwrap().parse().unwrap(),
    );
    let out = assert_cmd::Command::from_std(cmd)
        .args(["replay", EXAMPLE, "--rerun"])
        .assert()
        .code(3)
        .stderr(predicates::str::contains(format!(
            "cannot reach {}",
            env.server_name()
        )))
        .get_output()
        .clone();
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert!(stdout.contains("turn 1/3"), "{stdout}");
    assert!(
        !stdout.contains("turn 2/3"),
        "stopped at the first turn: {stdout}"
    );
}

#[test]
fn rerun_refuses_a_bad_option_before_sending() {
    let env = TestEnv::new();
    env.cmd()
        .args(["replay", EXAMPLE, "--rerun", "-o", "temprature=1"])
        .assert()
        .code(2)
        .stderr(predicates::str::contains("did you mean \"temperature\""));
    assert!(env.fake.chat_bodies().is_empty());
}

/// SIGTERM in the middle of a re-run's reply: that reply is kept in the new session and the
/// turn log as `terminated`, no later turn is sent, and the run exits 143.
#[test]
fn sigterm_mid_rerun_keeps_the_partial_reply_and_exits_143() {
    use std::io::Read;
    use std::process::Stdio;
    let env = TestEnv::new();
    env.fake.set_models(&["my-teacher", "other"]);
    crate::signals::slow_reply(&env);
    let path = example_copy(&env);
    let mut child = env
        .std_command()
        .args([
            "replay",
            path.to_str().unwrap(),
            "--rerun",
            "--model",
            "other",
        ])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdout = child.stdout.take().unwrap();
    let mut seen = Vec::new();
    let mut byte = [0u8; 1];
    while !String::from_utf8_lossy(&seen).contains(" w1") {
        stdout.read_exact(&mut byte).unwrap(); // the new reply has started
        seen.push(byte[0]);
    }
    crate::signals::kill(child.id(), "TERM");
    stdout.read_to_end(&mut seen).unwrap();
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(143), "{out:?}");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("stopped by SIGTERM"), "{stderr}");
    assert_eq!(env.fake.chat_bodies().len(), 1, "no later turn is sent");

    let files = session_files(&env);
    assert_eq!(files.len(), 1);
    let new = read_jsonl(&files[0]);
    let reply = new.iter().find(|r| r["kind"] == "assistant").unwrap();
    assert_eq!(reply["status"], "terminated");
    let content = reply["content"].as_str().unwrap();
    assert!(content.starts_with(" w0 w1"), "{content}");
    assert!(!content.contains("w399"));
    let log = env.log_records();
    assert_eq!(log.len(), 1);
    assert_eq!(log[0]["status"], "terminated");
    assert_eq!(log[0]["model_response"], content);
}
