//! The command line as the user types it (clap). No I/O here; `config` turns it into a `Config`.

use std::path::PathBuf;

use clap::{ArgGroup, Args, Parser, Subcommand};

use crate::backend::Api;
use crate::render::markdown::Theme;
use crate::term::ColorChoice;

/// A fast, careful terminal chat client for Ollama.
///
/// With a terminal on stdin it opens a chat (type /? for help). With `-p` or piped input it answers
/// once on stdout and exits, so it fits in pipes and scripts.
#[derive(Debug, Parser)]
#[command(name = "ollama-chat", version, about, max_term_width = 100)]
pub struct Cli {
    /// A command other than chatting; without one, chat.
    #[command(subcommand)]
    pub command: Option<Command>,

    /// Model to chat with [env: OLLAMA_CHAT_MODEL]; if unset and only one model is installed, that one.
    #[arg(short, long)]
    pub model: Option<String>,

    /// Ask this and print the answer (one-shot). Piped stdin is appended to it as one message.
    #[arg(short, long, value_name = "TEXT")]
    pub prompt: Option<String>,

    /// System prompt for the conversation.
    #[arg(short, long, value_name = "TEXT")]
    pub system: Option<String>,

    /// Model option, e.g. `-o temperature=0.3 -o num_ctx=8192`; repeat `stop=…` for several stop words.
    #[arg(short = 'o', long = "option", value_name = "KEY=VALUE")]
    pub options: Vec<String>,

    /// Ollama server, in OLLAMA_HOST syntax (`host:port`, `https://host/path`) [env: OLLAMA_HOST].
    #[arg(long, value_name = "HOST", global = true)]
    pub host: Option<String>,

    /// Which API the server speaks: `ollama`; `openai` for any OpenAI-compatible server (vLLM,
    /// llama.cpp, a gateway, OpenAI itself, Ollama's /v1); or `anthropic` for the Messages API
    /// (Anthropic, Ollama's /v1/messages) [env: OLLAMA_CHAT_API] [default: ollama].
    #[arg(long, value_name = "API", global = true)]
    pub api: Option<Api>,

    /// With --api openai: the server's base URL [env: OPENAI_BASE_URL]
    /// [default: https://api.openai.com/v1]; the key comes from OPENAI_API_KEY or a .env file.
    /// With --api anthropic: the server's root, without /v1 [env: ANTHROPIC_BASE_URL]
    /// [default: https://api.anthropic.com]; the key comes from ANTHROPIC_API_KEY or a .env file.
    #[arg(long, value_name = "URL", global = true)]
    pub base_url: Option<String>,

    /// Ask a thinking model to think first: `true`, `false`, or an effort level (`low`, `medium`,
    /// `high`, `max`).
    #[arg(long, value_name = "WHEN", num_args = 0..=1, default_missing_value = "true")]
    pub think: Option<String>,

    /// Ask for output in a format: `json`, or a JSON schema.
    #[arg(long, value_name = "FORMAT")]
    pub format: Option<String>,

    /// How long the model stays loaded after the reply (e.g. `5m`, `1h`, `0` to unload).
    #[arg(long, value_name = "DURATION")]
    pub keep_alive: Option<String>,

    /// Append every turn to this JSON-lines file [default: $XDG_STATE_HOME/ollama-chat/turns.jsonl].
    #[arg(long, value_name = "PATH", conflicts_with = "no_log")]
    pub log: Option<PathBuf>,

    /// Do not write the turn log.
    #[arg(long)]
    pub no_log: bool,

    /// What text the turn log keeps: `full`, `redact` (masks e-mail addresses, keys and tokens, card
    /// and phone numbers) or `none` (metadata only) [env: OLLAMA_CHAT_LOG_CONTENT] [default: full].
    /// The session file is not affected: add --no-session to keep no conversation text at all.
    #[arg(long, value_name = "WHAT")]
    pub log_content: Option<String>,

    /// Rotate the turn log before it grows past this size (`50MiB`, `500KB`, `0` never) [default: 50MiB].
    #[arg(long, value_name = "SIZE")]
    pub log_max_size: Option<String>,

    /// How many rotated turn logs (`turns.jsonl.1` … `.N`) to keep.
    #[arg(long, value_name = "N", default_value_t = 5, value_parser = clap::value_parser!(u32).range(1..=1000))]
    pub log_keep: u32,

    /// Resume the most recently used session (its history, model and options).
    #[arg(short = 'c', long = "continue", conflicts_with_all = ["session", "no_session"])]
    pub continue_last: bool,

    /// Resume this session (a file, or an id or name from `ollama-chat sessions`); a path that does
    /// not exist yet starts a new session saved there.
    #[arg(long, value_name = "FILE", conflicts_with = "no_session")]
    pub session: Option<String>,

    /// Do not save this chat as a session.
    #[arg(long)]
    pub no_session: bool,

    /// Branch a saved session: a new session with its history up to TURN (default: all of it),
    /// which this chat continues; the old one stays as it was. `sessions search` shows ID:TURN.
    #[arg(long, value_name = "SESSION[:TURN]", conflicts_with_all = ["session", "no_session", "continue_last"])]
    pub fork: Option<String>,

    /// After each reply, print statistics on stderr like `ollama run --verbose`, plus time to
    /// first token and the total latency measured here.
    #[arg(long)]
    pub verbose: bool,

    /// After each reply, print the same statistics as one JSON object on stderr (for scripts).
    #[arg(long)]
    pub stats_json: bool,

    /// Give up on a reply after this many seconds without progress once it has begun (text,
    /// thinking or its end; keep-alives do not count).
    #[arg(long, value_name = "SECS", default_value_t = 60)]
    pub timeout: u64,

    /// Give up on a reply when nothing of it has come this many seconds after it was asked for:
    /// the wait for a model to load from disk (also the longest silence of a pull or create).
    #[arg(long, value_name = "SECS", default_value_t = 300)]
    pub load_timeout: u64,

    /// The longest line (or server-sent event) a reply may send before it is stopped (`16MiB`,
    /// `64M`, `1G`): far beyond any real one, small enough that a server that never ends a line
    /// cannot fill the memory [default: 16MiB].
    #[arg(long, value_name = "SIZE")]
    pub max_line: Option<String>,

    /// What to do when the conversation outgrows the model's context window: drop the oldest
    /// exchanges, have the model summarise them, or refuse to send.
    #[arg(long, value_name = "STRATEGY", value_parser = ["truncate", "summarize", "fail"], default_value = "truncate")]
    pub context_strategy: String,

    /// Send a message even when it alone is larger than the context window (Ollama then cuts it).
    #[arg(long)]
    pub allow_overflow: bool,

    /// Show replies as the model wrote them: no markdown rendering on a terminal (a pipe always
    /// gets the model's bytes) [env: OLLAMA_CHAT_MARKDOWN=off].
    #[arg(long)]
    pub raw: bool,

    /// In the REPL, do not ask the server to load the model while you type the first message.
    #[arg(long)]
    pub no_preload: bool,

    /// Colours of code blocks in replies: `ansi` (the terminal's own palette, so they read on
    /// dark and light backgrounds), `dark` or `light` (exact 24-bit colours for that background)
    /// [env: OLLAMA_CHAT_THEME] [default: ansi].
    #[arg(long, value_name = "THEME", value_enum, hide_possible_values = true)]
    pub theme: Option<Theme>,

    /// When to use colour: `auto` (on terminals, unless NO_COLOR is set; CLICOLOR_FORCE forces it
    /// in pipes too), `always` or `never`; the flag wins over both variables.
    #[arg(long, value_name = "WHEN", value_enum, default_value_t = ColorChoice::Auto, global = true)]
    pub color: ColorChoice,

    /// Attach an image to the message (PNG, JPEG, WebP or GIF, told by its bytes); repeat for
    /// several. The model must be able to see (a vision model).
    #[arg(long = "image", value_name = "PATH")]
    pub images: Vec<PathBuf>,

    /// Put a text file into the message as a fenced block headed by its name; repeat for
    /// several, in order; `-` reads stdin.
    #[arg(short = 'f', long = "file", value_name = "PATH")]
    pub files: Vec<String>,

    /// The largest file --image, -f, /image, /file or a path typed in a message may attach
    /// (`20MB`, `5MiB`) [default: 20MB].
    #[arg(long, value_name = "SIZE")]
    pub max_attachment_size: Option<String>,

    /// Diagnostics on stderr (`-v` info, `-vv` debug); RUST_LOG works too.
    #[arg(short = 'v', long = "debug", action = clap::ArgAction::Count, global = true)]
    pub debug: u8,

    // The config file and what it adds (`config_file`): every flag above is also a config key.
    /// Read settings from this file [env: OLLAMA_CHAT_CONFIG]
    /// [default: $XDG_CONFIG_HOME/ollama-chat/config.toml].
    #[arg(long, value_name = "PATH", global = true)]
    pub config: Option<PathBuf>,

    /// Start with a saved role: a `[roles.NAME]` table of the config file, or
    /// `$XDG_CONFIG_HOME/ollama-chat/roles/NAME.toml` (or `.md`, a system prompt).
    #[arg(long, value_name = "NAME")]
    pub role: Option<String>,

    /// Read the system prompt from this file.
    #[arg(long, value_name = "PATH", conflicts_with = "system")]
    pub system_file: Option<PathBuf>,

    /// After answering (`-p` and/or piped stdin), chat on at the terminal with that exchange in
    /// the history, as `python -i`: `cat report.txt | ollama-chat -i -p "Summarise this"`.
    #[arg(short = 'i', long, conflicts_with = "no_session")]
    pub interactive: bool,

    /// Ask for thinking but do not show it (it is still saved in the session and the turn log),
    /// as `ollama run --hidethinking`; `/set hidethinking` and `/set nohidethinking` in the chat.
    #[arg(long)]
    pub hidethinking: bool,

    /// Send this header with every request, e.g. `--header 'X-Proxy-Token: …'` for a server behind
    /// a reverse proxy (repeat for several; never shown or logged) [env: OLLAMA_CHAT_HEADERS,
    /// `Name: value` entries separated by newlines or commas].
    #[arg(long = "header", value_name = "NAME: VALUE")]
    pub headers: Vec<String>,

    /// Line-editing keys in the chat: `emacs` (the default) or `vi` (`/set vi`, `/set emacs`).
    #[arg(long, value_name = "KEYS", value_enum, default_value_t = Keys::Emacs)]
    pub keys: Keys,

    #[command(flatten)]
    pub tools: ToolFlags,
}

/// The line editor's key bindings.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum Keys {
    #[default]
    Emacs,
    Vi,
}

/// The tool flags: which functions the model may call, and what runs without asking.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct ToolFlags {
    /// Let the model call these built-in tools (comma-separated): read_file, list_dir,
    /// search_text, fetch_url, now, run_command; `default` is all but run_command.
    #[arg(long, value_name = "NAMES", help_heading = "Tools")]
    pub tools: Option<String>,

    /// A folder the file tools may read besides the working directory (repeatable).
    #[arg(long, value_name = "DIR", help_heading = "Tools")]
    pub tool_root: Vec<std::path::PathBuf>,

    /// Run this tool without asking (repeatable; `server.tool` for an MCP tool). run_command
    /// always asks.
    #[arg(long, value_name = "NAME", help_heading = "Tools")]
    pub allow_tool: Vec<String>,

    /// Stop after this many replies with tool calls for one message.
    #[arg(long, value_name = "N", default_value_t = 10, help_heading = "Tools")]
    pub max_tool_steps: u32,

    /// Stop a tool call after this many seconds.
    #[arg(
        long,
        value_name = "SECS",
        default_value_t = 30,
        help_heading = "Tools"
    )]
    pub tool_timeout: u64,

    /// An MCP server on stdio whose tools the model may call as `NAME.tool`, given as
    /// `NAME=COMMAND ARGS` (repeatable; started when first needed; no environment variable but
    /// PATH). The config file declares servers as `[mcp.NAME]` tables with `command`, `args`
    /// and `env`; an `--mcp` of the same name replaces the file's.
    #[arg(long, value_name = "NAME=COMMAND", help_heading = "Tools")]
    pub mcp: Vec<String>,
}

/// Commands besides chatting. Each lives in its own module and is dispatched from `lib::run`.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// List saved sessions, or show, delete or export one.
    Sessions {
        #[command(subcommand)]
        action: Option<SessionsAction>,
    },
    /// Show a saved session as it happened (no server needed), or re-run it against a model.
    Replay(ReplayArgs),
    /// List installed models: size, family, parameters, quantisation, when modified.
    #[command(visible_alias = "list")]
    Models(ListArgs),
    /// List models loaded in memory: size, CPU/GPU share, context window, when they unload.
    Ps(ListArgs),
    /// Show a model's details, or one part of it.
    Show(ShowArgs),
    /// Download a model from the registry, with progress.
    Pull(PullArgs),
    /// Create a model from a Modelfile (parsed here; a local GGUF is uploaded first).
    Create(CreateArgs),
    /// Copy a model under a new name.
    Cp(CopyArgs),
    /// Delete models (asks first on a terminal).
    Rm(RemoveArgs),
    /// Show recent turns from the turn log as a table (or JSON lines), optionally following it.
    Logs(LogsArgs),
    /// Turns, sessions, error and cancel rates, tokens, and latency, TTFT and tokens/second
    /// percentiles from the turn log, overall or by model, day or session.
    Stats(StatsArgs),
    /// Write an example config file, or show the settings in force and where each came from.
    Config {
        #[command(subcommand)]
        action: ConfigAction,
    },
    /// Print a shell completion script (see the README for where to put it).
    Completions {
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// Print the manual page (roff) on stdout: `ollama-chat man | man -l -`.
    Man,
    /// Names for the completion scripts, one a line (models, sessions, roles).
    #[command(name = "__complete", hide = true)]
    Complete {
        #[arg(value_enum)]
        what: CompleteWhat,
    },
    /// Embedding vectors for texts (the arguments, else one per line of stdin), as JSON or NDJSON.
    Embed(EmbedArgs),
}

impl Command {
    /// Whether it may talk to a server, and so may need the API key: a key command is not run
    /// for one that never does (listing sessions should not ask a password manager).
    pub fn talks_to_server(&self) -> bool {
        match self {
            Command::Sessions { .. }
            | Command::Logs(_)
            | Command::Stats(_)
            | Command::Config { .. }
            | Command::Completions { .. }
            | Command::Man => false,
            Command::Replay(r) => r.rerun,
            Command::Complete { what } => *what == CompleteWhat::Models,
            Command::Models(_)
            | Command::Ps(_)
            | Command::Show(_)
            | Command::Pull(_)
            | Command::Create(_)
            | Command::Cp(_)
            | Command::Rm(_)
            | Command::Embed(_) => true,
        }
    }
}

/// What `__complete` lists.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum CompleteWhat {
    Models,
    Sessions,
    Roles,
}

/// `ollama-chat config …`.
#[derive(Debug, Subcommand)]
pub enum ConfigAction {
    /// Write a commented example config file (refuses to replace one).
    Init {
        /// Replace an existing file.
        #[arg(long)]
        force: bool,
    },
    /// Print the settings in force and where each came from (flag, environment, file, default).
    Show,
    /// Print where the config file is looked for.
    Path,
}

/// Which turns `logs` and `stats` read. Times are local unless they carry a zone.
#[derive(Debug, Clone, clap::Args)]
pub struct SelectArgs {
    /// Log files to read (rotated ones and logs from other machines too) [default: the turn log and
    /// its rotated files].
    #[arg(value_name = "FILE")]
    pub files: Vec<PathBuf>,

    /// Only this session (a prefix of its id is enough).
    #[arg(long, value_name = "ID")]
    pub session: Option<String>,

    /// Only this model; without a `:tag`, any tag of it.
    #[arg(long = "model", value_name = "NAME")]
    pub model: Option<String>,

    /// Only turns from this time on: `2026-11-29`, `2026-11-29T08:00`, RFC 3339, or an age (`1h`, `7d`).
    #[arg(long, value_name = "TIME")]
    pub since: Option<String>,

    /// Only turns before this time (same forms as --since).
    #[arg(long, value_name = "TIME")]
    pub until: Option<String>,

    /// Only turns that ended so: `ok`, `error`, `cancelled` (repeat or separate with commas).
    #[arg(long, value_name = "STATUS", value_delimiter = ',')]
    pub status: Vec<String>,

    /// Only turns whose question, answer, thinking or error contains TEXT (any case).
    #[arg(long, value_name = "TEXT")]
    pub grep: Option<String>,
}

/// `ollama-chat logs`.
#[derive(Debug, Clone, clap::Args)]
pub struct LogsArgs {
    #[command(flatten)]
    pub select: SelectArgs,

    /// How many of the most recent matching turns to show [default: 20; with --json, all].
    #[arg(short = 'n', long, value_name = "N")]
    pub limit: Option<usize>,

    /// Print the matching records as JSON lines, exactly as logged.
    #[arg(long)]
    pub json: bool,

    /// Keep printing turns as they are logged (Ctrl-C to stop); follows rotation.
    #[arg(short = 'f', long)]
    pub follow: bool,
}

/// `ollama-chat stats`.
#[derive(Debug, Clone, clap::Args)]
pub struct StatsArgs {
    #[command(flatten)]
    pub select: SelectArgs,

    /// Also split the figures by `model`, `day` (local) or `session`.
    #[arg(long, value_name = "WHAT")]
    pub by: Option<String>,

    /// Print one JSON object instead of tables.
    #[arg(long)]
    pub json: bool,
}

/// `ollama-chat sessions …`; without an action, the list.
#[derive(Debug, Subcommand)]
pub enum SessionsAction {
    /// List saved sessions, most recent first.
    List,
    /// Show one session: its settings and every turn.
    Show {
        /// An id (or its first characters), a name from /save, or a file.
        id: String,
    },
    /// Delete one session file.
    Rm {
        id: String,
        /// Do not ask.
        #[arg(short, long)]
        yes: bool,
    },
    /// Print one session as Markdown, or as a `POST /api/chat` body (`curl -d @file`).
    Export {
        id: String,
        #[arg(long, value_enum, default_value_t = ExportFormat::Markdown)]
        format: ExportFormat,
    },
    /// Search every saved session's messages, best match first.
    Search(SearchArgs),
    /// Show a session's family of branches (`/fork`, `--fork`) as a tree.
    Tree {
        /// An id (or its first characters), a name from /save, or a file.
        id: String,
    },
    /// Build the search index again from the session files (it also keeps up by itself).
    Reindex,
}

/// `ollama-chat sessions search QUERY…`.
#[derive(Debug, Clone, clap::Args)]
pub struct SearchArgs {
    /// Words that must all appear, a "phrase" (quoted for the shell too: '"a phrase"', or one
    /// argument with spaces) or a prefix*. Chinese and other scripts without spaces work.
    #[arg(required = true, value_name = "QUERY")]
    pub query: Vec<String>,

    /// Only messages to this model; without a `:tag`, any tag of it.
    #[arg(long = "model", value_name = "NAME")]
    pub model: Option<String>,

    /// Only messages from this time on: `2026-11-29`, `2026-11-29T08:00`, RFC 3339, or an age (`1h`, `7d`).
    #[arg(long, value_name = "TIME")]
    pub since: Option<String>,

    /// Only these roles: `user`, `assistant`, `system`, `thinking` (repeat or separate with
    /// commas) [default: user, assistant and system].
    #[arg(long, value_name = "ROLE", value_delimiter = ',')]
    pub role: Vec<String>,

    /// How many hits to show.
    #[arg(short = 'n', long, value_name = "N", default_value_t = 20)]
    pub limit: usize,

    /// Print one JSON object per hit.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ExportFormat {
    Markdown,
    Json,
}

/// `ollama-chat replay FILE [--speed X] [--rerun …]`.
#[derive(Debug, clap::Args)]
pub struct ReplayArgs {
    /// A session file, id or name; `-` (or nothing, with a pipe on stdin) reads stdin.
    pub file: Option<String>,

    /// Replay at this multiple of the recorded pace (1 = as it happened); default: all at once.
    #[arg(long, value_name = "X")]
    pub speed: Option<f64>,

    /// Send every recorded user turn again to the server and compare the new replies to the old.
    #[arg(long)]
    pub rerun: bool,

    /// With --rerun: the model to ask instead of the recorded one.
    #[arg(short, long, requires = "rerun")]
    pub model: Option<String>,

    /// With --rerun: a model option to change, e.g. `--option temperature=0`.
    #[arg(
        short = 'o',
        long = "option",
        value_name = "KEY=VALUE",
        requires = "rerun"
    )]
    pub options: Vec<String>,
}

#[derive(Debug, Args)]
pub struct ListArgs {
    /// One JSON array on stdout, for scripts.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
#[command(group(ArgGroup::new("part").args(["modelfile", "parameters", "template", "system", "license", "json"])))]
pub struct ShowArgs {
    /// The model, e.g. `llama3.2`.
    pub model: String,
    /// Print the Modelfile the server would rebuild the model from.
    #[arg(long)]
    pub modelfile: bool,
    /// Print the parameters only.
    #[arg(long)]
    pub parameters: bool,
    /// Print the prompt template only.
    #[arg(long)]
    pub template: bool,
    /// Print the system prompt only.
    #[arg(long)]
    pub system: bool,
    /// Print the license only.
    #[arg(long)]
    pub license: bool,
    /// The server's whole answer as JSON (without the tensor list).
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct EmbedArgs {
    /// The texts; without any, each non-empty line of stdin is one.
    #[arg(value_name = "TEXT")]
    pub texts: Vec<String>,
    /// The embedding model [default: OLLAMA_CHAT_MODEL].
    #[arg(short = 'm', long)]
    pub model: Option<String>,
    /// Shorten each vector to this many dimensions (models trained for it, e.g. nomic-embed).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
    pub dimensions: Option<u32>,
    /// One JSON object per line, `{"index": i, "embedding": [...]}`, instead of one JSON document.
    #[arg(long)]
    pub ndjson: bool,
    /// Texts per request: a large input is sent in batches of this many.
    #[arg(long, value_name = "N", default_value_t = 64, value_parser = clap::value_parser!(u32).range(1..))]
    pub batch: u32,
}

#[derive(Debug, Args)]
pub struct PullArgs {
    /// The model, e.g. `llama3.2` or `qwen3:8b`.
    pub model: String,
}

#[derive(Debug, Args)]
pub struct CreateArgs {
    /// Name of the new model.
    pub name: String,
    /// The Modelfile to build from.
    #[arg(
        short = 'f',
        long = "file",
        value_name = "FILE",
        default_value = "Modelfile"
    )]
    pub file: PathBuf,
}

#[derive(Debug, Args)]
pub struct CopyArgs {
    /// An installed model.
    pub source: String,
    /// The new name.
    pub destination: String,
}

#[derive(Debug, Args)]
pub struct RemoveArgs {
    /// Installed models to delete (all names are checked before any is deleted).
    #[arg(required = true, value_name = "MODEL")]
    pub models: Vec<String>,
    /// Do not ask; needed when stdin is not a terminal.
    #[arg(short, long)]
    pub yes: bool,
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn cli_definition_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn think_without_value_means_true() {
        let c = Cli::try_parse_from(["ollama-chat", "--think"]).unwrap();
        assert_eq!(c.think.as_deref(), Some("true"));
        let c = Cli::try_parse_from(["ollama-chat", "--think=high"]).unwrap();
        assert_eq!(c.think.as_deref(), Some("high"));
    }

    #[test]
    fn log_and_no_log_conflict() {
        assert!(Cli::try_parse_from(["ollama-chat", "--log", "x", "--no-log"]).is_err());
    }

    #[test]
    fn session_flags() {
        let c = Cli::try_parse_from(["ollama-chat", "-c"]).unwrap();
        assert!(c.continue_last);
        assert!(Cli::try_parse_from(["ollama-chat", "-c", "--session", "x"]).is_err());
        assert!(Cli::try_parse_from(["ollama-chat", "--no-session", "--session", "x"]).is_err());
        let c = Cli::try_parse_from(["ollama-chat", "replay", "f", "--rerun", "-m", "x"]).unwrap();
        assert!(matches!(
            c.command,
            Some(Command::Replay(ReplayArgs { rerun: true, .. }))
        ));
        assert!(Cli::try_parse_from(["ollama-chat", "replay", "f", "-m", "x"]).is_err());
        let c = Cli::try_parse_from([
            "ollama-chat",
            "sessions",
            "export",
            "ab",
            "--format",
            "json",
        ]);
        assert!(c.is_ok());
    }

    #[test]
    fn api_and_base_url() {
        let c = Cli::try_parse_from([
            "ollama-chat",
            "--api",
            "openai",
            "--base-url",
            "http://x/v1",
        ])
        .unwrap();
        assert_eq!(c.api, Some(Api::OpenAi));
        assert_eq!(c.base_url.as_deref(), Some("http://x/v1"));
        let c = Cli::try_parse_from(["ollama-chat", "--api", "anthropic"]).unwrap();
        assert_eq!(c.api, Some(Api::Anthropic));
        assert!(Cli::try_parse_from(["ollama-chat", "--api", "gemini"]).is_err());
    }

    #[test]
    fn model_commands() {
        let c = Cli::try_parse_from(["ollama-chat", "list", "--json"]).unwrap();
        assert!(matches!(
            c.command,
            Some(Command::Models(ListArgs { json: true }))
        ));
        let c = Cli::try_parse_from(["ollama-chat", "create", "t", "-f", "M"]).unwrap();
        assert!(
            matches!(c.command, Some(Command::Create(CreateArgs { ref file, .. })) if file.to_str() == Some("M"))
        );
        let c = Cli::try_parse_from(["ollama-chat", "rm", "a", "b", "-y"]).unwrap();
        assert!(
            matches!(c.command, Some(Command::Rm(RemoveArgs { ref models, yes: true })) if models.len() == 2)
        );
        assert!(Cli::try_parse_from(["ollama-chat", "rm"]).is_err());
        assert!(
            Cli::try_parse_from(["ollama-chat", "show", "m", "--system", "--license"]).is_err()
        );
        let c = Cli::try_parse_from(["ollama-chat", "--host", "h:1", "ps"]).unwrap();
        assert_eq!(c.host.as_deref(), Some("h:1"));
    }

    #[test]
    fn logs_and_stats_arguments() {
        let c = Cli::try_parse_from([
            "ollama-chat",
            "logs",
            "a.jsonl",
            "b.jsonl",
            "--model",
            "qwen3",
            "--status",
            "error,cancelled",
            "-n",
            "5",
            "--json",
            "-f",
        ])
        .unwrap();
        let Some(Command::Logs(a)) = c.command else {
            panic!("not logs")
        };
        assert_eq!(a.select.files.len(), 2);
        assert_eq!(a.select.model.as_deref(), Some("qwen3"));
        assert_eq!(a.select.status, vec!["error", "cancelled"]);
        assert_eq!(a.limit, Some(5));
        assert!(a.json && a.follow);
        let c =
            Cli::try_parse_from(["ollama-chat", "stats", "--by", "day", "--since", "7d"]).unwrap();
        let Some(Command::Stats(s)) = c.command else {
            panic!("not stats")
        };
        assert_eq!(s.by.as_deref(), Some("day"));
        assert_eq!(s.select.since.as_deref(), Some("7d"));
    }

    #[test]
    fn options_repeat() {
        let c = Cli::try_parse_from(["ollama-chat", "-o", "stop=a", "--option", "stop=b"]).unwrap();
        assert_eq!(c.options, vec!["stop=a", "stop=b"]);
    }

    #[test]
    fn attachments_repeat_in_order() {
        let c = Cli::try_parse_from([
            "ollama-chat",
            "--image",
            "a.png",
            "-f",
            "x.rs",
            "--image",
            "b.jpg",
            "--file",
            "-",
        ])
        .unwrap();
        assert_eq!(c.images, [PathBuf::from("a.png"), PathBuf::from("b.jpg")]);
        assert_eq!(c.files, ["x.rs", "-"]);
    }

    #[test]
    fn context_strategy_choices() {
        let c = Cli::try_parse_from(["ollama-chat"]).unwrap();
        assert_eq!(c.context_strategy, "truncate");
        assert!(!c.allow_overflow);
        let c = Cli::try_parse_from([
            "ollama-chat",
            "--context-strategy",
            "summarize",
            "--allow-overflow",
        ])
        .unwrap();
        assert_eq!(c.context_strategy, "summarize");
        assert!(c.allow_overflow);
        assert!(Cli::try_parse_from(["ollama-chat", "--context-strategy", "drop"]).is_err());
    }
}
