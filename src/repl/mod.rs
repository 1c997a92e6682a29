//! The interactive chat: read a line (rustyline, blocking, outside async code), then either run a
//! slash command or send the line as a turn. The only module that reads lines (the tool-call
//! prompt's single key is `approve`'s).
//!
//! Layout: `command` (the command table and its pure parser; `args` parses each command's
//! arguments), `complete` (tab completion and the
//! prompt hint), `input` (`"""` blocks, Ctrl+J, Ctrl+G and the external editor), `help`, and the
//! handlers by topic: `show`, `set`, `models` (`/load`, `/model`, `/models`), `exchange` (`/retry`,
//! `/undo`, `/edit`, `/copy`), `copy` (code blocks, OSC 52) and `stats` (`/stats`; `/context` is
//! `chat::context`'s report);
//! `tty` (an Enter typed during a reply stays an Enter); this file (the editor loop and one turn).

mod args;
mod attach;
pub mod command;
pub mod complete;
pub mod copy;
mod exchange;
pub mod help;
pub mod input;
pub(crate) mod models;
pub mod picker;
mod role;
mod set;
pub(crate) mod show;
mod slash;
pub mod stats;
mod tty;

use std::io::{self, Write};
use std::path::Path;

use rustyline::config::Configurer;
use rustyline::error::ReadlineError;
use rustyline::history::{FileHistory, History};
use rustyline::{Config as EditorConfig, Editor};
use tokio::runtime::Runtime;

use crate::backend::Backend;
use crate::chat::{interrupted_or_stopped, Chat, HistoryEffect, Question, Sent, WindowCheck};
use crate::cli::Keys;
use crate::config::Config;
use crate::exit_code::ExitCode;
use crate::log::open_private_append;
use crate::render::markdown::{MarkdownView, Theme};
use crate::render::style::Style;
use crate::render::verbose::write_stats;
use crate::render::{Output, Renderer, ThinkingTo};
use crate::session::Change;
use crate::signals::{StopSignal, Watcher};
use crate::term::Term;
use crate::turn::Ending;
use command::SlashCommand;
use complete::{model_hint, ReplHelper};
use input::{compose, editor_command, Block, EditorRequest, Typed};
use stats::SessionStats;

const CONTINUATION_PROMPT: &str = "... ";

/// How the REPL shows things; changed by `/set verbose`, `/set wordwrap`, `/set markdown`,
/// `/set history`.
struct View {
    verbose: bool,
    stats_json: bool,
    wordwrap: bool,
    markdown: bool,
    theme: Theme,
    history: bool,
    /// The line editor's keys, set before each line is read.
    keys: Keys,
    /// Thinking is not shown (it is still saved).
    hide_thinking: bool,
}

/// One REPL session: the chat and everything the commands change.
pub(crate) struct Repl<'a> {
    rt: &'a Runtime,
    chat: Chat<'a>,
    term: &'a Term,
    /// For stdout and stderr: each has its own colour.
    style: Style,
    err_style: Style,
    view: View,
    stats: SessionStats,
    history_path: Option<&'a Path>,
    /// SIGTERM and SIGHUP.
    stops: Watcher,
    /// Files waiting to go with the next message.
    pending: attach::Pending,
}

/// What the loop does after a command.
enum Flow {
    Continue,
    Exit,
    /// Put this text at the prompt (a message that got no reply).
    Prefill(String),
}

type LineEditor<'a> = Editor<ReplHelper<'a>, FileHistory>;

/// Runs the chat until `/bye` or Ctrl-D.
pub fn run(
    rt: &Runtime,
    backend: &Backend,
    config: &Config,
    term: &Term,
) -> anyhow::Result<ExitCode> {
    let picked: Config;
    let config = match pick_at_start(rt, backend, config, &mut io::stdin().lock())? {
        Some(c) => {
            picked = c;
            &picked
        }
        None => config,
    };
    let (mut chat, notices) = crate::chat::session::start_chat(rt, backend, config, true)?;
    chat.dim_notes(term.stderr.color);
    crate::chat::tools::attach(rt, &mut chat, config)?;
    let mut info = None;
    if backend.capabilities().manage_models {
        match crate::commands::pull::offer_pull(rt, backend, config, term, &chat.model)? {
            Ok(shown) => info = shown,
            Err(code) => return Ok(code),
        }
    }
    // The model's facts (and with --no-preload not the model itself) while the person types.
    chat.window_check = WindowCheck::Background;
    {
        let _runtime = rt.enter();
        chat.learn_in_background(info.as_ref(), config.preload);
    }
    let mut repl = Repl {
        rt,
        chat,
        term,
        style: Style {
            color: term.stdout.color,
        },
        err_style: Style {
            color: term.stderr.color,
        },
        view: View {
            verbose: config.verbose,
            stats_json: config.stats_json,
            wordwrap: true,
            markdown: config.markdown,
            theme: config.theme,
            history: true,
            keys: config.keys,
            hide_thinking: config.hide_thinking,
        },
        stats: SessionStats::default(),
        history_path: config.history_path.as_deref(),
        // Before the terminal's modes change, so that they can be put back.
        stops: Watcher::start(rt, term.stdout.tty),
        pending: attach::Pending {
            items: Vec::new(),
            home: std::env::var_os("HOME").map(std::path::PathBuf::from),
        },
    };
    let fetch_models = Box::new(move || {
        complete::completable(rt.block_on(backend.list_models()).unwrap_or_default())
    });
    let helper = ReplHelper::new(term.stdout.color, fetch_models);
    let mut editor = open_editor(repl.history_path, helper)?;
    let compose_request = input::bind_keys(&mut editor);

    println!(
        "{}",
        repl.style.dim(&format!(
            "ollama-chat {} · {} at {} · /? for help, /bye or Ctrl-D to exit",
            env!("CARGO_PKG_VERSION"),
            repl.chat.model,
            backend.base_url()
        ))
    );
    if let Some(w) = repl.chat.log_warning() {
        crate::render::style::warn(format_args!("{w}"));
    }
    for n in notices {
        repl.note(&n);
    }
    repl.attach_from_flags(&config.attach);
    repl.show_model_history();
    let typeahead = tty::TypeaheadGuard::new();
    let stopped = repl.run_loop(&mut editor, &compose_request)?;
    drop(typeahead);
    let lost = repl.chat.not_saved();
    if let Some(lost) = &lost {
        crate::render::style::notice(format_args!("{lost}"));
    }
    if let Some(s) = stopped {
        let _ = writeln!(io::stderr(), "ollama-chat: stopped by {}", s.name());
        return Ok(s.exit_code());
    }
    Ok(if lost.is_some() {
        ExitCode::Error
    } else {
        ExitCode::Success
    })
}

impl<'a> Repl<'a> {
    /// Reads and runs lines until the user leaves (`None`) or a stop signal ends the chat.
    fn run_loop(
        &mut self,
        editor: &mut LineEditor<'a>,
        compose_request: &EditorRequest,
    ) -> anyhow::Result<Option<StopSignal>> {
        let mut prefill: Option<String> = None;
        let mut block = Block::default();
        loop {
            if let Err(s) = self.stops.enter_prompt() {
                return Ok(Some(s));
            }
            editor.set_edit_mode(match self.view.keys {
                Keys::Vi => rustyline::EditMode::Vi,
                Keys::Emacs => rustyline::EditMode::Emacs,
            });
            let prompt = if block.is_open() {
                CONTINUATION_PROMPT.to_string()
            } else {
                prompt(&self.chat.model, self.view.keys)
            };
            let read = match prefill.take() {
                Some(text) => editor.readline_with_initial(&prompt, (&text, "")),
                None => editor.readline(&prompt),
            };
            self.stops.leave_prompt();
            let line = match read {
                Ok(line) => line,
                Err(ReadlineError::Interrupted) if block.is_open() => {
                    block.cancel();
                    self.note("Multi-line input cancelled.");
                    continue;
                }
                Err(ReadlineError::Interrupted) => {
                    println!("{}", self.style.dim("Use Ctrl-D or /bye to exit."));
                    continue;
                }
                Err(ReadlineError::Eof) => break,
                Err(e) => return Err(e.into()),
            };
            let draft = compose_request.lock().ok().and_then(|mut slot| slot.take());
            if let Some(draft) = draft {
                prefill = self.compose_at_prompt(&draft);
                continue;
            }
            let Some(typed) = block.feed(&line) else {
                continue;
            };
            let text = typed.text();
            if text.trim().is_empty() {
                continue;
            }
            match &typed {
                Typed::Line(_) => self.remember(editor, text),
                // Recalled later, the quotes keep it a message.
                Typed::Message(_) => self.remember(editor, &format!("\"\"\"{text}\"\"\"")),
            }
            let parsed = match typed {
                Typed::Line(_) => command::parse(text),
                Typed::Message(_) => Ok(None),
            };
            match parsed {
                Ok(None) => prefill = self.turn(text),
                Ok(Some(cmd)) => match self.run_command(cmd) {
                    Flow::Continue => {}
                    Flow::Exit => break,
                    Flow::Prefill(text) => prefill = Some(text),
                },
                // A message that starts with an image's path, as `ollama run` takes it.
                Err(command::ParseError::Unknown { .. }) if self.starts_with_a_file(text) => {
                    prefill = self.turn(text)
                }
                Err(
                    e @ command::ParseError::Unknown {
                        suggestion: None, ..
                    },
                ) => self.error(&format!(
                    "{e} (to send it as a message, quote it: \"\"\"{}\"\"\")",
                    text.trim()
                )),
                Err(e) => self.error(&e.to_string()),
            }
        }
        Ok(None)
    }

    fn run_command(&mut self, cmd: SlashCommand) -> Flow {
        match cmd {
            SlashCommand::Bye => return Flow::Exit,
            SlashCommand::Help(topic) => print!("{}", help::help(topic)),
            SlashCommand::Clear => {
                self.change(Change::Clear);
                self.note("Cleared the conversation.");
            }
            SlashCommand::Save(name) => {
                let said = crate::chat::session::slash_save(&mut self.chat, &name);
                self.note(&said);
            }
            SlashCommand::Session(args) => {
                let config = self.chat.config;
                match crate::chat::session::slash_session(&mut self.chat, config, &args) {
                    Ok(text) => self.note(&text),
                    Err(e) => self.error(&e),
                }
            }
            SlashCommand::Search(query) => {
                let found =
                    crate::commands::search::slash_search(self.chat.config, self.term, &query);
                match found {
                    // Sanitised and painted by the search's own printer.
                    Ok(text) => println!("{text}"),
                    Err(e) => self.error(&e),
                }
            }
            SlashCommand::Fork(turn) => {
                match crate::chat::session::slash_fork(&mut self.chat, turn) {
                    Ok(text) => self.note(&text),
                    Err(e) => self.error(&e),
                }
            }
            SlashCommand::Show(what) => self.show(what),
            SlashCommand::Set(setting) => self.set(setting),
            SlashCommand::Load { model, clear } => self.load(&model, clear),
            SlashCommand::Model(name) => self.model(name.as_deref()),
            SlashCommand::Role(name) => self.role(name.as_deref()),
            SlashCommand::Models => self.models(),
            SlashCommand::Retry => return self.retry().map_or(Flow::Continue, Flow::Prefill),
            SlashCommand::Undo => self.undo(),
            SlashCommand::Edit => return self.edit().map_or(Flow::Continue, Flow::Prefill),
            SlashCommand::Copy(n) => self.copy(n),
            SlashCommand::Context => {
                let report = self.rt.block_on(self.chat.context_report());
                println!("{}", report.trim_end());
            }
            SlashCommand::Stats => print!("{}", self.stats.report()),
            SlashCommand::Log(switch) => {
                let said = self.chat.log_command(&switch);
                self.note(&said);
            }
            SlashCommand::Image(rest) => self.attach_command(&rest, true),
            SlashCommand::File(rest) => self.attach_command(&rest, false),
            SlashCommand::Attach => self.list_attachments(),
            SlashCommand::Detach(n) => self.detach(n),
            SlashCommand::Tools(switch) => {
                let said = self.chat.tools_command(self.rt, switch);
                print!("{said}");
            }
        }
        Flow::Continue
    }

    /// Sends one message and shows the reply. Returns the message when it got no reply at all, to
    /// be offered again at the prompt.
    fn turn(&mut self, input: &str) -> Option<String> {
        self.send_turn(input, true)
    }

    /// The same without looking for paths in the text: a message sent again (`/retry`, `/edit`)
    /// has its files in it already, and its images waiting.
    fn turn_as_is(&mut self, input: &str) -> Option<String> {
        self.send_turn(input, false)
    }

    fn send_turn(&mut self, input: &str, find_paths: bool) -> Option<String> {
        // Never in a pipe; asked again each turn, as the window may have been resized.
        let wrap = self.view.wordwrap && self.term.stdout.tty;
        let width = wrap.then(|| self.term.current_width());
        let mut renderer = Renderer::new(
            io::stdout().lock(),
            Output::Terminal {
                color: self.style.color,
            },
            if self.view.hide_thinking {
                ThinkingTo::Hidden
            } else {
                ThinkingTo::Inline
            },
        )
        .with_wrap(width)
        .with_markdown(MarkdownView::for_stdout(
            self.term,
            self.view.markdown,
            self.view.theme,
        ));
        let Ok(out) = self.outgoing(input, find_paths) else {
            return Some(input.to_string());
        };
        let stops = &self.stops;
        let cancel = || interrupted_or_stopped(stops.signalled());
        let mut approver: Box<dyn crate::chat::tools::Approver> = if self.term.stdin_tty {
            Box::new(crate::approve::TtyApprover {
                style: self.err_style,
            })
        } else {
            Box::new(crate::chat::tools::Nobody)
        };
        let sent = self.chat.converse(
            self.rt,
            Question {
                text: out.content,
                images: out.images,
            },
            &mut renderer,
            approver.as_mut(),
            &mut io::stderr(),
            cancel,
        );
        drop(renderer);
        let Sent {
            outcome,
            effect,
            tools_stopped,
            ..
        } = match sent {
            Ok(sent) => sent,
            Err(not_sent) => {
                // Refused by the context policy (or its summary failed, or the model cannot see
                // the images): nothing reached the model.
                self.error(&not_sent.to_string());
                self.note("Your message is back at the prompt: edit it, or clear it with Ctrl-U.");
                println!();
                // As typed: not with the files' text put into it (they stay attached).
                return Some(match out.attached {
                    true => input.to_string(),
                    false => not_sent.input,
                });
            }
        };
        if matches!(effect, HistoryEffect::Kept) {
            self.pending.items.clear();
        }
        self.stats.record(&outcome);
        if let Some(s) = outcome.stop_signal() {
            // The chat ends here; after a hang-up there may be no terminal to write to.
            let _ = writeln!(
                io::stdout(),
                "{}",
                self.style.dim(&format!("(stopped by {})", s.name()))
            );
            return None;
        }
        match &outcome.ending {
            Ending::Done if tools_stopped.is_some() => {
                println!("{}", self.style.dim("(tool calls stopped)"))
            }
            Ending::Done => {}
            Ending::Cancelled(_) => println!("{}", self.style.dim("(cancelled)")),
            Ending::Failed(e) => eprintln!("{}", self.err_style.red(&format!("error: {e}"))),
        }
        if !matches!(outcome.ending, Ending::Failed(_)) {
            write_stats(
                &mut io::stderr().lock(),
                self.view.verbose,
                self.view.stats_json,
                &self.chat.model,
                outcome.stats.as_ref(),
                outcome.ttft,
                outcome.elapsed,
            );
        }
        let mut returned = None;
        if let HistoryEffect::Returned(text) = effect {
            if matches!(outcome.ending, Ending::Failed(_)) {
                self.note("Your message is back at the prompt: press Enter to send it again.");
            }
            returned = Some(match out.attached {
                true => input.to_string(),
                false => text,
            });
        }
        println!();
        returned
    }

    /// Ctrl+G: the line so far, edited in the user's editor, back at the prompt for review.
    fn compose_at_prompt(&mut self, draft: &str) -> Option<String> {
        let editor = editor_command(&|k| std::env::var(k).ok());
        match compose(draft, &editor) {
            Ok(Some(text)) => Some(text),
            Ok(None) => {
                self.note("The editor left the message empty.");
                None
            }
            Err(e) => {
                self.error(&e.to_string());
                Some(draft.to_string()).filter(|d| !d.is_empty())
            }
        }
    }

    /// Adds the input to Up-arrow history and to the history file right away, so a crash loses
    /// nothing; `/set nohistory` stops both.
    fn remember(&self, editor: &mut LineEditor<'_>, text: &str) {
        if !self.view.history {
            return;
        }
        let _ = editor.add_history_entry(text);
        if let Some(p) = self.history_path {
            if editor.history_mut().append(p).is_err() {
                tracing::debug!("could not append to the history file {}", p.display());
            }
        }
    }

    /// Changes the chat's state and records the change in the session file.
    fn change(&mut self, change: Change) {
        if let Err(e) = self.chat.change(change) {
            self.error(&e);
        }
    }

    /// The model's own history from its Modelfile (`MESSAGE` lines), as `ollama run` shows it at
    /// the start: the server puts it before every request, so the model answers as if it had
    /// been said.
    fn show_model_history(&self) {
        let history = &self.chat.context.history;
        if history.is_empty() {
            return;
        }
        let mut out = io::stdout().lock();
        let _ = write_model_history(&mut out, history, self.style);
    }

    /// A quiet line of the REPL's own.
    fn note(&self, text: &str) {
        println!("{}", self.style.dim(text));
    }

    fn error(&self, text: &str) {
        eprintln!("{}", self.err_style.red(&format!("error: {text}")));
    }
}

/// The Modelfile history: a dim line saying what it is, then each message as `ollama run` shows
/// it (`>>> ` before what the user said), sanitised.
pub(crate) fn write_model_history(
    out: &mut impl Write,
    history: &[crate::models::ShowMessage],
    style: Style,
) -> io::Result<()> {
    writeln!(
        out,
        "{}",
        style.dim("(the model's own history, from its Modelfile; it comes before every message)")
    )?;
    for m in history {
        let text = crate::untrusted::sanitize(m.content.raw());
        match m.role.raw() {
            "user" => writeln!(out, ">>> {text}")?,
            "system" => writeln!(out, "{}", style.dim(&text))?,
            _ => writeln!(out, "{text}\n")?,
        }
    }
    Ok(())
}

fn open_editor<'a>(
    history: Option<&Path>,
    helper: ReplHelper<'a>,
) -> anyhow::Result<LineEditor<'a>> {
    let config = EditorConfig::builder()
        .max_history_size(1000)?
        .auto_add_history(false)
        .completion_type(rustyline::CompletionType::List)
        .build();
    let mut editor = Editor::with_config(config)?;
    editor.set_helper(Some(helper));
    if let Some(path) = history {
        // Created private up front: the history holds everything the user typed.
        if open_private_append(path).is_ok() {
            let _ = editor.load_history(path);
        }
    }
    Ok(editor)
}

/// The prompt: the model's short name, and `[vi]` while vi keys are on (so the person knows Esc
/// switches to normal mode).
fn prompt(model: &str, keys: Keys) -> String {
    match keys {
        Keys::Vi => format!("{} [vi] >>> ", model_hint(model)),
        Keys::Emacs => format!("{} >>> ", model_hint(model)),
    }
}

/// With no model named, a new chat and several models on the server: the person picks one from
/// a list (the one last used on this server first, read from `input`), and the choice is
/// remembered.
pub(crate) fn pick_at_start(
    rt: &Runtime,
    backend: &Backend,
    config: &Config,
    input: &mut impl io::BufRead,
) -> anyhow::Result<Option<Config>> {
    use crate::config::SessionChoice;
    let resumes = matches!(
        config.session.choice,
        SessionChoice::Continue | SessionChoice::Open(_)
    );
    if config.model.is_some() || resumes {
        return Ok(None);
    }
    let Ok(names) = rt.block_on(backend.list_models()) else {
        // The chat's own start says what is wrong with the server.
        return Ok(None);
    };
    if names.len() < 2 {
        return Ok(None);
    }
    let memory = config.models_memory.as_deref();
    let last = memory.and_then(|p| picker::remembered(p, backend.base_url()));
    let names = picker::ordered(names, last.as_deref());
    let mut out = io::stdout().lock();
    writeln!(out, "Several models are installed; choose one:")?;
    picker::write_menu(&mut out, &names, |_| false)?;
    let question = format!("Model number or name [1 = {}]: ", names[0].one_line());
    let chosen = picker::ask(input, &mut out, &names, &question, true)?;
    let Some(i) = chosen else {
        return Err(crate::UsageError("no model chosen; name one with --model".into()).into());
    };
    let model = names[i].raw().to_string();
    if let Some(p) = memory {
        picker::remember(p, backend.base_url(), &model);
    }
    Ok(Some(Config {
        model: Some(model),
        ..config.clone()
    }))
}
