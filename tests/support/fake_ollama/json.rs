//! JSON written the way Go's encoding/json writes it (field order, `\u003c` escapes) and UTC times
//! without chrono.

use std::fmt::Write as _;
use std::time::{SystemTime, UNIX_EPOCH};

use serde_json::Value;

// ============================================================================================
// JSON helpers (Go's encoding/json conventions)
// ============================================================================================

/// A JSON string literal escaped as Go's encoding/json does (`<`, `>`, `&` as `\u003c` etc.).
pub(crate) fn go_str(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for ch in s.chars() {
        match ch {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            '<' => out.push_str("\\u003c"),
            '>' => out.push_str("\\u003e"),
            '&' => out.push_str("\\u0026"),
            '\u{2028}' => out.push_str("\\u2028"),
            '\u{2029}' => out.push_str("\\u2029"),
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// Go's `%q` for the simple strings used in error messages.
pub(crate) fn go_quote(s: &str) -> String {
    let mut out = String::from("\"");
    for ch in s.chars() {
        match ch {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c => out.extend(c.escape_default()),
        }
    }
    out.push('"');
    out
}

pub(crate) fn json_str_array(items: &[&str]) -> String {
    let items: Vec<String> = items.iter().map(|s| go_str(s)).collect();
    format!("[{}]", items.join(","))
}

pub(crate) fn str_field<'v>(value: &'v Value, name: &str) -> &'v str {
    value.get(name).and_then(Value::as_str).unwrap_or("")
}

/// The first JSON value of a body, ignoring what follows it (as Go's `json.Decoder` does);
/// `None` for an empty body.
pub(crate) fn first_json_value(body: &[u8]) -> Option<Result<Value, serde_json::Error>> {
    serde_json::Deserializer::from_slice(body)
        .into_iter::<Value>()
        .next()
}

/// Decodes a request body into a JSON object, with the server's messages for the failures.
pub(crate) fn decode_body(body: &[u8], go_type: &str) -> Result<Value, String> {
    let value = match first_json_value(body) {
        None => return Err("missing request body".to_string()),
        Some(Err(e)) if e.is_eof() => return Err("unexpected EOF".to_string()),
        Some(Err(e)) => return Err(go_syntax_error(body, &e)),
        Some(Ok(value)) => value,
    };
    if !value.is_object() {
        return Err(format!(
            "json: cannot unmarshal {} into Go value of type {go_type}",
            json_kind(&value)
        ));
    }
    Ok(value)
}

/// A wrongly typed field as Go reports it (null is always accepted).
pub(crate) fn check_field(
    value: &Value,
    field: &str,
    go_type: &str,
    ok: fn(&Value) -> bool,
) -> Result<(), String> {
    let name = field.rsplit('.').next().unwrap_or(field);
    match value.get(name) {
        Some(v) if !v.is_null() && !ok(v) => Err(format!(
            "json: cannot unmarshal {} into Go struct field {field} of type {go_type}",
            json_kind(v)
        )),
        _ => Ok(()),
    }
}

pub(crate) fn json_kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "bool",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

/// An approximation of Go's syntax error text: "invalid character 'x' looking for beginning of value".
pub(crate) fn go_syntax_error(body: &[u8], err: &serde_json::Error) -> String {
    let text = String::from_utf8_lossy(body);
    let bad = text
        .lines()
        .nth(err.line().saturating_sub(1))
        .and_then(|line| line.get(err.column().saturating_sub(1)..))
        .and_then(|rest| rest.chars().next());
    match bad {
        Some(c) => format!(
            "invalid character {} looking for beginning of value",
            go_char(c)
        ),
        None => "unexpected EOF".to_string(),
    }
}

pub(crate) fn go_char(c: char) -> String {
    match c {
        '\'' => "'\\''".to_string(),
        c if c.is_control() => format!("'\\x{:02x}'", c as u32),
        c => format!("'{c}'"),
    }
}

// ============================================================================================
// Time formatting (UTC, without chrono)
// ============================================================================================

/// Go's RFC3339Nano: "2026-11-29T00:09:38.89378492Z" (trailing zeros of the fraction dropped).
pub(crate) fn rfc3339_nano(t: SystemTime) -> String {
    let since = t.duration_since(UNIX_EPOCH).unwrap_or_default();
    let secs = i64::try_from(since.as_secs()).unwrap_or(i64::MAX / 2);
    let (year, month, day) = civil_from_days(secs.div_euclid(86_400));
    let sod = secs.rem_euclid(86_400);
    let mut out = format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}",
        sod / 3600,
        sod % 3600 / 60,
        sod % 60
    );
    let nanos = since.subsec_nanos();
    if nanos > 0 {
        let fraction = format!("{nanos:09}");
        out.push('.');
        out.push_str(fraction.trim_end_matches('0'));
    }
    out.push('Z');
    out
}

/// The HTTP `Date` format: "Sun, 29 Nov 2026 00:09:38 GMT".
pub(crate) fn http_date(t: SystemTime) -> String {
    pub(crate) const DAYS: [&str; 7] = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"];
    pub(crate) const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let secs =
        i64::try_from(t.duration_since(UNIX_EPOCH).unwrap_or_default().as_secs()).unwrap_or(0);
    let days = secs.div_euclid(86_400);
    let (year, month, day) = civil_from_days(days);
    let sod = secs.rem_euclid(86_400);
    format!(
        "{}, {day:02} {} {year:04} {:02}:{:02}:{:02} GMT",
        DAYS[days.rem_euclid(7) as usize],
        MONTHS[(month - 1) as usize],
        sod / 3600,
        sod % 3600 / 60,
        sod % 60
    )
}

/// Days since 1970-01-01 → (year, month 1-12, day 1-31) (Howard Hinnant's algorithm).
pub(crate) fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = (if mp < 10 { mp + 3 } else { mp - 10 }) as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}
