//! The fake in hostile mode, one class at a time and under every API, against the real binary as a
//! user runs it: echoed keys are shown and written nowhere; an endless line, an endless body and
//! keep-alives forever each end with one clear line and a non-zero exit, in bounded time and
//! memory; absurd numbers neither show absurd figures nor drop history nor wrap sums. (Escape
//! sequences have their own module, `hostile_escapes`.)

use std::io::Read;
use std::process::{Command, ExitStatus, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use crate::harness::{messages, Api, TestEnv};
use crate::pty::{enter, exit_with_ctrl_d, l, start, PROMPT};
use crate::support::fake_ollama::{Failure, Hostile};

every_api!(
    echoed_keys_are_shown_and_written_nowhere,
    an_endless_line_ends_the_reply_in_bounded_memory,
    endless_bodies_end_with_an_error_in_bounded_memory,
    keep_alives_forever_end_at_the_timeout,
    absurd_numbers_neither_show_nor_drop_nor_wrap,
);

/// The most memory the client may hold while a hostile server feeds it (issue 14: ~100 MiB).
const MAX_RSS_KIB: u64 = 100 * 1024;

/// How long any hostile run may take before the test calls it endless.
const DEADLINE: Duration = Duration::from_secs(30);

/// What a run of the binary left behind.
pub struct Run {
    pub status: ExitStatus,
    pub stderr: String,
    pub elapsed: Duration,
    /// The child's peak resident memory (VmHWM), in KiB, as last seen while it ran.
    pub peak_rss_kib: u64,
}

impl Run {
    pub fn code(&self) -> i32 {
        self.status.code().unwrap_or(-1)
    }
}

/// Runs `cmd` with its output in pipes, polling its peak memory until it exits; kills it (and
/// fails) past [`DEADLINE`].
pub fn run_measured(mut cmd: Command) -> Run {
    let started = Instant::now();
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn the binary");
    let drain = |mut r: Box<dyn Read + Send>| {
        thread::spawn(move || {
            let mut buf = Vec::new();
            let _ = r.read_to_end(&mut buf);
            buf
        })
    };
    let _out = drain(Box::new(child.stdout.take().unwrap()));
    let err = drain(Box::new(child.stderr.take().unwrap()));
    let status_file = format!("/proc/{}/status", child.id());
    let mut peak = 0;
    let status = loop {
        if let Ok(text) = std::fs::read_to_string(&status_file) {
            peak = peak.max(vm_hwm_kib(&text).unwrap_or(0));
        }
        if let Some(status) = child.try_wait().expect("wait for the binary") {
            break status;
        }
        if started.elapsed() > DEADLINE {
            let _ = child.kill();
            let _ = child.wait();
            panic!("still running after {DEADLINE:?}");
        }
        thread::sleep(Duration::from_millis(10));
    };
    Run {
        status,
        stderr: String::from_utf8_lossy(&err.join().unwrap()).into_owned(),
        elapsed: started.elapsed(),
        peak_rss_kib: peak,
    }
}

/// `VmHWM:   12345 kB` → 12345.
fn vm_hwm_kib(status: &str) -> Option<u64> {
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// A run that failed the way a hostile answer should end: `code`, one line on stderr, in bounded
/// time and memory.
fn ended_cleanly(run: &Run, code: i32, what: &str) {
    eprintln!(
        "{what}: exit {}, {:?}, peak RSS {} KiB: {}",
        run.code(),
        run.elapsed,
        run.peak_rss_kib,
        run.stderr.trim_end()
    );
    assert_eq!(run.code(), code, "{what}: {}", run.stderr);
    assert_eq!(
        run.stderr.lines().count(),
        1,
        "{what}: one line: {}",
        run.stderr
    );
    assert!(
        run.stderr.starts_with("ollama-chat: "),
        "{what}: {}",
        run.stderr
    );
    assert!(
        run.stderr.len() < 1000,
        "{what}: a short line: {}",
        run.stderr
    );
    assert!(
        run.elapsed < Duration::from_secs(15),
        "{what}: {:?}",
        run.elapsed
    );
    assert!(
        run.peak_rss_kib < MAX_RSS_KIB,
        "{what}: peak RSS {} KiB",
        run.peak_rss_kib
    );
}

fn key_var(api: Api) -> &'static str {
    match api {
        Api::Ollama => "OLLAMA_API_KEY",
        Api::OpenAi => "OPENAI_API_KEY",
        Api::Anthropic => "ANTHROPIC_API_KEY",
    }
}

fn echoed_keys_are_shown_and_written_nowhere(api: Api) {
    const KEY: &str = "hostile-echo-key-9876543210";
    let env = TestEnv::with(api);
    let cases = [
        (Failure::Status(500), 1),
        (Failure::Status(401), 5),
        (Failure::HtmlPage, 1),
        (Failure::InStream, 1),
    ];
    for (i, (failure, code)) in cases.into_iter().enumerate() {
        env.fake.set_hostile(Some(Hostile::EchoKeys(failure)));
        let session = format!("echo{i}");
        let out = env
            .cmd()
            .env(key_var(api), KEY)
            .args(["--session", &session, "-p", "hi"])
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(code), "{failure:?}: {stderr}");
        assert!(!stderr.contains(KEY), "{failure:?}: {stderr}");
        assert!(
            stderr.contains(&format!("<{}>", key_var(api))),
            "{failure:?}: the echo is shown, blanked: {stderr}"
        );
    }
    // The key was sent, and echoed: nothing written holds it.
    let sent = env.fake.requests().into_iter().last().unwrap();
    let header = if api == Api::Anthropic {
        "x-api-key"
    } else {
        "authorization"
    };
    assert!(sent.header(header).unwrap().ends_with(KEY));
    let log = std::fs::read_to_string(env.log_path()).unwrap();
    assert_eq!(log.matches("\"status\":\"error\"").count(), 4, "{log}");
    assert!(!log.contains(KEY), "turn log: {log}");
    let sessions = crate::sessions::session_files(&env);
    assert_eq!(sessions.len(), 4);
    for file in sessions {
        let text = std::fs::read_to_string(&file).unwrap();
        assert!(!text.contains(KEY), "{}: {text}", file.display());
    }
}

fn an_endless_line_ends_the_reply_in_bounded_memory(api: Api) {
    let env = TestEnv::with(api);
    env.fake.set_hostile(Some(Hostile::EndlessLine));
    let mut cmd = env.std_command();
    cmd.args(["-m", "tiny", "-p", "hi"]);
    let run = run_measured(cmd);
    ended_cleanly(&run, 1, "endless line");
    assert!(run.stderr.contains("16 MiB"), "{}", run.stderr);
}

fn endless_bodies_end_with_an_error_in_bounded_memory(api: Api) {
    let env = TestEnv::with(api);
    env.fake.set_hostile(Some(Hostile::EndlessBody));
    let mut runs: Vec<(&str, Vec<&str>)> = vec![
        ("models", vec!["models"]),
        ("endless error body", vec!["-m", "tiny", "-p", "hi"]),
    ];
    if api == Api::Ollama {
        runs.push(("show", vec!["show", "tiny"]));
        runs.push(("ps", vec!["ps"]));
    }
    for (what, args) in runs {
        let mut cmd = env.std_command();
        cmd.args(&args);
        let run = run_measured(cmd);
        ended_cleanly(&run, 1, what);
        if what != "endless error body" {
            assert!(run.stderr.contains("MiB"), "{what}: {}", run.stderr);
        }
    }
}

fn keep_alives_forever_end_at_the_timeout(api: Api) {
    let env = TestEnv::with(api);
    env.fake.set_hostile(Some(Hostile::KeepAlivesForever));
    let mut cmd = env.std_command();
    // Keep-alives before any reply are a wait for the load, so the load limit ends it.
    cmd.args(["-m", "tiny", "--load-timeout", "1", "-p", "hi"]);
    let run = run_measured(cmd);
    ended_cleanly(&run, 1, "keep-alives");
    assert!(run.elapsed >= Duration::from_secs(1), "{:?}", run.elapsed);
    assert!(run.elapsed < Duration::from_secs(6), "{:?}", run.elapsed);
    assert!(run.stderr.contains("1 s"), "{}", run.stderr);
}

/// `Context: 12 / 2048 tokens (0%)` → the percentage.
fn fill_percent(context: &str) -> Option<u128> {
    let open = context.find("tokens (")? + "tokens (".len();
    let close = open + context[open..].find("%)")?;
    context[open..close].parse().ok()
}

fn absurd_numbers_neither_show_nor_drop_nor_wrap(api: Api) {
    let env = TestEnv::with(api);
    env.fake.set_hostile(Some(Hostile::AbsurdNumbers));
    absurd_numbers_in_a_chat(&env, &["-m", "tiny"]);
    if api == Api::Ollama {
        // A window the user set, so the absurd counts meet a true window.
        absurd_numbers_in_a_chat(&env, &["-m", "tiny", "-o", "num_ctx=2048"]);
    }
    // No turn failed over a number, and no sum wraps: the log's figures are unknown or at most
    // what one turn could hold.
    for record in env.log_records() {
        assert_eq!(record["status"], "ok", "{record}");
        for field in ["prompt_tokens", "completion_tokens"] {
            let n = record[field].as_u64();
            assert!(n.is_none_or(|n| n <= u64::from(u32::MAX)), "{record}");
        }
    }
    let out = env.cmd().args(["stats", "--json"]).output().unwrap();
    let stats = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stats}");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.is_empty(), "{stderr}");
}

/// Three exchanges in the REPL, then `/context`: no absurd fill, nothing dropped.
fn absurd_numbers_in_a_chat(env: &TestEnv, args: &[&str]) {
    let before = env.fake.chat_bodies().len();
    let mut p = start(env, args);
    for word in ["one", "two", "three"] {
        enter(&mut p, word);
        p.exp_string("echo").unwrap();
        p.exp_string(&l(PROMPT)).unwrap();
    }
    enter(&mut p, "/context");
    let context = p.exp_string(&l(PROMPT)).unwrap();
    exit_with_ctrl_d(p);
    assert!(context.contains("Context: "), "{context}");
    let used: u64 = context
        .split("Context: ")
        .nth(1)
        .and_then(|rest| rest.trim_start_matches("about ").split(' ').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no figure in {context}"));
    assert!(used < 1000, "an absurd count of tokens in use: {context}");
    if let Some(pct) = fill_percent(&context) {
        assert!(pct <= 100, "an absurd fill: {context}");
    }
    assert!(!context.contains("not sent"), "history dropped: {context}");

    // Every exchange is still sent.
    let bodies = env.fake.chat_bodies();
    assert!(bodies.len() >= before + 3);
    let last: Vec<String> = messages(bodies.last().unwrap())
        .into_iter()
        .map(|(_, c)| c)
        .collect();
    assert!(
        last.iter().filter(|c| *c == "one" || *c == "two").count() == 2,
        "{last:?}"
    );
}
