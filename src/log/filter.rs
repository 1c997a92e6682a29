//! Which records `logs` and `stats` look at: session, model, time range, status and text, plus the
//! parser for the times users type (`2026-11-29`, `2026-11-29T08:00:00+08:00`, `1h`, `7d`, `today`).

use chrono::{NaiveDate, NaiveDateTime, TimeZone};

use super::read::{parse_texts, Record, Texts};
use crate::conversation::TurnStatus;

/// A selection of records. Every condition given must hold.
#[derive(Debug, Clone, Default)]
pub struct Filter {
    /// A session id or a prefix of one.
    pub session: Option<String>,
    /// A model; without a `:tag`, any tag of it.
    pub model: Option<String>,
    /// Milliseconds since the epoch, inclusive.
    pub since: Option<i64>,
    /// Milliseconds since the epoch, exclusive.
    pub until: Option<i64>,
    /// Any of these; empty means all.
    pub statuses: Vec<TurnStatus>,
    /// Text in the question, answer, thinking or error, in any case; set with `with_grep`.
    pub grep: Option<Grep>,
}

/// `--grep`: a case-insensitive literal (Unicode case folding), plus a cheap test on the raw line
/// that rules most lines out before their text is parsed.
#[derive(Debug, Clone)]
pub struct Grep {
    text: regex::Regex,
    /// The same search over the line's bytes, where the text is written as is. `None` when the
    /// needle has characters JSON escapes, so that a raw miss would prove nothing.
    raw: Option<regex::bytes::Regex>,
}

impl Grep {
    pub fn new(needle: &str) -> Grep {
        let pattern = format!("(?i){}", regex::escape(needle));
        let literal_in_json = !needle
            .chars()
            .any(|c| c == '"' || c == '\\' || c == '/' || c.is_control());
        Grep {
            text: regex::Regex::new(&pattern).expect("an escaped literal is a valid pattern"),
            raw: literal_in_json.then(|| {
                regex::bytes::Regex::new(&pattern).expect("an escaped literal is a valid pattern")
            }),
        }
    }

    fn matches(&self, line: &[u8]) -> bool {
        if let Some(raw) = &self.raw {
            // Another writer may have escaped non-ASCII text as \uXXXX: then parse to be sure.
            let escaped = memchr::memmem::find(line, b"\\u").is_some();
            if !escaped && !raw.is_match(line) {
                return false;
            }
        }
        self.in_texts(&parse_texts(line))
    }

    fn in_texts(&self, t: &Texts<'_>) -> bool {
        [&t.user_input, &t.model_response, &t.thinking, &t.error]
            .into_iter()
            .flatten()
            .any(|text| self.text.is_match(text))
    }
}

impl Filter {
    pub fn with_grep(mut self, text: Option<&str>) -> Self {
        self.grep = text.filter(|t| !t.is_empty()).map(Grep::new);
        self
    }

    pub fn matches(&self, r: &Record<'_>) -> bool {
        let m = &r.meta;
        if self.since.is_some_and(|s| r.at < s) || self.until.is_some_and(|u| r.at >= u) {
            return false;
        }
        if !self.statuses.is_empty() && !m.status().is_some_and(|s| self.statuses.contains(&s)) {
            return false;
        }
        if let Some(s) = &self.session {
            if !m.session_id.starts_with(s.as_str()) {
                return false;
            }
        }
        if let Some(want) = &self.model {
            if !model_matches(want, &m.model) {
                return false;
            }
        }
        match &self.grep {
            None => true,
            Some(grep) => grep.matches(r.line),
        }
    }
}

/// `llama3.2` matches `llama3.2:latest` and `llama3.2:1b`; `llama3.2:1b` matches only itself.
pub fn model_matches(want: &str, have: &str) -> bool {
    if want == have {
        return true;
    }
    !want.contains(':')
        && have
            .strip_prefix(want)
            .is_some_and(|rest| rest.starts_with(':'))
}

/// Parses `--status`.
pub fn parse_status(s: &str) -> Result<TurnStatus, String> {
    match s.trim().to_ascii_lowercase().as_str() {
        "ok" => Ok(TurnStatus::Ok),
        "error" | "errors" | "failed" => Ok(TurnStatus::Error),
        "cancelled" | "canceled" => Ok(TurnStatus::Cancelled),
        "terminated" => Ok(TurnStatus::Terminated),
        "hangup" => Ok(TurnStatus::Hangup),
        _ => Err(format!(
            "--status takes ok, error, cancelled, terminated or hangup, not {s:?}"
        )),
    }
}

/// Parses a time as users type it, to milliseconds since the epoch. `now_ms` and the zone `tz` (for
/// dates and times written without a zone) are passed in, so this stays a pure function.
pub fn parse_time<Tz: TimeZone>(s: &str, now_ms: i64, tz: &Tz) -> Result<i64, String> {
    let t = s.trim();
    let bad = || {
        format!(
            "{s:?} is not a time: use a date (2026-11-29), a date and time (2026-11-29T08:00, \
             2026-11-29T08:00:00Z) or an age (30m, 1h, 7d, 2w)"
        )
    };
    if let Some(ms) = parse_age(t) {
        return Ok(now_ms - ms);
    }
    let local_midnight = |d: NaiveDate| local_ms(d.and_hms_opt(0, 0, 0).expect("midnight"), tz);
    let today = || {
        tz.timestamp_millis_opt(now_ms)
            .single()
            .map(|now| now.date_naive())
    };
    match t.to_ascii_lowercase().as_str() {
        "now" => return Ok(now_ms),
        "today" => return today().and_then(local_midnight).ok_or_else(bad),
        "yesterday" => {
            return today()
                .and_then(|d| d.pred_opt())
                .and_then(local_midnight)
                .ok_or_else(bad)
        }
        _ => {}
    }
    if let Ok(dt) = chrono::DateTime::parse_from_rfc3339(t) {
        return Ok(dt.timestamp_millis());
    }
    if let Ok(d) = NaiveDate::parse_from_str(t, "%Y-%m-%d") {
        return local_midnight(d).ok_or_else(bad);
    }
    for fmt in [
        "%Y-%m-%dT%H:%M:%S%.f",
        "%Y-%m-%d %H:%M:%S%.f",
        "%Y-%m-%dT%H:%M",
        "%Y-%m-%d %H:%M",
    ] {
        if let Ok(ndt) = NaiveDateTime::parse_from_str(t, fmt) {
            return local_ms(ndt, tz).ok_or_else(bad);
        }
    }
    Err(bad())
}

fn local_ms<Tz: TimeZone>(ndt: NaiveDateTime, tz: &Tz) -> Option<i64> {
    // A time skipped by a DST change has no local reading; one repeated by it takes the first.
    tz.from_local_datetime(&ndt)
        .earliest()
        .map(|dt| dt.timestamp_millis())
}

/// `90s`, `30m`, `1h`, `7d`, `2w` → milliseconds.
fn parse_age(s: &str) -> Option<i64> {
    let split = s.find(|c: char| !c.is_ascii_digit())?;
    let (n, unit) = s.split_at(split);
    let n: i64 = n.parse().ok()?;
    let unit_ms: i64 = match unit {
        "s" => 1_000,
        "m" | "min" => 60_000,
        "h" => 3_600_000,
        "d" => 86_400_000,
        "w" => 7 * 86_400_000,
        _ => return None,
    };
    n.checked_mul(unit_ms)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::log::read::parse_record;
    use chrono::FixedOffset;

    const NOW: i64 = 1_795_913_775_265; // 2026-11-29T00:56:15.265Z

    #[test]
    fn times() {
        let utc = chrono::Utc;
        let taipei = FixedOffset::east_opt(8 * 3600).unwrap();
        assert_eq!(parse_time("1h", NOW, &utc), Ok(NOW - 3_600_000));
        assert_eq!(parse_time("7d", NOW, &utc), Ok(NOW - 7 * 86_400_000));
        assert_eq!(parse_time("30m", NOW, &utc), Ok(NOW - 1_800_000));
        assert_eq!(parse_time("2w", NOW, &utc), Ok(NOW - 14 * 86_400_000));
        assert_eq!(parse_time("now", NOW, &utc), Ok(NOW));
        assert_eq!(parse_time("2026-11-29", NOW, &utc), Ok(1_795_910_400_000));
        // Midnight in Taipei is 16:00 UTC the day before.
        assert_eq!(
            parse_time("2026-11-29", NOW, &taipei),
            Ok(1_795_910_400_000 - 8 * 3_600_000)
        );
        assert_eq!(parse_time("today", NOW, &utc), Ok(1_795_910_400_000));
        assert_eq!(
            parse_time("yesterday", NOW, &utc),
            Ok(1_795_910_400_000 - 86_400_000)
        );
        // 00:56 UTC is 08:56 in Taipei: still the 29th there.
        assert_eq!(
            parse_time("today", NOW, &taipei),
            Ok(1_795_910_400_000 - 8 * 3_600_000)
        );
        assert_eq!(
            parse_time("2026-11-29T08:56:15.265+08:00", NOW, &utc),
            Ok(NOW)
        );
        assert_eq!(
            parse_time("2026-11-29T00:56:15.265Z", NOW, &taipei),
            Ok(NOW)
        );
        assert_eq!(
            parse_time("2026-11-29T08:56", NOW, &taipei),
            Ok(NOW - 15_265)
        );
        assert_eq!(parse_time("2026-11-29 00:56:15", NOW, &utc), Ok(NOW - 265));
        for bad in [
            "",
            "1y",
            "h",
            "-1h",
            "2026-02-30",
            "tomorrow-ish",
            "29/11/2026",
            "99999999999999999999d",
        ] {
            assert!(parse_time(bad, NOW, &utc).is_err(), "{bad}");
        }
    }

    #[test]
    fn models() {
        assert!(model_matches("llama3.2", "llama3.2:latest"));
        assert!(model_matches("llama3.2", "llama3.2:1b"));
        assert!(model_matches("llama3.2:1b", "llama3.2:1b"));
        assert!(!model_matches("llama3.2:1b", "llama3.2:latest"));
        assert!(!model_matches("llama3", "llama3.2:latest"));
        assert!(!model_matches("qwen3", ""));
    }

    #[test]
    fn statuses() {
        assert_eq!(parse_status("ERROR"), Ok(TurnStatus::Error));
        assert_eq!(parse_status("canceled"), Ok(TurnStatus::Cancelled));
        assert!(parse_status("fine").is_err());
    }

    #[test]
    fn every_condition_must_hold() {
        let line = br#"{"timestamp":"2026-11-29T00:00:00Z","session_id":"56e705d3-86ef","model":"qwen3:8b","status":"error","user_input":"Why is the SKY blue?","model_response":"","error":"\u5df4\u9ece failed"}"#;
        let r = parse_record(line).unwrap();
        let f = Filter::default;
        assert!(f().matches(&r));
        let session = |s: &str| Filter {
            session: Some(s.into()),
            ..f()
        };
        assert!(session("56e7").matches(&r));
        assert!(!session("56e8").matches(&r));
        assert!(Filter {
            model: Some("qwen3".into()),
            ..f()
        }
        .matches(&r));
        assert!(!Filter {
            model: Some("llama3.2".into()),
            ..f()
        }
        .matches(&r));
        let at = 1_795_910_400_000;
        assert!(Filter {
            since: Some(at),
            ..f()
        }
        .matches(&r));
        assert!(!Filter {
            since: Some(at + 1),
            ..f()
        }
        .matches(&r));
        assert!(!Filter {
            until: Some(at),
            ..f()
        }
        .matches(&r));
        assert!(Filter {
            until: Some(at + 1),
            ..f()
        }
        .matches(&r));
        assert!(Filter {
            statuses: vec![TurnStatus::Ok, TurnStatus::Error],
            ..f()
        }
        .matches(&r));
        assert!(!Filter {
            statuses: vec![TurnStatus::Cancelled],
            ..f()
        }
        .matches(&r));
        assert!(f().with_grep(Some("sky BLUE")).matches(&r));
        assert!(f().with_grep(Some("巴黎")).matches(&r));
        assert!(!f().with_grep(Some("green")).matches(&r));
        assert!(
            f().with_grep(Some("sky blue?")).matches(&r),
            "regex characters are literal"
        );
        assert!(!f().with_grep(Some("s.y")).matches(&r));
        // Only the text fields count, not the model or the session.
        assert!(!f().with_grep(Some("qwen3")).matches(&r));
        assert!(!f().with_grep(Some("56e705d3")).matches(&r));
        let escaped =
            br#"{"timestamp":"2026-11-29T00:00:00Z","user_input":"\u4f60\u597d \u00c9COLE"}"#;
        let r2 = parse_record(escaped).unwrap();
        assert!(f().with_grep(Some("你好")).matches(&r2));
        assert!(f().with_grep(Some("école")).matches(&r2));
        assert!(!f().with_grep(Some("再見")).matches(&r2));
        let both = Filter {
            model: Some("qwen3".into()),
            statuses: vec![TurnStatus::Ok],
            ..f()
        };
        assert!(!both.matches(&r));
    }
}
