//! Slash commands: text typed at the prompt → `SlashCommand`. Pure, so every form is unit-tested.

use crate::suggest::nearest;

/// A command the REPL understands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SlashCommand {
    Bye,
    Clear,
    Help,
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
