//! One-shot mode as scripts use it: `-p`, piped stdin, flags, and exactly the reply on stdout.

use predicates::prelude::*;
use serde_json::json;

use crate::harness::{messages, words, Api, TestEnv};
use crate::support::fake_ollama::{ChatReply, Script};

every_api!(
    prompt_flag_prints_only_the_reply,
    piped_stdin_is_the_question,
    prompt_and_stdin_are_sent_as_one_message,
    empty_input_is_a_usage_error,
    bad_option_values_are_refused_before_sending,
    model_from_the_environment_variable,
    several_installed_models_need_a_choice,
    no_installed_model_is_exit_4,
    chinese_split_inside_characters_arrives_intact,
    thinking_never_reaches_stdout,
    pipes_get_the_reply_byte_for_byte,
);

fn prompt_flag_prints_only_the_reply(api: Api) {
    let env = TestEnv::with(api);
    env.cmd()
        .args(["-p", "hello there"])
        .assert()
        .success()
        .stdout("echo: hello there")
        .stderr("");
    let bodies = env.fake.chat_bodies();
    assert_eq!(bodies.len(), 1);
    assert_eq!(bodies[0]["stream"], true);
    assert_eq!(bodies[0]["model"], "tiny:latest");
    assert_eq!(
        messages(&bodies[0]),
        vec![("user".to_string(), "hello there".to_string())]
    );
    let paths: Vec<String> = env.fake.requests().iter().map(|r| r.path.clone()).collect();
    match api {
        // Besides the chat, only Ollama's read-only calls: the model list (no -m) and the
        // context window (/api/show before, /api/ps after).
        Api::Ollama => {
            let chat: Vec<&String> = paths.iter().filter(|p| *p == "/api/chat").collect();
            assert_eq!(chat.len(), 1, "{paths:?}");
            assert!(
                paths
                    .iter()
                    .all(|p| ["/api/tags", "/api/chat", "/api/show", "/api/ps"]
                        .contains(&p.as_str())),
                "{paths:?}"
            );
        }
        Api::OpenAi => {
            assert_eq!(paths.last().unwrap(), "/v1/chat/completions");
            assert!(paths.iter().all(|p| p.starts_with("/v1/")), "{paths:?}");
            assert_eq!(bodies[0]["stream_options"], json!({"include_usage": true}));
        }
        Api::Anthropic => {
            assert_eq!(paths.last().unwrap(), "/v1/messages");
            assert!(paths.iter().all(|p| p.starts_with("/v1/")), "{paths:?}");
            assert_eq!(bodies[0]["max_tokens"], 4096);
        }
    }
}

fn piped_stdin_is_the_question(api: Api) {
    let env = TestEnv::with(api);
    env.cmd()
        .write_stdin("法國的首都是哪裡？\n")
        .assert()
        .success()
        .stdout("echo: 法國的首都是哪裡？");
}

fn prompt_and_stdin_are_sent_as_one_message(api: Api) {
    let env = TestEnv::with(api);
    env.cmd()
        .args(["-p", "summarise this"])
        .write_stdin("line one\nline two\n")
        .assert()
        .success();
    let body = &env.fake.chat_bodies()[0];
    assert_eq!(
        messages(body),
        vec![(
            "user".to_string(),
            "summarise this\n\nline one\nline two".to_string()
        )]
    );
}

fn empty_input_is_a_usage_error(api: Api) {
    let env = TestEnv::with(api);
    env.cmd()
        .write_stdin("\n")
        .assert()
        .code(2)
        .stdout("")
        .stderr(predicate::str::contains("nothing to send"));
    assert!(env.fake.chat_bodies().is_empty());
}

#[test]
fn system_prompt_and_typed_options_reach_the_request() {
    let env = TestEnv::new();
    env.cmd()
        .args([
            "-m",
            "tiny",
            "--system",
            "你是一位專業的老師",
            "-o",
            "temperature=0.3",
            "-o",
            "num_ctx=4096",
            "-o",
            "stop=<end>",
            "--option",
            "stop=User:",
            "-o",
            "use_mmap=true",
            "-p",
            "hi",
        ])
        .assert()
        .success();
    let body = &env.fake.chat_bodies()[0];
    assert_eq!(body["model"], "tiny");
    assert_eq!(
        body["options"],
        json!({"num_ctx": 4096, "stop": ["<end>", "User:"], "temperature": 0.3, "use_mmap": true})
    );
    assert_eq!(
        messages(body),
        vec![
            ("system".to_string(), "你是一位專業的老師".to_string()),
            ("user".to_string(), "hi".to_string())
        ]
    );
}

fn bad_option_values_are_refused_before_sending(api: Api) {
    let env = TestEnv::with(api);
    env.cmd()
        .args(["-o", "num_predict=ten", "-p", "hi"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains(
            "option num_predict takes a whole number",
        ));
    env.cmd()
        .args(["-o", "temprature=1", "-p", "hi"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("did you mean \"temperature\""));
    assert!(env.fake.requests().is_empty());
}

fn model_from_the_environment_variable(api: Api) {
    let env = TestEnv::with(api);
    env.fake.set_models(&["tiny", "tiny2"]);
    env.cmd()
        .env("OLLAMA_CHAT_MODEL", "tiny2")
        .args(["-p", "hi"])
        .assert()
        .success();
    assert_eq!(env.fake.chat_bodies()[0]["model"], "tiny2");
}

fn several_installed_models_need_a_choice(api: Api) {
    let env = TestEnv::with(api);
    env.fake.set_models(&["tiny", "tiny2", "tiny-think"]);
    env.cmd()
        .args(["-p", "hi"])
        .assert()
        .code(2)
        .stdout("")
        .stderr(predicate::str::contains(
            "tiny-think:latest, tiny2:latest, tiny:latest",
        ))
        .stderr(predicate::str::contains("--model"));
}

fn no_installed_model_is_exit_4(api: Api) {
    let env = TestEnv::with(api);
    env.fake.set_models(&[]);
    let hint = match api {
        Api::Ollama => "ollama pull",
        Api::OpenAi | Api::Anthropic => "lists no models; name one with --model",
    };
    env.cmd()
        .args(["-p", "hi"])
        .assert()
        .code(4)
        .stderr(predicate::str::contains(hint));
}

#[test]
fn host_flag_and_ollama_host_forms() {
    let env = TestEnv::new();
    let port = env.fake.host_port().rsplit(':').next().unwrap().to_string();
    for host in [
        env.fake.host_port(),
        format!(":{port}"),
        format!("http://127.0.0.1:{port}/"),
        format!("\"127.0.0.1:{port}\""),
    ] {
        env.cmd()
            .env("OLLAMA_HOST", &host)
            .args(["-p", "hi"])
            .assert()
            .success()
            .stdout("echo: hi");
    }
    env.cmd()
        .env("OLLAMA_HOST", "127.0.0.1:1")
        .args(["--host", &env.fake.host_port(), "-p", "hi"])
        .assert()
        .success();
}

#[test]
fn api_key_is_sent_as_bearer_and_never_logged() {
    let env = TestEnv::new();
    let secret = "sk-very-secret-0123456789";
    env.cmd()
        .env("OLLAMA_API_KEY", secret)
        .args(["-p", "hi", "-vv"])
        .assert()
        .success()
        .stderr(predicate::str::contains(secret).not());
    let chat = env
        .fake
        .requests()
        .into_iter()
        .find(|r| r.path == "/api/chat")
        .unwrap();
    assert_eq!(
        chat.header("authorization"),
        Some(format!("Bearer {secret}").as_str())
    );
    let log = std::fs::read_to_string(env.log_path()).unwrap();
    assert!(!log.contains(secret));
}

fn chinese_split_inside_characters_arrives_intact(api: Api) {
    let env = TestEnv::with(api);
    let text = "老師說：「學而時習之，不亦說乎？」😀 done";
    env.fake.push_chat(ChatReply::Script(Script {
        tokens: words(text),
        split_every: Some(1),
        ..Default::default()
    }));
    env.cmd().args(["-p", "hi"]).assert().success().stdout(text);
    let rec = &env.log_records()[0];
    assert_eq!(rec["model_response"], text);
}

fn thinking_never_reaches_stdout(api: Api) {
    let env = TestEnv::with(api);
    env.fake.set_models(&["tiny-think"]);
    env.fake.push_chat(ChatReply::Thinking {
        thinking: words("<look> let me think"),
        content: words("The sky is blue."),
    });
    env.cmd()
        .args([env.think_flag(), "-p", "why?"])
        .assert()
        .success()
        .stdout("The sky is blue.");
    let body = &env.fake.chat_bodies()[0];
    match api {
        Api::Ollama => assert_eq!(body["think"], true),
        Api::OpenAi => assert_eq!(body["reasoning_effort"], "high"),
        Api::Anthropic => assert_eq!(
            body["thinking"],
            json!({"type": "enabled", "budget_tokens": 4096})
        ),
    }
    assert_eq!(env.log_records()[0]["thinking"], "<look> let me think");
}

fn pipes_get_the_reply_byte_for_byte(api: Api) {
    let env = TestEnv::with(api);
    let raw = "a\u{1b}[31mred\u{1b}[0m\r\n\u{7}b";
    env.fake.push_chat(ChatReply::Tokens(vec![raw.to_string()]));
    env.cmd().args(["-p", "hi"]).assert().success().stdout(raw);
}

#[test]
fn format_think_and_keep_alive_flags() {
    let env = TestEnv::new();
    env.cmd()
        .args(["--format", "json", "--keep-alive", "10m", "-p", "hi"])
        .assert()
        .success();
    let body = &env.fake.chat_bodies()[0];
    assert_eq!(body["format"], "json");
    assert_eq!(body["keep_alive"], "10m");
    assert!(body.get("think").is_none());
}
