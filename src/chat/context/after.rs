//! After a reply: record the sizes Ollama counted, notice when it cut the prompt, and confirm the
//! window from `/api/ps`.

use crate::chat::{Chat, WindowCheck};
use crate::context::estimate::{TextSize, IMAGE_TOKENS};
use crate::context::report;
use crate::context::{plausible_count, MESSAGE_OVERHEAD};
use crate::conversation::Message;
use crate::conversation::Role;
use crate::turn::{Ending, TurnOutcome};

use super::Prepared;

/// Below this many tokens under the lowest plausible count, a `prompt_eval_count` means the server
/// cut the prompt (template tokens make small differences normal).
const TRUNCATION_SLACK: u64 = 8;

impl Chat<'_> {
    /// After a reply: records the sizes Ollama reported, warns when its `prompt_eval_count` shows
    /// it cut the prompt, and confirms the window from `/api/ps` after the first reply. Returns
    /// whether the server cut the prompt.
    pub(crate) async fn after_reply(
        &mut self,
        sent: usize,
        outcome: &TurnOutcome,
        prepared: &Prepared,
    ) -> bool {
        let Some(stats) = outcome.stats.as_ref() else {
            return false;
        };
        let mut cut = false;
        let messages =
            &self.conversation.messages()[..sent.min(self.conversation.messages().len())];
        let sent_bytes = messages
            .iter()
            .map(message_bytes)
            .fold(0, u64::saturating_add);
        let window = prepared.log.window;
        if let Some(counted) = stats.prompt_eval_count.filter(|&n| n > 0) {
            if plausible_count(counted, sent_bytes, window) {
                cut = self.check_prompt_count(sent, counted, prepared).await;
            } else {
                tracing::warn!("ignoring an implausible prompt count of {counted} tokens");
            }
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
        // The server counted the model's Modelfile history too, which was not sent.
        let counted = counted.saturating_sub(self.context.history_tokens());
        let est = self.context.estimator.clone();
        let messages =
            &self.conversation.messages()[..sent.min(self.conversation.messages().len())];
        let meta = self.conversation.meta();
        let mut known: u64 = 0;
        let mut unknown: Vec<(usize, u64)> = Vec::new();
        let mut size = TextSize::default();
        let mut images: u64 = 0;
        for (i, m) in messages.iter().enumerate() {
            match meta[i].tokens {
                Some(t) => known = known.saturating_add(t),
                None => {
                    images += m.images.len() as u64;
                    unknown.push((i, est.message_with_images(&m.content, m.images.len())));
                    size = size + TextSize::of(&m.content);
                }
            }
        }
        let estimated: u64 = unknown
            .iter()
            .map(|(_, t)| t)
            .fold(0, |a, &t| a.saturating_add(t));
        let expected = known.saturating_add(estimated);
        // Without a known window (an OpenAI-compatible server) nothing was budgeted and a low
        // count only means the estimate was high: learn from it.
        let budgeted = prepared.log.window.is_some();
        // Images cost from 256 to thousands of tokens depending on the model: only the text's
        // estimate says whether something went missing.
        let text_estimate = estimated.saturating_sub(IMAGE_TOKENS * images);
        if budgeted
            && counted.saturating_add(TRUNCATION_SLACK) < known.saturating_add(text_estimate / 2)
        {
            if !prepared.overflow {
                self.server_cut(counted, expected).await;
            }
            return true;
        }
        let residual = counted.saturating_sub(known);
        if !unknown.is_empty() {
            // The text's ratio is learnt from what the text cost: the images' guess taken out.
            self.context.estimator.learn(
                size,
                residual
                    .saturating_sub(MESSAGE_OVERHEAD * unknown.len() as u64)
                    .saturating_sub(IMAGE_TOKENS * images),
            );
            let mut left = residual;
            let n = unknown.len();
            for (k, (i, e)) in unknown.into_iter().enumerate() {
                let share = if k + 1 == n {
                    left
                } else {
                    residual
                        .saturating_mul(e)
                        .checked_div(estimated)
                        .unwrap_or(0)
                        .min(left)
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
    fn count_reply(&mut self, sent: usize, outcome: &TurnOutcome) {
        let Some(evaluated) = outcome.stats.as_ref().and_then(|s| s.eval_count) else {
            return;
        };
        let is_reply = self.conversation.messages().len() == sent + 1
            && self.conversation.messages()[sent].role == Role::Assistant;
        let bytes = (outcome.content.len() + outcome.thinking.len()) as u64;
        if evaluated == 0 || !is_reply || !plausible_count(evaluated, bytes, None) {
            return;
        }
        let content = TextSize::of(&outcome.content);
        let all = content + TextSize::of(&outcome.thinking);
        let est = &self.context.estimator;
        let share = match est.text_tokens(all) {
            0 => evaluated,
            total => evaluated.saturating_mul(est.text_tokens(content)) / total,
        };
        self.context.estimator.learn(all, evaluated);
        self.conversation.set_tokens(sent, share + MESSAGE_OVERHEAD);
    }

    /// After our first reply `/api/ps` tells the window our requests really get: read now, in the
    /// background, or not at all, as the chat's [`WindowCheck`] says.
    async fn confirm_window(&mut self) {
        match self.window_check {
            WindowCheck::Never => return,
            WindowCheck::Background => {
                self.check_window_in_background();
                return;
            }
            WindowCheck::AfterReply => {}
        }
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
}

/// The bytes of a message as sent: its text, images and tool calls.
fn message_bytes(m: &Message) -> u64 {
    let images: usize = m.images.iter().map(|i| i.data.len()).sum();
    let calls = serde_json::to_vec(&m.tool_calls).map_or(0, |v| v.len());
    (m.content.len() + images + calls) as u64
}
