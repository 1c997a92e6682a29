//! Every failure a user can meet in one-shot mode: a clear one-line error, the documented exit code,
//! the partial reply kept, and the turn logged.

use std::io::Read;
use std::process::Stdio;
use std::time::{Duration, Instant};

use predicates::prelude::*;

use crate::harness::{words, Api, TestEnv};
use crate::support::fake_ollama::{ChatReply, End, Script};

every_api!(
    no_server_exits_3_with_a_hint,
    no_server_and_no_model_also_exits_3,
    unknown_model_exits_4_with_a_hint,
    server_error_status_is_reported_with_its_message,
    error_mid_stream_is_a_failed_turn_not_text,
    dropped_connection_keeps_the_partial_reply,
    a_stalled_server_is_abandoned_after_the_timeout,
    ctrl_c_exits_130_and_closes_the_connection,
    a_closed_pipe_is_not_an_error,
    unwritable_log_warns_once_and_the_answer_still_comes,
    usage_errors_exit_2,
    a_huge_error_body_is_cut_short,
    max_line_stops_a_longer_line_and_can_be_raised,
);

fn no_server_exits_3_with_a_hint(api: Api) {
    let env = TestEnv::with(api);
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    }; // bound and released: nothing listens there now
    let mut cmd = env.std_command();
    env.unreachable(&mut cmd, port);
    let out = assert_cmd::Command::from_std(cmd)
        .args(["-m", "tiny", "-p", "hi"])
        .assert()
        .code(3)
        .stdout("")
        .get_output()
        .clone();
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert_eq!(stderr.lines().count(), 1, "one line: {stderr}");
    let (what, hint) = match api {
        Api::Ollama => (
            format!("cannot reach Ollama at http://127.0.0.1:{port}"),
            "ollama serve",
        ),
        Api::OpenAi => (
            format!("cannot reach the server at http://127.0.0.1:{port}/v1"),
            "--base-url",
        ),
        Api::Anthropic => (
            format!("cannot reach the server at http://127.0.0.1:{port}"),
            "ANTHROPIC_BASE_URL",
        ),
    };
    assert!(stderr.contains(&what), "{stderr}");
    assert!(stderr.contains(hint), "{stderr}");
    let rec = &env.log_records()[0];
    assert_eq!(rec["status"], "error");
    assert!(rec["error"].as_str().unwrap().contains("cannot reach"));
}

fn no_server_and_no_model_also_exits_3(api: Api) {
    let env = TestEnv::with(api);
    let mut cmd = env.std_command();
    env.unreachable(&mut cmd, 1);
    assert_cmd::Command::from_std(cmd)
        .args(["-p", "hi"])
        .assert()
        .code(3)
        .stderr(predicate::str::contains("cannot reach"));
}

fn unknown_model_exits_4_with_a_hint(api: Api) {
    let env = TestEnv::with(api);
    let hint = match api {
        Api::Ollama => "ollama pull no-such-model",
        Api::OpenAi | Api::Anthropic => "it serves: tiny:latest; choose one with --model",
    };
    env.cmd()
        .args(["-m", "no-such-model", "-p", "hi"])
        .assert()
        .code(4)
        .stdout("")
        .stderr(predicate::str::contains("model 'no-such-model' not found"))
        .stderr(predicate::str::contains(hint));
}

fn server_error_status_is_reported_with_its_message(api: Api) {
    let env = TestEnv::with(api);
    env.fake.set_models(&["tiny"]);
    let answered = match api {
        Api::Ollama => "Ollama answered 400: \"tiny\" does not support thinking",
        Api::OpenAi | Api::Anthropic => {
            "the server answered 400: \"tiny\" does not support thinking"
        }
    };
    if api == Api::Anthropic {
        // Ollama's /v1/messages ignores `thinking` on a model without it (recording 28), so the
        // refusal is scripted, in Anthropic's error shape.
        env.fake.push_chat(ChatReply::HttpError {
            status: 400,
            message: "\"tiny\" does not support thinking".into(),
        });
    }
    env.cmd()
        .args(["-m", "tiny", env.think_flag(), "-p", "hi"])
        .assert()
        .code(1)
        .stderr(predicate::str::contains(answered));
}

fn error_mid_stream_is_a_failed_turn_not_text(api: Api) {
    let env = TestEnv::with(api);
    env.fake.push_chat(ChatReply::Script(Script {
        tokens: words("partial answer"),
        end: End::Error("model runner has unexpectedly stopped".into()),
        ..Default::default()
    }));
    env.cmd()
        .args(["-p", "hi"])
        .assert()
        .code(1)
        .stdout("partial answer")
        .stderr(predicate::str::contains(
            "error during the reply: model runner has unexpectedly stopped",
        ));
    let rec = &env.log_records()[0];
    assert_eq!(rec["status"], "error");
    assert_eq!(rec["model_response"], "partial answer");
    assert!(rec["error"]
        .as_str()
        .unwrap()
        .contains("unexpectedly stopped"));
}

fn dropped_connection_keeps_the_partial_reply(api: Api) {
    let env = TestEnv::with(api);
    env.fake.push_chat(ChatReply::Script(Script {
        tokens: words("so far so"),
        end: End::Drop,
        ..Default::default()
    }));
    env.cmd()
        .args(["-p", "hi"])
        .assert()
        .code(1)
        .stdout("so far so")
        .stderr(predicate::str::contains("lost before the reply finished"));
    let rec = &env.log_records()[0];
    assert_eq!(rec["status"], "error");
    assert_eq!(rec["model_response"], "so far so");
    assert_eq!(rec["tokens_used"], serde_json::Value::Null);
}

/// A 3,000-byte token (one stream line or event well over 1 KiB): `--max-line 1K` stops the reply
/// with one line naming the flag, keeping what came before; a raised limit lets it through.
fn max_line_stops_a_longer_line_and_can_be_raised(api: Api) {
    let env = TestEnv::with(api);
    let long = "长".repeat(1000);
    let script = || {
        ChatReply::Script(Script {
            tokens: vec!["before ".into(), long.clone()],
            ..Default::default()
        })
    };
    env.fake.push_chat(script());
    let out = env
        .cmd()
        .args(["--max-line", "1K", "-p", "hi"])
        .assert()
        .code(1)
        .stdout("before ")
        .get_output()
        .clone();
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(stderr.contains("longer than 1 KiB"), "{stderr}");
    assert!(stderr.contains("--max-line"), "{stderr}");
    assert_eq!(env.log_records()[0]["status"], "error");
    env.fake.push_chat(script());
    env.cmd()
        .args(["--max-line", "8K", "-p", "hi"])
        .assert()
        .success()
        .stdout(format!("before {long}"));
}

fn a_stalled_server_is_abandoned_after_the_timeout(api: Api) {
    let env = TestEnv::with(api);
    env.fake.push_chat(ChatReply::Script(Script {
        tokens: words("waiting for"),
        end: End::Stall(Duration::from_secs(30)),
        ..Default::default()
    }));
    let started = Instant::now();
    env.cmd()
        .args(["--timeout", "1", "-p", "hi"])
        .timeout(Duration::from_secs(20))
        .assert()
        .code(1)
        .stdout("waiting for")
        .stderr(predicate::str::contains(format!(
            "no data from {} for 1 s",
            env.server_name()
        )));
    assert!(started.elapsed() < Duration::from_secs(20));
    assert_eq!(env.log_records()[0]["status"], "error");
}

fn ctrl_c_exits_130_and_closes_the_connection(api: Api) {
    let env = TestEnv::with(api);
    env.fake.push_chat(ChatReply::Script(Script {
        tokens: (0..400).map(|i| format!(" w{i}")).collect(),
        delay: Duration::from_millis(25),
        ..Default::default()
    }));
    let mut child = env
        .std_command()
        .args(["-p", "write a long essay"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdout = child.stdout.take().unwrap();
    let mut first = [0u8; 3];
    stdout.read_exact(&mut first).unwrap(); // the reply has started
    let status = std::process::Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(130));
    let deadline = Instant::now() + Duration::from_secs(5);
    while env.fake.client_disconnects() == 0 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(
        env.fake.client_disconnects(),
        1,
        "the server must see the connection close"
    );
    let rec = &env.log_records()[0];
    assert_eq!(rec["status"], "cancelled");
    assert!(rec["model_response"].as_str().unwrap().starts_with(" w0"));
}

fn a_closed_pipe_is_not_an_error(api: Api) {
    let env = TestEnv::with(api);
    env.fake.push_chat(ChatReply::Script(Script {
        tokens: (0..2000).map(|i| format!("line {i}\n")).collect(),
        delay: Duration::from_millis(2),
        ..Default::default()
    }));
    let mut child = env
        .std_command()
        .args(["-p", "count"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdout = child.stdout.take().unwrap();
    let mut buf = [0u8; 10];
    stdout.read_exact(&mut buf).unwrap();
    drop(stdout); // like `| head -c 10`
    let out = child.wait_with_output().unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(String::from_utf8_lossy(&out.stderr), "");
    assert_eq!(env.log_records()[0]["status"], "cancelled");
}

fn unwritable_log_warns_once_and_the_answer_still_comes(api: Api) {
    let env = TestEnv::with(api);
    let dir = env.home.path().join("a-directory");
    std::fs::create_dir(&dir).unwrap();
    // The answer comes, but the run does not end as if all were well.
    let out = env
        .cmd()
        .args(["--log", dir.to_str().unwrap(), "-p", "hi"])
        .assert()
        .code(1)
        .stdout("echo: hi")
        .get_output()
        .clone();
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(stderr.contains("cannot write the turn log"));
}

fn usage_errors_exit_2(api: Api) {
    let env = TestEnv::with(api);
    env.cmd().arg("--no-such-flag").assert().code(2);
    env.cmd()
        .args(["--think=sometimes", "-p", "x"])
        .assert()
        .code(2);
    env.cmd()
        .args(["--log", "x", "--no-log", "-p", "x"])
        .assert()
        .code(2);
}

/// An option value outside its meaning (a context window of 0, a negative batch) is refused before
/// anything is sent.
#[test]
fn option_values_outside_their_meaning_are_usage_errors() {
    let env = TestEnv::new();
    for bad in ["num_ctx=0", "num_ctx=-1", "num_batch=0", "top_p=2"] {
        env.cmd()
            .args(["-o", bad, "-p", "hi"])
            .assert()
            .code(2)
            .stdout("")
            .stderr(predicate::str::contains(bad.split('=').next().unwrap()));
    }
    // A session named by an id or name that matches none is bad input too.
    env.cmd()
        .args(["sessions", "show", "no-such-session"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("no saved session matches"));
    assert!(env.fake.chat_bodies().is_empty(), "nothing was sent");
}

/// A turn log that cannot be written (a full disk) does not stop the reply, but the run does not
/// end as if all were well: one line says what was lost, and the exit code is 1.
#[test]
fn a_log_that_cannot_be_written_makes_the_run_fail() {
    let env = TestEnv::new();
    let log = env.home.path().join("turns.jsonl");
    std::os::unix::fs::symlink("/dev/full", &log).unwrap();
    let out = env
        .cmd()
        .args(["--log", log.to_str().unwrap(), "-p", "hi"])
        .assert()
        .code(1)
        .stdout("echo: hi")
        .get_output()
        .clone();
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(stderr.contains("No space left on device"), "{stderr}");
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
}

fn a_huge_error_body_is_cut_short(api: Api) {
    let env = TestEnv::with(api);
    env.fake.set_models(&["tiny"]);
    let body = "<p>internal error</p>\n".repeat(50 * 1024 * 1024 / 22);
    let raw = format!(
        "HTTP/1.1 500 Internal Server Error\r\nContent-Type: text/html\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    env.fake.push_chat(ChatReply::Raw(raw.into_bytes()));
    let started = Instant::now();
    let out = env
        .cmd()
        .args(["-m", "tiny", "-p", "hi"])
        .timeout(Duration::from_secs(30))
        .assert()
        .code(1)
        .get_output()
        .clone();
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "{:?}",
        started.elapsed()
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    let error_lines: Vec<&str> = stderr.lines().filter(|l| l.contains("500")).collect();
    assert_eq!(error_lines.len(), 1, "{stderr}");
    assert!(
        error_lines[0].contains("<p>internal error</p> <p>internal error</p>"),
        "{stderr}"
    );
    assert!(error_lines[0].chars().count() < 400, "{}", error_lines[0]);
    let logged = env.log_records()[0]["error"].as_str().unwrap().to_string();
    assert!(
        logged.contains("500") && logged.chars().count() < 400,
        "{logged}"
    );
}

/// A device, a FIFO or a folder given as a file gets its own true message at once, instead of a
/// read that never ends (`/dev/zero`) or never starts (a FIFO waits for a writer).
#[test]
fn files_that_are_not_files_are_refused_at_once() {
    let env = TestEnv::new();
    for args in [
        vec!["replay", "/dev/zero"],
        vec!["--session", "/dev/zero", "-p", "hi"],
        vec!["create", "x", "-f", "/dev/zero"],
    ] {
        let out = env
            .cmd()
            .args(&args)
            .timeout(Duration::from_secs(20))
            .assert()
            .code(2)
            .get_output()
            .clone();
        let stderr = String::from_utf8(out.stderr).unwrap();
        assert!(
            stderr.contains("is a device, not a file"),
            "{args:?}: {stderr}"
        );
        assert_eq!(stderr.lines().count(), 1, "{args:?}: {stderr}");
        assert_eq!(
            stderr.matches("is a device").count(),
            1,
            "the cause is said once: {stderr}"
        );
    }
    // A FIFO named .env in the working folder is skipped with a warning, not waited on.
    let fifo = env.home.path().join(".env");
    let made = std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .unwrap();
    assert!(made.success());
    let out = env
        .cmd()
        .args([
            "--api",
            "openai",
            "--base-url",
            "http://127.0.0.1:1/v1",
            "-m",
            "x",
            "-p",
            "hi",
        ])
        .timeout(Duration::from_secs(20))
        .assert()
        .code(3)
        .get_output()
        .clone();
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(stderr.contains(".env is a FIFO"), "{stderr}");
}

/// Every file argument: one that is not there, a folder, a FIFO or a device is bad input (exit 2,
/// like a bad flag) with one line saying what it is, and nothing waits on a FIFO.
#[test]
fn a_named_file_that_is_missing_or_not_a_file_exits_2() {
    let env = TestEnv::new();
    let home = env.home.path();
    let fifo = home.join("pipe");
    let made = std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .unwrap();
    assert!(made.success());
    let missing = home.join("missing.jsonl");
    let cases = [
        (missing.as_path(), "does not exist"),
        (home, "is a folder"),
        (fifo.as_path(), "is a FIFO (a named pipe), not a file"),
        (std::path::Path::new("/dev/zero"), "is a device, not a file"),
    ];
    for (path, what) in cases {
        let p = path.to_str().unwrap();
        let mut commands = vec![
            vec!["replay", p],
            vec!["sessions", "show", p],
            vec!["sessions", "export", p],
            vec!["create", "x", "-f", p],
            vec!["logs", p],
            vec!["stats", p],
        ];
        if path != missing {
            // A path that does not exist yet is a new session saved there.
            commands.push(vec!["--session", p, "-m", "tiny", "-p", "hi"]);
        }
        for args in commands {
            let out = env
                .cmd()
                .args(&args)
                .timeout(Duration::from_secs(20))
                .assert()
                .code(2)
                .get_output()
                .clone();
            let stderr = String::from_utf8(out.stderr).unwrap();
            assert!(
                stderr.contains(&format!("{p}: {what}")),
                "{args:?}: {stderr}"
            );
            assert_eq!(stderr.lines().count(), 1, "{args:?}: {stderr}");
        }
    }
    assert!(env.fake.chat_bodies().is_empty(), "nothing was sent");
}

/// `--log` naming a FIFO: the log is refused with a warning instead of waiting for a reader, the
/// answer still comes, and the run says what was not saved with exit 1.
#[test]
fn a_fifo_as_the_log_is_refused_not_waited_on() {
    let env = TestEnv::new();
    let fifo = env.home.path().join("log.fifo");
    let made = std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .unwrap();
    assert!(made.success());
    env.cmd()
        .args(["-m", "tiny", "-p", "hi", "--log"])
        .arg(&fifo)
        .timeout(Duration::from_secs(20))
        .assert()
        .code(1)
        .stdout("echo: hi")
        .stderr(predicate::str::contains(
            "is a FIFO (a named pipe), not a file; the chat goes on without a log",
        ));
}
