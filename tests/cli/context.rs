//! The context window end to end: the real binary against a fake server that counts tokens and
//! cuts prompts like Ollama. Truncate, summarize and fail as a user meets them in the REPL; the
//! warning when the server cut a prompt anyway; a prompt too large for any window.

use predicates::prelude::*;
use rexpect::session::PtySession;

use crate::harness::{messages, words, Api, TestEnv};
use crate::pty::{enter, exit_with_ctrl_d as bye, l, start, PROMPT};
use crate::support::fake_ollama::ChatReply;

const SYSTEM: &str = "Be brief."; // 7 tokens in the fake's count

fn ask(p: &mut PtySession, line: &str, expect: &str) {
    enter(p, line);
    p.exp_string(&l(expect)).unwrap();
    p.exp_string(&l(PROMPT)).unwrap();
}

/// A 600-character message: 154 tokens in the fake's count. With `num_ctx=512` (128 kept for
/// the reply) two such exchanges fit and a third message does not.
fn long(tag: &str) -> String {
    format!("{tag} {}", "x".repeat(599 - tag.len()))
}

fn replies(env: &TestEnv, n: usize) {
    for _ in 0..n {
        env.fake.push_chat(ChatReply::Tokens(vec!["ok.".into()]));
    }
}

fn roles_and_heads(body: &serde_json::Value) -> Vec<(String, String)> {
    messages(body)
        .into_iter()
        .map(|(r, c)| (r, c.chars().take(12).collect()))
        .collect()
}

fn pairs(spec: &[(&str, &str)]) -> Vec<(String, String)> {
    spec.iter()
        .map(|(r, c)| (r.to_string(), c.chars().take(12).collect()))
        .collect()
}

#[test]
fn truncate_drops_the_oldest_exchange_tells_the_user_and_logs_it() {
    let env = TestEnv::new();
    replies(&env, 3);
    let mut p = start(&env, &["-s", SYSTEM, "-o", "num_ctx=512"]);
    ask(&mut p, &long("one"), "ok.");
    ask(&mut p, &long("two"), "ok.");
    enter(&mut p, &long("three"));
    p.exp_string(&l(
        "context: dropped the oldest 1 exchange (2 messages, 159 tokens) to fit the 512-token window",
    ))
    .unwrap();
    p.exp_string("ok.").unwrap();
    p.exp_string(&l(PROMPT)).unwrap();
    enter(&mut p, "/context");
    p.exp_string("Context: 325 / 512 tokens").unwrap();
    p.exp_string("window from your num_ctx option").unwrap();
    p.exp_string("not sent        2 earlier messages (2 dropped, 0 summarised")
        .unwrap();
    p.exp_string(&l(PROMPT)).unwrap();
    bye(p);

    let bodies = env.fake.chat_bodies();
    assert_eq!(bodies.len(), 3);
    assert_eq!(
        roles_and_heads(&bodies[2]),
        pairs(&[
            ("system", SYSTEM),
            ("user", &long("two")),
            ("assistant", "ok."),
            ("user", &long("three")),
        ])
    );
    assert_eq!(env.fake.truncations(), 0, "the server never had to cut");
    let log = env.log_records();
    assert_eq!(log.len(), 3);
    assert!(log[0]["context_action"].is_null());
    assert_eq!(log[0]["context_window"], 512);
    assert_eq!(log[0]["context_window_source"], "num_ctx");
    assert_eq!(log[0]["context_tokens"], 161);
    assert_eq!(log[0]["call"], "chat");
    let action = &log[2]["context_action"];
    assert_eq!(action["strategy"], "truncate");
    assert_eq!(action["messages"], 2);
    assert_eq!(action["exchanges"], 1);
    assert_eq!(action["tokens"], 159, "exact: Ollama counted these before");
    assert_eq!(action["tokens_after"], log[2]["context_tokens"]);
    // The new message is estimated (calibrated on the first turns): within a token or two.
    assert_eq!(log[2]["prompt_tokens"], 320);
    let counted = log[2]["context_tokens"].as_i64().unwrap();
    assert!((counted - 320).abs() <= 2, "client counted {counted}");

    // The session records the drop (before the message it made room for) and keeps the dropped
    // exchange; resuming it sends exactly the shortened history.
    let events = session_events(&env);
    let kinds: Vec<&str> = events.iter().map(|e| e["kind"].as_str().unwrap()).collect();
    assert_eq!(
        kinds,
        [
            "session",
            "user",
            "assistant",
            "user",
            "assistant",
            "context",
            "user",
            "assistant"
        ]
    );
    assert_eq!(events[5]["dropped"], serde_json::json!([1, 2]));
    assert!(events[5].get("summary").is_none());
    assert_eq!(events[1]["content"], long("one"));
    resume_sends(
        &env,
        &[
            ("system", SYSTEM),
            ("user", &long("two")),
            ("assistant", "ok."),
            ("user", &long("three")),
            ("assistant", "ok."),
        ],
    );
}

/// The records of the one session file the run wrote.
fn session_events(env: &TestEnv) -> Vec<serde_json::Value> {
    let files = crate::sessions::session_files(env);
    assert_eq!(files.len(), 1, "{files:?}");
    crate::harness::read_jsonl(&files[0])
}

/// `--continue` with one more message sends `history` and then that message.
fn resume_sends(env: &TestEnv, history: &[(&str, &str)]) {
    env.cmd()
        .args(["--continue", "-p", "again"])
        .assert()
        .success();
    let bodies = env.fake.chat_bodies();
    let mut expected = pairs(history);
    expected.extend(pairs(&[("user", "again")]));
    assert_eq!(roles_and_heads(bodies.last().unwrap()), expected);
}

#[test]
fn fail_refuses_to_send_and_set_context_switches_strategy() {
    let env = TestEnv::new();
    replies(&env, 3);
    let mut p = start(
        &env,
        &[
            "-s",
            SYSTEM,
            "-o",
            "num_ctx=512",
            "--context-strategy",
            "fail",
        ],
    );
    ask(&mut p, &long("one"), "ok.");
    ask(&mut p, &long("two"), "ok.");
    enter(&mut p, &long("three"));
    p.exp_string("no longer fits the 512-token context window")
        .unwrap();
    p.exp_string("/clear to start over").unwrap();
    p.exp_string("Your message is back at the prompt").unwrap();
    p.exp_string(&l(PROMPT)).unwrap();
    assert_eq!(env.fake.chat_bodies().len(), 2, "nothing was sent");

    p.send_control('u').unwrap();
    ask(
        &mut p,
        "/set context truncate",
        "Set context strategy to 'truncate'.",
    );
    enter(&mut p, &long("three"));
    p.exp_string("context: dropped the oldest 1 exchange")
        .unwrap();
    p.exp_string(&l(PROMPT)).unwrap();
    bye(p);
    let bodies = env.fake.chat_bodies();
    assert_eq!(bodies.len(), 3);
    assert_eq!(messages(&bodies[2]).len(), 4);
}

#[test]
fn summarize_asks_the_model_then_sends_the_note_with_the_recent_history() {
    let env = TestEnv::new();
    replies(&env, 2);
    env.fake.push_chat(ChatReply::Tokens(words(
        "The user sent two long messages named one and two; 小明 is their name.",
    )));
    replies(&env, 1);
    let mut p = start(
        &env,
        &[
            "-s",
            SYSTEM,
            "-o",
            "num_ctx=512",
            "--context-strategy",
            "summarize",
        ],
    );
    ask(&mut p, &long("one"), "ok.");
    ask(&mut p, &long("two"), "ok.");
    enter(&mut p, &long("three"));
    p.exp_string("asking tiny:latest to summarise its oldest part")
        .unwrap();
    p.exp_string("context: summarised the oldest 2 exchanges (4 messages, 318 tokens)")
        .unwrap();
    p.exp_string(&l("小明 is their name.")).unwrap();
    p.exp_string("ok.").unwrap();
    p.exp_string(&l(PROMPT)).unwrap();
    bye(p);

    let bodies = env.fake.chat_bodies();
    assert_eq!(bodies.len(), 4);
    // The summarise request: the old exchanges as a transcript, a short reply asked for.
    let ask_body = &bodies[2];
    let summarise = messages(ask_body);
    assert_eq!(summarise.len(), 2);
    assert!(summarise[1]
        .1
        .starts_with("Summarise the conversation below"));
    assert!(summarise[1].1.contains(&format!("User: {}", long("one"))));
    assert!(summarise[1].1.contains("Assistant: ok."));
    assert!(!summarise[1].1.contains("three"));
    assert_eq!(ask_body["options"]["num_predict"], 64);
    // Then the shortened history: system prompt, the note, the new message.
    let sent = messages(&bodies[3]);
    assert_eq!(sent.len(), 3);
    assert_eq!(sent[0], ("system".into(), SYSTEM.into()));
    assert_eq!(sent[1].0, "system");
    assert!(sent[1]
        .1
        .starts_with("Summary of the earlier part of this conversation:\n"));
    assert!(sent[1].1.ends_with("小明 is their name."));
    assert_eq!(sent[2].1, long("three"));

    let log = env.log_records();
    assert_eq!(log.len(), 4);
    assert_eq!(log[2]["call"], "summarize");
    assert_eq!(log[2]["turn"], 3);
    assert!(log[2]["user_input"]
        .as_str()
        .unwrap()
        .starts_with("Summarise the conversation below"));
    assert_eq!(log[3]["call"], "chat");
    assert_eq!(log[3]["turn"], 3);
    let action = &log[3]["context_action"];
    assert_eq!(action["strategy"], "summarize");
    assert_eq!(action["messages"], 4);
    assert!(action["summary"].as_str().unwrap().contains("小明"));

    // The session keeps the summarised messages and records the summary in their place.
    let events = session_events(&env);
    let context: Vec<&serde_json::Value> =
        events.iter().filter(|e| e["kind"] == "context").collect();
    assert_eq!(context.len(), 1);
    assert_eq!(context[0]["dropped"], serde_json::json!([1, 2, 3, 4]));
    assert!(context[0]["summary"]
        .as_str()
        .unwrap()
        .ends_with("小明 is their name."));
    assert_eq!(
        events.iter().filter(|e| e["kind"] == "user").count(),
        3,
        "the summarize call is not a turn of the session"
    );
    resume_sends(
        &env,
        &[
            ("system", SYSTEM),
            (
                "system",
                "Summary of the earlier part of this conversation:",
            ),
            ("user", &long("three")),
            ("assistant", "ok."),
        ],
    );
}

#[test]
fn a_server_that_cuts_the_prompt_anyway_is_noticed_and_its_window_learned() {
    let env = TestEnv::new();
    env.fake.set_num_ctx_cap(Some(512));
    // A scripted reply skips the fake's checks: an older server that ignores `truncate: false`.
    env.fake.push_chat(ChatReply::Tokens(words("ok")));
    let prompt = "word ".repeat(800); // 1004 tokens: fits the 4096 asked for, not the 512 given
    env.cmd()
        .args(["-o", "num_ctx=4096", "-p", &prompt])
        .assert()
        .success()
        .stderr(predicate::str::contains(
            "warning: Ollama evaluated only 259 prompt tokens of about 1004 sent",
        ))
        .stderr(predicate::str::contains(
            "Ollama reports a 512-token window for tiny:latest (GET /api/ps), used from now on",
        ));
    assert_eq!(env.fake.truncations(), 1);
    let log = env.log_records();
    assert_eq!(log[0]["context_server_truncated"], true);
    assert_eq!(log[0]["context_window"], 4096);
    assert_eq!(log[0]["prompt_tokens"], 259);
}

#[test]
fn a_window_smaller_than_the_model_default_is_learned_after_the_first_reply() {
    let env = TestEnv::new();
    env.fake.set_num_ctx_cap(Some(1024)); // the Modelfile says 2048, the server gives 1024
                                          // Without the preload, which would have learned it before the first message.
    let mut p = start(&env, &["--no-preload"]);
    enter(&mut p, "/context");
    p.exp_string("/ 2048 tokens").unwrap();
    p.exp_string("window from the model's num_ctx parameter (POST /api/show)")
        .unwrap();
    p.exp_string("model maximum   32768 tokens").unwrap();
    p.exp_string(&l(PROMPT)).unwrap();
    ask(&mut p, "你好，世界", "echo:");
    enter(&mut p, "/context");
    p.exp_string("/ 1024 tokens").unwrap();
    p.exp_string("window from the loaded model (GET /api/ps)")
        .unwrap();
    p.exp_string("2 of 2 counted by the server").unwrap();
    p.exp_string(&l(PROMPT)).unwrap();
    bye(p);
}

#[test]
fn a_prompt_larger_than_the_window_is_refused_unless_allowed() {
    let env = TestEnv::new();
    let prompt = "word ".repeat(1600); // 2004 tokens; the window is 2048 with 512 kept for the reply
    env.cmd()
        .args(["-p", &prompt])
        .assert()
        .code(2)
        .stdout("")
        .stderr(predicate::str::contains(
            "this message needs about 2004 tokens (with the system prompt) but the context window is 2048 tokens",
        ))
        .stderr(predicate::str::contains("--allow-overflow"));
    assert!(
        env.fake.chat_bodies().is_empty(),
        "nothing may be sent when refusing"
    );

    env.cmd()
        .args(["--allow-overflow", "-p", &prompt])
        .assert()
        .success()
        .stderr(predicate::str::contains(
            "sending it anyway (--allow-overflow)",
        ))
        .stderr(predicate::str::contains("evaluated only").not());
    assert_eq!(env.fake.chat_bodies().len(), 1);
}

#[test]
fn a_refused_message_in_the_repl_comes_back_at_the_prompt() {
    let env = TestEnv::new();
    let mut p = start(&env, &["-o", "num_ctx=256"]);
    let big = "word ".repeat(300); // 379 tokens
    enter(&mut p, &big);
    p.exp_string("but the context window is 256 tokens")
        .unwrap();
    p.exp_string("Your message is back at the prompt").unwrap();
    p.exp_string(&l(PROMPT)).unwrap();
    p.exp_string("word word").unwrap();
    assert!(env.fake.chat_bodies().is_empty());
    p.send_control('u').unwrap();
    ask(&mut p, "short", "echo: short");
    bye(p);
}

#[test]
fn an_unknown_model_is_reported_as_such_not_as_a_budget_problem() {
    let env = TestEnv::new();
    env.cmd()
        .args(["-m", "nope", "-p", &"word ".repeat(1600)])
        .assert()
        .code(4)
        .stderr(predicate::str::contains("model 'nope' not found"));
}

#[test]
fn an_openai_server_gets_the_whole_history_and_context_says_why() {
    whole_history_and_context_says_why(Api::OpenAi);
}

#[test]
fn an_anthropic_server_gets_the_whole_history_and_context_says_why() {
    whole_history_and_context_says_why(Api::Anthropic);
}

fn whole_history_and_context_says_why(api: Api) {
    let env = TestEnv::with(api);
    let mut p = start(&env, &[]);
    ask(&mut p, "你好", "echo: 你好");
    enter(&mut p, "/context");
    p.exp_string("the window is unknown: this API does not report it")
        .unwrap();
    p.exp_string(&l(PROMPT)).unwrap();
    bye(p);
    // No Ollama-only calls, and a prompt far over any default window is not refused.
    let prompt = "word ".repeat(1600);
    env.cmd().args(["-p", &prompt]).assert().success();
    let paths: Vec<String> = env.fake.requests().iter().map(|r| r.path.clone()).collect();
    assert!(paths.iter().all(|p| p.starts_with("/v1/")), "{paths:?}");
    assert_eq!(env.fake.chat_bodies().len(), 2);
}
