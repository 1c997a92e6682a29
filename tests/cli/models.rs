//! Model management as a user runs it: `models`, `ps`, `show`, `cp`, `rm`, and the REPL's offer to
//! pull a missing model (`pull` and `create` are in `pull_create`). Helpers shared with it live here.

use predicates::prelude::*;
use rexpect::process::WaitStatus;
use rexpect::session::{spawn_command, PtySession};
use serde_json::{json, Value};

use crate::harness::TestEnv;
use crate::pty::enter;

/// rexpect reads the terminal byte by byte as Latin-1; this turns UTF-8 text into what it sees.
pub(crate) fn l(s: &str) -> String {
    s.bytes().map(char::from).collect()
}

pub(crate) fn stdout_of(a: &assert_cmd::assert::Assert) -> String {
    String::from_utf8(a.get_output().stdout.clone()).unwrap()
}

pub(crate) fn stderr_of(a: &assert_cmd::assert::Assert) -> String {
    String::from_utf8(a.get_output().stderr.clone()).unwrap()
}

pub(crate) fn spawn_pty(env: &TestEnv, args: &[&str]) -> PtySession {
    let mut cmd = env.std_command();
    cmd.args(args);
    spawn_command(cmd, Some(20_000)).expect("spawn in a pty")
}

pub(crate) fn exit_code(mut p: PtySession) -> i32 {
    p.exp_eof().unwrap();
    match p.process().wait().unwrap() {
        WaitStatus::Exited(_, code) => code,
        other => panic!("unexpected exit: {other:?}"),
    }
}

pub(crate) fn write(env: &TestEnv, name: &str, text: &str) {
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
    enter(&mut p, "n");
    p.exp_string("kept 'tiny:latest'").unwrap();
    assert_eq!(exit_code(p), 0);
    assert!(env.fake.model_names().contains(&"tiny:latest".to_string()));

    let mut p = spawn_pty(&env, &["rm", "tiny"]);
    p.exp_string("Delete 'tiny:latest'? [y/N] ").unwrap();
    enter(&mut p, "y");
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
    enter(&mut p, "y");
    p.exp_string("success").unwrap();
    p.exp_string(">>> ").unwrap();
    enter(&mut p, "你好");
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
    enter(&mut p, "");
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
