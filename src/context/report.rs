//! What the user reads about the context: the `/context` summary and the one-line notices the
//! chat prints when the policy acts. Pure text, unit-tested.

use super::window::{Window, WindowSource};
use super::{ContextAction, Strategy};

/// Everything `/context` shows, gathered by the chat.
#[derive(Debug, Clone, PartialEq)]
pub struct Snapshot {
    /// `None` when the window could not be learned (no server).
    pub window: Option<Window>,
    /// The server can say what the window is (Ollama's API; an OpenAI-compatible one cannot).
    pub window_reported: bool,
    /// The model's trained maximum, when `/api/show` said.
    pub model_max: Option<u64>,
    pub reserve: u64,
    /// The reserve is the user's `num_predict` (else the default quarter of the window).
    pub reserve_is_num_predict: bool,
    pub system_tokens: u64,
    /// The model's Modelfile history, which the server adds before every request (estimated).
    pub model_history_tokens: u64,
    /// Messages sent with the next request, other than the system prompt.
    pub messages: usize,
    pub message_tokens: u64,
    /// How many of all counted messages the server counted (the rest are estimates).
    pub exact: usize,
    pub counted: usize,
    pub summary_tokens: Option<u64>,
    pub dropped: usize,
    pub summarised: usize,
    pub strategy: Strategy,
    pub allow_overflow: bool,
}

/// The `/context` text: used / window, what it is made of, what room is left, the strategy.
pub fn render(s: &Snapshot) -> String {
    let used =
        s.system_tokens + s.model_history_tokens + s.message_tokens + s.summary_tokens.unwrap_or(0);
    let mut out = String::new();
    match s.window {
        Some(w) => {
            let pct = used * 100 / w.tokens.max(1);
            out.push_str(&format!(
                "Context: {used} / {} tokens ({pct}%), window from {}",
                w.tokens, w.source
            ));
            if w.source == WindowSource::Assumed {
                out.push_str(
                    ": Ollama's own default applies and is known once the model is loaded",
                );
            }
            out.push('\n');
        }
        None if s.window_reported => out.push_str(&format!(
            "Context: {used} tokens; the window is unknown (Ollama did not answer)\n"
        )),
        None => out.push_str(&format!(
            "Context: about {used} tokens; the window is unknown: this API does not report it, \
             so the history is sent whole and the server decides what fits\n"
        )),
    }
    if let Some(max) = s.model_max {
        out.push_str(&format!(
            "  model maximum   {max} tokens (set -o num_ctx=N to use more)\n"
        ));
    }
    if s.system_tokens > 0 {
        out.push_str(&format!("  system prompt   {} tokens\n", s.system_tokens));
    }
    if s.model_history_tokens > 0 {
        out.push_str(&format!(
            "  model history   {} tokens (its Modelfile's MESSAGE lines, added by the server)\n",
            s.model_history_tokens
        ));
    }
    if let Some(t) = s.summary_tokens {
        out.push_str(&format!("  summary note    {t} tokens\n"));
    }
    out.push_str(&format!(
        "  messages        {} ({} tokens; {} of {} counted by the server, the rest estimated)\n",
        s.messages, s.message_tokens, s.exact, s.counted
    ));
    let reserve_why = if s.reserve_is_num_predict {
        "num_predict"
    } else {
        "a quarter of the window, at most 1024; set num_predict to choose"
    };
    if let Some(w) = s.window {
        out.push_str(&format!(
            "  reply reserve   {} tokens ({reserve_why})\n",
            s.reserve
        ));
        let room = w.tokens.saturating_sub(s.reserve).saturating_sub(used);
        out.push_str(&format!(
            "  room left       {room} tokens for your next message before the {} strategy acts\n",
            s.strategy
        ));
    }
    out.push_str(&format!(
        "  strategy        {} (/set context truncate|summarize|fail)",
        s.strategy
    ));
    if s.allow_overflow {
        out.push_str(", --allow-overflow");
    }
    out.push('\n');
    if s.dropped + s.summarised > 0 {
        out.push_str(&format!(
            "  not sent        {} earlier messages ({} dropped, {} summarised; kept in the record)\n",
            s.dropped + s.summarised,
            s.dropped,
            s.summarised
        ));
    }
    out
}

fn plural(n: usize, one: &str, many: &str) -> String {
    if n == 1 {
        format!("{n} {one}")
    } else {
        format!("{n} {many}")
    }
}

/// The dim line after truncating or summarising.
pub fn action_notice(a: &ContextAction, window: u64) -> String {
    let what = format!(
        "the oldest {} ({}, {} tokens)",
        plural(a.exchanges, "exchange", "exchanges"),
        plural(a.messages, "message", "messages"),
        a.tokens
    );
    match a.strategy {
        Strategy::Summarize => format!(
            "context: summarised {what} into a note to fit the {window}-token window; the prompt is now {} tokens",
            a.tokens_after
        ),
        _ => format!(
            "context: dropped {what} to fit the {window}-token window; the prompt is now {} tokens (/context for details)",
            a.tokens_after
        ),
    }
}

/// Why the fail strategy sent nothing, and what to do.
pub fn full_message(needed: u64, window: u64, reserve: u64) -> String {
    format!(
        "the conversation ({needed} tokens) no longer fits the {window}-token context window with {reserve} tokens kept for the reply, so nothing was sent (context strategy: fail). \
         /clear to start over, /undo to take back the last exchange, a bigger window with -o num_ctx={}, or /set context truncate|summarize",
        suggest_window(needed + reserve)
    )
}

/// Why a message that cannot fit even alone was refused.
pub fn too_large_message(needed: u64, window: u64, reserve: u64) -> String {
    format!(
        "this message needs about {needed} tokens (with the system prompt) but the context window is {window} tokens, {reserve} of them kept for the reply; Ollama would cut it silently, so it was not sent. \
         Shorten it, raise the window with -o num_ctx={}, or send it anyway with --allow-overflow",
        suggest_window(needed + reserve)
    )
}

/// The next power of two at or above `n`: a window size people recognise.
fn suggest_window(n: u64) -> u64 {
    n.max(2048).next_power_of_two()
}

/// The warning when the server evaluated fewer prompt tokens than were sent.
pub fn server_truncated_notice(counted: u64, expected: u64, window: Window) -> String {
    format!(
        "Ollama evaluated only {counted} prompt tokens of about {expected} sent: it dropped or cut part of the conversation, so its context window is smaller than the {} tokens believed ({})",
        window.tokens, window.source
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn snapshot() -> Snapshot {
        Snapshot {
            window: Some(Window {
                tokens: 2048,
                source: WindowSource::Loaded,
            }),
            window_reported: true,
            model_max: Some(32768),
            reserve: 512,
            reserve_is_num_predict: false,
            system_tokens: 10,
            model_history_tokens: 0,
            messages: 4,
            message_tokens: 990,
            exact: 3,
            counted: 5,
            summary_tokens: None,
            dropped: 0,
            summarised: 0,
            strategy: Strategy::Truncate,
            allow_overflow: false,
        }
    }

    #[test]
    fn context_report() {
        let text = render(&snapshot());
        assert!(text.starts_with(
            "Context: 1000 / 2048 tokens (48%), window from the loaded model (GET /api/ps)\n"
        ));
        assert!(text.contains("model maximum   32768 tokens"));
        assert!(text.contains("system prompt   10 tokens"));
        assert!(text.contains("messages        4 (990 tokens; 3 of 5 counted by the server"));
        assert!(text.contains("reply reserve   512 tokens (a quarter"));
        assert!(text.contains("room left       536 tokens"));
        assert!(text.contains("strategy        truncate (/set context"));
        assert!(!text.contains("not sent"));
    }

    #[test]
    fn context_report_variants() {
        let mut s = snapshot();
        s.window = None;
        s.model_max = None;
        s.system_tokens = 0;
        s.summary_tokens = Some(40);
        s.dropped = 2;
        s.summarised = 4;
        s.reserve_is_num_predict = true;
        s.allow_overflow = true;
        s.strategy = Strategy::Summarize;
        let text = render(&s);
        assert!(text.starts_with("Context: 1030 tokens; the window is unknown"));
        assert!(!text.contains("system prompt"));
        assert!(!text.contains("room left"));
        assert!(text.contains("summary note    40 tokens"));
        assert!(!text.contains("reply reserve"));
        assert!(text.contains("summarize (/set context truncate|summarize|fail), --allow-overflow"));
        assert!(text.contains("not sent        6 earlier messages (2 dropped, 4 summarised"));
        assert!(text.contains("Ollama did not answer"));
        s.window_reported = false;
        let text = render(&s);
        assert!(text.starts_with(
            "Context: about 1030 tokens; the window is unknown: this API does not report it"
        ));
        s.model_history_tokens = 12;
        let text = render(&s);
        assert!(text.starts_with("Context: about 1042 tokens"), "{text}");
        assert!(text.contains("model history   12 tokens (its Modelfile's MESSAGE lines"));

        let mut s = snapshot();
        s.window = Some(Window {
            tokens: 2048,
            source: WindowSource::Assumed,
        });
        s.message_tokens = 5000;
        let text = render(&s);
        assert!(text.contains("known once the model is loaded"));
        s.reserve_is_num_predict = true;
        assert!(render(&s).contains("reply reserve   512 tokens (num_predict)"));
        assert!(text.contains("room left       0 tokens"));
    }

    #[test]
    fn notices() {
        let a = ContextAction {
            strategy: Strategy::Truncate,
            messages: 2,
            exchanges: 1,
            tokens: 700,
            tokens_after: 1200,
            summary: None,
            archived: 0..2,
        };
        assert_eq!(
            action_notice(&a, 2048),
            "context: dropped the oldest 1 exchange (2 messages, 700 tokens) to fit the 2048-token window; the prompt is now 1200 tokens (/context for details)"
        );
        let s = ContextAction {
            strategy: Strategy::Summarize,
            exchanges: 3,
            messages: 6,
            ..a
        };
        assert!(action_notice(&s, 2048)
            .starts_with("context: summarised the oldest 3 exchanges (6 messages"));
        let f = full_message(3000, 2048, 512);
        assert!(f.contains("(3000 tokens)"));
        assert!(f.contains("-o num_ctx=4096"));
        assert!(f.contains("/clear"));
        let t = too_large_message(9000, 2048, 512);
        assert!(t.contains("--allow-overflow"));
        assert!(t.contains("-o num_ctx=16384"));
        let w = Window {
            tokens: 2048,
            source: WindowSource::NumCtx,
        };
        assert!(
            server_truncated_notice(131, 900, w).contains("only 131 prompt tokens of about 900")
        );
    }
}
