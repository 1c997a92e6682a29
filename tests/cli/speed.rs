//! The paths the speed work changed, used as a person would: long fast streams through a pipe and
//! a terminal arrive whole and in order, a long or sliding history is sent exactly on every turn, and plain
//! HTTP (which loads no certificates) refuses an https redirect with a clear message, on both APIs.

use crate::harness::{messages, Api, TestEnv};
use crate::pty::{self, enter, l, PROMPT};
use crate::support::fake_ollama::{fast_stream_text, ChatReply, FastStream};

#[test]
fn a_long_fast_stream_arrives_whole_in_a_pipe() {
    let env = TestEnv::new();
    env.fake.set_fast_stream(Some(FastStream::default()));
    let out = env
        .cmd()
        .args(["-m", "tiny", "-o", "num_predict=30000", "-p", "go"])
        .assert()
        .success()
        .get_output()
        .clone();
    let expected = fast_stream_text(30_000);
    assert!(
        out.stdout == expected.as_bytes(),
        "stdout differs from the stream: {} bytes, expected {}",
        out.stdout.len(),
        expected.len()
    );
    let rec = &env.log_records()[0];
    assert_eq!(rec["status"], "ok");
    assert_eq!(rec["model_response"], expected.as_str());
    assert_eq!(rec["completion_tokens"], 30_000);
    assert_eq!(rec["done_reason"], "length");
}

#[test]
fn a_long_fast_stream_on_a_terminal_then_a_follow_up_with_it_in_the_history() {
    let env = TestEnv::new();
    env.fake.set_fast_stream(Some(FastStream {
        default_tokens: 3000,
        ..FastStream::default()
    }));
    // A window the story fits in, so the follow-up carries all of it.
    let args = [
        "-m",
        "tiny",
        "--system",
        "你是一位老師",
        "-o",
        "num_ctx=32768",
    ];
    let mut p = pty::start(&env, &args);
    enter(&mut p, "tell me a long story");
    p.exp_string(&l(" rests\r\n")).unwrap();
    p.exp_string(&l(PROMPT)).unwrap();
    enter(&mut p, "and then? 然後呢？");
    p.exp_string(&l(" rests\r\n")).unwrap();
    p.exp_string(&l(PROMPT)).unwrap();
    pty::exit_with_ctrl_d(p);

    let story = fast_stream_text(3000);
    let bodies = env.fake.chat_bodies();
    assert_eq!(bodies.len(), 2);
    assert_eq!(
        messages(&bodies[1]),
        vec![
            ("system".into(), "你是一位老師".into()),
            ("user".into(), "tell me a long story".into()),
            ("assistant".into(), story.clone()),
            ("user".into(), "and then? 然後呢？".into()),
        ]
    );
    let log = env.log_records();
    assert_eq!(log.len(), 2);
    assert_eq!(log[0]["model_response"], story.as_str());
    assert_eq!(log[1]["model_response"], story.as_str());
}

#[test]
fn a_sliding_window_sends_exactly_the_history_that_fits_on_every_turn() {
    // The request body is encoded incrementally (only changed messages again); here the context
    // policy leaves the oldest exchange out turn after turn, and every body must still be exact.
    let env = TestEnv::new();
    env.fake.set_fast_stream(Some(FastStream {
        default_tokens: 300,
        ..FastStream::default()
    }));
    let system = "你是一位老師";
    let mut p = pty::start(&env, &["-m", "tiny", "-s", system, "-o", "num_ctx=2048"]);
    let question = |i: usize| format!("question {i} 問題 \"{i}\"");
    for i in 0..8 {
        enter(&mut p, &question(i));
        p.exp_string(&l(" rests\r\n")).unwrap();
        p.exp_string(&l(PROMPT)).unwrap();
    }
    pty::exit_with_ctrl_d(p);

    let reply = fast_stream_text(300);
    let bodies = env.fake.chat_bodies();
    assert_eq!(bodies.len(), 8);
    let mut first_kept = 0;
    for (i, body) in bodies.iter().enumerate() {
        let sent = messages(body);
        // The system prompt, then whole exchanges up to this question, oldest left out first.
        let kept = (sent.len() - 2) / 2;
        assert!(i - kept >= first_kept, "a dropped exchange came back");
        first_kept = i - kept;
        let mut expected = vec![("system".to_string(), system.to_string())];
        for j in first_kept..i {
            expected.push(("user".into(), question(j)));
            expected.push(("assistant".into(), reply.clone()));
        }
        expected.push(("user".into(), question(i)));
        assert_eq!(sent, expected, "request {i}");
    }
    assert!(first_kept >= 2, "the window slid: {first_kept}");
    let log = env.log_records();
    assert!(log
        .iter()
        .any(|r| r["context_action"]["strategy"] == "truncate"));
    assert_eq!(env.fake.truncations(), 0, "the server never had to cut");
}

every_api!(plain_http_refuses_a_redirect_to_https_with_a_clear_message);

fn plain_http_refuses_a_redirect_to_https_with_a_clear_message(api: Api) {
    let env = TestEnv::with(api);
    let path = match api {
        Api::Ollama => "/api/chat",
        Api::OpenAi => "/v1/chat/completions",
        Api::Anthropic => "/v1/messages",
    };
    env.fake.push_chat(ChatReply::Raw(
        format!(
            "HTTP/1.1 307 Temporary Redirect\r\nLocation: https://127.0.0.1:1{path}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
        )
        .into_bytes(),
    ));
    let out = env
        .cmd()
        .args(["-m", "tiny", "-p", "hi"])
        .assert()
        .code(1)
        .stdout("")
        .get_output()
        .clone();
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert_eq!(stderr.lines().count(), 1, "one line: {stderr}");
    assert!(
        stderr.contains(&format!("redirected to https://127.0.0.1:1{path}")),
        "{stderr}"
    );
    let setting = match api {
        Api::Ollama => "set OLLAMA_HOST (or --host) to the https address",
        Api::OpenAi => "set --base-url (or OPENAI_BASE_URL) to the https address",
        Api::Anthropic => "set --base-url (or ANTHROPIC_BASE_URL) to the https address",
    };
    assert!(stderr.contains(setting), "{stderr}");
}
