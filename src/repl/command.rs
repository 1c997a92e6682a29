//! Slash commands: ONE table (name, aliases, arguments, help, sub-commands) that drives parsing,
//! `/help` and tab completion, and the pure parser from a typed line to a `SlashCommand`.

use super::args::{
    no_args, parse_copy, parse_help, parse_load, parse_log, parse_model, parse_set, parse_show,
};
use crate::context::Strategy;
use crate::conversation::Think;
use crate::log::pause::LogSwitch;
use crate::suggest::nearest;

/// A command the REPL understands, with its arguments checked.
#[derive(Debug, Clone, PartialEq)]
pub enum SlashCommand {
    Help(HelpTopic),
    Bye,
    Clear,
    Show(ShowWhat),
    Set(Setting),
    /// Switch model; `clear` empties the conversation too.
    Load {
        model: String,
        clear: bool,
    },
    /// Show the model, or switch to another one (keeping the conversation).
    Model(Option<String>),
    Models,
    Retry,
    Undo,
    Edit,
    /// Copy the last reply, or its N-th fenced code block (1-based).
    Copy(Option<usize>),
    Context,
    Stats,
    /// `/save NAME`: names the session (the text after the command).
    Save(String),
    /// `/session [load NAME|ID]` (the text after the command).
    Session(String),
    /// `/log [on|off]`: pause or resume the turn log, or say where it goes.
    Log(LogSwitch),
}

/// What `/help` explains.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HelpTopic {
    All,
    Shortcuts,
    /// One command, by its table name.
    Command(&'static str),
}

/// What `/show` prints.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ShowWhat {
    Info,
    Parameters,
    System,
    Template,
    Modelfile,
    License,
}

/// A `/set` change.
#[derive(Debug, Clone, PartialEq)]
pub enum Setting {
    /// `/set parameter` alone: list the names and their types.
    ListParameters,
    /// One option and its value(s); several only for `stop`.
    Parameter {
        name: String,
        values: Vec<String>,
    },
    System(String),
    Verbose(bool),
    /// `json`, a JSON schema object, or `None` for `/set noformat`.
    Format(Option<serde_json::Value>),
    Think(Think),
    WordWrap(bool),
    History(bool),
    /// What happens when the history outgrows the context window.
    Context(Strategy),
}

/// Why a line starting with `/` is not a valid command; the message says what would be.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ParseError {
    #[error("unknown command '{name}'{}. Type /? for help", did_you_mean(*.suggestion))]
    Unknown {
        name: String,
        suggestion: Option<&'static str>,
    },
    #[error("{command}: unknown argument '{arg}'{}. Usage: {usage}", did_you_mean(*.suggestion))]
    UnknownArgument {
        command: &'static str,
        arg: String,
        suggestion: Option<&'static str>,
        usage: String,
    },
    #[error("{command}: missing {what}. Usage: {usage}")]
    Missing {
        command: &'static str,
        what: &'static str,
        usage: String,
    },
    #[error("{command}: unexpected '{arg}'. Usage: {usage}")]
    Unexpected {
        command: &'static str,
        arg: String,
        usage: String,
    },
    #[error("{command}: {problem}. Usage: {usage}")]
    Invalid {
        command: &'static str,
        problem: String,
        usage: String,
    },
}

fn did_you_mean(s: Option<&str>) -> String {
    s.map(|s| format!(" (did you mean {s}?)"))
        .unwrap_or_default()
}

/// One row of the command table.
pub struct Spec {
    pub name: &'static str,
    pub aliases: &'static [&'static str],
    /// Argument syntax as shown in help, e.g. `MODEL [--clear]`.
    pub args: &'static str,
    pub help: &'static str,
    pub subs: &'static [Sub],
    /// What completes the argument after the command (or after a sub-command).
    pub completes: Completes,
    parse: fn(&Spec, &str) -> Result<SlashCommand, ParseError>,
}

/// A sub-command (`/show info`, `/set verbose`).
pub struct Sub {
    pub name: &'static str,
    pub args: &'static str,
    pub help: &'static str,
}

/// Which values tab completion offers for a command's argument.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Completes {
    Nothing,
    Subs,
    Models,
    Commands,
}

impl Spec {
    pub fn usage(&self) -> String {
        if self.args.is_empty() {
            self.name.to_string()
        } else {
            format!("{} {}", self.name, self.args)
        }
    }

    pub(super) fn sub(&self, word: &str) -> Result<&'static Sub, ParseError> {
        self.subs
            .iter()
            .find(|s| s.name.eq_ignore_ascii_case(word))
            .ok_or_else(|| ParseError::UnknownArgument {
                command: self.name,
                arg: word.to_string(),
                suggestion: nearest(word, self.subs.iter().map(|s| s.name)),
                usage: self.usage(),
            })
    }

    pub(super) fn missing(&self, what: &'static str) -> ParseError {
        ParseError::Missing {
            command: self.name,
            what,
            usage: self.usage(),
        }
    }

    pub(super) fn unexpected(&self, arg: &str) -> ParseError {
        ParseError::Unexpected {
            command: self.name,
            arg: arg.to_string(),
            usage: self.usage(),
        }
    }

    pub(super) fn invalid(&self, problem: impl Into<String>) -> ParseError {
        ParseError::Invalid {
            command: self.name,
            problem: problem.into(),
            usage: self.usage(),
        }
    }
}

const SHOW_SUBS: &[Sub] = &[
    Sub {
        name: "info",
        args: "",
        help: "Family, size, quantisation, context length, capabilities",
    },
    Sub {
        name: "parameters",
        args: "",
        help: "The model's parameters and the ones set in this chat",
    },
    Sub {
        name: "system",
        args: "",
        help: "The system prompt in use",
    },
    Sub {
        name: "template",
        args: "",
        help: "The prompt template",
    },
    Sub {
        name: "modelfile",
        args: "",
        help: "The Modelfile",
    },
    Sub {
        name: "license",
        args: "",
        help: "The license",
    },
];

const SET_SUBS: &[Sub] = &[
    Sub {
        name: "parameter",
        args: "NAME VALUE…",
        help: "Set a model option (several values only for stop)",
    },
    Sub {
        name: "system",
        args: "TEXT",
        help: "Replace the system prompt",
    },
    Sub {
        name: "verbose",
        args: "",
        help: "Show statistics after each reply",
    },
    Sub {
        name: "quiet",
        args: "",
        help: "Stop showing statistics",
    },
    Sub {
        name: "format",
        args: "json|SCHEMA",
        help: "Ask for JSON output",
    },
    Sub {
        name: "noformat",
        args: "",
        help: "Free-form output again",
    },
    Sub {
        name: "think",
        args: "[low|medium|high]",
        help: "Ask the model to think first",
    },
    Sub {
        name: "nothink",
        args: "",
        help: "Ask the model not to think",
    },
    Sub {
        name: "wordwrap",
        args: "",
        help: "Wrap replies at the terminal width",
    },
    Sub {
        name: "nowordwrap",
        args: "",
        help: "Do not wrap replies",
    },
    Sub {
        name: "context",
        args: "truncate|summarize|fail",
        help: "What to do when the history outgrows the context window",
    },
    Sub {
        name: "history",
        args: "",
        help: "Remember what you type (Up-arrow, history file)",
    },
    Sub {
        name: "nohistory",
        args: "",
        help: "Stop remembering what you type",
    },
];

const LOG_SUBS: &[Sub] = &[
    Sub {
        name: "off",
        args: "",
        help: "Stop writing the next turns to the turn log (a saved session still keeps them)",
    },
    Sub {
        name: "on",
        args: "",
        help: "Write turns to the turn log again",
    },
];

/// Every command, in the order `/help` lists them.
pub const COMMANDS: &[Spec] = &[
    Spec {
        name: "/help",
        aliases: &["/?"],
        args: "[COMMAND|shortcuts]",
        help: "Show this help, a command's details, or the keys",
        subs: &[],
        completes: Completes::Commands,
        parse: parse_help,
    },
    Spec {
        name: "/show",
        aliases: &[],
        args: "WHAT",
        help: "Show what the model is",
        subs: SHOW_SUBS,
        completes: Completes::Subs,
        parse: parse_show,
    },
    Spec {
        name: "/set",
        aliases: &[],
        args: "SETTING [VALUE]",
        help: "Change a setting for this chat",
        subs: SET_SUBS,
        completes: Completes::Subs,
        parse: parse_set,
    },
    Spec {
        name: "/load",
        aliases: &[],
        args: "MODEL [--clear]",
        help: "Switch model, keeping the conversation (--clear empties it)",
        subs: &[],
        completes: Completes::Models,
        parse: parse_load,
    },
    Spec {
        name: "/model",
        aliases: &[],
        args: "[MODEL]",
        help: "Show the model, or switch to MODEL keeping the conversation",
        subs: &[],
        completes: Completes::Models,
        parse: parse_model,
    },
    Spec {
        name: "/models",
        aliases: &[],
        args: "",
        help: "List the installed models",
        subs: &[],
        completes: Completes::Nothing,
        parse: |spec, rest| no_args(spec, rest).map(|()| SlashCommand::Models),
    },
    Spec {
        name: "/retry",
        aliases: &[],
        args: "",
        help: "Regenerate the last reply (it replaces the old one)",
        subs: &[],
        completes: Completes::Nothing,
        parse: |spec, rest| no_args(spec, rest).map(|()| SlashCommand::Retry),
    },
    Spec {
        name: "/undo",
        aliases: &[],
        args: "",
        help: "Remove the last exchange (your message and the reply)",
        subs: &[],
        completes: Completes::Nothing,
        parse: |spec, rest| no_args(spec, rest).map(|()| SlashCommand::Undo),
    },
    Spec {
        name: "/edit",
        aliases: &[],
        args: "",
        help: "Edit your last message in $VISUAL/$EDITOR and send it again",
        subs: &[],
        completes: Completes::Nothing,
        parse: |spec, rest| no_args(spec, rest).map(|()| SlashCommand::Edit),
    },
    Spec {
        name: "/copy",
        aliases: &[],
        args: "[N]",
        help: "Copy the last reply, or its N-th code block, to the clipboard",
        subs: &[],
        completes: Completes::Nothing,
        parse: parse_copy,
    },
    Spec {
        name: "/context",
        aliases: &[],
        args: "",
        help: "The context window: tokens used and left, what was left out, the strategy",
        subs: &[],
        completes: Completes::Nothing,
        parse: |spec, rest| no_args(spec, rest).map(|()| SlashCommand::Context),
    },
    Spec {
        name: "/stats",
        aliases: &[],
        args: "",
        help: "This session's turns, tokens and latency",
        subs: &[],
        completes: Completes::Nothing,
        parse: |spec, rest| no_args(spec, rest).map(|()| SlashCommand::Stats),
    },
    Spec {
        name: "/clear",
        aliases: &[],
        args: "",
        help: "Forget the conversation (the system prompt stays)",
        subs: &[],
        completes: Completes::Nothing,
        parse: |spec, rest| no_args(spec, rest).map(|()| SlashCommand::Clear),
    },
    Spec {
        name: "/save",
        aliases: &[],
        args: "NAME",
        help: "Name this session (unlike `ollama run`'s /save, it creates no model)",
        subs: &[],
        completes: Completes::Nothing,
        parse: |_, rest| Ok(SlashCommand::Save(rest.trim().to_string())),
    },
    Spec {
        name: "/session",
        aliases: &[],
        args: "[load NAME|ID]",
        help: "Where this chat is saved; /session load NAME|ID resumes a saved one",
        subs: &[Sub {
            name: "load",
            args: "NAME|ID",
            help: "Resume a saved session (its history, model and options)",
        }],
        completes: Completes::Subs,
        parse: |_, rest| Ok(SlashCommand::Session(rest.trim().to_string())),
    },
    Spec {
        name: "/log",
        aliases: &[],
        args: "[on|off]",
        help: "Pause or resume the turn log; alone, say whether turns are logged and where",
        subs: LOG_SUBS,
        completes: Completes::Subs,
        parse: parse_log,
    },
    Spec {
        name: "/bye",
        aliases: &["/exit", "/quit"],
        args: "",
        help: "Exit; Ctrl-D does the same",
        subs: &[],
        completes: Completes::Nothing,
        parse: |spec, rest| no_args(spec, rest).map(|()| SlashCommand::Bye),
    },
];

/// The table row for a command name or alias (`/?` → `/help`).
pub fn find(name: &str) -> Option<&'static Spec> {
    COMMANDS
        .iter()
        .find(|s| s.name == name || s.aliases.contains(&name))
}

/// Every name and alias, for suggestions and completion.
pub fn all_names() -> impl Iterator<Item = &'static str> {
    COMMANDS
        .iter()
        .flat_map(|s| std::iter::once(s.name).chain(s.aliases.iter().copied()))
}

/// Parses a typed line. A line that does not start with `/` is a message: `Ok(None)`.
pub fn parse(line: &str) -> Result<Option<SlashCommand>, ParseError> {
    let line = line.trim();
    if !line.starts_with('/') {
        return Ok(None);
    }
    let (name, rest) = match line.split_once(char::is_whitespace) {
        Some((n, r)) => (n, r.trim()),
        None => (line, ""),
    };
    let lower = name.to_ascii_lowercase();
    let spec = find(&lower).ok_or_else(|| ParseError::Unknown {
        name: name.to_string(),
        suggestion: nearest(&lower, all_names()),
    })?;
    (spec.parse)(spec, rest).map(Some)
}

#[cfg(test)]
#[path = "command_tests.rs"]
mod tests;
