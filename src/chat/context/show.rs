//! `/context`: what the next request would carry, and what the strategy would do.

use crate::chat::Chat;
use crate::context::report::{self, Snapshot};
use crate::context::{reply_reserve, Kind};
use crate::conversation::Mark;

impl Chat<'_> {
    /// The `/context` summary of what the next request would carry.
    pub async fn context_report(&mut self) -> String {
        self.absorb_background(true).await;
        self.learn_window(true).await;
        let window = self.window();
        let items = self.items();
        let mut s = Snapshot {
            window,
            window_reported: self.backend.capabilities().model_facts,
            model_max: self.context.facts.and_then(|f| f.context_length),
            reserve: window.map_or(0, |w| reply_reserve(self.num_predict(), w.tokens)),
            reserve_is_num_predict: self.num_predict().is_some_and(|n| n > 0),
            system_tokens: 0,
            model_history_tokens: self.context.history_tokens(),
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
