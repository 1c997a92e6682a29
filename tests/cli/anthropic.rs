//! What only the Anthropic backend has: `--api anthropic`, the request as the Messages API wants
//! it (top-level `system`, `max_tokens`, `x-api-key`, `anthropic-version`), the key (environment,
//! `.env`, never shown), refusals, and its HTTP errors (401, 429, 529, 5xx, a cut stream).

use std::time::Duration;

use predicates::prelude::*;
use serde_json::json;

use crate::harness::{messages, words, Api, TestEnv};
use crate::support::fake_ollama::{ChatReply, End, Script};

const SECRET: &str = "sk-ant-test-very-secret-0123456789";

fn anthropic() -> TestEnv {
    TestEnv::with(Api::Anthropic)
}

fn pairs(v: &[(&str, &str)]) -> Vec<(String, String)> {
    v.iter()
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .collect()
}

/// One-line stderr of a failed run with `code`, stdout as given.
fn fails(env: &TestEnv, code: i32, stdout: &str) -> String {
    let out = env
        .cmd()
        .args(["-m", "tiny", "-p", "hi"])
        .assert()
        .code(code)
        .stdout(stdout.to_string())
        .get_output()
        .clone();
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert_eq!(stderr.lines().count(), 1, "one line: {stderr}");
    stderr
}

#[test]
fn flags_alone_reach_a_local_server_with_the_request_anthropic_wants() {
    let env = TestEnv::new(); // no Anthropic variables: the flags alone must do it
    env.cmd()
        .args([
            "--api",
            "anthropic",
            "--base-url",
            &format!("{}/", env.fake.url()),
            "-m",
            "tiny",
            "-s",
            "你是一位專業的老師",
            "-o",
            "temperature=0.3",
            "-o",
            "top_p=0.9",
            "-o",
            "top_k=5",
            "-o",
            "stop=<end>",
            "-o",
            "num_predict=40",
            "-p",
            "hi",
        ])
        .assert()
        .success()
        .stdout("echo: hi")
        .stderr("");
    let requests = env.fake.requests();
    let paths: Vec<&str> = requests.iter().map(|r| r.path.as_str()).collect();
    assert_eq!(paths, ["/v1/messages"]);
    let r = &requests[0];
    assert_eq!(r.header("anthropic-version"), Some("2023-06-01"));
    assert_eq!(r.header("content-type"), Some("application/json"));
    assert_eq!(
        r.header("x-api-key"),
        None,
        "a loopback server needs no key"
    );
    assert_eq!(r.header("authorization"), None);
    assert_eq!(
        env.fake.chat_bodies()[0],
        json!({
            "model": "tiny",
            "max_tokens": 40,
            "system": "你是一位專業的老師",
            "messages": [{"role": "user", "content": "hi"}],
            "stream": true,
            "temperature": 0.3,
            "top_p": 0.9,
            "top_k": 5,
            "stop_sequences": ["<end>"]
        })
    );
    assert_eq!(env.log_records()[0]["host"], env.fake.url());
}

#[test]
fn the_turn_log_has_the_counts_the_stream_reported() {
    let env = anthropic();
    env.fake.push_chat(ChatReply::Script(Script {
        tokens: words("Paris is the capital."),
        prompt_eval_count: Some(31),
        eval_count: Some(5),
        done_reason: Some("length".into()),
        ping: true,
        ..Script::default()
    }));
    env.cmd()
        .args(["-m", "tiny", "-p", "capital of France?"])
        .assert()
        .success()
        .stdout("Paris is the capital.");
    let r = &env.log_records()[0];
    assert_eq!(r["status"], "ok");
    assert_eq!(r["prompt_tokens"], 31);
    assert_eq!(r["completion_tokens"], 5);
    assert_eq!(r["tokens_used"], 36);
    assert_eq!(r["done_reason"], "length", "max_tokens in Ollama's words");
    assert!(r["tokens_per_second"].is_null(), "no generation time given");
}

#[test]
fn settings_without_an_anthropic_equivalent_are_refused_before_sending() {
    let env = anthropic();
    for (args, says) in [
        (
            &["-o", "num_ctx=8192"][..],
            "option num_ctx has no equivalent in the Anthropic Messages API",
        ),
        (&["-o", "seed=1"][..], "--api ollama"),
        (&["--format", "json"][..], "--format has no equivalent"),
        (
            &["--keep-alive", "5m"][..],
            "--keep-alive is an Ollama setting",
        ),
        (
            &["--think=most"][..],
            "--think takes true, false, low, medium, high or max",
        ),
        (
            &["--think=high", "-o", "num_predict=100"][..],
            "must be below max_tokens (num_predict=100)",
        ),
    ] {
        env.cmd()
            .args(args)
            .args(["-m", "tiny", "-p", "hi"])
            .assert()
            .code(2)
            .stdout("")
            .stderr(predicate::str::contains(says));
    }
    assert!(env.fake.requests().is_empty(), "nothing may be sent");
}

#[test]
fn the_key_from_the_environment_is_sent_as_x_api_key_and_never_shown() {
    let env = anthropic();
    env.fake.require_api_key(Some(SECRET));
    env.cmd()
        .env("ANTHROPIC_API_KEY", SECRET)
        .args(["-p", "hi", "-vv"])
        .assert()
        .success()
        .stdout("echo: hi")
        .stderr(predicate::str::contains(SECRET).not());
    let requests = env.fake.requests();
    assert_eq!(requests.len(), 2, "the model list, then the chat");
    for r in requests {
        assert_eq!(r.header("x-api-key"), Some(SECRET));
        assert_eq!(r.header("anthropic-version"), Some("2023-06-01"));
        assert_eq!(r.header("authorization"), None);
    }
    let log = std::fs::read_to_string(env.log_path()).unwrap();
    assert!(!log.contains(SECRET));
}

#[test]
fn the_key_can_come_from_a_dotenv_file_and_a_refused_key_is_exit_5() {
    let env = anthropic();
    env.fake.require_api_key(Some(SECRET));
    std::fs::write(
        env.home.path().join(".env"),
        format!("ANTHROPIC_API_KEY={SECRET}\n"),
    )
    .unwrap();
    env.cmd()
        .args(["-m", "tiny", "-p", "hi"])
        .assert()
        .success()
        .stdout("echo: hi");

    let out = env
        .cmd()
        .env("ANTHROPIC_API_KEY", "sk-ant-wrong-from-env")
        .args(["-m", "tiny", "-p", "hi"])
        .assert()
        .code(5)
        .stdout("")
        .get_output()
        .clone();
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert_eq!(stderr.lines().count(), 1, "one line: {stderr}");
    assert!(stderr.contains("refused the API key (401"), "{stderr}");
    assert!(stderr.contains("check ANTHROPIC_API_KEY"), "{stderr}");
    assert!(!stderr.contains("sk-ant-wrong-from-env"), "{stderr}");
}

#[test]
fn a_server_that_wants_a_key_says_which_and_a_remote_one_needs_it_up_front() {
    let env = anthropic();
    env.fake.require_api_key(Some(SECRET));
    let stderr = fails(&env, 5, "");
    assert!(stderr.contains("wants an API key"), "{stderr}");
    assert!(stderr.contains("set ANTHROPIC_API_KEY"), "{stderr}");

    let env = TestEnv::new();
    env.cmd()
        .args(["--api", "anthropic", "-p", "hi"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains(
            "no API key for https://api.anthropic.com: set ANTHROPIC_API_KEY",
        ));
    assert!(env.fake.requests().is_empty());
}

#[test]
fn rate_limits_overload_and_server_errors_are_one_line_and_exit_1() {
    let env = anthropic();
    env.fake.push_chat(ChatReply::HttpErrorHeaders {
        status: 429,
        message: "Number of requests has exceeded your rate limit".into(),
        headers: vec![("Retry-After".into(), "7".into())],
    });
    let stderr = fails(&env, 1, "");
    assert!(
        stderr.contains("rate-limiting requests (429: Number of requests has exceeded your rate limit); try again in 7 s"),
        "{stderr}"
    );
    assert_eq!(env.log_records()[0]["status"], "error");

    env.fake.push_chat(ChatReply::HttpError {
        status: 529,
        message: "Overloaded".into(),
    });
    let stderr = fails(&env, 1, "");
    assert!(
        stderr.contains("the server is overloaded (529: Overloaded) — try again in a moment"),
        "{stderr}"
    );

    env.fake.push_chat(ChatReply::HttpError {
        status: 500,
        message: "Internal server error".into(),
    });
    let stderr = fails(&env, 1, "");
    assert!(
        stderr.contains("the server answered 500: Internal server error"),
        "{stderr}"
    );
}

#[test]
fn an_overloaded_error_mid_stream_keeps_the_partial_reply() {
    let env = anthropic();
    env.fake.push_chat(ChatReply::Script(Script {
        tokens: words("half an"),
        end: End::Error("Overloaded".into()),
        ..Script::default()
    }));
    let stderr = fails(&env, 1, "half an");
    assert!(
        stderr.contains("reported an error during the reply: Overloaded (overloaded_error)"),
        "{stderr}"
    );
    let r = &env.log_records()[0];
    assert_eq!(r["status"], "error");
    assert_eq!(r["model_response"], "half an");
}

#[test]
fn a_stream_cut_before_message_stop_is_an_error() {
    let env = anthropic();
    let sse = concat!(
        "event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"id\":\"msg_1\",\"type\":\"message\",\"role\":\"assistant\",\"model\":\"tiny\",\"content\":[],\"usage\":{\"input_tokens\":8,\"output_tokens\":0}}}\n\n",
        "event: content_block_start\ndata: {\"type\":\"content_block_start\",\"index\":0,\"content_block\":{\"type\":\"text\",\"text\":\"\"}}\n\n",
        "event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_delta\",\"text\":\"half\"}}\n\n",
    );
    let raw = format!(
        "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{sse}",
        sse.len()
    );
    env.fake.push_chat(ChatReply::Raw(raw.into_bytes()));
    let stderr = fails(&env, 1, "half");
    assert!(
        stderr.contains("the reply ended before the server sent its final chunk"),
        "{stderr}"
    );
    assert_eq!(env.log_records()[0]["status"], "error");
}

#[test]
fn a_base_url_with_v1_is_pointed_out() {
    let env = anthropic();
    let base = format!("{}/v1", env.fake.url());
    let out = env
        .cmd()
        .env("ANTHROPIC_BASE_URL", &base)
        .args(["-m", "tiny", "-p", "hi"])
        .assert()
        .code(1)
        .get_output()
        .clone();
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(stderr.contains("answered 404"), "{stderr}");
    assert!(stderr.contains("without /v1"), "{stderr}");
}

#[test]
fn a_session_is_saved_and_resumed_with_the_system_prompt_top_level() {
    let env = anthropic();
    env.cmd()
        .args([
            "-m",
            "tiny",
            "-s",
            "sys",
            "--session",
            "work",
            "-p",
            "hello",
        ])
        .assert()
        .success()
        .stdout("echo: hello");
    env.cmd()
        .args(["--session", "work", "-p", "again"])
        .assert()
        .success()
        .stdout("echo: again");
    let bodies = env.fake.chat_bodies();
    assert_eq!(bodies[1]["system"], "sys");
    assert_eq!(bodies[1]["model"], "tiny");
    assert_eq!(
        bodies[1]["messages"],
        json!([
            {"role": "user", "content": "hello"},
            {"role": "assistant", "content": "echo: hello"},
            {"role": "user", "content": "again"}
        ])
    );
    assert_eq!(
        messages(&bodies[1])[0],
        ("system".to_string(), "sys".to_string())
    );
    // The turn log knows it is one session.
    let log = env.log_records();
    assert_eq!(log[1]["session_id"], log[0]["session_id"]);
}

#[test]
fn thinking_arrives_as_signed_blocks_and_is_logged_not_printed() {
    let env = anthropic();
    env.fake.set_models(&["tiny-think"]);
    env.fake.push_chat(ChatReply::Script(Script {
        thinking: words("weighing 老師 options"),
        tokens: words("Blue."),
        split_every: Some(3),
        delay: Duration::from_millis(1),
        ..Script::default()
    }));
    env.cmd()
        .args(["--think=low", "-o", "num_predict=2048", "-p", "colour?"])
        .assert()
        .success()
        .stdout("Blue.");
    let body = &env.fake.chat_bodies()[0];
    assert_eq!(
        body["thinking"],
        json!({"type": "enabled", "budget_tokens": 1024})
    );
    assert_eq!(body["max_tokens"], 2048);
    assert_eq!(env.log_records()[0]["thinking"], "weighing 老師 options");
    assert_eq!(
        pairs(&[("user", "colour?")]),
        messages(body),
        "no system prompt: no system field"
    );
    assert!(body.get("system").is_none());
}
