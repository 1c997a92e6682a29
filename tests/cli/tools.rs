//! Tools through the real binary: the fake server scripts tool calls, the client runs them (or
//! refuses), sends the results back and prints the final answer. One-shot here (no terminal:
//! nobody to ask); the approval prompt itself is driven through a pseudo-terminal in `pty`.

use std::path::{Path, PathBuf};

use serde_json::{json, Value};

use crate::harness::{read_jsonl, Api, TestEnv};
use crate::support::fake_ollama::{ChatReply, Script};

/// A model with the `tools` capability in the fake's `/api/show`.
const MODEL: &str = "tiny-tools";

/// The test MCP server, a shell script.
fn mcp_server() -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/mcp/server.sh")
        .display()
        .to_string()
}

/// A working folder with a Chinese file, and a secret beside it (outside the folder).
fn workdir(env: &TestEnv) -> PathBuf {
    let work = env.home.path().join("work");
    std::fs::create_dir_all(work.join("sub")).unwrap();
    std::fs::write(work.join("笔记.txt"), "第一行：你好\n").unwrap();
    std::fs::write(env.home.path().join("secret.txt"), "TOP SECRET\n").unwrap();
    std::os::unix::fs::symlink(env.home.path().join("secret.txt"), work.join("link.txt")).unwrap();
    work
}

fn tool_env() -> (TestEnv, PathBuf) {
    let env = TestEnv::new();
    env.fake.set_models(&[MODEL]);
    let work = workdir(&env);
    (env, work)
}

/// The tool messages of a request body: (tool_name, content).
fn tool_results(body: &Value) -> Vec<(String, String)> {
    body["messages"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|m| m["role"] == "tool")
        .map(|m| {
            (
                m["tool_name"].as_str().unwrap_or("").to_string(),
                m["content"].as_str().unwrap_or("").to_string(),
            )
        })
        .collect()
}

/// The names of the tools a request offered.
fn tool_names(body: &Value) -> Vec<&str> {
    body["tools"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["function"]["name"].as_str().unwrap())
        .collect()
}
#[test]
fn a_call_allowed_ahead_runs_and_its_result_goes_back() {
    let (env, work) = tool_env();
    env.fake.push_chat(ChatReply::calls(&[
        ("read_file", json!({"path": "笔记.txt"})),
        ("now", json!({})),
    ]));
    env.fake
        .push_chat(ChatReply::Tokens(vec!["它说".into(), "你好".into()]));
    let session = env.home.path().join("s.jsonl");
    let out = env
        .cmd()
        .current_dir(&work)
        .args([
            "-m",
            MODEL,
            "--tools",
            "read_file,now",
            "--allow-tool",
            "read_file",
        ])
        .args([
            "--allow-tool",
            "now",
            "--session",
            session.to_str().unwrap(),
        ])
        .args(["-p", "读一下笔记"])
        .assert()
        .success()
        .stdout("它说你好");
    let err = String::from_utf8_lossy(&out.get_output().stderr).into_owned();
    assert!(err.contains("⚙ read_file"), "the call is shown: {err}");
    assert!(err.contains("→ ok"), "{err}");
    let bodies = env.fake.chat_bodies();
    assert_eq!(bodies.len(), 2);
    let names = tool_names(&bodies[0]);
    assert_eq!(names, ["read_file", "now"]);
    assert_eq!(bodies[0]["tools"][0]["type"], "function");
    let asked = &bodies[1]["messages"][1];
    assert_eq!(asked["role"], "assistant");
    assert_eq!(asked["tool_calls"][0]["function"]["name"], "read_file");
    assert_eq!(
        asked["tool_calls"][0]["function"]["arguments"],
        json!({"path": "笔记.txt"})
    );
    let results = tool_results(&bodies[1]);
    assert_eq!(results[0], ("read_file".into(), "第一行：你好\n".into()));
    assert_eq!(results[1].0, "now");

    // The session keeps the calls and results; the log has them with their timings.
    let records = read_jsonl(&session);
    let kinds: Vec<&str> = records
        .iter()
        .map(|r| r["kind"].as_str().unwrap())
        .collect();
    assert_eq!(
        kinds,
        ["session", "user", "assistant", "tool", "tool", "assistant"]
    );
    assert_eq!(records[2]["tool_calls"][0]["name"], "read_file");
    assert_eq!(records[3]["approval"], "allowed");
    assert_eq!(records[3]["status"], "ok");
    assert_eq!(records[3]["content"], "第一行：你好\n");
    let log = env.log_records();
    assert_eq!(log.len(), 2, "one record per request");
    assert_eq!(log[0]["tool_calls"][0]["name"], "read_file");
    assert_eq!(log[0]["tool_calls"][0]["status"], "ok");
    assert!(log[0]["tool_calls"][0]["duration"].is_number());
    assert_eq!(log[1]["call"], "tool_result");
    assert_eq!(log[1]["model_response"], "它说你好");

    // Resuming the session sends the whole exchange, calls and results included.
    env.fake.push_chat(ChatReply::Tokens(vec!["好".into()]));
    env.cmd()
        .current_dir(&work)
        .args([
            "-m",
            MODEL,
            "--session",
            session.to_str().unwrap(),
            "-p",
            "再见",
        ])
        .assert()
        .success();
    let resumed = env.fake.chat_bodies().pop().unwrap();
    assert_eq!(tool_results(&resumed).len(), 2);
    assert!(resumed.get("tools").is_none(), "no --tools, no tools");

    // Replay shows the calls and what became of them.
    let shown = env
        .cmd()
        .args(["replay", session.to_str().unwrap()])
        .assert()
        .success();
    let shown = String::from_utf8_lossy(&shown.get_output().stdout).into_owned();
    assert!(
        shown.contains(r#"⚙ read_file {"path":"笔记.txt"}"#),
        "{shown}"
    );
    assert!(
        shown.contains("tool read_file (allowed up front, ok,"),
        "{shown}"
    );

    // A re-run without tools configured offers none, so it runs none (`rerun_asks_again…`).
    let before = env.fake.chat_bodies().len();
    env.fake.push_chat(ChatReply::calls(&[(
        "read_file",
        json!({"path": "笔记.txt"}),
    )]));
    env.cmd()
        .current_dir(&work)
        .args([
            "--no-session",
            "replay",
            session.to_str().unwrap(),
            "--rerun",
        ])
        .assert()
        .success();
    let after = env.fake.chat_bodies();
    assert!(after.len() > before);
    assert!(after[before..].iter().all(|b| b.get("tools").is_none()));
    assert!(after[before..].iter().all(|b| tool_results(b).is_empty()));
}

/// A session in which `read_file` was allowed up front, run and answered.
fn recorded_tool_session(env: &TestEnv, work: &Path) -> PathBuf {
    env.fake.push_chat(ChatReply::calls(&[(
        "read_file",
        json!({"path": "笔记.txt"}),
    )]));
    env.fake
        .push_chat(ChatReply::Tokens(vec!["它说你好".into()]));
    let session = env.home.path().join("s.jsonl");
    env.cmd()
        .current_dir(work)
        .args([
            "-m",
            MODEL,
            "--tools",
            "read_file",
            "--allow-tool",
            "read_file",
        ])
        .args(["--session", session.to_str().unwrap(), "-p", "读一下笔记"])
        .assert()
        .success();
    session
}

#[test]
fn a_rerun_asks_again_before_running_a_tool_and_without_a_terminal_refuses() {
    let (env, work) = tool_env();
    let session = recorded_tool_session(&env, &work);
    let before = env.fake.chat_bodies().len();
    // The recorded "allowed" is no answer for this run: nobody to ask, so it is refused.
    env.fake.push_chat(ChatReply::calls(&[(
        "read_file",
        json!({"path": "笔记.txt"}),
    )]));
    env.fake.push_chat(ChatReply::Tokens(vec!["没读到".into()]));
    let out = env
        .cmd()
        .current_dir(&work)
        .args(["--no-session", "--tools", "read_file", "replay"])
        .args([session.to_str().unwrap(), "--rerun"])
        .assert()
        .success();
    let stdout = String::from_utf8_lossy(&out.get_output().stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.get_output().stderr).into_owned();
    assert!(
        stderr.contains("refused read_file: no terminal to ask, and it was not allowed ahead"),
        "{stderr}"
    );
    assert!(
        stdout.contains("它说你好") && stdout.contains("没读到"),
        "{stdout}"
    );
    let bodies = &env.fake.chat_bodies()[before..];
    assert_eq!(bodies.len(), 2, "the question, then the refusal sent back");
    assert_eq!(bodies[0]["tools"][0]["function"]["name"], "read_file");
    assert_eq!(
        bodies[0]["messages"].as_array().unwrap().len(),
        1,
        "the recorded call and result are not sent: they are being redone"
    );
    let results = tool_results(&bodies[1]);
    assert_eq!(results.len(), 1);
    assert!(results[0].1.starts_with("Not run"), "{results:?}");
    assert!(!results[0].1.contains("你好"), "the file was not read");

    // Allowed up front, it runs.
    env.fake.push_chat(ChatReply::calls(&[(
        "read_file",
        json!({"path": "笔记.txt"}),
    )]));
    env.fake.push_chat(ChatReply::Tokens(vec!["读到了".into()]));
    env.cmd()
        .current_dir(&work)
        .args([
            "--no-session",
            "--tools",
            "read_file",
            "--allow-tool",
            "read_file",
        ])
        .args(["replay", session.to_str().unwrap(), "--rerun"])
        .assert()
        .success()
        .stdout(predicates::str::contains("读到了"));
    let results = tool_results(env.fake.chat_bodies().last().unwrap());
    assert_eq!(results, [("read_file".into(), "第一行：你好\n".into())]);
}

#[test]
fn one_shot_without_a_terminal_refuses_what_was_not_allowed_and_says_why() {
    let (env, work) = tool_env();
    env.fake.push_chat(ChatReply::calls(&[(
        "read_file",
        json!({"path": "笔记.txt"}),
    )]));
    env.fake.push_chat(ChatReply::Tokens(vec!["ok".into()]));
    env.cmd()
        .current_dir(&work)
        .args(["-m", MODEL, "--tools", "default", "-p", "read"])
        .assert()
        .success()
        .stdout("ok")
        .stderr(predicates::str::contains(
            "refused read_file: no terminal to ask, and it was not allowed ahead (--allow-tool read_file)",
        ));
    let bodies = env.fake.chat_bodies();
    let results = tool_results(&bodies[1]);
    assert!(results[0].1.contains("Not run"), "{results:?}");
    assert!(!results[0].1.contains("你好"), "the file was not read");
    let log = env.log_records();
    assert_eq!(log[0]["tool_calls"][0]["approval"], "unattended");
    assert_eq!(log[0]["tool_calls"][0]["status"], "refused");
}

#[test]
fn paths_out_of_the_root_are_refused() {
    let (env, work) = tool_env();
    let outside = env.home.path().join("secret.txt");
    env.fake.push_chat(ChatReply::calls(&[
        ("read_file", json!({"path": "../secret.txt"})),
        ("read_file", json!({"path": outside.to_str().unwrap()})),
        ("read_file", json!({"path": "link.txt"})),
        ("list_dir", json!({"path": ".."})),
        ("search_text", json!({"pattern": "SECRET", "path": ".."})),
    ]));
    env.fake.push_chat(ChatReply::Tokens(vec!["no".into()]));
    env.cmd()
        .current_dir(&work)
        .args(["-m", MODEL, "--tools", "default"])
        .args(["--allow-tool", "read_file", "--allow-tool", "list_dir"])
        .args(["--allow-tool", "search_text", "-p", "steal"])
        .assert()
        .success();
    let results = tool_results(&env.fake.chat_bodies()[1]);
    assert_eq!(results.len(), 5);
    for (name, content) in &results {
        assert!(content.contains("outside the folders"), "{name}: {content}");
        assert!(!content.contains("TOP SECRET"), "{name}: {content}");
    }
    // A --tool-root opens a folder on purpose.
    env.fake.push_chat(ChatReply::calls(&[(
        "read_file",
        json!({"path": outside.to_str().unwrap()}),
    )]));
    env.fake.push_chat(ChatReply::Tokens(vec!["yes".into()]));
    env.cmd()
        .current_dir(&work)
        .args([
            "-m",
            MODEL,
            "--tools",
            "read_file",
            "--allow-tool",
            "read_file",
        ])
        .args([
            "--tool-root",
            env.home.path().to_str().unwrap(),
            "-p",
            "read",
        ])
        .assert()
        .success();
    let results = tool_results(&env.fake.chat_bodies()[3]);
    assert_eq!(results[0].1, "TOP SECRET\n");
}

#[test]
fn the_step_limit_stops_a_model_that_keeps_calling() {
    let (env, work) = tool_env();
    for _ in 0..3 {
        env.fake.push_chat(ChatReply::calls(&[("now", json!({}))]));
    }
    env.fake.push_chat(ChatReply::Tokens(vec!["never".into()]));
    env.cmd()
        .current_dir(&work)
        .args(["-m", MODEL, "--tools", "now", "--allow-tool", "now"])
        .args(["--max-tool-steps", "2", "-p", "time?"])
        .assert()
        .success()
        .stdout("")
        .stderr(predicates::str::contains("--max-tool-steps 2"));
    assert_eq!(
        env.fake.chat_bodies().len(),
        3,
        "two steps, then no more requests"
    );
    let log = env.log_records();
    assert_eq!(log.len(), 3);
    assert_eq!(log[2]["tool_calls"][0]["approval"], "not_asked");
}

#[test]
fn a_model_without_tools_is_told_before_sending() {
    let env = TestEnv::new();
    env.cmd()
        .args(["--tools", "default", "-p", "hi"])
        .assert()
        .success()
        .stdout("echo: hi")
        .stderr(predicates::str::contains("does not support tools"));
    assert!(env.fake.chat_bodies()[0].get("tools").is_none());
}

#[test]
fn bad_tool_flags_are_usage_errors() {
    let env = TestEnv::new();
    for args in [
        &["--tools", "rm_rf"][..],
        &["--tools", "all", "--allow-tool", "run_command"],
        &["--tools", "now", "--tool-root", "/no/such/folder"],
        &["--mcp", "no-command"],
        &["--tools", "now", "--max-tool-steps", "0"],
        &["--mcp", "t=sh a", "--mcp", "t=sh b"],
    ] {
        env.cmd().args(args).args(["-p", "hi"]).assert().code(2);
    }
    env.cmd()
        .args([
            "--mcp", "t=sh a", "--mcp", "u=sh b", "--mcp", "t=sh c", "-p", "hi",
        ])
        .assert()
        .code(2)
        .stderr(predicates::str::contains("\"t\" is given twice"));
    assert!(env.fake.chat_bodies().is_empty());
}

#[test]
fn mcp_tools_are_offered_under_their_server_name_and_answer() {
    let (env, work) = tool_env();
    env.fake.push_chat(ChatReply::calls(&[
        ("t.echo", json!({"text": "你好"})),
        ("t.fail", json!({})),
    ]));
    env.fake.push_chat(ChatReply::Tokens(vec!["done".into()]));
    let spec = format!("t=sh {}", mcp_server());
    env.cmd()
        .current_dir(&work)
        .args(["-m", MODEL, "--mcp", &spec, "--allow-tool", "t.echo"])
        .args(["--allow-tool", "t.fail", "-p", "echo"])
        .assert()
        .success()
        .stdout("done");
    let bodies = env.fake.chat_bodies();
    let names = tool_names(&bodies[0]);
    assert_eq!(
        names,
        ["t.echo", "t.fail", "t.hang", "t.crash"],
        "a bad name is left out"
    );
    let results = tool_results(&bodies[1]);
    assert_eq!(results[0], ("t.echo".into(), "echo: 你好".into()));
    assert!(results[1].1.contains("it failed"), "{results:?}");
}

/// The names of the variables an MCP server in `env` mode saw (its `echo` answers them).
fn server_env(result: &str) -> Vec<&str> {
    result
        .strip_prefix("echo: ")
        .unwrap_or_else(|| panic!("not the env echo: {result}"))
        .split_whitespace()
        .collect()
}

#[test]
fn an_mcp_server_gets_no_environment_but_path() {
    let (env, work) = tool_env();
    env.fake
        .push_chat(ChatReply::calls(&[("t.echo", json!({"text": "x"}))]));
    env.fake.push_chat(ChatReply::Tokens(vec!["done".into()]));
    let spec = format!("t=sh {} env", mcp_server());
    env.cmd()
        .current_dir(&work)
        .env("OPENAI_API_KEY", "sk-test-not-for-servers")
        .env("LANG", "C.UTF-8")
        .args([
            "-m",
            MODEL,
            "--mcp",
            &spec,
            "--allow-tool",
            "t.echo",
            "-p",
            "x",
        ])
        .assert()
        .success();
    let results = tool_results(&env.fake.chat_bodies()[1]);
    let names = server_env(&results[0].1);
    assert!(names.contains(&"PATH"), "{names:?}");
    for var in ["OPENAI_API_KEY", "OLLAMA_HOST", "HOME", "LANG"] {
        assert!(!names.contains(&var), "{var} reached the server: {names:?}");
    }
}

fn write_config(env: &TestEnv, text: &str) -> PathBuf {
    let path = env.home.path().join(".config/ollama-chat/config.toml");
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(&path, text).unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
    path
}

#[test]
fn mcp_servers_declared_in_the_config_file_get_only_their_env_and_a_flag_replaces_one() {
    let (env, work) = tool_env();
    write_config(
        &env,
        &format!(
            "allow_tool = [\"files.echo\"]\n\n[mcp.files]\ncommand = \"sh\"\nargs = [{:?}, \"env\"]\nenv = {{ MCP_TOKEN = \"tok-configured\" }}\n",
            mcp_server()
        ),
    );
    env.fake
        .push_chat(ChatReply::calls(&[("files.echo", json!({"text": "x"}))]));
    env.fake.push_chat(ChatReply::Tokens(vec!["done".into()]));
    env.cmd()
        .current_dir(&work)
        .env("OLLAMA_API_KEY", "sk-ollama-not-for-servers")
        .env("OPENAI_API_KEY", "sk-openai-not-for-servers")
        .args(["-m", MODEL, "-p", "x"])
        .assert()
        .success()
        .stdout("done");
    let bodies = env.fake.chat_bodies();
    let offered = tool_names(&bodies[0]);
    assert_eq!(
        offered,
        ["files.echo", "files.fail", "files.hang", "files.crash"]
    );
    let results = tool_results(&bodies[1]);
    let names = server_env(&results[0].1);
    assert!(
        names.contains(&"MCP_TOKEN"),
        "the configured variable: {names:?}"
    );
    for var in ["OLLAMA_API_KEY", "OPENAI_API_KEY", "HOME"] {
        assert!(!names.contains(&var), "{var} reached the server: {names:?}");
    }
    let log = env.log_records();
    assert_eq!(
        log[0]["tool_calls"][0]["approval"], "allowed",
        "allow_tool from the file"
    );

    // `--mcp` of the same name replaces the file's server (this one echoes the text back).
    env.fake.push_chat(ChatReply::calls(&[(
        "files.echo",
        json!({"text": "从命令行"}),
    )]));
    env.fake.push_chat(ChatReply::Tokens(vec!["done".into()]));
    let spec = format!("files=sh {}", mcp_server());
    env.cmd()
        .current_dir(&work)
        .args(["-m", MODEL, "--mcp", &spec, "-p", "x"])
        .assert()
        .success();
    let bodies = env.fake.chat_bodies();
    assert_eq!(
        bodies[2]["tools"].as_array().unwrap().len(),
        4,
        "one server"
    );
    assert_eq!(
        tool_results(&bodies[3])[0],
        ("files.echo".into(), "echo: 从命令行".into())
    );

    // `config show` lists the server without its env values, and says what replaces it.
    let shown = env.cmd().args(["config", "show"]).assert().success();
    let shown = String::from_utf8_lossy(&shown.get_output().stdout).into_owned();
    assert!(
        shown.contains(r#"mcp.files = { command = "sh", args = ["#),
        "{shown}"
    );
    assert!(
        shown.contains(r#"env = { MCP_TOKEN = "(hidden)" } }"#),
        "{shown}"
    );
    assert!(!shown.contains("tok-configured"), "{shown}");
    let shown = env
        .cmd()
        .args(["--mcp", &spec, "config", "show"])
        .assert()
        .success();
    let shown = String::from_utf8_lossy(&shown.get_output().stdout).into_owned();
    assert!(shown.contains("replaced by --mcp files=…"), "{shown}");
}

#[test]
fn a_bad_mcp_table_is_a_config_error_with_file_line_and_column() {
    let env = TestEnv::new();
    let path = write_config(&env, "model = \"tiny\"\n[mcp.files]\nargs = [\"--root\"]\n");
    let out = env.cmd().args(["-p", "hi"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(
        String::from_utf8(out.stderr).unwrap(),
        format!(
            "ollama-chat: {}:2:6: [mcp.files]: no command: add command = \"PROGRAM\" (and args = [\"…\"])\n",
            path.display()
        )
    );
    write_config(&env, "[mcp.files]\ncommand = \"x\"\nenv = { TOKEN = 1 }\n");
    let out = env.cmd().args(["-p", "hi"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(
        err.contains("config.toml:3:1: [mcp.files]: env TOKEN: a value is a string, not integer"),
        "{err}"
    );
    assert!(env.fake.requests().is_empty());
}

#[test]
fn an_mcp_server_that_fails_to_start_crashes_or_hangs_leaves_the_chat_going() {
    let (env, work) = tool_env();
    // One that exits at once: one line, and the chat goes on without its tools.
    let spec = format!("t=sh {} nostart", mcp_server());
    env.cmd()
        .current_dir(&work)
        .args(["-m", MODEL, "--tools", "now", "--mcp", &spec, "-p", "hi"])
        .assert()
        .success()
        .stdout("echo: hi")
        .stderr(predicates::str::contains("MCP server t:"));
    // A call that crashes it, and one that hangs past the time limit.
    env.fake.push_chat(ChatReply::calls(&[
        ("t.crash", json!({})),
        ("t.hang", json!({})),
    ]));
    env.fake.push_chat(ChatReply::Tokens(vec!["fine".into()]));
    let spec = format!("t=sh {}", mcp_server());
    let started = std::time::Instant::now();
    env.cmd()
        .current_dir(&work)
        .args(["-m", MODEL, "--mcp", &spec, "--allow-tool", "t.crash"])
        .args(["--allow-tool", "t.hang", "--tool-timeout", "2", "-p", "go"])
        .assert()
        .success()
        .stdout("fine");
    assert!(started.elapsed().as_secs() < 20);
    let bodies = env.fake.chat_bodies();
    let results = tool_results(bodies.last().unwrap());
    assert!(results[0].1.contains("closed its output"), "{results:?}");
    assert!(results[1].1.contains("time limit"), "{results:?}");
}

every_api!(calls_split_across_chunks_round_trip_on_every_api);

/// The offered tool names and the results sent back, in each API's shape.
fn offered_and_results(api: Api, body: &Value) -> (Vec<String>, Vec<String>) {
    let offered = body["tools"]
        .as_array()
        .map(|tools| {
            tools
                .iter()
                .map(|t| match api {
                    Api::Anthropic => t["name"].as_str().unwrap().to_string(),
                    _ => t["function"]["name"].as_str().unwrap().to_string(),
                })
                .collect()
        })
        .unwrap_or_default();
    let mut results = Vec::new();
    for m in body["messages"].as_array().unwrap() {
        match api {
            Api::Anthropic => {
                for b in m["content"].as_array().into_iter().flatten() {
                    if b["type"] == "tool_result" {
                        results.push(b["content"].as_str().unwrap().to_string());
                    }
                }
            }
            _ if m["role"] == "tool" => results.push(m["content"].as_str().unwrap().to_string()),
            _ => {}
        }
    }
    (offered, results)
}

/// Two calls in one reply (a built-in and an MCP tool, Chinese arguments), the body cut every
/// 7 bytes so arguments and characters split across reads: both run, both results go back
/// matched to their calls, and the answer is printed.
fn calls_split_across_chunks_round_trip_on_every_api(api: Api) {
    let env = TestEnv::with(api);
    env.fake.set_models(&[MODEL]);
    let work = workdir(&env);
    env.fake.push_chat(ChatReply::Script(Script {
        tool_calls: vec![
            ("read_file".into(), json!({"path": "笔记.txt"})),
            ("t.echo".into(), json!({"text": "你好世界"})),
        ],
        split_every: Some(7),
        ..Script::default()
    }));
    env.fake
        .push_chat(ChatReply::Tokens(vec!["完".into(), "成".into()]));
    let spec = format!("t=sh {}", mcp_server());
    env.cmd()
        .current_dir(&work)
        .args(["-m", MODEL, "--tools", "read_file", "--mcp", &spec])
        .args([
            "--allow-tool",
            "read_file",
            "--allow-tool",
            "t.echo",
            "-p",
            "go",
        ])
        .assert()
        .success()
        .stdout("完成");
    let bodies = env.fake.chat_bodies();
    assert_eq!(bodies.len(), 2);
    let (offered, _) = offered_and_results(api, &bodies[0]);
    let echo = if api == Api::Ollama {
        "t.echo"
    } else {
        "t__echo"
    };
    assert!(
        offered.contains(&"read_file".to_string()) && offered.contains(&echo.to_string()),
        "{offered:?}"
    );
    let (_, results) = offered_and_results(api, &bodies[1]);
    assert_eq!(results, ["第一行：你好\n", "echo: 你好世界"]);
    // The calls go back with the ids the results name.
    let asked = &bodies[1]["messages"][1];
    match api {
        Api::Ollama => assert_eq!(asked["tool_calls"][1]["function"]["name"], "t.echo"),
        Api::OpenAi => {
            assert_eq!(asked["tool_calls"][1]["function"]["name"], "t__echo");
            let id = asked["tool_calls"][1]["id"].as_str().unwrap();
            assert_eq!(bodies[1]["messages"][3]["tool_call_id"], id);
        }
        Api::Anthropic => {
            let blocks = asked["content"].as_array().unwrap();
            let id = blocks.last().unwrap()["id"].as_str().unwrap();
            assert_eq!(bodies[1]["messages"][2]["content"][1]["tool_use_id"], id);
        }
    }
}

#[test]
fn fetch_url_reads_text_and_a_key_in_a_result_is_never_written() {
    let (env, work) = tool_env();
    let key = "sk-tools-test-0123456789abcdef";
    std::fs::write(work.join(".env"), format!("OLLAMA_API_KEY={key}\n")).unwrap();
    let root = format!("{}/", env.fake.url());
    env.fake.push_chat(ChatReply::calls(&[
        ("fetch_url", json!({ "url": root })),
        ("fetch_url", json!({"url": "file:///etc/passwd"})),
        ("read_file", json!({"path": ".env"})),
    ]));
    env.fake.push_chat(ChatReply::Tokens(vec!["ok".into()]));
    let session = env.home.path().join("k.jsonl");
    env.cmd()
        .current_dir(&work)
        .env("OLLAMA_API_KEY", key)
        .args([
            "-m",
            MODEL,
            "--tools",
            "default",
            "--allow-tool",
            "fetch_url",
        ])
        .args([
            "--allow-tool",
            "read_file",
            "--session",
            session.to_str().unwrap(),
        ])
        .args(["-p", "fetch"])
        .assert()
        .success();
    let results = tool_results(&env.fake.chat_bodies()[1]);
    assert_eq!(results[0].1, "HTTP 200 OK\n\nOllama is running");
    assert!(
        results[1].1.starts_with("refused: only http"),
        "{results:?}"
    );
    assert_eq!(results[2].1, "OLLAMA_API_KEY=<OLLAMA_API_KEY>\n");
    let written = std::fs::read_to_string(&session).unwrap()
        + &std::fs::read_to_string(env.log_path()).unwrap();
    assert!(!written.contains(key), "the key reached a file");
}

#[test]
fn a_hostile_mcp_server_gives_one_line() {
    let (env, work) = tool_env();
    for (mode, said) in [
        ("endless", "sent a line longer than 4 MiB"),
        ("garbage", "sent something that is not JSON-RPC"),
        ("slowstart", "did not answer within 2 s"),
    ] {
        let spec = format!("t=sh {} {mode}", mcp_server());
        let out = env
            .cmd()
            .current_dir(&work)
            .args(["-m", MODEL, "--tools", "now", "--mcp", &spec])
            .args(["--tool-timeout", "2", "-p", "hi"])
            .assert()
            .success()
            .stdout("echo: hi");
        let err = String::from_utf8_lossy(&out.get_output().stderr).into_owned();
        assert!(err.contains(said), "{mode}: {err}");
        assert_eq!(err.lines().count(), 1, "{mode}: one line: {err}");
        assert!(!err.contains('\u{1b}'), "{mode}: {err:?}");
    }
}

/// A question asked in a session that already holds a 600-character exchange, with
/// `num_ctx=512` (128 kept for the reply): the call's 1000-character result does not fit beside
/// the old exchange, so the follow-up drops it, as a turn would, and keeps the question, the call
/// and the result together.
#[test]
fn the_follow_up_after_tool_results_is_budgeted_like_a_turn() {
    let (env, work) = tool_env();
    std::fs::write(work.join("big.txt"), "y".repeat(1000)).unwrap();
    let session = env.home.path().join("ctx.jsonl");
    let old = format!("one {}", "x".repeat(595));
    env.fake.push_chat(ChatReply::Tokens(vec!["ok.".into()]));
    let run = |prompt: &str| {
        env.cmd()
            .current_dir(&work)
            .args(["-m", MODEL, "-o", "num_ctx=512", "--tools", "read_file"])
            .args(["--allow-tool", "read_file", "--session"])
            .args([session.to_str().unwrap(), "-p", prompt])
            .assert()
            .success()
    };
    run(&old);
    env.fake.push_chat(ChatReply::calls(&[(
        "read_file",
        json!({"path": "big.txt"}),
    )]));
    env.fake.push_chat(ChatReply::Tokens(vec!["long.".into()]));
    let out = run("read big.txt");
    let err = String::from_utf8_lossy(&out.get_output().stderr).into_owned();
    assert!(
        err.contains("context: dropped the oldest 1 exchange (2 messages"),
        "{err}"
    );
    let bodies = env.fake.chat_bodies();
    assert_eq!(bodies.len(), 3);
    let asked = crate::harness::messages(&bodies[1]);
    assert_eq!(
        asked[0],
        ("user".to_string(), old.clone()),
        "the question fits"
    );
    let follow_up = &bodies[2];
    let roles: Vec<&str> = follow_up["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["role"].as_str().unwrap())
        .collect();
    assert_eq!(
        roles,
        ["user", "assistant", "tool"],
        "the old exchange left"
    );
    assert_eq!(follow_up["messages"][0]["content"], "read big.txt");
    assert_eq!(tool_results(follow_up)[0].1, "y".repeat(1000));
    assert_eq!(env.fake.truncations(), 0, "the server never had to cut");
    let log = env.log_records();
    let last = log.last().unwrap();
    assert_eq!(last["call"], "tool_result");
    assert_eq!(last["context_action"]["strategy"], "truncate");
    assert_eq!(last["context_window"], 512);
}

/// A server that hands back the token it was configured with: the model, the session and the
/// log get a placeholder.
#[test]
fn a_configured_token_an_mcp_server_echoes_is_blanked() {
    let (env, work) = tool_env();
    let token = "tok-mcp-0123456789";
    write_config(
        &env,
        &format!(
            "[mcp.t]\ncommand = \"sh\"\nargs = [{:?}]\nenv = {{ MCP_TOKEN = \"{token}\" }}\n",
            mcp_server()
        ),
    );
    env.fake
        .push_chat(ChatReply::calls(&[("t.echo", json!({ "text": token }))]));
    env.fake.push_chat(ChatReply::Tokens(vec!["done".into()]));
    let session = env.home.path().join("t.jsonl");
    env.cmd()
        .current_dir(&work)
        .args(["-m", MODEL, "--allow-tool", "t.echo", "--session"])
        .args([session.to_str().unwrap(), "-p", "x"])
        .assert()
        .success();
    let results = tool_results(&env.fake.chat_bodies()[1]);
    assert_eq!(results[0].1, "echo: <MCP_TOKEN>");
    let records = read_jsonl(&session);
    let tool = records.iter().find(|r| r["kind"] == "tool").unwrap();
    assert_eq!(tool["content"], "echo: <MCP_TOKEN>");
    let log = env.log_records();
    assert_eq!(log[0]["tool_calls"][0]["status"], "ok");
    assert_eq!(log[0]["tool_calls"][0]["result"], "echo: <MCP_TOKEN>");
}

/// A recorded switch to a model without tools, re-run: the tools go off for it, said.
#[test]
fn a_rerun_checks_each_recorded_model_for_tools() {
    let (env, work) = tool_env();
    env.fake.set_models(&[MODEL, "tiny"]);
    let session = env.home.path().join("switch.jsonl");
    std::fs::write(
        &session,
        concat!(
            r#"{"kind":"session","version":2,"id":"2e20de3d-d339-4a37-a9ad-3d908f72d5ad","created":"2026-11-29T01:14:49.215Z","model":"tiny-tools","host":"http://127.0.0.1:1"}"#,
            "\n",
            r#"{"at":"2026-11-29T01:14:50.000Z","kind":"user","content":"one"}"#,
            "\n",
            r#"{"at":"2026-11-29T01:14:51.000Z","kind":"assistant","content":"1","status":"ok","latency":0.4}"#,
            "\n",
            r#"{"at":"2026-11-29T01:14:52.000Z","kind":"model","model":"tiny"}"#,
            "\n",
            r#"{"at":"2026-11-29T01:14:53.000Z","kind":"user","content":"two"}"#,
            "\n",
        ),
    )
    .unwrap();
    env.fake.push_chat(ChatReply::Tokens(vec!["一".into()]));
    env.cmd()
        .current_dir(&work)
        .args(["--no-session", "--tools", "now", "replay"])
        .args([session.to_str().unwrap(), "--rerun"])
        .assert()
        .success()
        .stderr(predicates::str::contains(
            "tiny does not support tools (its capabilities: completion); chatting without them",
        ));
    let bodies = env.fake.chat_bodies();
    assert_eq!(bodies.len(), 2);
    assert_eq!(bodies[0]["tools"][0]["function"]["name"], "now");
    assert_eq!(bodies[1]["model"], "tiny");
    assert!(bodies[1].get("tools").is_none(), "{}", bodies[1]);
}

/// The server's window is smaller than `num_ctx` says (it caps it at 512): the follow-up that
/// carries a long result is refused, the window learned, the old exchanges dropped, and the
/// results sent once more.
#[test]
fn a_follow_up_the_server_refuses_is_budgeted_again_for_its_real_window() {
    let (env, work) = tool_env();
    env.fake.set_num_ctx_cap(Some(512));
    std::fs::write(work.join("big.txt"), "y".repeat(1000)).unwrap();
    let session = env.home.path().join("cap.jsonl");
    let run = |prompt: &str| {
        env.cmd()
            .current_dir(&work)
            .args(["-m", MODEL, "-o", "num_ctx=4096", "--tools", "read_file"])
            .args(["--allow-tool", "read_file", "--session"])
            .args([session.to_str().unwrap(), "-p", prompt])
            .assert()
            .success()
    };
    for tag in ["one", "two", "three"] {
        env.fake.push_chat(ChatReply::Tokens(vec!["ok.".into()]));
        run(&format!("{tag} {}", "x".repeat(599 - tag.len())));
    }
    // The follow-ups are answered by the fake's own validation (a scripted reply skips it):
    // refused over the window, else the echo of the last user message.
    env.fake.push_chat(ChatReply::calls(&[(
        "read_file",
        json!({"path": "big.txt"}),
    )]));
    let out = run("read big.txt");
    let out = out.stdout("echo: read big.txt");
    let err = String::from_utf8_lossy(&out.get_output().stderr).into_owned();
    assert!(
        err.contains("has a 512-token context window for tiny-tools, not the 4096 tokens believed"),
        "{err}"
    );
    let bodies = env.fake.chat_bodies();
    assert_eq!(
        bodies.len(),
        6,
        "three runs, then the question, the refused follow-up, the follow-up again"
    );
    let refused = &bodies[4];
    assert_eq!(refused["messages"].as_array().unwrap().len(), 9);
    let again = &bodies[5];
    let roles: Vec<&str> = again["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["role"].as_str().unwrap())
        .collect();
    assert_eq!(roles, ["user", "assistant", "tool"]);
    assert_eq!(tool_results(again)[0].1, "y".repeat(1000));
    assert_eq!(env.fake.truncations(), 0, "nothing was cut by the server");
}
