//! The argument parsers of the commands in the table (`command.rs`): pure, one per command that
//! takes arguments, each returning the `SlashCommand` or a `ParseError` that shows the usage.

use super::slash::{HelpTopic, ParseError, Setting, ShowWhat, SlashCommand, Spec};
use crate::cli::Keys;
use crate::context::Strategy;
use crate::conversation::Think;
use crate::log::pause::LogSwitch;
use crate::suggest::nearest;

/// Splits arguments at whitespace; `"double quotes"` keep spaces (for stop sequences).
pub(super) fn words(spec: &Spec, rest: &str) -> Result<Vec<String>, ParseError> {
    let mut out = Vec::new();
    let mut chars = rest.chars().peekable();
    while let Some(&c) = chars.peek() {
        if c.is_whitespace() {
            chars.next();
            continue;
        }
        let mut word = String::new();
        if c == '"' {
            chars.next();
            loop {
                match chars.next() {
                    Some('"') => break,
                    Some(c) => word.push(c),
                    None => return Err(spec.invalid("a quote is not closed")),
                }
            }
        } else {
            while let Some(&c) = chars.peek() {
                if c.is_whitespace() {
                    break;
                }
                word.push(c);
                chars.next();
            }
        }
        out.push(word);
    }
    Ok(out)
}

pub(super) fn no_args(spec: &Spec, rest: &str) -> Result<(), ParseError> {
    match rest.split_whitespace().next() {
        Some(arg) => Err(spec.unexpected(arg)),
        None => Ok(()),
    }
}

pub(super) fn parse_show(spec: &Spec, rest: &str) -> Result<SlashCommand, ParseError> {
    let mut it = rest.split_whitespace();
    let Some(word) = it.next() else {
        return Ok(SlashCommand::Help(HelpTopic::Command(spec.name)));
    };
    let what = match spec.sub(word)?.name {
        "info" => ShowWhat::Info,
        "parameters" => ShowWhat::Parameters,
        "system" => ShowWhat::System,
        "template" => ShowWhat::Template,
        "modelfile" => ShowWhat::Modelfile,
        _ => ShowWhat::License,
    };
    no_args(spec, &it.collect::<Vec<_>>().join(" "))?;
    Ok(SlashCommand::Show(what))
}

pub(super) fn parse_set(spec: &Spec, rest: &str) -> Result<SlashCommand, ParseError> {
    let (word, arg) = match rest.split_once(char::is_whitespace) {
        Some((w, a)) => (w, a.trim()),
        None => (rest, ""),
    };
    if word.is_empty() {
        return Ok(SlashCommand::Help(HelpTopic::Command(spec.name)));
    }
    let sub = spec.sub(word)?;
    let flag = |on: bool, make: fn(bool) -> Setting| {
        no_args(spec, arg).map(|()| SlashCommand::Set(make(on)))
    };
    match sub.name {
        "parameter" => parse_parameter(spec, arg),
        "system" => {
            let text = unquote(arg);
            if text.trim().is_empty() {
                Err(spec.missing("the system prompt text"))
            } else {
                Ok(SlashCommand::Set(Setting::System(text.to_string())))
            }
        }
        "verbose" => flag(true, Setting::Verbose),
        "quiet" => flag(false, Setting::Verbose),
        "wordwrap" => flag(true, Setting::WordWrap),
        "nowordwrap" => flag(false, Setting::WordWrap),
        "hidethinking" => flag(true, Setting::HideThinking),
        "nohidethinking" => flag(false, Setting::HideThinking),
        "vi" => no_args(spec, arg).map(|()| SlashCommand::Set(Setting::Keys(Keys::Vi))),
        "emacs" => no_args(spec, arg).map(|()| SlashCommand::Set(Setting::Keys(Keys::Emacs))),
        "history" => flag(true, Setting::History),
        "nohistory" => flag(false, Setting::History),
        "noformat" => no_args(spec, arg).map(|()| SlashCommand::Set(Setting::Format(None))),
        "format" => parse_format(spec, arg),
        "context" => parse_context(spec, arg),
        "markdown" => parse_on_off(spec, arg).map(|on| SlashCommand::Set(Setting::Markdown(on))),
        "nothink" => {
            no_args(spec, arg).map(|()| SlashCommand::Set(Setting::Think(Think::On(false))))
        }
        _ => parse_think(spec, arg),
    }
}

/// `on` or `off` (also `true`/`false`, `yes`/`no`), and nothing after it.
pub(super) fn parse_on_off(spec: &Spec, arg: &str) -> Result<bool, ParseError> {
    let mut it = arg.split_whitespace();
    let Some(word) = it.next() else {
        return Err(spec.missing("on or off"));
    };
    let on = match word.to_ascii_lowercase().as_str() {
        "on" | "true" | "yes" => true,
        "off" | "false" | "no" => false,
        _ => {
            return Err(ParseError::UnknownArgument {
                command: spec.name,
                arg: word.to_string(),
                suggestion: nearest(&word.to_ascii_lowercase(), ["on", "off"]),
                usage: format!("{} markdown on|off", spec.name),
            })
        }
    };
    match it.next() {
        Some(extra) => Err(spec.unexpected(extra)),
        None => Ok(on),
    }
}

/// `/set context truncate|summarize|fail` (`summarise` is accepted too).
pub(super) fn parse_context(spec: &Spec, arg: &str) -> Result<SlashCommand, ParseError> {
    let mut it = arg.split_whitespace();
    let Some(word) = it.next() else {
        return Err(spec.missing("the strategy (truncate, summarize or fail)"));
    };
    let strategy = word
        .parse::<Strategy>()
        .map_err(|_| ParseError::UnknownArgument {
            command: spec.name,
            arg: word.to_string(),
            suggestion: nearest(&word.to_ascii_lowercase(), Strategy::NAMES.iter().copied()),
            usage: format!("{} context truncate|summarize|fail", spec.name),
        })?;
    match it.next() {
        Some(extra) => Err(spec.unexpected(extra)),
        None => Ok(SlashCommand::Set(Setting::Context(strategy))),
    }
}

pub(super) fn parse_parameter(spec: &Spec, arg: &str) -> Result<SlashCommand, ParseError> {
    let mut words = words(spec, arg)?;
    if words.is_empty() {
        return Ok(SlashCommand::Set(Setting::ListParameters));
    }
    let name = words.remove(0).to_ascii_lowercase();
    if let Err(e) = crate::options::kind_of(&name) {
        return Err(spec.invalid(e.to_string()));
    }
    match words.len() {
        0 => Err(spec.missing("a value")),
        1 => Ok(SlashCommand::Set(Setting::Parameter {
            name,
            values: words,
        })),
        _ if name == "stop" => Ok(SlashCommand::Set(Setting::Parameter {
            name,
            values: words,
        })),
        _ => Err(spec.invalid(format!("{name} takes one value (quote it to keep spaces)"))),
    }
}

pub(super) fn parse_format(spec: &Spec, arg: &str) -> Result<SlashCommand, ParseError> {
    if arg.is_empty() {
        return Err(spec.missing("`json` or a JSON schema"));
    }
    if arg.eq_ignore_ascii_case("json") {
        return Ok(SlashCommand::Set(Setting::Format(Some("json".into()))));
    }
    match serde_json::from_str::<serde_json::Value>(arg) {
        Ok(v @ serde_json::Value::Object(_)) => Ok(SlashCommand::Set(Setting::Format(Some(v)))),
        _ => Err(spec.invalid(format!(
            "format takes `json` or a JSON schema object, not '{arg}'"
        ))),
    }
}

pub(super) fn parse_think(spec: &Spec, arg: &str) -> Result<SlashCommand, ParseError> {
    let think = match arg.to_ascii_lowercase().as_str() {
        "" | "true" | "on" => Think::On(true),
        "false" | "off" => Think::On(false),
        level if Think::LEVELS.contains(&level) => Think::Level(level.to_string()),
        _ => {
            return Err(spec.invalid(format!(
                "think takes {}, not '{arg}'",
                Think::LEVELS.join(", ")
            )))
        }
    };
    Ok(SlashCommand::Set(Setting::Think(think)))
}

pub(super) fn parse_load(spec: &Spec, rest: &str) -> Result<SlashCommand, ParseError> {
    let mut model = None;
    let mut clear = false;
    for w in rest.split_whitespace() {
        match w {
            "--clear" | "-c" => clear = true,
            w if w.starts_with('-') => {
                return Err(ParseError::UnknownArgument {
                    command: spec.name,
                    arg: w.to_string(),
                    suggestion: nearest(w, ["--clear"]),
                    usage: spec.usage(),
                })
            }
            w if model.is_none() => model = Some(w.to_string()),
            w => return Err(spec.unexpected(w)),
        }
    }
    let model = model.ok_or_else(|| spec.missing("the model name"))?;
    Ok(SlashCommand::Load { model, clear })
}

pub(super) fn parse_model(spec: &Spec, rest: &str) -> Result<SlashCommand, ParseError> {
    let mut it = rest.split_whitespace();
    let model = it.next().map(str::to_string);
    match it.next() {
        Some(extra) => Err(spec.unexpected(extra)),
        None => Ok(SlashCommand::Model(model)),
    }
}

pub(super) fn parse_copy(spec: &Spec, rest: &str) -> Result<SlashCommand, ParseError> {
    let mut it = rest.split_whitespace();
    let n = match it.next() {
        None => None,
        Some(w) => match w.parse::<usize>() {
            Ok(n) if n >= 1 => Some(n),
            _ => return Err(spec.invalid(format!("N is a code block number (1, 2, …), not '{w}'"))),
        },
    };
    match it.next() {
        Some(extra) => Err(spec.unexpected(extra)),
        None => Ok(SlashCommand::Copy(n)),
    }
}

/// `/fork` alone branches now; `/fork N` at turn N (0 = before the first).
pub(super) fn parse_fork(spec: &Spec, rest: &str) -> Result<SlashCommand, ParseError> {
    let mut it = rest.split_whitespace();
    let n = match it.next() {
        None => None,
        Some(w) => match w.parse::<usize>() {
            Ok(n) => Some(n),
            _ => return Err(spec.invalid(format!("N is a turn number (0, 1, 2, …), not '{w}'"))),
        },
    };
    match it.next() {
        Some(extra) => Err(spec.unexpected(extra)),
        None => Ok(SlashCommand::Fork(n)),
    }
}

/// `/log` alone asks where turns go; `/log on|off` resumes or pauses.
pub(super) fn parse_log(spec: &Spec, rest: &str) -> Result<SlashCommand, ParseError> {
    let mut it = rest.split_whitespace();
    let switch = match it.next() {
        None => LogSwitch::Status,
        Some(w) => match spec.sub(w)?.name {
            "on" => LogSwitch::On,
            _ => LogSwitch::Off,
        },
    };
    match it.next() {
        Some(extra) => Err(spec.unexpected(extra)),
        None => Ok(SlashCommand::Log(switch)),
    }
}

/// `/tools` alone lists the tools; `/tools on|off|list`.
pub(super) fn parse_tools(spec: &Spec, rest: &str) -> Result<SlashCommand, ParseError> {
    use super::slash::ToolsSwitch;
    let mut it = rest.split_whitespace();
    let switch = match it.next() {
        None => ToolsSwitch::List,
        Some(w) => match spec.sub(w)?.name {
            "on" => ToolsSwitch::On,
            "off" => ToolsSwitch::Off,
            _ => ToolsSwitch::List,
        },
    };
    match it.next() {
        Some(extra) => Err(spec.unexpected(extra)),
        None => Ok(SlashCommand::Tools(switch)),
    }
}

/// Strips one pair of surrounding `"` or `"""` (as `ollama run` accepts `/set system "…"`).
pub(super) fn unquote(s: &str) -> &str {
    let t = s.trim();
    for q in ["\"\"\"", "\""] {
        if t.len() >= 2 * q.len() && t.starts_with(q) && t.ends_with(q) {
            return t[q.len()..t.len() - q.len()].trim();
        }
    }
    t
}
