//! Flags plus environment → one resolved `Config`. Pure: the environment is passed in, so every rule
//! is unit-tested without touching the process environment.

use std::path::PathBuf;
use std::time::Duration;

use serde_json::Value;

use crate::backend::{Api, DEFAULT_MAX_LINE};
use crate::cli::Cli;
use crate::context::{Strategy, UnknownStrategy};
use crate::conversation::ChatRequest;
use crate::conversation::Think;
use crate::log::content::BadLogContent;
use crate::log::rotate::{parse_size, Rotation};
use crate::log::LogContent;
use crate::ollama::host;
use crate::options::{OptionError, Options};
use crate::paths;
use crate::render::markdown::Theme;

/// Everything the run needs to know, decided once.
#[derive(Debug, Clone)]
pub struct Config {
    /// Which API the server speaks.
    pub api: Api,
    /// Ollama's address (from OLLAMA_HOST) or, with `--api openai`, the OpenAI-compatible base URL.
    pub base_url: String,
    /// Said once on stderr at start-up (e.g. a bad port in OLLAMA_HOST).
    pub warnings: Vec<String>,
    /// OLLAMA_API_KEY, or OPENAI_API_KEY with `--api openai`; sent as a bearer token, never
    /// logged or printed.
    pub api_key: Option<ApiKey>,
    pub model: Option<String>,
    pub system: Option<String>,
    pub options: Options,
    pub think: Option<Think>,
    pub format: Option<Value>,
    pub keep_alive: Option<Value>,
    pub prompt: Option<String>,
    /// Files to attach to the one-shot message: `--image` paths, then `-f` paths (`-` is stdin).
    pub attach: Attach,
    /// `None` when logging is off or no home directory is known.
    pub log_path: Option<PathBuf>,
    /// What text the turn log keeps.
    pub log_content: LogContent,
    pub log_rotation: Rotation,
    /// Line-editor history; `None` with OLLAMA_NOHISTORY or no home directory.
    pub history_path: Option<PathBuf>,
    /// What was learned about models, kept between runs; `None` without a home directory.
    pub facts_cache: Option<PathBuf>,
    /// The REPL asks the server to load the model at start (`--no-preload`: no).
    pub preload: bool,
    /// The longest silence in the middle of a reply (`--timeout`).
    pub stall_timeout: Duration,
    /// The longest wait for a reply to begin, or for a pull or create to say something
    /// (`--load-timeout`).
    pub load_timeout: Duration,
    /// The longest stream line or event a reply may send, in bytes (`--max-line`).
    pub max_line: usize,
    /// What happens when the history outgrows the context window.
    pub context_strategy: Strategy,
    /// Send a message that alone exceeds the window instead of refusing it.
    pub allow_overflow: bool,
    /// Statistics after each reply: the `ollama run --verbose` block, and/or one JSON line.
    pub verbose: bool,
    pub stats_json: bool,
    /// Replies rendered as markdown on a terminal (`--raw` or OLLAMA_CHAT_MARKDOWN=off: no).
    pub markdown: bool,
    /// Colours of code blocks.
    pub theme: Theme,
    pub session: SessionConfig,
    /// The role asked for with `--role` (recorded in the session and the turn log).
    pub role: Option<String>,
    /// The line editor's key bindings (`--keys`, `keys = "vi"`).
    pub keys: crate::cli::Keys,
    /// Where the model last picked from the list is remembered, per server.
    pub models_memory: Option<PathBuf>,
    /// The roles `/role` can choose from.
    pub roles: RoleList,
    /// Thinking is requested but not shown (`--hidethinking`).
    pub hide_thinking: bool,
    /// Extra request headers (`--header`, OLLAMA_CHAT_HEADERS): name and value; the values are
    /// secrets.
    pub headers: Vec<(String, String)>,
    /// The tools the model may call, and how calls are approved.
    pub tools: crate::tools::ToolSettings,
}

/// What `--image`, `-f` and `--max-attachment-size` asked for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attach {
    pub images: Vec<PathBuf>,
    pub files: Vec<String>,
    /// The largest file attached, in bytes.
    pub max_size: u64,
}

impl Default for Attach {
    fn default() -> Self {
        Attach {
            images: Vec::new(),
            files: Vec::new(),
            max_size: crate::attach::DEFAULT_MAX_SIZE,
        }
    }
}

/// Where sessions live and which one this run uses.
#[derive(Debug, Clone)]
pub struct SessionConfig {
    /// `$XDG_DATA_HOME/ollama-chat/sessions`; `None` when no home folder is known.
    pub dir: Option<PathBuf>,
    pub choice: SessionChoice,
    /// `-m`, `-s` and `-o` as typed: on a resumed session they override its own values
    /// (OLLAMA_CHAT_MODEL does not).
    pub model_flag: Option<String>,
    pub system_flag: Option<String>,
    pub option_pairs: Vec<String>,
}

/// The roles `/role` can choose from: the config file's, as the command-line words each stands
/// for (already checked), and the roles folder, read when a role is asked for.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RoleList {
    pub defined: Vec<(String, Vec<String>)>,
    pub dir: Option<PathBuf>,
}

/// Which session a run writes to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SessionChoice {
    /// A new one (the REPL's default; one-shot runs save nothing unless asked).
    New,
    Off,
    /// `--continue`: the most recently used.
    Continue,
    /// `--session X`: a file, id or name.
    Open(String),
    /// `--fork X[:TURN]`: a new branch of X at TURN (`None`: its last turn).
    Fork(String, Option<usize>),
}

/// A flag or variable that cannot be used as given.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("--option {0}")]
    Option(#[from] OptionError),
    #[error("--fork: {0}")]
    Fork(String),
    #[error("--think takes true, false, low, medium, high or max, not {0:?}")]
    Think(String),
    #[error("OLLAMA_CHAT_THEME takes ansi, dark or light, not {0:?}")]
    Theme(String),
    #[error("OLLAMA_CHAT_MARKDOWN takes on or off, not {0:?}")]
    Markdown(String),
    #[error("--format takes `json` or a JSON schema object: {0}")]
    Format(String),
    #[error("--timeout and --load-timeout must be at least 1 second")]
    Timeout,
    #[error("--max-line: {0}")]
    MaxLine(String),
    #[error(transparent)]
    LogContent(#[from] BadLogContent),
    #[error("--log-max-size: {0}")]
    LogMaxSize(String),
    #[error("--max-attachment-size: {0}")]
    MaxAttachmentSize(String),
    #[error("--context-strategy: {0}")]
    Strategy(#[from] UnknownStrategy),
    #[error("OLLAMA_CHAT_API must be one of {names}, not {0:?}", names = Api::names().join(", "))]
    Api(String),
    #[error("{flag} is for --api ollama; with --api {api} give the server as --base-url URL")]
    HostWithBaseUrlApi {
        flag: &'static str,
        api: &'static str,
    },
    #[error("--base-url is for --api openai or --api anthropic; for Ollama use --host")]
    BaseUrlWithOllama,
    #[error("--base-url must be an http:// or https:// URL, not {0:?}")]
    BaseUrl(String),
    #[error(
        "no API key for {url}: set {key_var} in the environment or in a .env file in this folder"
    )]
    MissingKey { url: String, key_var: &'static str },
    /// A header that cannot be sent; the message never holds its value.
    #[error("--header takes `Name: value`; {0}")]
    Header(String),
    /// A setting the chosen API cannot express.
    #[error("{0}")]
    Request(String),
    #[error("{0}")]
    Tools(String),
}

/// The tool flags resolved: which tools, where the file tools may read, what runs unasked.
pub fn tool_settings(f: &crate::cli::ToolFlags) -> Result<crate::tools::ToolSettings, ConfigError> {
    use crate::tools::{mcp, parse_tool_list, ToolSettings};
    let builtins = match &f.tools {
        Some(list) => {
            parse_tool_list(list).map_err(|e| ConfigError::Tools(format!("--tools: {e}")))?
        }
        None => Vec::new(),
    };
    let mcp = f
        .mcp
        .iter()
        .map(|m| mcp::parse_spec(m))
        .collect::<Result<Vec<_>, _>>()
        .map_err(ConfigError::Tools)?;
    // Each server's tools are named after it: two of one name would offer the same tool names.
    if let Some(twice) = mcp
        .iter()
        .enumerate()
        .find_map(|(i, m)| mcp[..i].iter().any(|e| e.name == m.name).then_some(&m.name))
    {
        return Err(ConfigError::Tools(format!(
            "--mcp: the server name {twice:?} is given twice; give each server its own name"
        )));
    }
    if f.max_tool_steps == 0 {
        return Err(ConfigError::Tools(
            "--max-tool-steps must be at least 1".into(),
        ));
    }
    if f.tool_timeout == 0 {
        return Err(ConfigError::Tools(
            "--tool-timeout must be at least 1 second".into(),
        ));
    }
    Ok(ToolSettings {
        enabled: f.tools.is_some() || !mcp.is_empty(),
        builtins,
        roots: f.tool_root.clone(),
        allow: f.allow_tool.iter().cloned().collect(),
        max_steps: f.max_tool_steps,
        timeout: Duration::from_secs(f.tool_timeout),
        mcp,
        ..ToolSettings::default()
    })
}

/// An API key. Its `Debug` never shows it, so a `{:?}` of the config cannot leak it.
#[derive(Clone, PartialEq, Eq)]
pub struct ApiKey(String);

impl ApiKey {
    pub fn new(key: impl Into<String>) -> Self {
        ApiKey(key.into())
    }

    /// The key itself, for the one place that sends it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for ApiKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ApiKey(<redacted>)")
    }
}

impl Config {
    /// The turn's limits: `--load-timeout` before a reply begins, `--timeout` once it has.
    pub fn timeouts(&self) -> crate::turn::Timeouts {
        crate::turn::Timeouts {
            load: self.load_timeout,
            idle: self.stall_timeout,
        }
    }
}

impl Config {
    /// `env` answers for the process environment (and, for the OpenAI variables, a `.env` file).
    pub fn resolve(cli: Cli, env: &dyn Fn(&str) -> Option<String>) -> Result<Config, ConfigError> {
        let mut warnings = Vec::new();
        let api = match cli.api {
            Some(api) => api,
            None => match env("OLLAMA_CHAT_API").filter(|v| !v.trim().is_empty()) {
                Some(v) => Api::parse(&v).ok_or(ConfigError::Api(v))?,
                None => Api::Ollama,
            },
        };
        let (base_url, api_key) = match api {
            Api::Ollama => {
                if cli.base_url.is_some() {
                    return Err(ConfigError::BaseUrlWithOllama);
                }
                let raw_host = cli.host.or_else(|| env("OLLAMA_HOST")).unwrap_or_default();
                let resolved = host::resolve(&raw_host);
                warnings.extend(resolved.warning);
                let key = env("OLLAMA_API_KEY").filter(|k| !k.trim().is_empty());
                (resolved.base_url, key)
            }
            _ => {
                if cli.host.is_some() {
                    return Err(ConfigError::HostWithBaseUrlApi {
                        flag: "--host",
                        api: api.name(),
                    });
                }
                let url = cli
                    .base_url
                    .or_else(|| api.base_url_var().and_then(env))
                    .filter(|u| !u.trim().is_empty())
                    .or_else(|| api.default_base_url().map(str::to_string))
                    .unwrap_or_default();
                let url = check_base_url(&url)?;
                let key = env(api.key_var())
                    .map(|k| k.trim().to_string())
                    .filter(|k| !k.is_empty());
                if key.is_none() && api.needs_key() && !crate::net::is_loopback(&url) {
                    // A password in the URL is not shown, here as everywhere.
                    let shown = api.secrets(&url, None).scrub(&url).into_owned();
                    return Err(ConfigError::MissingKey {
                        url: shown,
                        key_var: api.key_var(),
                    });
                }
                (url, key)
            }
        };

        let mut options = Options::default();
        for pair in &cli.options {
            options.set_pair(pair)?;
        }

        let think = cli.think.as_deref().map(parse_think).transpose()?;
        let format = cli.format.as_deref().map(parse_format).transpose()?;
        let keep_alive = cli.keep_alive.as_deref().map(parse_keep_alive);
        let context_strategy = cli.context_strategy.parse()?;
        if cli.timeout == 0 || cli.load_timeout == 0 {
            return Err(ConfigError::Timeout);
        }
        let max_line = match cli.max_line.as_deref() {
            None => DEFAULT_MAX_LINE,
            Some(s) => parse_max_line(s).map_err(ConfigError::MaxLine)?,
        };
        let attach = Attach {
            images: cli.images,
            files: cli.files,
            max_size: match cli.max_attachment_size.as_deref() {
                Some(s) => parse_size(s).map_err(ConfigError::MaxAttachmentSize)?,
                None => crate::attach::DEFAULT_MAX_SIZE,
            },
        };
        // Refused now, before anything is sent, rather than on the first turn.
        let probe = ChatRequest {
            format: format.as_ref(),
            think: think.as_ref(),
            keep_alive: keep_alive.as_ref(),
            tools: &[],
            ..ChatRequest::new("", &[], &options)
        };
        api.check_request(&probe)
            .map_err(|e| ConfigError::Request(e.to_string()))?;

        let theme = match cli.theme {
            Some(t) => t,
            None => match env("OLLAMA_CHAT_THEME").filter(|v| !v.trim().is_empty()) {
                Some(v) => <Theme as clap::ValueEnum>::from_str(v.trim(), true)
                    .map_err(|_| ConfigError::Theme(v))?,
                None => Theme::default(),
            },
        };
        let markdown = !cli.raw
            && match env("OLLAMA_CHAT_MARKDOWN").filter(|v| !v.trim().is_empty()) {
                Some(v) => match v.trim().to_ascii_lowercase().as_str() {
                    "on" | "1" | "true" | "yes" => true,
                    "off" | "0" | "false" | "no" => false,
                    _ => return Err(ConfigError::Markdown(v)),
                },
                None => true,
            };

        let log_path = if cli.no_log {
            None
        } else {
            cli.log
                .or_else(|| paths::state_dir(env).map(|d| d.join("turns.jsonl")))
        };
        let log_content = match cli.log_content.or_else(|| env("OLLAMA_CHAT_LOG_CONTENT")) {
            Some(s) if !s.trim().is_empty() => s.parse()?,
            _ => LogContent::default(),
        };
        let log_rotation = Rotation {
            max_size: match cli.log_max_size.as_deref() {
                Some(s) => parse_size(s).map_err(ConfigError::LogMaxSize)?,
                None => Rotation::default().max_size,
            },
            keep: cli.log_keep,
        };
        let history_path = if env("OLLAMA_NOHISTORY").is_some_and(|v| !v.is_empty()) {
            None
        } else {
            paths::data_dir(env).map(|d| d.join("history"))
        };

        let headers = if cli.headers.is_empty() {
            let from_env = env("OLLAMA_CHAT_HEADERS").unwrap_or_default();
            from_env
                .split(['\n', ','])
                .filter(|e| !e.trim().is_empty())
                .map(parse_header)
                .collect::<Result<Vec<_>, _>>()?
        } else {
            cli.headers
                .iter()
                .map(|h| parse_header(h))
                .collect::<Result<Vec<_>, _>>()?
        };

        let session = SessionConfig {
            dir: paths::data_dir(env).map(|d| d.join("sessions")),
            choice: match (cli.no_session, cli.continue_last, cli.session) {
                (true, _, _) => SessionChoice::Off,
                (_, true, _) => SessionChoice::Continue,
                (_, _, Some(s)) => SessionChoice::Open(s),
                _ => match &cli.fork {
                    Some(f) => {
                        let (session, turn) = crate::session::fork::parse_ref(f)
                            .map_err(|e| ConfigError::Fork(e.to_string()))?;
                        SessionChoice::Fork(session.to_string(), turn)
                    }
                    None => SessionChoice::New,
                },
            },
            model_flag: cli.model.clone(),
            system_flag: cli.system.clone(),
            option_pairs: cli.options.clone(),
        };

        let tools = tool_settings(&cli.tools)?;
        Ok(Config {
            api,
            base_url,
            warnings,
            api_key: api_key.map(ApiKey),
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
            attach,
            log_path,
            log_content,
            log_rotation,
            history_path,
            facts_cache: paths::state_dir(env).map(|d| d.join("model-facts.json")),
            preload: !cli.no_preload,
            stall_timeout: Duration::from_secs(cli.timeout),
            load_timeout: Duration::from_secs(cli.load_timeout),
            max_line,
            context_strategy,
            allow_overflow: cli.allow_overflow,
            session,
            verbose: cli.verbose,
            stats_json: cli.stats_json,
            markdown,
            theme,
            role: None,
            keys: cli.keys,
            models_memory: paths::state_dir(env).map(|d| d.join("models.json")),
            roles: Default::default(),
            hide_thinking: cli.hidethinking,
            headers,
            tools,
        })
    }
}

/// A base URL as given, checked to be http(s), without a trailing `/`.
pub(crate) fn check_base_url(raw: &str) -> Result<String, ConfigError> {
    // Blanks among the trailing slashes too: `http://h/v1/ /` is `http://h/v1`, as it reads back.
    let trimmed = raw
        .trim_end_matches(|c: char| c == '/' || c.is_whitespace())
        .trim();
    match reqwest::Url::parse(trimmed) {
        Ok(u) if matches!(u.scheme(), "http" | "https") && u.host_str().is_some() => {
            Ok(trimmed.to_string())
        }
        _ => Err(ConfigError::BaseUrl(raw.to_string())),
    }
}

/// `Name: value` → the pair, checked as HTTP allows (a name of token characters, a value of
/// visible characters). Errors name the header, never its value (it may be a secret).
fn parse_header(entry: &str) -> Result<(String, String), ConfigError> {
    let Some((name, value)) = entry.split_once(':') else {
        return Err(ConfigError::Header("an entry has no `:`".into()));
    };
    let name = name.trim();
    let shown = crate::untrusted::sanitize_line(&crate::suggest::shown(name)).into_owned();
    if reqwest::header::HeaderName::from_bytes(name.as_bytes()).is_err() {
        return Err(ConfigError::Header(format!(
            "{shown:?} is not a header name"
        )));
    }
    let value = value.trim();
    if reqwest::header::HeaderValue::from_str(value).is_err() {
        return Err(ConfigError::Header(format!(
            "the value of {shown} holds a character a header cannot"
        )));
    }
    Ok((name.to_string(), value.to_string()))
}

fn parse_think(s: &str) -> Result<Think, ConfigError> {
    match s.to_ascii_lowercase().as_str() {
        "true" | "on" | "yes" => Ok(Think::On(true)),
        "false" | "off" | "no" => Ok(Think::On(false)),
        level if Think::LEVELS.contains(&level) => Ok(Think::Level(level.to_string())),
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
/// `--max-line`: a size of at least 1 KiB (a smaller one would stop every real reply) that fits
/// in memory's address space.
fn parse_max_line(s: &str) -> Result<usize, String> {
    let bytes = parse_size(s)?;
    if bytes < 1024 {
        return Err(format!("{s:?} is too small: a line may need at least 1KiB"));
    }
    usize::try_from(bytes).map_err(|_| format!("{s:?} is larger than this machine can hold"))
}

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
        assert_eq!(c.stall_timeout, Duration::from_secs(60));
        assert_eq!(c.load_timeout, Duration::from_secs(300));
        assert_eq!(c.context_strategy, Strategy::Truncate);
        assert!(!c.allow_overflow);
        let c = resolve(&["--context-strategy", "fail", "--allow-overflow"], &[]).unwrap();
        assert_eq!(c.context_strategy, Strategy::Fail);
        assert!(c.allow_overflow);
    }

    /// Found by the host fuzz target: a blank before the last `/` stayed in the base URL, which
    /// then checked to a different URL.
    #[test]
    fn base_url_loses_blanks_among_its_trailing_slashes() {
        assert_eq!(check_base_url("http://h/v1/ /").unwrap(), "http://h/v1");
        assert_eq!(check_base_url(" https://h:8/ \t").unwrap(), "https://h:8");
        assert!(check_base_url(" / ").is_err());
    }

    #[test]
    fn markdown_and_its_theme() {
        let c = resolve(&[], &[]).unwrap();
        assert!(c.markdown);
        assert_eq!(c.theme, Theme::Ansi);
        assert!(!resolve(&["--raw"], &[]).unwrap().markdown);
        assert!(
            !resolve(&[], &[("OLLAMA_CHAT_MARKDOWN", "off")])
                .unwrap()
                .markdown
        );
        assert!(
            !resolve(&["--raw"], &[("OLLAMA_CHAT_MARKDOWN", "on")])
                .unwrap()
                .markdown
        );
        assert!(
            resolve(&[], &[("OLLAMA_CHAT_MARKDOWN", " ")])
                .unwrap()
                .markdown
        );
        assert!(matches!(
            resolve(&[], &[("OLLAMA_CHAT_MARKDOWN", "maybe")]),
            Err(ConfigError::Markdown(_))
        ));
        let c = resolve(&["--theme", "light"], &[("OLLAMA_CHAT_THEME", "dark")]).unwrap();
        assert_eq!(c.theme, Theme::Light, "the flag wins");
        let c = resolve(&[], &[("OLLAMA_CHAT_THEME", "Dark")]).unwrap();
        assert_eq!(c.theme, Theme::Dark);
        assert!(matches!(
            resolve(&[], &[("OLLAMA_CHAT_THEME", "solarized")]),
            Err(ConfigError::Theme(_))
        ));
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
    fn session_choices() {
        let c = resolve(&[], &[("HOME", "/h")]).unwrap();
        assert_eq!(c.session.choice, SessionChoice::New);
        assert_eq!(
            c.session.dir.unwrap(),
            PathBuf::from("/h/.local/share/ollama-chat/sessions")
        );
        let c = resolve(&["-c", "-m", "x"], &[("OLLAMA_CHAT_MODEL", "y")]).unwrap();
        assert_eq!(c.session.choice, SessionChoice::Continue);
        assert_eq!(c.session.model_flag.as_deref(), Some("x"));
        let c = resolve(&["--session", "a.jsonl"], &[("OLLAMA_CHAT_MODEL", "y")]).unwrap();
        assert_eq!(c.session.choice, SessionChoice::Open("a.jsonl".into()));
        assert_eq!(c.session.model_flag, None);
        let c = resolve(&["--no-session"], &[]).unwrap();
        assert_eq!(c.session.choice, SessionChoice::Off);
    }

    #[test]
    fn log_content_and_rotation() {
        let c = resolve(&[], &[]).unwrap();
        assert_eq!(c.log_content, LogContent::Full);
        assert_eq!(c.log_rotation, Rotation::default());
        let c = resolve(
            &["--log-content", "none"],
            &[("OLLAMA_CHAT_LOG_CONTENT", "redact")],
        )
        .unwrap();
        assert_eq!(c.log_content, LogContent::None);
        let c = resolve(&[], &[("OLLAMA_CHAT_LOG_CONTENT", "redact")]).unwrap();
        assert_eq!(c.log_content, LogContent::Redact);
        let c = resolve(&["--log-max-size", "1MiB", "--log-keep", "2"], &[]).unwrap();
        assert_eq!(
            c.log_rotation,
            Rotation {
                max_size: 1 << 20,
                keep: 2
            }
        );
        assert!(matches!(
            resolve(&["--log-content", "some"], &[]),
            Err(ConfigError::LogContent(_))
        ));
        assert!(matches!(
            resolve(&["--log-max-size", "big"], &[]),
            Err(ConfigError::LogMaxSize(_))
        ));
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
        assert_eq!(c.api_key, Some(ApiKey::new("k")));
        assert!(!format!("{c:?}").contains("\"k\""));
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
        let max = resolve(&["--think=max", "--hidethinking"], &[]).unwrap();
        assert_eq!(max.think, Some(Think::Level("max".into())));
        assert!(max.hide_thinking && !c.hide_thinking);
        // Each API maps `max` to its own scale (Anthropic: the largest thinking budget).
        assert!(resolve(
            &[
                "--api",
                "anthropic",
                "--think=max",
                "-o",
                "num_predict=40000"
            ],
            &[("ANTHROPIC_API_KEY", "k")]
        )
        .is_ok());
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
        assert!(matches!(
            resolve(&["--load-timeout", "0"], &[]),
            Err(ConfigError::Timeout)
        ));
    }

    #[test]
    fn headers_from_flags_or_the_environment_and_never_their_values_in_errors() {
        let c = resolve(&["--header", "X-A: 1", "--header", "X-B:two words "], &[]).unwrap();
        assert_eq!(
            c.headers,
            [
                ("X-A".into(), "1".into()),
                ("X-B".into(), "two words".into())
            ]
        );
        let env = [("OLLAMA_CHAT_HEADERS", "X-C: 3,\nX-D: 4\n")];
        let c = resolve(&[], &env).unwrap();
        assert_eq!(c.headers.len(), 2);
        let c = resolve(&["--header", "X-A: 1"], &env).unwrap();
        assert_eq!(c.headers.len(), 1, "the flag wins");
        for bad in ["no colon", "Bad Name: v", "X-A: secret-\u{7}value", ": v"] {
            let e = resolve(&["--header", bad], &[]).unwrap_err().to_string();
            assert!(e.starts_with("--header takes"), "{e}");
            assert!(!e.contains("secret"), "{e}");
        }
    }

    #[test]
    fn max_attachment_size_is_a_size() {
        let c = resolve(&["--image", "a.png", "-f", "-"], &[]).unwrap();
        assert_eq!(c.attach.max_size, 20_000_000);
        assert_eq!(c.attach.files, ["-"]);
        let c = resolve(&["--max-attachment-size", "5MiB"], &[]).unwrap();
        assert_eq!(c.attach.max_size, 5 << 20);
        assert!(matches!(
            resolve(&["--max-attachment-size", "big"], &[]),
            Err(ConfigError::MaxAttachmentSize(_))
        ));
    }

    #[test]
    fn max_line_is_a_size_of_at_least_one_kib() {
        assert_eq!(resolve(&[], &[]).unwrap().max_line, 16 << 20);
        assert_eq!(
            resolve(&["--max-line", "64M"], &[]).unwrap().max_line,
            64 << 20
        );
        assert_eq!(
            resolve(&["--max-line", "1KiB"], &[]).unwrap().max_line,
            1024
        );
        for bad in ["1000", "0", "lots", "5 parsecs", "99999999999G"] {
            assert!(
                matches!(
                    resolve(&["--max-line", bad], &[]),
                    Err(ConfigError::MaxLine(_))
                ),
                "{bad}"
            );
        }
    }

    #[test]
    fn openai_api_from_flag_or_env() {
        let c = resolve(&["--api", "openai"], &[("OPENAI_API_KEY", " sk-1 ")]).unwrap();
        assert_eq!(c.api, Api::OpenAi);
        assert_eq!(c.base_url, "https://api.openai.com/v1");
        assert_eq!(c.api_key, Some(ApiKey::new("sk-1")));
        assert!(!format!("{c:?}").contains("sk-1"));
        let c = resolve(
            &[],
            &[
                ("OLLAMA_CHAT_API", "openai"),
                ("OPENAI_BASE_URL", "http://localhost:8000/v1/"),
                ("OLLAMA_HOST", "ignored:1"),
                ("OLLAMA_API_KEY", "not-for-openai"),
            ],
        )
        .unwrap();
        assert_eq!(c.base_url, "http://localhost:8000/v1");
        assert_eq!(c.api_key, None, "a loopback server needs no key");
        let c = resolve(
            &["--api", "ollama"],
            &[("OLLAMA_CHAT_API", "openai"), ("OPENAI_API_KEY", "k")],
        )
        .unwrap();
        assert_eq!(c.api, Api::Ollama);
        assert_eq!(c.api_key, None);
    }

    #[test]
    fn base_url_flag_beats_the_environment() {
        let c = resolve(
            &["--api", "openai", "--base-url", "http://127.0.0.1:11434/v1"],
            &[("OPENAI_BASE_URL", "https://example.com/v1")],
        )
        .unwrap();
        assert_eq!(c.base_url, "http://127.0.0.1:11434/v1");
    }

    #[test]
    fn openai_usage_errors() {
        let e = resolve(&["--api", "openai"], &[]).unwrap_err();
        assert!(
            matches!(e, ConfigError::MissingKey { ref url, key_var: "OPENAI_API_KEY" } if url == "https://api.openai.com/v1")
        );
        let e = resolve(
            &[
                "--api",
                "openai",
                "--base-url",
                "https://me:hunter2hunter2@gpu:8/v1",
            ],
            &[],
        )
        .unwrap_err();
        assert_eq!(
            e.to_string(),
            "no API key for https://me:<OPENAI_BASE_URL password>@gpu:8/v1: set OPENAI_API_KEY in the environment or in a .env file in this folder"
        );
        let e = resolve(&["--api", "openai", "--base-url", "http://[::1]:8/v1"], &[]);
        assert!(e.is_ok(), "loopback IPv6 needs no key");
        for bad in ["localhost:8000/v1", "ftp://x", "http://", ""] {
            let r = resolve(
                &["--api", "openai", "--base-url", bad],
                &[("OPENAI_API_KEY", "k")],
            );
            if bad.is_empty() {
                assert!(r.is_ok(), "empty means the default");
            } else {
                assert!(matches!(r, Err(ConfigError::BaseUrl(_))), "{bad}");
            }
        }
        assert!(matches!(
            resolve(
                &["--api", "openai", "--host", "x"],
                &[("OPENAI_API_KEY", "k")]
            ),
            Err(ConfigError::HostWithBaseUrlApi { .. })
        ));
        assert!(matches!(
            resolve(&["--base-url", "http://x/v1"], &[]),
            Err(ConfigError::BaseUrlWithOllama)
        ));
        assert!(matches!(
            resolve(&[], &[("OLLAMA_CHAT_API", "claude")]),
            Err(ConfigError::Api(_))
        ));
        let key = [("OPENAI_API_KEY", "k")];
        assert!(matches!(
            resolve(&["--api", "openai", "-o", "num_ctx=1"], &key),
            Err(ConfigError::Request(ref m)) if m.starts_with("option num_ctx has no equivalent")
        ));
        assert!(matches!(
            resolve(&["--api", "openai", "--think"], &key),
            Err(ConfigError::Request(ref m)) if m.starts_with("--think needs an effort level")
        ));
        assert!(resolve(
            &["--api", "openai", "--think=low", "--format", "json"],
            &key
        )
        .is_ok());
    }
}
