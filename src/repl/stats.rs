//! This session's figures for `/stats`, gathered from each turn's outcome. Pure.

use std::time::Duration;

use crate::render::verbose::go_duration;
use crate::turn::{Ending, TurnOutcome};

/// Running totals over the turns of one REPL session.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct SessionStats {
    turns: u32,
    answered: u32,
    prompt_tokens: u64,
    completion_tokens: u64,
    latency_sum: Duration,
    latency_worst: Duration,
    ttft_sum: Duration,
    ttft_count: u32,
    ttft_worst: Duration,
}

impl SessionStats {
    pub fn record(&mut self, outcome: &TurnOutcome) {
        self.turns += 1;
        if let Some(s) = &outcome.stats {
            let (p, c) = (s.prompt_eval_count.unwrap_or(0), s.eval_count.unwrap_or(0));
            self.prompt_tokens += p;
            self.completion_tokens += c;
        }
        if matches!(outcome.ending, Ending::Done) {
            self.answered += 1;
            self.latency_sum += outcome.elapsed;
            self.latency_worst = self.latency_worst.max(outcome.elapsed);
        }
        if let Some(t) = outcome.ttft {
            self.ttft_count += 1;
            self.ttft_sum += t;
            self.ttft_worst = self.ttft_worst.max(t);
        }
    }

    /// The `/stats` report.
    pub fn report(&self) -> String {
        if self.turns == 0 {
            return "No turns yet in this session.\n".to_string();
        }
        let other = self.turns - self.answered;
        let mut out = format!(
            "turns                {}{}\n",
            self.turns,
            if other > 0 {
                format!(" ({} answered, {other} failed or cancelled)", self.answered)
            } else {
                String::new()
            }
        );
        out += &format!(
            "tokens in / out      {} / {}\n",
            self.prompt_tokens, self.completion_tokens
        );
        if self.answered > 0 {
            out += &format!(
                "latency              mean {}, worst {}\n",
                ms(self.latency_sum / self.answered),
                ms(self.latency_worst)
            );
        }
        if self.ttft_count > 0 {
            out += &format!(
                "time to first token  mean {}, worst {}\n",
                ms(self.ttft_sum / self.ttft_count),
                ms(self.ttft_worst)
            );
        }
        out
    }
}

/// A duration rounded to the millisecond, Go style (`412ms`, `1.2s`).
fn ms(d: Duration) -> String {
    let rounded = (d.as_nanos() + 500_000) / 1_000_000 * 1_000_000;
    go_duration(u64::try_from(rounded).unwrap_or(u64::MAX))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::conversation::FinalStats;
    use crate::turn::CancelReason;

    fn outcome(
        ending: Ending,
        ms_total: u64,
        ttft: Option<u64>,
        counts: Option<(u64, u64)>,
    ) -> TurnOutcome {
        TurnOutcome {
            started_at: chrono::Utc::now(),
            content: String::new(),
            thinking: String::new(),
            tool_calls: Vec::new(),
            stats: counts.map(|(p, c)| FinalStats {
                prompt_eval_count: Some(p),
                eval_count: Some(c),
                ..FinalStats::default()
            }),
            ttft: ttft.map(Duration::from_millis),
            elapsed: Duration::from_millis(ms_total),
            ending,
        }
    }

    #[test]
    fn empty_session() {
        let s = SessionStats::default();
        assert_eq!(s.report(), "No turns yet in this session.\n");
    }

    #[test]
    fn totals_means_and_worst() {
        let mut s = SessionStats::default();
        s.record(&outcome(Ending::Done, 400, Some(40), Some((50, 10))));
        s.record(&outcome(Ending::Done, 1200, Some(80), Some((70, 20))));
        s.record(&outcome(
            Ending::Cancelled(CancelReason::Interrupt),
            90,
            Some(30),
            None,
        ));
        assert_eq!(
            s.report(),
            "turns                3 (2 answered, 1 failed or cancelled)\n\
             tokens in / out      120 / 30\n\
             latency              mean 800ms, worst 1.2s\n\
             time to first token  mean 50ms, worst 80ms\n"
        );
    }

    #[test]
    fn milliseconds_are_rounded() {
        assert_eq!(ms(Duration::from_micros(1_234_567)), "1.235s");
        assert_eq!(ms(Duration::from_micros(499)), "0s");
    }
}
