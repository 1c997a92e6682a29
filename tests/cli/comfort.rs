//! Everyday comfort through a pseudo-terminal, as a person types: vi keys from the config file or
//! `/set vi`, shown in the prompt, and editing with them.

use std::time::Duration;

use crate::harness::TestEnv;
use crate::pty::{enter, exit_with_ctrl_d, l, start, PROMPT};

fn last_user_message(env: &TestEnv) -> String {
    let bodies = env.fake.chat_bodies();
    let msgs = crate::harness::messages(bodies.last().expect("a chat request"));
    msgs.last().unwrap().1.clone()
}

/// Esc, then a pause longer than the editor waits for the rest of an escape sequence.
fn escape(p: &mut rexpect::session::PtySession) {
    p.send("\x1b").unwrap();
    p.flush().unwrap();
    std::thread::sleep(Duration::from_millis(700));
}

#[test]
fn vi_keys_from_the_config_file_edit_the_line() {
    let env = TestEnv::new();
    let dir = env.home.path().join(".config/ollama-chat");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("config.toml"), "keys = \"vi\"\n").unwrap();
    let mut p = rexpect::session::spawn_command(env.std_command(), Some(20_000)).unwrap();
    p.exp_string("[vi] >>> ").unwrap();
    // Insert "hellp", Esc to normal mode (the cursor steps back onto the `p`), `x` deletes it,
    // `a` appends after the cursor.
    p.send("hellp").unwrap();
    p.flush().unwrap();
    escape(&mut p);
    p.send("x").unwrap();
    p.send("a").unwrap();
    enter(&mut p, "o 你好");
    p.exp_string(&l("echo: hello 你好")).unwrap();
    p.exp_string(PROMPT).unwrap();
    // Back to emacs keys: Ctrl-A goes to the start of the line.
    enter(&mut p, "/set emacs");
    p.exp_string("Set 'emacs' keys.").unwrap();
    p.exp_string(&l(PROMPT)).unwrap();
    p.send("world").unwrap();
    p.send_control('a').unwrap();
    enter(&mut p, "hello ");
    p.exp_string("echo: hello world").unwrap();
    p.exp_string(PROMPT).unwrap();
    exit_with_ctrl_d(p);
    assert_eq!(last_user_message(&env), "hello world");
    assert_eq!(env.fake.chat_bodies().len(), 2);
}

#[test]
fn set_vi_switches_the_keys_and_the_prompt_says_so() {
    let env = TestEnv::new();
    let mut p = start(&env, &[]);
    enter(&mut p, "/set vi");
    p.exp_string("Set 'vi' keys").unwrap();
    p.exp_string("[vi] >>> ").unwrap();
    p.send("abc").unwrap();
    p.flush().unwrap();
    escape(&mut p);
    // `0` to the start, `i` to insert there.
    p.send("0").unwrap();
    p.send("i").unwrap();
    enter(&mut p, "x");
    p.exp_string("echo: xabc").unwrap();
    p.exp_string(PROMPT).unwrap();
    exit_with_ctrl_d(p);
    assert_eq!(last_user_message(&env), "xabc");
}

#[test]
fn several_models_are_offered_at_the_start_and_the_choice_is_remembered() {
    let env = TestEnv::new();
    env.fake.set_models(&["alpha", "beta"]);
    let mut p = rexpect::session::spawn_command(env.std_command(), Some(20_000)).unwrap();
    p.exp_string("Several models are installed; choose one:")
        .unwrap();
    p.exp_string("1) alpha").unwrap();
    p.exp_string("2) beta").unwrap();
    p.exp_string("[1 = alpha").unwrap();
    enter(&mut p, "2");
    p.exp_string(PROMPT).unwrap();
    enter(&mut p, "hi");
    p.exp_string("echo: hi").unwrap();
    p.exp_string(PROMPT).unwrap();
    exit_with_ctrl_d(p);
    assert!(env.fake.chat_bodies()[0]["model"]
        .as_str()
        .unwrap()
        .starts_with("beta"));

    // The next start offers beta first; Enter takes it. `/model` offers the list again.
    let mut p = rexpect::session::spawn_command(env.std_command(), Some(20_000)).unwrap();
    p.exp_string("1) beta").unwrap();
    p.exp_string("[1 = beta").unwrap();
    enter(&mut p, "");
    p.exp_string(PROMPT).unwrap();
    enter(&mut p, "/model");
    p.exp_string("*1) beta").unwrap();
    p.exp_string("Enter keeps beta").unwrap();
    enter(&mut p, "alp");
    p.exp_string("Switched to alpha").unwrap();
    p.exp_string(PROMPT).unwrap();
    enter(&mut p, "again");
    p.exp_string("echo: again").unwrap();
    p.exp_string(PROMPT).unwrap();
    exit_with_ctrl_d(p);
    let bodies = env.fake.chat_bodies();
    assert!(bodies[1]["model"].as_str().unwrap().starts_with("alpha"));
    // One-shot mode keeps the error: a script cannot answer a question.
    let out = env.cmd().args(["-p", "hi"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("several models are available"));
}

#[test]
fn after_a_pipe_dash_i_answers_then_chats_on_at_the_terminal() {
    let env = TestEnv::new();
    let mut cmd = env.std_command();
    let bin = crate::harness::TestEnv::bin();
    cmd.env("BIN", &bin);
    let mut sh = std::process::Command::new("sh");
    sh.arg("-c")
        .arg("printf '报告 text' | \"$BIN\" -i -p Summarise");
    // The same isolated environment for the shell and the binary under it.
    for (k, v) in cmd.get_envs() {
        match v {
            Some(v) => sh.env(k, v),
            None => sh.env_remove(k),
        };
    }
    sh.current_dir(env.home.path());
    let mut p = rexpect::session::spawn_command(sh, Some(20_000)).unwrap();
    p.exp_string("echo: Summarise").unwrap();
    p.exp_string(&l("报告 text")).unwrap();
    p.exp_string(PROMPT).unwrap();
    enter(&mut p, "and more");
    p.exp_string("echo: and more").unwrap();
    p.exp_string(PROMPT).unwrap();
    exit_with_ctrl_d(p);
    let bodies = env.fake.chat_bodies();
    assert_eq!(bodies.len(), 2);
    let sent = crate::harness::messages(&bodies[1]);
    let roles: Vec<&str> = sent.iter().map(|(r, _)| r.as_str()).collect();
    assert_eq!(roles, ["user", "assistant", "user"]);
    assert_eq!(sent[0].1, "Summarise\n\n报告 text");
}

#[test]
fn after_a_pipe_with_several_models_dash_i_asks_at_the_terminal_which() {
    let env = TestEnv::new();
    env.fake.set_models(&["alpha", "beta"]);
    let mut cmd = env.std_command();
    cmd.env("BIN", crate::harness::TestEnv::bin());
    let mut sh = std::process::Command::new("sh");
    sh.arg("-c")
        .arg("printf 'notes' | \"$BIN\" -i -p Summarise");
    for (k, v) in cmd.get_envs() {
        match v {
            Some(v) => sh.env(k, v),
            None => sh.env_remove(k),
        };
    }
    sh.current_dir(env.home.path());
    let mut p = rexpect::session::spawn_command(sh, Some(20_000)).unwrap();
    p.exp_string("2) beta").unwrap();
    enter(&mut p, "beta");
    p.exp_string("echo: Summarise").unwrap();
    p.exp_string(PROMPT).unwrap();
    enter(&mut p, "next");
    p.exp_string("echo: next").unwrap();
    p.exp_string(PROMPT).unwrap();
    exit_with_ctrl_d(p);
    let bodies = env.fake.chat_bodies();
    assert_eq!(bodies.len(), 2);
    for b in bodies {
        assert!(b["model"].as_str().unwrap().starts_with("beta"), "{b}");
    }
}

#[test]
fn dash_i_without_a_terminal_says_so_and_sends_nothing() {
    use std::os::unix::process::CommandExt;
    let env = TestEnv::new();
    let mut cmd = env.std_command();
    cmd.args(["-i", "-p", "hi"])
        .stdin(std::process::Stdio::piped());
    // A new session has no controlling terminal, so /dev/tty cannot be opened.
    unsafe {
        cmd.pre_exec(|| {
            libc::setsid();
            Ok(())
        });
    }
    let out = cmd.output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(
        stderr.starts_with("ollama-chat: -i needs a terminal to chat on, and there is none"),
        "{stderr}"
    );
    assert!(out.stdout.is_empty());
    assert!(env.fake.chat_bodies().is_empty());
}

#[test]
fn slash_role_switches_the_prompt_and_options_and_the_log_records_it() {
    let env = TestEnv::new();
    let dir = env.home.path().join(".config/ollama-chat");
    std::fs::create_dir_all(dir.join("roles")).unwrap();
    std::fs::write(
        dir.join("config.toml"),
        "[roles.terse]\nsystem = \"Answer in one word.\"\n[roles.terse.options]\ntemperature = 0.5\n",
    )
    .unwrap();
    std::fs::write(dir.join("roles/poet.md"), "Write verse.\n").unwrap();
    let mut p = start(&env, &["-o", "seed=3"]);
    enter(&mut p, "/roles");
    p.exp_string("  poet").unwrap();
    p.exp_string("  terse").unwrap();
    p.exp_string(PROMPT).unwrap();
    enter(&mut p, "/role ters");
    p.exp_string("did you mean \"terse\"").unwrap();
    p.exp_string(PROMPT).unwrap();
    enter(&mut p, "/role terse");
    p.exp_string("Using role 'terse': system prompt, 1 option(s).")
        .unwrap();
    p.exp_string(PROMPT).unwrap();
    enter(&mut p, "hi");
    p.exp_string("echo: hi").unwrap();
    p.exp_string(PROMPT).unwrap();
    enter(&mut p, "/role");
    p.exp_string("* terse").unwrap();
    p.exp_string(PROMPT).unwrap();
    exit_with_ctrl_d(p);
    let body = &env.fake.chat_bodies()[0];
    let sent = crate::harness::messages(body);
    assert_eq!(sent[0], ("system".into(), "Answer in one word.".into()));
    assert_eq!(body["options"]["temperature"], 0.5);
    assert_eq!(body["options"]["seed"], 3, "the chat's other options stay");
    assert_eq!(env.log_records()[0]["role"], "terse");
    // The session file says so, and a resumed chat goes on with the role.
    let sessions = env.home.path().join(".local/share/ollama-chat/sessions");
    let file = std::fs::read_dir(&sessions)
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    let text = std::fs::read_to_string(&file).unwrap();
    let role_events: Vec<serde_json::Value> = text
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .filter(|v| v.get("role").and_then(|r| r.as_str()) == Some("terse"))
        .collect();
    assert_eq!(role_events.len(), 1, "{text}");
    env.cmd().args(["-c", "-p", "more"]).assert().success();
    let records = env.log_records();
    assert_eq!(records.last().unwrap()["role"], "terse");
}

#[test]
fn hidden_thinking_is_requested_and_saved_but_not_shown() {
    let env = TestEnv::new();
    env.fake.set_models(&["tiny-think"]);
    let mut p = start(&env, &["-m", "tiny-think", "--think", "--hidethinking"]);
    enter(&mut p, "hi");
    let before = p.exp_string("echo: hi").unwrap();
    p.exp_string(PROMPT).unwrap();
    enter(&mut p, "/set nohidethinking");
    p.exp_string("Set 'nohidethinking' mode.").unwrap();
    p.exp_string(PROMPT).unwrap();
    enter(&mut p, "again");
    p.exp_string("thinking about: again").unwrap();
    p.exp_string("echo: again").unwrap();
    p.exp_string(PROMPT).unwrap();
    exit_with_ctrl_d(p);
    let first = &env.fake.chat_bodies()[0];
    assert_eq!(first["think"], true);
    let records = env.log_records();
    assert_eq!(records[0]["thinking"], "thinking about: hi");
    assert!(!before.contains("thinking about"), "{before:?}");
}
