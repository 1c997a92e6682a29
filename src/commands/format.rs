//! How figures read to a person: sizes in human units, times relative to now, counts and seconds,
//! aligned tables. Pure functions; the commands decide where the text goes.

use chrono::{DateTime, Utc};

use crate::untrusted::{sanitize, sanitize_line};

pub use crate::error::human_bytes;

/// `then` relative to `now`: `3 minutes ago`, `in 29 minutes`, `just now`.
pub fn relative(then: DateTime<Utc>, now: DateTime<Utc>) -> String {
    let secs = (now - then).num_seconds();
    let (amount, future) = (secs.unsigned_abs(), secs < 0);
    if amount < 5 {
        return "just now".to_string();
    }
    const STEPS: &[(u64, &str)] = &[
        (365 * 86_400, "year"),
        (30 * 86_400, "month"),
        (7 * 86_400, "week"),
        (86_400, "day"),
        (3_600, "hour"),
        (60, "minute"),
        (1, "second"),
    ];
    let (size, unit) = STEPS
        .iter()
        .find(|(size, _)| amount >= *size)
        .copied()
        .unwrap_or((1, "second"));
    let count = amount / size;
    let plural = if count == 1 { "" } else { "s" };
    if future {
        format!("in {count} {unit}{plural}")
    } else {
        format!("{count} {unit}{plural} ago")
    }
}

/// An RFC 3339 time from the server, relative to `now`; the raw text if it does not parse.
pub fn relative_str(stamp: Option<&str>, now: DateTime<Utc>) -> String {
    match stamp.map(DateTime::parse_from_rfc3339) {
        Some(Ok(t)) => relative(t.with_timezone(&Utc), now),
        Some(Err(_)) => sanitize_line(stamp.unwrap_or_default()).into_owned(),
        None => String::new(),
    }
}

/// When a loaded model will be unloaded, as `ollama ps` says it.
pub fn until(expires_at: Option<&str>, now: DateTime<Utc>) -> String {
    let Some(Ok(t)) = expires_at.map(DateTime::parse_from_rfc3339) else {
        return sanitize_line(expires_at.unwrap_or_default()).into_owned();
    };
    let t = t.with_timezone(&Utc);
    if (t - now).num_days() > 365 * 100 {
        "forever".to_string()
    } else if t <= now {
        "unloading".to_string()
    } else {
        relative(t, now)
    }
}

/// Where a loaded model lives: `100% CPU`, `100% GPU`, or the split, as `ollama ps` shows it.
pub fn processor(size: u64, size_vram: u64) -> String {
    if size_vram == 0 || size == 0 {
        "100% CPU".to_string()
    } else if size_vram >= size {
        "100% GPU".to_string()
    } else {
        let gpu = (size_vram as f64 * 100.0 / size as f64).round() as u64;
        format!("{}%/{}% CPU/GPU", 100 - gpu, gpu)
    }
}

/// Columns padded to their widest cell (by display width, so Chinese names line up), two spaces
/// apart, no trailing blanks. Cells are server text, so they are sanitised and kept on one line.
pub fn table(headers: &[&str], rows: &[Vec<String>]) -> String {
    let clean = |s: &str| sanitize(&s.replace(['\n', '\t'], " ")).into_owned();
    let all: Vec<Vec<String>> = std::iter::once(headers.iter().map(|h| h.to_string()).collect())
        .chain(rows.iter().map(|r| r.iter().map(|c| clean(c)).collect()))
        .collect();
    crate::table::render(&all)
}

/// `1234567` → `1,234,567`.
pub fn thousands(n: u64) -> String {
    let s = n.to_string();
    let mut out = String::with_capacity(s.len() + s.len() / 3);
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// Seconds with about three significant digits: `0.41s`, `12.3s`, `245s`; `-` when unknown.
pub fn secs(x: Option<f64>) -> String {
    match x {
        None => "-".into(),
        Some(x) if x < 10.0 => format!("{x:.2}s"),
        Some(x) if x < 100.0 => format!("{x:.1}s"),
        Some(x) => format!("{x:.0}s"),
    }
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;

    #[test]
    fn sizes() {
        assert_eq!(human_bytes(0), "0 B");
        assert_eq!(human_bytes(999), "999 B");
        assert_eq!(human_bytes(1_000), "1 KB");
        assert_eq!(human_bytes(253_113_673), "253 MB");
        assert_eq!(human_bytes(1_300_000_000), "1.3 GB");
        assert_eq!(human_bytes(2_019_377_376), "2.0 GB");
        assert_eq!(human_bytes(4_000_000_000), "4 GB");
        assert_eq!(human_bytes(9_960_000_000), "10.0 GB");
        assert_eq!(human_bytes(40_000_000_000), "40 GB");
        assert_eq!(human_bytes(3_200_000_000_000), "3.2 TB");
    }

    #[test]
    fn relative_times() {
        let now = Utc.with_ymd_and_hms(2026, 11, 29, 12, 0, 0).unwrap();
        let ago = |s: i64| relative(now - chrono::Duration::seconds(s), now);
        assert_eq!(ago(0), "just now");
        assert_eq!(ago(30), "30 seconds ago");
        assert_eq!(ago(60), "1 minute ago");
        assert_eq!(ago(3 * 3600 + 5), "3 hours ago");
        assert_eq!(ago(86_400), "1 day ago");
        assert_eq!(ago(15 * 86_400), "2 weeks ago");
        assert_eq!(ago(65 * 86_400), "2 months ago");
        assert_eq!(ago(800 * 86_400), "2 years ago");
        assert_eq!(ago(-29 * 60), "in 29 minutes");
        assert_eq!(
            relative_str(Some("2026-11-29T10:59:59.123456789Z"), now),
            "1 hour ago"
        );
        assert_eq!(relative_str(Some("yesterday"), now), "yesterday");
        assert_eq!(relative_str(None, now), "");
    }

    #[test]
    fn expiry() {
        let now = Utc.with_ymd_and_hms(2026, 11, 29, 0, 10, 0).unwrap();
        assert_eq!(
            until(Some("2026-11-29T00:34:14.261747097Z"), now),
            "in 24 minutes"
        );
        assert_eq!(until(Some("2226-11-29T00:34:14Z"), now), "forever");
        assert_eq!(until(Some("2026-11-29T00:00:00Z"), now), "unloading");
    }

    #[test]
    fn processor_share() {
        assert_eq!(processor(285_149_756, 0), "100% CPU");
        assert_eq!(processor(100, 100), "100% GPU");
        assert_eq!(processor(100, 48), "52%/48% CPU/GPU");
    }

    #[test]
    fn counts_and_seconds() {
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(1000), "1,000");
        assert_eq!(thousands(1234567), "1,234,567");
        assert_eq!(secs(Some(0.4123)), "0.41s");
        assert_eq!(secs(Some(12.34)), "12.3s");
        assert_eq!(secs(Some(245.4)), "245s");
        assert_eq!(secs(None), "-");
    }

    #[test]
    fn tables_align_by_display_width() {
        let t = table(
            &["NAME", "SIZE"],
            &[
                vec!["老師:latest".into(), "1 GB".into()],
                vec!["tiny:latest".into(), "253 MB".into()],
                vec!["老師".into(), "2 GB".into()],
                vec!["evil\x1b[2J".into(), "".into()],
            ],
        );
        assert_eq!(
            t,
            "NAME         SIZE\n老師:latest  1 GB\ntiny:latest  253 MB\n老師         2 GB\nevil␛[2J\n"
        );
    }
}
