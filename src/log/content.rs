//! How much of the conversation the turn log keeps (`--log-content full|redact|none`).

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// Recorded in every record as `log_content`, so a reader knows what is missing and why.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogContent {
    /// Question, answer and thinking as they were.
    #[default]
    Full,
    /// The text with secrets and personal data masked (see `redact`).
    Redact,
    /// Metadata only: no question, answer or thinking text.
    None,
}

impl LogContent {
    pub const NAMES: [&'static str; 3] = ["full", "redact", "none"];

    pub fn as_str(self) -> &'static str {
        match self {
            LogContent::Full => "full",
            LogContent::Redact => "redact",
            LogContent::None => "none",
        }
    }
}

impl fmt::Display for LogContent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Not one of `full`, `redact`, `none`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("--log-content takes full, redact or none, not {0:?}")]
pub struct BadLogContent(pub String);

impl FromStr for LogContent {
    type Err = BadLogContent;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "full" => Ok(LogContent::Full),
            "redact" | "redacted" => Ok(LogContent::Redact),
            "none" | "metadata" => Ok(LogContent::None),
            _ => Err(BadLogContent(s.to_string())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_names_and_rejects_others() {
        assert_eq!("full".parse(), Ok(LogContent::Full));
        assert_eq!(" Redact ".parse(), Ok(LogContent::Redact));
        assert_eq!("none".parse(), Ok(LogContent::None));
        assert!("off".parse::<LogContent>().is_err());
        assert!("".parse::<LogContent>().is_err());
        for name in LogContent::NAMES {
            assert_eq!(name.parse::<LogContent>().unwrap().as_str(), name);
        }
    }

    #[test]
    fn serialises_lowercase() {
        assert_eq!(
            serde_json::to_string(&LogContent::Redact).unwrap(),
            "\"redact\""
        );
    }
}
