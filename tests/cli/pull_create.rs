//! `pull` (plain lines, bars on a terminal, an error mid-stream, the registry error, Ctrl-C) and
//! `create` (the exact JSON the server got, a local GGUF uploaded once, Modelfile errors).

use std::io::{BufRead, BufReader};
use std::process::Stdio;
use std::time::{Duration, Instant};

use predicates::prelude::*;
use serde_json::json;
use sha2::{Digest, Sha256};

use crate::harness::TestEnv;
use crate::models::{exit_code, spawn_pty, stderr_of, write};
use crate::support::fake_ollama::{PullReply, PullScript};

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
