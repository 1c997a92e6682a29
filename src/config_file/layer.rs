//! The file's settings under the command line: which of them apply this run, as command-line
//! words put before the user's own. Precedence: flag > role > environment > `[hosts.*]` >
//! `[apis.*]` > top level > default. Pure: the user's parsed flags and the environment are given.

use clap::parser::ValueSource;
use clap::{ArgMatches, Command};

use super::{ConfigFile, Entry, KeySource, Pos, Section};
use crate::backend::Api;
use crate::ollama::host;

/// The environment variables that stand for a flag: set, they beat the file (not a role, which
/// was asked for on the command line). The one place a flag with a variable needs a line.
pub fn env_vars(id: &str, api: Api) -> &'static [&'static str] {
    match id {
        "model" => &["OLLAMA_CHAT_MODEL"],
        "host" => &["OLLAMA_HOST"],
        "api" => &["OLLAMA_CHAT_API"],
        "base_url" => match api {
            Api::OpenAi => &["OPENAI_BASE_URL"],
            Api::Anthropic => &["ANTHROPIC_BASE_URL"],
            Api::Ollama => &[],
        },
        "log_content" => &["OLLAMA_CHAT_LOG_CONTENT"],
        "theme" => &["OLLAMA_CHAT_THEME"],
        "raw" => &["OLLAMA_CHAT_MARKDOWN"],
        "color" => &["NO_COLOR", "CLICOLOR_FORCE"],
        "headers" => &["OLLAMA_CHAT_HEADERS"],
        _ => &[],
    }
}

/// Where a setting of the file came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Origin {
    File(Pos),
    Role(String, Pos),
}

/// What the file adds to this run.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Layered {
    /// Command-line words to put before the user's own.
    pub args: Vec<String>,
    /// The flag each applied entry sets, and where it came from.
    pub origins: Vec<(String, Origin)>,
    /// The API key's source, when the environment has none.
    pub api_key: Option<(KeySource, Pos)>,
    /// The API this run uses, as the layering saw it (sections were chosen by it).
    pub api: Api,
}

/// The settings of `file` (and of the role, if one was asked for) that apply under `user`.
pub fn layer(
    cmd: &Command,
    user: &ArgMatches,
    env: &dyn Fn(&str) -> Option<String>,
    file: &ConfigFile,
    role: Option<(&str, &Section)>,
) -> Layered {
    let env = |k: &str| env(k).filter(|v| !v.trim().is_empty());
    let api = user
        .get_one::<Api>("api")
        .copied()
        .or_else(|| env("OLLAMA_CHAT_API").and_then(|v| Api::parse(&v)))
        .or_else(|| file.top.value("api").and_then(Api::parse))
        .unwrap_or_default();
    let api_section = file.apis.iter().find(|(a, _)| *a == api).map(|(_, s)| s);
    let lower: Vec<&Section> = [Some(&file.top), api_section]
        .into_iter()
        .flatten()
        .collect();

    // The server, to choose the `[hosts.*]` section.
    let (id, var) = match api {
        Api::Ollama => ("host", Some("OLLAMA_HOST")),
        _ => ("base_url", api.base_url_var()),
    };
    let raw = user
        .get_one::<String>(id)
        .cloned()
        .or_else(|| var.and_then(env))
        .or_else(|| {
            lower
                .iter()
                .rev()
                .find_map(|s| s.value(id).map(str::to_string))
        })
        .unwrap_or_default();
    let server = server_url(api, &raw);
    let host_section = file
        .hosts
        .iter()
        .find(|(name, _)| server_url(api, name) == server)
        .map(|(_, s)| s);

    let mut chosen: Vec<(&Entry, Origin)> = Vec::new();
    let mut api_key = None;
    for section in lower.into_iter().chain(host_section) {
        for e in &section.entries {
            chosen.retain(|(c, _)| merge_key(c) != merge_key(e));
            chosen.push((e, Origin::File(e.at)));
        }
        if let Some(k) = &section.api_key {
            api_key = Some(k.clone());
        }
    }
    if let Some((name, role)) = role {
        for e in &role.entries {
            chosen.retain(|(c, _)| merge_key(c) != merge_key(e));
            chosen.push((e, Origin::Role(name.to_string(), e.at)));
        }
    }

    let given = |id: &str| user.value_source(id) == Some(ValueSource::CommandLine);
    let typed_options: Vec<&str> = user
        .get_many::<String>("options")
        .into_iter()
        .flatten()
        .filter_map(|p| p.split_once('=').map(|(k, _)| k.trim()))
        .collect();
    let mut out = Layered {
        api,
        api_key,
        ..Layered::default()
    };
    for (e, origin) in chosen {
        // The file's server for the other kind of API is not this run's (`host` with OpenAI).
        let other_api = match api {
            Api::Ollama => e.id == "base_url",
            _ => e.id == "host",
        };
        let skip = other_api
            || if e.id == "options" {
                typed_options.contains(&option_key(e))
            } else {
                let Some(arg) = cmd.get_arguments().find(|a| a.get_id() == e.id.as_str()) else {
                    continue;
                };
                given(&e.id)
                    || cmd.get_arguments().any(|other| {
                        given(other.get_id().as_str())
                            && (cmd.get_arg_conflicts_with(arg).contains(&other)
                                || cmd.get_arg_conflicts_with(other).contains(&arg))
                    })
                    || (matches!(origin, Origin::File(_))
                        && env_vars(&e.id, api).iter().any(|v| env(v).is_some()))
            };
        if !skip {
            out.args.extend(e.args.iter().cloned());
            out.origins.push((e.id.clone(), origin));
        }
    }
    out
}

/// Entries that replace each other: the same flag, or the same model option.
fn merge_key(e: &Entry) -> (&str, &str) {
    if e.id == "options" {
        ("options", option_key(e))
    } else {
        (e.id.as_str(), "")
    }
}

/// `temperature` of `--option=temperature=0.3`.
fn option_key(e: &Entry) -> &str {
    e.args
        .first()
        .and_then(|a| a.strip_prefix("--option="))
        .and_then(|p| p.split_once('='))
        .map_or("", |(k, _)| k.trim())
}

/// The server an address names, as the run would reach it: the same for `gpu:11434` and
/// `http://gpu:11434/`.
fn server_url(api: Api, raw: &str) -> String {
    match api {
        Api::Ollama => host::resolve(raw).base_url,
        _ if raw.trim().is_empty() => api.default_base_url().unwrap_or_default().to_string(),
        _ => raw
            .trim()
            .trim_end_matches(|c: char| c == '/' || c.is_whitespace())
            .to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cli::Cli;
    use clap::CommandFactory;

    fn file(text: &str) -> ConfigFile {
        let cmd = Cli::command();
        super::super::parse(text, "c.toml".as_ref(), &cmd, &|_| Ok(())).unwrap()
    }

    /// The words the file adds under `argv` with `vars` in the environment.
    fn layered(text: &str, argv: &[&str], vars: &[(&str, &str)], role: Option<&str>) -> Layered {
        let cmd = Cli::command();
        let mut full = vec!["ollama-chat"];
        full.extend_from_slice(argv);
        let user = cmd.clone().try_get_matches_from(full).unwrap();
        let env = |k: &str| {
            vars.iter()
                .find(|(n, _)| *n == k)
                .map(|(_, v)| v.to_string())
        };
        let f = file(text);
        let role = role.map(|r| (r, &f.roles.iter().find(|(n, _)| n == r).unwrap().1));
        layer(&cmd, &user, &env, &f, role)
    }

    const FILE: &str = r#"
model = "top"
timeout = 60
raw = true
color = "never"
log = "/l.jsonl"
[options]
temperature = 0.5
num_ctx = 4096
[apis.openai]
model = "gpt"
api_key_cmd = "pass show openai"
[hosts."gpu:11434"]
model = "big"
api_key = "k-for-gpu-0123"
[roles.coder]
model = "coder-model"
system = "You write Rust."
[roles.coder.options]
temperature = 0.1
"#;

    #[test]
    fn the_file_fills_what_flags_and_the_environment_leave() {
        let l = layered(FILE, &[], &[], None);
        assert_eq!(
            l.args,
            [
                "--model=top",
                "--timeout=60",
                "--raw",
                "--color=never",
                "--log=/l.jsonl",
                "--option=temperature=0.5",
                "--option=num_ctx=4096"
            ]
        );
        assert_eq!(l.api, Api::Ollama);
        assert_eq!(l.api_key, None);
    }

    #[test]
    fn a_flag_beats_the_environment_which_beats_the_file() {
        let l = layered(
            FILE,
            &["--timeout", "5", "-o", "num_ctx=8", "--no-log"],
            &[
                ("OLLAMA_CHAT_MODEL", "env"),
                ("OLLAMA_CHAT_MARKDOWN", "on"),
                ("NO_COLOR", "1"),
            ],
            None,
        );
        assert_eq!(l.args, ["--option=temperature=0.5"], "{:?}", l.args);
        // A blank variable is no setting.
        let l = layered(FILE, &[], &[("OLLAMA_CHAT_MODEL", " ")], None);
        assert!(l.args.contains(&"--model=top".to_string()));
    }

    #[test]
    fn api_and_host_sections_apply_to_their_server() {
        let l = layered(FILE, &["--api", "openai"], &[], None);
        assert!(l.args.contains(&"--model=gpt".to_string()), "{:?}", l.args);
        assert_eq!(
            l.api_key.map(|(k, _)| k),
            Some(KeySource::Command("pass show openai".into()))
        );
        let l = layered(FILE, &[], &[("OLLAMA_CHAT_API", "openai")], None);
        assert!(l.args.contains(&"--model=gpt".to_string()));
        for host in ["gpu:11434", "http://gpu:11434/", "gpu"] {
            let l = layered(FILE, &["--host", host], &[], None);
            assert!(l.args.contains(&"--model=big".to_string()), "{host}");
            assert!(matches!(l.api_key, Some((KeySource::Literal(_), _))));
        }
        let l = layered(FILE, &[], &[("OLLAMA_HOST", "gpu")], None);
        assert!(l.args.contains(&"--model=big".to_string()));
        let l = layered(FILE, &["--host", "other"], &[], None);
        assert!(l.args.contains(&"--model=top".to_string()));
        let l = layered(
            "host = \"gpu\"\n[hosts.gpu]\nmodel = \"big\"",
            &[],
            &[],
            None,
        );
        assert_eq!(l.args, ["--host=gpu", "--model=big"]);
        let text = "host = \"gpu\"\nbase_url = \"http://v/v1\"";
        let l = layered(text, &["--api", "openai"], &[], None);
        assert_eq!(l.args, ["--base-url=http://v/v1"]);
        let l = layered(text, &[], &[], None);
        assert_eq!(l.args, ["--host=gpu"]);
    }

    #[test]
    fn a_role_beats_the_environment_but_not_a_flag() {
        let l = layered(FILE, &[], &[("OLLAMA_CHAT_MODEL", "env")], Some("coder"));
        assert!(l.args.contains(&"--model=coder-model".to_string()));
        assert!(l.args.contains(&"--option=temperature=0.1".to_string()));
        assert!(!l.args.contains(&"--option=temperature=0.5".to_string()));
        assert!(l.args.contains(&"--system=You write Rust.".to_string()));
        assert!(l
            .origins
            .iter()
            .any(|(id, o)| id == "model" && matches!(o, Origin::Role(n, _) if n == "coder")));
        let l = layered(
            FILE,
            &["-m", "mine", "--system-file", "s.txt"],
            &[],
            Some("coder"),
        );
        assert!(!l.args.iter().any(|a| a.starts_with("--model")));
        assert!(
            !l.args.iter().any(|a| a.starts_with("--system")),
            "--system-file conflicts with the role's system"
        );
    }

    #[test]
    fn env_vars_name_real_flags() {
        let cmd = Cli::command();
        for id in [
            "model",
            "host",
            "api",
            "base_url",
            "log_content",
            "theme",
            "raw",
            "color",
        ] {
            assert!(cmd.get_arguments().any(|a| a.get_id() == id), "{id}");
            assert!(!env_vars(id, Api::OpenAi).is_empty());
        }
    }
}

/// Precedence for every setting the command line has, found from clap itself (so a flag added
/// later is covered): the file's value applies alone, a flag beats it, and so does the
/// environment variable that stands for the flag.
#[cfg(test)]
mod every_setting {
    use super::*;
    use crate::cli::Cli;
    use clap::{ArgAction, CommandFactory};

    /// A value the flag takes, as TOML, and the same on the command line.
    fn sample(arg: &clap::Arg) -> (String, Vec<String>) {
        let long = arg.get_long().unwrap();
        match arg.get_action() {
            ArgAction::SetTrue => ("true".into(), vec![format!("--{long}")]),
            ArgAction::Count => ("1".into(), vec![format!("--{long}")]),
            _ => {
                let value = arg
                    .get_possible_values()
                    .last()
                    .map(|v| v.get_name().to_string())
                    .unwrap_or_else(|| match long {
                        "timeout" | "log-keep" | "max-tool-steps" | "tool-timeout"
                        | "load-timeout" => "7".into(),
                        "max-line" | "log-max-size" | "max-attachment-size" => "2MiB".into(),
                        "option" => "seed=1".into(),
                        "header" => "X-A: 1".into(),
                        "host" => "h:1".into(),
                        "base-url" => "http://b/v1".into(),
                        _ => "x".into(),
                    });
                (format!("{value:?}"), vec![format!("--{long}={value}")])
            }
        }
    }

    #[test]
    fn for_every_setting_flag_beats_environment_beats_file() {
        let cmd = Cli::command();
        let args: Vec<&clap::Arg> = crate::config_file::settings(&cmd).collect();
        assert!(args.len() > 25, "{}", args.len());
        for arg in args {
            let id = arg.get_id().as_str();
            let key = arg.get_long().unwrap().replace('-', "_");
            let (toml_value, words) = sample(arg);
            let text = format!("{key} = {toml_value}\n");
            let api = match id {
                "base_url" => vec!["--api", "openai"],
                _ => vec![],
            };
            let layered = |argv: &[String], vars: &[(&str, &str)]| {
                let mut full = vec!["ollama-chat".to_string()];
                full.extend(api.iter().map(|s| s.to_string()));
                full.extend(argv.iter().cloned());
                let user = cmd.clone().try_get_matches_from(full).unwrap();
                let file = crate::config_file::parse(&text, "c.toml".as_ref(), &cmd, &|_| Ok(()))
                    .unwrap_or_else(|e| panic!("{key}: {e}"));
                let env = |k: &str| {
                    vars.iter()
                        .find(|(n, _)| *n == k)
                        .map(|(_, v)| v.to_string())
                };
                layer(&cmd, &user, &env, &file, None)
            };
            // The file alone.
            let l = layered(&[], &[]);
            assert_eq!(l.args, words, "{key}: the file's value applies");
            // A flag on the command line.
            let l = layered(&words, &[]);
            assert!(l.args.is_empty(), "{key}: the flag wins: {:?}", l.args);
            // The environment, where a variable stands for the flag.
            let api_now = if api.is_empty() {
                Api::Ollama
            } else {
                Api::OpenAi
            };
            for var in env_vars(id, api_now) {
                let l = layered(&[], &[(var, "1")]);
                assert!(l.args.is_empty(), "{key}: {var} wins: {:?}", l.args);
            }
        }
    }
}
