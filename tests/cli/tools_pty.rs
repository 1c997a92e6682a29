//! The approval prompt as a person answers it, through a pseudo-terminal: each answer (no, then
//! explain and always, then yes for a command) and Ctrl-C during a slow command.

use std::time::Duration;

use rexpect::session::spawn_command;
use serde_json::{json, Value};

use crate::harness::TestEnv;
use crate::pty::{enter, exit_with_ctrl_d, l, PROMPT};
use crate::support::fake_ollama::{ChatReply, Script};

const MODEL: &str = "tiny-tools";

/// One key, as a person presses it (no Enter).
fn key(p: &mut rexpect::session::PtySession, k: &str) {
    p.send(k).unwrap();
    p.flush().unwrap();
}

fn tool_contents(body: &Value) -> Vec<String> {
    body["messages"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|m| m["role"] == "tool")
        .map(|m| m["content"].as_str().unwrap_or("").to_string())
        .collect()
}

#[test]
fn each_answer_at_the_approval_prompt() {
    let env = TestEnv::new();
    env.fake.set_models(&[MODEL]);
    let work = env.home.path().join("work");
    std::fs::create_dir_all(&work).unwrap();
    std::fs::write(work.join("笔记.txt"), "你好\n").unwrap();
    let read = || ChatReply::calls(&[("read_file", json!({"path": "笔记.txt"}))]);
    for reply in [read(), ChatReply::Tokens(vec!["declined".into()])] {
        env.fake.push_chat(reply);
    }
    let mut cmd = env.std_command();
    cmd.current_dir(&work)
        .args(["-m", MODEL, "--tools", "read_file,run_command"]);
    let mut p = spawn_command(cmd, Some(20_000)).unwrap();
    p.exp_string(&l(PROMPT)).unwrap();

    // No: the model is told, and answers.
    enter(&mut p, "read it");
    p.exp_string(&l(
        r#"Run read_file {"path":"笔记.txt"}? [y]es / [n]o / [a]lways for this tool / [e]xplain"#,
    ))
    .unwrap();
    key(&mut p, "n");
    p.exp_string("declined").unwrap();
    p.exp_string(&l(PROMPT)).unwrap();
    let bodies = env.fake.chat_bodies();
    assert_eq!(
        tool_contents(&bodies[1]),
        ["The user declined to run this call."]
    );

    // Explain, then always: it runs, and the next call of it is not asked about.
    for reply in [
        read(),
        ChatReply::Tokens(vec!["read".into()]),
        read(),
        ChatReply::Tokens(vec!["again".into()]),
    ] {
        env.fake.push_chat(reply);
    }
    enter(&mut p, "now read it");
    p.exp_string("[e]xplain").unwrap();
    key(&mut p, "e");
    p.exp_string("This tool reads files").unwrap();
    p.exp_string("[e]xplain").unwrap();
    key(&mut p, "a");
    p.exp_string("read").unwrap();
    p.exp_string(&l(PROMPT)).unwrap();
    enter(&mut p, "once more");
    p.exp_string("again").unwrap();
    p.exp_string(&l(PROMPT)).unwrap();
    let bodies = env.fake.chat_bodies();
    assert_eq!(tool_contents(&bodies[3]).last().unwrap(), "你好\n");
    assert_eq!(tool_contents(&bodies[5]).last().unwrap(), "你好\n");

    // A command: no "always" offered; yes runs it.
    for reply in [
        ChatReply::calls(&[("run_command", json!({"command": "echo 你好世界"}))]),
        ChatReply::Tokens(vec!["ran".into()]),
    ] {
        env.fake.push_chat(reply);
    }
    enter(&mut p, "run");
    p.exp_string(&l(
        r#"Run run_command {"command":"echo 你好世界"}? [y]es / [n]o / [e]xplain"#,
    ))
    .unwrap();
    key(&mut p, "y");
    p.exp_string("ran").unwrap();
    p.exp_string(&l(PROMPT)).unwrap();
    let bodies = env.fake.chat_bodies();
    assert_eq!(
        tool_contents(&bodies[7]).last().unwrap(),
        "exit status 0\n你好世界\n"
    );
    exit_with_ctrl_d(p);
}

#[test]
fn ctrl_c_stops_a_running_command_and_its_whole_group() {
    let env = TestEnv::new();
    env.fake.set_models(&[MODEL]);
    let pid_file = env.home.path().join("pid");
    let command = format!("sleep 60 & echo $! > {}; wait", pid_file.display());
    env.fake.push_chat(ChatReply::calls(&[
        ("run_command", json!({ "command": command })),
        ("run_command", json!({"command": "echo never"})),
    ]));
    let mut cmd = env.std_command();
    cmd.args(["-m", MODEL, "--tools", "run_command"]);
    let mut p = spawn_command(cmd, Some(20_000)).unwrap();
    p.exp_string(&l(PROMPT)).unwrap();
    enter(&mut p, "sleep");
    p.exp_string("[e]xplain").unwrap();
    key(&mut p, "y");
    for _ in 0..100 {
        if pid_file.exists() {
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    std::thread::sleep(Duration::from_millis(100));
    p.send_control('c').unwrap();
    p.exp_string("(tool calls stopped)").unwrap();
    p.exp_string(&l(PROMPT)).unwrap();
    let pid: i32 = std::fs::read_to_string(&pid_file)
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    let mut gone = false;
    for _ in 0..100 {
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
        if stat.is_empty() || stat.contains(") Z") {
            gone = true;
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(
        gone,
        "the command's background sleep was killed with its group"
    );
    assert_eq!(
        env.fake.chat_bodies().len(),
        1,
        "no reply asked for after a stop"
    );

    // The history stays consistent: both calls have results, and the next message goes out.
    env.fake.push_chat(ChatReply::Script(Script {
        tokens: vec!["好的".into()],
        ..Script::default()
    }));
    enter(&mut p, "next");
    p.exp_string(&l("好的")).unwrap();
    p.exp_string(&l(PROMPT)).unwrap();
    let bodies = env.fake.chat_bodies();
    let results = tool_contents(&bodies[1]);
    assert_eq!(results.len(), 2);
    assert!(results[0].starts_with("Stopped"), "{results:?}");
    assert!(results[1].contains("stopped the tool calls"), "{results:?}");
    exit_with_ctrl_d(p);
}

#[test]
fn slash_tools_lists_and_turns_them_off() {
    let env = TestEnv::new();
    env.fake.set_models(&[MODEL]);
    let spec = format!(
        "t=sh {}/tests/fixtures/mcp/server.sh",
        env!("CARGO_MANIFEST_DIR")
    );
    let mut cmd = env.std_command();
    cmd.args([
        "-m",
        MODEL,
        "--tools",
        "now",
        "--allow-tool",
        "now",
        "--mcp",
        &spec,
    ]);
    let mut p = spawn_command(cmd, Some(20_000)).unwrap();
    p.exp_string(&l(PROMPT)).unwrap();
    enter(&mut p, "/tools");
    p.exp_string("Tools are on.").unwrap();
    p.exp_string("now").unwrap();
    p.exp_string("runs without asking").unwrap();
    p.exp_string("t.echo").unwrap();
    p.exp_string("asks first; is run by an MCP server").unwrap();
    p.exp_string(&l(PROMPT)).unwrap();
    enter(&mut p, "/tools off");
    p.exp_string("Tools are off").unwrap();
    p.exp_string(&l(PROMPT)).unwrap();
    enter(&mut p, "hi");
    p.exp_string("echo: hi").unwrap();
    p.exp_string(&l(PROMPT)).unwrap();
    enter(&mut p, "/tools on");
    p.exp_string("Tools are on").unwrap();
    p.exp_string(&l(PROMPT)).unwrap();
    env.fake.push_chat(ChatReply::Tokens(vec!["yes".into()]));
    enter(&mut p, "again");
    p.exp_string("yes").unwrap();
    p.exp_string(&l(PROMPT)).unwrap();
    let bodies = env.fake.chat_bodies();
    assert!(bodies[0].get("tools").is_none(), "off: no tools sent");
    assert_eq!(bodies[1]["tools"].as_array().unwrap().len(), 5);
    exit_with_ctrl_d(p);
}

#[test]
fn one_shot_on_a_terminal_asks_too() {
    let env = TestEnv::new();
    env.fake.set_models(&[MODEL]);
    env.fake.push_chat(ChatReply::calls(&[("now", json!({}))]));
    env.fake.push_chat(ChatReply::Tokens(vec!["正午".into()]));
    let mut cmd = env.std_command();
    cmd.args(["-m", MODEL, "--tools", "now", "-p", "time?"]);
    let mut p = spawn_command(cmd, Some(20_000)).unwrap();
    p.exp_string("Run now {}? [y]es / [n]o / [a]lways for this tool / [e]xplain")
        .unwrap();
    key(&mut p, "y");
    p.exp_string(&l("正午")).unwrap();
    p.exp_eof().unwrap();
    let results = tool_contents(&env.fake.chat_bodies()[1]);
    assert!(results[0].contains('T'), "the clock was read: {results:?}");
}

#[test]
fn a_rerun_on_a_terminal_asks_before_running_a_tool() {
    let env = TestEnv::new();
    env.fake.set_models(&[MODEL]);
    let work = env.home.path().join("work");
    std::fs::create_dir_all(&work).unwrap();
    std::fs::write(work.join("笔记.txt"), "你好\n").unwrap();
    let session = env.home.path().join("s.jsonl");
    std::fs::write(
        &session,
        concat!(
            r#"{"kind":"session","version":2,"id":"2e20de3d-d339-4a37-a9ad-3d908f72d5ad","created":"2026-11-29T01:14:49.215Z","model":"tiny-tools","host":"http://127.0.0.1:1"}"#,
            "\n",
            r#"{"at":"2026-11-29T01:14:50.000Z","kind":"user","content":"read it"}"#,
            "\n",
            r#"{"at":"2026-11-29T01:14:51.000Z","kind":"assistant","content":"old answer","status":"ok","latency":0.4}"#,
            "\n",
        ),
    )
    .unwrap();
    env.fake.push_chat(ChatReply::calls(&[(
        "read_file",
        json!({"path": "笔记.txt"}),
    )]));
    env.fake
        .push_chat(ChatReply::Tokens(vec!["new answer".into()]));
    let mut cmd = env.std_command();
    cmd.current_dir(&work)
        .args(["--no-session", "--tools", "read_file", "replay"])
        .args([session.to_str().unwrap(), "--rerun"]);
    let mut p = spawn_command(cmd, Some(20_000)).unwrap();
    p.exp_string(&l(
        r#"Run read_file {"path":"笔记.txt"}? [y]es / [n]o / [a]lways for this tool / [e]xplain"#,
    ))
    .unwrap();
    key(&mut p, "y");
    p.exp_string("new answer").unwrap();
    p.exp_eof().unwrap();
    let bodies = env.fake.chat_bodies();
    assert_eq!(tool_contents(&bodies[1]), ["你好\n"]);
}

#[test]
fn switching_model_checks_again_whether_it_takes_tools() {
    let env = TestEnv::new();
    env.fake.set_models(&[MODEL, "tiny"]);
    let mut cmd = env.std_command();
    cmd.args(["-m", MODEL, "--tools", "now", "--allow-tool", "now"]);
    let mut p = spawn_command(cmd, Some(20_000)).unwrap();
    p.exp_string(&l(PROMPT)).unwrap();
    enter(&mut p, "/model tiny");
    p.exp_string(
        "tiny does not support tools (its capabilities: completion); chatting without them",
    )
    .unwrap();
    p.exp_string(&l(PROMPT)).unwrap();
    enter(&mut p, "hi");
    p.exp_string("echo: hi").unwrap();
    p.exp_string(&l(PROMPT)).unwrap();
    enter(&mut p, &format!("/model {MODEL}"));
    p.exp_string(&format!("{MODEL} supports tools: they are on again."))
        .unwrap();
    p.exp_string(&l(PROMPT)).unwrap();
    env.fake
        .push_chat(ChatReply::Tokens(vec!["with tools".into()]));
    enter(&mut p, "again");
    p.exp_string("with tools").unwrap();
    p.exp_string(&l(PROMPT)).unwrap();
    let bodies = env.fake.chat_bodies();
    assert_eq!(bodies.len(), 2);
    assert!(bodies[0].get("tools").is_none(), "tiny is sent no tools");
    assert_eq!(bodies[1]["tools"][0]["function"]["name"], "now");
    exit_with_ctrl_d(p);
}
