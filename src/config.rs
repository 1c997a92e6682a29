//! Flags plus environment → one resolved `Config`. Pure: the environment is passed in, so every rule
//! is unit-tested without touching the process environment.

use std::path::PathBuf;
use std::time::Duration;

use serde_json::Value;

use crate::cli::Cli;
use crate::ollama::host;
use crate::ollama::wire::Think;
use crate::options::{OptionError, Options};
use crate::paths;

/// Everything the run needs to know, decided once.
#[derive(Debug, Clone)]
pub struct Config {
    pub base_url: String,
    /// Said once on stderr at start-up (e.g. a bad port in OLLAMA_HOST).
    pub warnings: Vec<String>,
    /// From OLLAMA_API_KEY; sent as a bearer token, never logged or printed.
    pub api_key: Option<String>,
    pub model: Option<String>,
    pub system: Option<String>,
    pub options: Options,
    pub think: Option<Think>,
    pub format: Option<Value>,
    pub keep_alive: Option<Value>,
    pub prompt: Option<String>,
    /// `None` when logging is off or no home directory is known.
    pub log_path: Option<PathBuf>,
    /// Line-editor history; `None` with OLLAMA_NOHISTORY or no home directory.
    pub history_path: Option<PathBuf>,
    pub stall_timeout: Duration,
    /// NO_COLOR is set: styles off, sanitising stays on.
    pub no_color: bool,
    /// Statistics after each reply: the `ollama run --verbose` block, and/or one JSON line.
    pub verbose: bool,
    pub stats_json: bool,
}

/// A flag or variable that cannot be used as given.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("--option {0}")]
    Option(#[from] OptionError),
    #[error("--think takes true, false, low, medium or high, not {0:?}")]
    Think(String),
    #[error("--format takes `json` or a JSON schema object: {0}")]
    Format(String),
    #[error("--timeout must be at least 1 second")]
    Timeout,
}

impl Config {
    pub fn resolve(cli: Cli, env: &dyn Fn(&str) -> Option<String>) -> Result<Config, ConfigError> {
        let mut warnings = Vec::new();
        let raw_host = cli.host.or_else(|| env("OLLAMA_HOST")).unwrap_or_default();
        let resolved = host::resolve(&raw_host);
        warnings.extend(resolved.warning);

        let mut options = Options::default();
        for pair in &cli.options {
            options.set_pair(pair)?;
        }

        let think = cli.think.as_deref().map(parse_think).transpose()?;
        let format = cli.format.as_deref().map(parse_format).transpose()?;
        let keep_alive = cli.keep_alive.as_deref().map(parse_keep_alive);
        if cli.timeout == 0 {
            return Err(ConfigError::Timeout);
        }

        let log_path = if cli.no_log {
            None
        } else {
            cli.log
                .or_else(|| paths::state_dir(env).map(|d| d.join("turns.jsonl")))
        };
        let history_path = if env("OLLAMA_NOHISTORY").is_some_and(|v| !v.is_empty()) {
            None
        } else {
            paths::data_dir(env).map(|d| d.join("history"))
        };

        Ok(Config {
            base_url: resolved.base_url,
            warnings,
            api_key: env("OLLAMA_API_KEY").filter(|k| !k.trim().is_empty()),
            model: cli
                .model
                .or_else(|| env("OLLAMA_CHAT_MODEL"))
                .filter(|m| !m.trim().is_empty()),
            system: cli.system,
            options,
            think,
            format,
            keep_alive,
            prompt: cli.prompt,
            log_path,
            history_path,
            stall_timeout: Duration::from_secs(cli.timeout),
            no_color: env("NO_COLOR").is_some_and(|v| !v.is_empty()),
            verbose: cli.verbose,
            stats_json: cli.stats_json,
        })
    }
}

fn parse_think(s: &str) -> Result<Think, ConfigError> {
    match s.to_ascii_lowercase().as_str() {
        "true" | "on" | "yes" => Ok(Think::On(true)),
        "false" | "off" | "no" => Ok(Think::On(false)),
        level @ ("low" | "medium" | "high") => Ok(Think::Level(level.to_string())),
        _ => Err(ConfigError::Think(s.to_string())),
    }
}

fn parse_format(s: &str) -> Result<Value, ConfigError> {
    if s.trim() == "json" {
        return Ok(Value::from("json"));
    }
    match serde_json::from_str::<Value>(s) {
        Ok(v @ Value::Object(_)) => Ok(v),
        Ok(_) => Err(ConfigError::Format("a schema must be a JSON object".into())),
        Err(e) => Err(ConfigError::Format(e.to_string())),
    }
}

/// A bare number is seconds (as the API takes it); anything else is a duration string like `5m`.
fn parse_keep_alive(s: &str) -> Value {
    match s.trim().parse::<i64>() {
        Ok(n) => Value::from(n),
        Err(_) => Value::from(s.trim()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    fn resolve(args: &[&str], vars: &[(&str, &str)]) -> Result<Config, ConfigError> {
        let mut argv = vec!["ollama-chat"];
        argv.extend_from_slice(args);
        let cli = Cli::try_parse_from(argv).unwrap();
        let env = |k: &str| {
            vars.iter()
                .find(|(n, _)| *n == k)
                .map(|(_, v)| v.to_string())
        };
        Config::resolve(cli, &env)
    }

    #[test]
    fn defaults() {
        let c = resolve(&[], &[("HOME", "/home/u")]).unwrap();
        assert_eq!(c.base_url, "http://127.0.0.1:11434");
        assert_eq!(
            c.log_path.unwrap(),
            PathBuf::from("/home/u/.local/state/ollama-chat/turns.jsonl")
        );
        assert_eq!(
            c.history_path.unwrap(),
            PathBuf::from("/home/u/.local/share/ollama-chat/history")
        );
        assert_eq!(c.model, None);
        assert!(c.options.is_empty());
        assert_eq!(c.stall_timeout, Duration::from_secs(300));
    }

    #[test]
    fn host_flag_beats_the_environment() {
        let c = resolve(&["--host", "example.com:1"], &[("OLLAMA_HOST", "other:2")]).unwrap();
        assert_eq!(c.base_url, "http://example.com:1");
        let c = resolve(&[], &[("OLLAMA_HOST", "other:2")]).unwrap();
        assert_eq!(c.base_url, "http://other:2");
        let c = resolve(&[], &[("OLLAMA_HOST", "x:99999")]).unwrap();
        assert_eq!(c.warnings.len(), 1);
    }

    #[test]
    fn model_from_flag_or_env() {
        let c = resolve(&["-m", "a"], &[("OLLAMA_CHAT_MODEL", "b")]).unwrap();
        assert_eq!(c.model.as_deref(), Some("a"));
        let c = resolve(&[], &[("OLLAMA_CHAT_MODEL", "b")]).unwrap();
        assert_eq!(c.model.as_deref(), Some("b"));
        let c = resolve(&[], &[("OLLAMA_CHAT_MODEL", " ")]).unwrap();
        assert_eq!(c.model, None);
    }

    #[test]
    fn log_choices() {
        let c = resolve(&["--no-log"], &[("HOME", "/h")]).unwrap();
        assert_eq!(c.log_path, None);
        let c = resolve(&["--log", "/tmp/x.jsonl"], &[("HOME", "/h")]).unwrap();
        assert_eq!(c.log_path.unwrap(), PathBuf::from("/tmp/x.jsonl"));
        let c = resolve(&[], &[("HOME", "/h"), ("XDG_STATE_HOME", "/st")]).unwrap();
        assert_eq!(
            c.log_path.unwrap(),
            PathBuf::from("/st/ollama-chat/turns.jsonl")
        );
    }

    #[test]
    fn api_key_and_nohistory() {
        let c = resolve(
            &[],
            &[
                ("HOME", "/h"),
                ("OLLAMA_API_KEY", "k"),
                ("OLLAMA_NOHISTORY", "1"),
            ],
        )
        .unwrap();
        assert_eq!(c.api_key.as_deref(), Some("k"));
        assert_eq!(c.history_path, None);
    }

    #[test]
    fn typed_flags() {
        let c = resolve(
            &[
                "--think=high",
                "--format",
                "json",
                "--keep-alive",
                "0",
                "-o",
                "seed=42",
            ],
            &[],
        )
        .unwrap();
        assert_eq!(c.think, Some(Think::Level("high".into())));
        assert_eq!(c.format, Some(Value::from("json")));
        assert_eq!(c.keep_alive, Some(Value::from(0)));
        assert_eq!(c.options.get_u64("seed"), Some(42));
        let c = resolve(
            &["--format", r#"{"type":"object"}"#, "--keep-alive", "5m"],
            &[],
        )
        .unwrap();
        assert!(c.format.unwrap().is_object());
        assert_eq!(c.keep_alive, Some(Value::from("5m")));
    }

    #[test]
    fn bad_values_are_usage_errors() {
        assert!(matches!(
            resolve(&["--think=maybe"], &[]),
            Err(ConfigError::Think(_))
        ));
        assert!(matches!(
            resolve(&["--format", "xml"], &[]),
            Err(ConfigError::Format(_))
        ));
        assert!(matches!(
            resolve(&["-o", "num_predict=ten"], &[]),
            Err(ConfigError::Option(_))
        ));
        assert!(matches!(
            resolve(&["--timeout", "0"], &[]),
            Err(ConfigError::Timeout)
        ));
    }
}
