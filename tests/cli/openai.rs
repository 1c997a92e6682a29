//! What only the OpenAI-compatible backend has: `--api`/`--base-url`, the key (environment, `.env`,
//! never shown), option mapping and refusals, and its HTTP errors (401, 404, 429).

use predicates::prelude::*;
use serde_json::json;

use crate::harness::{Api, TestEnv};
use crate::support::fake_ollama::ChatReply;

const SECRET: &str = "sk-test-very-secret-0123456789";

fn openai() -> TestEnv {
    TestEnv::with(Api::OpenAi)
}

#[test]
fn flags_choose_the_api_and_the_base_url() {
    let env = TestEnv::new(); // no OpenAI variables: the flags alone must do it
    let base = format!("{}/v1/", env.fake.url());
    env.cmd()
        .args(["--api", "openai", "--base-url", &base, "-p", "hi"])
        .assert()
        .success()
        .stdout("echo: hi");
    let paths: Vec<String> = env.fake.requests().into_iter().map(|r| r.path).collect();
    assert_eq!(paths, vec!["/v1/models", "/v1/chat/completions"]);
    assert_eq!(
        env.log_records()[0]["host"],
        format!("{}/v1", env.fake.url())
    );
}

#[test]
fn options_are_sent_under_their_openai_names() {
    let env = openai();
    env.cmd()
        .args([
            "-m",
            "tiny",
            "-s",
            "你是一位專業的老師",
            "-o",
            "temperature=0.3",
            "-o",
            "top_p=0.9",
            "-o",
            "num_predict=40",
            "-o",
            "seed=42",
            "-o",
            "stop=<end>",
            "-o",
            "presence_penalty=0.5",
            "-o",
            "frequency_penalty=0.25",
            "--format",
            "json",
            "-p",
            "hi",
        ])
        .assert()
        .success();
    let body = &env.fake.chat_bodies()[0];
    assert_eq!(
        body,
        &json!({
            "model": "tiny",
            "messages": [
                {"role": "system", "content": "你是一位專業的老師"},
                {"role": "user", "content": "hi"}
            ],
            "stream": true,
            "stream_options": {"include_usage": true},
            "temperature": 0.3,
            "top_p": 0.9,
            "max_tokens": 40,
            "seed": 42,
            "stop": ["<end>"],
            "presence_penalty": 0.5,
            "frequency_penalty": 0.25,
            "response_format": {"type": "json_object"}
        })
    );
    assert_eq!(
        env.log_records()[0]["options"]["num_predict"],
        40,
        "the log keeps the options as the user gave them"
    );
}

#[test]
fn settings_without_an_openai_equivalent_are_refused_before_sending() {
    let env = openai();
    env.cmd()
        .args(["-o", "num_ctx=8192", "-o", "top_k=20", "-p", "hi"])
        .assert()
        .code(2)
        .stdout("")
        .stderr(predicate::str::contains(
            "options num_ctx, top_k have no equivalent in the OpenAI chat API",
        ))
        .stderr(predicate::str::contains("--api ollama"));
    env.cmd()
        .args(["--keep-alive", "5m", "-p", "hi"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains(
            "--keep-alive is an Ollama setting",
        ));
    env.cmd()
        .args(["--think", "-p", "hi"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("low, medium, high"));
    assert!(env.fake.requests().is_empty(), "nothing may be sent");
}

#[test]
fn the_key_from_the_environment_is_sent_and_never_shown() {
    let env = openai();
    env.fake.require_api_key(Some(SECRET));
    env.cmd()
        .env("OPENAI_API_KEY", SECRET)
        .args(["-p", "hi", "-vv"])
        .assert()
        .success()
        .stdout("echo: hi")
        .stderr(predicate::str::contains(SECRET).not());
    for r in env.fake.requests() {
        assert_eq!(
            r.header("authorization"),
            Some(format!("Bearer {SECRET}").as_str())
        );
    }
    let log = std::fs::read_to_string(env.log_path()).unwrap();
    assert!(!log.contains(SECRET));
}

#[test]
fn the_key_can_come_from_a_dotenv_file_and_the_environment_wins() {
    let env = openai();
    env.fake.require_api_key(Some(SECRET));
    std::fs::write(
        env.home.path().join(".env"),
        format!("# for the chat\nexport OPENAI_API_KEY=\"{SECRET}\"  # the test key\nnot a line\n"),
    )
    .unwrap();
    env.cmd()
        .args(["-p", "hi"])
        .assert()
        .success()
        .stdout("echo: hi")
        .stderr(predicate::str::contains(".env line 3: expected KEY=VALUE"))
        .stderr(predicate::str::contains(SECRET).not());

    let out = env
        .cmd()
        .env("OPENAI_API_KEY", "sk-wrong-from-env")
        .args(["-p", "hi"])
        .assert()
        .code(5)
        .stdout("")
        .get_output()
        .clone();
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(stderr.contains("refused the API key"), "{stderr}");
    assert!(stderr.contains("OPENAI_API_KEY"), "{stderr}");
    assert!(
        !stderr.contains("sk-wrong-from-env"),
        "the key is echoed: {stderr}"
    );
}

#[test]
fn a_missing_key_for_a_remote_server_is_a_usage_error() {
    let env = TestEnv::new();
    env.cmd()
        .args(["--api", "openai", "-p", "hi"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains(
            "no API key for https://api.openai.com/v1: set OPENAI_API_KEY",
        ));
    env.cmd()
        .env("OLLAMA_CHAT_API", "openai")
        .args(["--base-url", "http://10.1.2.3:8000/v1", "-p", "hi"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains(
            "no API key for http://10.1.2.3:8000/v1",
        ));
    assert!(env.fake.requests().is_empty());
}

#[test]
fn a_server_that_wants_a_key_says_so() {
    let env = openai();
    env.fake.require_api_key(Some(SECRET));
    env.cmd()
        .args(["-m", "tiny", "-p", "hi"])
        .assert()
        .code(5)
        .stderr(predicate::str::contains("wants an API key"))
        .stderr(predicate::str::contains("set OPENAI_API_KEY"));
}

#[test]
fn rate_limits_show_when_to_retry() {
    let env = openai();
    env.fake.push_chat(ChatReply::HttpErrorHeaders {
        status: 429,
        message: "Rate limit reached for requests".into(),
        headers: vec![("Retry-After".into(), "7".into())],
    });
    env.cmd()
        .args(["-m", "tiny", "-p", "hi"])
        .assert()
        .code(1)
        .stderr(predicate::str::contains(
            "rate-limiting requests (429: Rate limit reached for requests); try again in 7 s",
        ));
    assert_eq!(env.log_records()[0]["status"], "error");
}

#[test]
fn a_base_url_without_v1_is_pointed_out() {
    let env = TestEnv::new();
    env.cmd()
        .args([
            "--api",
            "openai",
            "--base-url",
            &env.fake.url(),
            "-m",
            "tiny",
            "-p",
            "hi",
        ])
        .assert()
        .code(1)
        .stderr(predicate::str::contains("answered 404"))
        .stderr(predicate::str::contains("usually ends in /v1"));
}

#[test]
fn server_errors_in_openai_shape_are_reported() {
    let env = openai();
    env.fake.push_chat(ChatReply::HttpError {
        status: 503,
        message: "the model is loading".into(),
    });
    env.cmd()
        .args(["-m", "tiny", "-p", "hi"])
        .assert()
        .code(1)
        .stderr(predicate::str::contains(
            "the server answered 503: the model is loading",
        ));
}

#[test]
fn a_stream_without_usage_logs_unknown_counts() {
    let env = openai();
    let sse = "data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"hello\"},\"finish_reason\":null}]}\n\ndata: {\"choices\":[{\"index\":0,\"delta\":{},\"finish_reason\":\"stop\"}]}\n\ndata: [DONE]\n\n";
    let raw = format!(
        "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{sse}",
        sse.len()
    );
    env.fake.push_chat(ChatReply::Raw(raw.into_bytes()));
    env.cmd()
        .args(["-m", "tiny", "-p", "hi"])
        .assert()
        .success()
        .stdout("hello");
    let r = &env.log_records()[0];
    assert_eq!(r["status"], "ok");
    assert_eq!(r["done_reason"], "stop");
    assert!(r["prompt_tokens"].is_null());
    assert!(r["tokens_used"].is_null());
}

#[test]
fn a_stream_that_ends_before_finishing_is_an_error() {
    // What Ollama's /v1 does when the model fails mid-reply: the stream just ends.
    let env = openai();
    let sse = "data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"half\"},\"finish_reason\":null}]}\n\n";
    let raw = format!(
        "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{sse}",
        sse.len()
    );
    env.fake.push_chat(ChatReply::Raw(raw.into_bytes()));
    env.cmd()
        .args(["-m", "tiny", "-p", "hi"])
        .assert()
        .code(1)
        .stdout("half")
        .stderr(predicate::str::contains(
            "the reply ended before the server sent its final chunk",
        ));
}

#[test]
fn api_flags_that_do_not_fit_are_usage_errors() {
    let env = TestEnv::new();
    env.cmd()
        .args(["--api", "openai", "--host", "127.0.0.1:1", "-p", "hi"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("--base-url"));
    env.cmd()
        .args(["--base-url", "http://127.0.0.1:1/v1", "-p", "hi"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("--base-url is for --api openai"));
    env.cmd()
        .env("OLLAMA_CHAT_API", "gemini")
        .args(["-p", "hi"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("OLLAMA_CHAT_API must be"));
    env.cmd()
        .args(["--api", "openai", "--base-url", "ftp://x/v1", "-p", "hi"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("http:// or https://"));
    assert!(env.fake.requests().is_empty());
}

#[test]
fn a_dotenv_file_cannot_choose_the_server() {
    // A .env in someone else's folder must not redirect the key; only the key is read from it.
    let env = TestEnv::new();
    std::fs::write(
        env.home.path().join(".env"),
        format!("OPENAI_BASE_URL={}/v1\n", env.fake.url()),
    )
    .unwrap();
    env.cmd()
        .args(["--api", "openai", "-p", "hi"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains(
            "no API key for https://api.openai.com/v1",
        ));
    assert!(env.fake.requests().is_empty());
}
