//! `[mcp.NAME]` tables: MCP servers declared in the config file, started on demand like `--mcp`
//! ones. Each table is checked whole (a missing `command`, a value of the wrong type, an unknown
//! key) and an error names the file, line and column.

use toml::de::{DeTable, DeValue};
use toml::Spanned;

use super::{sorted, unknown, FileError, Parser, Pos};
use crate::tools::mcp::{plain_name, McpSpec};
use crate::untrusted::sanitize_line;

/// The keys a server's table takes.
const KEYS: &[&str] = &["command", "args", "env"];

/// Variables that hold no secret: setting only these does not make the file one to hide.
const NOT_SECRET: &[&str] = &["PATH", "HOME", "LANG", "LC_ALL", "TERM", "TZ"];

impl Parser<'_> {
    /// The servers of the `mcp` table, in file order, each with where it is declared.
    pub(super) fn mcp_servers(
        &self,
        table: &DeTable<'_>,
        holds_key: &mut bool,
    ) -> Result<Vec<(McpSpec, Pos)>, FileError> {
        let mut out = Vec::new();
        for (key, value) in sorted(table) {
            let name = key.get_ref().as_ref();
            let fail = |offset: usize, message: String| {
                (self.fail)(
                    offset,
                    format!(
                        "[mcp.{}]: {message}",
                        sanitize_line(&crate::suggest::shown(name))
                    ),
                )
            };
            let at = key.span().start;
            if !plain_name(name) {
                return Err(fail(
                    at,
                    "a server's name is letters, digits, _ or - (its tools are offered as NAME.tool)"
                        .into(),
                ));
            }
            let DeValue::Table(t) = value.get_ref() else {
                return Err(fail(
                    at,
                    format!(
                        "a server is a table with command = \"PROGRAM\", not {}",
                        value.get_ref().type_str()
                    ),
                ));
            };
            let mut spec = McpSpec {
                name: name.to_string(),
                command: String::new(),
                args: Vec::new(),
                env: Vec::new(),
            };
            for (k, v) in sorted(t) {
                let fail = |message: String| fail(k.span().start, message);
                match k.get_ref().as_ref() {
                    "command" => {
                        let Some(c) = v.get_ref().as_str().filter(|c| !c.trim().is_empty()) else {
                            return Err(fail(format!(
                                "command takes the program to run as a non-empty string, not {}",
                                shown_type(v)
                            )));
                        };
                        spec.command = c.to_string();
                    }
                    "args" => spec.args = strings(v).map_err(|m| fail(format!("args {m}")))?,
                    "env" => {
                        spec.env = variables(v).map_err(|m| fail(format!("env {m}")))?;
                        *holds_key |= spec.env.iter().any(|(k, _)| !NOT_SECRET.contains(&&**k));
                    }
                    other => return Err(fail(unknown("key", other, KEYS.iter().copied()))),
                }
            }
            if spec.command.is_empty() {
                return Err(fail(
                    at,
                    "no command: add command = \"PROGRAM\" (and args = [\"…\"])".into(),
                ));
            }
            out.push((spec, Pos::of(self.text, at)));
        }
        Ok(out)
    }
}

/// "an empty string" or the TOML type's name.
fn shown_type(v: &Spanned<DeValue<'_>>) -> &'static str {
    match v.get_ref() {
        DeValue::String(_) => "an empty string",
        other => other.type_str(),
    }
}

/// An array of strings.
fn strings(v: &Spanned<DeValue<'_>>) -> Result<Vec<String>, String> {
    let DeValue::Array(items) = v.get_ref() else {
        return Err(format!(
            "takes an array of strings, not {}",
            v.get_ref().type_str()
        ));
    };
    items
        .iter()
        .map(|i| match i.get_ref() {
            DeValue::String(s) if !s.contains('\0') => Ok(s.to_string()),
            DeValue::String(_) => Err("takes strings without NUL characters".into()),
            other => Err(format!(
                "takes an array of strings; one item is {}",
                other.type_str()
            )),
        })
        .collect()
}

/// A table of variable names and string values (`{ API_TOKEN = "…" }`).
fn variables(v: &Spanned<DeValue<'_>>) -> Result<Vec<(String, String)>, String> {
    let DeValue::Table(t) = v.get_ref() else {
        return Err(format!(
            "takes a table of NAME = \"value\" (`env = {{ API_TOKEN = \"…\" }}`), not {}",
            v.get_ref().type_str()
        ));
    };
    let mut out = Vec::new();
    for (k, v) in sorted(t) {
        let name = k.get_ref().as_ref();
        let plain = !name.is_empty()
            && !name.starts_with(|c: char| c.is_ascii_digit())
            && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_');
        if !plain {
            return Err(format!(
                "{}: a variable's name is letters, digits and _",
                sanitize_line(&crate::suggest::shown(name))
            ));
        }
        match v.get_ref() {
            DeValue::String(s) if !s.contains('\0') => out.push((name.to_string(), s.to_string())),
            other => {
                return Err(format!(
                    "{name}: a value is a string, not {}",
                    match other {
                        DeValue::String(_) => "one with a NUL",
                        o => o.type_str(),
                    }
                ))
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::super::tests::parse_text;
    use super::*;

    #[test]
    fn servers_become_specs() {
        let f = parse_text(
            r#"
allow_tool = ["files.read"]
[mcp.files]
command = "my-mcp-server"
args = ["--root", "/tmp/数据"]
env = { API_TOKEN = "tok-123", PATH = "/bin" }
[mcp.git]
command = "uvx"
"#,
        )
        .unwrap();
        assert_eq!(f.mcp.len(), 2);
        let (files, at) = &f.mcp[0];
        assert_eq!(*at, Pos { line: 3, col: 6 });
        assert_eq!(
            (files.name.as_str(), files.command.as_str()),
            ("files", "my-mcp-server")
        );
        assert_eq!(files.args, ["--root", "/tmp/数据"]);
        assert_eq!(
            files.env,
            [
                ("API_TOKEN".to_string(), "tok-123".to_string()),
                ("PATH".to_string(), "/bin".to_string())
            ]
        );
        assert!(f.holds_key, "a token in env is a secret in the file");
        assert!(!format!("{f:?}").contains("tok-123"), "{f:?}");
        assert_eq!(f.mcp[1].0.args, Vec::<String>::new());
        assert!(f.top.get("allow_tool").is_some());
        let f = parse_text("[mcp.x]\ncommand = \"y\"\nenv = { PATH = \"/bin\" }").unwrap();
        assert!(!f.holds_key);
        // The flag's own form stays a key.
        let f = parse_text("mcp = [\"t=sh server.sh\"]").unwrap();
        assert!(f.mcp.is_empty() && f.top.get("mcp").is_some());
    }

    #[test]
    fn bad_tables_say_where() {
        let cases: &[(&str, &str)] = &[
            ("[mcp.files]\nargs = [\"a\"]", "c.toml:1:6: [mcp.files]: no command: add command = \"PROGRAM\""),
            ("[mcp.files]\ncommand = 3", "c.toml:2:1: [mcp.files]: command takes the program to run as a non-empty string, not integer"),
            ("[mcp.files]\ncommand = \" \"", "c.toml:2:1: [mcp.files]: command takes the program to run as a non-empty string, not an empty string"),
            ("[mcp.files]\ncommand = \"x\"\nargs = \"--root /\"", "c.toml:3:1: [mcp.files]: args takes an array of strings, not string"),
            ("[mcp.files]\ncommand = \"x\"\nargs = [\"a\", 1]", "c.toml:3:1: [mcp.files]: args takes an array of strings; one item is integer"),
            ("[mcp.files]\ncommand = \"x\"\nargs = [\"a\\u0000\"]", "c.toml:3:1: [mcp.files]: args takes strings without NUL characters"),
            ("[mcp.files]\ncommand = \"x\"\nenv = [\"A=1\"]", "c.toml:3:1: [mcp.files]: env takes a table of NAME = \"value\""),
            ("[mcp.files]\ncommand = \"x\"\nenv = { A = 1 }", "c.toml:3:1: [mcp.files]: env A: a value is a string, not integer"),
            ("[mcp.files]\ncommand = \"x\"\nenv = { \"A=B\" = \"1\" }", "c.toml:3:1: [mcp.files]: env A=B: a variable's name is letters, digits and _"),
            ("[mcp.files]\ncomand = \"x\"", "c.toml:2:1: [mcp.files]: unknown key `comand`; did you mean `command`?"),
            ("[mcp.files]\ncommand = \"x\"\ntimeout = 3", "c.toml:3:1: [mcp.files]: unknown key `timeout`"),
            ("[mcp.\"a.b\"]\ncommand = \"x\"", "c.toml:1:6: [mcp.a.b]: a server's name is letters, digits, _ or -"),
            ("[mcp]\nfiles = \"x\"", "c.toml:2:1: [mcp.files]: a server is a table with command = \"PROGRAM\", not string"),
            ("[mcp.\"\\u001b[2J\"]\ncommand = \"x\"", "c.toml:1:6: [mcp."),
            ("[roles.r.mcp.x]\ncommand = \"y\"", "c.toml:1:10: [mcp.NAME] servers are declared at the top of the config file, not in a section"),
        ];
        for (text, want) in cases {
            let got = parse_text(text).unwrap_err();
            assert!(got.starts_with(want), "{text:?}\n got: {got}\nwant: {want}");
            assert!(!got.contains('\u{1b}'), "{got:?}");
        }
    }
}
