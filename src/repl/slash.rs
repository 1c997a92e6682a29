//! What a typed slash command means: the `SlashCommand` it parses into, its arguments' types, the
//! parse errors, and the shape of a row of the command table. Types only, so the table
//! (`command`) and the argument parsers (`args`) both build on them without depending on each
//! other.

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
    /// `/role NAME` uses a saved role; `/role` or `/roles` alone lists them.
    Role(Option<String>),
    /// `/session [load NAME|ID]` (the text after the command).
    Session(String),
    /// `/search QUERY`: search every saved session (the text after the command).
    Search(String),
    /// `/fork [N]`: branch this session at turn N (default: now) and go on in the branch.
    Fork(Option<usize>),
    /// `/log [on|off]`: pause or resume the turn log, or say where it goes.
    Log(LogSwitch),
    /// `/image PATH…`: attach images to the next message (the text after the command).
    Image(String),
    /// `/file PATH…`: put text files into the next message.
    File(String),
    /// `/attach`: list what goes with the next message.
    Attach,
    /// `/detach [N]`: drop the N-th attachment (1-based), or the last.
    Detach(Option<usize>),
    /// `/tools [on|off|list]`: offer the tools or not; alone or `list`, list them.
    Tools(ToolsSwitch),
}

pub use crate::chat::tools::ToolsSwitch;

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
    /// Replies rendered as markdown (on a terminal).
    Markdown(bool),
    History(bool),
    /// What happens when the history outgrows the context window.
    Context(Strategy),
    /// The line editor's keys: `/set vi`, `/set emacs`.
    Keys(crate::cli::Keys),
    /// Thinking requested but not shown: `/set hidethinking`, `/set nohidethinking`.
    HideThinking(bool),
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
    pub(super) parse: fn(&Spec, &str) -> Result<SlashCommand, ParseError>,
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
    /// File paths.
    Paths,
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
