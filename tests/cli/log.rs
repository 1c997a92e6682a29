//! The turn log as a reader sees it: fields, permissions, and whole lines under concurrent writers.

use std::os::unix::fs::PermissionsExt;

use crate::harness::{read_jsonl, Api, TestEnv};
use crate::support::fake_ollama::{ChatReply, Script};

every_api!(
    every_field_of_a_successful_turn,
    absurd_token_counts_are_not_logged_as_counts
);

/// A server that reports counts no model could have: they are not counts, so the log says
/// "unknown" rather than a number that wrapped around.
fn absurd_token_counts_are_not_logged_as_counts(api: Api) {
    let env = TestEnv::with(api);
    env.fake.push_chat(ChatReply::Script(Script {
        tokens: vec!["ok".into()],
        prompt_eval_count: Some(1 << 62),
        eval_count: Some(1 << 61),
        ..Default::default()
    }));
    env.cmd().args(["-p", "hi"]).assert().success().stdout("ok");
    let r = &env.log_records()[0];
    assert_eq!(r["status"], "ok");
    assert_eq!(r["tokens_used"], serde_json::Value::Null, "{r}");
    assert_eq!(r["prompt_tokens"], serde_json::Value::Null, "{r}");
    assert_eq!(r["completion_tokens"], serde_json::Value::Null, "{r}");
}

fn every_field_of_a_successful_turn(api: Api) {
    let env = TestEnv::with(api);
    env.fake.push_chat(ChatReply::Script(Script {
        tokens: vec!["Paris".into(), ".".into()],
        prompt_eval_count: Some(26),
        eval_count: Some(2),
        ..Default::default()
    }));
    env.cmd()
        .args(["-o", "temperature=0", "-p", "capital of France?"])
        .assert()
        .success();
    let records = env.log_records();
    assert_eq!(records.len(), 1);
    let r = &records[0];
    let ts = r["timestamp"].as_str().unwrap();
    assert!(chrono::DateTime::parse_from_rfc3339(ts).is_ok(), "{ts}");
    assert!(ts.ends_with('Z'));
    assert!(uuid::Uuid::parse_str(r["session_id"].as_str().unwrap()).is_ok());
    assert_eq!(r["turn"], 1);
    assert_eq!(r["model"], "tiny:latest");
    assert_eq!(r["host"], env.base_url());
    assert_eq!(r["options"], serde_json::json!({"temperature": 0.0}));
    assert_eq!(r["user_input"], "capital of France?");
    assert_eq!(r["model_response"], "Paris.");
    assert_eq!(r["prompt_tokens"], 26);
    assert_eq!(r["completion_tokens"], 2);
    assert_eq!(r["tokens_used"], 28);
    match api {
        Api::Ollama => assert!(r["tokens_per_second"].as_f64().unwrap() > 0.0),
        // The OpenAI API reports no generation time, so there is no honest rate to give.
        Api::OpenAi | Api::Anthropic => assert!(r["tokens_per_second"].is_null()),
    }
    assert_eq!(r["done_reason"], "stop");
    assert_eq!(r["status"], "ok");
    assert!(r["error"].is_null());
    let rt = r["response_time"].as_f64().unwrap();
    let ttft = r["ttft"].as_f64().unwrap();
    // Milliseconds: on a connection already open (the context window was read first) the fake
    // can answer in under half of one, which rounds to 0.
    assert!(ttft >= 0.0 && ttft <= rt, "ttft {ttft} rt {rt}");
    assert_eq!(r["log_version"], 2);
    assert_eq!(r["log_content"], "full");
}

#[test]
fn log_file_and_folder_are_private() {
    let env = TestEnv::new();
    env.cmd().args(["-p", "hi"]).assert().success();
    let path = env.log_path();
    let mode = std::fs::metadata(&path).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o600);
    let dir_mode = std::fs::metadata(path.parent().unwrap())
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(dir_mode & 0o777, 0o700);
}

#[test]
fn no_log_writes_nothing_and_log_flag_chooses_the_file() {
    let env = TestEnv::new();
    env.cmd().args(["--no-log", "-p", "hi"]).assert().success();
    assert!(!env.log_path().exists());
    let custom = env.home.path().join("mine.jsonl");
    env.cmd()
        .args(["--log", custom.to_str().unwrap(), "-p", "hi"])
        .assert()
        .success();
    assert_eq!(read_jsonl(&custom).len(), 1);
}

#[test]
fn each_run_is_a_new_session() {
    let env = TestEnv::new();
    env.cmd().args(["-p", "one"]).assert().success();
    env.cmd().args(["-p", "two"]).assert().success();
    let r = env.log_records();
    assert_eq!(r.len(), 2);
    assert_ne!(r[0]["session_id"], r[1]["session_id"]);
}

#[test]
fn concurrent_clients_never_interleave_lines() {
    let env = TestEnv::new();
    let long = "長".repeat(20_000); // a 60 KB record, far past any pipe buffer
    let children: Vec<_> = (0..6)
        .map(|i| {
            env.std_command()
                // A window large enough for 20,000 characters of Chinese (else it is refused).
                .args(["-o", "num_ctx=32768", "-p", &format!("{i} {long}")])
                .stdin(std::process::Stdio::null())
                .stdout(std::process::Stdio::null())
                .spawn()
                .unwrap()
        })
        .collect();
    for mut c in children {
        assert!(c.wait().unwrap().success());
    }
    let records = env.log_records(); // panics on any torn or mixed line
    assert_eq!(records.len(), 6);
    for r in records {
        assert!(r["model_response"].as_str().unwrap().ends_with(&long));
    }
}
