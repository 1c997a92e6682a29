//! Slash commands: ONE table (name, aliases, arguments, help, sub-commands) that drives parsing,
//! `/help` and tab completion, and the pure parser from a typed line to a `SlashCommand`.

use super::args::{no_args, parse_copy, parse_load, parse_log, parse_model, parse_set, parse_show};
pub use super::slash::{
    Completes, HelpTopic, ParseError, Setting, ShowWhat, SlashCommand, Spec, Sub,
};
use crate::suggest::nearest;

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
        args: "[low|medium|high|max]",
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
        name: "markdown",
        args: "on|off",
        help: "Render replies as markdown on the terminal, or show them as typed",
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
fn parse_help(spec: &Spec, rest: &str) -> Result<SlashCommand, ParseError> {
    let mut it = rest.split_whitespace();
    let topic = match it.next() {
        None => HelpTopic::All,
        Some(w) if w.eq_ignore_ascii_case("shortcuts") => HelpTopic::Shortcuts,
        Some(w) => {
            let name = if w.starts_with('/') {
                w.to_ascii_lowercase()
            } else {
                format!("/{}", w.to_ascii_lowercase())
            };
            match find(&name) {
                Some(s) => HelpTopic::Command(s.name),
                None => {
                    return Err(ParseError::UnknownArgument {
                        command: spec.name,
                        arg: w.to_string(),
                        suggestion: nearest(&name, all_names()),
                        usage: spec.usage(),
                    })
                }
            }
        }
    };
    match it.next() {
        Some(extra) => Err(spec.unexpected(extra)),
        None => Ok(SlashCommand::Help(topic)),
    }
}

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
