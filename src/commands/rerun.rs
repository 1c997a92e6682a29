//! `replay FILE --rerun`: every recorded user turn sent again, in order, to a live server, with the
//! history built from the new replies; old and new reply and numbers shown turn by turn, then a
//! summary. The re-run is a chat like the REPL's: each turn goes through `Chat::send`, so it is
//! budgeted, logged, and saved as a new session.
//!
//! The session becomes a list of [`Step`]s (pure), the steps drive the chat, and everything is
//! printed through writers passed in, so the printing and the stopping rule are unit-tested.

use std::future::Future;
use std::io::{self, IsTerminal, Write};

use tokio::runtime::Runtime;

use crate::backend::Backend;
use crate::chat::{ctrl_c, Chat, NotSentReason};
use crate::config::{Config, SessionChoice};
use crate::conversation::{Conversation, TurnStatus};
use crate::error::ApiError;
use crate::exit_code::ExitCode;
use crate::options::{OptionError, Options};
use crate::render::style::Style;
use crate::render::{sanitize, Output, Renderer, ThinkingTo};
use crate::session::format::{Change, Header, Reply};
use crate::session::load::Loaded;
use crate::session::replay::options_text;
use crate::session::short_id;
use crate::session::store::SessionWriter;
use crate::table;
use crate::turn::{CancelReason, Ending};

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
        old: Option<Reply>,
        old_model: String,
    },
}

/// The session's events as steps. The overrides are laid over every recorded option change and a
/// `--model` replaces every recorded switch. Replies are what is being redone, and the recorded
/// `context` records are no guide for this run (another model, other replies): its own context
/// policy decides.
fn plan(loaded: &Loaded, changes: &Changes<'_>) -> Vec<Step> {
    let mut old_model = loaded.header.model.clone();
    let mut steps = Vec::new();
    for (i, e) in loaded.events.iter().enumerate() {
        let step = match &e.change {
            Change::User { content } => Step::Turn {
                content: content.clone(),
                old: reply_to(loaded, i),
                old_model: old_model.clone(),
            },
            Change::Assistant(_) | Change::Name { .. } | Change::Context { .. } => continue,
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

/// The recorded reply to the user message at `events[i]`.
fn reply_to(l: &Loaded, i: usize) -> Option<Reply> {
    l.events[i + 1..]
        .iter()
        .map(|e| &e.change)
        .take_while(|c| !matches!(c, Change::User { .. }))
        .find_map(|c| match c {
            Change::Assistant(r) => Some(r.clone()),
            _ => None,
        })
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
        Ending::Failed(e) if e.kind().is_fatal_for_every_turn() => Some(End::Stopped(e)),
        _ => None,
    }
}

/// Where the re-run prints: the comparison on `out`, errors on `err`.
struct Screen<O: Write, E: Write> {
    out: O,
    err: E,
    style: Style,
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
    loaded: &Loaded,
    changes: &Changes<'_>,
) -> anyhow::Result<ExitCode> {
    let mut chat = rerun_chat(client, config, &loaded.header, changes);
    let mut screen = Screen {
        out: io::stdout(),
        err: io::stderr(),
        style: Style {
            color: !config.no_color && io::stdout().is_terminal(),
        },
    };
    let steps = plan(loaded, changes);
    let tally = rt.block_on(drive(
        &mut chat,
        &loaded.header,
        &steps,
        &mut screen,
        ctrl_c,
    ))?;
    screen.finish(&tally.results, chat.session())?;
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

/// Takes the steps in order, each turn through `chat.send` with `cancel()` as its Ctrl-C, and
/// stops early after Ctrl-C or a failure every later turn would repeat.
async fn drive<O, E, C, F>(
    chat: &mut Chat<'_>,
    recorded: &Header,
    steps: &[Step],
    screen: &mut Screen<O, E>,
    mut cancel: C,
) -> io::Result<Tally>
where
    O: Write,
    E: Write,
    C: FnMut() -> F,
    F: Future<Output = ()>,
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
            Step::Change(change) => {
                if let Err(why) = chat.change(change.clone()) {
                    screen.dim(&format!("(skipped a recorded change: {why})"))?;
                }
            }
            Step::Turn {
                content,
                old,
                old_model,
            } => {
                let n = tally.results.len() + tally.refused + 1;
                screen.turn(n, total, content, old.as_ref(), old_model, &chat.model)?;
                let recorded = (old.clone(), old_model.clone());
                if let Some(end) =
                    turn(chat, screen, content, recorded, cancel(), &mut tally).await?
                {
                    tally.end = end;
                    break;
                }
            }
        }
    }
    Ok(tally)
}

/// Sends one recorded message through the chat, streams the new reply under the old one, and
/// adds the comparison to the tally; `Some` when the run must end here.
async fn turn<O: Write, E: Write>(
    chat: &mut Chat<'_>,
    screen: &mut Screen<O, E>,
    content: &str,
    (old, old_model): (Option<Reply>, String),
    cancel: impl Future<Output = ()>,
    tally: &mut Tally,
) -> io::Result<Option<End>> {
    let new_model = chat.model.clone();
    let output = Output::Terminal {
        color: screen.style.color,
    };
    let mut renderer = Renderer::new(&mut screen.out, output, ThinkingTo::Hidden);
    let sent = chat.send(content, &mut renderer, cancel).await;
    drop(renderer);
    let outcome = match sent {
        Ok(sent) => sent.outcome,
        Err(not_sent) => {
            // The context policy refused it (or its summary failed): nothing to compare.
            screen.error(&not_sent.to_string())?;
            tally.refused += 1;
            return Ok(match not_sent.reason {
                NotSentReason::Summary(ending) => end_after(ending),
                NotSentReason::TooLarge(_) | NotSentReason::Full(_) => None,
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

fn secs(x: Option<f64>) -> String {
    x.map_or_else(|| "-".into(), |s| format!("{s:.2} s"))
}

fn tokens(r: Option<&Reply>) -> String {
    match r.and_then(|r| r.prompt_tokens.zip(r.completion_tokens)) {
        Some((p, c)) => format!("{p} + {c}"),
        None => "-".into(),
    }
}

fn status(r: Option<&Reply>) -> String {
    match r.map(|r| r.status) {
        Some(TurnStatus::Ok) => "ok".into(),
        Some(TurnStatus::Cancelled) => "cancelled".into(),
        Some(TurnStatus::Error) => "error".into(),
        None => "-".into(),
    }
}

/// Old and new numbers of one turn, one row each.
fn compare_table(old: Option<&Reply>, new: &Reply) -> String {
    let row = |label: &str, r: Option<&Reply>| {
        vec![
            label.to_string(),
            status(r),
            secs(r.map(|r| r.latency)),
            secs(r.and_then(|r| r.ttft)),
            tokens(r),
        ]
    };
    table::render(&[
        vec![
            String::new(),
            "status".into(),
            "latency".into(),
            "first text".into(),
            "tokens (prompt + reply)".into(),
        ],
        row("old", old),
        row("new", Some(new)),
    ])
}

/// The table after the last turn: every turn's old and new numbers, then the totals.
fn summary(results: &[Compared]) -> String {
    let mut rows = vec![vec![
        "turn".to_string(),
        "old model".into(),
        "new model".into(),
        "old latency".into(),
        "new latency".into(),
        "old first text".into(),
        "new first text".into(),
        "old tokens".into(),
        "new tokens".into(),
        "new status".into(),
    ]];
    for (i, r) in results.iter().enumerate() {
        rows.push(vec![
            (i + 1).to_string(),
            r.old_model.clone(),
            r.new_model.clone(),
            secs(r.old.as_ref().map(|o| o.latency)),
            secs(Some(r.new.latency)),
            secs(r.old.as_ref().and_then(|o| o.ttft)),
            secs(r.new.ttft),
            count(r.old.as_ref()),
            count(Some(&r.new)),
            status(Some(&r.new)),
        ]);
    }
    let sum = |f: &dyn Fn(&Compared) -> Option<f64>| {
        let v: Vec<f64> = results.iter().filter_map(f).collect();
        (!v.is_empty()).then(|| v.iter().sum::<f64>())
    };
    let mean = |f: &dyn Fn(&Compared) -> Option<f64>| {
        let v: Vec<f64> = results.iter().filter_map(f).collect();
        (!v.is_empty()).then(|| v.iter().sum::<f64>() / v.len() as f64)
    };
    let total_tokens = |f: &dyn Fn(&Compared) -> Option<u64>| {
        let v: Vec<u64> = results.iter().filter_map(f).collect();
        if v.is_empty() {
            "-".to_string()
        } else {
            v.iter().sum::<u64>().to_string()
        }
    };
    rows.push(vec![
        "total".into(),
        String::new(),
        String::new(),
        secs(sum(&|r| r.old.as_ref().map(|o| o.latency))),
        secs(sum(&|r| Some(r.new.latency))),
        format!(
            "mean {}",
            secs(mean(&|r| r.old.as_ref().and_then(|o| o.ttft)))
        ),
        format!("mean {}", secs(mean(&|r| r.new.ttft))),
        total_tokens(&|r| r.old.as_ref().and_then(|o| o.completion_tokens)),
        total_tokens(&|r| r.new.completion_tokens),
        format!(
            "{}/{} ok",
            results
                .iter()
                .filter(|r| r.new.status == TurnStatus::Ok)
                .count(),
            results.len()
        ),
    ]);
    table::render(&rows)
}

fn count(r: Option<&Reply>) -> String {
    r.and_then(|r| r.completion_tokens)
        .map_or_else(|| "-".into(), |c| c.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::session::load::parse;

    /// Two questions with a model switch, an option change, a context record and a name between.
    const SESSION: &str = concat!(
        r#"{"kind":"session","version":1,"id":"2e20de3d-d339-4a37-a9ad-3d908f72d5ad","created":"2026-11-29T01:14:49.215Z","model":"first","host":"http://127.0.0.1:1","system":"be brief","options":{"temperature":0.7}}"#,
        "\n",
        r#"{"at":"2026-11-29T01:14:50.799Z","kind":"user","content":"one?"}"#,
        "\n",
        r#"{"at":"2026-11-29T01:14:50.800Z","kind":"assistant","content":"ONE","status":"ok","latency":0.5,"ttft":0.1,"prompt_tokens":3,"completion_tokens":2}"#,
        "\n",
        r#"{"at":"2026-11-29T01:14:51.000Z","kind":"model","model":"second"}"#,
        "\n",
        r#"{"at":"2026-11-29T01:14:51.100Z","kind":"set","options":{"temperature":0.9,"seed":1}}"#,
        "\n",
        r#"{"at":"2026-11-29T01:14:51.200Z","kind":"context","dropped":[1,2]}"#,
        "\n",
        r#"{"at":"2026-11-29T01:14:52.000Z","kind":"user","content":"two?"}"#,
        "\n",
        r#"{"at":"2026-11-29T01:14:53.000Z","kind":"name","name":"n"}"#,
        "\n",
    );

    fn loaded() -> Loaded {
        parse(SESSION.as_bytes(), None).unwrap()
    }

    fn turn_of(step: &Step) -> (&str, Option<&Reply>, &str) {
        match step {
            Step::Turn {
                content,
                old,
                old_model,
            } => (content, old.as_ref(), old_model),
            Step::Change(c) => panic!("a change, not a turn: {c:?}"),
        }
    }

    #[test]
    fn a_session_becomes_turns_and_the_changes_between_them() {
        let pairs = vec!["temperature=0".to_string()];
        let changes = Changes {
            model: None,
            option_pairs: &pairs,
        };
        let steps = plan(&loaded(), &changes);
        assert_eq!(steps.len(), 4, "{steps:?}");
        let (content, old, model) = turn_of(&steps[0]);
        assert_eq!((content, model), ("one?", "first"));
        assert_eq!(old.map(|r| r.content.as_str()), Some("ONE"));
        assert_eq!(
            steps[1],
            Step::Change(Change::Model {
                model: "second".into()
            })
        );
        let Step::Change(Change::Set {
            options: Some(o), ..
        }) = &steps[2]
        else {
            panic!("{:?}", steps[2]);
        };
        assert_eq!(
            serde_json::to_string(o).unwrap(),
            r#"{"seed":1,"temperature":0.0}"#
        );
        // No reply was recorded to the last question; the context record and the name are gone.
        assert_eq!(turn_of(&steps[3]), ("two?", None, "second"));
    }

    #[test]
    fn a_new_model_replaces_every_recorded_switch() {
        let changes = Changes {
            model: Some("other"),
            option_pairs: &[],
        };
        let steps = plan(&loaded(), &changes);
        assert_eq!(steps.len(), 3, "{steps:?}");
        // The old column still names the model the recorded run used.
        assert_eq!(turn_of(&steps[2]).2, "second");
    }

    #[test]
    fn only_failures_that_every_turn_would_repeat_stop_the_run() {
        let refused = ApiError::Unauthorized {
            url: "u".into(),
            status: 401,
            message: "no".into(),
            key_var: "OPENAI_API_KEY",
            key_sent: false,
        };
        let Some(End::Stopped(e)) = end_after(Ending::Failed(refused)) else {
            panic!("an unauthorized turn stops the run");
        };
        assert_eq!(e.exit_code(), ExitCode::Unauthorized);
        let server = ApiError::InStream {
            server: "Ollama",
            message: "oops".into(),
        };
        assert!(end_after(Ending::Failed(server)).is_none());
        assert!(end_after(Ending::Failed(ApiError::Incomplete)).is_none());
        assert!(end_after(Ending::Done).is_none());
        assert!(end_after(Ending::Cancelled(CancelReason::OutputClosed)).is_none());
        assert!(matches!(
            end_after(Ending::Cancelled(CancelReason::Interrupt)),
            Some(End::Interrupted)
        ));
    }

    #[test]
    fn exit_codes_follow_the_end_and_the_turns() {
        let ok = |status| Compared {
            old: None,
            old_model: "a".into(),
            new: reply(0.1, None, None, status),
            new_model: "a".into(),
        };
        let tally = |results, refused, end| Tally {
            results,
            refused,
            end,
        };
        let code = |t: Tally| t.exit().unwrap();
        assert_eq!(
            code(tally(vec![ok(TurnStatus::Ok)], 0, End::Finished)),
            ExitCode::Success
        );
        assert_eq!(
            code(tally(vec![ok(TurnStatus::Error)], 0, End::Finished)),
            ExitCode::Error
        );
        assert_eq!(code(tally(vec![], 1, End::Finished)), ExitCode::Error);
        assert_eq!(
            code(tally(vec![], 0, End::Interrupted)),
            ExitCode::Interrupted
        );
        let missing = ApiError::ModelNotFound {
            model: "x".into(),
            detail: String::new(),
        };
        let err = tally(vec![], 0, End::Stopped(missing)).exit().unwrap_err();
        assert_eq!(err.exit_code(), ExitCode::ModelNotFound);
    }

    fn screen() -> Screen<Vec<u8>, Vec<u8>> {
        Screen {
            out: Vec::new(),
            err: Vec::new(),
            style: Style { color: false },
        }
    }

    #[test]
    fn a_turn_shows_the_question_and_the_old_reply_sanitised() {
        let mut s = screen();
        let old = reply(0.5, Some(0.1), Some(2), TurnStatus::Ok);
        let old = Reply {
            content: "ONE\x1b[2J\n".into(),
            ..old
        };
        s.turn(1, 2, "one?\x07", Some(&old), "first", "second")
            .unwrap();
        s.turn(2, 2, "two?", None, "second", "second").unwrap();
        let out = String::from_utf8(s.out).unwrap();
        assert!(!out.contains('\x1b') && !out.contains('\x07'), "{out:?}");
        assert!(out.starts_with("\n── turn 1/2 ──\n>>> one?"), "{out:?}");
        assert!(out.contains("old · first\nONE"), "{out:?}");
        assert!(out.contains("new · second\n\n── turn 2/2 ──"), "{out:?}");
        assert!(
            out.ends_with("old · second\n(no reply was recorded)\nnew · second\n"),
            "{out:?}"
        );
        assert!(s.err.is_empty());
    }

    /// A real chat against an address where nothing listens: the first turn fails in a way every
    /// turn would, so the second is never sent and the run ends with exit code 3.
    #[tokio::test]
    async fn the_run_stops_at_the_first_turn_no_server_can_answer() {
        let cli = <crate::cli::Cli as clap::Parser>::try_parse_from([
            "ollama-chat",
            "--no-session",
            "--no-log",
        ])
        .unwrap();
        let env = |k: &str| (k == "OLLAMA_HOST").then(|| "127.0.0.1:1".to_string());
        let config = Config::resolve(cli, &env).unwrap();
        let backend = Backend::new(config.api, &config.base_url, None).unwrap();
        let l = loaded();
        let changes = Changes {
            model: None,
            option_pairs: &[],
        };
        let mut chat = rerun_chat(&backend, &config, &l.header, &changes);
        let mut s = screen();
        let steps = plan(&l, &changes);
        let tally = drive(&mut chat, &l.header, &steps, &mut s, std::future::pending)
            .await
            .unwrap();
        s.finish(&tally.results, chat.session()).unwrap();
        assert_eq!(tally.results.len(), 1);
        let err = tally.exit().unwrap_err();
        assert_eq!(err.exit_code(), ExitCode::Unreachable);
        let out = String::from_utf8(s.out).unwrap();
        assert!(
            out.starts_with(
                "Re-running session 2e20de3d (2 turns) with first at http://127.0.0.1:1"
            ),
            "{out}"
        );
        assert!(
            out.contains("── turn 1/2 ──") && !out.contains("turn 2/2"),
            "{out}"
        );
        assert!(out.contains("0/1 ok"), "{out}");
        // The stopping error is the caller's to print, once.
        assert!(s.err.is_empty(), "{:?}", String::from_utf8_lossy(&s.err));
    }

    fn reply(latency: f64, ttft: Option<f64>, tokens: Option<u64>, status: TurnStatus) -> Reply {
        Reply {
            content: "x".into(),
            thinking: String::new(),
            status,
            error: None,
            latency,
            ttft,
            prompt_tokens: tokens.map(|_| 5),
            completion_tokens: tokens,
            tokens_per_second: None,
            done_reason: None,
        }
    }

    #[test]
    fn overrides_replace_recorded_options_everywhere() {
        let pairs = vec!["temperature=0".to_string(), "stop=END".to_string()];
        let c = Changes {
            model: None,
            option_pairs: &pairs,
        };
        assert!(c.check().is_ok());
        let mut rec = Options::default();
        rec.set("temperature", "0.7").unwrap();
        rec.set("stop", "a").unwrap();
        rec.set("seed", "1").unwrap();
        let o = c.options(&rec);
        assert_eq!(
            serde_json::to_string(&o).unwrap(),
            r#"{"seed":1,"stop":["END"],"temperature":0.0}"#
        );
        let bad = vec!["temprature=1".to_string()];
        let c = Changes {
            model: None,
            option_pairs: &bad,
        };
        assert!(c.check().is_err());
    }

    #[test]
    fn summary_totals() {
        let results = vec![
            Compared {
                old: Some(reply(1.0, Some(0.2), Some(10), TurnStatus::Ok)),
                old_model: "a".into(),
                new: reply(0.5, Some(0.1), Some(4), TurnStatus::Ok),
                new_model: "b".into(),
            },
            Compared {
                old: None,
                old_model: "a".into(),
                new: reply(0.25, None, None, TurnStatus::Error),
                new_model: "b".into(),
            },
        ];
        let s = summary(&results);
        let last = s.lines().last().unwrap();
        let cells: Vec<&str> = last.split("  ").filter(|c| !c.trim().is_empty()).collect();
        let cells: Vec<&str> = cells.iter().map(|c| c.trim()).collect();
        assert_eq!(
            cells,
            [
                "total",
                "1.00 s",
                "0.75 s",
                "mean 0.20 s",
                "mean 0.10 s",
                "10",
                "4",
                "1/2 ok"
            ]
        );
        assert!(s.lines().nth(2).unwrap().contains("error"));
    }
}
