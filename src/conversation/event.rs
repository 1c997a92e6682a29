//! What a reply stream means to the client, whichever API it came from: text and thinking deltas,
//! one final event with the statistics, or an error; and how a turn ended.

use serde::{Deserialize, Serialize};

use super::message::ToolCall;

/// One event of a streamed reply. Borrows from the bytes it was decoded from, so a token costs no
/// allocation.
#[derive(Debug, PartialEq)]
pub enum ChatEvent<'a> {
    /// Reply text and/or thinking text; either may be empty.
    Delta { content: &'a str, thinking: &'a str },
    /// The reply is complete; it may still carry a last bit of text.
    Done { content: &'a str, stats: FinalStats },
    /// The server reported a failure inside the stream: the turn failed.
    Error(String),
    /// A whole function call the model asked for (the adapter joins streamed fragments first).
    ToolCall(ToolCall),
}

/// What the server reported at the end of a reply: why it stopped, token counts and timings.
/// A server that omits a count leaves it `None`; durations are nanoseconds, 0 when not reported.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct FinalStats {
    /// Why generation stopped, in Ollama's words (`stop`, `length`, `load`); other APIs' reasons
    /// are mapped onto them where one means the same.
    pub done_reason: Option<String>,
    pub total_duration: u64,
    pub load_duration: u64,
    /// Tokens of the prompt as the server counted them.
    pub prompt_eval_count: Option<u64>,
    pub prompt_eval_duration: u64,
    /// Tokens of the reply.
    pub eval_count: Option<u64>,
    pub eval_duration: u64,
    /// The server reported no token counts at all (an OpenAI-compatible server that ignored
    /// `include_usage`), so a missing count is unknown rather than 0.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub usage_unknown: bool,
    /// Where a cloud model really ran, when a local server forwarded the request (Ollama's
    /// `remote_model` and `remote_host`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub remote: Option<Remote>,
}

/// The model and host a server forwarded a request to (Ollama's cloud models).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Remote {
    pub model: String,
    pub host: String,
}

impl Remote {
    /// The longest name or host kept: a hostile server's endless string is cut here.
    pub const MAX: usize = 256;

    /// What the server said, cut to [`Remote::MAX`] characters each; `None` when it said neither.
    pub fn new(model: Option<&str>, host: Option<&str>) -> Option<Remote> {
        let cut = |s: Option<&str>| s.unwrap_or("").chars().take(Self::MAX).collect::<String>();
        let remote = Remote {
            model: cut(model),
            host: cut(host),
        };
        (!remote.model.is_empty() || !remote.host.is_empty()).then_some(remote)
    }
}

/// More tokens than any model's context window holds by far: a count above it is not a count (a
/// broken or hostile server), so it is treated as not reported rather than summed into budgets.
pub const MAX_PLAUSIBLE_TOKENS: u64 = 1 << 32;

impl FinalStats {
    /// The statistics with implausible token counts dropped: then the server's counts as a
    /// whole are unknown (not 0), so that no sum of them can wrap around and no budget or log
    /// record is built on them.
    pub fn plausible(mut self) -> Self {
        let absurd = |n: Option<u64>| n.is_some_and(|n| n > MAX_PLAUSIBLE_TOKENS);
        if absurd(self.prompt_eval_count) || absurd(self.eval_count) {
            self.prompt_eval_count = None;
            self.eval_count = None;
            self.usage_unknown = true;
        }
        self
    }

    /// Generation speed as the server measured it, when it reported enough to say.
    pub fn eval_rate(&self) -> Option<f64> {
        match self.eval_count {
            Some(n) if self.eval_duration > 0 => Some(n as f64 / (self.eval_duration as f64 / 1e9)),
            _ => None,
        }
    }
}

/// How a turn ended, as the turn log and the session file spell it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TurnStatus {
    Ok,
    Error,
    Cancelled,
    /// Cut short by SIGTERM: the run was asked to end.
    Terminated,
    /// Cut short by SIGHUP: the terminal went away.
    Hangup,
}

impl TurnStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            TurnStatus::Ok => "ok",
            TurnStatus::Error => "error",
            TurnStatus::Cancelled => "cancelled",
            TurnStatus::Terminated => "terminated",
            TurnStatus::Hangup => "hangup",
        }
    }
}

impl std::fmt::Display for TurnStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_spellings_agree() {
        for s in [
            TurnStatus::Ok,
            TurnStatus::Error,
            TurnStatus::Cancelled,
            TurnStatus::Terminated,
            TurnStatus::Hangup,
        ] {
            assert_eq!(serde_json::to_value(s).unwrap(), s.as_str());
            assert_eq!(s.to_string(), s.as_str());
        }
    }

    #[test]
    fn absurd_counts_are_not_counts() {
        let s = FinalStats {
            prompt_eval_count: Some(u64::MAX),
            eval_count: Some(MAX_PLAUSIBLE_TOKENS),
            ..FinalStats::default()
        }
        .plausible();
        assert_eq!((s.prompt_eval_count, s.eval_count), (None, None));
        assert!(s.usage_unknown);
        let fine = FinalStats {
            eval_count: Some(MAX_PLAUSIBLE_TOKENS),
            ..FinalStats::default()
        }
        .plausible();
        assert_eq!(fine.eval_count, Some(MAX_PLAUSIBLE_TOKENS));
        assert!(!fine.usage_unknown);
    }

    #[test]
    fn eval_rate_needs_a_count_and_a_duration() {
        let s = FinalStats {
            eval_count: Some(40),
            eval_duration: 427_743_000,
            ..FinalStats::default()
        };
        assert!((s.eval_rate().unwrap() - 93.515).abs() < 0.01);
        assert_eq!(FinalStats::default().eval_rate(), None);
    }
}
