//! What the turn log keeps and who can read it: `--log-content`, permission warnings, `/log off` in
//! the REPL, and rotation that loses no line with two clients writing at once.

use std::os::unix::fs::PermissionsExt;

use predicates::prelude::PredicateBooleanExt;

use crate::harness::{read_jsonl, TestEnv};
use crate::pty::{enter, l, start, PROMPT};
use crate::sessions::session_files;
use crate::support::fake_ollama::ChatReply;

#[test]
fn full_is_the_default_and_is_recorded() {
    let env = TestEnv::new();
    env.cmd().args(["-p", "hello 你好"]).assert().success();
    let r = &env.log_records()[0];
    assert_eq!(r["log_content"], "full");
    assert_eq!(r["log_version"], 2);
    assert_eq!(r["user_input"], "hello 你好");
}

#[test]
fn none_keeps_metadata_only() {
    let env = TestEnv::new();
    env.cmd()
        .args(["--log-content", "none", "-p", "my secret plan"])
        .assert()
        .success();
    let r = &env.log_records()[0];
    assert_eq!(r["log_content"], "none");
    for field in ["user_input", "model_response", "thinking"] {
        assert!(r.get(field).is_none(), "{field} must not be logged: {r}");
    }
    assert_eq!(r["status"], "ok");
    assert!(r["completion_tokens"].as_u64().is_some());
    assert!(r["response_time"].as_f64().is_some());
    let raw = std::fs::read_to_string(env.log_path()).unwrap();
    assert!(!raw.contains("secret plan"));
}

#[test]
fn redact_masks_question_and_answer() {
    let env = TestEnv::new();
    env.fake.push_chat(ChatReply::Tokens(vec![
        "Call me at ".into(),
        "0912-345-678".into(),
        " or ming@example.com.tw".into(),
    ]));
    env.cmd()
        .env("OLLAMA_CHAT_LOG_CONTENT", "redact")
        .args([
            "-p",
            "my key is sk-abcdefghijklmnop1234 and card 4111 1111 1111 1111, ok?",
        ])
        .assert()
        .success()
        .stdout("Call me at 0912-345-678 or ming@example.com.tw");
    let r = &env.log_records()[0];
    assert_eq!(r["log_content"], "redact");
    assert_eq!(r["user_input"], "my key is [secret] and card [number], ok?");
    assert_eq!(r["model_response"], "Call me at [number] or [email]");
    // What was sent to the model is untouched: redaction is for the log only.
    let body = &env.fake.chat_bodies()[0];
    assert!(body["messages"][0]["content"]
        .as_str()
        .unwrap()
        .contains("sk-abcdefghijklmnop1234"));
}

#[test]
fn bad_log_content_is_a_usage_error() {
    let env = TestEnv::new();
    env.cmd()
        .args(["--log-content", "some", "-p", "x"])
        .assert()
        .code(2)
        .stderr(predicates::str::contains(
            "--log-content takes full, redact or none",
        ));
    env.cmd()
        .args(["--log-max-size", "huge", "-p", "x"])
        .assert()
        .code(2)
        .stderr(predicates::str::contains("--log-max-size"));
}

#[test]
fn a_log_open_to_others_gets_a_warning() {
    let env = TestEnv::new();
    env.cmd().args(["-p", "first"]).assert().success();
    env.cmd()
        .args(["-p", "second"])
        .assert()
        .success()
        .stderr(predicates::str::contains("open to other users").not());
    let path = env.log_path();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
    env.cmd().args(["-p", "third"]).assert().success().stderr(
        predicates::str::contains("the turn log").and(predicates::str::contains("mode 644")),
    );
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
    let dir = path.parent().unwrap();
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o755)).unwrap();
    env.cmd()
        .args(["-p", "fourth"])
        .assert()
        .success()
        .stderr(predicates::str::contains("folder").and(predicates::str::contains("chmod 700")));
    assert_eq!(env.log_records().len(), 4, "a warning never stops the log");
}

#[test]
fn log_off_pauses_the_next_turns_in_the_repl() {
    let env = TestEnv::new();
    let mut p = start(&env, &["-m", "tiny"]);
    enter(&mut p, "before 之前");
    p.exp_string(&l("echo: before 之前")).unwrap();
    p.exp_string(PROMPT).unwrap();
    enter(&mut p, "/log off");
    p.exp_string("Logging paused").unwrap();
    p.exp_string(PROMPT).unwrap();
    enter(&mut p, "private 私密");
    p.exp_string(&l("echo: private 私密")).unwrap();
    p.exp_string(PROMPT).unwrap();
    enter(&mut p, "/log");
    p.exp_string("Logging is paused").unwrap();
    p.exp_string(PROMPT).unwrap();
    enter(&mut p, "/log on");
    p.exp_string("Logging resumed").unwrap();
    p.exp_string(PROMPT).unwrap();
    enter(&mut p, "/log sideways");
    p.exp_string("/log: unknown argument 'sideways'").unwrap();
    p.exp_string("Usage: /log [on|off]").unwrap();
    p.exp_string(PROMPT).unwrap();
    enter(&mut p, "after");
    p.exp_string("echo: after").unwrap();
    p.exp_string(PROMPT).unwrap();
    enter(&mut p, "/bye");
    p.exp_eof().unwrap();

    let records = env.log_records();
    let inputs: Vec<&str> = records
        .iter()
        .map(|r| r["user_input"].as_str().unwrap())
        .collect();
    assert_eq!(inputs, ["before 之前", "after"]);
    assert_eq!(
        records[1]["turn"], 3,
        "turn numbers still count the paused turn"
    );
    assert_eq!(
        env.fake.chat_bodies().len(),
        3,
        "the paused turn was still sent"
    );
    // The turn log is paused, not the session: the session file still has the whole chat.
    let sessions = session_files(&env);
    assert_eq!(sessions.len(), 1);
    let saved = std::fs::read_to_string(&sessions[0]).unwrap();
    assert!(saved.contains("private 私密"));
}

#[test]
fn log_content_governs_the_turn_log_not_the_session() {
    let env = TestEnv::new();
    env.cmd()
        .args([
            "--log-content",
            "none",
            "--session",
            "plans",
            "-p",
            "secret plans 秘密",
        ])
        .assert()
        .success();
    let r = &env.log_records()[0];
    assert_eq!(r["log_content"], "none");
    assert!(r.get("user_input").is_none());
    let sessions = session_files(&env);
    assert_eq!(sessions.len(), 1);
    let saved = std::fs::read_to_string(&sessions[0]).unwrap();
    assert!(saved.contains("secret plans 秘密"), "the session keeps it");
}

/// Every file under `dir`, recursively.
fn files_under(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap().filter_map(Result::ok) {
        let p = e.path();
        if p.is_dir() {
            out.extend(files_under(&p));
        } else {
            out.push(p);
        }
    }
    out
}

#[test]
fn a_chat_can_leave_no_text_behind() {
    // What the README promises: --log-content none, --no-session and no input history.
    let env = TestEnv::new();
    let mut p = crate::pty::start_with(
        &env,
        &["-m", "tiny", "--log-content", "none", "--no-session"],
        &[("OLLAMA_NOHISTORY", "1")],
    );
    enter(&mut p, "secret plans 秘密");
    p.exp_string(&l("echo: secret plans 秘密")).unwrap();
    p.exp_string(PROMPT).unwrap();
    enter(&mut p, "/bye");
    p.exp_eof().unwrap();

    assert_eq!(
        env.log_records().len(),
        1,
        "the turn is logged, as metadata"
    );
    assert!(session_files(&env).is_empty());
    for f in files_under(env.home.path()) {
        let bytes = std::fs::read(&f).unwrap();
        let text = String::from_utf8_lossy(&bytes);
        assert!(
            !text.contains("secret plans") && !text.contains("秘密"),
            "{} keeps the text",
            f.display()
        );
    }
}

#[test]
fn rotation_with_two_concurrent_clients_loses_no_line() {
    let env = TestEnv::new();
    let per_client = 12;
    let clients: Vec<_> = (0..2)
        .map(|c| {
            let cmds: Vec<_> = (0..per_client)
                .map(|i| {
                    let mut cmd = env.std_command();
                    cmd.args([
                        "--log-max-size",
                        "1500",
                        "--log-keep",
                        "100",
                        "-p",
                        &format!("client {c} turn {i} {}", "長".repeat(100)),
                    ])
                    .stdout(std::process::Stdio::null());
                    cmd
                })
                .collect();
            std::thread::spawn(move || {
                for mut cmd in cmds {
                    assert!(cmd.status().unwrap().success());
                }
            })
        })
        .collect();
    for c in clients {
        c.join().unwrap();
    }
    let base = env.log_path();
    let mut files = vec![base.clone()];
    let mut n = 1;
    loop {
        let p = base.with_extension(format!("jsonl.{n}"));
        if !p.exists() {
            break;
        }
        files.push(p);
        n += 1;
    }
    assert!(
        files.len() > 5,
        "the log must have rotated: {} files",
        files.len()
    );
    let mut inputs = Vec::new();
    for f in &files {
        let mode = std::fs::metadata(f).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600, "{}", f.display());
        let size = std::fs::metadata(f).unwrap().len();
        let records = read_jsonl(f); // panics on a torn line
        assert!(
            size <= 1500 || records.len() == 1,
            "{} is {size} bytes",
            f.display()
        );
        inputs.extend(
            records
                .iter()
                .map(|r| r["user_input"].as_str().unwrap().to_string()),
        );
    }
    assert_eq!(inputs.len(), 2 * per_client, "every turn is logged once");
    inputs.sort();
    inputs.dedup();
    assert_eq!(
        inputs.len(),
        2 * per_client,
        "every turn is in exactly one file"
    );
}

/// Three long messages in a 512-token window with `summarize`: the third makes the client ask the
/// model for a summary first (see `context.rs`). Every message and the summary carry an address.
fn chat_with_a_summary(env: &TestEnv, mode: &str) {
    for _ in 0..2 {
        env.fake.push_chat(ChatReply::Tokens(vec!["ok.".into()]));
    }
    env.fake.push_chat(ChatReply::Tokens(crate::harness::words(
        "小明 (ming@example.com) sent two long messages.",
    )));
    env.fake.push_chat(ChatReply::Tokens(vec!["ok.".into()]));
    let mut p = start(
        env,
        &[
            "-m",
            "tiny",
            "-o",
            "num_ctx=512",
            "--context-strategy",
            "summarize",
            "--log-content",
            mode,
        ],
    );
    for tag in ["one", "two", "three"] {
        let text = format!("{tag} mail ming@example.com {}", "x".repeat(560));
        enter(&mut p, &text);
        if tag == "three" {
            p.exp_string("context: summarised").unwrap();
        }
        p.exp_string("ok.").unwrap();
        p.exp_string(PROMPT).unwrap();
    }
    enter(&mut p, "/bye");
    p.exp_eof().unwrap();
    assert_eq!(env.fake.chat_bodies().len(), 4, "a summarize call was made");
}

#[test]
fn the_summarize_call_and_the_summary_follow_the_content_mode() {
    let env = TestEnv::new();
    chat_with_a_summary(&env, "redact");
    let log = env.log_records();
    assert_eq!(log.len(), 4);
    assert_eq!(log[2]["call"], "summarize");
    for r in &log {
        assert_eq!(r["log_content"], "redact");
    }
    let transcript = log[2]["user_input"].as_str().unwrap();
    assert!(transcript.starts_with("Summarise the conversation below"));
    assert!(transcript.contains("one mail [email]"), "{transcript}");
    assert_eq!(
        log[2]["model_response"],
        "小明 ([email]) sent two long messages."
    );
    assert_eq!(
        log[3]["context_action"]["summary"],
        "小明 ([email]) sent two long messages."
    );
    let raw = std::fs::read_to_string(env.log_path()).unwrap();
    assert!(!raw.contains("ming@example.com"));

    let env = TestEnv::new();
    chat_with_a_summary(&env, "none");
    let log = env.log_records();
    assert_eq!(log[2]["call"], "summarize");
    assert!(log[2].get("user_input").is_none());
    assert!(log[2].get("model_response").is_none());
    let action = &log[3]["context_action"];
    assert_eq!(action["strategy"], "summarize");
    assert_eq!(action["messages"], 4);
    assert!(action.get("summary").is_none(), "{action}");
    let raw = std::fs::read_to_string(env.log_path()).unwrap();
    assert!(!raw.contains("ming@") && !raw.contains("小明"), "{raw}");

    // The readers take the real records: the summarize call is listed, but is not a turn.
    let out = env.cmd().args(["stats", "--json"]).output().unwrap();
    assert!(out.status.success());
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["overall"]["turns"], 3);
    assert_eq!(v["overall"]["summarize_calls"], 1);
    assert_eq!(v["malformed"]["count"], 0);
    env.cmd()
        .args(["logs"])
        .env("COLUMNS", "200")
        .assert()
        .success()
        .stdout(predicates::str::contains(
            "(summarize call: condensing earlier messages)",
        ))
        .stdout(predicates::str::contains("(not logged)"));
}
