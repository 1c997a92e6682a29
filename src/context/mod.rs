//! What fits in the model's context window, and what to do when the history does not: pure policy,
//! no I/O. The chat asks it before every request and acts on the answer.
//!
//! Layout: `cache` (model facts kept between runs), `estimate` (token counts for text the server
//! has not counted), `window` (which window the model has, and how we know), `report`
//! (`/context`, `/set context` and the one-line notices); this file (strategies, the reply
//! reserve, and the budget itself).

pub mod cache;
pub mod estimate;
pub mod report;
pub mod window;

use std::fmt;
use std::ops::Range;
use std::str::FromStr;

use serde::Serialize;

pub use estimate::{Estimator, TextSize, MESSAGE_OVERHEAD};
pub use window::{Window, WindowSource};

/// What to do when the history does not fit.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Strategy {
    /// Drop the oldest whole exchanges (never the system prompt, never the new message).
    #[default]
    Truncate,
    /// Ask the model to condense the oldest exchanges into a note that replaces them.
    Summarize,
    /// Send nothing and say what the user can do.
    Fail,
}

impl Strategy {
    pub const NAMES: [&'static str; 3] = ["truncate", "summarize", "fail"];

    pub fn as_str(self) -> &'static str {
        match self {
            Strategy::Truncate => "truncate",
            Strategy::Summarize => "summarize",
            Strategy::Fail => "fail",
        }
    }
}

impl fmt::Display for Strategy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A strategy name that is none of the three.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the context strategy is truncate, summarize or fail, not {0:?}")]
pub struct UnknownStrategy(pub String);

impl FromStr for Strategy {
    type Err = UnknownStrategy;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "truncate" => Ok(Strategy::Truncate),
            "summarize" | "summarise" => Ok(Strategy::Summarize),
            "fail" => Ok(Strategy::Fail),
            _ => Err(UnknownStrategy(s.trim().to_string())),
        }
    }
}

/// Room kept free for the reply when `num_predict` does not say: a quarter of the window, at most
/// this many tokens. A reply longer than what is left stops with `done_reason: "length"`.
pub const MAX_DEFAULT_RESERVE: u64 = 1024;

/// Tokens kept free for the reply: `num_predict` when it is set and positive, else a quarter of
/// the window up to [`MAX_DEFAULT_RESERVE`]; never more than half the window, so a huge
/// `num_predict` cannot leave no room for the conversation.
pub fn reply_reserve(num_predict: Option<i64>, window: u64) -> u64 {
    let wanted = match num_predict {
        Some(n) if n > 0 => n as u64,
        _ => (window / 4).min(MAX_DEFAULT_RESERVE),
    };
    wanted.min(window / 2)
}

/// Tokens a server may count beyond the bytes it was sent or sent back: template tokens, a
/// Modelfile's own system prompt, images. Generous, so that only a broken or hostile server's
/// count is refused.
pub const SERVER_SIDE_TOKENS: u64 = 64 * 1024;

/// Whether a server's token count for `bytes` bytes of text (a prompt sent, or a reply with its
/// thinking) can be true: a token stands for at least one byte, plus [`SERVER_SIDE_TOKENS`]; and
/// Ollama cuts a prompt to its window, so with the window known a prompt count cannot exceed it
/// (`window` is `None` for a reply or an unknown window). A count that cannot be true is not
/// budgeted on: it would show a fill of millions of percent and drop the whole history.
pub fn plausible_count(counted: u64, bytes: u64, window: Option<u64>) -> bool {
    counted <= bytes.saturating_add(SERVER_SIDE_TOKENS) && window.is_none_or(|w| counted <= w)
}

/// What a message is, as far as the budget cares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// The system prompt: never dropped.
    System,
    /// A note that replaced older exchanges: kept by truncation, folded into the next summary.
    Summary,
    User,
    Assistant,
}

/// One message of the history as the budget sees it: what it is and what it costs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Item {
    pub kind: Kind,
    pub tokens: u64,
}

/// The answer to "does this history fit?". The last user item is the message being sent; after
/// it come only the calls and results of a tool loop's follow-up, which go with it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fit {
    /// Everything fits: `tokens` in all.
    Fits { tokens: u64 },
    /// Leaving out `drop` (the oldest whole exchanges) makes it fit in `after` tokens.
    Drop {
        drop: Range<usize>,
        before: u64,
        after: u64,
    },
    /// The pinned messages and the new message alone need `needed` tokens: more than the limit.
    TooLarge { needed: u64 },
}

/// Decides what fits within `limit` tokens (the window less the reply reserve), dropping as few of
/// the oldest exchanges as possible. The boundary is exact: `limit` tokens fit.
pub fn fit(items: &[Item], limit: u64) -> Fit {
    let total: u64 = items.iter().map(|i| i.tokens).fold(0, u64::saturating_add);
    if total <= limit {
        return Fit::Fits { tokens: total };
    }
    let start = droppable_start(items);
    for end in exchange_ends(items) {
        let after = total - sum(&items[start..end]);
        if after <= limit {
            return Fit::Drop {
                drop: start..end,
                before: total,
                after,
            };
        }
    }
    Fit::TooLarge {
        needed: total - sum(&items[start..current(items)]),
    }
}

/// What to fold into a summary: the previous summary (if any) and the oldest exchanges, enough
/// that the rest plus the new note (`note` tokens) takes at most `target` tokens. It takes at least
/// what [`fit`] would drop, and nothing when everything fits. `None`: nothing can be summarised
/// (no older exchanges) or even summarising everything would not fit in `limit`.
pub fn summary_range(items: &[Item], limit: u64, target: u64, note: u64) -> Option<Range<usize>> {
    let start = droppable_start(items);
    let from = items[..start]
        .iter()
        .position(|i| i.kind == Kind::Summary)
        .unwrap_or(start);
    let total = sum(items);
    if total <= limit {
        return None;
    }
    let mut best = None;
    for end in exchange_ends(items) {
        let after = total - sum(&items[from..end]) + note;
        if after <= limit {
            best = Some(from..end);
            if after <= target {
                break;
            }
        }
    }
    best
}

fn sum(items: &[Item]) -> u64 {
    items.iter().map(|i| i.tokens).fold(0, u64::saturating_add)
}

/// Index of the first message that may be dropped: after the leading system prompt and summary.
fn droppable_start(items: &[Item]) -> usize {
    items
        .iter()
        .position(|i| !matches!(i.kind, Kind::System | Kind::Summary))
        .unwrap_or(items.len())
        .min(current(items))
}

/// Index of the message being sent: the last user message. What follows it (a tool loop's calls
/// and results, sent back with no new message) goes with it, never dropped apart from it.
fn current(items: &[Item]) -> usize {
    let last = items.len().saturating_sub(1);
    items
        .iter()
        .rposition(|i| i.kind == Kind::User)
        .unwrap_or(last)
}

/// The end index of each droppable exchange, oldest first: an exchange runs from a user message to
/// the next one. The last item (the new message) never belongs to one.
fn exchange_ends(items: &[Item]) -> Vec<usize> {
    let start = droppable_start(items);
    let last = current(items);
    let mut ends: Vec<usize> = items
        .iter()
        .enumerate()
        .take(last + 1)
        .skip(start + 1)
        .filter(|&(i, item)| item.kind == Kind::User || i == last)
        .map(|(i, _)| i)
        .collect();
    ends.dedup();
    ends
}

/// What the policy did to a request, as data: shown to the user, written to the turn log and
/// available to whatever records the session.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ContextAction {
    pub strategy: Strategy,
    /// Messages taken out of the request (they stay in the conversation's archive).
    pub messages: usize,
    /// How many of them were user messages, i.e. exchanges.
    pub exchanges: usize,
    /// What those messages cost.
    pub tokens: u64,
    /// The prompt's size afterwards (the note included).
    pub tokens_after: u64,
    /// The note that replaced them (summarize only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub summary: Option<String>,
    /// Where the removed messages now sit in `Conversation::archived()`.
    #[serde(skip)]
    pub archived: Range<usize>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn items(spec: &[(char, u64)]) -> Vec<Item> {
        spec.iter()
            .map(|&(k, tokens)| Item {
                kind: match k {
                    's' => Kind::System,
                    'n' => Kind::Summary,
                    'u' => Kind::User,
                    _ => Kind::Assistant,
                },
                tokens,
            })
            .collect()
    }

    #[test]
    fn strategy_names() {
        assert_eq!("truncate".parse(), Ok(Strategy::Truncate));
        assert_eq!(" Summarise ".parse(), Ok(Strategy::Summarize));
        assert_eq!("FAIL".parse(), Ok(Strategy::Fail));
        assert_eq!(
            "drop".parse::<Strategy>(),
            Err(UnknownStrategy("drop".into()))
        );
        assert_eq!("".parse::<Strategy>(), Err(UnknownStrategy(String::new())));
        for name in Strategy::NAMES {
            assert_eq!(name.parse::<Strategy>().unwrap().as_str(), name);
        }
        assert_eq!(Strategy::default(), Strategy::Truncate);
    }

    #[test]
    fn reserve() {
        assert_eq!(reply_reserve(Some(100), 2048), 100);
        assert_eq!(reply_reserve(None, 2048), 512);
        assert_eq!(reply_reserve(None, 32768), MAX_DEFAULT_RESERVE);
        assert_eq!(reply_reserve(Some(0), 2048), 512);
        assert_eq!(reply_reserve(Some(-1), 2048), 512);
        assert_eq!(reply_reserve(Some(-2), 256), 64);
        assert_eq!(reply_reserve(Some(5000), 2048), 1024);
        assert_eq!(reply_reserve(None, 0), 0);
    }

    #[test]
    fn empty_history_fits_or_is_too_large() {
        let one = items(&[('u', 10)]);
        assert_eq!(fit(&one, 10), Fit::Fits { tokens: 10 });
        assert_eq!(fit(&one, 9), Fit::TooLarge { needed: 10 });
        let with_system = items(&[('s', 5), ('u', 10)]);
        assert_eq!(fit(&with_system, 14), Fit::TooLarge { needed: 15 });
        assert_eq!(fit(&[], 0), Fit::Fits { tokens: 0 });
    }

    /// s | u a | u a | u a | u(new): 100 tokens in all.
    fn three_exchanges_then_a_question() -> Vec<Item> {
        items(&[
            ('s', 10),
            ('u', 20),
            ('a', 30),
            ('u', 5),
            ('a', 5),
            ('u', 7),
            ('a', 8),
            ('u', 15),
        ])
    }

    #[test]
    fn drops_the_fewest_oldest_whole_exchanges_at_exact_boundaries() {
        // s | u a | u a | u a | u(new)
        let h = three_exchanges_then_a_question();
        let total = 100;
        assert_eq!(fit(&h, total), Fit::Fits { tokens: total });
        assert_eq!(
            fit(&h, total - 1),
            Fit::Drop {
                drop: 1..3,
                before: 100,
                after: 50
            }
        );
        assert_eq!(
            fit(&h, 50),
            Fit::Drop {
                drop: 1..3,
                before: 100,
                after: 50
            }
        );
        assert_eq!(
            fit(&h, 49),
            Fit::Drop {
                drop: 1..5,
                before: 100,
                after: 40
            }
        );
        assert_eq!(
            fit(&h, 25),
            Fit::Drop {
                drop: 1..7,
                before: 100,
                after: 25
            }
        );
        assert_eq!(fit(&h, 24), Fit::TooLarge { needed: 25 });
    }

    #[test]
    fn a_tool_follow_up_keeps_its_question_calls_and_results_together() {
        // s | u a(call) r a | u(question) a(call) r(result): results count as the reply's.
        let h = items(&[
            ('s', 10),
            ('u', 20),
            ('a', 5),
            ('a', 25),
            ('a', 5),
            ('u', 5),
            ('a', 5),
            ('a', 30),
        ]);
        assert_eq!(fit(&h, 105), Fit::Fits { tokens: 105 });
        assert_eq!(
            fit(&h, 60),
            Fit::Drop {
                drop: 1..5,
                before: 105,
                after: 50
            },
            "the old exchange goes whole, call and result together"
        );
        assert_eq!(fit(&h, 49), Fit::TooLarge { needed: 50 });
        assert_eq!(summary_range(&h, 60, 60, 5), Some(1..5));
    }

    #[test]
    fn never_drops_system_prompt_summary_or_the_new_message() {
        let h = items(&[('s', 10), ('n', 10), ('u', 50), ('a', 50), ('u', 1)]);
        assert_eq!(
            fit(&h, 30),
            Fit::Drop {
                drop: 2..4,
                before: 121,
                after: 21
            }
        );
        assert_eq!(fit(&h, 20), Fit::TooLarge { needed: 21 });
        // No system prompt at all.
        let h = items(&[('u', 50), ('a', 50), ('u', 1)]);
        assert_eq!(
            fit(&h, 1),
            Fit::Drop {
                drop: 0..2,
                before: 101,
                after: 1
            }
        );
    }

    #[test]
    fn a_huge_single_message_is_too_large_whatever_the_history() {
        let h = items(&[('s', 10), ('u', 5), ('a', 5), ('u', 5000)]);
        assert_eq!(fit(&h, 2048), Fit::TooLarge { needed: 5010 });
    }

    #[test]
    fn odd_shapes_are_cut_at_user_messages() {
        // A reply without its question (an earlier cut) and two questions in a row (a reply that
        // never came): each user message starts a new exchange, stray replies go with the first.
        let h = items(&[
            ('s', 1),
            ('a', 10),
            ('u', 10),
            ('u', 10),
            ('a', 10),
            ('u', 1),
        ]);
        assert_eq!(
            fit(&h, 35),
            Fit::Drop {
                drop: 1..2,
                before: 42,
                after: 32
            }
        );
        assert_eq!(
            fit(&h, 21),
            Fit::Drop {
                drop: 1..5,
                before: 42,
                after: 2
            }
        );
    }

    #[test]
    fn summary_takes_at_least_what_truncation_would_and_aims_lower() {
        let h = three_exchanges_then_a_question();
        // Everything fits: nothing to do even though the target is lower.
        assert_eq!(summary_range(&h, 100, 10, 5), None);
        // Over by one: truncation would drop one exchange; the summary aims for the target.
        assert_eq!(summary_range(&h, 99, 99, 5), Some(1..3));
        assert_eq!(summary_range(&h, 99, 50, 5), Some(1..5));
        // The target cannot be met: as much as possible while it still fits.
        assert_eq!(summary_range(&h, 99, 1, 5), Some(1..7));
        // Even everything summarised does not fit.
        assert_eq!(summary_range(&h, 29, 1, 5), None);
        // Nothing older than the new message.
        assert_eq!(
            summary_range(&items(&[('s', 5), ('u', 500)]), 100, 50, 5),
            None
        );
    }

    #[test]
    fn a_previous_summary_is_folded_into_the_next() {
        let h = items(&[
            ('s', 10),
            ('n', 40),
            ('u', 30),
            ('a', 30),
            ('u', 5),
            ('a', 5),
            ('u', 1),
        ]);
        assert_eq!(summary_range(&h, 100, 100, 20), Some(1..4));
    }

    #[test]
    fn a_count_past_the_bytes_or_the_known_window_is_not_a_count() {
        assert!(plausible_count(10, 40, Some(2048)));
        assert!(plausible_count(SERVER_SIDE_TOKENS + 40, 40, None));
        assert!(!plausible_count(SERVER_SIDE_TOKENS + 41, 40, None));
        assert!(plausible_count(2048, 1_000_000, Some(2048)));
        assert!(!plausible_count(2049, 1_000_000, Some(2048)));
        assert!(!plausible_count(u64::from(u32::MAX), 12, None));
        assert!(!plausible_count(u64::MAX, u64::MAX, Some(u64::MAX - 1)));
    }
}
