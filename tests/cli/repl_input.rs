//! Typing in the REPL: `"""` blocks, Ctrl+J, bracketed paste, Ctrl+G with an editor, tab
//! completion, the prompt hint, word wrap, and the statistics after a reply (REPL and one-shot).

use serde_json::Value;

use crate::harness::{words, TestEnv};
use crate::pty::{enter, exit_with_ctrl_d, l, start, start_with, PROMPT};
use crate::repl_commands::make_executable;
use crate::support::fake_ollama::ChatReply;

fn last_user_message(env: &TestEnv) -> String {
    let bodies = env.fake.chat_bodies();
    let msgs = crate::harness::messages(bodies.last().expect("a chat request"));
    msgs.last().unwrap().1.clone()
}

#[test]
fn triple_quotes_make_one_message_of_several_lines() {
    let env = TestEnv::new();
    let mut p = start(&env, &[]);
    enter(&mut p, "\"\"\"");
    p.exp_string("... ").unwrap();
    enter(&mut p, "line one");
    enter(&mut p, "  行二");
    enter(&mut p, "end\"\"\"");
    p.exp_string("echo: line one").unwrap();
    p.exp_string(&l(PROMPT)).unwrap();
    exit_with_ctrl_d(p);
    assert_eq!(env.fake.chat_bodies().len(), 1);
    assert_eq!(last_user_message(&env), "line one\n  行二\nend");
}

#[test]
fn ctrl_c_cancels_an_open_block() {
    let env = TestEnv::new();
    let mut p = start(&env, &[]);
    enter(&mut p, "\"\"\"draft");
    p.exp_string("... ").unwrap();
    p.send_control('c').unwrap();
    p.exp_string("Multi-line input cancelled.").unwrap();
    p.exp_string(&l(PROMPT)).unwrap();
    enter(&mut p, "fresh");
    p.exp_string("echo: fresh").unwrap();
    exit_with_ctrl_d(p);
    assert_eq!(last_user_message(&env), "fresh");
}

#[test]
fn ctrl_j_inserts_a_newline_and_a_paste_stays_one_message() {
    let env = TestEnv::new();
    let mut p = start(&env, &[]);
    p.send("first").unwrap();
    p.send("\n").unwrap(); // Ctrl+J
    enter(&mut p, "second");
    p.exp_string("echo: first").unwrap();
    p.exp_string(&l(PROMPT)).unwrap();
    assert_eq!(last_user_message(&env), "first\nsecond");

    // A bracketed paste of several lines, then Enter.
    p.send("\u{1b}[200~pasted one\r\npasted two\u{1b}[201~")
        .unwrap();
    enter(&mut p, "");
    p.exp_string("echo: pasted one").unwrap();
    p.exp_string(&l(PROMPT)).unwrap();
    exit_with_ctrl_d(p);
    assert_eq!(env.fake.chat_bodies().len(), 2);
    assert_eq!(last_user_message(&env), "pasted one\npasted two");
}

#[test]
fn ctrl_g_composes_in_the_editor() {
    let env = TestEnv::new();
    let editor = env.home.path().join("fake-editor");
    std::fs::write(
        &editor,
        "#!/bin/sh\nprintf '%s\\n%s\\n' \"$(cat \"$1\") and more\" '第二行' > \"$1\"\n",
    )
    .unwrap();
    make_executable(&editor);
    let mut p = start_with(&env, &[], &[("VISUAL", editor.to_str().unwrap())]);
    p.send("draft").unwrap();
    p.send_control('g').unwrap();
    p.exp_string("draft and more").unwrap(); // back at the prompt, to review
    p.exp_string(&l("第二行")).unwrap();
    enter(&mut p, "");
    p.exp_string("echo: draft and more").unwrap();
    p.exp_string(&l(PROMPT)).unwrap();
    exit_with_ctrl_d(p);
    assert_eq!(last_user_message(&env), "draft and more\n第二行");
}

#[test]
fn tab_completes_commands_sub_commands_and_models() {
    let env = TestEnv::new();
    env.fake.set_models(&["tiny", "other-model"]);
    let mut p = start(&env, &["-m", "tiny"]);
    p.send("/sh\t").unwrap();
    p.send("in\t").unwrap();
    enter(&mut p, "");
    p.exp_string("architecture        gemma3").unwrap();
    p.exp_string(&l(PROMPT)).unwrap();
    p.send("/set parameter tempe\t").unwrap();
    enter(&mut p, "0.5");
    p.exp_string("Set parameter 'temperature' to '0.5'")
        .unwrap();
    p.exp_string(&l(PROMPT)).unwrap();
    p.send("/load oth\t").unwrap();
    enter(&mut p, "");
    p.exp_string("Switched to other-model:latest").unwrap();
    p.exp_string(&l(PROMPT)).unwrap();
    enter(&mut p, "hi");
    p.exp_string("echo: hi").unwrap();
    p.exp_string(&l(PROMPT)).unwrap();
    exit_with_ctrl_d(p);
    let body = env.fake.chat_bodies().pop().unwrap();
    assert_eq!(body["model"], "other-model:latest");
    assert_eq!(body["options"]["temperature"], 0.5);
    let tags = env
        .fake
        .requests()
        .iter()
        .filter(|r| r.path == "/api/tags")
        .count();
    // Once for completion, when first needed; once in the background at the start, for the
    // model's digest (the facts cache).
    assert_eq!(tags, 2, "model names are fetched once, when first needed");
}

#[test]
fn the_prompt_shows_the_model_quietly() {
    let env = TestEnv::new();
    env.fake.set_models(&["qwen3:latest"]);
    let mut cmd = env.std_command();
    cmd.env("NO_COLOR", "1").args(["-m", "qwen3:latest"]);
    let mut p = rexpect::session::spawn_command(cmd, Some(20_000)).unwrap();
    p.exp_string("qwen3 >>> ").unwrap();
    exit_with_ctrl_d(p);
}

#[test]
fn replies_wrap_at_the_terminal_width_unless_told_not_to() {
    let env = TestEnv::new();
    let text = "alpha beta gamma delta epsilon zeta eta theta";
    env.fake.push_chat(ChatReply::Tokens(words(text)));
    env.fake.push_chat(ChatReply::Tokens(words(text)));
    env.fake
        .push_chat(ChatReply::Tokens(words("你好世界你好世界你好世界")));
    let mut p = start_with(&env, &[], &[("COLUMNS", "20")]);
    enter(&mut p, "q1");
    p.exp_string("alpha beta gamma \r\ndelta epsilon zeta \r\neta theta")
        .unwrap();
    p.exp_string(&l(PROMPT)).unwrap();
    enter(&mut p, "/set nowordwrap");
    p.exp_string(&l(PROMPT)).unwrap();
    enter(&mut p, "q2");
    p.exp_string(text).unwrap();
    p.exp_string(&l(PROMPT)).unwrap();
    enter(&mut p, "/set wordwrap");
    p.exp_string(&l(PROMPT)).unwrap();
    enter(&mut p, "q3");
    // Ten columns of CJK per line: 20 / 2.
    p.exp_string(&l("你好世界你好世界你好\r\n世界")).unwrap();
    p.exp_string(&l(PROMPT)).unwrap();
    exit_with_ctrl_d(p);
}

const BLOCK_LABELS: [&str; 10] = [
    "total duration:       ",
    "load duration:        ",
    "prompt eval count:    ",
    "prompt eval duration: ",
    "prompt eval rate:     ",
    "eval count:           ",
    "eval duration:        ",
    "eval rate:            ",
    "time to first token:  ",
    "client total latency: ",
];

#[test]
fn verbose_prints_the_statistics_block_after_each_reply() {
    let env = TestEnv::new();
    env.fake
        .push_chat(ChatReply::Tokens(words("one two three")));
    let mut p = start(&env, &["--verbose"]);
    enter(&mut p, "q");
    p.exp_string("one two three").unwrap();
    let out = p.exp_string(&l(PROMPT)).unwrap();
    let mut at = 0;
    for label in BLOCK_LABELS {
        let found = out[at..]
            .find(label)
            .unwrap_or_else(|| panic!("{label} missing: {out}"));
        at += found;
    }
    assert!(out.contains("eval count:           3 token(s)"), "{out}");
    enter(&mut p, "/set quiet");
    p.exp_string(&l(PROMPT)).unwrap();
    enter(&mut p, "q2");
    p.exp_string("echo: q2").unwrap();
    let out = p.exp_string(&l(PROMPT)).unwrap();
    assert!(!out.contains("eval rate"), "{out}");
    enter(&mut p, "/set verbose");
    p.exp_string(&l(PROMPT)).unwrap();
    enter(&mut p, "q3");
    p.exp_string("echo: q3").unwrap();
    p.exp_string("client total latency: ").unwrap();
    p.exp_string(&l(PROMPT)).unwrap();
    exit_with_ctrl_d(p);
}

#[test]
fn one_shot_verbose_and_stats_json_go_to_stderr() {
    let env = TestEnv::new();
    let out = env
        .cmd()
        .args([
            "-m",
            "tiny",
            "-p",
            "hello there",
            "--verbose",
            "--stats-json",
        ])
        .output()
        .unwrap();
    assert!(out.status.success());
    assert_eq!(String::from_utf8(out.stdout).unwrap(), "echo: hello there");
    let stderr = String::from_utf8(out.stderr).unwrap();
    let lines: Vec<&str> = stderr.lines().collect();
    for (line, label) in lines.iter().zip(BLOCK_LABELS) {
        assert!(
            line.starts_with(label),
            "{line:?} should start with {label:?}"
        );
    }
    assert!(lines[5].ends_with(" 3 token(s)"), "{}", lines[5]);
    let json: Value = serde_json::from_str(lines[10]).expect("the last line is JSON");
    assert_eq!(lines.len(), 11);
    assert_eq!(json["model"], "tiny");
    assert_eq!(json["eval_count"], 3);
    assert_eq!(json["done_reason"], "stop");
    let log = env.log_records();
    assert_eq!(json["prompt_eval_count"], log[0]["prompt_tokens"]);
    for key in [
        "total_duration",
        "eval_duration",
        "time_to_first_token",
        "client_total_latency",
    ] {
        assert!(json[key].as_u64().is_some_and(|n| n > 0), "{key}: {json}");
    }
    assert!(json["eval_rate"].as_f64().is_some_and(|r| r > 0.0));
}

#[test]
fn enter_typed_while_a_reply_streams_sends_the_next_message() {
    let env = TestEnv::new();
    env.fake
        .push_chat(ChatReply::Script(crate::support::fake_ollama::Script {
            tokens: words("slow reply that takes a while"),
            delay: std::time::Duration::from_millis(40),
            ..Default::default()
        }));
    let mut p = start(&env, &[]);
    enter(&mut p, "first");
    p.exp_string("slow").unwrap();
    enter(&mut p, "typed ahead"); // Enter (CR) while the terminal is not in the editor's mode
    p.exp_string("echo: typed ahead").unwrap();
    p.exp_string(&l(PROMPT)).unwrap();
    exit_with_ctrl_d(p);
    assert_eq!(last_user_message(&env), "typed ahead");
}

#[test]
fn a_quoted_line_starting_with_a_slash_is_a_message() {
    let env = TestEnv::new();
    let mut p = start(&env, &[]);
    enter(&mut p, "/etc/hosts: what is it?");
    p.exp_string("to send it as a message, quote it").unwrap();
    p.exp_string(&l(PROMPT)).unwrap();
    enter(&mut p, "\"\"\"/etc/hosts: what is it?\"\"\"");
    p.exp_string("echo: /etc/hosts: what is it?").unwrap();
    p.exp_string(&l(PROMPT)).unwrap();
    exit_with_ctrl_d(p);
    assert_eq!(env.fake.chat_bodies().len(), 1);
    assert_eq!(last_user_message(&env), "/etc/hosts: what is it?");
}
