//! Pseudo-terminal helpers shared by the REPL tests: start the binary, type like a person.

use rexpect::process::WaitStatus;
use rexpect::session::{spawn_command, PtySession};

use crate::harness::TestEnv;

/// The end of every prompt (a quiet model hint comes before it).
pub const PROMPT: &str = ">>> ";

/// rexpect reads the terminal byte by byte as Latin-1; this turns UTF-8 text into what it sees.
pub fn l(s: &str) -> String {
    s.bytes().map(char::from).collect()
}

/// Types `text` and presses Enter. A terminal sends CR for Enter; LF is Ctrl+J, which inserts a
/// newline into the message instead (so `send_line` would not submit anything).
pub fn enter(p: &mut PtySession, text: &str) {
    p.send(text).unwrap();
    p.send("\r").unwrap();
    p.flush().unwrap();
}

/// Starts the REPL with `args` and waits for the first prompt.
pub fn start(env: &TestEnv, args: &[&str]) -> PtySession {
    start_with(env, args, &[])
}

/// The same with extra environment variables.
pub fn start_with(env: &TestEnv, args: &[&str], vars: &[(&str, &str)]) -> PtySession {
    let mut cmd = env.std_command();
    cmd.args(args);
    for (k, v) in vars {
        cmd.env(k, v);
    }
    let mut p = spawn_command(cmd, Some(20_000)).expect("spawn in a pty");
    p.exp_string(&l(PROMPT)).expect("the prompt appears");
    p
}

/// Ctrl-D at an empty prompt; the program must exit 0.
pub fn exit_with_ctrl_d(mut p: PtySession) {
    p.send_control('d').unwrap();
    p.exp_eof().unwrap();
    match p.process().wait().unwrap() {
        WaitStatus::Exited(_, code) => assert_eq!(code, 0),
        other => panic!("unexpected exit: {other:?}"),
    }
}
