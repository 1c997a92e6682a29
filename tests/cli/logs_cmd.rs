//! `ollama-chat logs` on fixture logs and on logs written by real turns: every filter, JSON lines,
//! several and rotated files, malformed lines, and `-f` picking up new turns across a rotation.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::mpsc;
use std::time::Duration;

use serde_json::Value;

use crate::harness::TestEnv;

pub fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/logs")
        .join(name)
}

/// Runs `logs` with TZ=UTC and wide output; returns (stdout, stderr).
fn logs(env: &TestEnv, args: &[&str]) -> (String, String) {
    let out = env
        .cmd()
        .env("TZ", "UTC")
        .env("COLUMNS", "200")
        .arg("logs")
        .args(args)
        .output()
        .unwrap();
    assert!(out.status.success(), "logs {args:?} failed: {out:?}");
    (
        String::from_utf8(out.stdout).unwrap(),
        String::from_utf8(out.stderr).unwrap(),
    )
}

/// The `turn`-and-session of each JSON line `logs --json` printed.
fn json_questions(stdout: &str) -> Vec<String> {
    stdout
        .lines()
        .map(|l| {
            let v: Value = serde_json::from_str(l).unwrap();
            v["user_input"].as_str().unwrap_or("-").to_string()
        })
        .collect()
}

fn mixed() -> String {
    fixture("mixed.jsonl").to_str().unwrap().to_string()
}

#[test]
fn table_shows_recent_turns_with_old_lines_and_reports_malformed_ones() {
    let env = TestEnv::new();
    let (out, err) = logs(&env, &[&mixed()]);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 9, "{out}");
    assert!(lines[0].starts_with("TIME"));
    for col in [
        "SESSION", "MODEL", "LATENCY", "TTFT", "TOKENS", "STATUS", "QUESTION",
    ] {
        assert!(lines[0].contains(col), "{col}");
    }
    // Oldest first; the first line of a question only.
    assert!(lines[1].starts_with("2026-11-27 10:00:00  aaaa1111  llama3.2:latest"));
    assert!(lines[1].contains("1.00s"));
    assert!(lines[1].contains("10/20"));
    assert!(lines[1].ends_with("What is the capital of France?"));
    assert!(lines[3].contains("error"));
    assert!(lines[4].contains("(not logged)"), "{}", lines[4]);
    assert!(lines[5].contains("cancelled") && lines[5].contains("[email]"));
    // The Python lab's line: no model, zone-less time read as UTC.
    assert!(
        lines[7].starts_with("2026-11-29 08:00:00  lab-sess  ?"),
        "{}",
        lines[7]
    );
    assert!(lines[8].contains("future question"));
    assert!(err.contains("mixed.jsonl:4: not JSON"), "{err}");
    assert!(err.contains("mixed.jsonl:9: not JSON"), "{err}");
    assert!(
        err.contains("mixed.jsonl:11: not a turn record: missing field `timestamp`"),
        "{err}"
    );
}

#[test]
fn long_chinese_questions_are_cut_by_display_width() {
    let env = TestEnv::new();
    let out = env
        .cmd()
        .env("TZ", "UTC")
        .env("COLUMNS", "110")
        .args(["logs", &mixed(), "--grep", "首都"])
        .output()
        .unwrap();
    let text = String::from_utf8(out.stdout).unwrap();
    let row = text.lines().nth(1).unwrap();
    assert!(row.contains("法國的首都是哪裡"), "{row}");
    assert!(row.ends_with('…'), "{row}");
    let cells: usize = row
        .chars()
        .map(|c| {
            if c.len_utf8() == 3 && c != '…' {
                2
            } else {
                1
            }
        })
        .sum();
    assert!(cells <= 110, "{cells} cells: {row}");
}

#[test]
fn every_filter() {
    let env = TestEnv::new();
    let count = |args: &[&str]| {
        let mut a = vec![mixed()];
        a.extend(args.iter().map(|s| s.to_string()));
        a.push("--json".into());
        let a: Vec<&str> = a.iter().map(String::as_str).collect();
        logs(&env, &a).0.lines().count()
    };
    assert_eq!(count(&[]), 8);
    assert_eq!(count(&["--session", "aaaa"]), 3);
    assert_eq!(
        count(&["--session", "aaaa1111-0000-4000-8000-000000000001"]),
        3
    );
    assert_eq!(count(&["--session", "zzzz"]), 0);
    assert_eq!(count(&["--model", "qwen3"]), 4);
    assert_eq!(count(&["--model", "qwen3:8b"]), 4);
    assert_eq!(count(&["--model", "qwen3:32b"]), 0);
    assert_eq!(count(&["--model", "llama3.2"]), 3);
    assert_eq!(
        count(&["--since", "2026-11-28", "--until", "2026-11-29"]),
        3
    );
    assert_eq!(count(&["--since", "2026-11-28T09:05:00Z"]), 4);
    assert_eq!(count(&["--until", "2026-11-28T09:05"]), 4);
    assert_eq!(count(&["--since", "100000d"]), 8);
    assert_eq!(count(&["--status", "ok"]), 6);
    assert_eq!(count(&["--status", "error"]), 1);
    assert_eq!(count(&["--status", "cancelled"]), 1);
    assert_eq!(count(&["--status", "error,cancelled"]), 2);
    assert_eq!(count(&["--status", "error", "--status", "ok"]), 7);
    assert_eq!(count(&["--grep", "CAPITAL"]), 1);
    assert_eq!(count(&["--grep", "out of memory"]), 1);
    assert_eq!(count(&["--grep", "首都"]), 1);
    assert_eq!(count(&["--grep", "有什麼"]), 1); // in an answer
    assert_eq!(
        count(&["--model", "qwen3", "--status", "ok", "--grep", "future"]),
        1
    );
    assert_eq!(count(&["-n", "2"]), 2);
}

#[test]
fn json_lines_are_the_records_as_logged() {
    let env = TestEnv::new();
    let (out, _) = logs(&env, &[&mixed(), "--json"]);
    let fixture_text = std::fs::read_to_string(fixture("mixed.jsonl")).unwrap();
    let records: Vec<&str> = fixture_text
        .lines()
        .filter(|l| serde_json::from_str::<Value>(l).is_ok_and(|v| v.get("timestamp").is_some()))
        .collect();
    assert_eq!(out.lines().collect::<Vec<_>>(), records);
    // -n keeps the most recent, oldest first.
    let (out, _) = logs(&env, &[&mixed(), "--json", "-n", "2"]);
    assert_eq!(json_questions(&out), ["你好", "future question"]);
}

#[test]
fn several_files_are_merged_by_time() {
    let env = TestEnv::new();
    let other = fixture("other-machine.jsonl");
    let (out, _) = logs(
        &env,
        &[&mixed(), other.to_str().unwrap(), "-n", "3", "--json"],
    );
    // The other machine's turns are older (2026-11-26) but were given last.
    assert_eq!(
        json_questions(&out),
        ["v1 question", "你好", "future question"]
    );
    let (out, _) = logs(
        &env,
        &[&mixed(), other.to_str().unwrap(), "-n", "100", "--json"],
    );
    let q = json_questions(&out);
    assert_eq!(q.len(), 10);
    assert_eq!(q[0], "from the other machine");
    assert_eq!(q[1], "second from the other machine");
    let (out, _) = logs(&env, &[other.to_str().unwrap(), "--status", "error"]);
    assert!(out.contains("9.50s"), "{out}");
}

#[test]
fn rotated_files_are_read_oldest_first() {
    let env = TestEnv::new();
    // Given on the command line in shell-glob order.
    let dir = fixture("rotated");
    let f = |n: &str| dir.join(n).to_str().unwrap().to_string();
    let (out, _) = logs(
        &env,
        &[
            &f("turns.jsonl"),
            &f("turns.jsonl.1"),
            &f("turns.jsonl.2"),
            "--json",
        ],
    );
    assert_eq!(
        json_questions(&out),
        ["rotated 1", "rotated 2", "rotated 3"]
    );
    // The default log with its rotated siblings, found by themselves.
    let state = env.log_path();
    std::fs::create_dir_all(state.parent().unwrap()).unwrap();
    for n in ["turns.jsonl", "turns.jsonl.1", "turns.jsonl.2"] {
        std::fs::copy(dir.join(n), state.parent().unwrap().join(n)).unwrap();
    }
    let (out, _) = logs(&env, &["--json"]);
    assert_eq!(
        json_questions(&out),
        ["rotated 1", "rotated 2", "rotated 3"]
    );
}

#[test]
fn turns_of_real_runs_and_relative_times() {
    let env = TestEnv::new();
    env.cmd().args(["-p", "first 問題"]).assert().success();
    env.cmd().args(["-p", "second"]).assert().success();
    let (out, _) = logs(&env, &[]);
    assert_eq!(out.lines().count(), 3);
    assert!(out.lines().nth(1).unwrap().contains("tiny:latest"));
    assert!(out.lines().nth(1).unwrap().ends_with("first 問題"));
    assert_eq!(
        logs(&env, &["--since", "1h", "--json"]).0.lines().count(),
        2
    );
    assert_eq!(
        logs(&env, &["--until", "1h", "--json"]).0.lines().count(),
        0
    );
    assert_eq!(
        logs(&env, &["--since", "today", "--json"])
            .0
            .lines()
            .count(),
        2
    );
}

#[test]
fn empty_or_missing_logs_and_bad_flags() {
    let env = TestEnv::new();
    let (out, err) = logs(&env, &[]);
    assert_eq!(out, "");
    assert!(err.contains("no turns logged yet"), "{err}");
    let (out, err) = logs(&env, &[&mixed(), "--session", "nope"]);
    assert_eq!(out, "");
    assert!(err.contains("no turns match"), "{err}");
    env.cmd()
        .args(["logs", "no-such-file.jsonl"])
        .assert()
        .code(2)
        .stderr(predicates::str::contains("cannot read no-such-file.jsonl"));
    for bad in [
        ["--since", "last tuesday"],
        ["--status", "weird"],
        ["--until", "2026-02-30"],
    ] {
        env.cmd()
            .arg("logs")
            .args(bad)
            .assert()
            .code(2)
            .stderr(predicates::str::contains(bad[0]));
    }
    env.cmd()
        .args(["logs", "-f", "a.jsonl", "b.jsonl"])
        .assert()
        .code(2)
        .stderr(predicates::str::contains("--follow follows one log"));
}

#[test]
fn a_closed_pipe_is_not_an_error() {
    let env = TestEnv::new();
    let big = env.home.path().join("big.jsonl");
    let line = std::fs::read_to_string(fixture("mixed.jsonl")).unwrap();
    let first = line.lines().next().unwrap();
    std::fs::write(&big, format!("{first}\n").repeat(20_000)).unwrap();
    let mut child = env
        .std_command()
        .args(["logs", "--json", big.to_str().unwrap()])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut out = BufReader::new(child.stdout.take().unwrap());
    let mut one = String::new();
    out.read_line(&mut one).unwrap();
    drop(out);
    let status = child.wait().unwrap();
    assert!(status.success(), "{status:?}");
}

/// Reads a child's stdout lines on a thread, so a test can wait for one with a deadline.
fn line_reader(stdout: std::process::ChildStdout) -> mpsc::Receiver<String> {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { return };
            if tx.send(line).is_err() {
                return;
            }
        }
    });
    rx
}

fn wait_for_line(rx: &mpsc::Receiver<String>, needle: &str) -> String {
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    loop {
        let left = deadline.saturating_duration_since(std::time::Instant::now());
        match rx.recv_timeout(left) {
            Ok(line) if line.contains(needle) => return line,
            Ok(_) => {}
            Err(_) => panic!("`logs -f` never printed a line with {needle:?}"),
        }
    }
}

#[test]
fn follow_prints_new_turns_and_survives_rotation() {
    let env = TestEnv::new();
    env.cmd().args(["-p", "already there"]).assert().success();
    let mut child = env
        .std_command()
        .env("TZ", "UTC")
        .env("COLUMNS", "200")
        .args(["logs", "-f"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let rx = line_reader(child.stdout.take().unwrap());
    wait_for_line(&rx, "already there");
    env.cmd().args(["-p", "follow me 你好"]).assert().success();
    let row = wait_for_line(&rx, "follow me 你好");
    assert!(row.contains("tiny:latest") && row.contains(" ok "), "{row}");
    // A tiny size limit rotates the log before each of these turns.
    for q in ["rotated once", "rotated twice"] {
        env.cmd()
            .args(["--log-max-size", "10", "-p", q])
            .assert()
            .success();
        wait_for_line(&rx, q);
    }
    assert!(env.log_path().with_extension("jsonl.1").exists());
    child.kill().unwrap();
    child.wait().unwrap();
}

#[test]
fn follow_json_prints_new_records_only_once() {
    let env = TestEnv::new();
    let mut child = env
        .std_command()
        .args(["logs", "-f", "--json", "--status", "ok"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let rx = line_reader(child.stdout.take().unwrap());
    env.cmd().args(["-p", "one"]).assert().success();
    let line = wait_for_line(&rx, "\"one\"");
    let v: Value = serde_json::from_str(&line).unwrap();
    assert_eq!(v["user_input"], "one");
    env.cmd().args(["-p", "two"]).assert().success();
    wait_for_line(&rx, "\"two\"");
    child.kill().unwrap();
    child.wait().unwrap();
    let rest: Vec<String> = rx.try_iter().collect();
    assert!(rest.iter().all(|l| !l.contains("\"one\"")), "{rest:?}");
}
