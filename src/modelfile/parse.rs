//! Modelfile text → [`Modelfile`], with errors that point at a line and column.
//!
//! The grammar, as Ollama reads it: one instruction per line (`FROM`, `PARAMETER`, `TEMPLATE`,
//! `SYSTEM`, `ADAPTER`, `LICENSE`, `MESSAGE`, `REQUIRES`, in any case), then its value: bare to the
//! end of the line, `"quoted"` or `"""triple-quoted"""` (both may span lines). A line whose first
//! non-blank character is `#` is a comment. Stricter than Ollama where it would silently guess:
//! text after a closing quote, a second FROM/SYSTEM/TEMPLATE, or an unknown parameter is an error.

use std::collections::HashMap;
use std::fmt;

use super::{MessageRole, Modelfile, ModelfileMessage};
use crate::options::{kind_of, Kind, OptionError};
use crate::suggest::{nearest, shown};

const INSTRUCTIONS: &[&str] = &[
    "FROM",
    "PARAMETER",
    "TEMPLATE",
    "SYSTEM",
    "ADAPTER",
    "LICENSE",
    "MESSAGE",
    "REQUIRES",
];

/// Where a Modelfile went wrong (1-based, columns in characters), or `None` for the whole file.
#[derive(Debug, PartialEq, thiserror::Error)]
pub struct ParseError {
    pub at: Option<(usize, usize)>,
    pub kind: ErrorKind,
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.at {
            Some((line, column)) => write!(f, "line {line}, column {column}: {}", self.kind),
            None => write!(f, "{}", self.kind),
        }
    }
}

/// What is wrong, in words that say how to fix it.
#[derive(Debug, PartialEq, thiserror::Error)]
pub enum ErrorKind {
    #[error("unknown instruction {word:?}{}; expected one of {}", hint(.suggestion), INSTRUCTIONS.join(", "))]
    UnknownInstruction {
        word: String,
        suggestion: Option<&'static str>,
    },
    #[error("{0} needs a value")]
    MissingValue(&'static str),
    #[error("{0} needs a non-empty value")]
    EmptyValue(&'static str),
    #[error("this {0} is never closed")]
    Unclosed(&'static str),
    #[error("unexpected text after the closing quote (put the whole value inside the quotes)")]
    TrailingText,
    #[error("PARAMETER needs a name and a value, e.g. `PARAMETER temperature 0.7`")]
    MissingParameterName,
    #[error("PARAMETER {0}")]
    Parameter(OptionError),
    #[error("MESSAGE role must be system, user or assistant, not {0:?}")]
    BadRole(String),
    #[error("MESSAGE needs a role and a text, e.g. `MESSAGE user Hello`")]
    MissingRole,
    #[error("REQUIRES takes an Ollama version such as 0.14.0, not {0:?}")]
    BadVersion(String),
    #[error("{what} is given twice (first on line {first_line}); keep one")]
    Duplicate { what: String, first_line: usize },
    #[error("no FROM line: a Modelfile must name the model or the GGUF file it builds on")]
    MissingFrom,
}

fn hint(s: &Option<&str>) -> String {
    s.map(|s| format!(" (did you mean {s}?)"))
        .unwrap_or_default()
}

/// Parses Modelfile text. Pure: FROM and ADAPTER paths are kept as written.
pub fn parse(text: &str) -> Result<Modelfile, ParseError> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let text = text.replace("\r\n", "\n").replace('\r', "\n");
    let mut p = Parser {
        cur: Cursor::new(&text),
        seen: HashMap::new(),
        out: Modelfile::default(),
        has_from: false,
    };
    p.run()?;
    if !p.has_from {
        return Err(ParseError {
            at: None,
            kind: ErrorKind::MissingFrom,
        });
    }
    Ok(p.out)
}

struct Parser<'a> {
    cur: Cursor<'a>,
    /// What may appear once → the line it first appeared on.
    seen: HashMap<String, usize>,
    out: Modelfile,
    has_from: bool,
}

impl Parser<'_> {
    fn run(&mut self) -> Result<(), ParseError> {
        loop {
            self.cur.skip(|c| c.is_whitespace());
            let Some(c) = self.cur.peek() else {
                return Ok(());
            };
            if c == '#' {
                self.cur.skip(|c| c != '\n');
                continue;
            }
            let at = self.cur.here();
            let word = self.cur.take(|c| !c.is_whitespace());
            let upper = word.to_ascii_uppercase();
            let Some(&name) = INSTRUCTIONS.iter().find(|i| **i == upper) else {
                return Err(ParseError {
                    at: Some(at),
                    kind: ErrorKind::UnknownInstruction {
                        suggestion: nearest(&upper, INSTRUCTIONS.iter().copied()),
                        word: shown(word),
                    },
                });
            };
            if !matches!(self.cur.peek(), Some(' ' | '\t')) {
                return Err(self.cur.error(ErrorKind::MissingValue(name)));
            }
            self.instruction(name, at.0)?;
        }
    }

    fn instruction(&mut self, name: &'static str, line: usize) -> Result<(), ParseError> {
        match name {
            "FROM" => {
                self.once("FROM", line)?;
                self.out.from = self.value(name, false)?.0;
                self.has_from = true;
            }
            "PARAMETER" => self.parameter(line)?,
            "TEMPLATE" => {
                self.once("TEMPLATE", line)?;
                self.out.template = Some(self.value(name, true)?.0);
            }
            "SYSTEM" => {
                self.once("SYSTEM", line)?;
                self.out.system = Some(self.value(name, true)?.0);
            }
            "ADAPTER" => {
                let path = self.value(name, false)?.0;
                self.out.adapters.push(path);
            }
            "LICENSE" => {
                let text = self.value(name, true)?.0;
                self.out.licenses.push(text);
            }
            "MESSAGE" => self.message()?,
            _ => {
                self.once("REQUIRES", line)?;
                let (raw, at) = self.value(name, false)?;
                self.out.requires = Some(version(&raw).ok_or(ParseError {
                    at: Some(at),
                    kind: ErrorKind::BadVersion(shown(&raw)),
                })?);
            }
        }
        Ok(())
    }

    fn parameter(&mut self, line: usize) -> Result<(), ParseError> {
        self.cur.skip(|c| c == ' ' || c == '\t');
        let at = self.cur.here();
        let key = self.cur.take(|c| !c.is_whitespace()).to_ascii_lowercase();
        if key.is_empty() || !matches!(self.cur.peek(), Some(' ' | '\t')) {
            return Err(ParseError {
                at: Some(at),
                kind: ErrorKind::MissingParameterName,
            });
        }
        let kind = kind_of(&key).map_err(|e| ParseError {
            at: Some(at),
            kind: ErrorKind::Parameter(e),
        })?;
        if kind != Kind::StringList {
            self.once(&format!("PARAMETER {key}"), line)?;
        }
        let (value, value_at) = self.value("PARAMETER", false)?;
        self.out
            .parameters
            .set(&key, &value)
            .map_err(|e| ParseError {
                at: Some(value_at),
                kind: ErrorKind::Parameter(e),
            })
    }

    fn message(&mut self) -> Result<(), ParseError> {
        self.cur.skip(|c| c == ' ' || c == '\t');
        let at = self.cur.here();
        let word = self.cur.take(|c| !c.is_whitespace());
        if word.is_empty() || !matches!(self.cur.peek(), Some(' ' | '\t')) {
            return Err(ParseError {
                at: Some(at),
                kind: ErrorKind::MissingRole,
            });
        }
        let role = MessageRole::parse(word).ok_or_else(|| ParseError {
            at: Some(at),
            kind: ErrorKind::BadRole(shown(word)),
        })?;
        let content = self.value("MESSAGE", true)?.0;
        self.out.messages.push(ModelfileMessage { role, content });
        Ok(())
    }

    /// Records an instruction that may appear once.
    fn once(&mut self, what: &str, line: usize) -> Result<(), ParseError> {
        if let Some(&first_line) = self.seen.get(what) {
            return Err(ParseError {
                at: Some((line, 1)),
                kind: ErrorKind::Duplicate {
                    what: what.to_string(),
                    first_line,
                },
            });
        }
        self.seen.insert(what.to_string(), line);
        Ok(())
    }

    /// A value after its instruction (and blanks): bare to the end of the line (trimmed), or quoted.
    /// Returns it with where it started.
    fn value(
        &mut self,
        name: &'static str,
        may_be_empty: bool,
    ) -> Result<(String, (usize, usize)), ParseError> {
        self.cur.skip(|c| c == ' ' || c == '\t');
        let at = self.cur.here();
        let quote = if self.cur.rest().starts_with("\"\"\"") {
            Some("\"\"\"")
        } else if self.cur.rest().starts_with('"') {
            Some("\"")
        } else {
            None
        };
        let value = match quote {
            None => {
                let v = self.cur.take(|c| c != '\n').trim_end_matches([' ', '\t']);
                if v.is_empty() {
                    return Err(ParseError {
                        at: Some(at),
                        kind: ErrorKind::MissingValue(name),
                    });
                }
                v.to_string()
            }
            Some(q) => {
                self.cur.advance(q.len());
                let Some(len) = self.cur.rest().find(q) else {
                    return Err(ParseError {
                        at: Some(at),
                        kind: ErrorKind::Unclosed(if q.len() == 3 { "\"\"\"" } else { "quote" }),
                    });
                };
                let v = self.cur.advance(len).to_string();
                self.cur.advance(q.len());
                self.cur.skip(|c| c == ' ' || c == '\t');
                if !matches!(self.cur.peek(), None | Some('\n')) {
                    return Err(self.cur.error(ErrorKind::TrailingText));
                }
                if v.is_empty() && !may_be_empty {
                    return Err(ParseError {
                        at: Some(at),
                        kind: ErrorKind::EmptyValue(name),
                    });
                }
                v
            }
        };
        Ok((value, at))
    }
}

/// `0.14.0`, `v0.14.0`, `0.14`, `1` (as Go's semver accepts), with an optional `-pre` part;
/// returned without the `v`.
fn version(raw: &str) -> Option<String> {
    let v = raw.strip_prefix('v').unwrap_or(raw);
    let (core, pre) = match v.split_once('-') {
        Some((c, p)) => (c, Some(p)),
        None => (v, None),
    };
    let parts: Vec<&str> = core.split('.').collect();
    let numeric = |s: &&str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    let pre_ok = pre.is_none_or(|p| {
        !p.is_empty()
            && p.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'-')
    });
    (parts.len() <= 3 && parts.iter().all(numeric) && pre_ok).then(|| v.to_string())
}

/// A position in the text that counts lines and columns as it moves.
struct Cursor<'a> {
    text: &'a str,
    pos: usize,
    line: usize,
    column: usize,
}

impl<'a> Cursor<'a> {
    fn new(text: &'a str) -> Self {
        Cursor {
            text,
            pos: 0,
            line: 1,
            column: 1,
        }
    }

    fn rest(&self) -> &'a str {
        &self.text[self.pos..]
    }

    fn peek(&self) -> Option<char> {
        self.rest().chars().next()
    }

    fn here(&self) -> (usize, usize) {
        (self.line, self.column)
    }

    fn error(&self, kind: ErrorKind) -> ParseError {
        ParseError {
            at: Some(self.here()),
            kind,
        }
    }

    /// Moves over `bytes` bytes (on a character boundary) and returns them.
    fn advance(&mut self, bytes: usize) -> &'a str {
        let taken = &self.text[self.pos..self.pos + bytes];
        for c in taken.chars() {
            if c == '\n' {
                self.line += 1;
                self.column = 1;
            } else {
                self.column += 1;
            }
        }
        self.pos += bytes;
        taken
    }

    fn take(&mut self, keep: impl Fn(char) -> bool) -> &'a str {
        let len = self
            .rest()
            .find(|c: char| !keep(c))
            .unwrap_or(self.rest().len());
        self.advance(len)
    }

    fn skip(&mut self, skip: impl Fn(char) -> bool) {
        self.take(skip);
    }
}

#[cfg(test)]
#[path = "parse_tests.rs"]
mod tests;
