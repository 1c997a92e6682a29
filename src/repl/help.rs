//! `/help` text, generated from the command table so it can never disagree with the parser.

use std::fmt::Write as _;

use super::command::{find, HelpTopic, Spec, COMMANDS};
use crate::options::{Kind, KNOWN};

/// The text for a help topic.
pub fn help(topic: HelpTopic) -> String {
    match topic {
        HelpTopic::All => overview(),
        HelpTopic::Shortcuts => SHORTCUTS.to_string(),
        HelpTopic::Command(name) => find(name).map(command_help).unwrap_or_default(),
    }
}

fn overview() -> String {
    let width = COMMANDS
        .iter()
        .map(|s| s.usage().chars().count())
        .max()
        .unwrap_or(0);
    let mut out = String::from("Available commands:\n");
    for spec in COMMANDS {
        let aliases = if spec.aliases.is_empty() {
            String::new()
        } else {
            format!(" (also {})", spec.aliases.join(", "))
        };
        let usage = spec.usage();
        let pad = width - usage.chars().count();
        let _ = writeln!(out, "  {usage}{:pad$}  {}{aliases}", "", spec.help);
    }
    out.push_str(
        "\nUse \"\"\" to begin and end a message of several lines, or Ctrl+J for a new line.\n\
         Ctrl-C stops a reply; Ctrl-D or /bye exits. /? COMMAND explains one command; /? shortcuts\n\
         lists the keys. Everything else you type is sent to the model.\n",
    );
    out
}

fn command_help(spec: &Spec) -> String {
    let mut out = format!("Usage: {}\n  {}\n", spec.usage(), spec.help);
    if !spec.aliases.is_empty() {
        let _ = writeln!(out, "  Also: {}", spec.aliases.join(", "));
    }
    if !spec.subs.is_empty() {
        out.push('\n');
        let line = |s: &super::command::Sub| {
            if s.args.is_empty() {
                format!("{} {}", spec.name, s.name)
            } else {
                format!("{} {} {}", spec.name, s.name, s.args)
            }
        };
        let width = spec
            .subs
            .iter()
            .map(|s| line(s).chars().count())
            .max()
            .unwrap_or(0);
        for sub in spec.subs {
            let l = line(sub);
            let pad = width - l.chars().count();
            let _ = writeln!(out, "  {l}{:pad$}  {}", "", sub.help);
        }
    }
    if spec.name == "/set" {
        out.push_str("\n/set parameter alone lists the parameter names.\n");
    }
    out
}

/// `/set parameter` alone: every option name and the kind of value it takes.
pub fn parameter_list(current: &crate::options::Options) -> String {
    let mut out = String::from("Parameters (/set parameter NAME VALUE):\n");
    for (name, kind) in KNOWN {
        let kind = match kind {
            Kind::Int => "whole number",
            Kind::Float => "number",
            Kind::Bool => "true or false",
            Kind::StringList => "text, several allowed",
        };
        let now = current
            .get(name)
            // A resumed session's values came from its file.
            .map(|v| format!("  = {}", crate::untrusted::sanitize_line(&v.to_string())))
            .unwrap_or_default();
        let _ = writeln!(out, "  {name:<18} {kind}{now}");
    }
    out
}

const SHORTCUTS: &str = "\
Available keyboard shortcuts:
  Ctrl + a            Move to the beginning of the line (Home)
  Ctrl + e            Move to the end of the line (End)
   Alt + b            Move back (left) one word
   Alt + f            Move forward (right) one word
  Ctrl + k            Delete the text after the cursor
  Ctrl + u            Delete the text before the cursor
  Ctrl + w            Delete the word before the cursor
  Ctrl + l            Clear the screen
  Ctrl + r            Search earlier input
  Ctrl + j            Insert a new line
  Ctrl + g            Compose the message in $VISUAL or $EDITOR
  Tab                 Complete commands, settings, parameter and model names
  Ctrl + c            Stop the reply (at the prompt: clear the line)
  Ctrl + d            Exit (/bye)
";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn overview_lists_every_command_and_alias() {
        let text = help(HelpTopic::All);
        for spec in COMMANDS {
            assert!(text.contains(spec.name), "{}", spec.name);
            for a in spec.aliases {
                assert!(text.contains(a), "{a}");
            }
        }
        insta::assert_snapshot!("help_overview", text);
    }

    #[test]
    fn command_help_lists_sub_commands() {
        insta::assert_snapshot!("help_set", help(HelpTopic::Command("/set")));
        let show = help(HelpTopic::Command("/show"));
        for sub in [
            "info",
            "parameters",
            "system",
            "template",
            "modelfile",
            "license",
        ] {
            assert!(show.contains(&format!("/show {sub}")), "{sub}");
        }
        assert!(help(HelpTopic::Shortcuts).contains("Ctrl + g"));
    }

    #[test]
    fn parameter_list_shows_current_values() {
        let mut o = crate::options::Options::default();
        o.set("temperature", "0.2").unwrap();
        let text = parameter_list(&o);
        assert!(text.contains("temperature        number  = 0.2"));
        assert!(text.contains("stop               text, several allowed"));
    }
}
