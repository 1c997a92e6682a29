//! Markdown on a terminal, the model's bytes everywhere else: one-shot, the REPL and `replay` on
//! a pseudo-terminal, a pipe, `--raw`, `/set markdown off`, NO_COLOR, and Ctrl-C inside a code
//! block.

use std::time::Duration;

use rexpect::session::spawn_command;

use crate::harness::TestEnv;
use crate::pty::{enter, exit_with_ctrl_d, l, start, PROMPT};
use crate::support::fake_ollama::{ChatReply, Script};

const REPLY: &str =
    "## Plan\n\nUse **bold** and `code`.\n\n- one\n- two\n\n```python\nprint('hi')\n```\nDone.\n";

/// The reply in pieces of three bytes, as a model streams it.
fn pieces(s: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    for c in s.chars() {
        cur.push(c);
        if cur.len() >= 3 {
            out.push(std::mem::take(&mut cur));
        }
    }
    out.push(cur);
    out
}

/// Runs the binary on a pseudo-terminal to its end; everything it wrote, as UTF-8.
fn pty_output(env: &TestEnv, args: &[&str], vars: &[(&str, &str)]) -> String {
    let mut cmd = env.std_command();
    cmd.args(args).env("COLUMNS", "60");
    for (k, v) in vars {
        cmd.env(k, v);
    }
    let mut p = spawn_command(cmd, Some(20_000)).expect("spawn in a pty");
    utf8(&p.exp_eof().unwrap())
}

fn utf8(latin1: &str) -> String {
    String::from_utf8(latin1.chars().map(|c| c as u8).collect()).unwrap()
}

fn one_shot(env: &TestEnv, args: &[&str], vars: &[(&str, &str)]) -> String {
    env.fake.push_chat(ChatReply::Tokens(pieces(REPLY)));
    pty_output(env, &[&["-p", "plan?"], args].concat(), vars)
}

fn assert_rendered(out: &str) {
    assert!(out.contains("\x1b[0;1mbold\x1b[0m"), "{out:?}");
    assert!(out.contains("\x1b[0;36mcode\x1b[0m"), "{out:?}");
    assert!(out.contains("• \x1b[0mone"), "{out:?}");
    assert!(out.contains("── python"), "{out:?}");
    assert!(
        out.contains("\r\x1b[J"),
        "lines are restyled in place: {out:?}"
    );
}

#[test]
fn markdown_is_rendered_on_a_terminal() {
    let env = TestEnv::new();
    assert_rendered(&one_shot(&env, &[], &[]));
}

#[test]
fn a_pipe_gets_the_models_bytes() {
    let env = TestEnv::new();
    env.fake.push_chat(ChatReply::Tokens(pieces(REPLY)));
    let out = env.cmd().args(["-p", "plan?"]).assert().success();
    assert_eq!(String::from_utf8_lossy(&out.get_output().stdout), REPLY);
}

#[test]
fn raw_shows_the_reply_as_typed() {
    let env = TestEnv::new();
    for (args, vars) in [
        (&["--raw"][..], &[][..]),
        (&[][..], &[("OLLAMA_CHAT_MARKDOWN", "off")][..]),
    ] {
        let out = one_shot(&env, args, vars);
        assert!(out.contains("Use **bold** and `code`."), "{out:?}");
        assert!(out.contains("```python"), "{out:?}");
        assert!(!out.contains("\x1b[J") && !out.contains('•'), "{out:?}");
    }
}

#[test]
fn no_color_keeps_the_structure_without_styles() {
    let env = TestEnv::new();
    let out = one_shot(&env, &[], &[("NO_COLOR", "1")]);
    assert!(out.contains("• one"), "{out:?}");
    assert!(out.contains("── python"), "{out:?}");
    assert!(out.contains("## Plan"), "{out:?}");
    assert!(
        !out.contains("\x1b[0;") && !out.contains("\x1b[0m"),
        "{out:?}"
    );
}

#[test]
fn the_repl_renders_until_told_not_to() {
    let env = TestEnv::new();
    env.fake.push_chat(ChatReply::Tokens(pieces(REPLY)));
    env.fake.push_chat(ChatReply::Tokens(pieces(REPLY)));
    let mut p = start(&env, &[]);
    enter(&mut p, "plan?");
    let shown = utf8(&p.exp_string(&l("Done.")).unwrap());
    assert_rendered(&shown);
    p.exp_string(&l(PROMPT)).unwrap();
    enter(&mut p, "/set markdown off");
    p.exp_string(&l("Set markdown off.")).unwrap();
    p.exp_string(&l(PROMPT)).unwrap();
    enter(&mut p, "again");
    let raw = utf8(&p.exp_string(&l("Done.")).unwrap());
    assert!(raw.contains("Use **bold** and `code`."), "{raw:?}");
    assert!(!raw.contains("\x1b[J"), "{raw:?}");
    p.exp_string(&l(PROMPT)).unwrap();
    exit_with_ctrl_d(p);
}

#[test]
fn ctrl_c_inside_a_code_block_leaves_styles_reset() {
    let env = TestEnv::new();
    let mut tokens = vec!["```rust\n".to_string(), "fn main() {\n".to_string()];
    tokens.extend((0..300).map(|i| format!("    let x{i} = \"s\";\n")));
    env.fake.push_chat(ChatReply::Script(Script {
        tokens,
        delay: Duration::from_millis(30),
        ..Default::default()
    }));
    let mut p = start(&env, &[]);
    enter(&mut p, "write code");
    p.exp_string(&l("let x3 = ")).unwrap();
    p.send_control('c').unwrap();
    let seen = utf8(&p.exp_string(&l("(cancelled)")).unwrap());
    assert!(
        seen.contains("\x1b[0;32m\"s\"\x1b[0m"),
        "highlighted: {seen:?}"
    );
    let before_note = seen.trim_end_matches("\x1b[2m");
    assert!(
        before_note.ends_with("\x1b[0m"),
        "the reply ends with a reset: {seen:?}"
    );
    p.exp_string(&l(PROMPT)).unwrap();
    exit_with_ctrl_d(p);
}

#[test]
fn replay_on_a_terminal_renders_the_same_way() {
    let env = TestEnv::new();
    env.fake.push_chat(ChatReply::Tokens(pieces(REPLY)));
    env.cmd()
        .args(["--session", "md", "-p", "plan?"])
        .assert()
        .success();
    assert_rendered(&pty_output(&env, &["replay", "md"], &[]));
    let piped = env.cmd().args(["replay", "md"]).assert().success();
    let piped = String::from_utf8_lossy(&piped.get_output().stdout).to_string();
    assert!(piped.contains("Use **bold** and `code`."), "{piped:?}");
}

#[test]
fn replay_rerun_on_a_terminal_renders_the_new_replies() {
    let env = TestEnv::new();
    env.fake.push_chat(ChatReply::Tokens(pieces(REPLY)));
    env.cmd()
        .args(["--session", "md", "-p", "plan?"])
        .assert()
        .success();
    env.fake.push_chat(ChatReply::Tokens(pieces(REPLY)));
    assert_rendered(&pty_output(
        &env,
        &["--no-session", "replay", "md", "--rerun"],
        &[],
    ));
    env.fake.push_chat(ChatReply::Tokens(pieces(REPLY)));
    let piped = env
        .cmd()
        .args(["--no-session", "replay", "md", "--rerun"])
        .assert()
        .success();
    let piped = String::from_utf8_lossy(&piped.get_output().stdout).to_string();
    assert!(piped.contains("Use **bold** and `code`."), "{piped:?}");
}
