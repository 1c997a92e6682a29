//! Model management as a user runs it: `models`, `ps`, `show`, `pull` (plain lines, bars on a
//! terminal, an error mid-stream, Ctrl-C), `create` (the exact JSON the server got, a local GGUF
//! uploaded once, Modelfile errors), `cp`, `rm`, and the REPL's offer to pull a missing model.

use std::io::{BufRead, BufReader};
use std::process::Stdio;
use std::time::{Duration, Instant};

use predicates::prelude::*;
use rexpect::process::WaitStatus;
use rexpect::session::{spawn_command, PtySession};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use crate::harness::TestEnv;
use crate::support::fake_ollama::{PullReply, PullScript};

/// rexpect reads the terminal byte by byte as Latin-1; this turns UTF-8 text into what it sees.
fn l(s: &str) -> String {
    s.bytes().map(char::from).collect()
}

fn stdout_of(a: &assert_cmd::assert::Assert) -> String {
    String::from_utf8(a.get_output().stdout.clone()).unwrap()
}

fn stderr_of(a: &assert_cmd::assert::Assert) -> String {
    String::from_utf8(a.get_output().stderr.clone()).unwrap()
}

fn spawn_pty(env: &TestEnv, args: &[&str]) -> PtySession {
    let mut cmd = env.std_command();
    cmd.args(args);
    spawn_command(cmd, Some(20_000)).expect("spawn in a pty")
}

fn exit_code(mut p: PtySession) -> i32 {
    p.exp_eof().unwrap();
    match p.process().wait().unwrap() {
        WaitStatus::Exited(_, code) => code,
        other => panic!("unexpected exit: {other:?}"),
    }
}

fn write(env: &TestEnv, name: &str, text: &str) {
    std::fs::write(env.home.path().join(name), text).unwrap();
}

// ---------------------------------------------------------------------------------------------
// models, ps
// ---------------------------------------------------------------------------------------------

#[test]
fn models_is_an_aligned_table_and_list_is_the_same() {
    let env = TestEnv::new();
    env.fake.set_models(&["tiny", "tiny-think"]);
    let a = env
        .cmd()
        .env("OLLAMA_API_KEY", "sk-1")
        .arg("models")
        .assert()
        .success();
    let out = stdout_of(&a);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 3, "{out}");
    assert_eq!(
        lines[0],
        "NAME               SIZE    FAMILY  PARAMS   QUANT   MODIFIED"
    );
    assert!(lines[1].starts_with("tiny:latest        253 MB  gemma3  268.10M  Q4_K_M  "));
    assert!(lines[1].ends_with("1 hour ago"), "{}", lines[1]);
    assert!(lines[2].starts_with("tiny-think:latest  253 MB"));
    let req = &env.fake.requests()[0];
    assert_eq!(req.path, "/api/tags");
    assert_eq!(req.header("Authorization"), Some("Bearer sk-1"));

    let b = env.cmd().arg("list").assert().success();
    assert_eq!(stdout_of(&b), out);
}

#[test]
fn models_json_is_for_scripts() {
    let env = TestEnv::new();
    env.fake.set_models(&["tiny", "tiny-think"]);
    let a = env.cmd().args(["models", "--json"]).assert().success();
    let v: Value = serde_json::from_str(&stdout_of(&a)).unwrap();
    let items = v.as_array().unwrap();
    assert_eq!(items.len(), 2);
    assert_eq!(items[0]["name"], "tiny:latest");
    assert_eq!(items[1]["capabilities"], json!(["completion", "thinking"]));
    assert_eq!(items[0]["parameter_size"], "268.10M");
    assert!(items[0]["size"].as_u64().unwrap() > 253_000_000);
}

#[test]
fn no_models_prints_the_header_and_a_hint() {
    let env = TestEnv::new();
    env.fake.set_models(&[]);
    env.cmd()
        .arg("models")
        .assert()
        .success()
        .stdout("NAME  SIZE  FAMILY  PARAMS  QUANT  MODIFIED\n")
        .stderr(predicate::str::contains("ollama-chat pull"));
}

#[test]
fn ps_shows_what_a_chat_loaded() {
    let env = TestEnv::new();
    env.cmd()
        .args(["ps"])
        .assert()
        .success()
        .stdout("NAME  SIZE  PROCESSOR  CONTEXT  UNTIL\n");
    env.cmd()
        .args(["-m", "tiny", "-o", "num_ctx=4096", "-p", "hi"])
        .assert()
        .success();
    let a = env.cmd().arg("ps").assert().success();
    let out = stdout_of(&a);
    let row = out.lines().nth(1).unwrap();
    assert!(
        row.starts_with("tiny:latest  285 MB  100% CPU   4096     in "),
        "{row}"
    );
    assert!(row.ends_with("minutes"), "{row}");
    let a = env.cmd().args(["ps", "--json"]).assert().success();
    let v: Value = serde_json::from_str(&stdout_of(&a)).unwrap();
    assert_eq!(v[0]["context_length"], 4096);
    assert_eq!(v[0]["processor"], "100% CPU");
    assert_eq!(v[0]["size_vram"], 0);
}

#[test]
fn no_server_is_exit_3_for_model_commands_too() {
    let env = TestEnv::new();
    env.cmd()
        .env("OLLAMA_HOST", "127.0.0.1:1")
        .arg("models")
        .assert()
        .code(3)
        .stderr(predicate::str::contains("cannot reach Ollama"));
}

// ---------------------------------------------------------------------------------------------
// show
// ---------------------------------------------------------------------------------------------

#[test]
fn show_summary_and_each_part() {
    let env = TestEnv::new();
    let a = env.cmd().args(["show", "tiny"]).assert().success();
    let out = stdout_of(&a);
    for want in [
        "  Model\n    architecture        gemma3\n    parameters          268.10M\n",
        "    context length      32768\n",
        "    quantization        Q4_K_M\n",
        "  Capabilities\n    completion\n",
        "  Parameters\n    top_p                          0.95\n",
        "  System\n    You are Tiny, a terse test assistant.\n",
    ] {
        assert!(out.contains(want), "missing {want:?} in\n{out}");
    }
    env.cmd()
        .args(["show", "tiny", "--system"])
        .assert()
        .success()
        .stdout("You are Tiny, a terse test assistant.\n");
    env.cmd()
        .args(["show", "tiny", "--parameters"])
        .assert()
        .success()
        .stdout(predicate::str::starts_with(
            "top_p                          0.95\nnum_ctx",
        ));
    env.cmd()
        .args(["show", "tiny", "--template"])
        .assert()
        .success()
        .stdout(predicate::str::starts_with(
            "{{- range $i, $_ := .Messages }}\n",
        ));
    env.cmd()
        .args(["show", "tiny", "--modelfile"])
        .assert()
        .success()
        .stdout(predicate::str::starts_with(
            "# Modelfile generated by \"ollama show\"",
        ))
        .stdout(predicate::str::contains("\nPARAMETER stop <end_of_turn>\n"));
    env.cmd()
        .args(["show", "tiny", "--license"])
        .assert()
        .success()
        .stdout("")
        .stderr("ollama-chat: tiny has no license\n");
    let a = env
        .cmd()
        .args(["show", "tiny", "--json"])
        .assert()
        .success();
    let v: Value = serde_json::from_str(&stdout_of(&a)).unwrap();
    assert_eq!(v["model_info"]["gemma3.context_length"], 32768);
    assert!(v.get("tensors").is_none());
    assert_eq!(
        env.fake.bodies_of("POST", "/api/show")[0],
        json!({"model": "tiny"})
    );
}

#[test]
fn show_of_a_missing_model_is_exit_4() {
    let env = TestEnv::new();
    env.cmd()
        .args(["show", "nope-not-here"])
        .assert()
        .code(4)
        .stdout("")
        .stderr("ollama-chat: model 'nope-not-here' is not installed (`ollama-chat models` lists what is)\n");
}

// ---------------------------------------------------------------------------------------------
// pull
// ---------------------------------------------------------------------------------------------

#[test]
fn pull_prints_plain_status_lines_when_not_on_a_terminal() {
    let env = TestEnv::new();
    let a = env
        .cmd()
        .args(["pull", "tiny2"])
        .assert()
        .success()
        .stdout("");
    let err = stderr_of(&a);
    let lines: Vec<&str> = err.lines().collect();
    assert_eq!(lines[0], "pulling manifest");
    assert!(
        lines[1].starts_with("pulling ") && lines[1].ends_with(" (253 MB)"),
        "{err}"
    );
    let layer = lines[1].trim_end_matches(" (253 MB)");
    for q in [25, 50, 75, 100] {
        assert!(err.contains(&format!("{layer}: {q}% of 253 MB\n")), "{err}");
    }
    assert!(
        err.ends_with("verifying sha256 digest\nwriting manifest\nsuccess\n"),
        "{err}"
    );
    assert_eq!(
        env.fake.bodies_of("POST", "/api/pull"),
        vec![json!({"model": "tiny2"})]
    );
    assert!(env.fake.model_names().contains(&"tiny2:latest".to_string()));
}

#[test]
fn pull_error_mid_stream_is_reported_with_exit_1() {
    let env = TestEnv::new();
    env.fake.push_pull(PullReply::Script(PullScript {
        error_after: Some((4, "max retries exceeded: unexpected EOF".into())),
        ..Default::default()
    }));
    let a = env.cmd().args(["pull", "tiny2"]).assert().code(1);
    let err = stderr_of(&a);
    assert!(err.starts_with("pulling manifest\npulling "), "{err}");
    assert!(err.contains(": 25% of 253 MB\n"), "{err}");
    assert!(!err.contains("success"), "{err}");
    assert!(
        err.ends_with(
            "ollama-chat: pulling 'tiny2' failed: max retries exceeded: unexpected EOF\n"
        ),
        "{err}"
    );
    assert!(!env.fake.model_names().contains(&"tiny2:latest".to_string()));
}

#[test]
fn pull_of_an_unknown_model_shows_the_registry_error() {
    let env = TestEnv::new();
    env.cmd()
        .args(["pull", "this-model-does-not-exist-xyz"])
        .assert()
        .code(1)
        .stderr(predicate::str::starts_with("pulling manifest\n"))
        .stderr(predicate::str::contains(
            "failed: pull model manifest: Get \"https://registry.ollama.ai/v2/library/this-model-does-not-exist-xyz/manifests/latest\"",
        ));
}

#[test]
fn ctrl_c_cancels_a_pull_with_exit_130_and_closes_the_connection() {
    let env = TestEnv::new();
    env.fake.push_pull(PullReply::Script(PullScript {
        delay: Duration::from_millis(300),
        ..Default::default()
    }));
    let mut child = env
        .std_command()
        .args(["pull", "slow"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stderr = BufReader::new(child.stderr.take().unwrap());
    let mut first = String::new();
    stderr.read_line(&mut first).unwrap(); // the pull has started
    assert_eq!(first, "pulling manifest\n");
    let status = std::process::Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let mut rest = String::new();
    std::io::Read::read_to_string(&mut stderr, &mut rest).unwrap();
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(130), "{rest} {:?}", out.status);
    assert!(
        rest.ends_with("ollama-chat: pull of 'slow' cancelled (pull again to resume)\n"),
        "{rest}"
    );
    let deadline = Instant::now() + Duration::from_secs(10);
    while env.fake.pull_disconnects() == 0 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(
        env.fake.pull_disconnects(),
        1,
        "the server must see the connection close"
    );
    assert!(!env.fake.model_names().contains(&"slow:latest".to_string()));
}

#[test]
fn pull_on_a_terminal_draws_progress_bars() {
    let env = TestEnv::new();
    env.fake.push_pull(PullReply::Script(PullScript {
        delay: Duration::from_millis(30),
        ..Default::default()
    }));
    let mut p = spawn_pty(&env, &["pull", "tiny2"]);
    p.exp_string("pulling manifest").unwrap();
    p.exp_string("100%").unwrap();
    p.exp_string("MB/253").unwrap();
    p.exp_string("success").unwrap();
    assert_eq!(exit_code(p), 0);
}

// ---------------------------------------------------------------------------------------------
// create
// ---------------------------------------------------------------------------------------------

#[test]
fn create_sends_exactly_the_parsed_modelfile() {
    let env = TestEnv::new();
    write(
        &env,
        "Modelfile",
        "# a test model\nfrom tiny\nPARAMETER num_ctx 512\nPARAMETER temperature 0.2\n\
         PARAMETER stop <end_of_turn>\nPARAMETER stop \"User: \"\n\
         TEMPLATE \"\"\"{{ .System }}\n{{ .Prompt }}\"\"\"\nSYSTEM You are Tiny3. Reply with one word.\n\
         MESSAGE user 你好\nMESSAGE assistant 嗨\nLICENSE MIT\nLICENSE \"\"\"second\nlicense\"\"\"\n",
    );
    let a = env
        .cmd()
        .args(["create", "tiny3"])
        .assert()
        .success()
        .stdout("");
    let err = stderr_of(&a);
    assert!(err.starts_with("using existing layer sha256:"), "{err}");
    assert!(err.contains("creating new layer sha256:"), "{err}");
    assert!(
        err.ends_with("writing manifest\nsuccess\nollama-chat: created 'tiny3'; chat with it: ollama-chat -m tiny3\n"),
        "{err}"
    );
    assert_eq!(
        env.fake.create_bodies(),
        vec![json!({
            "model": "tiny3",
            "from": "tiny",
            "template": "{{ .System }}\n{{ .Prompt }}",
            "system": "You are Tiny3. Reply with one word.",
            "license": ["MIT", "second\nlicense"],
            "parameters": {"num_ctx": 512, "temperature": 0.2, "stop": ["<end_of_turn>", "User: "]},
            "messages": [
                {"role": "user", "content": "你好"},
                {"role": "assistant", "content": "嗨"}
            ]
        })]
    );
    assert_eq!(env.fake.model_names()[0], "tiny3:latest");
}

#[test]
fn the_example_modelfile_makes_a_teacher_to_chat_with() {
    let env = TestEnv::new();
    env.fake.set_models(&["llama3.2"]);
    write(
        &env,
        "Modelfile.example",
        include_str!("../../Modelfile.example"),
    );
    env.cmd()
        .args(["create", "my-teacher", "-f", "Modelfile.example"])
        .assert()
        .success();
    assert_eq!(
        env.fake.create_bodies(),
        vec![json!({
            "model": "my-teacher",
            "from": "llama3.2:latest",
            "system": "你是一位專業的老師，擅長用淺顯例子解釋複雜概念。",
            "license": "MIT",
            "parameters": {"temperature": 0.3, "top_p": 0.9, "num_predict": 1024, "repeat_penalty": 1.2}
        })]
    );
    env.cmd()
        .args(["-m", "my-teacher", "-p", "什麼是光合作用？"])
        .assert()
        .success()
        .stdout("echo: 什麼是光合作用？");
    assert_eq!(env.fake.chat_bodies()[0]["model"], "my-teacher");
}

#[test]
fn create_from_a_local_gguf_uploads_it_once() {
    let env = TestEnv::new();
    let weights: Vec<u8> = (0..3_000_000u32).map(|i| (i % 251) as u8).collect();
    std::fs::create_dir(env.home.path().join("models")).unwrap();
    std::fs::write(env.home.path().join("models/tiny.gguf"), &weights).unwrap();
    write(
        &env,
        "models/Modelfile",
        "FROM ./tiny.gguf\nSYSTEM 簡短回答。\n",
    );
    let digest = format!(
        "sha256:{}",
        Sha256::digest(&weights)
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect::<String>()
    );

    let a = env
        .cmd()
        .args(["create", "local", "-f", "models/Modelfile"])
        .assert()
        .success();
    let err = stderr_of(&a);
    assert!(err.contains("hashing tiny.gguf (3 MB)"), "{err}");
    assert!(err.contains("uploading tiny.gguf"), "{err}");
    assert!(err.contains("parsing GGUF"), "{err}");
    let blob_requests: Vec<(String, String)> = env
        .fake
        .requests()
        .iter()
        .filter(|r| r.path.starts_with("/api/blobs/"))
        .map(|r| (r.method.clone(), r.path.clone()))
        .collect();
    let path = format!("/api/blobs/{digest}");
    assert_eq!(
        blob_requests,
        vec![
            ("HEAD".to_string(), path.clone()),
            ("POST".to_string(), path.clone())
        ]
    );
    assert_eq!(env.fake.blobs(), vec![digest.clone()]);
    assert_eq!(
        env.fake.create_bodies()[0],
        json!({"model": "local", "files": {"tiny.gguf": digest}, "system": "簡短回答。"})
    );

    // The server has the blob now: HEAD says so and nothing is uploaded again.
    let a = env
        .cmd()
        .args(["create", "local2", "-f", "models/Modelfile"])
        .assert()
        .success();
    assert!(stderr_of(&a).contains(&format!("using existing blob {digest}")));
    let posts = env
        .fake
        .requests()
        .iter()
        .filter(|r| r.method == "POST" && r.path == path)
        .count();
    assert_eq!(posts, 1);
}

#[test]
fn modelfile_errors_name_the_line_and_column_and_send_nothing() {
    let env = TestEnv::new();
    write(&env, "Modelfile", "FROM tiny\n\nPARAMETER temprature 0.3\n");
    env.cmd()
        .args(["create", "x"])
        .assert()
        .code(2)
        .stderr("ollama-chat: Modelfile:3:11: PARAMETER unknown option \"temprature\" (did you mean \"temperature\"?)\n");
    write(&env, "Bad", "FROM tiny\nSYSTEM \"\"\"never closed\n");
    env.cmd()
        .args(["create", "x", "-f", "Bad"])
        .assert()
        .code(2)
        .stderr("ollama-chat: Bad:2:8: this \"\"\" is never closed\n");
    env.cmd()
        .args(["create", "x", "-f", "Missing"])
        .assert()
        .code(2)
        .stderr(predicate::str::starts_with(
            "ollama-chat: cannot read the Modelfile Missing: ",
        ));
    write(&env, "NoFile", "FROM ./gone.gguf\n");
    env.cmd()
        .args(["create", "x", "-f", "NoFile"])
        .assert()
        .code(2)
        .stderr(predicate::str::starts_with(
            "ollama-chat: FROM ./gone.gguf: ",
        ));
    assert!(env.fake.requests().is_empty(), "nothing may be sent");
}

#[test]
fn create_from_a_missing_base_model_reports_the_stream_error() {
    let env = TestEnv::new();
    write(&env, "Modelfile", "FROM does-not-exist\n");
    env.cmd()
        .args(["create", "tiny5"])
        .assert()
        .code(1)
        .stderr(predicate::str::starts_with("pulling manifest\n"))
        .stderr(predicate::str::contains(
            "ollama-chat: creating 'tiny5' failed: pull model manifest: Get \"https://registry.ollama.ai/v2/library/does-not-exist/manifests/latest\"",
        ));
    assert!(!env.fake.model_names().contains(&"tiny5:latest".to_string()));
}

// ---------------------------------------------------------------------------------------------
// cp, rm
// ---------------------------------------------------------------------------------------------

#[test]
fn cp_copies_and_a_missing_source_is_exit_4() {
    let env = TestEnv::new();
    env.cmd()
        .args(["cp", "tiny", "tiny-copy"])
        .assert()
        .success()
        .stdout("copied 'tiny' to 'tiny-copy'\n");
    assert_eq!(
        env.fake.bodies_of("POST", "/api/copy"),
        vec![json!({"source": "tiny", "destination": "tiny-copy"})]
    );
    assert!(env
        .fake
        .model_names()
        .contains(&"tiny-copy:latest".to_string()));
    env.cmd()
        .args(["cp", "nope", "nope2"])
        .assert()
        .code(4)
        .stderr(predicate::str::contains("model 'nope' is not installed"));
}

#[test]
fn rm_refuses_without_yes_when_not_on_a_terminal() {
    let env = TestEnv::new();
    env.cmd()
        .args(["rm", "tiny"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("pass --yes"));
    assert!(env.fake.model_names().contains(&"tiny:latest".to_string()));
    assert!(env.fake.requests().is_empty());
}

#[test]
fn rm_yes_deletes_and_a_typo_deletes_nothing() {
    let env = TestEnv::new();
    env.fake.set_models(&["tiny", "tiny2"]);
    env.cmd()
        .args(["rm", "tiny", "tiyn2", "--yes"])
        .assert()
        .code(4)
        .stderr(predicate::str::contains("model 'tiyn2' is not installed"));
    assert_eq!(env.fake.model_names().len(), 2);
    env.cmd()
        .args(["rm", "--yes", "tiny", "tiny2"])
        .assert()
        .success()
        .stdout("deleted 'tiny:latest'\ndeleted 'tiny2:latest'\n");
    assert!(env.fake.model_names().is_empty());
    assert_eq!(
        env.fake.bodies_of("DELETE", "/api/delete"),
        vec![
            json!({"model": "tiny:latest"}),
            json!({"model": "tiny2:latest"})
        ]
    );
}

#[test]
fn rm_asks_on_a_terminal() {
    let env = TestEnv::new();
    let mut p = spawn_pty(&env, &["rm", "tiny"]);
    p.exp_string("Delete 'tiny:latest'? [y/N] ").unwrap();
    p.send_line("n").unwrap();
    p.exp_string("kept 'tiny:latest'").unwrap();
    assert_eq!(exit_code(p), 0);
    assert!(env.fake.model_names().contains(&"tiny:latest".to_string()));

    let mut p = spawn_pty(&env, &["rm", "tiny"]);
    p.exp_string("Delete 'tiny:latest'? [y/N] ").unwrap();
    p.send_line("y").unwrap();
    p.exp_string("deleted 'tiny:latest'").unwrap();
    assert_eq!(exit_code(p), 0);
    assert!(env.fake.model_names().is_empty());
}

// ---------------------------------------------------------------------------------------------
// The REPL offers to pull
// ---------------------------------------------------------------------------------------------

#[test]
fn the_repl_offers_to_pull_a_missing_model_then_chats() {
    let env = TestEnv::new();
    let mut p = spawn_pty(&env, &["-m", "tiny2"]);
    p.exp_string("Model 'tiny2' is not installed. Pull it now? [y/N] ")
        .unwrap();
    p.send_line("y").unwrap();
    p.exp_string("success").unwrap();
    p.exp_string(">>> ").unwrap();
    p.send_line("你好").unwrap();
    p.exp_string(&l("echo: 你好")).unwrap();
    p.exp_string(">>> ").unwrap();
    p.send_control('d').unwrap();
    assert_eq!(exit_code(p), 0);
    assert_eq!(env.fake.chat_bodies()[0]["model"], "tiny2");
    assert_eq!(
        env.fake.bodies_of("POST", "/api/pull"),
        vec![json!({"model": "tiny2"})]
    );
}

#[test]
fn declining_the_pull_exits_4() {
    let env = TestEnv::new();
    let mut p = spawn_pty(&env, &["-m", "tiny2"]);
    p.exp_string("Pull it now? [y/N] ").unwrap();
    p.send_line("").unwrap();
    p.exp_string("model 'tiny2' is not installed").unwrap();
    assert_eq!(exit_code(p), 4);
    assert!(env.fake.bodies_of("POST", "/api/pull").is_empty());
}

#[test]
fn an_installed_model_is_not_offered() {
    let env = TestEnv::new();
    let mut p = spawn_pty(&env, &["-m", "tiny"]);
    p.exp_string(">>> ").unwrap();
    p.send_control('d').unwrap();
    assert_eq!(exit_code(p), 0);
    assert_eq!(
        env.fake.bodies_of("POST", "/api/show"),
        vec![json!({"model": "tiny"})]
    );
}
