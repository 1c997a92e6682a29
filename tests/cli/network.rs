//! Round trips and the current API: what a run asks the server and in which order (the fake's
//! journal), the model facts kept between runs, the REPL's preload, a refusal over the window
//! (`truncate: false`), the Modelfile history, `think: "max"`, a sign-in 401 and the load timeout.

use std::path::PathBuf;
use std::time::Duration;

use predicates::prelude::*;
use rexpect::session::spawn_command;

use crate::harness::{messages, TestEnv};
use crate::pty::{enter, exit_with_ctrl_d as bye, l, start, PROMPT};
use crate::support::fake_ollama::ChatReply;

fn cache_path(env: &TestEnv) -> PathBuf {
    env.home
        .path()
        .join(".local/state/ollama-chat/model-facts.json")
}

/// More than half of the smallest window a model could have (879 tokens in the fake's count):
/// the client must know the window before it sends this.
fn long_prompt() -> String {
    "word ".repeat(700)
}

#[test]
fn a_one_shot_that_fits_sends_its_chat_first_and_nothing_else() {
    let env = TestEnv::new();
    env.cmd()
        .args(["-m", "tiny", "-p", "你好"])
        .assert()
        .success()
        .stdout("echo: 你好");
    assert_eq!(env.fake.journal(), ["POST /api/chat"]);
    let body = &env.fake.chat_bodies()[0];
    assert_eq!(body["truncate"], false, "a wrong guess is refused, not cut");
    assert_eq!(body["shift"], false);
}

#[test]
fn a_long_one_shot_asks_for_the_facts_at_once_and_the_next_run_reads_them_from_the_cache() {
    let env = TestEnv::new();
    env.cmd()
        .args(["-m", "tiny", "-p", &long_prompt()])
        .assert()
        .success();
    let journal = env.fake.journal();
    assert_eq!(journal.len(), 3, "{journal:?}");
    let mut facts = journal[..2].to_vec();
    facts.sort();
    assert_eq!(facts, ["GET /api/tags", "POST /api/show"], "asked together");
    assert_eq!(journal[2], "POST /api/chat");
    let cache = std::fs::read_to_string(cache_path(&env)).unwrap();
    assert!(cache.contains("\"model\": \"tiny\""), "{cache}");
    assert!(cache.contains("\"num_ctx_parameter\": 2048"), "{cache}");

    env.cmd()
        .args(["-m", "tiny", "-p", &long_prompt()])
        .assert()
        .success();
    assert_eq!(
        env.fake.journal()[3..],
        ["POST /api/chat"],
        "from the cache"
    );
    let log = env.log_records();
    assert_eq!(log[1]["context_window"], 2048);
    assert_eq!(log[1]["context_window_source"], "model_parameter");
}

#[test]
fn a_corrupt_hostile_or_huge_cache_file_is_ignored_and_replaced() {
    let env = TestEnv::new();
    let path = cache_path(&env);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    let huge = format!("{{\"version\":1,\"entries\":[{}]}}", " ".repeat(2 << 20));
    for bad in [&b"\x1b]52;c;aGk=\x07{not json"[..], huge.as_bytes()] {
        std::fs::write(&path, bad).unwrap();
        let out = env
            .cmd()
            .args(["-m", "tiny", "-p", &long_prompt()])
            .assert()
            .success()
            .get_output()
            .clone();
        assert!(!out.stderr.contains(&0x1b), "{:?}", out.stderr);
        let cache = std::fs::read_to_string(&path).unwrap();
        assert!(cache.starts_with("{\n  \"version\": 1"), "{cache}");
    }
}

#[test]
fn a_refusal_over_the_window_is_learned_and_the_history_cut_by_the_strategy_then_sent_once_more() {
    let env = TestEnv::new();
    // The Modelfile says 2048; the server gives 96.
    env.fake.set_num_ctx_cap(Some(96));
    let session = env.home.path().join("chat.jsonl");
    let session = session.to_str().unwrap();
    let first = "word ".repeat(40); // 54 tokens; its echo 45
    env.cmd()
        .args(["-m", "tiny", "--session", session, "-p", &first])
        .assert()
        .success();
    env.cmd()
        .args(["-m", "tiny", "--session", session, "-p", "and now?"])
        .assert()
        .success()
        .stdout("echo: and now?")
        .stderr(predicate::str::contains(
            "context: Ollama has a 96-token context window for tiny",
        ))
        .stderr(predicate::str::contains("dropped the oldest 1 exchange"));
    let bodies = env.fake.chat_bodies();
    assert_eq!(
        bodies.len(),
        3,
        "the first run, the refused one, the one sent again"
    );
    assert_eq!(messages(&bodies[1]).len(), 3);
    assert_eq!(
        messages(&bodies[2]),
        [("user".to_string(), "and now?".to_string())]
    );
    assert_eq!(env.fake.truncations(), 0, "the server never cut anything");
    let events = crate::harness::read_jsonl(std::path::Path::new(session));
    assert!(events.iter().any(|e| e["kind"] == "context"), "{events:?}");
}

#[test]
fn a_message_the_learned_window_cannot_hold_is_refused_after_the_server_refused_it() {
    let env = TestEnv::new();
    env.fake.set_num_ctx_cap(Some(64));
    let prompt = "word ".repeat(60); // 79 tokens: fits the 2048 believed, not the 64 given
    env.cmd()
        .args(["-m", "tiny", "-p", &prompt])
        .assert()
        .code(2)
        .stdout("")
        .stderr(predicate::str::contains("64-token context window"))
        .stderr(predicate::str::contains("this message needs about"));
    assert_eq!(env.fake.chat_bodies().len(), 1, "sent once, never cut");
    assert_eq!(env.fake.truncations(), 0);
}

#[test]
fn the_repl_preloads_the_model_while_the_person_types_and_says_so_when_it_is_not_ready() {
    let env = TestEnv::new();
    env.fake.set_load_delay(Duration::from_secs(2));
    let mut p = start(&env, &["-m", "tiny"]);
    enter(&mut p, "hi");
    p.exp_string(&l("loading tiny:latest…"))
        .or_else(|_| p.exp_string(&l("loading tiny…")))
        .unwrap();
    p.exp_string("echo: hi").unwrap();
    p.exp_string(&l(PROMPT)).unwrap();
    bye(p);
    let journal = env.fake.journal();
    let load = journal.iter().position(|r| r == "POST /api/chat (load)");
    let chat = journal.iter().position(|r| r == "POST /api/chat");
    assert!(load.unwrap() < chat.unwrap(), "{journal:?}");
    assert_eq!(env.fake.loads().len(), 1);
    assert_eq!(
        journal[0], "POST /api/show",
        "the pull check, before the prompt"
    );
}

#[test]
fn no_preload_sends_no_load_and_shows_no_loading_note() {
    let env = TestEnv::new();
    let mut p = start(&env, &["-m", "tiny", "--no-preload"]);
    enter(&mut p, "hi");
    let before = p.exp_string("echo: hi").unwrap();
    assert!(!before.contains("loading"), "{before:?}");
    p.exp_string(&l(PROMPT)).unwrap();
    bye(p);
    assert!(env.fake.loads().is_empty(), "{:?}", env.fake.journal());
}

#[test]
fn the_modelfile_history_is_shown_at_the_start_counted_and_never_sent() {
    let env = TestEnv::new();
    env.fake.set_models(&["tiny-msg"]);
    let mut cmd = env.std_command();
    cmd.args(["-m", "tiny-msg", "-o", "num_ctx=64"]);
    let mut p = spawn_command(cmd, Some(20_000)).unwrap();
    p.exp_string("the model's own history").unwrap();
    p.exp_string(">>> What is 2+2?").unwrap();
    p.exp_string("4.").unwrap();
    p.exp_string(&l(PROMPT)).unwrap();
    // 41 tokens: within the 48 the window leaves without the history, not the 36 with it.
    enter(&mut p, &"word ".repeat(29));
    p.exp_string("this message needs about").unwrap();
    p.exp_string(&l(PROMPT)).unwrap();
    p.send_control('u').unwrap();
    enter(&mut p, "/context");
    p.exp_string("model history   12 tokens").unwrap();
    p.exp_string(&l(PROMPT)).unwrap();
    enter(&mut p, "And 3+3?");
    p.exp_string("echo: And 3+3?").unwrap();
    p.exp_string(&l(PROMPT)).unwrap();
    bye(p);
    let bodies = env.fake.chat_bodies();
    assert_eq!(bodies.len(), 1);
    assert_eq!(
        messages(&bodies[0]),
        [("user".to_string(), "And 3+3?".to_string())],
        "the server adds the history itself"
    );
}

#[test]
fn think_max_is_sent_and_a_model_that_cannot_think_is_told_before_anything_is_sent() {
    let env = TestEnv::new();
    env.fake.set_models(&["tiny-think", "tiny"]);
    env.cmd()
        .args(["-m", "tiny-think", "--think", "max", "-p", "hi"])
        .assert()
        .success();
    assert_eq!(env.fake.chat_bodies()[0]["think"], "max");
    let mut p = start(&env, &["-m", "tiny", "--think", "max"]);
    enter(&mut p, "hi");
    p.exp_string("tiny cannot think").unwrap();
    p.exp_string(&l(PROMPT)).unwrap();
    p.send_control('u').unwrap();
    bye(p);
    assert_eq!(env.fake.chat_bodies().len(), 1, "nothing sent for tiny");
}

#[test]
fn a_401_with_a_sign_in_url_is_one_line_that_says_ollama_signin() {
    let env = TestEnv::new();
    let body = r#"{"error":"unauthorized","signin_url":"https://ollama.com/connect?name=box\u001b]52;c;aGk=\u0007"}"#;
    let raw = format!(
        "HTTP/1.1 401 Unauthorized\r\nContent-Type: application/json; charset=utf-8\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    env.fake.push_chat(ChatReply::Raw(raw.into_bytes()));
    let out = env
        .cmd()
        .args(["-m", "tiny", "-p", "hi"])
        .assert()
        .code(5)
        .stdout("")
        .stderr(predicate::str::contains("ollama signin"))
        .stderr(predicate::str::contains(
            "https://ollama.com/connect?name=box",
        ))
        .get_output()
        .clone();
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(
        !stderr.contains('\u{1b}') && !stderr.contains('\u{7}'),
        "{stderr:?}"
    );
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
}

#[test]
fn the_load_timeout_bounds_the_wait_for_a_slow_load() {
    let env = TestEnv::new();
    env.fake.set_load_delay(Duration::from_secs(3));
    env.cmd()
        .args(["-m", "tiny", "--load-timeout", "1", "-p", "hi"])
        .assert()
        .code(1)
        .stderr(predicate::str::contains("before the reply began"))
        .stderr(predicate::str::contains("--load-timeout"));
}

#[test]
fn a_cloud_model_s_remote_model_and_host_are_in_the_turn_log() {
    let env = TestEnv::new();
    env.fake.set_models(&["gpt-oss:120b-cloud"]);
    env.cmd()
        .args(["-m", "gpt-oss:120b-cloud", "-p", "你好"])
        .assert()
        .success();
    let log = env.log_records();
    assert_eq!(log[0]["remote_model"], "gpt-oss:120b");
    assert_eq!(log[0]["remote_host"], "https://ollama.com:443");
    // A local model has neither.
    env.fake.set_models(&["tiny"]);
    env.cmd()
        .args(["-m", "tiny", "-p", "hi"])
        .assert()
        .success();
    let log = env.log_records();
    assert!(log[1].get("remote_model").is_none(), "{}", log[1]);
}

#[test]
fn ollama_api_key_reaches_a_hosted_ollama_and_its_absence_is_one_clear_line() {
    let env = TestEnv::new();
    env.fake.require_ollama_key(Some("ollama-secret-key-0123"));
    env.cmd()
        .env("OLLAMA_API_KEY", "ollama-secret-key-0123")
        .args(["-m", "tiny", "-p", "hi"])
        .assert()
        .success()
        .stdout("echo: hi");
    let chat = env
        .fake
        .requests()
        .into_iter()
        .find(|r| r.path == "/api/chat")
        .unwrap();
    assert_eq!(
        chat.header("authorization"),
        Some("Bearer ollama-secret-key-0123")
    );
    env.cmd()
        .args(["-m", "tiny", "-p", "hi"])
        .assert()
        .code(5)
        .stdout("")
        .stderr(predicate::str::contains("OLLAMA_API_KEY"));
    let log = std::fs::read_to_string(env.log_path()).unwrap();
    assert!(!log.contains("ollama-secret-key-0123"));
}
