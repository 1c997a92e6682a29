//! Slash commands: text typed at the prompt → `SlashCommand`. Pure, so every form is unit-tested.

use crate::suggest::nearest;

/// A command the REPL understands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SlashCommand {
    Bye,
    Clear,
    Help,
    /// `/save NAME`: names the session (the text after the command).
    Save(String),
    /// `/session [load NAME]` (the text after the command).
    Session(String),
    Models,
    Unknown {
        name: String,
        suggestion: Option<&'static str>,
    },
}

/// Every command name, with its one-line help: drives parsing suggestions and `/?`.
pub const COMMANDS: &[(&str, &str)] = &[
    (
        "/clear",
        "Forget the conversation (the system prompt stays)",
    ),
    (
        "/save",
        "/save NAME names this session (unlike `ollama run`, it creates no model)",
    ),
    (
        "/session",
        "Where this chat is saved; /session load NAME|ID resumes a saved one",
    ),
    ("/models", "List the models the server offers"),
    ("/bye", "Exit (also /exit, or Ctrl-D)"),
    ("/?", "Show this help (also /help)"),
];

/// Parses a line that starts with `/`; any other line is a message, and gives `None`.
pub fn parse(line: &str) -> Option<SlashCommand> {
    let line = line.trim();
    if !line.starts_with('/') {
        return None;
    }
    let name = line.split_whitespace().next().unwrap_or(line);
    Some(match name {
        "/bye" | "/exit" => SlashCommand::Bye,
        "/clear" => SlashCommand::Clear,
        "/?" | "/help" => SlashCommand::Help,
        "/save" => SlashCommand::Save(rest(line, name)),
        "/session" => SlashCommand::Session(rest(line, name)),
        "/models" => SlashCommand::Models,
        other => SlashCommand::Unknown {
            name: other.to_string(),
            suggestion: nearest(
                other,
                COMMANDS.iter().map(|(n, _)| *n).chain(["/exit", "/help"]),
            ),
        },
    })
}

/// The text after the command name, trimmed.
fn rest(line: &str, name: &str) -> String {
    line[name.len()..].trim().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_commands() {
        assert_eq!(parse("/bye"), Some(SlashCommand::Bye));
        assert_eq!(parse("  /exit  "), Some(SlashCommand::Bye));
        assert_eq!(parse("/clear"), Some(SlashCommand::Clear));
        assert_eq!(parse("/?"), Some(SlashCommand::Help));
        assert_eq!(parse("/help"), Some(SlashCommand::Help));
        assert_eq!(
            parse("/save  my 老師 chat "),
            Some(SlashCommand::Save("my 老師 chat".into()))
        );
        assert_eq!(parse("/save"), Some(SlashCommand::Save(String::new())));
        assert_eq!(
            parse("/session load abc"),
            Some(SlashCommand::Session("load abc".into()))
        );
        assert_eq!(parse("/models"), Some(SlashCommand::Models));
    }

    #[test]
    fn messages_are_not_commands() {
        assert_eq!(parse("hello /bye"), None);
        assert_eq!(parse("你好"), None);
    }

    #[test]
    fn unknown_commands_suggest() {
        assert_eq!(
            parse("/cler"),
            Some(SlashCommand::Unknown {
                name: "/cler".into(),
                suggestion: Some("/clear")
            })
        );
        assert!(matches!(
            parse("/zzzzzzzz"),
            Some(SlashCommand::Unknown {
                suggestion: None,
                ..
            })
        ));
    }
}
