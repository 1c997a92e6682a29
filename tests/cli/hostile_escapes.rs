//! The fake in hostile mode with escape sequences in every field the server controls, under every
//! API: no raw control byte from the server reaches stderr, and no hostile sequence reaches the
//! terminal (error texts in one-shot runs, a reply's thinking and statistics, model names in the
//! "several models" error, `/models` and Tab completion, and `show`/`ps`).

use std::process::Command;

use rexpect::session::spawn_command;

use crate::harness::{Api, TestEnv};
use crate::pty::{enter, exit_with_ctrl_d, l, start, PROMPT};
use crate::support::fake_ollama::{Failure, Hostile};

every_api!(
    escapes_in_error_texts_never_reach_stderr,
    escapes_in_a_reply_never_reach_the_terminal,
    escapes_in_the_several_models_error_never_reach_stderr,
    escapes_in_models_never_reach_the_terminal,
    escapes_in_tab_completion_never_reach_the_terminal,
    escapes_in_a_saved_session_never_reach_the_terminal,
);

/// Bytes no diagnostic may hold: C0 controls but `\n` and `\t`, DEL, C1 controls (as UTF-8), and
/// the bidi overrides and isolates.
fn raw_controls(text: &str) -> Vec<char> {
    text.chars()
        .filter(|&c| {
            (c < ' ' && c != '\n' && c != '\t')
                || ('\u{7f}'..='\u{9f}').contains(&c)
                || ('\u{202a}'..='\u{202e}').contains(&c)
                || ('\u{2066}'..='\u{2069}').contains(&c)
        })
        .collect()
}

pub fn assert_clean(what: &str, text: &str) {
    let found = raw_controls(text);
    assert!(found.is_empty(), "{what}: {found:?} in {text:?}");
}

/// The sequences of the fake's escape text that must never reach a terminal raw (the program's
/// own colours and line editing use ESC too, so a terminal is checked for these, not for ESC).
const ON_A_TERMINAL: &[&str] = &[
    "\x1b[2J",
    "\x1b]0;evil",
    "\x1b]52;c;ZXZpbA",
    "\x1bP+q",
    "\x1b[6n\u{9b}",
    "\u{9b}31m",
    "\u{202e}evil",
    "\x07\r",
];

/// The hostile sequences in what rexpect read from a terminal (bytes as Latin-1 characters).
fn terminal_leaks(seen: &str) -> Vec<&'static str> {
    let bytes: Vec<u8> = seen.chars().map(|c| c as u8).collect();
    let text = String::from_utf8_lossy(&bytes);
    let mut leaks: Vec<&str> = ON_A_TERMINAL
        .iter()
        .copied()
        .filter(|seq| text.contains(seq))
        .collect();
    if bytes.contains(&0) {
        leaks.push("\0");
    }
    leaks
}

/// What rexpect read from a terminal is free of hostile sequences.
fn assert_terminal_clean(what: &str, seen: &str) {
    let leaks = terminal_leaks(seen);
    assert!(leaks.is_empty(), "{what}: {leaks:?} in {seen:?}");
}

fn escapes_in_error_texts_never_reach_stderr(api: Api) {
    let env = TestEnv::with(api);
    for failure in [Failure::Status(500), Failure::HtmlPage, Failure::InStream] {
        env.fake.set_hostile(Some(Hostile::Escapes(failure)));
        let out = env.cmd().args(["-m", "tiny", "-p", "hi"]).output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{failure:?}: {stderr}");
        assert!(
            stderr.contains("pwned"),
            "{failure:?}: the text is shown: {stderr}"
        );
        assert_clean(&format!("{failure:?}"), &stderr);
    }
}

fn escapes_in_a_reply_never_reach_the_terminal(api: Api) {
    let env = TestEnv::with(api);
    env.fake.set_hostile(Some(Hostile::Escapes(Failure::None)));
    let args = ["-m", "tiny", "--verbose", env.think_flag(), "-p", "hi"];
    // In pipes the reply stays byte-exact on stdout; stderr is clean.
    let out = env.cmd().args(args).output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert_clean("statistics", &stderr);
    // On a terminal: the reply, its thinking, the statistics.
    let seen = on_a_terminal(&env, &args);
    assert!(seen.contains("pwned"), "{seen:?}");
    assert_terminal_clean("a reply with its thinking", &seen);
}

fn escapes_in_the_several_models_error_never_reach_stderr(api: Api) {
    let env = TestEnv::with(api);
    env.fake.set_hostile(Some(Hostile::Escapes(Failure::None)));
    let out = env.cmd().args(["-p", "hi"]).output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("evil"), "{stderr}");
    assert_clean("the several-models error", &stderr);
}

fn escapes_in_models_never_reach_the_terminal(api: Api) {
    let env = TestEnv::with(api);
    env.fake.set_hostile(Some(Hostile::Escapes(Failure::None)));
    let mut p = start(&env, &["-m", "tiny"]);
    enter(&mut p, "/models");
    let listed = p.exp_string(&l(PROMPT)).unwrap();
    exit_with_ctrl_d(p);
    assert!(listed.contains("evil"), "{listed:?}");
    assert_terminal_clean("/models", &listed);
}

/// Tab offers only names that need no sanitising (a completion is typed into the line as it
/// is), so the hostile model is never completed, and nothing raw reaches the screen.
fn escapes_in_tab_completion_never_reach_the_terminal(api: Api) {
    let env = TestEnv::with(api);
    env.fake.set_hostile(Some(Hostile::Escapes(Failure::None)));
    let mut p = start(&env, &["-m", "tiny"]);
    p.send("/load ev\t").unwrap();
    p.flush().unwrap();
    // Give the editor time to fetch the names and draw any completion, then clear the line.
    std::thread::sleep(std::time::Duration::from_millis(500));
    p.send_control('u').unwrap();
    enter(&mut p, "/help");
    let seen = p.exp_string(&l(PROMPT)).unwrap();
    exit_with_ctrl_d(p);
    assert!(seen.contains("/load ev"), "{seen:?}");
    assert!(
        !seen.contains("pwned"),
        "the hostile name was completed: {seen:?}"
    );
    assert_terminal_clean("Tab completion", &seen);
}

/// A subcommand run in a pseudo-terminal, as a user would; what it printed.
fn on_a_terminal(env: &TestEnv, args: &[&str]) -> String {
    let mut cmd: Command = env.std_command();
    cmd.args(args);
    let mut p = spawn_command(cmd, Some(20_000)).expect("spawn in a pty");
    p.exp_eof().expect("the command ends")
}

#[test]
fn escapes_in_show_and_ps_never_reach_the_terminal() {
    let env = TestEnv::with(Api::Ollama);
    env.fake.set_hostile(Some(Hostile::Escapes(Failure::None)));
    // Load the model so that `ps` lists it.
    env.cmd()
        .args(["-m", "tiny", "-p", "hi"])
        .assert()
        .success();
    for args in [
        &["show", "tiny"][..],
        &["show", "tiny", "--modelfile"],
        &["show", "tiny", "--template"],
        &["show", "tiny", "--parameters"],
        &["ps"],
        &["models"],
    ] {
        let seen = on_a_terminal(&env, args);
        assert!(seen.contains("pwned"), "{}: {seen:?}", args.join(" "));
        assert_terminal_clean(&args.join(" "), &seen);
    }
}

#[test]
fn escapes_in_show_in_the_repl_never_reach_the_terminal() {
    let env = TestEnv::with(Api::Ollama);
    env.fake.set_hostile(Some(Hostile::Escapes(Failure::None)));
    let mut p = start(&env, &["-m", "tiny"]);
    let mut seen = String::new();
    for what in [
        "info",
        "modelfile",
        "parameters",
        "template",
        "system",
        "license",
    ] {
        enter(&mut p, &format!("/show {what}"));
        seen.push_str(&p.exp_string(&l(PROMPT)).unwrap());
    }
    exit_with_ctrl_d(p);
    assert!(seen.contains("pwned"), "{seen:?}");
    assert_terminal_clean("/show", &seen);
}

fn escapes_in_a_saved_session_never_reach_the_terminal(api: Api) {
    let env = TestEnv::with(api);
    env.fake.set_hostile(Some(Hostile::Escapes(Failure::None)));
    let think = env.think_flag();
    env.cmd()
        .args(["--session", "evil", "-m", "tiny", think, "-p", "hi"])
        .assert()
        .success();
    env.fake
        .set_hostile(Some(Hostile::Escapes(Failure::InStream)));
    env.cmd()
        .args(["--session", "evil", "-m", "tiny", "-p", "again"])
        .assert()
        .code(1);
    let mut leaked = Vec::new();
    for args in [
        &["sessions"][..],
        &["sessions", "show", "evil"],
        &["replay", "evil"],
    ] {
        let seen = on_a_terminal(&env, args);
        let leaks = terminal_leaks(&seen);
        if !leaks.is_empty() {
            leaked.push(format!("{}: {leaks:?} in {seen:?}", args.join(" ")));
        }
    }
    assert!(leaked.is_empty(), "{leaked:#?}");
}
