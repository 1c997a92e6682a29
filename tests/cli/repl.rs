//! The REPL driven through a pseudo-terminal, as a person types: questions, follow-ups, Ctrl-C,
//! Ctrl-D, failures that keep the message, and Up-arrow history across runs.

use std::time::Duration;

use rexpect::session::spawn_command;

use crate::harness::{messages, words, Api, TestEnv};
use crate::pty::{enter, exit_with_ctrl_d, l, start, PROMPT};
use crate::support::fake_ollama::{ChatReply, End, Script};

every_api!(
    question_answer_and_a_follow_up_that_carries_the_history,
    ctrl_c_stops_a_slow_reply_and_keeps_the_partial_answer,
    ctrl_c_at_the_prompt_does_not_exit,
    a_failed_turn_gives_the_message_back_at_the_prompt,
    a_dropped_connection_keeps_the_repl_going,
    no_server_keeps_the_repl_open_and_the_message,
    escape_sequences_from_the_model_are_shown_not_obeyed,
    thinking_is_shown_before_the_answer,
    clear_forgets_the_conversation_but_not_the_system_prompt,
    models_lists_what_the_server_offers,
);

/// The fake notices a closed connection between chunks; give it a moment.
fn wait_for_disconnect(env: &TestEnv) -> usize {
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    while env.fake.client_disconnects() == 0 && std::time::Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    env.fake.client_disconnects()
}

fn question_answer_and_a_follow_up_that_carries_the_history(api: Api) {
    let env = TestEnv::with(api);
    env.fake
        .push_chat(ChatReply::Tokens(words("The capital of France is Paris.")));
    env.fake.push_chat(ChatReply::Tokens(words("羅馬。")));
    let mut p = start(&env, &["--system", "answer briefly"]);
    enter(&mut p, "What is the capital of France?");
    p.exp_string(&l("The capital of France is Paris.")).unwrap();
    p.exp_string(&l(PROMPT)).unwrap();
    enter(&mut p, "義大利呢？");
    p.exp_string(&l("羅馬。")).unwrap();
    p.exp_string(&l(PROMPT)).unwrap();
    exit_with_ctrl_d(p);

    let bodies = env.fake.chat_bodies();
    assert_eq!(bodies.len(), 2);
    assert_eq!(
        messages(&bodies[1]),
        vec![
            ("system".into(), "answer briefly".into()),
            ("user".into(), "What is the capital of France?".into()),
            ("assistant".into(), "The capital of France is Paris.".into()),
            ("user".into(), "義大利呢？".into()),
        ]
    );
    let log = env.log_records();
    assert_eq!(log.len(), 2);
    assert_eq!(log[0]["session_id"], log[1]["session_id"]);
    assert_eq!(log[1]["turn"], 2);
}

fn ctrl_c_stops_a_slow_reply_and_keeps_the_partial_answer(api: Api) {
    let env = TestEnv::with(api);
    env.fake.push_chat(ChatReply::Script(Script {
        tokens: (0..300).map(|i| format!(" tok{i}")).collect(),
        delay: Duration::from_millis(30),
        ..Default::default()
    }));
    let mut p = start(&env, &[]);
    enter(&mut p, "write an essay");
    p.exp_string(&l(" tok3")).unwrap();
    p.send_control('c').unwrap();
    p.exp_string(&l("(cancelled)")).unwrap();
    p.exp_string(&l(PROMPT)).unwrap();
    assert_eq!(wait_for_disconnect(&env), 1, "the request must be closed");

    enter(&mut p, "go on");
    p.exp_string(&l("echo: go on")).unwrap();
    p.exp_string(&l(PROMPT)).unwrap();
    exit_with_ctrl_d(p);

    let second = messages(&env.fake.chat_bodies()[1]);
    assert_eq!(second.len(), 3);
    assert_eq!(second[1].0, "assistant");
    assert!(second[1].1.starts_with(" tok0 tok1 tok2 tok3"));
    assert!(!second[1].1.contains("tok299"));
    let log = env.log_records();
    assert_eq!(log[0]["status"], "cancelled");
    assert_eq!(log[0]["model_response"], second[1].1.as_str());
    assert_eq!(log[1]["status"], "ok");
}

fn ctrl_c_at_the_prompt_does_not_exit(api: Api) {
    let env = TestEnv::with(api);
    let mut p = start(&env, &[]);
    p.send_control('c').unwrap();
    p.exp_string(&l("Use Ctrl-D or /bye to exit.")).unwrap();
    enter(&mut p, "still here?");
    p.exp_string(&l("echo: still here?")).unwrap();
    p.exp_string(&l(PROMPT)).unwrap();
    enter(&mut p, "/bye");
    p.exp_eof().unwrap();
}

fn a_failed_turn_gives_the_message_back_at_the_prompt(api: Api) {
    let env = TestEnv::with(api);
    env.fake.push_chat(ChatReply::HttpError {
        status: 500,
        message: "llama runner process has terminated".into(),
    });
    let mut p = start(&env, &[]);
    enter(&mut p, "an important question");
    p.exp_string(&l("llama runner process has terminated"))
        .unwrap();
    p.exp_string(&l("press Enter to send it again")).unwrap();
    p.exp_string(&l(PROMPT)).unwrap();
    enter(&mut p, ""); // the message is pre-filled: Enter resends it
    p.exp_string(&l("echo: an important question")).unwrap();
    p.exp_string(&l(PROMPT)).unwrap();
    exit_with_ctrl_d(p);

    let bodies = env.fake.chat_bodies();
    assert_eq!(bodies.len(), 2);
    assert_eq!(
        messages(&bodies[1]),
        vec![("user".into(), "an important question".into())],
        "the failed attempt must not leave a duplicate in the history"
    );
    let log = env.log_records();
    assert_eq!(log[0]["status"], "error");
    assert_eq!(log[1]["status"], "ok");
}

fn a_dropped_connection_keeps_the_repl_going(api: Api) {
    let env = TestEnv::with(api);
    env.fake.push_chat(ChatReply::Script(Script {
        tokens: words("half an"),
        end: End::Drop,
        ..Default::default()
    }));
    let mut p = start(&env, &[]);
    enter(&mut p, "question");
    p.exp_string(&l("half an")).unwrap();
    p.exp_string(&l("lost before the reply finished")).unwrap();
    p.exp_string(&l(PROMPT)).unwrap();
    enter(&mut p, "again");
    p.exp_string(&l("echo: again")).unwrap();
    // Ctrl-D only once the editor reads again: sent earlier, the terminal's own line discipline
    // could take it as end-of-file while the reply is still being finished.
    p.exp_string(&l(PROMPT)).unwrap();
    exit_with_ctrl_d(p);
}

fn no_server_keeps_the_repl_open_and_the_message(api: Api) {
    let env = TestEnv::with(api);
    let mut cmd = env.std_command();
    env.unreachable(&mut cmd, 1);
    cmd.args(["-m", "tiny"]);
    let mut p = spawn_command(cmd, Some(20_000)).unwrap();
    p.exp_string(&l(PROMPT)).unwrap();
    enter(&mut p, "are you there?");
    p.exp_string(&l(&format!(
        "cannot reach {} at http://127.0.0.1:1",
        env.server_name()
    )))
    .unwrap();
    p.exp_string(&l(PROMPT)).unwrap();
    p.exp_string(&l("are you there?")).unwrap(); // pre-filled for another try
    p.send_control('d').unwrap(); // Ctrl-D on a non-empty line deletes a char; clear it first
    p.send_control('u').unwrap();
    p.send_control('d').unwrap();
    p.exp_eof().unwrap();
}

fn escape_sequences_from_the_model_are_shown_not_obeyed(api: Api) {
    let env = TestEnv::with(api);
    env.fake.push_chat(ChatReply::Tokens(vec![
        "before\u{1b}[2J\u{1b}]0;title\u{7}after".into(),
    ]));
    let mut p = start(&env, &[]);
    enter(&mut p, "hi");
    p.exp_string(&l("before␛[2J␛]0;title␇after")).unwrap();
    p.exp_string(&l(PROMPT)).unwrap();
    exit_with_ctrl_d(p);
}

fn thinking_is_shown_before_the_answer(api: Api) {
    let env = TestEnv::with(api);
    env.fake.set_models(&["tiny-think"]);
    env.fake.push_chat(ChatReply::Thinking {
        thinking: words("pondering deeply"),
        content: words("42"),
    });
    let mut p = start(&env, &[env.think_flag()]);
    enter(&mut p, "meaning of life?");
    p.exp_string(&l("pondering deeply")).unwrap();
    p.exp_string(&l("42")).unwrap();
    p.exp_string(&l(PROMPT)).unwrap();
    exit_with_ctrl_d(p);
    let log = env.log_records();
    assert_eq!(log[0]["thinking"], "pondering deeply");
    assert_eq!(log[0]["model_response"], "42");
}

#[test]
fn up_arrow_recalls_input_from_an_earlier_run() {
    let env = TestEnv::new();
    let mut p = start(&env, &[]);
    enter(&mut p, "remember this line");
    p.exp_string(&l("echo: remember this line")).unwrap();
    p.exp_string(&l(PROMPT)).unwrap();
    exit_with_ctrl_d(p);

    let mut p = start(&env, &[]);
    p.send("\x1b[A").unwrap(); // Up
    p.flush().unwrap();
    p.exp_string(&l("remember this line")).unwrap();
    p.send("\r").unwrap();
    p.flush().unwrap();
    p.exp_string(&l("echo: remember this line")).unwrap();
    p.exp_string(&l(PROMPT)).unwrap();
    exit_with_ctrl_d(p);
    let mode = std::os::unix::fs::PermissionsExt::mode(
        &std::fs::metadata(env.history_path()).unwrap().permissions(),
    );
    assert_eq!(mode & 0o777, 0o600);
}

fn clear_forgets_the_conversation_but_not_the_system_prompt(api: Api) {
    let env = TestEnv::with(api);
    let mut p = start(&env, &["-s", "sys"]);
    enter(&mut p, "one");
    p.exp_string(&l("echo: one")).unwrap();
    p.exp_string(&l(PROMPT)).unwrap();
    enter(&mut p, "/clear");
    p.exp_string(&l("Cleared")).unwrap();
    enter(&mut p, "two");
    p.exp_string(&l("echo: two")).unwrap();
    p.exp_string(&l(PROMPT)).unwrap();
    exit_with_ctrl_d(p);
    assert_eq!(
        messages(&env.fake.chat_bodies()[1]),
        vec![
            ("system".into(), "sys".into()),
            ("user".into(), "two".into())
        ]
    );
}

fn models_lists_what_the_server_offers(api: Api) {
    let env = TestEnv::with(api);
    env.fake.set_models(&["tiny", "tiny2"]);
    let mut p = start(&env, &["-m", "tiny2:latest"]);
    enter(&mut p, "/models");
    p.exp_string(&l("* tiny2:latest")).unwrap(); // sorted: '2' comes before ':'
    p.exp_string(&l("  tiny:latest")).unwrap();
    p.exp_string(&l(PROMPT)).unwrap();
    exit_with_ctrl_d(p);
    assert!(env.fake.chat_bodies().is_empty());
}
