//! The statistics after a reply: the `ollama run --verbose` block, byte for byte, plus what it lacks
//! (time to first token, client-side latency), and the same as one JSON object for scripts.

use std::fmt::Write as _;
use std::time::Duration;

use serde::Serialize;

use crate::conversation::FinalStats;

/// Formats nanoseconds the way Go's `time.Duration.String` does (`1.279118717s`, `891.933µs`,
/// `215.3ms`, `1m1.5s`), because that is what `ollama run --verbose` prints.
pub fn go_duration(nanos: u64) -> String {
    const US: u64 = 1_000;
    const MS: u64 = 1_000_000;
    const S: u64 = 1_000_000_000;
    match nanos {
        0 => "0s".to_string(),
        n if n < US => format!("{n}ns"),
        n if n < MS => format!("{}µs", decimal(n, US, 3)),
        n if n < S => format!("{}ms", decimal(n, MS, 6)),
        n => {
            let secs = n / S;
            let s = decimal((secs % 60) * S + n % S, S, 9);
            let (m, h) = ((secs / 60) % 60, secs / 3600);
            if h > 0 {
                format!("{h}h{m}m{s}s")
            } else if m > 0 {
                format!("{m}m{s}s")
            } else {
                format!("{s}s")
            }
        }
    }
}

/// `value / unit` with up to `digits` decimals, trailing zeros (and a bare point) removed.
fn decimal(value: u64, unit: u64, digits: usize) -> String {
    let (int, frac) = (value / unit, value % unit);
    if frac == 0 {
        return int.to_string();
    }
    let frac = format!("{frac:0digits$}");
    format!("{int}.{}", frac.trim_end_matches('0'))
}

fn nanos(d: Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
}

fn rate(count: u64, duration_ns: u64) -> f64 {
    count as f64 / (duration_ns as f64 / 1e9)
}

/// The block `ollama run --verbose` prints (labels padded to 22 columns, a line only when its
/// value is above zero, a rate whenever its duration is), then time to first token and the
/// latency measured here, from request sent to final chunk.
pub fn verbose_block(
    stats: Option<&FinalStats>,
    ttft: Option<Duration>,
    latency: Duration,
) -> String {
    let mut out = String::new();
    let mut line = |label: &str, value: String| {
        let _ = writeln!(out, "{:<22}{value}", format!("{label}:"));
    };
    if let Some(s) = stats {
        let prompt_count = s.prompt_eval_count.unwrap_or(0);
        let eval_count = s.eval_count.unwrap_or(0);
        if s.total_duration > 0 {
            line("total duration", go_duration(s.total_duration));
        }
        if s.load_duration > 0 {
            line("load duration", go_duration(s.load_duration));
        }
        if prompt_count > 0 {
            line("prompt eval count", format!("{prompt_count} token(s)"));
        }
        if s.prompt_eval_duration > 0 {
            line("prompt eval duration", go_duration(s.prompt_eval_duration));
            let r = rate(prompt_count, s.prompt_eval_duration);
            line("prompt eval rate", format!("{r:.2} tokens/s"));
        }
        if eval_count > 0 {
            line("eval count", format!("{eval_count} token(s)"));
        }
        if s.eval_duration > 0 {
            line("eval duration", go_duration(s.eval_duration));
            line(
                "eval rate",
                format!("{:.2} tokens/s", rate(eval_count, s.eval_duration)),
            );
        }
    }
    if let Some(t) = ttft.filter(|t| !t.is_zero()) {
        line("time to first token", go_duration(nanos(t)));
    }
    if !latency.is_zero() {
        line("client total latency", go_duration(nanos(latency)));
    }
    out
}

/// The same figures for scripts: one JSON object, durations in nanoseconds like the API's own,
/// rates in tokens per second; a field is null when the server did not report it.
#[derive(Debug, Serialize, PartialEq)]
pub struct StatsJson<'a> {
    pub model: &'a str,
    pub done_reason: Option<&'a str>,
    pub total_duration: Option<u64>,
    pub load_duration: Option<u64>,
    pub prompt_eval_count: Option<u64>,
    pub prompt_eval_duration: Option<u64>,
    pub prompt_eval_rate: Option<f64>,
    pub eval_count: Option<u64>,
    pub eval_duration: Option<u64>,
    pub eval_rate: Option<f64>,
    pub time_to_first_token: Option<u64>,
    pub client_total_latency: u64,
}

impl<'a> StatsJson<'a> {
    pub fn new(
        model: &'a str,
        stats: Option<&'a FinalStats>,
        ttft: Option<Duration>,
        latency: Duration,
    ) -> Self {
        let round2 = |x: f64| (x * 100.0).round() / 100.0;
        let positive = |n: u64| Some(n).filter(|n| *n > 0);
        StatsJson {
            model,
            done_reason: stats.and_then(|s| s.done_reason.as_deref()),
            total_duration: stats.map(|s| s.total_duration),
            load_duration: stats.map(|s| s.load_duration),
            prompt_eval_count: stats.map(|s| s.prompt_eval_count.unwrap_or(0)),
            prompt_eval_duration: stats.map(|s| s.prompt_eval_duration),
            prompt_eval_rate: stats.and_then(|s| {
                positive(s.prompt_eval_duration)
                    .map(|d| round2(rate(s.prompt_eval_count.unwrap_or(0), d)))
            }),
            eval_count: stats.map(|s| s.eval_count.unwrap_or(0)),
            eval_duration: stats.map(|s| s.eval_duration),
            eval_rate: stats.and_then(|s| {
                positive(s.eval_duration).map(|d| round2(rate(s.eval_count.unwrap_or(0), d)))
            }),
            time_to_first_token: ttft.map(nanos),
            client_total_latency: nanos(latency),
        }
    }

    /// One line of JSON, newline-terminated.
    pub fn to_line(&self) -> String {
        let mut s = serde_json::to_string(self).unwrap_or_default();
        s.push('\n');
        s
    }
}

/// Writes what was asked for after a reply (stderr in practice): the verbose block, the JSON line,
/// or both. Errors are ignored: statistics are not worth failing a chat over.
pub fn write_stats(
    out: &mut impl std::io::Write,
    verbose: bool,
    json: bool,
    model: &str,
    stats: Option<&FinalStats>,
    ttft: Option<Duration>,
    latency: Duration,
) {
    if verbose {
        let _ = out.write_all(verbose_block(stats, ttft, latency).as_bytes());
    }
    if json {
        let _ = out.write_all(
            StatsJson::new(model, stats, ttft, latency)
                .to_line()
                .as_bytes(),
        );
    }
    let _ = out.flush();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_like_go() {
        assert_eq!(go_duration(0), "0s");
        assert_eq!(go_duration(1), "1ns");
        assert_eq!(go_duration(999), "999ns");
        assert_eq!(go_duration(1_000), "1µs");
        assert_eq!(go_duration(891_933), "891.933µs");
        assert_eq!(go_duration(1_046_115), "1.046115ms");
        assert_eq!(go_duration(215_300_000), "215.3ms");
        assert_eq!(go_duration(1_279_118_717), "1.279118717s");
        assert_eq!(go_duration(1_061_000_000), "1.061s");
        assert_eq!(go_duration(2_000_000_000), "2s");
        assert_eq!(go_duration(61_500_000_000), "1m1.5s");
        assert_eq!(go_duration(3_600_000_000_000), "1h0m0s");
        assert_eq!(go_duration(3_723_000_000_001), "1h2m3.000000001s");
        assert_eq!(go_duration(1_000_100), "1.0001ms");
    }

    fn sample() -> FinalStats {
        FinalStats {
            done_reason: Some("stop".into()),
            total_duration: 1_279_118_717,
            load_duration: 891_933,
            prompt_eval_count: Some(26),
            prompt_eval_duration: 215_300_000,
            eval_count: Some(298),
            eval_duration: 1_061_000_000,
            ..Default::default()
        }
    }

    #[test]
    fn the_ollama_block_exactly() {
        let block = verbose_block(Some(&sample()), None, Duration::ZERO);
        assert_eq!(
            block,
            "total duration:       1.279118717s\n\
             load duration:        891.933µs\n\
             prompt eval count:    26 token(s)\n\
             prompt eval duration: 215.3ms\n\
             prompt eval rate:     120.76 tokens/s\n\
             eval count:           298 token(s)\n\
             eval duration:        1.061s\n\
             eval rate:            280.87 tokens/s\n"
        );
    }

    #[test]
    fn zero_values_are_left_out() {
        let stats = FinalStats {
            done_reason: Some("load".into()),
            ..FinalStats::default()
        };
        assert_eq!(verbose_block(Some(&stats), None, Duration::ZERO), "");
        let block = verbose_block(None, None, Duration::from_millis(12));
        assert_eq!(block, "client total latency: 12ms\n");
    }

    #[test]
    fn json_has_the_same_figures() {
        let s = sample();
        let j = StatsJson::new(
            "tiny",
            Some(&s),
            Some(Duration::from_millis(250)),
            Duration::from_millis(1300),
        );
        let v: serde_json::Value = serde_json::from_str(&j.to_line()).unwrap();
        assert_eq!(v["eval_rate"], 280.87);
        assert_eq!(v["prompt_eval_rate"], 120.76);
        assert_eq!(v["time_to_first_token"], 250_000_000);
        assert_eq!(v["client_total_latency"], 1_300_000_000u64);
        assert_eq!(v["total_duration"], 1_279_118_717u64);
        let none = StatsJson::new("tiny", None, None, Duration::from_millis(5));
        assert_eq!(none.eval_rate, None);
        assert_eq!(none.eval_count, None);
    }
}

#[cfg(test)]
mod snapshots {
    use super::*;

    #[test]
    fn verbose_block_with_client_timings() {
        let stats = FinalStats {
            done_reason: Some("stop".into()),
            total_duration: 513_003_934,
            load_duration: 1_046_115,
            prompt_eval_count: Some(54),
            prompt_eval_duration: 79_144_000,
            eval_count: Some(40),
            eval_duration: 427_743_000,
            ..Default::default()
        };
        insta::assert_snapshot!(verbose_block(
            Some(&stats),
            Some(Duration::from_nanos(43_120_500)),
            Duration::from_nanos(516_211_000),
        ));
    }
}
