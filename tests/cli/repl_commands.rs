//! Every slash command through a pseudo-terminal against the fake server. Where a command changes
//! the conversation or the settings, the request bodies the fake received prove exactly what
//! changed.

use serde_json::{json, Value};

use crate::harness::{messages, words, TestEnv};
use crate::pty::{enter, exit_with_ctrl_d, l, start, start_with, PROMPT};
use crate::support::fake_ollama::ChatReply;

fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
    list.iter()
        .map(|(r, c)| (r.to_string(), c.to_string()))
        .collect()
}

/// Sends a message and waits for the echo and the next prompt.
fn ask(p: &mut rexpect::session::PtySession, text: &str) {
    enter(p, text);
    p.exp_string(&l(&format!("echo: {text}"))).unwrap();
    p.exp_string(&l(PROMPT)).unwrap();
}

/// Runs a command and returns what was printed up to the next prompt.
fn command(p: &mut rexpect::session::PtySession, line: &str) -> String {
    enter(p, line);
    p.exp_string(&l(PROMPT)).unwrap()
}

#[test]
fn help_shortcuts_and_unknown_commands() {
    let env = TestEnv::new();
    let mut p = start(&env, &[]);
    let out = command(&mut p, "/?");
    for name in [
        "/show WHAT",
        "/set SETTING",
        "/load MODEL [--clear]",
        "/retry",
        "/copy [N]",
    ] {
        assert!(out.contains(name), "{name} missing from {out}");
    }
    assert!(command(&mut p, "/? shortcuts").contains("Ctrl + j"));
    assert!(command(&mut p, "/help set").contains("/set parameter NAME VALUE"));
    assert!(command(&mut p, "/set").contains("/set nowordwrap"));
    let out = command(&mut p, "/cler");
    assert!(
        out.contains("unknown command '/cler' (did you mean /clear?)"),
        "{out}"
    );
    let out = command(&mut p, "/show inf");
    assert!(out.contains("did you mean info?"), "{out}");
    enter(&mut p, "/exit");
    p.exp_eof().unwrap();
    assert!(
        env.fake.chat_bodies().is_empty(),
        "no command may reach the model"
    );
}

#[test]
fn set_parameter_changes_exactly_the_options_sent() {
    let env = TestEnv::new();
    let mut p = start(&env, &["-o", "seed=7"]);
    ask(&mut p, "one");
    let out = command(&mut p, "/set parameter temperature 0.25");
    assert!(
        out.contains("Set parameter 'temperature' to '0.25'"),
        "{out}"
    );
    command(&mut p, "/set parameter stop \"User:\" END");
    let out = command(&mut p, "/set parameter num_ctx lots");
    assert!(
        out.contains("option num_ctx takes a whole number, not \"lots\""),
        "{out}"
    );
    let out = command(&mut p, "/set parameter temprature 1");
    assert!(out.contains("did you mean \"temperature\"?"), "{out}");
    let out = command(&mut p, "/set parameter");
    assert!(out.contains("temperature        number  = 0.25"), "{out}");
    ask(&mut p, "two");
    let out = command(&mut p, "/show parameters");
    assert!(out.contains("User defined parameters:"), "{out}");
    exit_with_ctrl_d(p);

    let bodies = env.fake.chat_bodies();
    assert_eq!(bodies[0]["options"], json!({"seed": 7}));
    assert_eq!(
        bodies[1]["options"],
        json!({"seed": 7, "temperature": 0.25, "stop": ["User:", "END"]})
    );
    assert_eq!(
        env.log_records()[1]["options"],
        bodies[1]["options"],
        "the log records the options sent"
    );
}

#[test]
fn set_system_replaces_the_system_prompt() {
    let env = TestEnv::new();
    let mut p = start(&env, &["-s", "first 老師"]);
    ask(&mut p, "one");
    assert!(command(&mut p, "/set system be brief, 簡潔").contains("Set system message."));
    ask(&mut p, "two");
    let out = command(&mut p, "/show system");
    assert!(out.contains("be brief, "), "{out}");
    exit_with_ctrl_d(p);
    assert_eq!(
        messages(&env.fake.chat_bodies()[1]),
        pairs(&[
            ("system", "be brief, 簡潔"),
            ("user", "one"),
            ("assistant", "echo: one"),
            ("user", "two"),
        ])
    );

    // Without a system prompt, /set system puts one first.
    let env = TestEnv::new();
    let mut p = start(&env, &[]);
    ask(&mut p, "one");
    command(&mut p, "/set system \"sys\"");
    ask(&mut p, "two");
    exit_with_ctrl_d(p);
    assert_eq!(
        messages(&env.fake.chat_bodies()[1])[0],
        pairs(&[("system", "sys")])[0]
    );
}

#[test]
fn undo_removes_exactly_the_last_exchange() {
    let env = TestEnv::new();
    let mut p = start(&env, &["-s", "sys"]);
    assert!(command(&mut p, "/undo").contains("Nothing to undo."));
    ask(&mut p, "one");
    ask(&mut p, "two");
    let out = command(&mut p, "/undo");
    assert!(out.contains("Removed the last exchange (\"two\")"), "{out}");
    ask(&mut p, "three");
    exit_with_ctrl_d(p);
    assert_eq!(
        messages(&env.fake.chat_bodies()[2]),
        pairs(&[
            ("system", "sys"),
            ("user", "one"),
            ("assistant", "echo: one"),
            ("user", "three"),
        ])
    );
}

#[test]
fn retry_replaces_the_last_reply() {
    let env = TestEnv::new();
    env.fake.push_chat(ChatReply::Tokens(words("first answer")));
    env.fake
        .push_chat(ChatReply::Tokens(words("second answer")));
    let mut p = start(&env, &[]);
    assert!(command(&mut p, "/retry").contains("Nothing to retry yet."));
    enter(&mut p, "question");
    p.exp_string("first answer").unwrap();
    p.exp_string(&l(PROMPT)).unwrap();
    enter(&mut p, "/retry");
    p.exp_string("second answer").unwrap();
    p.exp_string(&l(PROMPT)).unwrap();
    ask(&mut p, "next");
    exit_with_ctrl_d(p);
    let bodies = env.fake.chat_bodies();
    assert_eq!(bodies.len(), 3);
    assert_eq!(messages(&bodies[1]), pairs(&[("user", "question")]));
    assert_eq!(
        messages(&bodies[2]),
        pairs(&[
            ("user", "question"),
            ("assistant", "second answer"),
            ("user", "next"),
        ])
    );
}

#[test]
fn a_failed_retry_gives_the_question_back_at_the_prompt() {
    let env = TestEnv::new();
    env.fake.push_chat(ChatReply::Tokens(words("old answer")));
    env.fake.push_chat(ChatReply::HttpError {
        status: 500,
        message: "runner died".into(),
    });
    let mut p = start(&env, &[]);
    enter(&mut p, "question");
    p.exp_string("old answer").unwrap();
    p.exp_string(&l(PROMPT)).unwrap();
    enter(&mut p, "/retry");
    p.exp_string("runner died").unwrap();
    p.exp_string("press Enter to send it again").unwrap();
    p.exp_string(&l(PROMPT)).unwrap();
    p.exp_string("question").unwrap(); // pre-filled
    enter(&mut p, ""); // Enter resends it
    p.exp_string("echo: question").unwrap();
    p.exp_string(&l(PROMPT)).unwrap();
    exit_with_ctrl_d(p);
    // The retried exchange left the history (as the session file records it), and the
    // resent question carries no trace of the failed attempt.
    assert_eq!(
        messages(&env.fake.chat_bodies()[2]),
        pairs(&[("user", "question")])
    );
}

#[test]
fn edit_resends_the_last_message_as_edited() {
    let env = TestEnv::new();
    let editor = env.home.path().join("fake-editor");
    std::fs::write(&editor, "#!/bin/sh\nsed -i 's/one/ONE, edited/' \"$1\"\n").unwrap();
    make_executable(&editor);
    let mut p = start_with(&env, &[], &[("EDITOR", editor.to_str().unwrap())]);
    assert!(command(&mut p, "/edit").contains("no message to edit"));
    ask(&mut p, "one");
    enter(&mut p, "/edit");
    p.exp_string("echo: ONE, edited").unwrap();
    p.exp_string(&l(PROMPT)).unwrap();
    exit_with_ctrl_d(p);
    let bodies = env.fake.chat_bodies();
    assert_eq!(messages(&bodies[1]), pairs(&[("user", "ONE, edited")]));
}

pub fn make_executable(path: &std::path::Path) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).unwrap();
}

#[test]
fn clear_then_the_next_request_has_only_the_system_prompt() {
    let env = TestEnv::new();
    let mut p = start(&env, &["-s", "sys"]);
    ask(&mut p, "one");
    assert!(command(&mut p, "/clear").contains("Cleared the conversation."));
    ask(&mut p, "two");
    exit_with_ctrl_d(p);
    assert_eq!(
        messages(&env.fake.chat_bodies()[1]),
        pairs(&[("system", "sys"), ("user", "two")])
    );
}

#[test]
fn show_every_part_of_the_model() {
    let env = TestEnv::new();
    let mut p = start(&env, &["-m", "tiny"]);
    let info = command(&mut p, "/show info");
    for part in [
        "architecture        gemma3",
        "parameters          268.10M",
        "context length      32768",
        "embedding length    640",
        "quantization        Q4_K_M",
        "Capabilities",
        "completion",
        "temperature    0.7",
        "You are Tiny, a terse test assistant.",
    ] {
        assert!(info.contains(part), "{part} missing from {info}");
    }
    assert!(command(&mut p, "/show parameters").contains("Model defined parameters:"));
    assert!(command(&mut p, "/show system").contains("You are Tiny"));
    assert!(command(&mut p, "/show template").contains("<start_of_turn>user"));
    assert!(command(&mut p, "/show modelfile").contains("# Modelfile generated by"));
    assert!(command(&mut p, "/show license").contains("No license was specified"));
    exit_with_ctrl_d(p);
    let shows: Vec<Value> = env
        .fake
        .requests()
        .iter()
        .filter(|r| r.path == "/api/show")
        .map(|r| serde_json::from_slice(&r.body).unwrap())
        .collect();
    // One at start-up (is the model installed?), then one per /show.
    assert_eq!(shows.len(), 7);
    assert!(shows.iter().all(|b| *b == json!({"model": "tiny"})));
}

#[test]
fn show_for_a_model_removed_meanwhile_says_so() {
    let env = TestEnv::new();
    let mut p = start(&env, &["-m", "tiny"]);
    env.fake.set_models(&["other"]); // e.g. `ollama rm tiny` in another terminal
    let out = command(&mut p, "/show info");
    assert!(out.contains("model 'tiny' not found"), "{out}");
    exit_with_ctrl_d(p);
}

#[test]
fn load_model_and_models() {
    let env = TestEnv::new();
    env.fake.set_models(&["tiny", "tiny2"]);
    let mut p = start(&env, &["-m", "tiny"]);
    let out = command(&mut p, "/models");
    assert!(out.contains("* tiny:latest"), "{out}");
    assert!(out.contains("  tiny2:latest"), "{out}");
    ask(&mut p, "one");
    let out = command(&mut p, "/load tiny2");
    assert!(
        out.contains("Switched to tiny2 keeping the conversation (1 message; /load tiny2 --clear"),
        "{out}"
    );
    assert!(
        out.contains("tiny2\u{1b}[0m "),
        "the prompt hint follows the model: {out:?}"
    );
    ask(&mut p, "two");
    let out = command(&mut p, "/load nope");
    assert!(out.contains("model 'nope' not found"), "{out}");
    let out = command(&mut p, "/load tiny --clear");
    assert!(
        out.contains("Switched to tiny with an empty conversation."),
        "{out}"
    );
    ask(&mut p, "three");
    // `/model` alone offers the installed models; Enter keeps the current one.
    enter(&mut p, "/model");
    let out = p.exp_string("Enter keeps tiny): ").unwrap();
    assert!(
        out.contains(&format!("tiny at {}", env.fake.url())),
        "{out}"
    );
    assert!(out.contains("*2) tiny:latest"), "{out}");
    command(&mut p, "");
    assert!(command(&mut p, "/model tiny2").contains("Switched to tiny2"));
    ask(&mut p, "four");
    exit_with_ctrl_d(p);

    let bodies = env.fake.chat_bodies();
    let models: Vec<&str> = bodies
        .iter()
        .map(|b| b["model"].as_str().unwrap())
        .collect();
    assert_eq!(models, ["tiny", "tiny2", "tiny", "tiny2"]);
    assert_eq!(messages(&bodies[1]).len(), 3, "the history was kept");
    assert_eq!(
        messages(&bodies[2]),
        pairs(&[("user", "three")]),
        "--clear emptied it"
    );
    assert_eq!(messages(&bodies[3]).len(), 3);
}

#[test]
fn format_and_think_settings_reach_the_request() {
    let env = TestEnv::new();
    env.fake.set_models(&["tiny-think"]);
    let mut p = start(&env, &[]);
    command(&mut p, "/set format json");
    command(&mut p, "/set think high");
    ask(&mut p, "one");
    command(&mut p, "/set noformat");
    command(&mut p, "/set nothink");
    ask(&mut p, "two");
    command(&mut p, "/set think");
    enter(&mut p, "three");
    p.exp_string("thinking about: three").unwrap();
    p.exp_string(&l(PROMPT)).unwrap();
    exit_with_ctrl_d(p);
    let bodies = env.fake.chat_bodies();
    assert_eq!(bodies[0]["format"], "json");
    assert_eq!(bodies[0]["think"], "high");
    assert_eq!(bodies[1].get("format"), None);
    assert_eq!(bodies[1]["think"], false);
    assert_eq!(bodies[2]["think"], true);
}

#[test]
fn copy_writes_osc52_and_says_what() {
    let env = TestEnv::new();
    env.fake.push_chat(ChatReply::Tokens(vec![
        "Run:\n```sh\nls -l\n```\n".into(),
        "done".into(),
    ]));
    let mut p = start(&env, &[]);
    assert!(command(&mut p, "/copy").contains("There is no reply to copy yet."));
    enter(&mut p, "how?");
    p.exp_string("done").unwrap();
    p.exp_string(&l(PROMPT)).unwrap();
    let out = command(&mut p, "/copy 1");
    // base64("ls -l\n")
    assert!(out.contains("\u{1b}]52;c;bHMgLWwK\u{7}"), "{out:?}");
    assert!(
        out.contains("Copied code block 1 (sh, 1 line, 6 characters)"),
        "{out}"
    );
    let out = command(&mut p, "/copy");
    assert!(out.contains("Copied the last reply (5 lines"), "{out}");
    assert!(command(&mut p, "/copy 2").contains("only 1 code block"));
    exit_with_ctrl_d(p);
}

#[test]
fn context_and_stats_report_the_session() {
    let env = TestEnv::new();
    // Without the preload, whose /api/ps would already tell the loaded window.
    let mut p = start(&env, &["--no-preload"]);
    let out = command(&mut p, "/context");
    assert!(out.contains("Context: 0 / 2048 tokens (0%)"), "{out}");
    assert!(out.contains("the model's num_ctx parameter"), "{out}");
    assert!(out.contains("strategy        truncate"), "{out}");
    assert!(command(&mut p, "/stats").contains("No turns yet"));
    ask(&mut p, "one");
    ask(&mut p, "two");
    let out = command(&mut p, "/context");
    let log = env.log_records();
    // The whole history as the server counted it: the last prompt, plus the last reply with the
    // few template tokens around it (4).
    let prompt = log[1]["prompt_tokens"].as_u64().unwrap();
    let reply = log[1]["completion_tokens"].as_u64().unwrap();
    let used = prompt + reply + 4;
    assert!(
        out.contains(&format!("Context: {used} / 2048 tokens")),
        "{out}"
    );
    assert!(out.contains("the loaded model (GET /api/ps)"), "{out}");
    assert!(out.contains("4 of 4 counted by the server"), "{out}");
    let out = command(&mut p, "/stats");
    let tokens_in: u64 = log
        .iter()
        .map(|r| r["prompt_tokens"].as_u64().unwrap())
        .sum();
    let tokens_out: u64 = log
        .iter()
        .map(|r| r["completion_tokens"].as_u64().unwrap())
        .sum();
    assert!(out.contains("turns                2"), "{out}");
    assert!(
        out.contains(&format!("tokens in / out      {tokens_in} / {tokens_out}")),
        "{out}"
    );
    assert!(out.contains("latency              mean "), "{out}");
    assert!(out.contains("time to first token  mean "), "{out}");
    exit_with_ctrl_d(p);
}

#[test]
fn nohistory_stops_remembering_input() {
    let env = TestEnv::new();
    let mut p = start(&env, &[]);
    ask(&mut p, "remember me");
    command(&mut p, "/set nohistory");
    ask(&mut p, "secret line");
    command(&mut p, "/set history");
    ask(&mut p, "remembered again");
    exit_with_ctrl_d(p);
    let history = std::fs::read_to_string(env.history_path()).unwrap();
    assert!(history.contains("remember me"));
    assert!(!history.contains("secret line"));
    assert!(history.contains("remembered again"));
}
