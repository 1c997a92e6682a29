//! Aggregates over a selection of records: turns, sessions, error and cancel rates, tokens, and the
//! distributions of latency, TTFT and tokens/second, overall and per group. Memory grows with the
//! number of groups (and of distinct sessions), never with the number of lines.

use std::hash::BuildHasher;

use rustc_hash::{FxBuildHasher, FxHashMap, FxHashSet};

use chrono::{NaiveDate, TimeZone};
use serde::Serialize;

use super::quantile::{Dist, Summary};
use super::read::Record;
use crate::conversation::TurnStatus;

/// How `stats --by` splits the selection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GroupBy {
    Model,
    /// The local calendar day the turn started.
    Day,
    Session,
}

impl GroupBy {
    pub fn parse(s: &str) -> Result<GroupBy, String> {
        match s.trim().to_ascii_lowercase().as_str() {
            "model" => Ok(GroupBy::Model),
            "day" | "date" => Ok(GroupBy::Day),
            "session" => Ok(GroupBy::Session),
            _ => Err(format!("--by takes model, day or session, not {s:?}")),
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            GroupBy::Model => "model",
            GroupBy::Day => "day",
            GroupBy::Session => "session",
        }
    }
}

/// The running totals of one group. A summarize call (the request that condensed older messages
/// to make room for a turn) is not a turn: it is counted apart, and adds only its tokens (which
/// the server did process) to the totals, not to turns, sessions, rates or timings. An `embed`
/// run is counted apart the same way.
#[derive(Debug, Clone, Default)]
pub struct Agg {
    pub turns: u64,
    pub summarize_calls: u64,
    /// Summarize calls that did not finish (error or cancelled): their turn was not sent.
    pub summarize_failed: u64,
    /// `ollama-chat embed` runs.
    pub embed_calls: u64,
    pub ok: u64,
    pub errors: u64,
    /// Cut short: Ctrl-C, SIGTERM or SIGHUP.
    pub cancelled: u64,
    sessions: Sessions,
    pub prompt_tokens: u64,
    pub completion_tokens: u64,
    pub first_at: Option<i64>,
    pub last_at: Option<i64>,
    /// Timings of completed (`ok`) turns only: a failure's duration says nothing about speed.
    pub latency: Dist,
    pub ttft: Dist,
    pub tokens_per_second: Dist,
}

impl Agg {
    fn add(&mut self, r: &Record<'_>, session_hash: u64) {
        let m = &r.meta;
        self.prompt_tokens += m.prompt_tokens.unwrap_or(0);
        self.completion_tokens += m.completion_tokens.unwrap_or(0);
        if m.is_summarize() {
            self.summarize_calls += 1;
            self.summarize_failed += u64::from(m.status() != Some(TurnStatus::Ok));
            return;
        }
        if m.is_embed() {
            self.embed_calls += 1;
            return;
        }
        self.turns += 1;
        self.sessions.insert(session_hash);
        self.first_at = Some(self.first_at.map_or(r.at, |f| f.min(r.at)));
        self.last_at = Some(self.last_at.map_or(r.at, |l| l.max(r.at)));
        match m.status() {
            Some(TurnStatus::Ok) => {
                self.ok += 1;
                if let Some(x) = m.response_time {
                    self.latency.add(x);
                }
                if let Some(x) = m.ttft {
                    self.ttft.add(x);
                }
                if let Some(x) = m.tokens_per_second {
                    self.tokens_per_second.add(x);
                }
            }
            Some(TurnStatus::Error) => self.errors += 1,
            // Cut short by a signal is cut short: the same column as Ctrl-C.
            Some(TurnStatus::Cancelled | TurnStatus::Terminated | TurnStatus::Hangup) => {
                self.cancelled += 1
            }
            None => {}
        }
    }

    fn merge(&mut self, o: Agg) {
        self.turns += o.turns;
        self.summarize_calls += o.summarize_calls;
        self.summarize_failed += o.summarize_failed;
        self.embed_calls += o.embed_calls;
        self.ok += o.ok;
        self.errors += o.errors;
        self.cancelled += o.cancelled;
        self.sessions.merge(o.sessions);
        self.prompt_tokens += o.prompt_tokens;
        self.completion_tokens += o.completion_tokens;
        self.first_at = match (self.first_at, o.first_at) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        self.last_at = self.last_at.max(o.last_at);
        self.latency.merge(o.latency);
        self.ttft.merge(o.ttft);
        self.tokens_per_second.merge(o.tokens_per_second);
    }

    pub fn sessions(&self) -> usize {
        self.sessions.len()
    }

    pub fn report(&self, key: String) -> GroupReport {
        let rate = |n: u64| {
            if self.turns == 0 {
                0.0
            } else {
                n as f64 / self.turns as f64
            }
        };
        let time = |ms: Option<i64>| {
            ms.and_then(chrono::DateTime::from_timestamp_millis)
                .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true))
        };
        GroupReport {
            key,
            turns: self.turns,
            summarize_calls: self.summarize_calls,
            summarize_failed: self.summarize_failed,
            embed_calls: self.embed_calls,
            sessions: self.sessions(),
            ok: self.ok,
            errors: self.errors,
            cancelled: self.cancelled,
            error_rate: rate(self.errors),
            cancel_rate: rate(self.cancelled),
            prompt_tokens: self.prompt_tokens,
            completion_tokens: self.completion_tokens,
            first: time(self.first_at),
            last: time(self.last_at),
            latency: self.latency.summary(),
            ttft: self.ttft.summary(),
            tokens_per_second: self.tokens_per_second.summary(),
        }
    }
}

/// Hashes of the session ids seen (64-bit: collisions are negligible, 8 bytes each). Most groups of
/// `--by session` have one, which needs no allocation.
#[derive(Debug, Clone, Default)]
enum Sessions {
    #[default]
    None,
    One(u64),
    Many(FxHashSet<u64>),
}

impl Sessions {
    fn insert(&mut self, h: u64) {
        match self {
            Sessions::None => *self = Sessions::One(h),
            Sessions::One(x) if *x == h => {}
            Sessions::One(x) => {
                let set: FxHashSet<u64> = [*x, h].into_iter().collect();
                *self = Sessions::Many(set);
            }
            Sessions::Many(set) => {
                set.insert(h);
            }
        }
    }

    fn merge(&mut self, other: Sessions) {
        match other {
            Sessions::None => {}
            Sessions::One(h) => self.insert(h),
            Sessions::Many(set) => set.into_iter().for_each(|h| self.insert(h)),
        }
    }

    fn len(&self) -> usize {
        match self {
            Sessions::None => 0,
            Sessions::One(_) => 1,
            Sessions::Many(set) => set.len(),
        }
    }
}

/// One row of the output (also its JSON shape).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct GroupReport {
    pub key: String,
    pub turns: u64,
    /// Summarize calls made before turns of this group (not turns themselves).
    pub summarize_calls: u64,
    pub summarize_failed: u64,
    /// `ollama-chat embed` runs (not turns either).
    pub embed_calls: u64,
    pub sessions: usize,
    pub ok: u64,
    pub errors: u64,
    pub cancelled: u64,
    pub error_rate: f64,
    pub cancel_rate: f64,
    pub prompt_tokens: u64,
    pub completion_tokens: u64,
    /// The first and last turn's time (UTC).
    pub first: Option<String>,
    pub last: Option<String>,
    pub latency: Option<Summary>,
    pub ttft: Option<Summary>,
    pub tokens_per_second: Option<Summary>,
}

/// The totals of a whole selection, and of each group if grouped.
pub struct Stats<Tz: TimeZone> {
    by: Option<GroupBy>,
    tz: Tz,
    pub overall: Agg,
    groups: FxHashMap<String, Agg>,
    /// `--by day`: the last 15-minute slot seen and its day (every UTC offset is a multiple of 15
    /// minutes, so a slot never straddles midnight).
    day_cache: Option<(i64, String)>,
}

impl<Tz: TimeZone> Stats<Tz> {
    pub fn new(by: Option<GroupBy>, tz: Tz) -> Self {
        Stats {
            by,
            tz,
            overall: Agg::default(),
            groups: FxHashMap::default(),
            day_cache: None,
        }
    }

    pub fn add(&mut self, r: &Record<'_>) {
        let session_hash = FxBuildHasher.hash_one(&r.meta.session_id);
        self.overall.add(r, session_hash);
        let key: &str = match self.by {
            None => return,
            Some(GroupBy::Model) if r.meta.model.is_empty() => "(unknown)",
            Some(GroupBy::Model) => &r.meta.model,
            Some(GroupBy::Session) if r.meta.session_id.is_empty() => "(none)",
            Some(GroupBy::Session) => &r.meta.session_id,
            Some(GroupBy::Day) => {
                let slot = r.at.div_euclid(15 * 60_000);
                if self.day_cache.as_ref().is_none_or(|(s, _)| *s != slot) {
                    let day = local_day(&self.tz, r.at)
                        .map(|d| d.to_string())
                        .unwrap_or_else(|| "?".into());
                    self.day_cache = Some((slot, day));
                }
                &self.day_cache.as_ref().expect("just set").1
            }
        };
        match self.groups.get_mut(key) {
            Some(agg) => agg.add(r, session_hash),
            None => {
                let mut agg = Agg::default();
                agg.add(r, session_hash);
                self.groups.insert(key.to_string(), agg);
            }
        }
    }

    /// Folds the totals of another part of the same selection (read by another thread) in.
    pub fn merge(&mut self, other: Stats<Tz>) {
        self.overall.merge(other.overall);
        for (k, v) in other.groups {
            match self.groups.get_mut(&k) {
                Some(agg) => agg.merge(v),
                None => {
                    self.groups.insert(k, v);
                }
            }
        }
    }

    /// The groups in a useful order: days and sessions by time, models busiest first.
    pub fn group_reports(&self) -> Vec<GroupReport> {
        let mut groups: Vec<(&String, &Agg)> = self.groups.iter().collect();
        match self.by {
            Some(GroupBy::Model) => {
                groups.sort_by(|a, b| b.1.turns.cmp(&a.1.turns).then(a.0.cmp(b.0)))
            }
            Some(GroupBy::Day) => groups.sort_by(|a, b| a.0.cmp(b.0)),
            _ => groups.sort_by(|a, b| a.1.first_at.cmp(&b.1.first_at).then(a.0.cmp(b.0))),
        }
        groups
            .into_iter()
            .map(|(k, agg)| agg.report(k.clone()))
            .collect()
    }

    pub fn by(&self) -> Option<GroupBy> {
        self.by
    }
}

fn local_day<Tz: TimeZone>(tz: &Tz, ms: i64) -> Option<NaiveDate> {
    tz.timestamp_millis_opt(ms).single().map(|t| t.date_naive())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::log::read::parse_record;
    use chrono::FixedOffset;

    fn line(
        ts: &str,
        session: &str,
        model: &str,
        status: &str,
        rt: f64,
        tokens: (u64, u64),
    ) -> String {
        format!(
            r#"{{"timestamp":"{ts}","session_id":"{session}","model":"{model}","status":"{status}","response_time":{rt},"ttft":{},"prompt_tokens":{},"completion_tokens":{},"tokens_per_second":{}}}"#,
            rt / 10.0,
            tokens.0,
            tokens.1,
            tokens.1 as f64 / rt
        )
    }

    fn stats<Tz: TimeZone>(by: Option<GroupBy>, tz: Tz, lines: &[String]) -> Stats<Tz> {
        let mut s = Stats::new(by, tz);
        for l in lines {
            s.add(&parse_record(l.as_bytes()).unwrap());
        }
        s
    }

    fn sample() -> Vec<String> {
        vec![
            line("2026-11-28T15:00:00Z", "s1", "a", "ok", 1.0, (10, 20)),
            line("2026-11-28T17:00:00Z", "s1", "a", "ok", 3.0, (10, 30)),
            line("2026-11-29T01:00:00Z", "s2", "b", "error", 9.0, (5, 0)),
            line("2026-11-29T02:00:00Z", "s2", "a", "cancelled", 0.5, (0, 0)),
            line("2026-11-29T03:00:00Z", "s3", "a", "ok", 2.0, (1, 2)),
        ]
    }

    #[test]
    fn overall_totals_and_rates() {
        let s = stats(None, chrono::Utc, &sample());
        let r = s.overall.report("all".into());
        assert_eq!(
            (r.turns, r.sessions, r.ok, r.errors, r.cancelled),
            (5, 3, 3, 1, 1)
        );
        assert_eq!((r.error_rate, r.cancel_rate), (0.2, 0.2));
        assert_eq!((r.prompt_tokens, r.completion_tokens), (26, 52));
        // Timings are over the three ok turns: 1, 2, 3 s.
        let lat = r.latency.unwrap();
        assert_eq!((lat.count, lat.p50, lat.p95, lat.max), (3, 2.0, 3.0, 3.0));
        assert_eq!(r.ttft.unwrap().p50, 0.2);
        assert_eq!(r.tokens_per_second.unwrap().max, 20.0);
        assert_eq!(r.first.as_deref(), Some("2026-11-28T15:00:00.000Z"));
        assert_eq!(r.last.as_deref(), Some("2026-11-29T03:00:00.000Z"));
        assert!(s.group_reports().is_empty());
    }

    #[test]
    fn by_model_busiest_first() {
        let g = stats(Some(GroupBy::Model), chrono::Utc, &sample()).group_reports();
        assert_eq!(g.len(), 2);
        assert_eq!((g[0].key.as_str(), g[0].turns, g[0].sessions), ("a", 4, 3));
        assert_eq!((g[1].key.as_str(), g[1].turns, g[1].errors), ("b", 1, 1));
        assert!(g[1].latency.is_none());
    }

    #[test]
    fn by_day_follows_the_time_zone() {
        let utc = stats(Some(GroupBy::Day), chrono::Utc, &sample()).group_reports();
        let keys: Vec<_> = utc.iter().map(|g| (g.key.as_str(), g.turns)).collect();
        assert_eq!(keys, vec![("2026-11-28", 2), ("2026-11-29", 3)]);
        // In Taipei (UTC+8) 17:00 UTC on the 28th is already the 29th.
        let taipei = FixedOffset::east_opt(8 * 3600).unwrap();
        let tw = stats(Some(GroupBy::Day), taipei, &sample()).group_reports();
        let keys: Vec<_> = tw.iter().map(|g| (g.key.as_str(), g.turns)).collect();
        assert_eq!(keys, vec![("2026-11-28", 1), ("2026-11-29", 4)]);
    }

    #[test]
    fn by_session_in_time_order_and_merge_matches() {
        let lines = sample();
        let g = stats(Some(GroupBy::Session), chrono::Utc, &lines).group_reports();
        let keys: Vec<_> = g.iter().map(|g| g.key.as_str()).collect();
        assert_eq!(keys, vec!["s1", "s2", "s3"]);
        let mut a = stats(Some(GroupBy::Session), chrono::Utc, &lines[..2]);
        a.merge(stats(Some(GroupBy::Session), chrono::Utc, &lines[2..]));
        assert_eq!(a.group_reports(), g);
        assert_eq!(
            a.overall.report("x".into()),
            stats(None, chrono::Utc, &lines).overall.report("x".into())
        );
    }

    #[test]
    fn summarize_calls_are_counted_apart_from_turns() {
        let mut lines = sample();
        // A summarize call before the last turn, and one that failed (its turn was never sent).
        for (ts, status, tokens) in [
            ("2026-11-29T02:59:59Z", "ok", (300, 40)),
            ("2026-11-29T04:00:00Z", "error", (0, 0)),
        ] {
            let l = line(ts, "s3", "a", status, 50.0, tokens);
            lines.push(l.replacen('{', r#"{"call":"summarize","#, 1));
        }
        let s = stats(Some(GroupBy::Model), chrono::Utc, &lines);
        let r = s.overall.report("all".into());
        assert_eq!((r.turns, r.sessions, r.errors), (5, 3, 1));
        assert_eq!((r.summarize_calls, r.summarize_failed), (2, 1));
        assert_eq!((r.prompt_tokens, r.completion_tokens), (326, 92));
        // The 50 s summarize call is not in the latency of turns.
        assert_eq!(r.latency.unwrap().max, 3.0);
        assert_eq!(r.last.as_deref(), Some("2026-11-29T03:00:00.000Z"));
        let a = &s.group_reports()[0];
        assert_eq!((a.key.as_str(), a.turns, a.summarize_calls), ("a", 4, 2));
    }

    #[test]
    fn embed_runs_are_counted_apart_from_turns() {
        let mut lines = sample();
        let l = line("2026-11-29T05:00:00Z", "", "nomic", "ok", 9.0, (70, 0));
        lines.push(l.replacen('{', r#"{"call":"embed","#, 1));
        let s = stats(Some(GroupBy::Model), chrono::Utc, &lines);
        let r = s.overall.report("all".into());
        assert_eq!((r.turns, r.sessions, r.embed_calls), (5, 3, 1));
        assert_eq!(r.prompt_tokens, 96);
        // Its 9 s are not a turn's latency, nor its time the last turn's.
        assert_eq!(r.latency.unwrap().max, 3.0);
        assert_eq!(r.last.as_deref(), Some("2026-11-29T03:00:00.000Z"));
        let groups = s.group_reports();
        let nomic = groups.iter().find(|g| g.key == "nomic").unwrap();
        assert_eq!((nomic.turns, nomic.embed_calls), (0, 1));
    }

    #[test]
    fn group_by_names() {
        assert_eq!(GroupBy::parse("Model"), Ok(GroupBy::Model));
        assert_eq!(GroupBy::parse("day"), Ok(GroupBy::Day));
        assert!(GroupBy::parse("week").is_err());
    }
}
