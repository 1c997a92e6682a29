//! `replay FILE --rerun`: every recorded user turn sent again, in order, to a live server, with the
//! history built from the new replies; old and new reply and numbers shown turn by turn, then a
//! summary. The re-run is a chat like any other: logged, and saved as a new session.

use std::io::{self, IsTerminal};

use tokio::runtime::Runtime;

use crate::backend::Backend;
use crate::chat::{ctrl_c, Chat, NotSentReason};
use crate::config::{Config, SessionChoice};
use crate::conversation::Conversation;
use crate::conversation::TurnStatus;
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

/// One re-run turn: the recorded reply and the new one.
struct Compared {
    old: Option<Reply>,
    old_model: String,
    new: Reply,
    new_model: String,
}

/// Re-runs `loaded` and prints the comparison on stdout.
pub fn rerun(
    rt: &Runtime,
    client: &Backend,
    config: &Config,
    loaded: &Loaded,
    changes: &Changes<'_>,
) -> anyhow::Result<ExitCode> {
    let h = &loaded.header;
    let mut chat = Chat::new(
        client,
        config,
        changes.model.unwrap_or(&h.model).to_string(),
    );
    chat.settings.options = changes.options(&h.options);
    chat.conversation = Conversation::new(h.system.clone());
    let dir = config.session.dir.as_deref();
    if config.session.choice != SessionChoice::Off {
        if let Some(dir) = dir {
            let mut header = Header::new(
                &chat.model,
                client.base_url(),
                h.system.as_deref(),
                &chat.settings.options,
            );
            header.rerun_of = Some(h.id);
            chat.attach_session(SessionWriter::create_in(dir, header), 0);
        }
    }

    let color = !config.no_color && io::stdout().is_terminal();
    let style = Style { color };
    let total = loaded
        .events
        .iter()
        .filter(|e| matches!(e.change, Change::User { .. }))
        .count();
    println!(
        "{}",
        style.dim(&format!(
            "Re-running session {} ({total} turns) with {} at {} · options: {}",
            short_id(&h.id),
            chat.model,
            client.base_url(),
            options_text(&chat.settings.options)
        ))
    );

    let mut recorded_model = h.model.clone();
    let mut results: Vec<Compared> = Vec::new();
    let mut stop: Option<anyhow::Error> = None;
    let mut interrupted = false;
    let mut refused = 0;
    for (i, e) in loaded.events.iter().enumerate() {
        let content = match &e.change {
            Change::User { content } => content,
            Change::Assistant(_) | Change::Name { .. } => continue,
            // What the recorded run dropped or summarised is no guide for this one (another
            // model, other replies): its own context policy decides.
            Change::Context { .. } => continue,
            Change::Model { model } => {
                recorded_model = model.clone();
                if changes.model.is_none() {
                    let _ = chat.change(e.change.clone());
                }
                continue;
            }
            Change::Set { options, system } => {
                let change = Change::Set {
                    options: options.as_ref().map(|o| changes.options(o)),
                    system: system.clone(),
                };
                let _ = chat.change(change);
                continue;
            }
            other => {
                if let Err(why) = chat.change(other.clone()) {
                    println!(
                        "{}",
                        style.dim(&format!("(skipped a recorded change: {why})"))
                    );
                }
                continue;
            }
        };
        let old = reply_to(loaded, i);
        println!(
            "\n{}",
            style.dim(&format!(
                "── turn {}/{total} ──",
                results.len() + refused + 1
            ))
        );
        println!(">>> {}", sanitize(content));
        println!("{}", style.dim(&format!("old · {recorded_model}")));
        match &old {
            Some(r) => {
                if !r.content.is_empty() {
                    println!("{}", sanitize(r.content.trim_end()));
                }
            }
            None => println!("{}", style.dim("(no reply was recorded)")),
        }
        println!("{}", style.dim(&format!("new · {}", chat.model)));
        let new_model = chat.model.clone();
        let sent = {
            let out = io::stdout();
            let mut renderer =
                Renderer::new(out.lock(), Output::Terminal { color }, ThinkingTo::Hidden);
            rt.block_on(chat.send(content, &mut renderer, ctrl_c()))
        };
        let outcome = match sent {
            Ok(sent) => sent.outcome,
            Err(not_sent) => {
                // The context policy refused it (or its summary failed): nothing to compare.
                eprintln!("{}", style.red(&format!("error: {not_sent}")));
                refused += 1;
                if matches!(
                    not_sent.reason,
                    NotSentReason::Summary(Ending::Cancelled(CancelReason::Interrupt))
                ) {
                    interrupted = true;
                    break;
                }
                continue;
            }
        };
        let new = Reply::from_outcome(&outcome);
        print!("{}", compare_table(old.as_ref(), &new));
        results.push(Compared {
            old,
            old_model: recorded_model.clone(),
            new,
            new_model,
        });
        match outcome.ending {
            Ending::Cancelled(CancelReason::Interrupt) => {
                interrupted = true;
                break;
            }
            Ending::Failed(e @ (ApiError::Unreachable { .. } | ApiError::ModelNotFound { .. })) => {
                stop = Some(e.into());
                break;
            }
            Ending::Failed(e) => eprintln!("{}", style.red(&format!("error: {e}"))),
            _ => {}
        }
    }

    println!("\n{}", summary(&results));
    if let Some(w) = chat.session() {
        if w.started() {
            println!(
                "{}",
                style.dim(&format!(
                    "Saved as session {} ({})",
                    short_id(&w.id()),
                    w.path().display()
                ))
            );
        }
    }
    if let Some(e) = stop {
        return Err(e);
    }
    if interrupted {
        return Ok(ExitCode::Interrupted);
    }
    let failed = refused > 0 || results.iter().any(|r| r.new.status != TurnStatus::Ok);
    Ok(if failed {
        ExitCode::Error
    } else {
        ExitCode::Success
    })
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
