//! Model options (`options{}` of a chat request), typed by name so a bad value fails here, not on
//! the server.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::suggest::{nearest, shown};

/// The JSON type Ollama expects for an option.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Int,
    Float,
    Bool,
    /// Repeatable: each value adds one entry.
    StringList,
}

/// Every option key Ollama's runner accepts (api/types.go), with its type.
pub const KNOWN: &[(&str, Kind)] = &[
    ("num_ctx", Kind::Int),
    ("num_predict", Kind::Int),
    ("temperature", Kind::Float),
    ("top_k", Kind::Int),
    ("top_p", Kind::Float),
    ("min_p", Kind::Float),
    ("typical_p", Kind::Float),
    ("repeat_last_n", Kind::Int),
    ("repeat_penalty", Kind::Float),
    ("presence_penalty", Kind::Float),
    ("frequency_penalty", Kind::Float),
    ("seed", Kind::Int),
    ("stop", Kind::StringList),
    ("num_keep", Kind::Int),
    ("num_batch", Kind::Int),
    ("num_gpu", Kind::Int),
    ("main_gpu", Kind::Int),
    ("num_thread", Kind::Int),
    ("use_mmap", Kind::Bool),
];

/// The smallest value an integer option means anything at, and how to say it. A context window
/// of 0 or a negative batch would only be refused by the server, or worse, accepted.
const INT_MINIMUM: &[(&str, i64, &str)] = &[
    ("num_ctx", 1, "a whole number of at least 1"),
    (
        "num_predict",
        -2,
        "a whole number of at least -2 (-1: no limit, -2: fill the context)",
    ),
    ("top_k", 0, "a whole number of at least 0"),
    (
        "repeat_last_n",
        -1,
        "a whole number of at least -1 (-1: the whole context)",
    ),
    ("num_keep", -1, "a whole number of at least -1"),
    ("num_batch", 1, "a whole number of at least 1"),
    ("num_gpu", -1, "a whole number of at least -1"),
    ("main_gpu", 0, "a whole number of at least 0"),
    ("num_thread", 0, "a whole number of at least 0"),
];

/// The range a float option means anything in, and how to say it.
const FLOAT_RANGE: &[(&str, f64, f64, &str)] = &[
    ("temperature", 0.0, f64::MAX, "a number of at least 0"),
    ("top_p", 0.0, 1.0, "a number from 0 to 1"),
    ("min_p", 0.0, 1.0, "a number from 0 to 1"),
    ("typical_p", 0.0, 1.0, "a number from 0 to 1"),
    ("repeat_penalty", 0.0, f64::MAX, "a number of at least 0"),
];

/// Why an option was refused; the message says what would be accepted.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum OptionError {
    #[error("expected KEY=VALUE, got {0:?}")]
    NotAPair(String),
    #[error("unknown option {key:?}{}", .suggestion.as_ref().map(|s| format!(" (did you mean {s:?}?)")).unwrap_or_default())]
    Unknown {
        key: String,
        suggestion: Option<String>,
    },
    #[error("option {key} takes {expected}, not {value:?}")]
    BadValue {
        key: String,
        expected: &'static str,
        value: String,
    },
}

/// The options sent with every request. Sorted, so logs and requests are stable.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Options(BTreeMap<String, Value>);

impl Options {
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn get(&self, key: &str) -> Option<&Value> {
        self.0.get(key)
    }

    pub fn iter(&self) -> impl Iterator<Item = (&String, &Value)> {
        self.0.iter()
    }

    /// Parses `KEY=VALUE` (as given to `--option`) and sets it.
    pub fn set_pair(&mut self, pair: &str) -> Result<(), OptionError> {
        let (key, value) = pair
            .split_once('=')
            .ok_or_else(|| OptionError::NotAPair(pair.to_string()))?;
        self.set(key.trim(), value)
    }

    /// Sets one option from text; `stop` accumulates, everything else replaces.
    pub fn set(&mut self, key: &str, value: &str) -> Result<(), OptionError> {
        let kind = kind_of(key)?;
        let parsed = parse_value(key, kind, value)?;
        if kind == Kind::StringList {
            let list = self
                .0
                .entry(key.to_string())
                .or_insert_with(|| Value::Array(Vec::new()));
            if let Value::Array(items) = list {
                items.push(parsed);
            }
        } else {
            self.0.insert(key.to_string(), parsed);
        }
        Ok(())
    }

    /// Replaces `stop` (or any list option) with exactly these values.
    pub fn set_list(&mut self, key: &str, values: &[&str]) -> Result<(), OptionError> {
        kind_of(key)?;
        self.0.remove(key);
        for v in values {
            self.set(key, v)?;
        }
        Ok(())
    }

    pub fn unset(&mut self, key: &str) -> Option<Value> {
        self.0.remove(key)
    }

    /// An integer option, when set.
    pub fn get_u64(&self, key: &str) -> Option<u64> {
        self.0.get(key).and_then(Value::as_u64)
    }
}

/// The type of a known option, or an error naming the closest known one.
pub fn kind_of(key: &str) -> Result<Kind, OptionError> {
    KNOWN
        .iter()
        .find(|(k, _)| *k == key)
        .map(|(_, kind)| *kind)
        .ok_or_else(|| OptionError::Unknown {
            key: shown(key),
            suggestion: nearest(key, KNOWN.iter().map(|(k, _)| *k)).map(str::to_string),
        })
}

fn parse_value(key: &str, kind: Kind, raw: &str) -> Result<Value, OptionError> {
    let value = raw.trim();
    let bad = |expected| OptionError::BadValue {
        key: key.to_string(),
        expected,
        value: raw.to_string(),
    };
    match kind {
        Kind::Int => {
            let n = value.parse::<i64>().map_err(|_| bad("a whole number"))?;
            match INT_MINIMUM.iter().find(|(k, _, _)| *k == key) {
                Some((_, min, expected)) if n < *min => Err(bad(expected)),
                _ => Ok(Value::from(n)),
            }
        }
        Kind::Float => match value.parse::<f64>() {
            Ok(f) if f.is_finite() => match FLOAT_RANGE.iter().find(|(k, ..)| *k == key) {
                Some((_, lo, hi, expected)) if f < *lo || f > *hi => Err(bad(expected)),
                _ => Ok(Value::from(f)),
            },
            _ => Err(bad("a number")),
        },
        Kind::Bool => match value.to_ascii_lowercase().as_str() {
            "true" | "1" | "yes" | "on" => Ok(Value::Bool(true)),
            "false" | "0" | "no" | "off" => Ok(Value::Bool(false)),
            _ => Err(bad("true or false")),
        },
        Kind::StringList => {
            // A stop sequence may be quoted to keep spaces, as in a Modelfile.
            let unquoted = strip_quotes(raw);
            if unquoted.is_empty() {
                Err(bad("a non-empty string"))
            } else {
                Ok(Value::from(unquoted))
            }
        }
    }
}

fn strip_quotes(s: &str) -> &str {
    let t = s.trim();
    if t.len() >= 2 && t.starts_with('"') && t.ends_with('"') {
        &t[1..t.len() - 1]
    } else {
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_outside_their_meaning_are_refused_before_sending() {
        let mut o = Options::default();
        for bad in [
            "num_ctx=0",
            "num_ctx=-4096",
            "num_predict=-3",
            "num_batch=0",
            "top_k=-1",
            "top_p=1.5",
            "min_p=-0.1",
            "temperature=-1",
        ] {
            let e = o.set_pair(bad).unwrap_err();
            assert!(matches!(e, OptionError::BadValue { .. }), "{bad}: {e:?}");
        }
        assert_eq!(
            o.set_pair("num_ctx=0").unwrap_err().to_string(),
            "option num_ctx takes a whole number of at least 1, not \"0\""
        );
        assert!(o.is_empty(), "a refused value changes nothing");
        for good in [
            "num_ctx=1",
            "num_predict=-2",
            "num_predict=-1",
            "top_p=1",
            "seed=-7",
            "temperature=0",
        ] {
            o.set_pair(good).unwrap();
        }
    }

    #[test]
    fn typed_values() {
        let mut o = Options::default();
        o.set_pair("temperature=0.3").unwrap();
        o.set_pair("num_predict=-1").unwrap();
        o.set_pair("use_mmap=false").unwrap();
        o.set_pair("stop=<end>").unwrap();
        o.set_pair("stop=\"User: \"").unwrap();
        assert_eq!(
            serde_json::to_string(&o).unwrap(),
            r#"{"num_predict":-1,"stop":["<end>","User: "],"temperature":0.3,"use_mmap":false}"#
        );
    }

    #[test]
    fn integers_stay_integers() {
        let mut o = Options::default();
        o.set("num_ctx", "4096").unwrap();
        assert_eq!(o.get_u64("num_ctx"), Some(4096));
        assert_eq!(serde_json::to_string(&o).unwrap(), r#"{"num_ctx":4096}"#);
    }

    #[test]
    fn bad_values_are_refused() {
        let mut o = Options::default();
        assert_eq!(
            o.set_pair("num_predict=ten").unwrap_err().to_string(),
            "option num_predict takes a whole number, not \"ten\""
        );
        assert!(o.set_pair("temperature=hot").is_err());
        assert!(o.set_pair("temperature=NaN").is_err());
        assert!(o.set_pair("num_ctx=1.5").is_err());
        assert!(o.set_pair("use_mmap=maybe").is_err());
        assert!(o.set_pair("stop=").is_err());
        assert!(o.set_pair("temperature").is_err());
        assert!(o.is_empty());
    }

    #[test]
    fn unknown_keys_suggest_the_nearest() {
        let err = Options::default()
            .set_pair("temprature=1")
            .unwrap_err()
            .to_string();
        assert_eq!(
            err,
            "unknown option \"temprature\" (did you mean \"temperature\"?)"
        );
        let err = Options::default().set_pair("zzzzzz=1").unwrap_err();
        assert!(matches!(
            err,
            OptionError::Unknown {
                suggestion: None,
                ..
            }
        ));
    }

    #[test]
    fn set_list_replaces() {
        let mut o = Options::default();
        o.set("stop", "a").unwrap();
        o.set_list("stop", &["b", "c"]).unwrap();
        assert_eq!(o.get("stop").unwrap(), &serde_json::json!(["b", "c"]));
    }
}
