//! `ollama-chat config show`: every setting in force, with where it came from, as TOML lines a
//! person could paste back into the file. Values from the file or the environment are sanitised
//! and a password in a server address is blanked; the API key is never shown.

use std::io::{self, Write};
use std::path::Path;

use clap::parser::ValueSource;
use clap::{Arg, ArgAction, ArgMatches, Command};

use super::layer::{env_vars, Layered, Origin};
use super::{settings, KeySource, Pos};
use crate::tools::mcp::McpSpec;
use crate::untrusted::sanitize_line;

/// What `config show` is given.
pub struct Shown<'a> {
    pub cmd: &'a Command,
    /// The user's own command line, before the file's settings were added.
    pub user: &'a ArgMatches,
    /// The command line the run used, with the file's settings.
    pub full: &'a ArgMatches,
    pub layered: &'a Layered,
    pub env: &'a dyn Fn(&str) -> Option<String>,
    /// The config file and whether it exists.
    pub path: Option<(&'a Path, bool)>,
    pub role: Option<&'a str>,
    /// The file's `[mcp.NAME]` servers.
    pub servers: &'a [(McpSpec, Pos)],
}

/// Writes the settings, one a line.
pub fn write(out: &mut impl Write, s: &Shown<'_>) -> io::Result<()> {
    let env = |k: &str| (s.env)(k).filter(|v| !v.trim().is_empty());
    match s.path {
        Some((p, true)) => writeln!(out, "# config file: {}", shown_path(p))?,
        Some((p, false)) => writeln!(out, "# config file: {} (none there)", shown_path(p))?,
        None => writeln!(out, "# config file: none (no home folder)")?,
    }
    if let Some(role) = s.role {
        writeln!(out, "# role: {}", sanitize_line(role))?;
    }
    let file = |o: &Origin| match (o, s.path) {
        (Origin::File(at), Some((p, _))) => format!("{}:{}", shown_path(p), at.line),
        (Origin::Role(name, at), _) => format!("role {} (line {})", sanitize_line(name), at.line),
        (Origin::File(at), None) => format!("line {}", at.line),
    };
    let mut lines = Vec::new();
    for arg in settings(s.cmd) {
        let id = arg.get_id().as_str();
        let key = arg.get_long().unwrap_or(id).replace('-', "_");
        let origins: Vec<&Origin> = s
            .layered
            .origins
            .iter()
            .filter(|(i, _)| i == id)
            .map(|(_, o)| o)
            .collect();
        let from_env = env_vars(id, s.layered.api)
            .iter()
            .find_map(|v| env(v).map(|val| (*v, val)));
        let (value, origin) = if s.user.value_source(id) == Some(ValueSource::CommandLine) {
            (value_of(arg, s.full), "flag".to_string())
        } else if !origins.is_empty() {
            let mut from: Vec<String> = origins.iter().map(|o| file(o)).collect();
            from.dedup();
            (value_of(arg, s.full), from.join(", "))
        } else if let Some((var, val)) = &from_env {
            (Some(quoted(val)), format!("environment {var}"))
        } else if s.full.value_source(id) == Some(ValueSource::DefaultValue) {
            (value_of(arg, s.full), "default".to_string())
        } else {
            continue;
        };
        let Some(value) = value else { continue };
        let value = match id {
            "headers" => headers_hidden(s, from_env.as_ref().map(|(_, v)| v.as_str())),
            _ => secrets_blanked(id, &value),
        };
        lines.push((format!("{key} = {value}"), origin));
    }
    let key_var = s.layered.api.key_var();
    if env(key_var).is_some() {
        lines.push(("api_key = (set)".into(), format!("environment {key_var}")));
    } else if let Some((source, at)) = &s.layered.api_key {
        let what = match source {
            KeySource::Literal(_) => "api_key = (set)",
            KeySource::Command(_) => "api_key = (from api_key_cmd, run when needed)",
        };
        lines.push((what.into(), file(&Origin::File(*at))));
    }
    let flags: Vec<String> = s
        .full
        .get_many::<String>("mcp")
        .into_iter()
        .flatten()
        .filter_map(|m| m.split_once('=').map(|(n, _)| n.trim().to_string()))
        .collect();
    for (spec, at) in s.servers {
        let mut origin = file(&Origin::File(*at));
        if flags.contains(&spec.name) {
            origin.push_str(&format!(", replaced by --mcp {}=…", spec.name));
        }
        lines.push((server_line(spec), origin));
    }
    let width = lines
        .iter()
        .map(|(l, _)| unicode_width::UnicodeWidthStr::width(l.as_str()))
        .max()
        .unwrap_or(0)
        .min(48);
    for (line, origin) in lines {
        let pad = width.saturating_sub(unicode_width::UnicodeWidthStr::width(line.as_str()));
        writeln!(out, "{line}{:pad$}  # {origin}", "")?;
    }
    Ok(())
}

/// The value the run uses, as TOML: a switch or a count bare, anything else quoted; several
/// values (options) as an array.
fn value_of(arg: &Arg, m: &ArgMatches) -> Option<String> {
    let id = arg.get_id().as_str();
    match arg.get_action() {
        ArgAction::SetTrue | ArgAction::SetFalse => Some(m.get_flag(id).to_string()),
        ArgAction::Count => Some(m.get_count(id).to_string()),
        _ => {
            let raw: Vec<String> = m
                .get_raw(id)?
                .map(|v| {
                    let v = v.to_string_lossy();
                    match v.parse::<f64>() {
                        Ok(n)
                            if n.is_finite() && !matches!(arg.get_action(), ArgAction::Append) =>
                        {
                            v.into_owned()
                        }
                        _ => quoted(&v),
                    }
                })
                .collect();
            match (arg.get_action(), raw.len()) {
                (ArgAction::Append, _) => Some(format!("[{}]", raw.join(", "))),
                (_, 0) => None,
                _ => Some(raw.join(", ")),
            }
        }
    }
}

/// `value` as a TOML basic string, on one line, sanitised.
fn quoted(value: &str) -> String {
    let one = sanitize_line(value);
    format!("\"{}\"", one.replace('\\', "\\\\").replace('"', "\\\""))
}

/// `[mcp.NAME]` as one TOML line; the `env` values hidden (they are tokens, mostly).
fn server_line(spec: &McpSpec) -> String {
    let args: Vec<String> = spec.args.iter().map(|a| quoted(a)).collect();
    let env: Vec<String> = spec
        .env
        .iter()
        .map(|(k, _)| format!("{} = \"(hidden)\"", sanitize_line(k)))
        .collect();
    format!(
        "mcp.{} = {{ command = {}, args = [{}], env = {{ {} }} }}",
        spec.name,
        quoted(&spec.command),
        args.join(", "),
        env.join(", ")
    )
}

/// The extra headers by name only: their values are secrets.
fn headers_hidden(s: &Shown<'_>, from_env: Option<&str>) -> String {
    let entries: Vec<String> = match from_env {
        Some(v)
            if s.user.value_source("headers") != Some(ValueSource::CommandLine)
                && !s.layered.origins.iter().any(|(i, _)| i == "headers") =>
        {
            v.split(['\n', ',']).map(str::to_string).collect()
        }
        _ => s
            .full
            .get_many::<String>("headers")
            .into_iter()
            .flatten()
            .cloned()
            .collect(),
    };
    let names: Vec<String> = entries
        .iter()
        .filter(|e| !e.trim().is_empty())
        .map(|e| {
            quoted(&format!(
                "{}: (hidden)",
                e.split(':').next().unwrap_or_default().trim()
            ))
        })
        .collect();
    format!("[{}]", names.join(", "))
}

/// A server address with any password blanked, however short.
fn secrets_blanked(id: &str, value: &str) -> String {
    if !matches!(id, "host" | "base_url") {
        return value.to_string();
    }
    let start = value.find("://").map_or(0, |i| i + 3);
    let end = value[start..].find('/').map_or(value.len(), |i| start + i);
    let Some(at) = value[start..end].rfind('@').map(|i| start + i) else {
        return value.to_string();
    };
    match value[start..at].find(':') {
        Some(colon) => format!("{}<password>{}", &value[..start + colon + 1], &value[at..]),
        None => value.to_string(),
    }
}

fn shown_path(p: &Path) -> String {
    sanitize_line(&p.display().to_string()).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_server_is_one_line_without_its_secrets() {
        let spec = McpSpec {
            name: "files".into(),
            command: "my-server".into(),
            args: vec!["--root".into(), "/tmp/\u{1b}[2J".into()],
            env: vec![("API_TOKEN".into(), "tok-secret-123".into())],
        };
        assert_eq!(
            server_line(&spec),
            r#"mcp.files = { command = "my-server", args = ["--root", "/tmp/␛[2J"], env = { API_TOKEN = "(hidden)" } }"#
        );
    }

    #[test]
    fn passwords_in_addresses_are_blanked_however_short() {
        assert_eq!(
            secrets_blanked("host", "\"https://me:pw@h:1/x\""),
            "\"https://me:<password>@h:1/x\""
        );
        assert_eq!(
            secrets_blanked("base_url", "\"me:pw@h\""),
            "\"me:<password>@h\""
        );
        assert_eq!(secrets_blanked("host", "\"h:1/a@b\""), "\"h:1/a@b\"");
        assert_eq!(secrets_blanked("system", "\"a:b@c\""), "\"a:b@c\"");
    }
}
