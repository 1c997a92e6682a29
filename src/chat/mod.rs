//! One run's chat: the model, the history, the turn log, and the rule for how each turn's outcome
//! changes the history and is recorded. Shared by the REPL, one-shot mode and `replay --rerun`.
//!
//! Layout: this file (the state and `send`); `context` (the context-window steps of a turn:
//! budget before, checks after, `/context`); `facts` (the model's facts from the cache and the
//! server in the background, and the REPL's preload); `session` (which session a chat starts with or
//! resumes, saving every change to it, `/save` and `/session`); `vision` (whether the model can
//! see the images attached, asked before sending).

pub mod context;
pub mod facts;
pub mod session;
pub mod tools;
pub mod vision;

use std::future::Future;

use serde_json::Value;
use uuid::Uuid;

use crate::backend::Backend;
use crate::config::Config;
use crate::context::ContextAction;
use crate::conversation::Conversation;
use crate::conversation::{ChatRequest, Image, Role, Think};
use crate::error::ApiError;
use crate::log::pause::{LogSwitch, Pause};
use crate::log::{ContextLog, TurnContext, TurnLog, TurnRecord};
use crate::options::Options;
use crate::render::style::Style;
use crate::render::ReplySink;
use crate::session::{Change, Event, Reply, SessionWriter};
use crate::signals::{interrupt_or_stop, StopSignal};
use crate::turn::{run_turn, CancelReason, Ending, TurnOutcome};
use context::ContextState;
pub use session::{pick_model, ModelChoice};

/// The live state of a chat.
pub struct Chat<'a> {
    pub backend: &'a Backend,
    pub config: &'a Config,
    pub model: String,
    pub conversation: Conversation,
    /// What the user may change mid-run (`/set …`); starts as the `Config` said.
    pub settings: ChatSettings,
    pub session_id: Uuid,
    /// What the client knows about the context window and how it budgets for it.
    pub context: ContextState,
    log: Option<TurnLog>,
    /// `/log off` pauses the log for the next turns.
    log_pause: Pause,
    turns: u32,
    /// How notes are styled on stderr.
    notes: Style,
    /// Where every turn and state change is saved, when sessions are on.
    session: Option<SessionWriter>,
    /// What could not be written ("the session", "the turn log"), so the run can end non-zero.
    not_saved: Vec<&'static str>,
    /// Which models can see images, as their capabilities said.
    vision: vision::VisionCache,
    /// The tools the model may call, when the run offers any (`--tools`, `--mcp`).
    pub tools: Option<crate::tools::Toolbox>,
    /// The log facts of a reply whose tool calls are being answered: its record is written
    /// once they have run, with them (and the images the question carried).
    pending_log: Option<(ContextLog, Vec<Image>)>,
    /// When the window our first reply got is read from `/api/ps`.
    pub(crate) window_check: WindowCheck,
}

/// When the window our first reply was given is read (`GET /api/ps`): a one-shot run has no
/// later request to budget, and the REPL reads it while the person types.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WindowCheck {
    /// Right after the reply (`replay --rerun`: the next turn follows at once).
    AfterReply,
    /// In the background, for the next turn.
    Background,
    /// Not at all (one question, one answer).
    Never,
}

/// The request settings of this run. The `Config` is read-only; these start from it and change
/// with the REPL's `/set` commands, and every request is built from them.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ChatSettings {
    pub options: Options,
    pub format: Option<Value>,
    pub think: Option<Think>,
    pub keep_alive: Option<Value>,
    /// The role in use (`--role`, `/role`), recorded with each turn.
    pub role: Option<String>,
}

impl ChatSettings {
    pub fn from_config(config: &Config) -> Self {
        ChatSettings {
            options: config.options.clone(),
            format: config.format.clone(),
            think: config.think.clone(),
            keep_alive: config.keep_alive.clone(),
            role: config.role.clone(),
        }
    }
}

/// What a turn did to the history.
#[derive(Debug, PartialEq, Eq)]
pub enum HistoryEffect {
    /// The exchange (possibly a partial reply) is now part of the history.
    Kept,
    /// Nothing came back, so the user's message was taken out of the history again; here it is,
    /// to offer for editing or resending.
    Returned(String),
}

/// What the person sends in one turn: the text, and the images attached to it.
pub struct Question {
    pub text: String,
    pub images: Vec<Image>,
}

/// A turn that was sent.
#[derive(Debug)]
pub struct Sent {
    pub outcome: TurnOutcome,
    pub effect: HistoryEffect,
    /// What the context strategy did to the history before sending, if anything (the removed
    /// messages are in `conversation.archived()`).
    pub context: Option<ContextAction>,
    /// The tool calls were stopped (Ctrl-C during a call or at its prompt): no reply followed.
    pub tools_stopped: Option<CancelReason>,
}

impl Sent {
    /// The turn's outcome, ended as cancelled when the tool calls were stopped.
    pub fn into_outcome(self) -> TurnOutcome {
        let mut outcome = self.outcome;
        if let Some(why) = self.tools_stopped {
            outcome.ending = Ending::Cancelled(why);
        }
        outcome
    }
}

/// A message that was not sent, handed back to the user.
#[derive(Debug)]
pub struct NotSent {
    pub reason: NotSentReason,
    pub input: String,
}

/// Why a message was not sent.
#[derive(Debug)]
pub enum NotSentReason {
    /// The message alone is larger than the context window (`--allow-overflow` sends it anyway).
    TooLarge(String),
    /// The history no longer fits and the strategy is `fail`.
    Full(String),
    /// The summarize strategy's call to the model failed or was interrupted.
    Summary(Ending),
    /// Images were attached and the model cannot see them (its capabilities say so).
    CannotSee(String),
    /// Thinking was asked of a model the server says cannot think.
    CannotThink(String),
}

impl std::fmt::Display for NotSent {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.reason {
            NotSentReason::TooLarge(m)
            | NotSentReason::Full(m)
            | NotSentReason::CannotSee(m)
            | NotSentReason::CannotThink(m) => f.write_str(m),
            NotSentReason::Summary(Ending::Failed(e)) => write!(
                f,
                "could not summarise the earlier conversation, so nothing was sent: {e} (try again, or /set context truncate)"
            ),
            NotSentReason::Summary(Ending::Cancelled(r)) => write!(
                f,
                "summarising the earlier conversation was stopped ({}), so nothing was sent",
                r.describe()
            ),
            NotSentReason::Summary(Ending::Done) => f.write_str(
                "the model returned an empty summary, so nothing was sent (try again, or /set context truncate)",
            ),
        }
    }
}

impl std::error::Error for NotSent {}

impl<'a> Chat<'a> {
    pub fn new(backend: &'a Backend, config: &'a Config, model: String) -> Self {
        Chat {
            backend,
            config,
            model,
            conversation: Conversation::new(config.system.clone()),
            settings: ChatSettings::from_config(config),
            session_id: Uuid::new_v4(),
            context: ContextState::new(config.context_strategy, config.allow_overflow),
            log: config.log_path.clone().map(|p| {
                TurnLog::new(p)
                    .content(config.log_content)
                    .rotation(config.log_rotation)
            }),
            log_pause: Pause::default(),
            turns: 0,
            notes: Style { color: false },
            session: None,
            not_saved: Vec::new(),
            vision: vision::VisionCache::default(),
            tools: None,
            pending_log: None,
            window_check: WindowCheck::AfterReply,
        }
    }

    /// A one-line warning about the log's permissions, if it has any to give.
    pub fn log_warning(&self) -> Option<String> {
        self.log.as_ref().and_then(TurnLog::permission_warning)
    }

    /// Runs `/log [on|off]`: pauses or resumes the log, and says what it did.
    pub fn log_command(&mut self, switch: &LogSwitch) -> String {
        self.log_pause
            .apply(switch, self.log.as_ref().map(TurnLog::path))
    }

    /// The streamed request for the history as it stands, with this chat's settings and tools;
    /// `strict_window` when the client budgeted it (the server must refuse, not cut).
    fn request(&self, strict_window: bool) -> ChatRequest<'_> {
        ChatRequest {
            model: &self.model,
            messages: self.conversation.messages(),
            stream: true,
            options: &self.settings.options,
            format: self.settings.format.as_ref(),
            think: self.settings.think.as_ref(),
            keep_alive: self.settings.keep_alive.as_ref(),
            tools: self.tools.as_ref().map_or(&[], |t| t.offered()),
            strict_window,
        }
    }

    /// Sends `input` with the history that fits, streams the reply into `sink`, and records the
    /// turn.
    ///
    /// Before sending, the history is budgeted against the context window and the strategy applied
    /// (the user is told what it did); a message that cannot be sent comes back as `NotSent`. A
    /// finished reply joins the history. A partial one (Ctrl-C, a dropped connection) joins it too,
    /// so what the model said stays visible to it. A turn with no reply at all leaves the history
    /// as it was and hands the input back.
    ///
    /// The message is moved into the history (a `&str` is copied once): the session, the log and
    /// the request read it there, so a huge prompt is not held twice.
    pub async fn send<S, C>(
        &mut self,
        input: impl Into<String>,
        sink: &mut S,
        cancel: C,
    ) -> Result<Sent, NotSent>
    where
        S: ReplySink + ?Sized,
        C: Future<Output = CancelReason>,
    {
        self.send_with(input.into(), Vec::new(), sink, cancel).await
    }

    /// [`send`](Self::send) with images. With Ollama the model's capabilities are asked first
    /// (once per model): a model that cannot see is refused here, with the installed models that
    /// can, rather than by the server's runner in words nobody can act on.
    pub async fn send_with<S, C>(
        &mut self,
        input: String,
        images: Vec<Image>,
        sink: &mut S,
        cancel: C,
    ) -> Result<Sent, NotSent>
    where
        S: ReplySink + ?Sized,
        C: Future<Output = CancelReason>,
    {
        tokio::pin!(cancel);
        let with_images = !images.is_empty();
        if with_images {
            if let Err(message) = self.vision.check(self.backend, &self.model).await {
                return Err(NotSent {
                    reason: NotSentReason::CannotSee(message),
                    input,
                });
            }
        }
        self.conversation.push_user_with(input, images);
        if let Some(reason) = self.cannot_think() {
            let input = self.conversation.pop_unanswered().unwrap_or_default();
            return Err(NotSent { reason, input });
        }
        if self.context.loading() {
            self.note(&format!("loading {}…", self.model));
        }
        let turn = self.turns + 1;
        let mut prepared = match self.prepare_context(turn, cancel.as_mut()).await {
            Ok(p) => p,
            Err(reason) => {
                let input = self.conversation.pop_unanswered().unwrap_or_default();
                return Err(NotSent { reason, input });
            }
        };
        // Saved only now: a message the context policy refused was never asked. Any `context`
        // record comes first; its indices are the same with or without this last message.
        if self.session.is_some() {
            // Built only to be saved: a huge message is not copied for nothing.
            let asked = Change::User {
                content: self.last_question().to_string(),
                images: last_images(&self.conversation).to_vec(),
            };
            self.save(Event::now(asked), false);
        }
        // Shares, not copies: kept for the log, as a reply that never came takes the question
        // (and its images) out of the history.
        let sent_images = last_images(&self.conversation).to_vec();
        let mut refused = false;
        let (sent, mut outcome) = loop {
            // Budgeted: a wrong estimate must be a refusal, never history lost on the server.
            let strict = prepared.log.window.is_some() && !prepared.overflow;
            let (sent, outcome) = self.send_history(strict, sink, cancel.as_mut()).await;
            let Some((prompt_tokens, window)) = window_refusal(&outcome) else {
                break (sent, outcome);
            };
            if refused || !outcome.content.is_empty() {
                break (sent, outcome);
            }
            // The window is smaller than believed: learn it, apply the strategy, send once more.
            refused = true;
            self.window_was_smaller(prompt_tokens, window, &prepared.log, "what is sent again");
            prepared = match self.prepare_context(turn, cancel.as_mut()).await {
                Ok(p) => p,
                Err(reason) => {
                    let input = self.conversation.pop_unanswered().unwrap_or_default();
                    return Err(NotSent { reason, input });
                }
            };
        };
        self.turns = turn;
        if with_images {
            if let Ending::Failed(e) = &mut outcome.ending {
                vision::explain_refusal(e, &self.model);
            }
        }
        self.keep_answerable_calls(&mut outcome);
        let reply = Reply::from_outcome(&outcome).without_secrets(self.backend.secrets());
        let message = reply.message();
        let reply = Change::Assistant(reply);
        self.save(
            Event {
                at: outcome.started_at,
                change: reply,
            },
            true,
        );

        let effect = match (&outcome.ending, outcome.content.is_empty()) {
            (Ending::Done, _) | (_, false) => {
                self.conversation.push_message(message);
                HistoryEffect::Kept
            }
            (_, true) => {
                HistoryEffect::Returned(self.conversation.pop_unanswered().unwrap_or_default())
            }
        };
        let server_truncated = self.after_reply(sent, &outcome, &prepared).await;
        let log = ContextLog {
            server_truncated,
            ..prepared.log.clone()
        };
        match &effect {
            HistoryEffect::Returned(input) => {
                self.record_turn(Some(input), &sent_images, &outcome, &log)
            }
            HistoryEffect::Kept if tools::has_calls(&outcome) => {
                self.pending_log = Some((log, sent_images))
            }
            HistoryEffect::Kept => self.record_turn(None, &sent_images, &outcome, &log),
        }
        Ok(Sent {
            outcome,
            effect,
            context: prepared.log.action,
            tools_stopped: None,
        })
    }

    /// Appends one record to the turn log (a chat turn or a summarize call), unless `/log off`
    /// paused it.
    pub(crate) fn record(&mut self, input: &str, outcome: &TurnOutcome, context: &ContextLog) {
        self.record_turn(Some(input), &[], outcome, context);
    }

    /// The same; `None` for the question still in the history (read there, not copied).
    fn record_turn(
        &mut self,
        input: Option<&str>,
        images: &[Image],
        outcome: &TurnOutcome,
        context: &ContextLog,
    ) {
        self.record_with_tools(input, images, outcome, context, Vec::new());
    }

    /// The same, with what became of the reply's tool calls.
    fn record_with_tools(
        &mut self,
        input: Option<&str>,
        images: &[Image],
        outcome: &TurnOutcome,
        context: &ContextLog,
        tools: Vec<crate::log::ToolLog>,
    ) {
        let turn = self.turns.max(1);
        let Some(log) = self.log.as_mut().filter(|_| !self.log_pause.paused) else {
            return;
        };
        let input = input.unwrap_or_else(|| last_question(&self.conversation));
        let ctx = TurnContext {
            session_id: &self.session_id,
            turn,
            model: &self.model,
            host: self.backend.base_url(),
            options: &self.settings.options,
            user_input: input,
            images,
            context,
        };
        let mut record = TurnRecord {
            role: self.settings.role.as_deref(),
            ..TurnRecord::new(&ctx, outcome)
        }
        .without_secrets(self.backend.secrets());
        record.tool_calls = tools;
        if let Err(e) = log.append(&record) {
            crate::render::style::warn(format_args!("{e}; the chat goes on without a log"));
            self.lost("the turn log");
        }
    }

    /// Refuses thinking for a model the server says cannot think, before anything is sent (the
    /// server would refuse it with a 400); unknown until the model's facts are.
    fn cannot_think(&self) -> Option<NotSentReason> {
        let asked = self.settings.think.as_ref().is_some_and(Think::is_on);
        (asked && self.context.thinking == Some(false)).then(|| {
            NotSentReason::CannotThink(format!(
                "{} cannot think ({} does not list `thinking` among its capabilities): leave out --think, or /set nothink",
                crate::untrusted::sanitize_line(&self.model),
                self.backend.server_name()
            ))
        })
    }

    fn last_question(&self) -> &str {
        last_question(&self.conversation)
    }

    /// Notes that `what` could not be written, for [`Chat::not_saved`].
    pub(super) fn lost(&mut self, what: &'static str) {
        if !self.not_saved.contains(&what) {
            self.not_saved.push(what);
        }
    }

    /// One line saying what this chat could not write, if anything: a run that lost its session
    /// or log records must not end as if all were well.
    pub fn not_saved(&self) -> Option<String> {
        (!self.not_saved.is_empty()).then(|| {
            format!(
                "{} could not be written completely (see the warning above)",
                self.not_saved.join(" and ")
            )
        })
    }

    /// Dims the chat's notes (what the context policy did), as the terminal description says
    /// stderr can show.
    pub fn dim_notes(&mut self, on: bool) {
        self.notes = Style { color: on };
    }

    /// One line for the user about what the context policy did: dim on a terminal.
    pub(crate) fn note(&self, text: &str) {
        eprintln!("{}", self.notes.dim(text));
    }

    /// Sends the history once (`strict_window`: as budgeted, see [`Chat::request`]); how many
    /// messages went, and how the reply ended.
    pub(crate) async fn send_history<S, C>(
        &self,
        strict_window: bool,
        sink: &mut S,
        cancel: C,
    ) -> (usize, TurnOutcome)
    where
        S: ReplySink + ?Sized,
        C: Future<Output = CancelReason>,
    {
        let request = self.request(strict_window);
        let sent = request.messages.len();
        let outcome = run_turn(self.backend, &request, sink, cancel, self.config.timeouts()).await;
        (sent, outcome)
    }

    /// The server refused a prompt prepared as `log` says, for a window smaller than believed:
    /// learns the window and how far off the estimate was, and says so, and who decides what
    /// happens next (`what`: what is sent again, or with the tool results).
    pub(crate) fn window_was_smaller(
        &mut self,
        prompt_tokens: u64,
        window: u64,
        log: &ContextLog,
        what: &str,
    ) {
        let expected = log.tokens.unwrap_or(0) + self.context.history_tokens();
        self.learn_refusal(prompt_tokens, window, expected);
        self.note(&format!(
            "context: {} has a {window}-token context window for {}, not the {} tokens believed; the {} strategy decides {what}",
            self.backend.server_name(),
            self.model,
            log.window.unwrap_or(0),
            self.context.strategy,
        ));
    }

    pub(crate) fn warn(&self, text: &str) {
        crate::render::style::warn(format_args!("{text}"));
    }

    /// Called by `context` once a summarize call has been made, so the log numbers it with
    /// the turn it makes room for.
    pub(crate) fn set_turn(&mut self, turn: u32) {
        self.turns = turn;
    }
}

/// The images of the history's last user message.
fn last_images(conversation: &Conversation) -> &[Image] {
    conversation
        .messages()
        .iter()
        .rev()
        .find(|m| m.role == Role::User)
        .map_or(&[], |m| m.images.as_slice())
}

/// The text of the history's last user message: the question of the turn being sent.
fn last_question(conversation: &Conversation) -> &str {
    conversation
        .messages()
        .iter()
        .rev()
        .find(|m| m.role == Role::User)
        .map_or("", |m| m.content.as_str())
}

/// Resolves when the user presses Ctrl-C. If the handler cannot be installed it never resolves,
/// rather than cancelling every turn at once.
pub async fn ctrl_c() {
    if tokio::signal::ctrl_c().await.is_err() {
        std::future::pending::<()>().await;
    }
}

/// Ctrl-C as the reason a turn was cancelled.
pub async fn interrupted() -> CancelReason {
    ctrl_c().await;
    CancelReason::Interrupt
}

/// Ctrl-C or a stop signal (SIGTERM, SIGHUP), whichever comes first, as the reason a turn was
/// cancelled.
pub async fn interrupted_or_stopped(stop: impl Future<Output = StopSignal>) -> CancelReason {
    interrupt_or_stop(ctrl_c(), stop).await.into()
}

/// The prompt's size and the window, when the server refused the prompt for its window.
pub(crate) fn window_refusal(outcome: &TurnOutcome) -> Option<(u64, u64)> {
    match outcome.ending {
        Ending::Failed(ApiError::ContextExceeded {
            prompt_tokens,
            window,
            ..
        }) => Some((prompt_tokens, window)),
        _ => None,
    }
}
