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
    "OLLAMA_CHAT_API",
    "OPENAI_API_KEY",
    "OPENAI_BASE_URL",
    "ANTHROPIC_API_KEY",
    "ANTHROPIC_BASE_URL",
    "OLLAMA_CHAT_MODEL",
    "OLLAMA_CHAT_CONFIG",
    "OLLAMA_NOHISTORY",
    "NO_COLOR",
    "CLICOLOR_FORCE",
    "COLUMNS",
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

/// Which API the binary is pointed at: the fake's `/api/chat`, its OpenAI-compatible `/v1`, or
/// its Anthropic Messages API (`/v1/messages`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Api {
    Ollama,
    OpenAi,
    Anthropic,
}

/// Runs a test once per API: `every_api!(name)` turns `fn name(api: Api)` into the tests
/// `name::ollama`, `name::openai` and `name::anthropic`.
macro_rules! every_api {
    ($($name:ident),* $(,)?) => {$(
        mod $name {
            #[test]
            fn ollama() {
                super::$name(crate::harness::Api::Ollama)
            }
            #[test]
            fn openai() {
                super::$name(crate::harness::Api::OpenAi)
            }
            #[test]
            fn anthropic() {
                super::$name(crate::harness::Api::Anthropic)
            }
        }
    )*};
}

pub struct TestEnv {
    pub fake: FakeOllama,
    pub home: TempDir,
    pub api: Api,
}

impl TestEnv {
    pub fn new() -> Self {
        Self::with(Api::Ollama)
    }

    /// An environment whose commands talk to the fake through `api` (for OpenAI: `OLLAMA_CHAT_API`
    /// and `OPENAI_BASE_URL` point at the fake's `/v1`, a loopback URL that needs no key).
    pub fn with(api: Api) -> Self {
        TestEnv {
            fake: FakeOllama::start(),
            home: tempfile::tempdir().expect("temp home"),
            api,
        }
    }

    /// The base URL the binary uses (what the log records as `host`).
    pub fn base_url(&self) -> String {
        match self.api {
            Api::Ollama => self.fake.url(),
            Api::OpenAi => format!("{}/v1", self.fake.url()),
            Api::Anthropic => self.fake.url(),
        }
    }

    /// How error messages name the server.
    pub fn server_name(&self) -> &'static str {
        match self.api {
            Api::Ollama => "Ollama",
            Api::OpenAi | Api::Anthropic => "the server",
        }
    }

    /// The `--think` flag that asks for thinking on this API (OpenAI's needs an effort level).
    pub fn think_flag(&self) -> &'static str {
        match self.api {
            Api::Ollama | Api::Anthropic => "--think",
            Api::OpenAi => "--think=high",
        }
    }

    /// Points the command at an address where nothing listens.
    pub fn unreachable(&self, cmd: &mut StdCommand, port: u16) {
        match self.api {
            Api::Ollama => cmd.env("OLLAMA_HOST", format!("127.0.0.1:{port}")),
            Api::OpenAi => cmd.env("OPENAI_BASE_URL", format!("http://127.0.0.1:{port}/v1")),
            Api::Anthropic => cmd.env("ANTHROPIC_BASE_URL", format!("http://127.0.0.1:{port}")),
        };
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
        match self.api {
            Api::Ollama => {}
            Api::OpenAi => {
                c.env("OLLAMA_CHAT_API", "openai")
                    .env("OPENAI_BASE_URL", self.base_url());
            }
            Api::Anthropic => {
                c.env("OLLAMA_CHAT_API", "anthropic")
                    .env("ANTHROPIC_BASE_URL", self.base_url());
            }
        }
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

/// The history of a recorded chat request, as (role, content) pairs. For Anthropic's body the
/// top-level `system` comes first as a system message, and content blocks' texts are joined by
/// a blank line, so one expected history fits every API.
pub fn messages(body: &Value) -> Vec<(String, String)> {
    let text = |content: &Value| match content {
        Value::Array(blocks) => blocks
            .iter()
            .filter_map(|b| b["text"].as_str())
            .collect::<Vec<_>>()
            .join("\n\n"),
        other => other.as_str().expect("text content").to_string(),
    };
    let system = body.get("system").map(|s| ("system".to_string(), text(s)));
    let sent = body["messages"]
        .as_array()
        .expect("messages array")
        .iter()
        .map(|m| (m["role"].as_str().unwrap().to_string(), text(&m["content"])));
    system.into_iter().chain(sent).collect()
}
