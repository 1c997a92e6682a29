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
use crate::suggest::nearest;

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
                        word: word.to_string(),
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
                    kind: ErrorKind::BadVersion(raw.clone()),
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
            kind: ErrorKind::BadRole(word.to_string()),
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
mod tests {
    use serde_json::json;

    use super::*;

    fn err(text: &str) -> (Option<(usize, usize)>, String) {
        let e = parse(text).unwrap_err();
        (e.at, e.kind.to_string())
    }

    #[test]
    fn from_a_model_or_a_path() {
        assert_eq!(parse("FROM llama3.2").unwrap().from, "llama3.2");
        assert_eq!(parse("from ./m.gguf\n").unwrap().from, "./m.gguf");
        assert_eq!(
            parse("FROM \"./my models/m.gguf\"").unwrap().from,
            "./my models/m.gguf"
        );
    }

    #[test]
    fn parameters_are_typed_and_stop_repeats() {
        let m = parse(
            "FROM x\nPARAMETER temperature 0.3\nparameter NUM_CTX 4096\nPARAMETER stop <end>\n\
             PARAMETER stop \"User: \"\nPARAMETER use_mmap false\nPARAMETER\ttop_k\t40\n",
        )
        .unwrap();
        assert_eq!(
            serde_json::to_value(&m.parameters).unwrap(),
            json!({"temperature": 0.3, "num_ctx": 4096, "stop": ["<end>", "User: "],
                   "use_mmap": false, "top_k": 40})
        );
    }

    #[test]
    fn template_and_system_multi_line() {
        let m = parse(
            "FROM x\nTEMPLATE \"\"\"{{ .System }}\n{{ .Prompt }}\"\"\"\nSYSTEM \"\"\"\nBe \"brief\".\n\"\"\"\n",
        )
        .unwrap();
        assert_eq!(m.template.unwrap(), "{{ .System }}\n{{ .Prompt }}");
        assert_eq!(m.system.unwrap(), "\nBe \"brief\".\n");
    }

    #[test]
    fn bare_and_quoted_values() {
        let m = parse("FROM x\nSYSTEM   You are \"Tiny\".   \n").unwrap();
        assert_eq!(m.system.unwrap(), "You are \"Tiny\".");
        let m = parse("FROM x\nSYSTEM \"  spaced  \"").unwrap();
        assert_eq!(m.system.unwrap(), "  spaced  ");
        let m = parse("FROM x\nSYSTEM \"two\nlines\"").unwrap();
        assert_eq!(m.system.unwrap(), "two\nlines");
        let m = parse("FROM x\nSYSTEM \"\"").unwrap();
        assert_eq!(m.system.unwrap(), "");
        let m = parse("FROM x\nSYSTEM #not a comment").unwrap();
        assert_eq!(m.system.unwrap(), "#not a comment");
    }

    #[test]
    fn adapter_license_message_requires() {
        let m = parse(
            "FROM x\nADAPTER ./lora.gguf\nLICENSE MIT\nLICENSE \"\"\"line one\nline two\"\"\"\n\
             MESSAGE user 今天天氣如何？\nMESSAGE Assistant \"晴天。\"\nMESSAGE system be kind\n\
             REQUIRES v0.14.0\n",
        )
        .unwrap();
        assert_eq!(m.adapters, vec!["./lora.gguf"]);
        assert_eq!(m.licenses, vec!["MIT", "line one\nline two"]);
        assert_eq!(
            m.messages,
            vec![
                ModelfileMessage {
                    role: MessageRole::User,
                    content: "今天天氣如何？".into()
                },
                ModelfileMessage {
                    role: MessageRole::Assistant,
                    content: "晴天。".into()
                },
                ModelfileMessage {
                    role: MessageRole::System,
                    content: "be kind".into()
                },
            ]
        );
        assert_eq!(m.requires.as_deref(), Some("0.14.0"));
    }

    #[test]
    fn comments_blank_lines_crlf_and_bom() {
        let m = parse(
            "\u{feff}# header\r\n\r\n   # indented comment\r\nFROM x\r\n\tSYSTEM hi\r\n# end",
        )
        .unwrap();
        assert_eq!(m.from, "x");
        assert_eq!(m.system.as_deref(), Some("hi"));
    }

    #[test]
    fn versions() {
        assert_eq!(version("0.14.0").as_deref(), Some("0.14.0"));
        assert_eq!(version("v1").as_deref(), Some("1"));
        assert_eq!(version("1.2.3-rc1").as_deref(), Some("1.2.3-rc1"));
        for bad in ["", "v", "1.2.3.4", "x.1", "1..2", "1.2-", "1.2-a b"] {
            assert_eq!(version(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn unknown_instruction_names_line_column_and_the_nearest() {
        let (at, msg) = err("FROM x\n  SYTEM hi\n");
        assert_eq!(at, Some((2, 3)));
        assert!(
            msg.starts_with("unknown instruction \"SYTEM\" (did you mean SYSTEM?)"),
            "{msg}"
        );
        let (at, msg) = err("FROM x\nRUN make\n");
        assert_eq!(at, Some((2, 1)));
        assert!(!msg.contains("did you mean"), "{msg}");
        let (at, _) = err("FROM: x");
        assert_eq!(at, Some((1, 1)));
    }

    #[test]
    fn missing_and_empty_values() {
        assert_eq!(err("FROM"), (Some((1, 5)), "FROM needs a value".into()));
        assert_eq!(
            err("FROM   \n"),
            (Some((1, 8)), "FROM needs a value".into())
        );
        assert_eq!(
            err("FROM x\nSYSTEM\nhi"),
            (Some((2, 7)), "SYSTEM needs a value".into())
        );
        assert_eq!(
            err("FROM \"\""),
            (Some((1, 6)), "FROM needs a non-empty value".into())
        );
        assert_eq!(
            err("FROM x\nADAPTER \"\""),
            (Some((2, 9)), "ADAPTER needs a non-empty value".into())
        );
    }

    #[test]
    fn unclosed_quotes_point_at_the_opening() {
        assert_eq!(
            err("FROM x\nSYSTEM \"\"\"never\nclosed\n"),
            (Some((2, 8)), "this \"\"\" is never closed".into())
        );
        assert_eq!(
            err("FROM x\nTEMPLATE \"open"),
            (Some((2, 10)), "this quote is never closed".into())
        );
    }

    #[test]
    fn text_after_a_closing_quote() {
        let (at, msg) = err("FROM x\nSYSTEM \"hi\" there");
        assert_eq!(at, Some((2, 13)));
        assert!(msg.starts_with("unexpected text after the closing quote"));
        let (at, _) = err("FROM x\nSYSTEM \"\"\"a\nb\"\"\" c");
        assert_eq!(at, Some((3, 6)));
    }

    #[test]
    fn bad_parameters() {
        let (at, msg) = err("FROM x\nPARAMETER temprature 0.3");
        assert_eq!(at, Some((2, 11)));
        assert_eq!(
            msg,
            "PARAMETER unknown option \"temprature\" (did you mean \"temperature\"?)"
        );
        let (at, msg) = err("FROM x\nPARAMETER num_ctx lots");
        assert_eq!(at, Some((2, 19)));
        assert_eq!(
            msg,
            "PARAMETER option num_ctx takes a whole number, not \"lots\""
        );
        let (at, msg) = err("FROM x\nPARAMETER temperature");
        assert_eq!(at, Some((2, 11)));
        assert!(msg.starts_with("PARAMETER needs a name and a value"));
        assert_eq!(err("FROM x\nPARAMETER  ").0, Some((2, 12)));
        assert_eq!(
            err("FROM x\nPARAMETER stop \"\"").1,
            "PARAMETER needs a non-empty value"
        );
        assert_eq!(
            err("FROM x\nPARAMETER use_mmap maybe").1,
            "PARAMETER option use_mmap takes true or false, not \"maybe\""
        );
    }

    #[test]
    fn bad_messages() {
        let (at, msg) = err("FROM x\nMESSAGE bot hi");
        assert_eq!(at, Some((2, 9)));
        assert_eq!(
            msg,
            "MESSAGE role must be system, user or assistant, not \"bot\""
        );
        assert!(err("FROM x\nMESSAGE user")
            .1
            .starts_with("MESSAGE needs a role"));
        assert!(err("FROM x\nMESSAGE  ")
            .1
            .starts_with("MESSAGE needs a role"));
    }

    #[test]
    fn bad_requires() {
        assert_eq!(
            err("FROM x\nREQUIRES soon"),
            (
                Some((2, 10)),
                "REQUIRES takes an Ollama version such as 0.14.0, not \"soon\"".into()
            )
        );
    }

    #[test]
    fn duplicates_name_both_lines() {
        assert_eq!(
            err("FROM a\nFROM b"),
            (
                Some((2, 1)),
                "FROM is given twice (first on line 1); keep one".into()
            )
        );
        assert!(err("FROM a\nSYSTEM x\n\nsystem y")
            .1
            .contains("SYSTEM is given twice"));
        assert!(err("FROM a\nTEMPLATE x\nTEMPLATE y").1.contains("TEMPLATE"));
        assert!(err("FROM a\nREQUIRES 1\nREQUIRES 2").1.contains("REQUIRES"));
        assert_eq!(
            err("FROM a\nPARAMETER top_k 1\nPARAMETER top_k 2").1,
            "PARAMETER top_k is given twice (first on line 2); keep one"
        );
    }

    #[test]
    fn no_from_at_all() {
        for text in ["", "# only a comment\n", "SYSTEM hi"] {
            let e = parse(text).unwrap_err();
            assert_eq!(e.at, None);
            assert_eq!(e.kind, ErrorKind::MissingFrom);
        }
    }

    #[test]
    fn columns_count_characters_not_bytes() {
        let (at, _) = err("FROM x\nSYSTEM \"你好\" 世界");
        assert_eq!(at, Some((2, 13)));
    }

    #[test]
    fn display_includes_the_position() {
        let e = parse("FROM x\nPARAMETER seed x").unwrap_err();
        assert_eq!(
            e.to_string(),
            "line 2, column 16: PARAMETER option seed takes a whole number, not \"x\""
        );
    }
}
