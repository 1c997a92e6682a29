//! `replay FILE --rerun`: every recorded user turn sent again, in order, to a live server, with the
//! history built from the new replies; old and new reply and numbers shown turn by turn, then a
//! summary. The re-run is a chat like the REPL's: each turn goes through `Chat::converse`, so it
//! is budgeted, logged, and saved as a new session, and with tools (`--tools`, MCP servers) the
//! new replies' calls are approved as in a chat: asked on a terminal, refused without one unless
//! allowed ahead. The recorded calls' results are never replayed.
//!
//! The session becomes a list of [`Step`]s (pure), the steps drive the chat, and everything is
//! printed through writers passed in, so the printing and the stopping rule are unit-tested.
//!
//! Layout: this file (plan, drive, exit); `table` (the comparison tables, pure).

mod table;

use std::future::Future;
use std::io::{self, Write};

use tokio::runtime::Runtime;

use crate::attach::describe_image;
use crate::backend::Backend;
use crate::chat::session::load_blob;
use crate::chat::tools::{Approver, Nobody};
use crate::chat::{interrupted_or_stopped, Chat, NotSentReason, Question};
use crate::config::{Config, SessionChoice};
use crate::conversation::{Conversation, Image, TurnStatus};
use crate::error::ApiError;
use crate::exit_code::ExitCode;
use crate::options::{OptionError, Options};
use crate::render::markdown::MarkdownView;
use crate::render::style::Style;
use crate::render::{sanitize, Output, Renderer, ThinkingTo};
use crate::session::blobs::Blobs;
use crate::session::format::{Change, Header, Reply};
use crate::session::load::Loaded;
use crate::session::store::SessionWriter;
use crate::session::text::options_text;
use crate::session::{short_id, SessionError};
use crate::signals::{StopSignal, Watcher};
use crate::term::Term;
use crate::turn::{CancelReason, Ending};
use crate::untrusted::sanitize_line;
use table::{compare_table, summary};

/// What to change for the re-run.
pub struct Changes<'a> {
    pub model: Option<&'a str>,
    /// `KEY=VALUE` pairs laid over the recorded options at every point of the session.
    pub option_pairs: &'a [String],
}

impl Changes<'_> {
    /// Checks the pairs before anything is sent.
    pub fn check(&self) -> Result<(), OptionError> {
        let mut scratch = Options::default();
        self.option_pairs
            .iter()
            .try_for_each(|p| scratch.set_pair(p))
    }

    fn options(&self, recorded: &Options) -> Options {
        let mut o = recorded.clone();
        for p in self.option_pairs {
            if let Some((k, _)) = p.split_once('=') {
                o.unset(k.trim());
            }
        }
        for p in self.option_pairs {
            let _ = o.set_pair(p); // checked in `check`
        }
        o
    }
}

/// One thing the re-run does, in the recorded order.
#[derive(Debug, Clone, PartialEq)]
enum Step {
    /// A recorded change of state, made to the chat as the REPL's command would make it.
    Change(Change),
    /// A user message to send again, with what the recorded run got for it.
    Turn {
        content: String,
        /// As recorded (named only): their bytes are read from the blob folder before sending.
        images: Vec<Image>,
        old: Option<Reply>,
        old_model: String,
    },
}

/// The session's events as steps. The overrides are laid over every recorded option change and a
/// `--model` replaces every recorded switch. Replies and their tool results are what is being
/// redone, and the recorded `context` records are no guide for this run (another model, other
/// replies): its own context policy decides.
fn plan(loaded: &Loaded, changes: &Changes<'_>) -> Vec<Step> {
    let mut old_model = loaded.header.model.clone();
    let mut steps = Vec::new();
    for (i, e) in loaded.events.iter().enumerate() {
        let step = match &e.change {
            Change::User { content, images } => Step::Turn {
                content: content.clone(),
                images: images.clone(),
                old: reply_to(loaded, i),
                old_model: old_model.clone(),
            },
            Change::Assistant(_)
            | Change::Tool(_)
            | Change::Name { .. }
            | Change::Role { .. }
            | Change::Context { .. } => continue,
            Change::Model { model } => {
                old_model = model.clone();
                if changes.model.is_some() {
                    continue;
                }
                Step::Change(e.change.clone())
            }
            Change::Set { options, system } => Step::Change(Change::Set {
                options: options.as_ref().map(|o| changes.options(o)),
                system: system.clone(),
            }),
            other => Step::Change(other.clone()),
        };
        steps.push(step);
    }
    steps
}

/// The recorded reply to the user message at `events[i]`: the last one, which ended its tool
/// calls (if it made any).
fn reply_to(l: &Loaded, i: usize) -> Option<Reply> {
    l.events[i + 1..]
        .iter()
        .map(|e| &e.change)
        .take_while(|c| !matches!(c, Change::User { .. }))
        .filter_map(|c| match c {
            Change::Assistant(r) => Some(r.clone()),
            _ => None,
        })
        .last()
}

/// One re-run turn: the recorded reply and the new one.
#[derive(Debug)]
struct Compared {
    old: Option<Reply>,
    old_model: String,
    new: Reply,
    new_model: String,
}

/// How the run ended.
#[derive(Debug)]
enum End {
    /// Every step was taken.
    Finished,
    /// Ctrl-C.
    Interrupted,
    /// SIGTERM or SIGHUP: the turn's partial reply is kept (session, log) and the run ends with
    /// 128 + the signal.
    Signalled(StopSignal),
    /// A failure every later turn would repeat (no server, no such model, no key): no point
    /// sending them.
    Stopped(ApiError),
}

/// What the run did: the compared turns, the messages the context policy refused, and the end.
#[derive(Debug)]
struct Tally {
    results: Vec<Compared>,
    refused: usize,
    end: End,
}

impl Tally {
    /// The process's answer: the stopping error (its own exit code), 130 after Ctrl-C, 1 when any
    /// turn failed or was refused.
    fn exit(self) -> Result<ExitCode, ApiError> {
        match self.end {
            End::Stopped(e) => Err(e),
            End::Interrupted => Ok(ExitCode::Interrupted),
            End::Signalled(s) => Ok(s.exit_code()),
            End::Finished => {
                let failed =
                    self.refused > 0 || self.results.iter().any(|r| r.new.status != TurnStatus::Ok);
                Ok(if failed {
                    ExitCode::Error
                } else {
                    ExitCode::Success
                })
            }
        }
    }
}

/// Whether the run goes on after a turn (or a summarize call) that ended so.
fn end_after(ending: Ending) -> Option<End> {
    match ending {
        Ending::Cancelled(CancelReason::Interrupt) => Some(End::Interrupted),
        Ending::Cancelled(CancelReason::Stopped(s)) => Some(End::Signalled(s)),
        Ending::Failed(e) if e.kind().is_fatal_for_every_turn() => Some(End::Stopped(e)),
        _ => None,
    }
}

/// Where the re-run prints: the comparison on `out`, errors on `err`.
struct Screen<O: Write, E: Write> {
    out: O,
    err: E,
    style: Style,
    /// New replies rendered as markdown, as the chat would show them (on a terminal).
    markdown: Option<MarkdownView>,
}

impl<O: Write, E: Write> Screen<O, E> {
    fn dim(&mut self, text: &str) -> io::Result<()> {
        writeln!(self.out, "{}", self.style.dim(text))
    }

    fn error(&mut self, text: &str) -> io::Result<()> {
        writeln!(self.err, "{}", self.style.red(&format!("error: {text}")))
    }

    /// The question, and the recorded reply, before the new one streams in.
    fn turn(
        &mut self,
        n: usize,
        total: usize,
        content: &str,
        old: Option<&Reply>,
        old_model: &str,
        new_model: &str,
    ) -> io::Result<()> {
        writeln!(self.out)?;
        self.dim(&format!("── turn {n}/{total} ──"))?;
        writeln!(self.out, ">>> {}", sanitize(content))?;
        self.dim(&format!("old · {old_model}"))?;
        match old {
            Some(r) if !r.content.is_empty() => {
                writeln!(self.out, "{}", sanitize(r.content.trim_end()))?
            }
            Some(_) => {}
            None => self.dim("(no reply was recorded)")?,
        }
        self.dim(&format!("new · {new_model}"))
    }

    /// The summary, and where the re-run was saved.
    fn finish(&mut self, results: &[Compared], session: Option<&SessionWriter>) -> io::Result<()> {
        writeln!(self.out, "\n{}", summary(results))?;
        if let Some(w) = session.filter(|w| w.started()) {
            let saved = format!(
                "Saved as session {} ({})",
                short_id(&w.id()),
                w.path().display()
            );
            self.dim(&saved)?;
        }
        self.out.flush()
    }
}

/// Re-runs `loaded` and prints the comparison on stdout.
pub fn rerun(
    rt: &Runtime,
    client: &Backend,
    config: &Config,
    term: &Term,
    loaded: &Loaded,
    changes: &Changes<'_>,
) -> anyhow::Result<ExitCode> {
    let mut chat = rerun_chat(client, config, &loaded.header, changes);
    chat.dim_notes(term.stderr.color);
    crate::chat::tools::attach(rt, &mut chat, config)?;
    // Asked where a person can answer (keys on stdin, the prompt on stderr), as in one-shot.
    let mut approver: Box<dyn Approver> = if term.stdin_tty && term.stderr.tty {
        Box::new(crate::approve::TtyApprover {
            style: Style {
                color: term.stderr.color,
            },
        })
    } else {
        Box::new(Nobody)
    };
    let mut screen = Screen {
        out: io::stdout(),
        err: io::stderr(),
        style: Style {
            color: term.stdout.color,
        },
        markdown: MarkdownView::for_stdout(term, config.markdown, config.theme),
    };
    let mut steps = plan(loaded, changes);
    let blobs = match (&loaded.path, &config.session.dir) {
        (Some(path), _) => Some(Blobs::beside(path)),
        (None, Some(dir)) => Some(Blobs::of_folder(dir)),
        (None, None) => None,
    };
    for step in &mut steps {
        if let Step::Turn { images, .. } = step {
            for image in images.iter_mut() {
                let Some(blobs) = &blobs else {
                    return Err(SessionError::NoFolder.into());
                };
                *image = load_blob(blobs, image)?;
            }
        }
    }
    // SIGTERM and SIGHUP end a turn as Ctrl-C does, so its partial reply is saved and logged.
    let signals = Watcher::start(rt, term.stdout.tty);
    let tally = drive(
        rt,
        &mut chat,
        (&loaded.header, &steps),
        &mut screen,
        approver.as_mut(),
        || interrupted_or_stopped(signals.signalled()),
    )?;
    screen.finish(&tally.results, chat.session())?;
    if let End::Signalled(s) = &tally.end {
        crate::render::style::notice(format_args!("stopped by {}", s.name()));
    }
    Ok(tally.exit()?)
}

/// A chat on the recorded model (or `--model`) and options (with the overrides), saved as a new
/// session that names the one it re-runs, unless sessions are off.
fn rerun_chat<'a>(
    client: &'a Backend,
    config: &'a Config,
    recorded: &Header,
    changes: &Changes<'_>,
) -> Chat<'a> {
    let model = changes.model.unwrap_or(&recorded.model).to_string();
    let mut chat = Chat::new(client, config, model);
    chat.settings.options = changes.options(&recorded.options);
    chat.conversation = Conversation::new(recorded.system.clone());
    let dir = config.session.dir.as_deref();
    if let Some(dir) = dir.filter(|_| config.session.choice != SessionChoice::Off) {
        let mut header = Header::new(
            &chat.model,
            client.base_url(),
            recorded.system.as_deref(),
            &chat.settings.options,
        );
        header.rerun_of = Some(recorded.id);
        chat.attach_session(SessionWriter::create_in(dir, header), 0);
    }
    chat
}

/// Takes the steps in order, each turn through `chat.converse` (its tool calls decided by
/// `approver`) with `cancel` making each Ctrl-C future, and stops early after Ctrl-C or a failure
/// every later turn would repeat. Blocks on `rt`, outside async code, as asking the person does.
fn drive<O, E, C, F>(
    rt: &Runtime,
    chat: &mut Chat<'_>,
    (recorded, steps): (&Header, &[Step]),
    screen: &mut Screen<O, E>,
    approver: &mut dyn Approver,
    mut cancel: C,
) -> io::Result<Tally>
where
    O: Write,
    E: Write,
    C: FnMut() -> F,
    F: Future<Output = CancelReason>,
{
    let total = steps
        .iter()
        .filter(|s| matches!(s, Step::Turn { .. }))
        .count();
    let banner = format!(
        "Re-running session {} ({total} turns) with {} at {} · options: {}",
        short_id(&recorded.id),
        chat.model,
        chat.backend.base_url(),
        options_text(&chat.settings.options)
    );
    screen.dim(&banner)?;
    let mut tally = Tally {
        results: Vec::new(),
        refused: 0,
        end: End::Finished,
    };
    for step in steps {
        match step {
            Step::Change(change) => match chat.change(change.clone()) {
                Err(why) => screen.dim(&format!("(skipped a recorded change: {why})"))?,
                Ok(()) if matches!(change, Change::Model { .. }) => chat.ask_model_tools(rt),
                Ok(()) => {}
            },
            Step::Turn {
                content,
                images,
                old,
                old_model,
            } => {
                let n = tally.results.len() + tally.refused + 1;
                screen.turn(n, total, content, old.as_ref(), old_model, &chat.model)?;
                for image in images {
                    screen.dim(&sanitize_line(&describe_image(image)))?;
                }
                let recorded = (old.clone(), old_model.clone());
                let message = (content.as_str(), images.as_slice());
                let ask = (approver as &mut dyn Approver, &mut cancel);
                if let Some(end) = turn(rt, chat, screen, message, recorded, ask, &mut tally)? {
                    tally.end = end;
                    break;
                }
            }
        }
    }
    Ok(tally)
}

/// Sends one recorded message through the chat (answering the reply's tool calls: shown on the
/// screen's `err`), streams the new reply under the old one, and adds the comparison (of the last
/// replies) to the tally; `Some` when the run must end here.
fn turn<O: Write, E: Write, C: Future<Output = CancelReason>>(
    rt: &Runtime,
    chat: &mut Chat<'_>,
    screen: &mut Screen<O, E>,
    (content, images): (&str, &[Image]),
    (old, old_model): (Option<Reply>, String),
    (approver, cancel): (&mut dyn Approver, &mut impl FnMut() -> C),
    tally: &mut Tally,
) -> io::Result<Option<End>> {
    let new_model = chat.model.clone();
    let output = Output::Terminal {
        color: screen.style.color,
    };
    let mut renderer =
        Renderer::new(&mut screen.out, output, ThinkingTo::Hidden).with_markdown(screen.markdown);
    let question = Question {
        text: content.to_string(),
        images: images.to_vec(),
    };
    let sent = chat.converse(
        rt,
        question,
        &mut renderer,
        approver,
        &mut screen.err,
        &mut *cancel,
    );
    drop(renderer);
    let outcome = match sent {
        Ok(sent) => sent.into_outcome(),
        Err(not_sent) => {
            // The context policy refused it (or its summary failed): nothing to compare.
            screen.error(&not_sent.to_string())?;
            tally.refused += 1;
            return Ok(match not_sent.reason {
                NotSentReason::Summary(ending) => end_after(ending),
                NotSentReason::TooLarge(_)
                | NotSentReason::Full(_)
                | NotSentReason::CannotSee(_)
                | NotSentReason::CannotThink(_) => None,
            });
        }
    };
    let new = Reply::from_outcome(&outcome);
    write!(screen.out, "{}", compare_table(old.as_ref(), &new))?;
    tally.results.push(Compared {
        old,
        old_model,
        new,
        new_model,
    });
    match outcome.ending {
        Ending::Failed(e) if !e.kind().is_fatal_for_every_turn() => {
            screen.error(&e.to_string())?;
            Ok(None)
        }
        ending => Ok(end_after(ending)),
    }
}

#[cfg(test)]
mod tests;
