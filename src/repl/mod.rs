//! The interactive chat: read a line (rustyline, blocking, outside async code), then either run a
//! slash command or send the line as a turn. The only module that reads keys.
//!
//! Layout: `command` (slash-command parser); this file (the editor loop).

pub mod command;

use std::io::{self, IsTerminal, Write};
use std::path::Path;

use rustyline::error::ReadlineError;
use rustyline::history::{FileHistory, History};
use rustyline::{Config as EditorConfig, Editor};
use tokio::runtime::Runtime;

use crate::chat::{ctrl_c, pick_model, Chat, HistoryEffect};
use crate::config::Config;
use crate::exit_code::ExitCode;
use crate::log::open_private_append;
use crate::ollama::Client;
use crate::render::{Output, Renderer, ThinkingTo};
use crate::turn::Ending;
use command::{SlashCommand, COMMANDS};

const PROMPT: &str = ">>> ";

/// Styles for the REPL's own lines (never for model text, which the renderer handles).
struct Style {
    color: bool,
}

impl Style {
    fn dim(&self, s: &str) -> String {
        self.paint("2", s)
    }
    fn red(&self, s: &str) -> String {
        self.paint("31", s)
    }
    fn paint(&self, code: &str, s: &str) -> String {
        if self.color {
            format!("\x1b[{code}m{s}\x1b[0m")
        } else {
            s.to_string()
        }
    }
}

/// Runs the chat until `/bye` or Ctrl-D.
pub fn run(rt: &Runtime, client: &Client, config: &Config) -> anyhow::Result<ExitCode> {
    let model = rt.block_on(pick_model(client, config.model.as_deref()))?;
    if let Some(code) = crate::commands::pull::offer_pull(rt, client, config, &model)? {
        return Ok(code);
    }
    let style = Style {
        color: !config.no_color && io::stdout().is_terminal(),
    };
    let mut chat = Chat::new(client, config, model);
    let mut editor = open_editor(config.history_path.as_deref())?;

    println!(
        "{}",
        style.dim(&format!(
            "ollama-chat {} · {} at {} · /? for help, /bye or Ctrl-D to exit",
            env!("CARGO_PKG_VERSION"),
            chat.model,
            client.base_url()
        ))
    );
    if let Some(w) = chat.log_warning() {
        eprintln!("ollama-chat: warning: {w}");
    }

    let mut prefill: Option<String> = None;
    loop {
        let read = match prefill.take() {
            Some(text) => editor.readline_with_initial(PROMPT, (&text, "")),
            None => editor.readline(PROMPT),
        };
        let line = match read {
            Ok(line) => line,
            Err(ReadlineError::Interrupted) => {
                println!("{}", style.dim("Use Ctrl-D or /bye to exit."));
                continue;
            }
            Err(ReadlineError::Eof) => break,
            Err(e) => return Err(e.into()),
        };
        if line.trim().is_empty() {
            continue;
        }
        remember(&mut editor, &line, config.history_path.as_deref());

        if let Some(cmd) = command::parse(&line) {
            match cmd {
                SlashCommand::Bye => break,
                SlashCommand::Clear => {
                    chat.conversation.clear();
                    println!("{}", style.dim("Cleared the conversation."));
                }
                SlashCommand::Help => print_help(),
                SlashCommand::Unknown { name, suggestion } => {
                    let hint = suggestion
                        .map(|s| format!(" Did you mean {s}?"))
                        .unwrap_or_default();
                    println!("Unknown command '{name}'.{hint} Type /? for help.");
                }
            }
            continue;
        }

        let mut renderer = Renderer::new(
            io::stdout().lock(),
            Output::Terminal { color: style.color },
            ThinkingTo::Inline,
        );
        let (outcome, effect) = rt.block_on(chat.send(&line, &mut renderer, ctrl_c()));
        drop(renderer);
        match &outcome.ending {
            Ending::Done => {}
            Ending::Cancelled(_) => println!("{}", style.dim("(cancelled)")),
            Ending::Failed(e) => eprintln!("{}", style.red(&format!("error: {e}"))),
        }
        if let HistoryEffect::Returned(text) = effect {
            if matches!(outcome.ending, Ending::Failed(_)) {
                println!(
                    "{}",
                    style.dim("Your message is back at the prompt: press Enter to send it again.")
                );
            }
            prefill = Some(text);
        }
        println!();
    }
    Ok(ExitCode::Success)
}

fn open_editor(history: Option<&Path>) -> anyhow::Result<Editor<(), FileHistory>> {
    let config = EditorConfig::builder()
        .max_history_size(1000)?
        .auto_add_history(false)
        .build();
    let mut editor = Editor::with_config(config)?;
    if let Some(path) = history {
        // Created private up front: the history holds everything the user typed.
        if open_private_append(path).is_ok() {
            let _ = editor.load_history(path);
        }
    }
    Ok(editor)
}

/// Adds the line to Up-arrow history and to the history file right away, so a crash loses nothing.
fn remember(editor: &mut Editor<(), FileHistory>, line: &str, path: Option<&Path>) {
    let _ = editor.add_history_entry(line);
    if let Some(p) = path {
        if editor.history_mut().append(p).is_err() {
            tracing::debug!("could not append to the history file {}", p.display());
        }
    }
}

fn print_help() {
    let mut out = io::stdout().lock();
    let _ = writeln!(out, "Available commands:");
    for (name, help) in COMMANDS {
        let _ = writeln!(out, "  {name:<10} {help}");
    }
    let _ = writeln!(
        out,
        "\nCtrl-C stops a reply; Ctrl-D or /bye exits. Everything else you type is sent to the model."
    );
}
