//! Shows a saved session as it happened: who said what, each reply's numbers, and every change of
//! state; all at once, or paced like the original (`--speed`). Needs no server. Replies go through
//! the same renderer as a live one, so a replay looks like the chat did.

use std::io::{self, Write};
use std::time::Duration;

use crate::attach::describe_image;
use crate::render::markdown::MarkdownView;
use crate::render::style::Style;
use crate::render::{sanitize, Output, Renderer, ReplySink, ThinkingTo};
use crate::session::format::{Change, Reply};
use crate::session::load::Loaded;
use crate::session::short_id;
use crate::session::state::SessionState;
use crate::session::text::{describe, options_text, stats_text};
use crate::term::Term;
use crate::untrusted::sanitize_line;

/// Pauses between pieces of a paced replay; tests pass one that only records the pauses.
pub trait Pacer {
    fn pause(&mut self, d: Duration);
}

/// Really waits (the `--speed` replay).
pub struct Sleep;

impl Pacer for Sleep {
    fn pause(&mut self, d: Duration) {
        std::thread::sleep(d);
    }
}

/// Time spent by the user between turns is shown at most this long (before `--speed`), so an
/// hour-long coffee break does not stall the replay.
const MAX_GAP: Duration = Duration::from_secs(3);
/// A reply is shown in at most this many pieces.
const MAX_PIECES: usize = 400;

/// How to show a replay.
#[derive(Debug, Clone, Copy)]
pub struct View {
    /// Sanitised and styled for a person, or the recorded bytes.
    pub output: Output,
    /// Wrap replies at this many columns (on a terminal).
    pub width: Option<usize>,
    /// Replay at this multiple of the recorded pace; `None`: everything at once.
    pub speed: Option<f64>,
    /// Replies rendered as markdown (on a terminal, as in the chat).
    pub markdown: Option<MarkdownView>,
}

impl View {
    /// As the terminal is: a replay on a terminal looks like the live chat, one in a pipe is plain
    /// text (styled only when colour is forced there).
    pub fn new(term: &Term, speed: Option<f64>) -> View {
        View {
            output: Output::shown(term),
            width: term.stdout.tty.then_some(term.width),
            speed,
            markdown: None,
        }
    }

    fn terminal(&self) -> bool {
        matches!(self.output, Output::Terminal { .. })
    }

    fn style(&self) -> Style {
        Style {
            color: matches!(self.output, Output::Terminal { color: true }),
        }
    }
}

/// Writes the whole session to `out`.
pub fn replay<W: Write>(
    l: &Loaded,
    out: &mut W,
    view: View,
    pacer: &mut dyn Pacer,
) -> io::Result<()> {
    let mut r = Replayer {
        out,
        view,
        pacer,
        state: SessionState::from_header(&l.header),
    };
    r.header(l)?;
    let mut last_end = l.header.created;
    for e in &l.events {
        if let Change::User { .. } = e.change {
            let gap = (e.at - last_end).to_std().unwrap_or_default().min(MAX_GAP);
            r.pause(gap);
        }
        r.event(&e.change)?;
        last_end = e.at;
        if let Change::Assistant(reply) = &e.change {
            last_end += chrono::Duration::milliseconds((reply.latency * 1000.0) as i64);
        }
        // Events were checked when the file was loaded.
        let _ = r.state.apply(e);
    }
    r.out.flush()
}

struct Replayer<'a, W: Write> {
    out: &'a mut W,
    view: View,
    pacer: &'a mut dyn Pacer,
    state: SessionState,
}

impl<W: Write> Replayer<'_, W> {
    fn text(&self, s: &str) -> String {
        if self.view.terminal() {
            sanitize(s).into_owned()
        } else {
            s.to_string()
        }
    }

    fn dim(&self, s: &str) -> String {
        self.view.style().dim(s)
    }

    fn pause(&mut self, d: Duration) {
        let out = &mut *self.out;
        pause(self.view.speed, &mut *self.pacer, d, || out.flush());
    }

    fn header(&mut self, l: &Loaded) -> io::Result<()> {
        let h = &l.header;
        let st = &l.state;
        let name = st
            .name
            .as_ref()
            .map(|n| format!(" \"{}\"", self.text(n)))
            .unwrap_or_default();
        let line = format!(
            "Session {}{name} · started {} · {} at {}",
            short_id(&h.id),
            h.created
                .with_timezone(&chrono::Local)
                .format("%Y-%m-%d %H:%M"),
            self.text(&h.model),
            self.text(&h.host),
        );
        writeln!(self.out, "{}", self.dim(&line))?;
        if !h.options.is_empty() {
            let line = format!("Options: {}", options_text(&h.options));
            writeln!(self.out, "{}", self.dim(&line))?;
        }
        if let Some(s) = &h.system {
            let line = format!("System: {}", self.text(s));
            writeln!(self.out, "{}", self.dim(&line))?;
        }
        writeln!(self.out)
    }

    fn event(&mut self, change: &Change) -> io::Result<()> {
        match change {
            Change::User { content, images } => {
                let text = self.text(content);
                for (i, line) in text.split('\n').enumerate() {
                    let prompt = if i == 0 { ">>> " } else { "... " };
                    writeln!(self.out, "{prompt}{line}")?;
                }
                // The client's own note, sanitised even in a pipe (the name is from outside).
                for image in images {
                    let line = sanitize_line(&describe_image(image)).into_owned();
                    writeln!(self.out, "{}", self.dim(&line))?;
                }
                Ok(())
            }
            Change::Assistant(reply) => self.reply(reply),
            other => {
                let line = format!("── {} ──", self.text(&describe(other)));
                writeln!(self.out, "{}\n", self.dim(&line))
            }
        }
    }

    /// The thinking and the text through the live renderer (sanitised, wrapped, thinking dimmed
    /// on a terminal; the recorded bytes in a pipe), paced like the original.
    fn reply(&mut self, reply: &Reply) -> io::Result<()> {
        let View {
            output,
            width,
            speed,
            markdown,
        } = self.view;
        let pacer = &mut *self.pacer;
        let mut r = Renderer::new(&mut *self.out, output, ThinkingTo::Inline)
            .with_wrap(width)
            .with_markdown(markdown);
        r.thinking(reply.thinking.trim_end())?;
        let first = reply.ttft.unwrap_or(reply.latency).max(0.0);
        pause(speed, pacer, Duration::from_secs_f64(first), || r.flush());
        let rest = Duration::from_secs_f64((reply.latency - first).max(0.0));
        let pieces = split_even(
            &reply.content,
            reply.completion_tokens.map_or(1, |n| n as usize),
        );
        let each = rest / pieces.len().max(1) as u32;
        for p in &pieces {
            r.content(p)?;
            pause(speed, pacer, each, || r.flush());
        }
        r.finish()?;
        // A terminal's reply ends its line; a pipe's is the bytes, so the line is ended here.
        if !r.at_line_start() {
            drop(r);
            writeln!(self.out)?;
        }
        for call in &reply.tool_calls {
            let line = format!("⚙ {} {}", call.name, call.arguments);
            writeln!(self.out, "{}", self.dim(&self.text(&line)))?;
        }
        let stats = format!("[{}]", stats_text(&self.state.model, reply));
        writeln!(self.out, "{}\n", self.dim(&stats))
    }
}

/// Waits `d` (divided by `speed`) after flushing what is shown; without a speed, never.
fn pause(
    speed: Option<f64>,
    pacer: &mut dyn Pacer,
    d: Duration,
    flush: impl FnOnce() -> io::Result<()>,
) {
    if let Some(speed) = speed {
        if !d.is_zero() {
            let _ = flush();
            pacer.pause(d.div_f64(speed));
        }
    }
}

/// `s` in about `n` pieces of whole characters (at most `MAX_PIECES`).
fn split_even(s: &str, n: usize) -> Vec<&str> {
    let chars = s.chars().count();
    let n = n.clamp(1, MAX_PIECES).min(chars.max(1));
    let per = chars.div_ceil(n).max(1);
    let mut out = Vec::with_capacity(n);
    let mut start = 0;
    for (count, (i, _)) in s.char_indices().enumerate() {
        if count > 0 && count % per == 0 {
            out.push(&s[start..i]);
            start = i;
        }
    }
    out.push(&s[start..]);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::conversation::TurnStatus;
    use crate::options::Options;
    use crate::session::format::{event_line, header_line, Event, Header};
    use crate::session::load::parse;

    struct Record(Vec<Duration>);
    impl Pacer for Record {
        fn pause(&mut self, d: Duration) {
            self.0.push(d);
        }
    }

    fn session() -> Loaded {
        let h = Header::new("tiny", "http://h", Some("sys"), &Options::default());
        let t0 = h.created;
        let mut text = header_line(&h) + "\n";
        let reply = Reply {
            content: "四個字啊".into(),
            thinking: String::new(),
            status: TurnStatus::Ok,
            error: None,
            latency: 2.0,
            ttft: Some(0.5),
            prompt_tokens: Some(5),
            completion_tokens: Some(4),
            tokens_per_second: Some(2.0),
            done_reason: Some("stop".into()),
            tool_calls: Vec::new(),
        };
        for (secs, c) in [
            (
                1,
                Change::User {
                    content: "q".into(),
                    images: Vec::new(),
                },
            ),
            (1, Change::Assistant(reply)),
            (2, Change::Clear),
            (
                3600,
                Change::User {
                    content: "a\x1b[2Jb\nline 2".into(),
                    images: Vec::new(),
                },
            ),
        ] {
            let e = Event {
                at: t0 + chrono::Duration::seconds(secs),
                change: c,
            };
            text += &(event_line(&e) + "\n");
        }
        parse(text.as_bytes(), None).unwrap()
    }

    fn run(view: View) -> (String, Vec<Duration>) {
        let mut out = Vec::new();
        let mut pacer = Record(Vec::new());
        replay(&session(), &mut out, view, &mut pacer).unwrap();
        (String::from_utf8(out).unwrap(), pacer.0)
    }

    #[test]
    fn instant_replay_shows_everything_and_never_waits() {
        let view = View {
            output: Output::Plain,
            width: None,
            speed: None,
            markdown: None,
        };
        let (text, pauses) = run(view);
        assert!(pauses.is_empty());
        assert!(text.contains(
            ">>> q\n四個字啊\n[tiny · 2.00 s · first text 0.50 s · 5 + 4 tokens · 2.0 tokens/s]\n"
        ));
        assert!(text.contains("── cleared the conversation ──"));
        assert!(
            text.contains(">>> a\x1b[2Jb\n... line 2\n"),
            "a pipe gets the bytes"
        );
    }

    #[test]
    fn a_terminal_gets_sanitised_text() {
        let view = View {
            output: Output::Terminal { color: false },
            width: None,
            speed: None,
            markdown: None,
        };
        let (text, _) = run(view);
        assert!(text.contains(">>> a␛[2Jb"));
    }

    fn thinking_session() -> Loaded {
        let h = Header::new("tiny", "http://h", None, &Options::default());
        let reply = Reply {
            content: "alpha beta gamma delta".into(),
            thinking: "hmm\x1b[2J".into(),
            status: TurnStatus::Ok,
            error: None,
            latency: 1.0,
            ttft: None,
            prompt_tokens: None,
            completion_tokens: Some(4),
            tokens_per_second: None,
            done_reason: None,
            tool_calls: Vec::new(),
        };
        let mut text = header_line(&h) + "\n";
        for c in [
            Change::User {
                content: "q".into(),
                images: Vec::new(),
            },
            Change::Assistant(reply),
        ] {
            let e = Event {
                at: h.created,
                change: c,
            };
            text += &(event_line(&e) + "\n");
        }
        parse(text.as_bytes(), None).unwrap()
    }

    fn show(l: &Loaded, view: View) -> String {
        let mut out = Vec::new();
        replay(l, &mut out, view, &mut Record(Vec::new())).unwrap();
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn replies_look_like_the_live_chat_on_a_terminal() {
        let view = View {
            output: Output::Terminal { color: true },
            width: Some(12),
            speed: None,
            markdown: None,
        };
        let text = show(&thinking_session(), view);
        assert!(
            text.contains(">>> q\n\x1b[2mhmm␛[2J\x1b[0m\n\nalpha beta \ngamma delta\n\x1b[2m[tiny"),
            "dimmed, sanitised and wrapped thinking, then the wrapped reply: {text:?}"
        );
    }

    #[test]
    fn replies_in_a_pipe_are_plain_text() {
        let text = show(&thinking_session(), View::new(&Term::pipes(), None));
        assert!(
            text.contains(">>> q\nhmm\x1b[2J\n\nalpha beta gamma delta\n[tiny"),
            "{text:?}"
        );
    }

    #[test]
    fn paced_replay_follows_the_recorded_times() {
        let view = View {
            output: Output::Plain,
            width: None,
            speed: Some(2.0),
            markdown: None,
        };
        let (_, pauses) = run(view);
        // 1 s before the first question, then TTFT 0.5 s, then 4 pieces over 1.5 s; the hour
        // before the last question is capped at 3 s. All halved by --speed 2.
        let ms: Vec<u128> = pauses.iter().map(Duration::as_millis).collect();
        assert_eq!(ms, vec![500, 250, 187, 187, 187, 187, 1500]);
    }

    #[test]
    fn split_even_keeps_characters_whole() {
        assert_eq!(split_even("你好世界", 2), vec!["你好", "世界"]);
        assert_eq!(split_even("abc", 10), vec!["a", "b", "c"]);
        assert_eq!(split_even("", 3), vec![""]);
        assert_eq!(split_even("abcde", 1), vec!["abcde"]);
    }
}
