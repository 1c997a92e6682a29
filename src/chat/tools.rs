//! The tool loop of one message: while the model's reply asks for tool calls, show each, let the
//! person decide, run the allowed ones, send the results back, until it answers without a call
//! or the step limit is reached. Every call gets a result in the history (a refusal, a stop), so
//! the history stays one the API accepts whatever happened.
//!
//! The loop runs outside async code: asking the person blocks on the terminal, and a blocking
//! read must not sit inside the runtime (as rustyline's does not). Requests and calls run on
//! the runtime, each raced against Ctrl-C.

use std::future::Future;
use std::io::Write;
use std::time::{Duration, Instant};

use tokio::runtime::Runtime;

use super::{Chat, ContextLog, HistoryEffect, NotSent, NotSentReason, Question, Sent};
use crate::conversation::{Approval, ToolCall, ToolStatus};
use crate::log::ToolLog;
use crate::render::style::Style;
use crate::render::ReplySink;
use crate::session::{Change, Event, Reply, ToolRecord};
use crate::tools::{show, ToolDef, ToolError};
use crate::turn::{CancelReason, Ending, TurnOutcome};

/// What the person answered about one call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Answer {
    Yes,
    No,
    /// Yes, and do not ask again for this tool in this chat.
    Always,
    /// Ctrl-C at the prompt: no more calls.
    Stop,
}

/// What `/tools` does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ToolsSwitch {
    List,
    On,
    Off,
}

/// Who decides about calls that are not allowed ahead.
pub trait Approver {
    /// Asks about one call and blocks until answered; `None` when nobody can be asked (no
    /// terminal), which refuses the call.
    fn ask(&mut self, call: &ToolCall, tool: &ToolDef) -> Option<Answer>;
}

/// The approver of a run without a terminal: nobody to ask.
pub struct Nobody;

impl Approver for Nobody {
    fn ask(&mut self, _: &ToolCall, _: &ToolDef) -> Option<Answer> {
        None
    }
}

/// Gives the chat its tools when the run offers any, and says before the first message when the
/// model cannot take them (its capabilities in `/api/show` lack `tools`): they are turned off.
pub fn attach(
    rt: &Runtime,
    chat: &mut Chat<'_>,
    config: &crate::config::Config,
) -> Result<(), crate::UsageError> {
    let settings = &config.tools;
    if settings.builtins.is_empty() && settings.mcp.is_empty() {
        return Ok(());
    }
    let toolbox = crate::tools::Toolbox::new(settings.clone()).map_err(crate::UsageError)?;
    let ask = toolbox.enabled();
    chat.tools = Some(toolbox);
    if ask {
        chat.ask_model_tools(rt);
    }
    Ok(())
}

/// `/tools`: each tool, what it may do and whether it asks.
fn list_text(tools: &crate::tools::Toolbox) -> String {
    use std::fmt::Write as _;
    let mut out = format!(
        "Tools are {}.\n",
        if tools.enabled() { "on" } else { "off" }
    );
    for d in tools.defs() {
        let asks = match tools.allowed_ahead(&d.spec.name) {
            Some(_) => "runs without asking",
            None => "asks first",
        };
        let _ = writeln!(
            out,
            "  {:<22} {asks}; {}",
            crate::untrusted::sanitize_line(&d.spec.name),
            d.kind.describe()
        );
    }
    out
}

/// Whether a finished reply left tool calls to answer.
pub(super) fn has_calls(outcome: &TurnOutcome) -> bool {
    matches!(outcome.ending, Ending::Done) && !outcome.tool_calls.is_empty()
}

/// What became of one call.
struct Answered {
    approval: Approval,
    status: ToolStatus,
    content: String,
    took: Duration,
    /// Ctrl-C stopped it: no later call runs and no reply is asked for.
    stop: Option<CancelReason>,
}

impl Answered {
    fn not_run(approval: Approval, content: impl Into<String>) -> Self {
        Answered {
            approval,
            status: ToolStatus::Refused,
            content: content.into(),
            took: Duration::ZERO,
            stop: None,
        }
    }
}

impl Chat<'_> {
    /// Turns the tools off, saying so before anything is sent, when the chat's model cannot take
    /// them (`capabilities` from its `/api/show` lacks `tools`), and back on for a model that can
    /// when a model turned them off. An empty list (a server that does not say) changes nothing.
    /// At start and after `/model`, with the facts the switch fetched.
    pub fn follow_model_tools(&mut self, capabilities: &[crate::untrusted::Untrusted]) {
        let caps: Vec<&str> = capabilities.iter().map(|c| c.raw()).collect();
        let Some(tools) = self.tools.as_mut().filter(|_| !caps.is_empty()) else {
            return;
        };
        let model = crate::untrusted::sanitize_line(&self.model);
        match tools.follow_model(caps.contains(&"tools")) {
            Some(false) => self.warn(&format!(
                "{model} does not support tools (its capabilities: {}); chatting without them",
                crate::untrusted::sanitize_line(&caps.join(", "))
            )),
            Some(true) => self.note(&format!("{model} supports tools: they are on again.")),
            None => {}
        }
    }

    /// Asks the server whether the chat's model takes tools (`/api/show`, where the server has it)
    /// and follows the answer: for a chat with tools, at start and after a recorded model switch
    /// in a re-run. (The REPL's `/model` has the answer already.)
    pub fn ask_model_tools(&mut self, rt: &Runtime) {
        if self.tools.is_none() || !self.backend.capabilities().model_facts {
            return;
        }
        if let Ok(info) = rt.block_on(self.backend.model_info(&self.model)) {
            self.follow_model_tools(&info.capabilities);
        }
    }

    /// Runs `/tools [on|off|list]` and says what it did (text ending in a newline, sanitised).
    pub fn tools_command(&mut self, rt: &Runtime, switch: ToolsSwitch) -> String {
        let Some(tools) = self.tools.as_mut() else {
            return "No tools in this chat: start it with --tools NAMES (or --mcp NAME=COMMAND).\n"
                .into();
        };
        match switch {
            ToolsSwitch::On => {
                tools.set_enabled(true);
                let notes = rt.block_on(tools.start_servers());
                for n in notes {
                    self.warn(&n);
                }
                "Tools are on: the model may call them.\n".into()
            }
            ToolsSwitch::Off => {
                tools.set_enabled(false);
                "Tools are off: requests carry none.\n".into()
            }
            ToolsSwitch::List => {
                for n in rt.block_on(tools.start_servers()) {
                    self.warn(&n);
                }
                list_text(self.tools.as_ref().expect("checked above"))
            }
        }
    }

    /// Drops tool calls from a reply when this chat offers no tools (a server that sends them
    /// anyway): nobody could answer them, and an unanswered call breaks the next request.
    pub(super) fn keep_answerable_calls(&self, outcome: &mut TurnOutcome) {
        if self.tools.is_none() && !outcome.tool_calls.is_empty() {
            tracing::debug!(
                "ignoring {} tool calls: no tools are offered",
                outcome.tool_calls.len()
            );
            outcome.tool_calls.clear();
        }
    }

    /// Sends `input` and answers the reply's tool calls until the model answers without one.
    /// `notes` is where calls and results are shown (stderr); `cancel` makes a Ctrl-C future for
    /// each request and call. Without tools it is [`Chat::send`].
    pub fn converse<S, C>(
        &mut self,
        rt: &Runtime,
        question: Question,
        sink: &mut S,
        approver: &mut dyn Approver,
        notes: &mut dyn Write,
        mut cancel: impl FnMut() -> C,
    ) -> Result<Sent, NotSent>
    where
        S: ReplySink + ?Sized,
        C: Future<Output = CancelReason>,
    {
        if let Some(tools) = self.tools.as_mut() {
            for line in rt.block_on(tools.start_servers()) {
                self.warn(&line);
            }
        }
        let Question { text, images } = question;
        let mut sent = rt.block_on(self.send_with(text, images, sink, cancel()))?;
        let mut steps = 0u32;
        while has_calls(&sent.outcome) && sent.effect == HistoryEffect::Kept {
            steps += 1;
            let Some(tools) = self.tools.as_ref() else {
                break;
            };
            let limit = tools.settings().max_steps;
            let refusal = if !tools.enabled() {
                Some("Not run: tools are turned off.".to_string())
            } else if steps > limit {
                Some(format!(
                    "Not run: the limit of {limit} tool steps for one message was reached."
                ))
            } else {
                None
            };
            let style = Style {
                color: self.notes.color,
            };
            let mut logs = Vec::new();
            let mut stopped = None;
            for call in sent.outcome.tool_calls.clone() {
                let _ = show::write_call(notes, &call, style);
                let answered = match (&refusal, stopped) {
                    (Some(why), _) => Answered::not_run(Approval::NotAsked, why.clone()),
                    (None, Some(_)) => Answered::not_run(
                        Approval::NotAsked,
                        "Not run: the user stopped the tool calls.",
                    ),
                    (None, None) => self.answer(rt, &call, approver, &mut cancel),
                };
                let _ = show::write_result(
                    notes,
                    answered.status,
                    &answered.content,
                    answered.took,
                    style,
                );
                stopped = stopped.or(answered.stop);
                logs.push(self.keep_result(&call, answered));
            }
            let (pending, images) = self.pending_log.take().unwrap_or_default();
            self.record_with_tools(None, &images, &sent.outcome, &pending, logs);
            if let Some(why) = refusal {
                if steps > limit {
                    self.warn(&format!(
                        "the model asked for tools {steps} times for one message; stopped at the limit (--max-tool-steps {limit})"
                    ));
                } else {
                    self.warn(&why);
                }
                break;
            }
            if stopped.is_some() {
                sent.tools_stopped = stopped;
                break;
            }
            sent = match rt.block_on(self.follow_up(sink, cancel())) {
                Ok(next) => next,
                Err(why) => {
                    sent.tools_stopped = Some(why);
                    break;
                }
            };
        }
        if let Some((pending, images)) = self.pending_log.take() {
            self.record_turn(None, &images, &sent.outcome, &pending);
        }
        Ok(sent)
    }

    /// Decides about one call (allowed ahead, or asked) and runs it if allowed.
    fn answer<C: Future<Output = CancelReason>>(
        &mut self,
        rt: &Runtime,
        call: &ToolCall,
        approver: &mut dyn Approver,
        cancel: &mut impl FnMut() -> C,
    ) -> Answered {
        let tools = self.tools.as_mut().expect("the loop runs with tools");
        let Some(def) = tools.lookup(&call.name).cloned() else {
            return Answered::not_run(
                Approval::NotAsked,
                format!("There is no tool called {}.", call.name),
            );
        };
        let approval = match tools.allowed_ahead(&call.name) {
            Some(a) => a,
            None => match approver.ask(call, &def) {
                None => Approval::Unattended,
                Some(Answer::Yes) => Approval::Yes,
                Some(Answer::No) => Approval::No,
                Some(Answer::Always) => {
                    tools.allow_always(&call.name);
                    Approval::Always
                }
                Some(Answer::Stop) => {
                    let mut a = Answered::not_run(Approval::No, "The user stopped the tool calls.");
                    a.stop = Some(CancelReason::Interrupt);
                    return a;
                }
            },
        };
        match approval {
            Approval::No => {
                return Answered::not_run(approval, "The user declined to run this call.")
            }
            Approval::Unattended => {
                self.warn(&format!(
                    "refused {}: no terminal to ask, and it was not allowed ahead (--allow-tool {})",
                    crate::untrusted::sanitize_line(&call.name),
                    crate::untrusted::sanitize_line(&call.name)
                ));
                return Answered::not_run(
                    approval,
                    "Not run: nobody is there to approve it and it was not allowed ahead.",
                );
            }
            _ => {}
        }
        let start = Instant::now();
        let ran = rt.block_on(async {
            tokio::select! {
                r = tools.run(call) => Ok(r),
                why = cancel() => Err(why),
            }
        });
        let took = start.elapsed();
        let (status, content, stop) = match ran {
            Ok(Ok(text)) => (ToolStatus::Ok, text, None),
            Ok(Err(e @ ToolError::TimedOut(_))) => (ToolStatus::Cancelled, e.to_string(), None),
            Ok(Err(e)) => (ToolStatus::Error, e.to_string(), None),
            Err(why) => (
                ToolStatus::Cancelled,
                format!("Stopped: {}.", why.describe()),
                Some(why),
            ),
        };
        Answered {
            approval,
            status,
            content,
            took,
            stop,
        }
    }

    /// Puts one call's result into the history and the session; returns its log entry.
    fn keep_result(&mut self, call: &ToolCall, a: Answered) -> ToolLog {
        // A file or a command's output may hold the key this client sends (a `.env`, `env`), an
        // MCP server's output the token it was given: blanked like any text the client writes.
        let content = self.backend.secrets().scrub(&a.content);
        let content = match &self.tools {
            Some(t) => t.secrets().scrub(&content).into_owned(),
            None => content.into_owned(),
        };
        let record = ToolRecord {
            name: call.name.clone(),
            call_id: call.id.clone(),
            approval: a.approval,
            status: a.status,
            content,
            duration: (a.took.as_secs_f64() * 1000.0).round() / 1000.0,
        };
        self.conversation.push_message(record.message());
        let log = ToolLog {
            name: record.name.clone(),
            approval: record.approval,
            status: record.status,
            duration: record.duration,
            arguments: Some(call.arguments.to_string()),
            result: Some(record.content.clone()),
        };
        self.save(Event::now(Change::Tool(record)), false);
        log
    }

    /// Sends the history again after tool results, with no new message: the model's next reply.
    /// Budgeted like a turn (older exchanges truncated or summarised as the strategy says; the
    /// question, its calls and results go whole), and like a turn sent once more, budgeted for
    /// the real window, when the server says its window is smaller than believed. What cannot
    /// fit (too large, or the `fail` strategy) is said and sent anyway, never cut: the server
    /// refuses it, and says so. `Err` when Ctrl-C stopped a summarize call: no reply is asked for.
    async fn follow_up<S, C>(&mut self, sink: &mut S, cancel: C) -> Result<Sent, CancelReason>
    where
        S: ReplySink + ?Sized,
        C: Future<Output = CancelReason>,
    {
        tokio::pin!(cancel);
        let (mut prepared, mut fits) = self.budget_follow_up(cancel.as_mut()).await?;
        let mut refused = false;
        let (sent, mut outcome) = loop {
            let (sent, outcome) = self
                .send_history(!prepared.overflow, sink, cancel.as_mut())
                .await;
            let Some((prompt_tokens, window)) = super::window_refusal(&outcome) else {
                break (sent, outcome);
            };
            // Sent knowing it does not fit, or already once more: the refusal is the answer.
            if refused || !fits || !outcome.content.is_empty() {
                break (sent, outcome);
            }
            refused = true;
            self.window_was_smaller(
                prompt_tokens,
                window,
                &prepared.log,
                "what is sent with the tool results",
            );
            (prepared, fits) = self.budget_follow_up(cancel.as_mut()).await?;
        };
        self.keep_answerable_calls(&mut outcome);
        let reply = Reply::from_outcome(&outcome).without_secrets(self.backend.secrets());
        let message = reply.message();
        let joins = reply.joins_history();
        self.save(
            Event {
                at: outcome.started_at,
                change: Change::Assistant(reply),
            },
            true,
        );
        if joins {
            self.conversation.push_message(message);
        }
        let server_truncated = self.after_reply(sent, &outcome, &prepared).await;
        let log = ContextLog {
            call: "tool_result",
            server_truncated,
            ..prepared.log.clone()
        };
        if has_calls(&outcome) {
            self.pending_log = Some((log, Vec::new()));
        } else {
            self.record_turn(None, &[], &outcome, &log);
        }
        Ok(Sent {
            outcome,
            effect: HistoryEffect::Kept,
            context: prepared.log.action,
            tools_stopped: None,
        })
    }

    /// The budget of a follow-up, and whether it fits; what cannot fit is said, and sent uncut
    /// for the server to refuse. `Err` when Ctrl-C stopped a summarize call.
    async fn budget_follow_up<C>(
        &mut self,
        cancel: std::pin::Pin<&mut C>,
    ) -> Result<(super::context::Prepared, bool), CancelReason>
    where
        C: Future<Output = CancelReason>,
    {
        match self.prepare_context(self.turns, cancel).await {
            Ok(p) => Ok((p, true)),
            Err(NotSentReason::Summary(Ending::Cancelled(why))) => Err(why),
            Err(reason) => {
                let why = NotSent {
                    reason,
                    input: String::new(),
                };
                self.note(&format!(
                    "context: the tool results do not fit as they are ({}); sending them anyway, uncut",
                    why.to_string().trim_end_matches('.')
                ));
                Ok((super::context::Prepared::default(), false))
            }
        }
    }
}
