//! A session file removed or replaced under a running REPL: the chat says so in one line and
//! saves the whole session again (there, or beside the file that took its place), so no later
//! turn is lost and the other file is left alone.

use crate::harness::{read_jsonl, TestEnv};
use crate::pty::{enter, l, start, PROMPT};

fn ask(p: &mut rexpect::session::PtySession, text: &str) {
    enter(p, text);
    p.exp_string(&l(&format!("echo: {text}"))).unwrap();
    p.exp_string(&l(PROMPT)).unwrap();
}

fn said(path: &std::path::Path) -> Vec<String> {
    read_jsonl(path)
        .iter()
        .filter(|r| r["kind"] == "user")
        .map(|r| r["content"].as_str().unwrap().to_string())
        .collect()
}

#[test]
fn a_removed_session_file_is_saved_again_with_a_note() {
    let env = TestEnv::new();
    let session = env.home.path().join("work.jsonl");
    let mut p = start(
        &env,
        &["-m", "tiny", "--session", session.to_str().unwrap()],
    );
    ask(&mut p, "first");
    std::fs::remove_file(&session).unwrap();
    enter(&mut p, "second");
    p.exp_string(&format!(
        "the session file {} was removed; saving this session again there",
        session.display()
    ))
    .unwrap();
    p.exp_string(&l("echo: second")).unwrap();
    p.exp_string(&l(PROMPT)).unwrap();
    ask(&mut p, "third");
    crate::pty::exit_with_ctrl_d(p);
    assert_eq!(said(&session), ["first", "second", "third"]);
    let kinds: Vec<_> = read_jsonl(&session)
        .iter()
        .map(|r| r["kind"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(kinds[0], "session", "whole again, header first");
}

#[test]
fn a_replaced_session_file_is_left_alone_and_the_chat_saves_beside_it() {
    let env = TestEnv::new();
    let session = env.home.path().join("work.jsonl");
    let mut p = start(
        &env,
        &["-m", "tiny", "--session", session.to_str().unwrap()],
    );
    ask(&mut p, "first");
    let other = env.home.path().join("other.tmp");
    std::fs::write(&other, "not ours\n").unwrap();
    std::fs::rename(&other, &session).unwrap();
    let beside = env.home.path().join("work-2.jsonl");
    enter(&mut p, "second");
    p.exp_string(&format!(
        "the session file {} was replaced by another file; saving this session to {} instead",
        session.display(),
        beside.display()
    ))
    .unwrap();
    p.exp_string(&l(PROMPT)).unwrap();
    enter(&mut p, "/session");
    p.exp_string(&beside.display().to_string()).unwrap();
    p.exp_string(&l(PROMPT)).unwrap();
    crate::pty::exit_with_ctrl_d(p);
    assert_eq!(std::fs::read_to_string(&session).unwrap(), "not ours\n");
    assert_eq!(said(&beside), ["first", "second"]);
}
