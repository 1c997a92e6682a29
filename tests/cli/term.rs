//! The terminal description as the user sees it: `--color`, NO_COLOR and CLICOLOR_FORCE through
//! pipes and a pseudo-terminal, and `COLUMNS` as the wrap width.

use rexpect::session::{spawn_command, PtySession};

use crate::harness::{words, TestEnv};
use crate::pty::{enter, exit_with_ctrl_d, l, PROMPT};
use crate::support::fake_ollama::ChatReply;

const DIM: &str = "\u{1b}[2m";
const EXAMPLE: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/examples/teacher-session.jsonl"
);

/// A saved session named `thought` whose one reply has thinking.
fn session_with_thinking(env: &TestEnv) {
    env.fake.set_models(&["tiny-think"]);
    env.fake.push_chat(ChatReply::Thinking {
        thinking: words("let me think"),
        content: words("The sky is blue."),
    });
    env.cmd()
        .args(["--think", "--session", "thought", "-p", "why?"])
        .assert()
        .success();
}

fn replay_in_a_pipe(env: &TestEnv, args: &[&str], vars: &[(&str, &str)]) -> String {
    let mut cmd = env.cmd();
    cmd.args(["replay", "thought"]).args(args);
    for (k, v) in vars {
        cmd.env(k, v);
    }
    String::from_utf8(cmd.assert().success().get_output().stdout.clone()).unwrap()
}

#[test]
fn a_replay_in_a_pipe_is_plain_unless_colour_is_forced() {
    let env = TestEnv::new();
    session_with_thinking(&env);
    let plain = replay_in_a_pipe(&env, &[], &[]);
    assert!(!plain.contains('\u{1b}'), "{plain:?}");
    assert!(
        plain.contains("let me think\n\nThe sky is blue.\n"),
        "{plain:?}"
    );

    let dimmed = format!("{DIM}let me think\u{1b}[0m\n\nThe sky is blue.\n");
    for (args, vars) in [
        (&["--color", "always"][..], &[][..]),
        (&["--color=always"][..], &[("NO_COLOR", "1")][..]),
        (&[][..], &[("CLICOLOR_FORCE", "1")][..]),
    ] {
        let out = replay_in_a_pipe(&env, args, vars);
        assert!(out.contains(&dimmed), "{args:?} {vars:?}: {out:?}");
    }
    for (args, vars) in [
        (&["--color", "never"][..], &[("CLICOLOR_FORCE", "1")][..]),
        (&[][..], &[("CLICOLOR_FORCE", "0")][..]),
        (&[][..], &[("CLICOLOR_FORCE", "1"), ("NO_COLOR", "1")][..]),
    ] {
        let out = replay_in_a_pipe(&env, args, vars);
        assert!(!out.contains('\u{1b}'), "{args:?} {vars:?}: {out:?}");
    }
}

#[test]
fn logs_headers_are_bold_in_a_pipe_only_when_forced() {
    let env = TestEnv::new();
    env.cmd().args(["-p", "hi"]).assert().success();
    let logs = |args: &[&str]| {
        let out = env.cmd().arg("logs").args(args).assert().success();
        String::from_utf8(out.get_output().stdout.clone()).unwrap()
    };
    assert!(!logs(&[]).contains('\u{1b}'));
    assert!(logs(&["--color", "always"]).starts_with("\u{1b}[1mTIME"));
}

/// Runs the binary on a pseudo-terminal to its end; everything it wrote, as UTF-8.
fn pty_output(env: &TestEnv, args: &[&str], vars: &[(&str, &str)]) -> String {
    let mut cmd = env.std_command();
    cmd.args(args);
    for (k, v) in vars {
        cmd.env(k, v);
    }
    let mut p = spawn_command(cmd, Some(20_000)).expect("spawn in a pty");
    utf8(&p.exp_eof().unwrap())
}

/// rexpect reads bytes as Latin-1; back to the text they were.
fn utf8(latin1: &str) -> String {
    String::from_utf8(latin1.chars().map(|c| c as u8).collect()).unwrap()
}

#[test]
fn one_shot_thinking_on_a_terminal_is_dimmed_unless_colour_is_off() {
    let env = TestEnv::new();
    env.fake.set_models(&["tiny-think"]);
    for _ in 0..3 {
        env.fake.push_chat(ChatReply::Thinking {
            thinking: words("let me think"),
            content: words("The sky is blue."),
        });
    }
    let args = ["--think", "-p", "why?"];
    let out = pty_output(&env, &args, &[]);
    assert!(out.contains(&format!("{DIM}let me think")), "{out:?}");
    assert!(out.contains("The sky is blue."), "{out:?}");
    let never = pty_output(&env, &[&args[..], &["--color", "never"]].concat(), &[]);
    let no_color = pty_output(&env, &args, &[("NO_COLOR", "1")]);
    for out in [never, no_color] {
        assert!(out.contains("let me think"), "still shown: {out:?}");
        assert!(!out.contains(DIM), "{out:?}");
    }
}

/// The REPL on a pseudo-terminal: one question, everything shown until the next prompt.
fn repl_turn(env: &TestEnv, args: &[&str], vars: &[(&str, &str)]) -> String {
    let mut cmd = env.std_command();
    cmd.args(args);
    for (k, v) in vars {
        cmd.env(k, v);
    }
    let mut p: PtySession = spawn_command(cmd, Some(20_000)).expect("spawn in a pty");
    let mut seen = p.exp_string(&l(PROMPT)).unwrap();
    enter(&mut p, "why?");
    seen += &p.exp_string(&l("The sky is blue.")).unwrap();
    seen += &p.exp_string(&l(PROMPT)).unwrap();
    exit_with_ctrl_d(p);
    utf8(&seen)
}

#[test]
fn the_repl_dims_thinking_unless_colour_is_off() {
    let env = TestEnv::new();
    env.fake.set_models(&["tiny-think"]);
    for _ in 0..3 {
        env.fake.push_chat(ChatReply::Thinking {
            thinking: words("let me think"),
            content: words("The sky is blue."),
        });
    }
    let out = repl_turn(&env, &["--think"], &[]);
    assert!(out.contains(&format!("{DIM}let me think")), "{out:?}");
    for (args, vars) in [
        (&["--think", "--color", "never"][..], &[][..]),
        (&["--think"][..], &[("NO_COLOR", "1")][..]),
    ] {
        let out = repl_turn(&env, args, vars);
        assert!(out.contains("let me think"), "{out:?}");
        assert!(!out.contains(DIM), "{args:?} {vars:?}: {out:?}");
    }
}

#[test]
fn columns_sets_the_wrap_width_of_a_replay_on_a_terminal() {
    let env = TestEnv::new();
    let out = pty_output(&env, &["replay", EXAMPLE], &[("COLUMNS", "40")]);
    let reply = out
        .split("\r\n")
        .skip_while(|line| !line.starts_with("In English"))
        .take_while(|line| !line.contains("[my-teacher"))
        .collect::<Vec<_>>();
    assert!(reply.len() >= 3, "wrapped into several lines: {out:?}");
    for line in &reply {
        assert!(ollama_chat::table::width(line) <= 40, "{line:?} in {out:?}");
    }
    assert!(
        reply
            .concat()
            .contains("photosynthesis is the plant's kitchen."),
        "{reply:?}"
    );
    let never = pty_output(&env, &["replay", EXAMPLE, "--color", "never"], &[]);
    assert!(!never.contains('\u{1b}'), "{never:?}");
}
