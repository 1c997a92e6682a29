//! The context-window steps of a chat turn: learn the window (`num_ctx`, `GET /api/ps`,
//! `POST /api/show`), budget the history before each request and apply the strategy (the
//! summarize call included), then check Ollama's count after the reply and learn from it.
//! The decisions themselves are `context`'s pure functions; this module does the I/O around them.
//!
//! Layout: this file (the window, and the budget and strategy before a request); `learn` (the
//! model's facts from the background, the cache or the server, and a refusal's lesson); `after`
//! (the checks after a reply); `show` (`/context` and `/set context`).

mod after;
mod learn;
mod show;

use std::future::Future;
use std::ops::Range;
use std::pin::Pin;

use serde_json::Value;
use tokio::task::JoinHandle;

use super::facts::Learned;
use crate::chat::{Chat, NotSentReason};
use crate::context::report;
use crate::context::window::{self, Loaded, ModelFacts};
use crate::context::{
    fit, reply_reserve, summary_range, ContextAction, Estimator, Fit, Item, Kind, Strategy, Window,
};
use crate::conversation::{summary_note, Conversation};
use crate::conversation::{ChatRequest, Message, Role};
use crate::log::ContextLog;
use crate::models::ShowMessage;
use crate::render::{sanitize, ReplySink};
use crate::session::Change;
use crate::turn::{run_turn, CancelReason, Ending};

/// What the client knows about the window and how it counts, for one chat.
#[derive(Debug)]
pub struct ContextState {
    pub strategy: Strategy,
    pub allow_overflow: bool,
    pub estimator: Estimator,
    /// The model the facts below are about.
    model: Option<String>,
    facts: Option<ModelFacts>,
    /// What `/api/ps` said, and the `num_ctx` option in force when it said it.
    loaded: Option<(Loaded, Option<u64>)>,
    /// `/api/ps` has been read after one of our own replies.
    confirmed: bool,
    /// Whether the server says the model thinks (`None`: not known yet).
    pub(crate) thinking: Option<bool>,
    /// The model's Modelfile `MESSAGE` history, which the server puts before every request.
    pub(crate) history: Vec<ShowMessage>,
    /// The model's digest, once known: what the cache entry is keyed on.
    digest: Option<String>,
    /// What is being learned in the background (facts, the preload, the window after a reply).
    background: Option<JoinHandle<Learned>>,
    /// Whether the background work includes loading the model (the REPL's preload).
    preloading: bool,
}

impl Drop for ContextState {
    fn drop(&mut self) {
        if let Some(task) = self.background.take() {
            task.abort();
        }
    }
}

impl ContextState {
    pub fn new(strategy: Strategy, allow_overflow: bool) -> Self {
        ContextState {
            strategy,
            allow_overflow,
            estimator: Estimator::default(),
            model: None,
            facts: None,
            loaded: None,
            confirmed: false,
            thinking: None,
            history: Vec::new(),
            digest: None,
            background: None,
            preloading: false,
        }
    }

    /// Starts over for another model: its window has to be learned again.
    fn forget(&mut self, model: &str) {
        self.model = Some(model.to_string());
        self.facts = None;
        self.loaded = None;
        self.confirmed = false;
        self.thinking = None;
        self.history.clear();
        self.digest = None;
        if let Some(task) = self.background.take() {
            task.abort();
        }
        self.preloading = false;
    }

    /// Whether the model is still being loaded in the background (the REPL's preload).
    pub fn loading(&self) -> bool {
        self.preloading && self.background.as_ref().is_some_and(|t| !t.is_finished())
    }

    /// Tokens of the Modelfile history the server adds before every request (estimated).
    pub fn history_tokens(&self) -> u64 {
        self.history
            .iter()
            .map(|m| self.estimator.message_tokens(m.content.raw()))
            .fold(0, u64::saturating_add)
    }

    /// Whether the window can be budgeted for without asking the server first: the user set
    /// `num_ctx`, or the model's facts are known (learned, or from the cache).
    fn is_known_enough(&self, num_ctx: Option<u64>) -> bool {
        num_ctx.is_some() || self.facts.is_some() || self.loaded.is_some()
    }

    /// The window to budget for, given the `num_ctx` option in force; `None` while nothing could
    /// be learned from the server and the user set no `num_ctx`.
    pub fn window(&self, num_ctx: Option<u64>) -> Option<Window> {
        let loaded = self
            .loaded
            .filter(|(_, for_ctx)| *for_ctx == num_ctx)
            .map(|(l, _)| l);
        if let (Some(asked), Some(l)) = (num_ctx, loaded) {
            // Ollama may cap num_ctx (e.g. at the model's maximum); what it loaded is what counts.
            if l.ours && l.context_length > 0 && l.context_length < asked {
                return Some(Window {
                    tokens: l.context_length,
                    source: crate::context::WindowSource::Loaded,
                });
            }
        }
        if self.facts.is_none() && loaded.is_none() && num_ctx.is_none() {
            return None;
        }
        Some(window::resolve(
            num_ctx,
            loaded,
            self.facts.unwrap_or_default(),
        ))
    }
}

/// The budget a request was sent with, for the checks after the reply and the log.
#[derive(Debug, Clone, Default)]
pub struct Prepared {
    pub log: ContextLog,
    /// Sent on purpose although larger than the window (`--allow-overflow`).
    pub(crate) overflow: bool,
}

/// Discards a summarize call's stream: the note is shown once it is complete.
struct Quiet;

impl ReplySink for Quiet {
    fn thinking(&mut self, _: &str) -> std::io::Result<()> {
        Ok(())
    }
    fn content(&mut self, _: &str) -> std::io::Result<()> {
        Ok(())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
    fn finish(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Chat<'_> {
    /// The `num_ctx` in force: the chat's live options (`/set parameter` changes them).
    fn num_ctx(&self) -> Option<u64> {
        self.settings.options.get_u64("num_ctx").filter(|&n| n > 0)
    }

    fn num_predict(&self) -> Option<i64> {
        self.settings
            .options
            .get("num_predict")
            .and_then(Value::as_i64)
    }

    /// The window the next request is budgeted for.
    pub fn window(&self) -> Option<Window> {
        self.context.window(self.num_ctx())
    }

    /// Reads the model's window from `/api/ps`; `ours` when our own request loaded it.
    async fn read_ps(&mut self, ours: bool) -> Option<u64> {
        if !self.backend.capabilities().model_facts {
            return None;
        }
        let ps = tokio::time::timeout(self.config.stall_timeout, self.backend.loaded_models());
        let loaded = match ps.await {
            Ok(Ok(loaded)) => loaded,
            Ok(Err(e)) => {
                tracing::debug!("GET /api/ps failed: {e}");
                return None;
            }
            Err(_) => return None,
        };
        let n = loaded
            .iter()
            .find(|m| window::same_model(m.name.raw(), &self.model))
            .and_then(|m| m.context_length)
            .and_then(window::plausible_window)?;
        self.context.loaded = Some((
            Loaded {
                context_length: n,
                ours,
            },
            self.num_ctx(),
        ));
        Some(n)
    }

    /// Loads the model as our requests would (a chat with no messages), then reads its window:
    /// used when the window is only assumed and the budget depends on it.
    async fn probe_window(&mut self) {
        if !self.backend.capabilities().model_facts {
            return;
        }
        let request = ChatRequest {
            model: &self.model,
            messages: &[],
            stream: false,
            options: &self.settings.options,
            format: None,
            think: None,
            keep_alive: self.settings.keep_alive.as_ref(),
            tools: &[],
            strict_window: false,
        };
        let load = tokio::time::timeout(self.config.load_timeout, self.backend.load(&request));
        if let Ok(Ok(())) = load.await {
            if self.read_ps(true).await.is_some() {
                self.context.confirmed = true;
                if let Some(w) = self.window() {
                    tracing::info!(
                        "context window after loading the model: {} tokens",
                        w.tokens
                    );
                }
            }
        }
    }

    fn items(&self) -> Vec<Item> {
        budget_items(&self.conversation, &self.context.estimator)
    }

    /// The window, the reply reserve, and whether the history fits. A request that clearly fits
    /// the smallest window the model could have goes out without waiting for the server's facts
    /// (it is sent with `truncate: false`, so a wrong guess is a refusal, not a silent cut); when
    /// the window is only assumed and the answer depends on it, the model is loaded first to
    /// learn the real one.
    async fn budget(&mut self) -> Option<(Window, u64, Fit)> {
        self.learn_window(false).await;
        if !self.context.is_known_enough(self.num_ctx()) {
            if self.backend.capabilities().model_facts {
                let assumed = Window {
                    tokens: window::ASSUMED_WINDOW,
                    source: crate::context::WindowSource::Assumed,
                };
                let reserve = reply_reserve(self.num_predict(), assumed.tokens);
                let needed = self
                    .items()
                    .iter()
                    .map(|i| i.tokens)
                    .fold(reserve, u64::saturating_add);
                if needed <= window::ASSUMED_WINDOW / 2 {
                    return Some((
                        assumed,
                        reserve,
                        Fit::Fits {
                            tokens: needed - reserve,
                        },
                    ));
                }
            }
            self.learn_window(true).await;
        }
        let mut window = self.window()?;
        let mut reserve = reply_reserve(self.num_predict(), window.tokens);
        let room = |w: &Window, reserve: u64, history: u64| {
            w.tokens.saturating_sub(reserve).saturating_sub(history)
        };
        let history = self.context.history_tokens();
        let mut verdict = fit(&self.items(), room(&window, reserve, history));
        if !matches!(verdict, Fit::Fits { .. }) && !window.source.is_known() {
            self.probe_window().await;
            if let Some(w) = self.window() {
                window = w;
                reserve = reply_reserve(self.num_predict(), window.tokens);
                verdict = fit(&self.items(), room(&window, reserve, history));
            }
        }
        Some((window, reserve, verdict))
    }

    /// Budgets the history (the new message is already its last entry) and applies the strategy.
    pub(crate) async fn prepare_context<C>(
        &mut self,
        turn: u32,
        cancel: Pin<&mut C>,
    ) -> Result<Prepared, NotSentReason>
    where
        C: Future<Output = CancelReason>,
    {
        let Some((window, reserve, verdict)) = self.budget().await else {
            return Ok(Prepared::default());
        };
        tracing::debug!(
            "context budget: {:?} in a {}-token window ({}), {} kept for the reply",
            verdict,
            window.tokens,
            window.source,
            reserve
        );
        let mut prepared = Prepared {
            log: ContextLog {
                window: Some(window.tokens),
                window_source: Some(window.source.as_str()),
                ..ContextLog::default()
            },
            overflow: false,
        };
        match verdict {
            Fit::Fits { tokens } => prepared.log.tokens = Some(tokens),
            Fit::TooLarge { needed } if self.context.allow_overflow => {
                self.note(&format!(
                    "context: this message needs about {needed} tokens, more than the {}-token window allows; sending it anyway (--allow-overflow): Ollama will cut it",
                    window.tokens
                ));
                prepared.log.tokens = Some(
                    self.items()
                        .iter()
                        .map(|i| i.tokens)
                        .fold(0, u64::saturating_add),
                );
                prepared.overflow = true;
            }
            Fit::TooLarge { needed } => {
                return Err(NotSentReason::TooLarge(report::too_large_message(
                    needed,
                    window.tokens,
                    reserve,
                )));
            }
            Fit::Drop { before, .. } if self.context.strategy == Strategy::Fail => {
                return Err(NotSentReason::Full(report::full_message(
                    before,
                    window.tokens,
                    reserve,
                )));
            }
            Fit::Drop {
                drop,
                before,
                after,
            } => {
                let action = if self.context.strategy == Strategy::Summarize {
                    self.summarize(turn, window, reserve, cancel).await?
                } else {
                    None
                };
                let action = match action {
                    Some(a) => a,
                    None => self.truncate(drop, before, after),
                };
                self.note(&report::action_notice(&action, window.tokens));
                if let Some(summary) = &action.summary {
                    self.note(&sanitize(summary));
                }
                prepared.log.tokens = Some(action.tokens_after);
                prepared.log.action = Some(action);
            }
        }
        Ok(prepared)
    }

    /// Leaves out the oldest exchanges (`drop`) through a session `context` record, so a loaded
    /// session sends exactly what this chat sends.
    fn truncate(&mut self, drop: Range<usize>, before: u64, after: u64) -> ContextAction {
        let exchanges = self.exchanges_in(drop.clone());
        let archived = self.leave_out(drop.clone(), None);
        ContextAction {
            strategy: Strategy::Truncate,
            messages: drop.len(),
            exchanges,
            tokens: before - after,
            tokens_after: after,
            summary: None,
            archived,
        }
    }

    fn exchanges_in(&self, range: Range<usize>) -> usize {
        self.conversation.messages()[range]
            .iter()
            .filter(|m| m.role == Role::User)
            .count()
    }

    /// Takes `range` out of the request (into the archive, and as a `context` record into the
    /// session) with an optional summary in its place; returns where it went in the archive.
    fn leave_out(&mut self, range: Range<usize>, summary: Option<String>) -> Range<usize> {
        let from = self.conversation.archived().len();
        let change = Change::Context {
            dropped: range.collect(),
            summary,
        };
        if let Err(e) = self.change(change) {
            // The range comes from the budget over this very history, so this cannot happen.
            tracing::warn!("context change refused: {e}");
        }
        from..self.conversation.archived().len()
    }

    /// Asks the model to condense the oldest exchanges into a note that replaces them. `Ok(None)`
    /// when no summary can make room (the caller truncates instead).
    async fn summarize<C>(
        &mut self,
        turn: u32,
        window: Window,
        reserve: u64,
        cancel: Pin<&mut C>,
    ) -> Result<Option<ContextAction>, NotSentReason>
    where
        C: Future<Output = CancelReason>,
    {
        let limit = window
            .tokens
            .saturating_sub(reserve)
            .saturating_sub(self.context.history_tokens());
        let note_budget = (limit / 8).clamp(64, 400);
        let items = self.items();
        let Some(range) = summary_range(&items, limit, limit / 2, note_budget) else {
            return Ok(None);
        };
        let removed_tokens: u64 = items[range.clone()]
            .iter()
            .map(|i| i.tokens)
            .fold(0, u64::saturating_add);
        // The summarize request must fit the window itself, with room for the note.
        if removed_tokens + 100 + note_budget > window.tokens {
            return Ok(None);
        }
        let total: u64 = items.iter().map(|i| i.tokens).fold(0, u64::saturating_add);
        let prompt = summary_prompt(&self.conversation.messages()[range.clone()], note_budget);
        let messages = [
            Message::new(
                Role::System,
                "You condense conversations into short, faithful notes.",
            ),
            Message::new(Role::User, prompt.clone()),
        ];
        let mut options = self.settings.options.clone();
        let _ = options.set("num_predict", &note_budget.to_string());
        let request = ChatRequest {
            model: &self.model,
            messages: &messages,
            stream: true,
            options: &options,
            format: None,
            think: None,
            keep_alive: self.settings.keep_alive.as_ref(),
            tools: &[],
            strict_window: false,
        };
        self.note(&format!(
            "context: the conversation no longer fits the {}-token window; asking {} to summarise its oldest part…",
            window.tokens, self.model
        ));
        let outcome = run_turn(
            self.backend,
            &request,
            &mut Quiet,
            cancel,
            self.config.timeouts(),
        )
        .await;
        let previous = turn - 1;
        self.set_turn(turn);
        let log = ContextLog {
            call: "summarize",
            tokens: Some(self.context.estimator.message_tokens(&prompt) + 20),
            window: Some(window.tokens),
            window_source: Some(window.source.as_str()),
            ..ContextLog::default()
        };
        self.record(&prompt, &outcome, &log);
        let summary = outcome.content.trim().to_string();
        if !matches!(outcome.ending, Ending::Done) || summary.is_empty() {
            self.set_turn(previous);
            return Err(NotSentReason::Summary(outcome.ending));
        }

        let after = total - removed_tokens;
        Ok(Some(self.replace_with_summary(
            range,
            summary,
            removed_tokens,
            after,
        )))
    }

    /// Archives `range` as summarised and puts the note in its place.
    fn replace_with_summary(
        &mut self,
        range: Range<usize>,
        summary: String,
        removed_tokens: u64,
        rest: u64,
    ) -> ContextAction {
        let exchanges = self.exchanges_in(range.clone());
        let messages = range.len();
        let note_tokens = self
            .context
            .estimator
            .message_tokens(&summary_note(&summary));
        let archived = self.leave_out(range, Some(summary.clone()));
        ContextAction {
            strategy: Strategy::Summarize,
            messages,
            exchanges,
            tokens: removed_tokens,
            tokens_after: rest + note_tokens,
            summary: Some(summary),
            archived,
        }
    }
}

/// The history as the budget sees it: kinds and token counts (exact where Ollama counted,
/// estimated otherwise). Public for the per-turn benchmark, which budgets as a turn does.
pub fn budget_items(conversation: &Conversation, est: &Estimator) -> Vec<Item> {
    conversation
        .messages()
        .iter()
        .zip(conversation.meta())
        .map(|(m, meta)| Item {
            kind: match m.role {
                Role::System if meta.summary => Kind::Summary,
                Role::System => Kind::System,
                // A tool result belongs to the reply that asked for it: an exchange is never cut
                // between a call and its result.
                Role::Assistant | Role::Tool => Kind::Assistant,
                Role::User => Kind::User,
            },
            tokens: meta
                .tokens
                .unwrap_or_else(|| est.message_with_images(&m.content, m.images.len())),
        })
        .collect()
}

/// The request that asks for a summary: an instruction, then the messages as a transcript.
fn summary_prompt(messages: &[Message], note_budget: u64) -> String {
    let words = note_budget * 3 / 4;
    let mut out = format!(
        "Summarise the conversation below between a user and an assistant in at most {words} words. \
         Keep names, facts, numbers, decisions and open questions. Write in the language of the \
         conversation. Write only the summary.\n\n---\n"
    );
    for m in messages {
        let who = match m.role {
            Role::System => "Earlier summary",
            Role::User => "User",
            Role::Tool => "Tool result",
            Role::Assistant => "Assistant",
        };
        out.push_str(&format!("\n{who}: {}\n", m.content));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::context::WindowSource;

    #[test]
    fn window_follows_the_num_ctx_in_force() {
        let mut c = ContextState::new(Strategy::Truncate, false);
        assert_eq!(c.window(None), None);
        assert_eq!(c.window(Some(4096)).unwrap().source, WindowSource::NumCtx);
        c.facts = Some(ModelFacts {
            num_ctx_parameter: Some(2048),
            context_length: Some(32768),
        });
        assert_eq!(c.window(None).unwrap().tokens, 2048);
        // Loaded by us with num_ctx=8192 but capped at 4096 by the server.
        let l = Loaded {
            context_length: 4096,
            ours: true,
        };
        c.loaded = Some((l, Some(8192)));
        let w = c.window(Some(8192)).unwrap();
        assert_eq!((w.tokens, w.source), (4096, WindowSource::Loaded));
        // A different num_ctx now: the old /api/ps figure no longer applies.
        assert_eq!(c.window(Some(16384)).unwrap().tokens, 16384);
        assert_eq!(c.window(None).unwrap().tokens, 2048);
    }

    #[test]
    fn summary_prompt_is_a_transcript() {
        let p = summary_prompt(
            &[
                Message::new(Role::System, "Summary of the earlier part: names"),
                Message::new(Role::User, "我叫小明"),
                Message::new(Role::Assistant, "你好，小明"),
            ],
            200,
        );
        assert!(p.contains("at most 150 words"));
        assert!(p.ends_with(
            "\nEarlier summary: Summary of the earlier part: names\n\nUser: 我叫小明\n\nAssistant: 你好，小明\n"
        ));
    }
}
