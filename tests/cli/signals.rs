//! SIGTERM and SIGHUP: mid-reply they keep the partial reply (history, session file, `replay`)
//! and write a turn-log record of their own status, then exit 128+signal; at the REPL's prompt
//! they end the chat at once with the session saved and the terminal as it was.

use std::io::Read;
use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use rexpect::process::{Signal, WaitStatus};
use rexpect::session::PtySession;

use crate::harness::{read_jsonl, Api, TestEnv};
use crate::pty::{enter, l, start, PROMPT};
use crate::support::fake_ollama::{ChatReply, Script};

every_api!(
    sigterm_mid_reply_exits_143_and_keeps_the_partial_reply,
    sighup_mid_reply_exits_129_and_keeps_the_partial_reply,
    sigterm_mid_reply_in_the_repl_keeps_the_partial_reply_and_exits_143,
);

/// 400 tokens 25 ms apart: a reply still streaming when the test stops it.
pub fn slow_reply(env: &TestEnv) {
    env.fake.push_chat(ChatReply::Script(Script {
        tokens: (0..400).map(|i| format!(" w{i}")).collect(),
        delay: Duration::from_millis(25),
        ..Default::default()
    }));
}

pub fn kill(pid: u32, signal: &str) {
    let status = std::process::Command::new("kill")
        .args([&format!("-{signal}"), &pid.to_string()])
        .status()
        .unwrap();
    assert!(status.success());
}

/// One-shot mode, stopped by `signal` once the reply has started.
fn one_shot_stopped(api: Api, signal: &str, code: i32, status: &str) {
    let env = TestEnv::with(api);
    slow_reply(&env);
    let session = env.home.path().join("essay.jsonl");
    let mut child = env
        .std_command()
        .args(["-m", "tiny", "--session"])
        .arg(&session)
        .args(["-p", "write a long essay"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdout = child.stdout.take().unwrap();
    let mut first = [0u8; 6];
    stdout.read_exact(&mut first).unwrap(); // the reply has started
    kill(child.id(), signal);
    let mut rest = Vec::new();
    stdout.read_to_end(&mut rest).unwrap();
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(code), "{out:?}");
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert_eq!(
        stderr.trim_end(),
        format!("ollama-chat: stopped by SIG{signal}")
    );

    let shown = [&first[..], &rest].concat();
    let shown = String::from_utf8(shown).unwrap();
    assert!(shown.starts_with(" w0 w1"), "{shown}");
    assert!(!shown.contains("w399"));

    let rec = &env.log_records()[0];
    assert_eq!(rec["status"], status);
    assert_eq!(rec["model_response"], shown.as_str());

    let reply = last_reply(&session);
    assert_eq!(reply["status"], status);
    assert_eq!(reply["content"], shown.as_str());
    let replayed = env
        .cmd()
        .args(["replay"])
        .arg(&session)
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    let replayed = String::from_utf8(replayed).unwrap();
    assert!(replayed.contains(shown.trim()), "{replayed}");
    let said = if signal == "TERM" {
        "terminated (SIGTERM)"
    } else {
        "hung up (SIGHUP)"
    };
    assert!(replayed.contains(said), "{replayed}");

    // The readers of the log know the new status.
    env.cmd()
        .args(["logs", "--status", status])
        .assert()
        .success()
        .stdout(predicates::str::contains(status));
    let stats = env.cmd().args(["stats", "--json"]).assert().success();
    let stats: serde_json::Value = serde_json::from_slice(&stats.get_output().stdout).unwrap();
    assert_eq!(stats["overall"]["cancelled"], 1, "{stats}");
}

fn last_reply(session: &Path) -> serde_json::Value {
    read_jsonl(session)
        .into_iter()
        .rfind(|r| r["kind"] == "assistant")
        .expect("an assistant record")
}

fn sigterm_mid_reply_exits_143_and_keeps_the_partial_reply(api: Api) {
    one_shot_stopped(api, "TERM", 143, "terminated");
}

fn sighup_mid_reply_exits_129_and_keeps_the_partial_reply(api: Api) {
    one_shot_stopped(api, "HUP", 129, "hangup");
}

fn exit_code(mut p: PtySession) -> i32 {
    p.exp_eof().unwrap();
    match p.process().wait().unwrap() {
        WaitStatus::Exited(_, code) => code,
        other => panic!("unexpected exit: {other:?}"),
    }
}

fn sigterm_mid_reply_in_the_repl_keeps_the_partial_reply_and_exits_143(api: Api) {
    let env = TestEnv::with(api);
    slow_reply(&env);
    let session = env.home.path().join("essay.jsonl");
    let mut p = start(&env, &["--session", session.to_str().unwrap()]);
    enter(&mut p, "write a long essay");
    p.exp_string(&l(" w3")).unwrap();
    p.process_mut().signal(Signal::SIGTERM).unwrap();
    p.exp_string(&l("(stopped by SIGTERM)")).unwrap();
    p.exp_string(&l("ollama-chat: stopped by SIGTERM")).unwrap();
    assert_eq!(exit_code(p), 143);

    let reply = last_reply(&session);
    assert_eq!(reply["status"], "terminated");
    let content = reply["content"].as_str().unwrap();
    assert!(content.starts_with(" w0 w1 w2 w3"), "{content}");
    assert!(!content.contains("w399"));
    let rec = &env.log_records()[0];
    assert_eq!(rec["status"], "terminated");
    assert_eq!(rec["model_response"], content);

    // Resumed, the partial reply is part of the history the model sees.
    let mut p = start(&env, &["--session", session.to_str().unwrap()]);
    enter(&mut p, "go on");
    p.exp_string(&l("echo: go on")).unwrap();
    p.exp_string(&l(PROMPT)).unwrap();
    p.send_control('d').unwrap();
    assert_eq!(exit_code(p), 0);
    let second = crate::harness::messages(&env.fake.chat_bodies()[1]);
    assert_eq!(second[1], ("assistant".to_string(), content.to_string()));
}

#[test]
fn a_signal_at_the_prompt_ends_the_chat_at_once_with_the_session_saved() {
    for (signal, sig, code) in [("TERM", Signal::SIGTERM, 143), ("HUP", Signal::SIGHUP, 129)] {
        let env = TestEnv::new();
        let session = env.home.path().join("chat.jsonl");
        let mut p = start(
            &env,
            &["-m", "tiny", "--session", session.to_str().unwrap()],
        );
        enter(&mut p, "hello");
        p.exp_string(&l("echo: hello")).unwrap();
        p.exp_string(&l(PROMPT)).unwrap();
        p.send("half-typed").unwrap();
        std::thread::sleep(Duration::from_millis(200)); // the editor is in its read
        p.process_mut().signal(sig).unwrap();
        p.exp_string(&format!("ollama-chat: stopped by SIG{signal}"))
            .unwrap();
        assert_eq!(exit_code(p), code, "SIG{signal}");
        let kinds: Vec<_> = read_jsonl(&session)
            .iter()
            .map(|r| r["kind"].as_str().unwrap().to_string())
            .collect();
        assert_eq!(kinds, ["session", "user", "assistant"], "SIG{signal}");
        assert_eq!(last_reply(&session)["status"], "ok");
    }
}

#[test]
fn a_signal_at_the_prompt_gives_the_terminal_back_as_it_was() {
    // The terminal of a process that is still there after the chat ended: `stty` run on it.
    let env = TestEnv::new();
    let script = format!(
        "echo \"sh=$$.\"; stty -g > {0}/before; {1} -m tiny; echo \"exit=$?\"; stty -g > {0}/after; sleep 30",
        env.home.path().display(),
        TestEnv::bin().display(),
    );
    let chat = env.std_command();
    let mut sh = std::process::Command::new("sh");
    sh.args(["-c", &script]).current_dir(env.home.path());
    for (k, v) in chat.get_envs() {
        match v {
            Some(v) => sh.env(k, v),
            None => sh.env_remove(k),
        };
    }
    let mut p = rexpect::session::spawn_command(sh, Some(20_000)).unwrap();
    p.exp_string("sh=").unwrap();
    let sh_pid = p.exp_string(".").unwrap().parse().unwrap();
    p.exp_string(&l(PROMPT)).unwrap();
    let chat = child_of(sh_pid);
    kill(chat, "TERM");
    p.exp_string("exit=143").unwrap();
    let after = env.home.path().join("after");
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while !after.exists() && std::time::Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    std::thread::sleep(Duration::from_millis(100));
    let before = std::fs::read_to_string(env.home.path().join("before")).unwrap();
    assert_eq!(std::fs::read_to_string(after).unwrap(), before);
    p.process_mut().exit().ok();
}

/// The one child process of `pid` (the shell's ollama-chat), from /proc.
fn child_of(pid: u32) -> u32 {
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        let path = format!("/proc/{pid}/task/{pid}/children");
        let children = std::fs::read_to_string(path).unwrap_or_default();
        if let Some(c) = children.split_whitespace().next() {
            return c.parse().unwrap();
        }
        assert!(std::time::Instant::now() < deadline, "no child of {pid}");
        std::thread::sleep(Duration::from_millis(20));
    }
}
