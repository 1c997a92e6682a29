//! Modelfiles: the parsed form (`Modelfile`), the parser (`parse`), the printer back to text, and
//! the `/api/create` JSON body, which is all the API accepts since Modelfile text was dropped from
//! it. Pure: reading files and uploading blobs happen in `commands::create`.

mod parse;
#[cfg(test)]
mod roundtrip;

use std::collections::BTreeMap;
use std::fmt;

use serde_json::Value;

use crate::models::{CreateMessage, CreateRequest, License};
use crate::options::Options;

pub use parse::{parse, ErrorKind, ParseError};

/// A Modelfile's meaning. Comments, layout and instruction order are not kept; what the server
/// would do with the file is.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Modelfile {
    /// A model name, or a path to a local GGUF file (resolved by the caller).
    pub from: String,
    /// Typed as in a chat request; repeated `stop` lines become a list.
    pub parameters: Options,
    pub template: Option<String>,
    pub system: Option<String>,
    /// Paths to LoRA adapter files.
    pub adapters: Vec<String>,
    pub licenses: Vec<String>,
    pub messages: Vec<ModelfileMessage>,
    /// The Ollama version the model needs, without a leading `v`.
    pub requires: Option<String>,
}

/// A MESSAGE line: an example exchange built into the model.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModelfileMessage {
    pub role: MessageRole,
    pub content: String,
}

/// The roles a MESSAGE may have.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MessageRole {
    System,
    User,
    Assistant,
}

impl MessageRole {
    pub fn as_str(self) -> &'static str {
        match self {
            MessageRole::System => "system",
            MessageRole::User => "user",
            MessageRole::Assistant => "assistant",
        }
    }

    /// Case-insensitive, as the instructions are.
    pub fn parse(s: &str) -> Option<Self> {
        match s.to_ascii_lowercase().as_str() {
            "system" => Some(MessageRole::System),
            "user" => Some(MessageRole::User),
            "assistant" => Some(MessageRole::Assistant),
            _ => None,
        }
    }
}

/// Blobs already on the server for the local files a Modelfile names: file name → `sha256:<hex>`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Blobs {
    /// The model file(s) of a `FROM ./x.gguf`; empty when FROM names a model.
    pub files: BTreeMap<String, String>,
    pub adapters: BTreeMap<String, String>,
}

/// A value no Modelfile syntax can hold: it needs both kinds of quote (it contains `"` and also
/// `"""` or ends in `"`), or it holds a carriage return.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{what} cannot be written in a Modelfile: {reason}")]
pub struct Unprintable {
    pub what: String,
    pub reason: &'static str,
}

impl Modelfile {
    /// The `/api/create` body for a model called `name`. With uploaded model files, `from` is left
    /// out and `files` names them, as the official client does.
    pub fn create_request(&self, name: &str, blobs: &Blobs) -> CreateRequest {
        let license = match self.licenses.as_slice() {
            [] => None,
            [one] => Some(License::One(one.clone())),
            many => Some(License::Many(many.to_vec())),
        };
        CreateRequest {
            model: name.to_string(),
            from: blobs.files.is_empty().then(|| self.from.clone()),
            files: blobs.files.clone(),
            adapters: blobs.adapters.clone(),
            template: self.template.clone(),
            system: self.system.clone(),
            license,
            parameters: self.parameters.clone(),
            messages: self
                .messages
                .iter()
                .map(|m| CreateMessage {
                    role: m.role.as_str().to_string(),
                    content: m.content.clone(),
                })
                .collect(),
            requires: self.requires.clone(),
        }
    }

    /// Modelfile text that [`parse`] reads back to this same `Modelfile`.
    pub fn to_text(&self) -> Result<String, Unprintable> {
        let mut out = String::new();
        line(&mut out, "FROM", &self.from, "FROM")?;
        for a in &self.adapters {
            line(&mut out, "ADAPTER", a, "ADAPTER")?;
        }
        for (key, value) in self.parameters.iter() {
            let values: Vec<&Value> = match value {
                Value::Array(items) => items.iter().collect(),
                other => vec![other],
            };
            for v in values {
                let text = match v {
                    Value::String(s) if wrapped_in_quotes(s) => {
                        return Err(Unprintable {
                            what: key.to_string(),
                            reason: "a value in quotes loses them when read back",
                        })
                    }
                    Value::String(s) => s.clone(),
                    other => other.to_string(),
                };
                line(&mut out, &format!("PARAMETER {key}"), &text, key)?;
            }
        }
        if let Some(t) = &self.template {
            line(&mut out, "TEMPLATE", t, "TEMPLATE")?;
        }
        if let Some(s) = &self.system {
            line(&mut out, "SYSTEM", s, "SYSTEM")?;
        }
        for m in &self.messages {
            let head = format!("MESSAGE {}", m.role.as_str());
            line(&mut out, &head, &m.content, "MESSAGE")?;
        }
        for l in &self.licenses {
            line(&mut out, "LICENSE", l, "LICENSE")?;
        }
        if let Some(r) = &self.requires {
            line(&mut out, "REQUIRES", r, "REQUIRES")?;
        }
        Ok(out)
    }
}

impl fmt::Display for MessageRole {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

fn line(out: &mut String, head: &str, value: &str, what: &str) -> Result<(), Unprintable> {
    out.push_str(head);
    out.push(' ');
    out.push_str(&quote(value).map_err(|reason| Unprintable {
        what: what.to_string(),
        reason,
    })?);
    out.push('\n');
    Ok(())
}

/// Whether a parameter's value, trimmed, starts and ends with `"`: reading it back takes those off
/// (`Options::set` accepts a quoted stop sequence), so no Modelfile line can hold it.
fn wrapped_in_quotes(value: &str) -> bool {
    let t = value.trim();
    t.len() >= 2 && t.starts_with('"') && t.ends_with('"')
}

/// The plainest form that reads back as `value`: bare, `"quoted"`, or `"""triple-quoted"""`.
pub fn quote(value: &str) -> Result<String, &'static str> {
    if value.contains('\r') {
        return Err("it contains a carriage return");
    }
    // Any blank, not only space and tab: a parameter's value is trimmed of all of them.
    let edge_space = char::is_whitespace;
    let bare = !value.is_empty()
        && !value.contains('\n')
        && !value.starts_with(edge_space)
        && !value.ends_with(edge_space)
        && !value.starts_with('"');
    if bare {
        Ok(value.to_string())
    } else if !value.contains('"') {
        Ok(format!("\"{value}\""))
    } else if !value.contains("\"\"\"") && !value.ends_with('"') {
        Ok(format!("\"\"\"{value}\"\"\""))
    } else {
        Err("it needs quoting but contains both `\"\"\"` (or a final `\"`) and `\"`")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const EXAMPLE: &str = include_str!("../../Modelfile.example");

    /// Found by the fuzzer: a stop sequence `\x0c"""""` was printed bare and read back as `"""`.
    #[test]
    fn values_that_would_read_back_otherwise_are_quoted_or_refused() {
        assert_eq!(quote("\u{c}x").unwrap(), "\"\u{c}x\"");
        assert_eq!(quote("x\u{a0}").unwrap(), "\"x\u{a0}\"");
        assert!(quote("\u{c}\"\"\"\"\"").is_err());
        for stop in ["\u{c}\"\"\"\"\"", "\"x\"\u{c}", "\"\"", " \"a b\" "] {
            let mut m = Modelfile {
                from: "tiny".into(),
                ..Modelfile::default()
            };
            // One pair of quotes is taken off on the way in, so this stores `stop` itself.
            m.parameters.set("stop", &format!("\"{stop}\"")).unwrap();
            let e = m.to_text().unwrap_err();
            assert_eq!(e.what, "stop", "{stop:?}");
        }
        let m = parse("FROM p\nPARAMETER stop \u{a0}\u{c}\"\u{c}\"\"\"\"\"\"\u{c}\n").unwrap();
        assert!(m.to_text().is_err());
    }

    #[test]
    fn the_example_becomes_the_teacher_request() {
        let m = parse(EXAMPLE).unwrap();
        let req = m.create_request("my-teacher", &Blobs::default());
        let got = serde_json::to_value(&req).unwrap();
        let want = serde_json::json!({
            "model": "my-teacher",
            "from": "llama3.2:latest",
            "system": "你是一位專業的老師，擅長用淺顯例子解釋複雜概念。",
            "license": "MIT",
            "parameters": {
                "temperature": 0.3,
                "top_p": 0.9,
                "num_predict": 1024,
                "repeat_penalty": 1.2
            }
        });
        assert_eq!(got, want);
    }

    #[test]
    fn files_replace_from_and_licenses_become_a_list() {
        let m = parse("FROM ./tiny.gguf\nLICENSE MIT\nLICENSE \"\"\"Apache\n2.0\"\"\"\nMESSAGE user hi\nMESSAGE assistant 你好\nREQUIRES v0.14.0\nADAPTER ./lora.gguf\n").unwrap();
        let blobs = Blobs {
            files: BTreeMap::from([("tiny.gguf".to_string(), "sha256:ab".to_string())]),
            adapters: BTreeMap::from([("lora.gguf".to_string(), "sha256:cd".to_string())]),
        };
        let got = serde_json::to_value(m.create_request("t", &blobs)).unwrap();
        let want = serde_json::json!({
            "model": "t",
            "files": {"tiny.gguf": "sha256:ab"},
            "adapters": {"lora.gguf": "sha256:cd"},
            "license": ["MIT", "Apache\n2.0"],
            "messages": [
                {"role": "user", "content": "hi"},
                {"role": "assistant", "content": "你好"}
            ],
            "requires": "0.14.0"
        });
        assert_eq!(got, want);
    }

    #[test]
    fn printing_the_example_reads_back_the_same() {
        let m = parse(EXAMPLE).unwrap();
        let text = m.to_text().unwrap();
        assert_eq!(
            text,
            "FROM llama3.2:latest\nPARAMETER num_predict 1024\nPARAMETER repeat_penalty 1.2\n\
             PARAMETER temperature 0.3\nPARAMETER top_p 0.9\n\
             SYSTEM 你是一位專業的老師，擅長用淺顯例子解釋複雜概念。\nLICENSE MIT\n"
        );
        assert_eq!(parse(&text).unwrap(), m);
    }

    #[test]
    fn quoting_picks_the_plainest_form() {
        assert_eq!(quote("plain words").unwrap(), "plain words");
        assert_eq!(quote("say \"hi\"").unwrap(), "say \"hi\"");
        assert_eq!(quote("").unwrap(), "\"\"");
        assert_eq!(quote(" lead").unwrap(), "\" lead\"");
        assert_eq!(quote("two\nlines").unwrap(), "\"two\nlines\"");
        assert_eq!(
            quote("\"quoted\" start").unwrap(),
            "\"\"\"\"quoted\" start\"\"\""
        );
        assert_eq!(quote("a\n\"b\" c").unwrap(), "\"\"\"a\n\"b\" c\"\"\"");
        assert!(quote("ends with \"q\"\n").is_ok());
        assert!(quote("\"a\nb\"").is_err());
        assert!(quote("x\"\"\"\ny\"").is_err());
        assert!(quote("cr\r").is_err());
    }

    #[test]
    fn unprintable_values_are_named() {
        let m = Modelfile {
            from: "tiny".into(),
            system: Some("\"both\nkinds\"".into()),
            ..Modelfile::default()
        };
        assert_eq!(
            m.to_text().unwrap_err().to_string(),
            "SYSTEM cannot be written in a Modelfile: it needs quoting but contains both `\"\"\"` (or a final `\"`) and `\"`"
        );
    }
}
