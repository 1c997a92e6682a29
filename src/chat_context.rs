//! The context-window steps of a chat turn: learn the window (`num_ctx`, `GET /api/ps`,
//! `POST /api/show`), budget the history before each request and apply the strategy (the
//! summarize call included), then check Ollama's count after the reply and learn from it.
//! The decisions themselves are `context`'s pure functions; this file does the I/O around them.

use std::future::Future;
use std::pin::Pin;

use serde_json::Value;

use crate::chat::{Chat, NotSentReason};
use crate::context::estimate::TextSize;
use crate::context::report::{self, ContextCommand, Snapshot};
use crate::context::window::{self, Loaded, ModelFacts};
use crate::context::{
    fit, reply_reserve, summary_range, ContextAction, Estimator, Fit, Item, Kind, Strategy, Window,
    MESSAGE_OVERHEAD,
};
use crate::conversation::Mark;
use crate::log::ContextLog;
use crate::ollama::wire::{ChatRequest, Message, Role};
use crate::ollama::ApiError;
use crate::render::{sanitize, ReplySink};
use crate::turn::{run_turn, Ending};

/// Below this many tokens under the lowest plausible count, a `prompt_eval_count` means the server
/// cut the prompt (template tokens make small differences normal).
const TRUNCATION_SLACK: u64 = 8;

/// What the client knows about the window and how it counts, for one chat.
#[derive(Debug, Clone)]
pub struct ContextState {
    pub strategy: Strategy,
    pub allow_overflow: bool,
    pub estimator: Estimator,
    facts: Option<ModelFacts>,
    /// What `/api/ps` said, and the `num_ctx` option in force when it said it.
    loaded: Option<(Loaded, Option<u64>)>,
    /// `/api/ps` has been read after one of our own replies.
    confirmed: bool,
}

impl ContextState {
    pub fn new(strategy: Strategy, allow_overflow: bool) -> Self {
        ContextState {
            strategy,
            allow_overflow,
            estimator: Estimator::default(),
            facts: None,
            loaded: None,
            confirmed: false,
        }
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
    overflow: bool,
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
    fn num_ctx(&self) -> Option<u64> {
        self.config.options.get_u64("num_ctx").filter(|&n| n > 0)
    }

    fn num_predict(&self) -> Option<i64> {
        self.config
            .options
            .get("num_predict")
            .and_then(Value::as_i64)
    }

    /// The window the next request is budgeted for.
    pub fn window(&self) -> Option<Window> {
        self.context.window(self.num_ctx())
    }

    /// Asks the server what it can say about the window before the first request: the model's
    /// parameters and maximum (`/api/show`) and whether it is loaded already (`/api/ps`). Once per
    /// chat; an unreachable server is asked again next time.
    pub async fn learn_window(&mut self) {
        if self.context.facts.is_some() {
            return;
        }
        let stall = self.config.stall_timeout;
        match tokio::time::timeout(stall, self.client.show_context(&self.model)).await {
            Ok(Ok(show)) => {
                self.context.facts = Some(ModelFacts {
                    num_ctx_parameter: show
                        .parameters
                        .as_deref()
                        .and_then(window::parse_num_ctx_parameter),
                    context_length: show
                        .model_info
                        .as_ref()
                        .and_then(window::model_context_length),
                });
            }
            // No server, or no such model: the chat request will say so better than a budget.
            Ok(Err(ApiError::Unreachable { .. } | ApiError::ModelNotFound { .. })) | Err(_) => {
                return
            }
            Ok(Err(e)) => {
                tracing::debug!("POST /api/show failed ({e}); the window is assumed");
                self.context.facts = Some(ModelFacts::default());
            }
        }
        self.read_ps(false).await;
        if let Some(w) = self.window() {
            tracing::info!("context window: {} tokens, from {}", w.tokens, w.source);
        }
    }

    /// Reads the model's window from `/api/ps`; `ours` when our own request loaded it.
    async fn read_ps(&mut self, ours: bool) -> Option<u64> {
        let ps = tokio::time::timeout(self.config.stall_timeout, self.client.ps()).await;
        let ps = match ps {
            Ok(Ok(ps)) => ps,
            Ok(Err(e)) => {
                tracing::debug!("GET /api/ps failed: {e}");
                return None;
            }
            Err(_) => return None,
        };
        let n = ps
            .models
            .iter()
            .find(|m| window::same_model(&m.name, &self.model))
            .and_then(|m| m.context_length)
            .filter(|&n| n > 0)?;
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
        let request = ChatRequest {
            model: &self.model,
            messages: &[],
            stream: false,
            options: &self.config.options,
            format: None,
            think: None,
            keep_alive: self.config.keep_alive.as_ref(),
        };
        let load = tokio::time::timeout(self.config.stall_timeout, self.client.load(&request));
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

    /// The history as the budget sees it: kinds and token counts (exact where Ollama counted).
    fn items(&self) -> Vec<Item> {
        let est = &self.context.estimator;
        self.conversation
            .messages()
            .iter()
            .zip(self.conversation.meta())
            .map(|(m, meta)| Item {
                kind: match m.role {
                    Role::System if meta.summary => Kind::Summary,
                    Role::System => Kind::System,
                    Role::Assistant => Kind::Assistant,
                    Role::User | Role::Tool => Kind::User,
                },
                tokens: meta
                    .tokens
                    .unwrap_or_else(|| est.message_tokens(&m.content)),
            })
            .collect()
    }

    /// Budgets the history (the new message is already its last entry) and applies the strategy.
    pub(crate) async fn prepare_context<C>(
        &mut self,
        turn: u32,
        cancel: Pin<&mut C>,
    ) -> Result<Prepared, NotSentReason>
    where
        C: Future<Output = ()>,
    {
        self.learn_window().await;
        let Some(mut window) = self.window() else {
            return Ok(Prepared::default());
        };
        let mut reserve = reply_reserve(self.num_predict(), window.tokens);
        let mut verdict = fit(&self.items(), window.tokens.saturating_sub(reserve));
        if !matches!(verdict, Fit::Fits { .. }) && !window.source.is_known() {
            self.probe_window().await;
            if let Some(w) = self.window() {
                window = w;
                reserve = reply_reserve(self.num_predict(), window.tokens);
                verdict = fit(&self.items(), window.tokens.saturating_sub(reserve));
            }
        }
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
                prepared.log.tokens = Some(self.items().iter().map(|i| i.tokens).sum());
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
                    None => self.truncate(drop, before, after, turn),
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

    fn truncate(
        &mut self,
        drop: std::ops::Range<usize>,
        before: u64,
        after: u64,
        turn: u32,
    ) -> ContextAction {
        let exchanges = self.conversation.messages()[drop.clone()]
            .iter()
            .filter(|m| m.role == Role::User)
            .count();
        let messages = drop.len();
        let archived = self.conversation.archive(drop, Mark::Dropped, turn);
        ContextAction {
            strategy: Strategy::Truncate,
            messages,
            exchanges,
            tokens: before - after,
            tokens_after: after,
            summary: None,
            archived,
        }
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
        C: Future<Output = ()>,
    {
        let limit = window.tokens.saturating_sub(reserve);
        let note_budget = (limit / 8).clamp(64, 400);
        let items = self.items();
        let Some(range) = summary_range(&items, limit, limit / 2, note_budget) else {
            return Ok(None);
        };
        let removed_tokens: u64 = items[range.clone()].iter().map(|i| i.tokens).sum();
        // The summarize request must fit the window itself, with room for the note.
        if removed_tokens + 100 + note_budget > window.tokens {
            return Ok(None);
        }
        let total: u64 = items.iter().map(|i| i.tokens).sum();
        let prompt = summary_prompt(&self.conversation.messages()[range.clone()], note_budget);
        let messages = [
            Message::new(
                Role::System,
                "You condense conversations into short, faithful notes.",
            ),
            Message::new(Role::User, prompt.clone()),
        ];
        let mut options = self.config.options.clone();
        let _ = options.set("num_predict", &note_budget.to_string());
        let request = ChatRequest {
            model: &self.model,
            messages: &messages,
            stream: true,
            options: &options,
            format: None,
            think: None,
            keep_alive: self.config.keep_alive.as_ref(),
        };
        self.note(&format!(
            "context: the conversation no longer fits the {}-token window; asking {} to summarise its oldest part…",
            window.tokens, self.model
        ));
        let outcome = run_turn(
            self.client,
            &request,
            &mut Quiet,
            cancel,
            self.config.stall_timeout,
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

        let removed = &self.conversation.messages()[range.clone()];
        let exchanges = removed.iter().filter(|m| m.role == Role::User).count();
        let messages = removed.len();
        let archived = self
            .conversation
            .archive(range.clone(), Mark::Summarised, turn);
        let note = format!("Summary of the earlier part of this conversation:\n{summary}");
        let note_tokens = self.context.estimator.message_tokens(&note);
        self.conversation.insert_summary(range.start, note, None);
        Ok(Some(ContextAction {
            strategy: Strategy::Summarize,
            messages,
            exchanges,
            tokens: removed_tokens,
            tokens_after: total - removed_tokens + note_tokens,
            summary: Some(summary),
            archived,
        }))
    }

    /// After a reply: records the sizes Ollama reported, warns when its `prompt_eval_count` shows
    /// it cut the prompt, and confirms the window from `/api/ps` after the first reply. Returns
    /// whether the server cut the prompt.
    pub(crate) async fn after_reply(
        &mut self,
        sent: usize,
        outcome: &crate::turn::TurnOutcome,
        prepared: &Prepared,
    ) -> bool {
        let Some(stats) = outcome.stats.as_ref() else {
            return false;
        };
        let mut cut = false;
        if let Some(counted) = stats.prompt_eval_count.filter(|&n| n > 0) {
            cut = self.check_prompt_count(sent, counted, prepared).await;
        }
        self.count_reply(sent, outcome);
        if !self.context.confirmed && matches!(outcome.ending, Ending::Done) {
            self.confirm_window().await;
        }
        let num_predict = self.num_predict().filter(|&n| n > 0);
        if stats.done_reason.as_deref() == Some("length") && num_predict.is_none() {
            let window = self
                .window()
                .map_or(String::new(), |w| format!(" ({} tokens)", w.tokens));
            self.note(&format!(
                "context: the reply stopped because the context window{window} is full (done_reason: length)"
            ));
        }
        cut
    }

    /// Compares Ollama's prompt count with the sizes sent; learns the unknown sizes when they
    /// agree, and warns and corrects when they show the server cut the prompt.
    async fn check_prompt_count(&mut self, sent: usize, counted: u64, prepared: &Prepared) -> bool {
        let est = self.context.estimator.clone();
        let messages =
            &self.conversation.messages()[..sent.min(self.conversation.messages().len())];
        let meta = self.conversation.meta();
        let mut known = 0;
        let mut unknown: Vec<(usize, u64)> = Vec::new();
        let mut size = TextSize::default();
        for (i, m) in messages.iter().enumerate() {
            match meta[i].tokens {
                Some(t) => known += t,
                None => {
                    unknown.push((i, est.message_tokens(&m.content)));
                    size = size + TextSize::of(&m.content);
                }
            }
        }
        let estimated: u64 = unknown.iter().map(|(_, t)| t).sum();
        let expected = known + estimated;
        if counted + TRUNCATION_SLACK < known + estimated / 2 {
            if !prepared.overflow {
                self.server_cut(counted, expected).await;
            }
            return true;
        }
        let residual = counted.saturating_sub(known);
        if !unknown.is_empty() {
            self.context.estimator.learn(
                size,
                residual.saturating_sub(MESSAGE_OVERHEAD * unknown.len() as u64),
            );
            let mut left = residual;
            let n = unknown.len();
            for (k, (i, e)) in unknown.into_iter().enumerate() {
                let share = if k + 1 == n {
                    left
                } else {
                    (residual * e).checked_div(estimated).unwrap_or(0).min(left)
                };
                left -= share;
                self.conversation.set_tokens(i, share);
            }
        }
        false
    }

    /// The server evaluated less than was sent: say so, and learn why (a smaller window from
    /// `/api/ps`, else our counts were too low).
    async fn server_cut(&mut self, counted: u64, expected: u64) {
        let Some(believed) = self.window() else {
            return;
        };
        let mut text = report::server_truncated_notice(counted, expected, believed);
        if self.read_ps(true).await.is_some() {
            self.context.confirmed = true;
        }
        match self.window() {
            Some(now) if now.tokens < believed.tokens => {
                text.push_str(&format!(
                    "; Ollama reports a {}-token window for {} (GET /api/ps), used from now on",
                    now.tokens, self.model
                ));
            }
            _ => {
                // Ollama only cuts a prompt longer than its window: ours was at least that long.
                let factor = (believed.tokens + 1) as f64 / expected.max(1) as f64;
                if factor > 1.0 {
                    self.context.estimator.scale(factor);
                }
                text.push_str("; token counts are estimated higher from now on");
            }
        }
        self.warn(&text);
    }

    /// Records the reply's size from `eval_count` (which counts thinking too, and thinking is
    /// not sent back) and learns from it.
    fn count_reply(&mut self, sent: usize, outcome: &crate::turn::TurnOutcome) {
        let Some(evaluated) = outcome.stats.as_ref().and_then(|s| s.eval_count) else {
            return;
        };
        let is_reply = self.conversation.messages().len() == sent + 1
            && self.conversation.messages()[sent].role == Role::Assistant;
        if evaluated == 0 || !is_reply {
            return;
        }
        let content = TextSize::of(&outcome.content);
        let all = content + TextSize::of(&outcome.thinking);
        let est = &self.context.estimator;
        let share = match est.text_tokens(all) {
            0 => evaluated,
            total => evaluated * est.text_tokens(content) / total,
        };
        self.context.estimator.learn(all, evaluated);
        self.conversation.set_tokens(sent, share + MESSAGE_OVERHEAD);
    }

    /// After our first reply `/api/ps` tells the window our requests really get.
    async fn confirm_window(&mut self) {
        let asked = self.num_ctx();
        if let Some(n) = self.read_ps(true).await {
            self.context.confirmed = true;
            tracing::info!("context window: {n} tokens, from the loaded model (GET /api/ps)");
            if let Some(asked) = asked.filter(|&a| n < a) {
                self.warn(&format!(
                    "Ollama loaded {} with a {n}-token context window, not the num_ctx={asked} asked for; budgeting for {n}",
                    self.model
                ));
            }
        }
    }

    /// `/context` (show) and `/set context STRATEGY` (switch): the text to print.
    pub async fn context_command(&mut self, args: &str) -> String {
        match report::parse_command(args) {
            Ok(ContextCommand::Show) => self.context_report().await,
            Ok(ContextCommand::Set(s)) => {
                self.context.strategy = s;
                format!("Context strategy: {s}.")
            }
            Err(e) => format!("{e}."),
        }
    }

    /// The `/context` summary of what the next request would carry.
    pub async fn context_report(&mut self) -> String {
        self.learn_window().await;
        let window = self.window();
        let items = self.items();
        let mut s = Snapshot {
            window,
            model_max: self.context.facts.and_then(|f| f.context_length),
            reserve: window.map_or(0, |w| reply_reserve(self.num_predict(), w.tokens)),
            reserve_is_num_predict: self.num_predict().is_some_and(|n| n > 0),
            system_tokens: 0,
            messages: 0,
            message_tokens: 0,
            exact: self
                .conversation
                .meta()
                .iter()
                .filter(|m| m.tokens.is_some())
                .count(),
            counted: items.len(),
            summary_tokens: None,
            dropped: 0,
            summarised: 0,
            strategy: self.context.strategy,
            allow_overflow: self.context.allow_overflow,
        };
        for item in &items {
            match item.kind {
                Kind::System => s.system_tokens += item.tokens,
                Kind::Summary => *s.summary_tokens.get_or_insert(0) += item.tokens,
                Kind::User | Kind::Assistant => {
                    s.messages += 1;
                    s.message_tokens += item.tokens;
                }
            }
        }
        for a in self.conversation.archived() {
            match a.mark {
                Mark::Dropped => s.dropped += 1,
                Mark::Summarised => s.summarised += 1,
            }
        }
        report::render(&s)
    }
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
            Role::User | Role::Tool => "User",
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
