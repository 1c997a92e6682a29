//! The config file (`config.toml`): TOML text → settings named after the long flags. Keys are
//! checked against the command line's own definition (clap), so a new flag is a config key with
//! no code here; `layer` then applies them under the command line.
//!
//! Layout of the file: top-level keys; `[options]` (model options); `[apis.NAME]` and
//! `[hosts."ADDRESS"]` sections that apply with that API or server; `[roles.NAME]` saved prompts;
//! `[mcp.NAME]` MCP servers (`mcp`).

pub mod example;
pub mod layer;
pub mod load;
mod mcp;
pub mod roles;
pub mod show;

use std::path::{Path, PathBuf};

use clap::{Arg, ArgAction, Command};
use toml::de::{DeTable, DeValue};
use toml::Spanned;

use crate::backend::Api;
use crate::config::ApiKey;
use crate::suggest;

/// A larger file is not a config file.
pub const MAX_BYTES: u64 = 1 << 20;

/// Flags that say what to do this time, not how: never config keys (by clap id or by long
/// flag name in snake_case).
const NOT_SETTINGS: &[&str] = &[
    "help",
    "version",
    "config",
    "prompt",
    "continue_last",
    "session",
    "role",
    "interactive",
    "fork",
    "image",
    "file",
];

/// Keys beside the flags' own, where a key may be given.
const KEY_KEYS: &[&str] = &["api_key", "api_key_cmd"];

/// Where in the file (1-based line and column, in characters).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Pos {
    pub line: usize,
    pub col: usize,
}

impl Pos {
    /// The position of byte `offset` in `text`.
    pub fn of(text: &str, offset: usize) -> Pos {
        let mut end = offset.min(text.len());
        while !text.is_char_boundary(end) {
            end -= 1;
        }
        let before = &text[..end];
        let line_start = before.rfind('\n').map_or(0, |i| i + 1);
        Pos {
            line: before.matches('\n').count() + 1,
            col: before[line_start..].chars().count() + 1,
        }
    }
}

/// One setting as the file gives it.
#[derive(Debug, Clone, PartialEq)]
pub struct Entry {
    /// The id of the flag it sets (`keep_alive`, `options`).
    pub id: String,
    /// The command-line words it stands for (`--model=x`); none for a switch set to `false`.
    pub args: Vec<String>,
    pub at: Pos,
}

/// Where an API key comes from when the environment has none.
#[derive(Debug, Clone, PartialEq)]
pub enum KeySource {
    /// Written in the file.
    Literal(ApiKey),
    /// A command whose output is the key (`pass show openai`), run only when the key is needed.
    Command(String),
}

/// The settings of one table: the top level, an `[apis.*]`, `[hosts.*]` or `[roles.*]` section.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Section {
    pub entries: Vec<Entry>,
    pub api_key: Option<(KeySource, Pos)>,
}

impl Section {
    /// The entry for flag `id`, if the section sets it.
    pub fn get(&self, id: &str) -> Option<&Entry> {
        self.entries.iter().find(|e| e.id == id)
    }

    /// The single value of a flag given as `--id=value`.
    pub fn value(&self, id: &str) -> Option<&str> {
        let arg = self.get(id)?.args.first()?;
        arg.split_once('=').map(|(_, v)| v)
    }
}

/// A parsed config file.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ConfigFile {
    /// Where it was read from, as errors and `config show` name it.
    pub path: PathBuf,
    pub top: Section,
    pub apis: Vec<(Api, Section)>,
    /// `[hosts."ADDRESS"]`: the address as written.
    pub hosts: Vec<(String, Section)>,
    pub roles: Vec<(String, Section)>,
    /// `[mcp.NAME]`: MCP servers, with where each is declared.
    pub mcp: Vec<(crate::tools::mcp::McpSpec, Pos)>,
    /// Whether a key is written in it (a warning when others can read the file).
    pub holds_key: bool,
}

/// A config file that cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum FileError {
    #[error("cannot read the config file {}: {source}", path.display())]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{}:{}:{}: {message}", path.display(), at.line, at.col)]
    At {
        path: PathBuf,
        at: Pos,
        message: String,
    },
}

/// Checks one setting's command-line words the way a run would take them (clap's value parser,
/// then the resolved config's own checks): `Err` is the message to show.
pub type Check<'a> = &'a dyn Fn(&[String]) -> Result<(), String>;

/// What a table may hold besides the settings.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Table {
    Top,
    Api,
    Host,
    Role,
}

impl Table {
    /// Flags that make no sense in this table (an API section cannot change the API).
    fn refuses(self, id: &str) -> bool {
        match self {
            Table::Top => false,
            Table::Api => id == "api",
            Table::Host | Table::Role => matches!(id, "api" | "host" | "base_url"),
        }
    }

    fn takes_key(self) -> bool {
        self != Table::Role
    }
}

/// Parses `text` (the file at `path`) against the command line `cmd`; each setting's value is
/// checked with `check`.
pub fn parse(
    text: &str,
    path: &Path,
    cmd: &Command,
    check: Check<'_>,
) -> Result<ConfigFile, FileError> {
    with_parser(text, path, cmd, check, |parser, table| {
        let mut file = ConfigFile {
            path: path.to_path_buf(),
            ..ConfigFile::default()
        };
        let mut top = Vec::new();
        for (key, value) in sorted(table) {
            let name = key.get_ref().as_ref();
            match (name, value.get_ref()) {
                ("apis", DeValue::Table(t)) => {
                    for (k, v) in sorted(t) {
                        let Some(api) = Api::parse(k.get_ref()) else {
                            return Err((parser.fail)(
                                k.span().start,
                                unknown("API", k.get_ref(), Api::names()),
                            ));
                        };
                        file.apis
                            .push((api, parser.section(v, Table::Api, &mut file.holds_key)?));
                    }
                }
                ("hosts", DeValue::Table(t)) => {
                    for (k, v) in sorted(t) {
                        let section = parser.section(v, Table::Host, &mut file.holds_key)?;
                        file.hosts.push((k.get_ref().to_string(), section));
                    }
                }
                ("roles", DeValue::Table(t)) => {
                    for (k, v) in sorted(t) {
                        let section = parser.section(v, Table::Role, &mut file.holds_key)?;
                        file.roles.push((k.get_ref().to_string(), section));
                    }
                }
                ("mcp", DeValue::Table(t)) => {
                    file.mcp = parser.mcp_servers(t, &mut file.holds_key)?;
                }
                ("apis" | "hosts" | "roles", other) => {
                    return Err((parser.fail)(
                        key.span().start,
                        format!(
                            "{name} holds sections (`[{name}.NAME]`), not {}",
                            other.type_str()
                        ),
                    ))
                }
                _ => top.push((key, value)),
            }
        }
        file.top = parser.entries(top, Table::Top, &mut file.holds_key)?;
        Ok(file)
    })
}

/// Parses one role file (`roles/NAME.toml`): the keys of a `[roles.NAME]` table.
pub fn parse_role(
    text: &str,
    path: &Path,
    cmd: &Command,
    check: Check<'_>,
) -> Result<Section, FileError> {
    with_parser(text, path, cmd, check, |parser, table| {
        parser.entries(sorted(table), Table::Role, &mut false)
    })
}

/// Reads `text` as TOML (an error names the file, line and column) and hands its top table to
/// `then` with a parser of settings for `cmd`.
fn with_parser<T>(
    text: &str,
    path: &Path,
    cmd: &Command,
    check: Check<'_>,
    then: impl FnOnce(&Parser<'_>, &DeTable<'_>) -> Result<T, FileError>,
) -> Result<T, FileError> {
    let fail = |offset: usize, message: String| FileError::At {
        path: path.to_path_buf(),
        at: Pos::of(text, offset),
        message,
    };
    let table = DeTable::parse(text).map_err(|e| {
        let first = e.message().lines().next().unwrap_or("not TOML").to_string();
        fail(
            e.span().map_or(0, |s| s.start),
            format!("not valid TOML: {first}"),
        )
    })?;
    let parser = Parser {
        text,
        cmd,
        check,
        fail: &fail,
    };
    then(&parser, table.get_ref())
}

type Key<'i> = Spanned<toml::de::DeString<'i>>;

/// A table's entries in file order (the map's own order is not the file's).
fn sorted<'t, 'i>(t: &'t DeTable<'i>) -> Vec<(&'t Key<'i>, &'t Spanned<DeValue<'i>>)> {
    let mut v: Vec<_> = t.iter().collect();
    v.sort_by_key(|(k, _)| k.span().start);
    v
}

struct Parser<'a> {
    text: &'a str,
    cmd: &'a Command,
    check: Check<'a>,
    fail: &'a dyn Fn(usize, String) -> FileError,
}

impl Parser<'_> {
    fn section(
        &self,
        value: &Spanned<DeValue<'_>>,
        kind: Table,
        holds_key: &mut bool,
    ) -> Result<Section, FileError> {
        match value.get_ref() {
            DeValue::Table(t) => self.entries(sorted(t), kind, holds_key),
            other => Err((self.fail)(
                value.span().start,
                format!("a section must be a table, not {}", other.type_str()),
            )),
        }
    }

    fn entries<'t, 'i: 't>(
        &self,
        pairs: Vec<(&'t Key<'i>, &'t Spanned<DeValue<'i>>)>,
        kind: Table,
        holds_key: &mut bool,
    ) -> Result<Section, FileError> {
        let mut section = Section::default();
        for (key, value) in pairs {
            let name = key.get_ref().as_ref();
            let at = Pos::of(self.text, key.span().start);
            let fail = |message: String| (self.fail)(key.span().start, message);
            if kind.takes_key() && KEY_KEYS.contains(&name) {
                let Some(s) = value.get_ref().as_str().filter(|s| !s.trim().is_empty()) else {
                    return Err(fail(format!("{name} takes a non-empty string")));
                };
                let source = if name == "api_key" {
                    *holds_key = true;
                    KeySource::Literal(ApiKey::new(s.trim()))
                } else {
                    KeySource::Command(s.to_string())
                };
                if section.api_key.replace((source, at)).is_some() {
                    return Err(fail("give api_key or api_key_cmd, not both".into()));
                }
                continue;
            }
            if name == "options" {
                let DeValue::Table(t) = value.get_ref() else {
                    return Err(fail(format!(
                        "options is a table (`[options]` with `temperature = 0.3` lines), not {}",
                        value.get_ref().type_str()
                    )));
                };
                for (k, v) in sorted(t) {
                    let fail = |message: String| (self.fail)(k.span().start, message);
                    let mut args = Vec::new();
                    for item in
                        scalars(v).map_err(|m| fail(format!("option {}: {m}", k.get_ref())))?
                    {
                        args.push(format!("--option={}={item}", k.get_ref()));
                    }
                    (self.check)(&args).map_err(|m| {
                        fail(format!("[options]: {}", m.trim_start_matches("--option ")))
                    })?;
                    section.entries.push(Entry {
                        id: "options".into(),
                        args,
                        at: Pos::of(self.text, k.span().start),
                    });
                }
                continue;
            }
            if name == "mcp" && matches!(value.get_ref(), DeValue::Table(_)) {
                return Err(fail(
                    "[mcp.NAME] servers are declared at the top of the config file, not in a section"
                        .into(),
                ));
            }
            let Some(arg) = setting(self.cmd, name).filter(|a| !kind.refuses(a.get_id().as_str()))
            else {
                return Err(fail(self.unknown_key(name, kind)));
            };
            let id = arg.get_id().as_str().to_string();
            if section.get(&id).is_some() {
                return Err(fail(format!("{name} is set twice in this table")));
            }
            let args = words(arg, value).map_err(|m| fail(format!("{name} {m}")))?;
            (self.check)(&args).map_err(|m| fail(format!("{name}: {m}")))?;
            section.entries.push(Entry { id, args, at });
        }
        Ok(section)
    }

    fn unknown_key(&self, name: &str, kind: Table) -> String {
        let mut known: Vec<String> = settings(self.cmd)
            .filter(|a| !kind.refuses(a.get_id().as_str()))
            .filter_map(|a| a.get_long().map(|l| l.replace('-', "_")))
            .collect();
        known.push("options".into());
        if kind.takes_key() {
            known.extend(KEY_KEYS.iter().map(|k| k.to_string()));
        }
        if kind == Table::Top {
            known.extend(["apis", "hosts", "roles"].map(String::from));
        }
        let flag = setting(self.cmd, name).is_some();
        let mut message = if flag {
            format!("{name} cannot be set in this table")
        } else if NOT_SETTINGS.contains(&name.replace('-', "_").as_str()) || name == "continue" {
            format!("{name} is not a setting: give it on the command line")
        } else {
            unknown("key", name, known.iter().map(String::as_str))
        };
        if flag && kind == Table::Api {
            message.push_str(" (an [apis.*] section applies once the API is chosen)");
        }
        message
    }
}

/// "unknown key `x`; did you mean `y`?"
fn unknown<'a>(what: &str, name: &str, known: impl IntoIterator<Item = &'a str>) -> String {
    let shown = crate::untrusted::sanitize_line(&suggest::shown(name)).into_owned();
    match suggest::nearest(name, known) {
        Some(near) => format!("unknown {what} `{shown}`; did you mean `{near}`?"),
        None => format!("unknown {what} `{shown}`"),
    }
}

/// The flags that are settings, in the order `--help` lists them.
pub fn settings(cmd: &Command) -> impl Iterator<Item = &Arg> {
    cmd.get_arguments().filter(|a| {
        a.get_long().is_some()
            && !a.is_positional()
            && !NOT_SETTINGS.contains(&a.get_id().as_str())
            && !a
                .get_long()
                .is_some_and(|l| NOT_SETTINGS.contains(&l.replace('-', "_").as_str()))
            && !a.is_hide_set()
    })
}

/// The setting a key names: its long flag, in snake_case (`keep_alive`) or as typed (`keep-alive`).
fn setting<'c>(cmd: &'c Command, key: &str) -> Option<&'c Arg> {
    let long = key.replace('_', "-");
    settings(cmd).find(|a| a.get_long() == Some(long.as_str()))
}

/// The command-line words a value stands for, by what the flag does with it.
fn words(arg: &Arg, value: &Spanned<DeValue<'_>>) -> Result<Vec<String>, String> {
    let long = arg.get_long().unwrap_or_default();
    match arg.get_action() {
        ArgAction::SetTrue | ArgAction::SetFalse => match value.get_ref() {
            DeValue::Boolean(b) => {
                let on = *b == matches!(arg.get_action(), ArgAction::SetTrue);
                Ok(if on {
                    vec![format!("--{long}")]
                } else {
                    vec![]
                })
            }
            other => Err(format!("takes true or false, not {}", other.type_str())),
        },
        ArgAction::Count => match value.get_ref() {
            DeValue::Integer(_) => {
                let n = scalar(value.get_ref())?
                    .parse::<u8>()
                    .ok()
                    .filter(|n| *n <= 9)
                    .ok_or("takes a count from 0 to 9")?;
                Ok(vec![format!("--{long}"); n.into()])
            }
            other => Err(format!("takes a count, not {}", other.type_str())),
        },
        ArgAction::Append => Ok(scalars(value)?
            .into_iter()
            .map(|v| format!("--{long}={v}"))
            .collect()),
        _ => Ok(vec![format!("--{long}={}", scalar(value.get_ref())?)]),
    }
}

/// One value, or each value of an array.
fn scalars(value: &Spanned<DeValue<'_>>) -> Result<Vec<String>, String> {
    match value.get_ref() {
        DeValue::Array(items) => items.iter().map(|v| scalar(v.get_ref())).collect(),
        other => Ok(vec![scalar(other)?]),
    }
}

/// A string, number or boolean as the command line would have it.
fn scalar(value: &DeValue<'_>) -> Result<String, String> {
    match value {
        DeValue::String(s) => Ok(s.to_string()),
        DeValue::Boolean(b) => Ok(b.to_string()),
        DeValue::Integer(i) => {
            let digits = i.as_str().replace('_', "");
            let (sign, digits) = match digits.strip_prefix('-') {
                Some(d) => ("-", d.to_string()),
                None => ("", digits.trim_start_matches('+').to_string()),
            };
            let digits = digits
                .get(2..)
                .filter(|_| i.radix() != 10)
                .unwrap_or(&digits);
            u64::from_str_radix(digits, i.radix())
                .map(|n| format!("{sign}{n}"))
                .map_err(|_| "takes a smaller number".to_string())
        }
        DeValue::Float(f) => Ok(f.as_str().replace('_', "")),
        other => Err(format!(
            "takes a string, number or boolean, not {}",
            other.type_str()
        )),
    }
}

/// Reads the file at `path`: `Ok(None)` when it does not exist.
pub fn read(path: &Path) -> Result<Option<String>, FileError> {
    let err = |source| FileError::Read {
        path: path.to_path_buf(),
        source,
    };
    match crate::paths::read_regular(path, MAX_BYTES) {
        Ok(bytes) => String::from_utf8(bytes).map(Some).map_err(|_| {
            err(std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                "it is not UTF-8 text",
            ))
        }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(err(e)),
    }
}

/// Whether users other than the owner may read the file at `path`.
pub fn readable_by_others(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).is_ok_and(|m| m.permissions().mode() & 0o044 != 0)
}

#[cfg(test)]
mod tests;
