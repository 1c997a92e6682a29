//! A test environment: a fake server, a private home folder, and commands wired to both.

use std::path::{Path, PathBuf};
use std::process::Command as StdCommand;
use std::time::Duration;

use assert_cmd::Command;
use serde_json::Value;
use tempfile::TempDir;

use crate::support::fake_ollama::FakeOllama;

/// The variables a user's shell might set that would leak into a test run.
const SCRUBBED: &[&str] = &[
    "OLLAMA_HOST",
    "OLLAMA_API_KEY",
    "OLLAMA_CHAT_MODEL",
    "OLLAMA_NOHISTORY",
    "NO_COLOR",
    "RUST_LOG",
    "XDG_DATA_HOME",
    "XDG_STATE_HOME",
    "XDG_CONFIG_HOME",
    "VISUAL",
    "EDITOR",
    "HTTP_PROXY",
    "http_proxy",
    "ALL_PROXY",
];

pub struct TestEnv {
    pub fake: FakeOllama,
    pub home: TempDir,
}

impl TestEnv {
    pub fn new() -> Self {
        TestEnv {
            fake: FakeOllama::start(),
            home: tempfile::tempdir().expect("temp home"),
        }
    }

    pub fn bin() -> PathBuf {
        PathBuf::from(env!("CARGO_BIN_EXE_ollama-chat"))
    }

    /// A std command for the binary with an isolated environment (for pty and signal tests).
    pub fn std_command(&self) -> StdCommand {
        let mut c = StdCommand::new(Self::bin());
        for v in SCRUBBED {
            c.env_remove(v);
        }
        c.env("HOME", self.home.path())
            .env("OLLAMA_HOST", self.fake.host_port())
            .env("TERM", "xterm-256color")
            .current_dir(self.home.path());
        c
    }

    /// The same, as an assert_cmd command for pipe tests.
    pub fn cmd(&self) -> Command {
        Command::from_std(self.std_command())
    }

    /// The default turn log location under the isolated home.
    pub fn log_path(&self) -> PathBuf {
        self.home
            .path()
            .join(".local/state/ollama-chat/turns.jsonl")
    }

    pub fn history_path(&self) -> PathBuf {
        self.home.path().join(".local/share/ollama-chat/history")
    }

    pub fn log_records(&self) -> Vec<Value> {
        read_jsonl(&self.log_path())
    }

    /// Waits until the fake has seen `n` chat requests.
    #[allow(dead_code)]
    pub fn wait_chats(&self, n: usize) {
        assert!(
            self.fake.wait_for_chats(n, Duration::from_secs(20)),
            "the fake never received chat request #{n}"
        );
    }
}

pub fn read_jsonl(path: &Path) -> Vec<Value> {
    let text = std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    text.lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("bad log line {l:?}: {e}")))
        .collect()
}

pub fn words(s: &str) -> Vec<String> {
    // Tokens like the recordings: the space goes with the following word.
    let mut out = Vec::new();
    let mut cur = String::new();
    for c in s.chars() {
        if c == ' ' && !cur.is_empty() {
            out.push(std::mem::take(&mut cur));
        }
        cur.push(c);
    }
    if !cur.is_empty() {
        out.push(cur);
    }
    out
}

/// The `messages` array of a recorded chat request, as (role, content) pairs.
pub fn messages(body: &Value) -> Vec<(String, String)> {
    body["messages"]
        .as_array()
        .expect("messages array")
        .iter()
        .map(|m| {
            (
                m["role"].as_str().unwrap().to_string(),
                m["content"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}
