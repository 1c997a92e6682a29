//! Shows a streaming reply: sanitised and styled on a terminal, byte for byte in a pipe.
//!
//! Layout: `style` (the client's own dim and red lines); `wrap` (word wrap at the terminal
//! width); `markdown` (replies rendered as markdown on a terminal, as they stream); `verbose`
//! (the statistics block after a reply); this file (the `ReplySink` the turn writes into, and the
//! one renderer that implements it for both kinds of output, with the `Output` a `Term` calls
//! for). The sanitiser itself is `crate::untrusted`.

pub mod markdown;
pub mod style;
pub mod verbose;
pub mod wrap;

use std::io::{self, Write};

use crate::term::Term;
pub use crate::untrusted::sanitize;
use markdown::{Markdown, MarkdownView};
use wrap::Wrapper;

const DIM: &str = "\x1b[2m";
const RESET: &str = "\x1b[0m";

/// Where a turn sends the reply as it arrives. `flush` is called once per network read, so a pipe
/// gets batches and a terminal sees every token as soon as it exists.
pub trait ReplySink {
    fn thinking(&mut self, text: &str) -> io::Result<()>;
    fn content(&mut self, text: &str) -> io::Result<()>;
    fn flush(&mut self) -> io::Result<()>;
    /// The reply is over (finished, failed or cancelled): restore styles, end the line.
    fn finish(&mut self) -> io::Result<()>;
}

/// What kind of output the renderer writes to, decided once at start-up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Output {
    /// A person reads it: sanitise, dim the thinking, end on a newline.
    Terminal { color: bool },
    /// A program reads it: the reply text exactly as the model produced it.
    Plain,
}

impl Output {
    /// For a reply that is the program's output (one-shot): sanitised and styled on a terminal,
    /// the model's bytes in a pipe.
    pub fn reply(term: &Term) -> Output {
        if term.stdout.tty {
            Output::Terminal {
                color: term.stdout.color,
            }
        } else {
            Output::Plain
        }
    }

    /// For text shown to a person (a replay): as [`Output::reply`], and also sanitised and styled
    /// in a pipe when colour is forced there (`--color always`, CLICOLOR_FORCE), since that pipe
    /// leads to a viewer such as `less -R`, where the model's escapes must not pass either.
    pub fn shown(term: &Term) -> Output {
        if term.stdout.tty || term.stdout.color {
            Output::Terminal {
                color: term.stdout.color,
            }
        } else {
            Output::Plain
        }
    }
}

/// Where thinking text goes besides the writer given to [`Renderer::thinking_aside`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ThinkingTo {
    /// Inline before the reply (the REPL, a replay).
    Inline,
    Hidden,
}

/// Where thinking goes, all three ways.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Thinking {
    Inline,
    /// To the second writer (stderr in one-shot mode), so the first stays the reply.
    Aside {
        color: bool,
    },
    Hidden,
}

/// Writes a reply to `W` (and thinking, when asked, to `E`). The same type serves terminals and
/// pipes so the turn code has one path.
pub struct Renderer<W: Write, E: Write = io::Sink> {
    out: W,
    err: E,
    output: Output,
    thinking_to: Thinking,
    in_thinking: bool,
    thought_aside: bool,
    at_line_start: bool,
    wrote_any: bool,
    /// Word wrap, on a terminal only.
    wrap: Option<Wrapper>,
    /// The reply's text rendered as markdown, on a terminal only (thinking never is).
    markdown: Option<Markdown>,
}

impl<W: Write> Renderer<W> {
    pub fn new(out: W, output: Output, thinking_to: ThinkingTo) -> Self {
        Renderer {
            out,
            err: io::sink(),
            output,
            thinking_to: match thinking_to {
                ThinkingTo::Inline => Thinking::Inline,
                ThinkingTo::Hidden => Thinking::Hidden,
            },
            in_thinking: false,
            thought_aside: false,
            at_line_start: true,
            wrote_any: false,
            wrap: None,
            markdown: None,
        }
    }
}

impl<W: Write, E: Write> Renderer<W, E> {
    /// Sends thinking to `err` instead (one-shot mode: stderr, when a person watches it), dimmed
    /// when `color`; sanitised, since only a terminal is given it.
    pub fn thinking_aside<E2: Write>(self, err: E2, color: bool) -> Renderer<W, E2> {
        Renderer {
            out: self.out,
            err,
            output: self.output,
            thinking_to: Thinking::Aside { color },
            in_thinking: self.in_thinking,
            thought_aside: self.thought_aside,
            at_line_start: self.at_line_start,
            wrote_any: self.wrote_any,
            wrap: self.wrap,
            markdown: self.markdown,
        }
    }

    /// Wraps terminal output at word boundaries to fit `width` columns. Plain output (a pipe) is
    /// never wrapped: it stays the model's bytes.
    pub fn with_wrap(mut self, width: Option<usize>) -> Self {
        if matches!(self.output, Output::Terminal { .. }) {
            self.wrap = width.filter(|w| *w > 0).map(Wrapper::new);
        }
        self
    }

    /// Renders the reply's text as markdown (`Some`), on a terminal only: a pipe keeps the
    /// model's bytes. Call after [`Renderer::with_wrap`], whose width the paragraphs follow.
    pub fn with_markdown(mut self, view: Option<MarkdownView>) -> Self {
        if let (Output::Terminal { color }, Some(view)) = (self.output, view) {
            self.markdown = Some(Markdown::new(view, color, self.wrap.is_some()));
        }
        self
    }

    pub fn into_inner(self) -> W {
        self.out
    }

    /// Whether what was written so far ends a line (a pipe's output ends where the model's did).
    pub fn at_line_start(&self) -> bool {
        self.at_line_start
    }

    /// Both writers: the reply's and the one thinking went aside to.
    pub fn into_parts(self) -> (W, E) {
        (self.out, self.err)
    }

    fn color(&self) -> bool {
        matches!(self.output, Output::Terminal { color: true })
    }

    fn write_text(&mut self, text: &str) -> io::Result<()> {
        if text.is_empty() {
            return Ok(());
        }
        match (self.output, self.wrap.as_mut()) {
            (Output::Plain, _) => self.out.write_all(text.as_bytes())?,
            (Output::Terminal { .. }, None) => self.out.write_all(sanitize(text).as_bytes())?,
            (Output::Terminal { .. }, Some(w)) => {
                let mut wrapped = String::with_capacity(text.len() + 8);
                w.push(&sanitize(text), &mut wrapped);
                self.out.write_all(wrapped.as_bytes())?;
            }
        }
        self.at_line_start = match &self.wrap {
            Some(w) => w.at_line_start(),
            None => text.ends_with('\n'),
        };
        self.wrote_any = true;
        Ok(())
    }

    /// Writes out a word the wrapper holds back, before styles change or the reply ends.
    fn flush_wrap(&mut self) -> io::Result<()> {
        if let Some(w) = self.wrap.as_mut() {
            let mut rest = String::new();
            w.flush(&mut rest);
            self.out.write_all(rest.as_bytes())?;
            self.at_line_start = w.at_line_start();
        }
        Ok(())
    }

    fn reset_wrap_column(&mut self) {
        if let Some(w) = self.wrap.as_mut() {
            *w = Wrapper::new(w.width());
        }
    }

    fn end_thinking(&mut self) -> io::Result<()> {
        if self.in_thinking {
            self.in_thinking = false;
            self.flush_wrap()?;
            if self.color() {
                self.out.write_all(RESET.as_bytes())?;
            }
            if !self.at_line_start {
                self.out.write_all(b"\n")?;
            }
            self.out.write_all(b"\n")?;
            self.at_line_start = true;
            self.reset_wrap_column();
        }
        if self.thought_aside {
            self.thought_aside = false;
            let dimmed = matches!(self.thinking_to, Thinking::Aside { color: true });
            let reset = if dimmed { RESET } else { "" };
            write!(self.err, "{reset}\n\n")?;
            self.err.flush()?;
        }
        Ok(())
    }
}

impl<W: Write, E: Write> ReplySink for Renderer<W, E> {
    fn thinking(&mut self, text: &str) -> io::Result<()> {
        if text.is_empty() {
            return Ok(());
        }
        match self.thinking_to {
            Thinking::Hidden => Ok(()),
            Thinking::Aside { color } => {
                if !self.thought_aside && color {
                    self.err.write_all(DIM.as_bytes())?;
                }
                self.thought_aside = true;
                self.err.write_all(sanitize(text).as_bytes())?;
                self.err.flush()
            }
            Thinking::Inline => {
                if !self.in_thinking {
                    self.in_thinking = true;
                    if self.color() {
                        self.out.write_all(DIM.as_bytes())?;
                    }
                }
                self.write_text(text)
            }
        }
    }

    fn content(&mut self, text: &str) -> io::Result<()> {
        if text.is_empty() {
            return Ok(());
        }
        self.end_thinking()?;
        if let Some(md) = self.markdown.as_mut() {
            md.push(&sanitize(text), &mut self.out)?;
            self.at_line_start = md.at_line_start();
            self.wrote_any = true;
            return Ok(());
        }
        self.write_text(text)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.out.flush()
    }

    fn finish(&mut self) -> io::Result<()> {
        self.end_thinking()?;
        if let Some(md) = self.markdown.as_mut() {
            md.finish(&mut self.out)?;
            self.at_line_start = md.at_line_start();
        }
        self.flush_wrap()?;
        if matches!(self.output, Output::Terminal { .. }) && self.wrote_any && !self.at_line_start {
            self.out.write_all(b"\n")?;
            self.at_line_start = true;
        }
        self.out.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn render(output: Output, thinking_to: ThinkingTo, steps: &[(&str, &str)]) -> String {
        let mut r = Renderer::new(Vec::new(), output, thinking_to);
        for (kind, text) in steps {
            match *kind {
                "t" => r.thinking(text).unwrap(),
                _ => r.content(text).unwrap(),
            }
        }
        r.finish().unwrap();
        String::from_utf8(r.into_inner()).unwrap()
    }

    #[test]
    fn plain_output_is_byte_for_byte() {
        let out = render(
            Output::Plain,
            ThinkingTo::Hidden,
            &[("t", "hmm"), ("c", "a\x1b[2Jb"), ("c", " 你好")],
        );
        assert_eq!(out, "a\x1b[2Jb 你好");
    }

    #[test]
    fn terminal_output_is_sanitised_and_ends_with_a_newline() {
        let out = render(
            Output::Terminal { color: false },
            ThinkingTo::Inline,
            &[("c", "a\x1b[2Jb")],
        );
        assert_eq!(out, "a␛[2Jb\n");
    }

    #[test]
    fn thinking_is_dimmed_then_separated() {
        let out = render(
            Output::Terminal { color: true },
            ThinkingTo::Inline,
            &[("t", "let me"), ("t", " think"), ("c", "Answer.")],
        );
        assert_eq!(out, "\x1b[2mlet me think\x1b[0m\n\nAnswer.\n");
    }

    #[test]
    fn terminal_output_wraps_but_pipes_never_do() {
        let steps = [("c", "alpha beta"), ("c", " gamma delta")];
        let mut r = Renderer::new(
            Vec::new(),
            Output::Terminal { color: false },
            ThinkingTo::Inline,
        )
        .with_wrap(Some(11));
        for (_, t) in steps {
            r.content(t).unwrap();
        }
        r.finish().unwrap();
        assert_eq!(
            String::from_utf8(r.into_inner()).unwrap(),
            "alpha beta \ngamma delta\n"
        );
        let mut r =
            Renderer::new(Vec::new(), Output::Plain, ThinkingTo::Hidden).with_wrap(Some(11));
        for (_, t) in steps {
            r.content(t).unwrap();
        }
        r.finish().unwrap();
        assert_eq!(
            String::from_utf8(r.into_inner()).unwrap(),
            "alpha beta gamma delta"
        );
    }

    #[test]
    fn wrapped_thinking_flushes_before_the_style_ends() {
        let mut r = Renderer::new(
            Vec::new(),
            Output::Terminal { color: true },
            ThinkingTo::Inline,
        )
        .with_wrap(Some(20));
        r.thinking("hmm ok").unwrap();
        r.content("Yes.").unwrap();
        r.finish().unwrap();
        assert_eq!(
            String::from_utf8(r.into_inner()).unwrap(),
            "\x1b[2mhmm ok\x1b[0m\n\nYes.\n"
        );
    }

    #[test]
    fn thinking_aside_goes_to_the_writer_given_dimmed_only_with_colour() {
        for (color, expect) in [
            (true, "\x1b[2mhmm ␛[2J\x1b[0m\n\n"),
            (false, "hmm ␛[2J\n\n"),
        ] {
            let mut r = Renderer::new(Vec::new(), Output::Plain, ThinkingTo::Hidden)
                .thinking_aside(Vec::new(), color);
            r.thinking("hmm ").unwrap();
            r.thinking("\x1b[2J").unwrap();
            r.content("Answer.").unwrap();
            r.finish().unwrap();
            let (out, err) = r.into_parts();
            assert_eq!(String::from_utf8(out).unwrap(), "Answer.");
            assert_eq!(String::from_utf8(err).unwrap(), expect);
        }
    }

    #[test]
    fn outputs_follow_the_terminal_description() {
        let pipes = Term::pipes();
        assert_eq!(Output::reply(&pipes), Output::Plain);
        assert_eq!(Output::shown(&pipes), Output::Plain);
        let forced = Term::new(crate::term::Inputs {
            color: crate::term::ColorChoice::Always,
            ..Default::default()
        });
        assert_eq!(Output::reply(&forced), Output::Plain, "a reply stays bytes");
        assert_eq!(Output::shown(&forced), Output::Terminal { color: true });
    }

    #[test]
    fn markdown_renders_the_reply_but_never_the_thinking_or_a_pipe() {
        let view = MarkdownView {
            theme: markdown::Theme::Ansi,
            hyperlinks: false,
            width: 40,
            height: None,
        };
        let mut r = Renderer::new(
            Vec::new(),
            Output::Terminal { color: true },
            ThinkingTo::Inline,
        )
        .with_wrap(Some(40))
        .with_markdown(Some(view));
        r.thinking("**not** rendered").unwrap();
        r.content("**yes**").unwrap();
        r.finish().unwrap();
        assert_eq!(
            String::from_utf8(r.into_inner()).unwrap(),
            "\x1b[2m**not** rendered\x1b[0m\n\n\x1b[0;1myes\x1b[0m\n\x1b[0m"
        );
        let mut r =
            Renderer::new(Vec::new(), Output::Plain, ThinkingTo::Hidden).with_markdown(Some(view));
        r.content("**yes**").unwrap();
        r.finish().unwrap();
        assert_eq!(String::from_utf8(r.into_inner()).unwrap(), "**yes**");
    }

    #[test]
    fn hidden_thinking_never_reaches_the_output() {
        let out = render(
            Output::Terminal { color: true },
            ThinkingTo::Hidden,
            &[("t", "secret"), ("c", "ok\n")],
        );
        assert_eq!(out, "ok\n");
    }
}
