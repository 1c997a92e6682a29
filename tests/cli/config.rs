//! The config file as a user meets it: settings reaching the server under flags and the
//! environment, `config show|init|path`, roles, a key from a command that is shown nowhere,
//! malformed files refused with file and line, and the completion scripts and man page.

use std::path::PathBuf;

use crate::harness::{messages, TestEnv};

fn config_path(env: &TestEnv) -> PathBuf {
    env.home.path().join(".config/ollama-chat/config.toml")
}

fn write_config(env: &TestEnv, text: &str) {
    let path = config_path(env);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(&path, text).unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
}

#[test]
fn settings_from_the_file_reach_the_server_under_flags_and_the_environment() {
    let env = TestEnv::new();
    env.fake.set_models(&["tiny", "other"]);
    write_config(
        &env,
        "model = \"tiny\"\nsystem = \"Be brief.\"\nkeep_alive = \"1h\"\n[options]\ntemperature = 0.25\nseed = 7\n",
    );
    env.cmd()
        .args(["-p", "hi"])
        .assert()
        .success()
        .stdout("echo: hi");
    let body = &env.fake.chat_bodies()[0];
    assert_eq!(body["model"], "tiny");
    assert_eq!(body["keep_alive"], "1h");
    assert_eq!(body["options"]["temperature"], 0.25);
    assert_eq!(body["options"]["seed"], 7);
    assert_eq!(messages(body)[0], ("system".into(), "Be brief.".into()));
    // The environment beats the file, a flag beats both (and a flag's option only its own key).
    env.cmd()
        .env("OLLAMA_CHAT_MODEL", "other")
        .args(["-p", "hi", "-o", "seed=8"])
        .assert()
        .success();
    let body = &env.fake.chat_bodies()[1];
    assert_eq!(body["model"], "other");
    assert_eq!(body["options"]["seed"], 8);
    assert_eq!(body["options"]["temperature"], 0.25);
    env.cmd()
        .env("OLLAMA_CHAT_MODEL", "other")
        .args(["-p", "hi", "-m", "tiny"])
        .assert()
        .success();
    assert_eq!(env.fake.chat_bodies()[2]["model"], "tiny");
}

#[test]
fn a_host_section_applies_to_its_server_and_config_show_says_where_each_came_from() {
    let env = TestEnv::new();
    let port = env.fake.host_port();
    write_config(
        &env,
        &format!("host = \"{port}\"\ntimeout = 60\n[hosts.\"http://{port}\"]\nmodel = \"tiny\"\n"),
    );
    env.cmd()
        .env_remove("OLLAMA_HOST")
        .args(["-p", "hi"])
        .assert()
        .success();
    assert_eq!(env.fake.chat_bodies()[0]["model"], "tiny");
    let out = env
        .cmd()
        .env_remove("OLLAMA_HOST")
        .env("OLLAMA_CHAT_THEME", "dark")
        .args(["--timeout", "9", "config", "show"])
        .output()
        .unwrap();
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    let file = config_path(&env).display().to_string();
    let line = |start: &str| {
        text.lines()
            .find(|l| l.starts_with(start))
            .unwrap_or_else(|| panic!("no {start} in\n{text}"))
            .to_string()
    };
    assert!(
        line("model = \"tiny\"").ends_with(&format!("# {file}:4")),
        "{text}"
    );
    assert!(line(&format!("host = \"{port}\"")).ends_with(&format!("# {file}:1")));
    assert!(line("timeout = 9").ends_with("# flag"), "{text}");
    assert!(line("theme = \"dark\"").ends_with("# environment OLLAMA_CHAT_THEME"));
    assert!(line("context_strategy = \"truncate\"").ends_with("# default"));
    assert!(text.starts_with(&format!("# config file: {file}\n")));
    assert!(
        env.fake.chat_bodies().len() == 1,
        "config show sends nothing"
    );
}

#[test]
fn malformed_files_are_refused_with_file_line_and_a_suggestion() {
    let env = TestEnv::new();
    write_config(&env, "model = \"tiny\"\n\n[options]\ntemprature = 0.3\n");
    let out = env.cmd().args(["-p", "hi"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(out.stdout.is_empty());
    let stderr = String::from_utf8(out.stderr).unwrap();
    let file = config_path(&env).display().to_string();
    assert_eq!(
        stderr,
        format!("ollama-chat: {file}:4:1: [options]: unknown option \"temprature\" (did you mean \"temperature\"?)\n")
    );
    assert!(env.fake.requests().is_empty());
    write_config(&env, "keep_alive = 5\ntimeout = \"never\"\n");
    let out = env.cmd().args(["-p", "hi"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(
        stderr.starts_with(&format!(
            "ollama-chat: {file}:2:1: timeout: invalid value 'never'"
        )),
        "{stderr}"
    );
    // Nothing that needs no settings is stopped by a broken file.
    env.cmd()
        .args(["config", "path"])
        .assert()
        .success()
        .stdout(format!("{file}\n"));
    env.cmd().args(["completions", "fish"]).assert().success();
    // A file named on the command line must exist.
    let out = env
        .cmd()
        .args(["--config", "missing.toml", "-p", "hi"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("missing.toml does not exist"));
}

#[test]
fn config_init_writes_the_example_once_and_it_changes_nothing() {
    let env = TestEnv::new();
    let path = env.home.path().join("c/config.toml");
    env.cmd()
        .env("OLLAMA_CHAT_CONFIG", &path)
        .args(["config", "init"])
        .assert()
        .success();
    assert!(std::fs::read_to_string(&path)
        .unwrap()
        .contains("[roles.reviewer]"));
    env.cmd()
        .env("OLLAMA_CHAT_CONFIG", &path)
        .args(["config", "init"])
        .assert()
        .code(2);
    env.cmd()
        .env("OLLAMA_CHAT_CONFIG", &path)
        .args(["-p", "hi"])
        .assert()
        .success()
        .stdout("echo: hi");
}

#[test]
fn roles_from_the_file_and_the_roles_folder_reach_the_server_and_the_log() {
    let env = TestEnv::new();
    write_config(
        &env,
        "[roles.terse]\nsystem = \"Answer in one word.\"\n[roles.terse.options]\ntemperature = 0\n",
    );
    let roles = env.home.path().join(".config/ollama-chat/roles");
    std::fs::create_dir_all(&roles).unwrap();
    std::fs::write(roles.join("翻译.md"), "把用户的话翻译成英文。\n").unwrap();
    env.cmd()
        .args(["--role", "terse", "-p", "hi"])
        .assert()
        .success();
    let body = &env.fake.chat_bodies()[0];
    assert_eq!(
        messages(body)[0],
        ("system".into(), "Answer in one word.".into())
    );
    assert_eq!(body["options"]["temperature"], 0.0);
    env.cmd()
        .args(["--role", "翻译", "-p", "你好"])
        .assert()
        .success();
    let body = &env.fake.chat_bodies()[1];
    assert_eq!(
        messages(body)[0],
        ("system".into(), "把用户的话翻译成英文。".into())
    );
    let out = env
        .cmd()
        .args(["--role", "tersе", "-p", "hi"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("did you mean \"terse\""));
    // --system-file beats the role's prompt.
    let file = env.home.path().join("prompt.txt");
    std::fs::write(&file, "From a file.\n").unwrap();
    env.cmd()
        .args(["--role", "terse", "--system-file"])
        .arg(&file)
        .args(["-p", "hi"])
        .assert()
        .success();
    let body = &env.fake.chat_bodies()[2];
    assert_eq!(messages(body)[0], ("system".into(), "From a file.".into()));
    let records = env.log_records();
    assert_eq!(records[0]["role"], "terse");
    assert_eq!(records[1]["role"], "翻译");
}

#[test]
fn a_key_from_api_key_cmd_is_sent_and_shown_nowhere() {
    const KEY: &str = "key-from-a-command-0123";
    let env = TestEnv::new();
    env.fake.require_api_key(Some(KEY));
    write_config(&env, &format!("api_key_cmd = \"printf '%s\\\\n' {KEY}\"\n"));
    let out = env
        .cmd()
        .args(["-p", "hi", "--session", "s"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let chat = env.fake.requests().into_iter().last().unwrap();
    assert_eq!(
        chat.header("authorization"),
        Some(format!("Bearer {KEY}").as_str())
    );
    let show = env.cmd().args(["config", "show"]).output().unwrap();
    let all = [
        out.stdout,
        out.stderr,
        show.stdout,
        show.stderr,
        std::fs::read(env.log_path()).unwrap(),
    ]
    .concat();
    assert!(!String::from_utf8_lossy(&all).contains(KEY));
    // Commands that never reach a server do not run it (it may ask for a password).
    let marker = env.home.path().join("key-command-ran");
    write_config(
        &env,
        &format!(
            "api_key_cmd = \"touch '{}'; printf '%s\\n' {KEY}\"\n",
            marker.display()
        ),
    );
    for args in [
        &["sessions"][..],
        &["sessions", "search", "hi"],
        &["logs"],
        &["stats"],
        &["replay", "s"],
    ] {
        let out = env.cmd().args(args).output().unwrap();
        assert!(
            out.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(!marker.exists(), "{args:?} ran the key command");
    }
    env.cmd().args(["-p", "hi"]).assert().success();
    assert!(marker.exists(), "a chat runs it");
    // A failing command stops the run before anything is sent, and its output is not shown.
    write_config(&env, "api_key_cmd = \"echo leaked-output-123; exit 4\"\n");
    let out = env.cmd().args(["-p", "hi"]).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert_eq!(
        stderr,
        "ollama-chat: api_key_cmd failed: it exited with status 4\n"
    );
    // A key written in a file others can read gets a warning.
    write_config(&env, &format!("api_key = \"{KEY}\"\n"));
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(config_path(&env), std::fs::Permissions::from_mode(0o644)).unwrap();
    let out = env.cmd().args(["-p", "hi"]).output().unwrap();
    assert!(out.status.success());
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(
        stderr.contains("holds an API key and others can read it"),
        "{stderr}"
    );
    assert!(!stderr.contains(KEY));
}

#[test]
fn completion_scripts_and_the_man_page() {
    let env = TestEnv::new();
    for shell in ["bash", "zsh", "fish", "elvish", "powershell"] {
        let out = env.cmd().args(["completions", shell]).output().unwrap();
        assert!(out.status.success(), "{shell}");
        let script = String::from_utf8(out.stdout).unwrap();
        assert!(script.contains("keep-alive"), "{shell}");
        // Checked by the shell itself where it is installed.
        let check = match shell {
            "bash" => Some(("bash", "-n")),
            "zsh" => Some(("zsh", "-n")),
            "fish" => Some(("fish", "--no-execute")),
            _ => None,
        };
        if let Some((sh, flag)) = check {
            let path = env.home.path().join(format!("completion.{shell}"));
            std::fs::write(&path, &script).unwrap();
            match std::process::Command::new(sh).arg(flag).arg(&path).output() {
                Ok(o) => assert!(
                    o.status.success(),
                    "{sh}: {}",
                    String::from_utf8_lossy(&o.stderr)
                ),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => panic!("{sh}: {e}"),
            }
        }
    }
    let out = env.cmd().arg("man").output().unwrap();
    let page = String::from_utf8(out.stdout).unwrap();
    assert!(page.contains(".TH ollama-chat 1"));
    assert!(page.contains("config"));
}

#[test]
fn headers_and_basic_auth_reach_the_server_and_nothing_shows_them() {
    const TOKEN: &str = "proxy-token-0123456789";
    const PASSWORD: &str = "pw";
    let env = TestEnv::new();
    write_config(&env, &format!("header = [\"X-Proxy-Token: {TOKEN}\"]\n"));
    let host = format!("http://me:{PASSWORD}@{}", env.fake.host_port());
    let out = env
        .cmd()
        .env("OLLAMA_CHAT_HEADERS", "X-Ignored: 1")
        .args(["--host", &host, "--session", "s", "-p", "hi"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let chat = env.fake.requests().into_iter().last().unwrap();
    assert_eq!(
        chat.header("x-proxy-token"),
        None,
        "the environment beats the file"
    );
    assert_eq!(chat.header("x-ignored"), Some("1"));
    use base64::Engine as _;
    let basic = base64::engine::general_purpose::STANDARD.encode(format!("me:{PASSWORD}"));
    assert_eq!(
        chat.header("authorization"),
        Some(format!("Basic {basic}").as_str())
    );
    // From the file when the environment says nothing.
    env.fake
        .push_chat(crate::support::fake_ollama::ChatReply::HttpError {
            status: 502,
            message: format!("proxy refused {TOKEN}"),
        });
    let failed = env
        .cmd()
        .args(["--host", &host, "--session", "s", "-p", "hi"])
        .output()
        .unwrap();
    assert_eq!(failed.status.code(), Some(1));
    let chat = env.fake.requests().into_iter().last().unwrap();
    assert_eq!(chat.header("x-proxy-token"), Some(TOKEN));
    let stderr = String::from_utf8(failed.stderr).unwrap();
    assert!(
        stderr.contains("proxy refused <X-Proxy-Token header>"),
        "{stderr}"
    );
    let show = env
        .cmd()
        .args(["--host", &host, "config", "show"])
        .output()
        .unwrap();
    let show = String::from_utf8(show.stdout).unwrap();
    assert!(
        show.contains("header = [\"X-Proxy-Token: (hidden)\"]"),
        "{show}"
    );
    assert!(show.contains("host = \"http://me:<password>@"), "{show}");
    let log = std::fs::read_to_string(env.log_path()).unwrap();
    assert!(log.contains("me:<OLLAMA_HOST password>@"), "{log}");
    let sessions = env.home.path().join(".local/share/ollama-chat/sessions");
    let mut written = vec![log, show, stderr, String::from_utf8(out.stderr).unwrap()];
    for f in std::fs::read_dir(sessions).unwrap() {
        written.push(std::fs::read_to_string(f.unwrap().path()).unwrap());
    }
    for text in written {
        assert!(!text.contains(TOKEN), "{text}");
        assert!(!text.contains(&format!("me:{PASSWORD}@")), "{text}");
    }
}

#[test]
fn bash_completes_model_session_and_role_names_from_the_binary() {
    let env = TestEnv::new();
    env.fake
        .set_models(&["qwen3:8b", "llama3.2", "$(touch pwned)"]);
    write_config(&env, "[roles.reviewer]\nsystem = \"x\"\n");
    env.cmd()
        .args(["-m", "qwen3:8b", "--session", "notes", "-p", "hi"])
        .assert()
        .success();
    let out = env.cmd().args(["__complete", "models"]).output().unwrap();
    let models = String::from_utf8(out.stdout).unwrap();
    assert_eq!(
        models, "llama3.2:latest\nqwen3:8b\n",
        "a name a shell would expand is left out"
    );
    let script = env.home.path().join("completion.bash");
    let out = env.cmd().args(["completions", "bash"]).output().unwrap();
    std::fs::write(&script, out.stdout).unwrap();
    let bin_dir = TestEnv::bin().parent().unwrap().to_path_buf();
    let path = format!(
        "{}:{}",
        bin_dir.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let complete = |words: &str| {
        let program = format!(
            "source {}; COMP_WORDS=({words}); COMP_CWORD=$((${{#COMP_WORDS[@]}}-1)); \
             _ollama_chat_names ollama-chat \"${{COMP_WORDS[COMP_CWORD]}}\" \"${{COMP_WORDS[COMP_CWORD-1]}}\"; printf '%s\\n' \"${{COMPREPLY[@]}}\"",
            script.display()
        );
        let mut cmd = std::process::Command::new("bash");
        for (k, v) in env.std_command().get_envs() {
            match v {
                Some(v) => cmd.env(k, v),
                None => cmd.env_remove(k),
            };
        }
        let out = cmd
            .env("PATH", &path)
            .current_dir(env.home.path())
            .args(["--norc", "-c", &program])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    };
    assert_eq!(complete("ollama-chat -m q"), "qwen3:8b\n");
    assert_eq!(complete("ollama-chat --role r"), "reviewer\n");
    assert!(complete("ollama-chat --session no").starts_with("notes\n"));
    assert!(complete("ollama-chat --keep").contains("--keep-alive"));
    assert!(!env.home.path().join("pwned").exists());
}

#[test]
fn a_short_password_in_the_host_is_in_no_error_text() {
    let env = TestEnv::new();
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let out = env
        .cmd()
        .args([
            "--host",
            &format!("http://me:pw@127.0.0.1:{port}"),
            "-m",
            "tiny",
            "-p",
            "hi",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(3));
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(stderr.contains("me:<"), "{stderr}");
    assert!(!stderr.contains("me:pw@"), "{stderr}");
    let log = std::fs::read_to_string(env.log_path()).unwrap_or_default();
    assert!(!log.contains("me:pw@"), "{log}");
}
