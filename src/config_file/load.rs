//! Finding, reading and applying the config file for one run: the user's command line → the
//! command line the run uses (the file's settings put under it), the file's warnings, and where
//! an API key comes from when the environment has none.

use std::cell::OnceCell;
use std::ffi::OsString;
use std::path::PathBuf;

use clap::{ArgMatches, Command, CommandFactory, FromArgMatches};

use super::layer::{layer, Layered};
use super::roles::{self, RoleError};
use super::{parse, read, readable_by_others, ConfigFile, FileError, KeySource};
use crate::cli::Cli;
use crate::config::{Config, ConfigError};
use crate::paths;

/// The settings of one run.
#[derive(Debug)]
pub struct Loaded {
    pub cli: Cli,
    /// The user's own command line.
    pub user: ArgMatches,
    /// The command line with the file's settings.
    pub full: ArgMatches,
    /// Where the file was looked for, and the file, if there was one.
    pub path: Option<PathBuf>,
    pub file: Option<ConfigFile>,
    pub layered: Layered,
    /// The role asked for with `--role`.
    pub role: Option<String>,
    /// Said once on stderr (a key in a file others can read).
    pub warnings: Vec<String>,
}

/// Why the settings cannot be loaded.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error(transparent)]
    File(#[from] FileError),
    #[error("the config file {} does not exist (write an example with `ollama-chat config init`)", .0.display())]
    Missing(PathBuf),
    #[error("--role: {0}")]
    Role(#[from] RoleError),
    #[error("{}: {message}", path.display())]
    Conflict { path: PathBuf, message: String },
    #[error("--system-file {}: {source}", path.display())]
    SystemFile {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("api_key_cmd failed: {0}")]
    KeyCommand(String),
}

/// The longest system prompt file read.
const MAX_SYSTEM_FILE: u64 = 1 << 20;

/// Where the config file is: `--config`, else OLLAMA_CHAT_CONFIG, else the XDG default. The flag
/// tells whether the user named it (then it must exist).
pub fn path(user: &ArgMatches, env: &dyn Fn(&str) -> Option<String>) -> Option<(PathBuf, bool)> {
    if let Some(p) = user.get_one::<PathBuf>("config") {
        return Some((p.clone(), true));
    }
    if let Some(p) = env("OLLAMA_CHAT_CONFIG").filter(|p| !p.trim().is_empty()) {
        return Some((PathBuf::from(p), true));
    }
    paths::config_dir(env).map(|d| (d.join("config.toml"), false))
}

/// The roles folder beside the config file's default place.
pub fn roles_dir(env: &dyn Fn(&str) -> Option<String>) -> Option<PathBuf> {
    paths::config_dir(env).map(|d| d.join("roles"))
}

/// Reads the config file and the role named on the command line `args`, and gives the command
/// line the run uses.
pub fn load(
    args: &[OsString],
    user: ArgMatches,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Loaded, LoadError> {
    let cmd = Cli::command();
    let check = |words: &[String]| check_words(&cmd, words);
    let found = path(&user, env);
    let mut file = None;
    let mut warnings = Vec::new();
    if let Some((p, named)) = &found {
        match read(p)? {
            Some(text) => {
                let parsed = parse(&text, p, &cmd, &check)?;
                if parsed.holds_key && readable_by_others(p) {
                    warnings.push(format!(
                        "{} holds an API key and others can read it: chmod 600 it, or use api_key_cmd",
                        p.display()
                    ));
                }
                file = Some(parsed);
            }
            None if *named => return Err(LoadError::Missing(p.clone())),
            None => {}
        }
    }
    let role_name = user.get_one::<String>("role").cloned();
    let role = match &role_name {
        Some(name) => Some(roles::find(
            file.as_ref(),
            roles_dir(env).as_deref(),
            name,
            &cmd,
            &check,
        )?),
        None => None,
    };
    let empty = ConfigFile::default();
    let layered = layer(
        &cmd,
        &user,
        env,
        file.as_ref().unwrap_or(&empty),
        role_name.as_deref().zip(role.as_ref()),
    );
    let conflict = |e: clap::Error| LoadError::Conflict {
        path: found.as_ref().map(|(p, _)| p.clone()).unwrap_or_default(),
        message: clap_message(&e),
    };
    // The file's own settings together (`log` and `no_log` both set), then under the user's.
    cmd.clone()
        .try_get_matches_from(
            std::iter::once("ollama-chat".to_string()).chain(layered.args.clone()),
        )
        .map_err(conflict)?;
    let mut argv: Vec<OsString> = args.iter().take(1).cloned().collect();
    argv.extend(layered.args.iter().map(OsString::from));
    argv.extend(args.iter().skip(1).cloned());
    let full = cmd.try_get_matches_from(argv).map_err(conflict)?;
    let mut cli = Cli::from_arg_matches(&full).map_err(conflict)?;
    if let Some(p) = cli.system_file.take() {
        let text = paths::read_regular(&p, MAX_SYSTEM_FILE)
            .and_then(|b| {
                String::from_utf8(b).map_err(|_| {
                    std::io::Error::new(std::io::ErrorKind::InvalidData, "it is not UTF-8 text")
                })
            })
            .map_err(|source| LoadError::SystemFile { path: p, source })?;
        cli.system = Some(text.trim_end().to_string());
    }
    Ok(Loaded {
        cli,
        user,
        full,
        path: found.map(|(p, _)| p),
        file,
        layered,
        role: role_name,
        warnings,
    })
}

/// Whether one setting's words would be taken by a run: clap's own parsing, then the resolved
/// config's checks of that value alone.
pub(super) fn check_words(cmd: &Command, words: &[String]) -> Result<(), String> {
    let mut argv = vec!["ollama-chat".to_string()];
    if words.iter().any(|w| w.starts_with("--base-url")) {
        // A base URL is checked as the OpenAI API would take it.
        argv.push("--api=openai".into());
    }
    argv.extend(words.iter().cloned());
    let m = cmd
        .clone()
        .try_get_matches_from(argv)
        .map_err(|e| clap_message(&e))?;
    let cli = Cli::from_arg_matches(&m).map_err(|e| clap_message(&e))?;
    match Config::resolve(cli, &|_| None) {
        Err(e) if is_about_one_value(&e) => Err(e.to_string()),
        _ => Ok(()),
    }
}

/// Errors that a value alone causes, whatever the other settings are.
fn is_about_one_value(e: &ConfigError) -> bool {
    !matches!(
        e,
        ConfigError::HostWithBaseUrlApi { .. }
            | ConfigError::BaseUrlWithOllama
            | ConfigError::MissingKey { .. }
            | ConfigError::Request(_)
    )
}

/// clap's message on one line, without its `error: ` and its advice about `--help`.
fn clap_message(e: &clap::Error) -> String {
    let text = e.render().to_string();
    let first = text.lines().next().unwrap_or_default();
    first.strip_prefix("error: ").unwrap_or(first).to_string()
}

/// The environment, with the file's API key (or its command's output, run once and only when
/// asked for) behind the variable `key_var`. A failed command is kept for [`KeyCell::error`].
pub struct KeyCell<'a> {
    source: Option<&'a KeySource>,
    value: OnceCell<Result<String, String>>,
}

impl<'a> KeyCell<'a> {
    pub fn new(layered: &'a Layered) -> Self {
        KeyCell {
            source: layered.api_key.as_ref().map(|(k, _)| k),
            value: OnceCell::new(),
        }
    }

    /// The key, when the file gives one.
    pub fn get(&self) -> Option<String> {
        let source = self.source?;
        self.value
            .get_or_init(|| match source {
                KeySource::Literal(k) => Ok(k.expose().to_string()),
                KeySource::Command(c) => run_key_command(c),
            })
            .as_ref()
            .ok()
            .cloned()
    }

    /// Why the key command failed, if it ran and did.
    pub fn error(&self) -> Option<LoadError> {
        match self.value.get() {
            Some(Err(e)) => Some(LoadError::KeyCommand(e.clone())),
            _ => None,
        }
    }
}

/// Runs `command` with `sh -c` (stdin and stderr the user's, so a password manager may ask) and
/// returns its first line. Its output is never shown, not even in an error.
fn run_key_command(command: &str) -> Result<String, String> {
    use std::io::Read;
    let mut child = std::process::Command::new("sh")
        .arg("-c")
        .arg(command)
        .stdout(std::process::Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot run sh: {e}"))?;
    let mut out = Vec::new();
    if let Some(stdout) = child.stdout.take() {
        let _ = stdout.take(64 << 10).read_to_end(&mut out);
    }
    let status = child.wait().map_err(|e| e.to_string())?;
    if !status.success() {
        return Err(match status.code() {
            Some(c) => format!("it exited with status {c}"),
            None => "it was killed by a signal".into(),
        });
    }
    let text = String::from_utf8_lossy(&out);
    let key = text.lines().next().unwrap_or_default().trim().to_string();
    if key.is_empty() {
        return Err("it printed nothing".into());
    }
    Ok(key)
}

/// Whether `path` is the default config path's folder (for `config init`).
pub fn default_path(env: &dyn Fn(&str) -> Option<String>) -> Option<PathBuf> {
    paths::config_dir(env).map(|d| d.join("config.toml"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load_with(text: Option<&str>, argv: &[&str]) -> Result<Loaded, LoadError> {
        let dir = tempfile::tempdir().unwrap();
        let home = dir.path().to_str().unwrap().to_string();
        if let Some(text) = text {
            let d = dir.path().join(".config/ollama-chat");
            std::fs::create_dir_all(&d).unwrap();
            std::fs::write(d.join("config.toml"), text).unwrap();
        }
        let mut args: Vec<OsString> = vec!["ollama-chat".into()];
        args.extend(argv.iter().map(OsString::from));
        let user = Cli::command().try_get_matches_from(&args).unwrap();
        let env = move |k: &str| (k == "HOME").then(|| home.clone());
        load(&args, user, &env)
    }

    #[test]
    fn the_file_becomes_the_cli() {
        let l = load_with(
            Some("model = \"m\"\ntimeout = 9\n[options]\nseed = 1\n"),
            &["-o", "top_k=2"],
        )
        .unwrap();
        assert_eq!(l.cli.model.as_deref(), Some("m"));
        assert_eq!(l.cli.timeout, 9);
        assert_eq!(l.cli.options, ["seed=1", "top_k=2"]);
        let l = load_with(None, &["-m", "x"]).unwrap();
        assert!(l.file.is_none());
        assert_eq!(l.cli.model.as_deref(), Some("x"));
    }

    #[test]
    fn a_bad_value_names_its_line() {
        let e = load_with(Some("\n\nthink = \"maybe\"\n"), &[])
            .unwrap_err()
            .to_string();
        assert!(e.ends_with("config.toml:3:1: think: --think takes true, false, low, medium, high or max, not \"maybe\""), "{e}");
        let e = load_with(Some("timeout = \"soon\""), &[])
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("config.toml:1:1: timeout: invalid value 'soon' for '--timeout <SECS>'"),
            "{e}"
        );
        let e = load_with(Some("base_url = \"ftp://x\""), &[])
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("1:1: base_url: --base-url must be an http"),
            "{e}"
        );
        let e = load_with(Some("log = \"a\"\nno_log = true"), &[])
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("config.toml: the argument '--log <PATH>' cannot be used with '--no-log'"),
            "{e}"
        );
        // The user's flag settles it.
        assert!(load_with(Some("log = \"a\""), &["--no-log"]).is_ok());
    }

    #[test]
    fn a_named_file_must_exist_and_a_role_must_be_known() {
        let e = load_with(None, &["--config", "/nonexistent/c.toml"]).unwrap_err();
        assert!(matches!(e, LoadError::Missing(_)));
        let e = load_with(Some("[roles.coder]\nsystem = \"x\""), &["--role", "codr"]).unwrap_err();
        assert!(e.to_string().contains("did you mean \"coder\""), "{e}");
        let l = load_with(Some("[roles.coder]\nsystem = \"x\""), &["--role", "coder"]).unwrap();
        assert_eq!(l.cli.system.as_deref(), Some("x"));
        assert_eq!(l.role.as_deref(), Some("coder"));
    }

    #[test]
    fn a_key_command_runs_once_and_only_when_asked() {
        let layered = Layered {
            api_key: Some((
                KeySource::Command("echo sk-from-cmd; echo second".into()),
                super::super::Pos { line: 1, col: 1 },
            )),
            ..Layered::default()
        };
        let cell = KeyCell::new(&layered);
        assert_eq!(cell.get().as_deref(), Some("sk-from-cmd"));
        assert!(cell.error().is_none());
        let failing = Layered {
            api_key: Some((
                KeySource::Command("echo sk-leaked; exit 3".into()),
                super::super::Pos { line: 1, col: 1 },
            )),
            ..Layered::default()
        };
        let cell = KeyCell::new(&failing);
        assert!(cell.error().is_none(), "not run before it is asked for");
        assert_eq!(cell.get(), None);
        let e = cell.error().unwrap().to_string();
        assert_eq!(e, "api_key_cmd failed: it exited with status 3");
    }
}
