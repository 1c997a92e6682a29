//! One question, one answer on stdout, nothing else there: the mode for pipes and scripts.

use std::io::{self, BufWriter, Read, Write};

use tokio::runtime::Runtime;

use crate::approve::TtyApprover;
use crate::attach::read::read_text;
use crate::attach::{load_image, load_text, Attachment};
use crate::backend::Backend;
use crate::chat::tools::{Approver, Nobody};
use crate::chat::{interrupted_or_stopped, NotSentReason, Question, WindowCheck};
use crate::config::Config;
use crate::exit_code::ExitCode;
use crate::render::markdown::MarkdownView;
use crate::render::style::Style;
use crate::render::verbose::write_stats;
use crate::render::{Output, Renderer, ReplySink, ThinkingTo};
use crate::signals::{StopSignal, Watcher};
use crate::term::Term;
use crate::turn::{CancelReason, Ending};
use crate::untrusted::sanitize_line;
use crate::UsageError;

/// Builds the one user message from `-p` and piped stdin (`-p` first, then a blank line, then
/// stdin). Takes stdin's text by value and builds the message in it: a prompt of hundreds of
/// megabytes is not copied.
pub fn compose_input(prompt: Option<&str>, stdin: Option<String>) -> Result<String, UsageError> {
    let stdin = stdin
        .map(|mut s| {
            s.truncate(s.trim_end_matches(['\n', '\r']).len());
            s
        })
        .filter(|s| !s.trim().is_empty());
    let prompt = prompt.filter(|p| !p.trim().is_empty());
    match (prompt, stdin) {
        (Some(p), Some(mut s)) => {
            s.insert_str(0, &format!("{p}\n\n"));
            Ok(s)
        }
        (Some(p), None) => Ok(p.to_string()),
        (None, Some(s)) => Ok(s),
        (None, None) => Err(UsageError(
            "nothing to send: give a prompt with -p or pipe text on stdin".into(),
        )),
    }
}

/// The most stdin is read: far beyond any context window, and short of what would exhaust memory
/// when something endless is piped in (`/dev/zero`, `yes`).
const MAX_STDIN: u64 = 1 << 30;

/// Piped stdin, read whole into one buffer; nothing when stdin is a terminal (`-p` alone).
fn read_stdin(term: &Term) -> anyhow::Result<Option<String>> {
    if term.stdin_tty {
        return Ok(None);
    }
    read_capped(io::stdin().lock(), MAX_STDIN).map(Some)
}

fn read_capped(input: impl Read, max: u64) -> anyhow::Result<String> {
    let mut bytes = Vec::new();
    input.take(max + 1).read_to_end(&mut bytes)?;
    if bytes.len() as u64 > max {
        return Err(UsageError(format!(
            "stdin is larger than {} MiB; nothing was sent",
            max >> 20
        ))
        .into());
    }
    String::from_utf8(bytes).map_err(|_| UsageError("stdin is not UTF-8 text".into()).into())
}

/// The files of `--image` and `-f` (`-` is stdin), read before anything is sent: one that cannot
/// be attached is one line and exit code 2, and nothing goes out.
pub fn load_attachments(attach: &crate::config::Attach) -> Result<Vec<Attachment>, UsageError> {
    let refuse =
        |e: crate::attach::AttachError| UsageError(sanitize_line(&e.to_string()).into_owned());
    let mut out = Vec::new();
    for path in &attach.images {
        out.push(Attachment::Image(
            load_image(path, attach.max_size).map_err(refuse)?,
        ));
    }
    for f in &attach.files {
        let text = match f.as_str() {
            "-" => read_text(io::stdin().lock(), "stdin", attach.max_size),
            path => load_text(std::path::Path::new(path), attach.max_size),
        };
        out.push(Attachment::Text(text.map_err(refuse)?));
    }
    Ok(out)
}

/// Runs one turn and maps its ending to the exit code.
pub fn run(
    rt: &Runtime,
    backend: &Backend,
    config: &Config,
    term: &Term,
) -> anyhow::Result<ExitCode> {
    // `-f -` takes stdin as a file; otherwise piped stdin is part of the message.
    let stdin_is_a_file = config.attach.files.iter().any(|f| f == "-");
    let stdin = match stdin_is_a_file {
        true => None,
        false => read_stdin(term)?,
    };
    let attachments = load_attachments(&config.attach)?;
    let input = match compose_input(config.prompt.as_deref(), stdin) {
        Err(_) if !attachments.is_empty() => String::new(),
        other => other?,
    };
    if term.stderr.tty {
        for a in &attachments {
            crate::render::style::notice(format_args!("{}", sanitize_line(&a.describe())));
        }
    }
    let (input, images) = crate::attach::compose(&input, attachments);
    // From here on SIGTERM and SIGHUP end the turn, not the process: the partial reply is saved.
    let signals = Watcher::start(rt, term.stdout.tty);
    let (mut chat, notices) = crate::chat::session::start_chat(rt, backend, config, false)?;
    chat.dim_notes(term.stderr.color);
    // One question: no later request needs the window this one was given.
    chat.window_check = WindowCheck::Never;
    if term.stderr.tty {
        for n in notices {
            crate::render::style::notice(format_args!("{n}"));
        }
    }
    if let Some(w) = chat.log_warning() {
        crate::render::style::warn(format_args!("{w}"));
    }

    let renderer = Renderer::new(
        BufWriter::with_capacity(64 * 1024, io::stdout().lock()),
        Output::reply(term),
        ThinkingTo::Hidden,
    )
    .with_markdown(MarkdownView::for_stdout(
        term,
        config.markdown,
        config.theme,
    ));
    // Thinking never reaches stdout; a person watching stderr sees it there. (Not locked for the
    // whole turn: diagnostics from the runtime's thread write there too.)
    crate::chat::tools::attach(rt, &mut chat, config)?;
    // Calls are asked about only where a person can answer: keys on stdin, the prompt on stderr.
    let mut approver: Box<dyn Approver> = if term.stdin_tty && term.stderr.tty {
        Box::new(TtyApprover {
            style: Style {
                color: term.stderr.color,
            },
        })
    } else {
        Box::new(Nobody)
    };
    let cancel = || interrupted_or_stopped(signals.signalled());
    let mut notes = io::stderr();
    let question = Question {
        text: input,
        images,
    };
    // Thinking aside on stderr only for a person watching it. The renderer (and its buffered
    // stdout) ends with this block, before anything else is written.
    let sent = {
        let (mut plain, mut aside);
        let sink: &mut dyn ReplySink = if term.stderr.tty {
            aside = renderer.thinking_aside(io::stderr(), term.stderr.color);
            &mut aside
        } else {
            plain = renderer;
            &mut plain
        };
        chat.converse(rt, question, sink, approver.as_mut(), &mut notes, cancel)
    };
    let outcome = match sent {
        Ok(sent) => sent.into_outcome(),
        Err(not_sent) => {
            return match not_sent.reason {
                NotSentReason::TooLarge(_)
                | NotSentReason::Full(_)
                | NotSentReason::CannotSee(_)
                | NotSentReason::CannotThink(_) => Err(UsageError(not_sent.to_string()).into()),
                NotSentReason::Summary(Ending::Cancelled(CancelReason::Interrupt)) => {
                    crate::render::style::notice(format_args!("interrupted"));
                    Ok(ExitCode::Interrupted)
                }
                NotSentReason::Summary(Ending::Cancelled(CancelReason::Stopped(s))) => {
                    said_stopped(s);
                    Ok(s.exit_code())
                }
                NotSentReason::Summary(_) => Err(not_sent.into()),
            };
        }
    };
    if !matches!(outcome.ending, Ending::Failed(_)) {
        write_stats(
            &mut io::stderr().lock(),
            config.verbose,
            config.stats_json,
            &chat.model,
            outcome.stats.as_ref(),
            outcome.ttft,
            outcome.elapsed,
        );
    }
    // The warning said what was lost when it happened; the exit code says it to a script.
    if chat.not_saved().is_some() && matches!(outcome.ending, Ending::Done) {
        return Ok(ExitCode::Error);
    }
    match outcome.ending {
        Ending::Done | Ending::Cancelled(CancelReason::OutputClosed) => Ok(ExitCode::Success),
        Ending::Cancelled(CancelReason::Interrupt) => {
            crate::render::style::notice(format_args!("interrupted"));
            Ok(ExitCode::Interrupted)
        }
        Ending::Cancelled(CancelReason::Stopped(s)) => {
            said_stopped(s);
            Ok(s.exit_code())
        }
        Ending::Failed(e) => Err(e.into()),
    }
}

/// One line on stderr (which may be gone, after a hang-up: then nothing).
fn said_stopped(s: StopSignal) {
    let _ = writeln!(io::stderr(), "ollama-chat: stopped by {}", s.name());
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prompt_and_stdin_become_one_message() {
        let s = |t: &str| Some(t.to_string());
        assert_eq!(
            compose_input(Some("summarise this"), s("line 1\nline 2\n")).unwrap(),
            "summarise this\n\nline 1\nline 2"
        );
        assert_eq!(compose_input(Some("q"), None).unwrap(), "q");
        assert_eq!(compose_input(None, s("問題\r\n")).unwrap(), "問題");
        assert_eq!(compose_input(Some("q"), s("\n\n")).unwrap(), "q");
    }

    #[test]
    fn nothing_to_send_is_a_usage_error() {
        assert!(compose_input(None, None).is_err());
        assert!(compose_input(Some("  "), Some(" \n".into())).is_err());
    }

    #[test]
    fn stdin_past_the_cap_is_refused_whole() {
        assert_eq!(read_capped(&b"12345"[..], 5).unwrap(), "12345");
        let e = read_capped(&b"123456"[..], 5).unwrap_err();
        assert!(e.downcast_ref::<UsageError>().is_some(), "exit 2: {e}");
        assert!(read_capped(&b"\xff"[..], 5).is_err());
    }
}
