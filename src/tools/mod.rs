//! The functions the model may call: the built-in tools and those of MCP servers, what each may
//! do (read, fetch, run a program), and running one call with its limits. Deciding whether a
//! call runs (asking the person) is `chat::tools`; this module only runs what was allowed.
//!
//! Layout: this file (the toolbox: which tools exist and are offered, running a call); `fs`
//! (`read_file`, `list_dir`, `search_text`, confined to the roots), `fetch` (`fetch_url`),
//! `command` (`run_command`, in its own process group), `mcp` (a stdio MCP client on the rmcp
//! SDK), `show` (how a call and a result are shown to the person, sanitised).

pub mod command;
pub mod fetch;
pub mod fs;
pub mod mcp;
pub mod show;

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::time::Duration;

use serde_json::json;

use crate::conversation::{ToolCall, ToolSpec};
use fs::Roots;
use mcp::{McpServer, McpSpec};

/// Why a call gave no result; the message is sent to the model so it can react.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ToolError {
    /// The arguments were refused before anything ran (a path out of the roots, a missing field).
    #[error("refused: {0}")]
    Refused(String),
    /// It ran and failed.
    #[error("failed: {0}")]
    Failed(String),
    /// It ran past its time limit and was stopped.
    #[error("stopped after {0} s (the time limit)")]
    TimedOut(u64),
}

/// What a tool can do, which decides how it is approved.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Reads files under the roots or the clock.
    Read,
    /// Fetches a URL: it reads, but what it sends (the URL) leaves the machine.
    Network,
    /// Runs a program: asked every time, never allowed ahead.
    Run,
    /// An MCP server's tool: the client cannot know what it does.
    External,
}

impl Kind {
    /// A few words for the approval prompt's explanation.
    pub fn describe(self) -> &'static str {
        match self {
            Kind::Read => "reads files under the allowed folders (or the clock); writes nothing",
            Kind::Network => "fetches a URL from the network: the URL itself leaves this machine",
            Kind::Run => "runs a shell command as you, in the working directory",
            Kind::External => "is run by an MCP server; ollama-chat cannot know what it does",
        }
    }
}

/// The built-in tools, by the name the model calls.
pub const BUILTIN: &[&str] = &[
    "read_file",
    "list_dir",
    "search_text",
    "fetch_url",
    "now",
    "run_command",
];

/// The built-ins `--tools default` names: everything but `run_command`.
pub const DEFAULT_SET: &[&str] = &["read_file", "list_dir", "search_text", "fetch_url", "now"];

/// The tool settings of a run, resolved from the flags and the config file's `[mcp.NAME]` tables.
#[derive(Debug, Clone, PartialEq)]
pub struct ToolSettings {
    /// Tools are offered to the model at start (`--tools`, or an MCP server from `--mcp` or the
    /// config file).
    pub enabled: bool,
    /// The built-in tools offered.
    pub builtins: Vec<String>,
    /// Folders the file tools may read besides the working directory.
    pub roots: Vec<PathBuf>,
    /// Tools that run without asking (`--allow-tool`).
    pub allow: BTreeSet<String>,
    /// Replies with tool calls answered per message before the loop stops.
    pub max_steps: u32,
    /// How long one call may run.
    pub timeout: Duration,
    /// The most bytes of one result sent to the model.
    pub max_output: usize,
    pub mcp: Vec<McpSpec>,
}

impl Default for ToolSettings {
    fn default() -> Self {
        ToolSettings {
            enabled: false,
            builtins: Vec::new(),
            roots: Vec::new(),
            allow: BTreeSet::new(),
            max_steps: 10,
            timeout: Duration::from_secs(30),
            max_output: 64 * 1024,
            mcp: Vec::new(),
        }
    }
}

impl ToolSettings {
    /// Adds the config file's `[mcp.NAME]` servers before the command line's; an `--mcp` of the
    /// same name replaces the file's. Declared servers offer tools, as `--mcp` ones do.
    pub fn declare_servers(&mut self, declared: impl IntoIterator<Item = McpSpec>) {
        let mut all: Vec<McpSpec> = declared
            .into_iter()
            .filter(|d| !self.mcp.iter().any(|m| m.name == d.name))
            .collect();
        all.append(&mut self.mcp);
        self.enabled |= !all.is_empty();
        self.mcp = all;
    }
}

/// Parses `--tools`: built-in names separated by commas; `default` for the safe set, `none` for
/// none (MCP tools only).
pub fn parse_tool_list(text: &str) -> Result<Vec<String>, String> {
    let mut out: Vec<String> = Vec::new();
    for name in text.split(',').map(str::trim).filter(|n| !n.is_empty()) {
        let names: Vec<&str> = match name {
            "default" => DEFAULT_SET.to_vec(),
            "all" => BUILTIN.to_vec(),
            "none" => Vec::new(),
            n if BUILTIN.contains(&n) => vec![n],
            n => {
                return Err(format!(
                    "no built-in tool is called {n:?}; the tools are {}, or default, all, none",
                    BUILTIN.join(", ")
                ))
            }
        };
        for n in names {
            if !out.iter().any(|o| o == n) {
                out.push(n.to_string());
            }
        }
    }
    Ok(out)
}

/// Where a tool comes from.
#[derive(Debug, Clone, PartialEq)]
enum Source {
    Builtin,
    /// The server's index and the tool's own name there.
    Mcp(usize, String),
}

/// One tool the model can be offered.
#[derive(Debug, Clone, PartialEq)]
pub struct ToolDef {
    pub spec: ToolSpec,
    pub kind: Kind,
    source: Source,
}

/// The tools of a chat: built-ins and MCP servers (started on first need), what is offered, and
/// the answers "always" given so far.
pub struct Toolbox {
    settings: ToolSettings,
    roots: Roots,
    defs: Vec<ToolDef>,
    /// What requests carry (the offered tools' specs), kept so a request can borrow it.
    specs: Vec<ToolSpec>,
    servers: Vec<McpServer>,
    /// Whether the MCP servers were started (or tried).
    started: bool,
    /// Tools the person answered "always" for.
    always: BTreeSet<String>,
    enabled: bool,
    /// The values of the MCP servers' configured variables (tokens, mostly): a server that
    /// echoes one must not hand it to the model, the session or the log.
    secrets: crate::error::Secrets,
    /// Off because the model cannot take tools, not because the person said so: a switch to a
    /// model that can turns them back on.
    off_for_model: bool,
    http: Option<reqwest::Client>,
}

impl Toolbox {
    /// The toolbox of these settings; the working directory is the first root.
    pub fn new(settings: ToolSettings) -> Result<Toolbox, String> {
        let cwd = std::env::current_dir().map_err(|e| format!("no working directory: {e}"))?;
        let mut dirs = vec![cwd];
        dirs.extend(settings.roots.iter().cloned());
        let roots = Roots::new(&dirs)?;
        if settings.allow.contains("run_command") {
            return Err(
                "run_command cannot be allowed ahead (--allow-tool): it asks before every command"
                    .into(),
            );
        }
        let servers = settings.mcp.iter().cloned().map(McpServer::new).collect();
        let mut secrets = crate::error::Secrets::new();
        for (name, value) in settings.mcp.iter().flat_map(|s| &s.env) {
            if name != "PATH" {
                secrets.add(name, value);
            }
        }
        let mut b = Toolbox {
            enabled: settings.enabled,
            defs: Vec::new(),
            specs: Vec::new(),
            servers,
            started: false,
            always: BTreeSet::new(),
            secrets,
            off_for_model: false,
            http: None,
            roots,
            settings,
        };
        b.defs = b
            .settings
            .builtins
            .iter()
            .filter_map(|n| builtin(n, &b.roots))
            .collect();
        b.refresh_specs();
        Ok(b)
    }

    pub fn settings(&self) -> &ToolSettings {
        &self.settings
    }

    /// What a result is scrubbed of besides the client's own keys: the servers' `env` values.
    pub fn secrets(&self) -> &crate::error::Secrets {
        &self.secrets
    }

    /// Whether requests carry the tools (`/tools on|off`).
    pub fn enabled(&self) -> bool {
        self.enabled
    }

    pub fn set_enabled(&mut self, on: bool) {
        self.enabled = on;
        self.off_for_model = false;
    }

    /// Follows the model's capability: off for a model without tools, back on for one with them
    /// when it was a model that turned them off (not `/tools off`). The new state, if it changed.
    pub fn follow_model(&mut self, capable: bool) -> Option<bool> {
        match (capable, self.enabled, self.off_for_model) {
            (false, true, _) => {
                self.enabled = false;
                self.off_for_model = true;
                Some(false)
            }
            (true, false, true) => {
                self.enabled = true;
                self.off_for_model = false;
                Some(true)
            }
            _ => None,
        }
    }

    /// The specs a request carries: empty when tools are off.
    pub fn offered(&self) -> &[ToolSpec] {
        if self.enabled {
            &self.specs
        } else {
            &[]
        }
    }

    /// Every tool known, offered or not.
    pub fn defs(&self) -> &[ToolDef] {
        &self.defs
    }

    pub fn lookup(&self, name: &str) -> Option<&ToolDef> {
        self.defs.iter().find(|d| d.spec.name == name)
    }

    /// Whether `name` runs without asking: allowed up front, or answered "always".
    pub fn allowed_ahead(&self, name: &str) -> Option<crate::conversation::Approval> {
        use crate::conversation::Approval;
        if self.settings.allow.contains(name) {
            Some(Approval::Allowed)
        } else if self.always.contains(name) {
            Some(Approval::Always)
        } else {
            None
        }
    }

    /// Remembers "always" for a tool (never for one that runs programs).
    pub fn allow_always(&mut self, name: &str) {
        if self.lookup(name).is_some_and(|d| d.kind != Kind::Run) {
            self.always.insert(name.to_string());
        }
    }

    /// Starts the MCP servers once and adds their tools; each failure is one line returned.
    pub async fn start_servers(&mut self) -> Vec<String> {
        if self.started || !self.enabled {
            return Vec::new();
        }
        self.started = true;
        let mut notes = Vec::new();
        for (i, server) in self.servers.iter_mut().enumerate() {
            match server.start(self.settings.timeout).await {
                Ok(tools) => {
                    for t in tools {
                        let name = format!("{}.{}", server.name(), t.name);
                        self.defs.push(ToolDef {
                            spec: ToolSpec {
                                name,
                                description: t.description,
                                parameters: t.parameters,
                            },
                            kind: Kind::External,
                            source: Source::Mcp(i, t.name),
                        });
                    }
                }
                Err(e) => notes.push(format!(
                    "MCP server {}: {e}; the chat goes on without it",
                    server.name()
                )),
            }
        }
        self.refresh_specs();
        notes
    }

    fn refresh_specs(&mut self) {
        self.specs = self.defs.iter().map(|d| d.spec.clone()).collect();
    }

    /// Runs one allowed call within the time limit; the text is what the model gets back.
    pub async fn run(&mut self, call: &ToolCall) -> Result<String, ToolError> {
        let Some(def) = self.lookup(&call.name).cloned() else {
            return Err(ToolError::Refused(format!(
                "there is no tool called {}",
                call.name
            )));
        };
        let limit = self.settings.timeout;
        let max = self.settings.max_output;
        let args = &call.arguments;
        let ran = match def.source {
            Source::Mcp(i, name) => {
                let server = &mut self.servers[i];
                tokio::time::timeout(limit, server.call(&name, args, max)).await
            }
            Source::Builtin => {
                let roots = &self.roots;
                let http = self.http.get_or_insert_with(fetch::client);
                let work = async move {
                    match call.name.as_str() {
                        "read_file" => fs::read_file(roots, args, max),
                        "list_dir" => fs::list_dir(roots, args),
                        "search_text" => fs::search_text(roots, args),
                        "fetch_url" => fetch::fetch_url(http, args, max).await,
                        "now" => Ok(now()),
                        "run_command" => command::run_command(args, roots, max).await,
                        other => Err(ToolError::Refused(format!(
                            "there is no tool called {other}"
                        ))),
                    }
                };
                tokio::time::timeout(limit, work).await
            }
        };
        let text = ran.map_err(|_| ToolError::TimedOut(limit.as_secs()))??;
        Ok(cap(text, max))
    }
}

/// `text` cut to `max` bytes at a character, saying so.
pub fn cap(mut text: String, max: usize) -> String {
    if text.len() <= max {
        return text;
    }
    let whole = text.len();
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    text.truncate(end);
    text.push_str(&format!("\n[cut: the first {end} of {whole} bytes]"));
    text
}

/// `now`: the local date and time, with its zone and weekday.
fn now() -> String {
    let t = chrono::Local::now();
    format!(
        "{} ({})",
        t.to_rfc3339_opts(chrono::SecondsFormat::Secs, false),
        t.format("%A")
    )
}

/// A built-in tool's definition.
fn builtin(name: &str, roots: &Roots) -> Option<ToolDef> {
    let folders = roots.shown();
    let (description, parameters, kind) = match name {
        "read_file" => (
            format!("Read a text file. Relative paths start at {}; only files under {folders} can be read.", roots.dirs().first().map_or(String::new(), |d| d.display().to_string())),
            json!({"type":"object","properties":{"path":{"type":"string","description":"the file's path"}},"required":["path"]}),
            Kind::Read,
        ),
        "list_dir" => (
            format!("List a folder's entries (folders end in /, links in @). Only folders under {folders}."),
            json!({"type":"object","properties":{"path":{"type":"string","description":"the folder; default: the working directory"}}}),
            Kind::Read,
        ),
        "search_text" => (
            format!("Find lines matching a text (or a regex) in the files under a folder (under {folders}); answers file:line: text."),
            json!({"type":"object","properties":{"pattern":{"type":"string"},"regex":{"type":"boolean","description":"treat pattern as a regular expression"},"path":{"type":"string","description":"the folder to search; default: the working directory"}},"required":["pattern"]}),
            Kind::Read,
        ),
        "fetch_url" => (
            "Fetch a web page or file over HTTP(S) and return its text.".to_string(),
            json!({"type":"object","properties":{"url":{"type":"string","description":"an http:// or https:// URL"}},"required":["url"]}),
            Kind::Network,
        ),
        "now" => (
            "The current local date, time, time zone and weekday.".to_string(),
            json!({"type":"object","properties":{}}),
            Kind::Read,
        ),
        "run_command" => (
            "Run a shell command in the working directory (the user approves each one) and return its exit status and output.".to_string(),
            json!({"type":"object","properties":{"command":{"type":"string","description":"a command line for sh -c"}},"required":["command"]}),
            Kind::Run,
        ),
        _ => return None,
    };
    Some(ToolDef {
        spec: ToolSpec {
            name: name.to_string(),
            description,
            parameters,
        },
        kind,
        source: Source::Builtin,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tool_lists() {
        assert_eq!(
            parse_tool_list("read_file, now,read_file").unwrap(),
            ["read_file", "now"]
        );
        assert_eq!(parse_tool_list("default").unwrap(), DEFAULT_SET);
        assert_eq!(parse_tool_list("all").unwrap(), BUILTIN);
        assert!(parse_tool_list("none").unwrap().is_empty());
        assert!(parse_tool_list("").unwrap().is_empty());
        let e = parse_tool_list("read_file,rm_rf").unwrap_err();
        assert!(e.contains("\"rm_rf\"") && e.contains("read_file"), "{e}");
    }

    #[test]
    fn results_are_cut_at_a_character() {
        assert_eq!(cap("短".into(), 10), "短");
        assert_eq!(cap("一二三".into(), 4), "一\n[cut: the first 3 of 9 bytes]");
    }

    #[test]
    fn run_command_cannot_be_allowed_ahead() {
        let settings = ToolSettings {
            allow: ["run_command".to_string()].into(),
            ..ToolSettings::default()
        };
        assert!(Toolbox::new(settings)
            .err()
            .unwrap()
            .contains("asks before every command"));
    }

    #[test]
    fn a_flag_replaces_the_file_server_of_its_name() {
        let spec = |name: &str, command: &str| McpSpec {
            name: name.into(),
            command: command.into(),
            args: Vec::new(),
            env: vec![("TOKEN".into(), "secret-value".into())],
        };
        let mut s = ToolSettings {
            mcp: vec![spec("files", "from-flag")],
            ..ToolSettings::default()
        };
        s.declare_servers([spec("git", "uvx"), spec("files", "from-file")]);
        let names: Vec<(&str, &str)> = s
            .mcp
            .iter()
            .map(|m| (m.name.as_str(), m.command.as_str()))
            .collect();
        assert_eq!(names, [("git", "uvx"), ("files", "from-flag")]);
        assert!(s.enabled);
        assert!(!format!("{s:?}").contains("secret-value"));
        let mut none = ToolSettings::default();
        none.declare_servers([]);
        assert!(!none.enabled);
    }

    #[tokio::test]
    async fn unknown_tools_and_the_clock() {
        let settings = ToolSettings {
            enabled: true,
            builtins: vec!["now".into()],
            ..ToolSettings::default()
        };
        let mut b = Toolbox::new(settings).unwrap();
        assert_eq!(b.offered().len(), 1);
        let call = |name: &str| ToolCall {
            id: None,
            name: name.into(),
            arguments: json!({}),
        };
        assert!(b.run(&call("now")).await.unwrap().contains('T'));
        assert!(matches!(
            b.run(&call("read_file")).await,
            Err(ToolError::Refused(_))
        ));
        b.set_enabled(false);
        assert!(b.offered().is_empty());
    }

    #[test]
    fn the_model_turns_tools_off_and_back_on_but_not_over_the_person() {
        let settings = ToolSettings {
            enabled: true,
            builtins: vec!["now".into()],
            ..ToolSettings::default()
        };
        let mut b = Toolbox::new(settings).unwrap();
        assert_eq!(b.follow_model(true), None);
        assert_eq!(b.follow_model(false), Some(false));
        assert!(b.offered().is_empty());
        assert_eq!(b.follow_model(false), None);
        assert_eq!(b.follow_model(true), Some(true));
        assert_eq!(b.offered().len(), 1);
        // Turned off by the person: a capable model does not turn them on.
        b.set_enabled(false);
        assert_eq!(b.follow_model(true), None);
        assert!(!b.enabled());
        // Turned on by the person after a model turned them off: theirs to keep.
        b.set_enabled(true);
        b.follow_model(false);
        b.set_enabled(true);
        assert_eq!(b.follow_model(true), None);
        assert!(b.enabled());
    }
}
