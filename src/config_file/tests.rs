//! The config file's parser at every malformed form: each error names the file, line and column.

use super::*;
use crate::cli::Cli;
use clap::CommandFactory;

/// Checks like a run: clap's own value parsers.
pub(super) fn parse_text(text: &str) -> Result<ConfigFile, String> {
    let cmd = Cli::command();
    let check = |words: &[String]| {
        cmd.clone()
            .try_get_matches_from(std::iter::once("x".to_string()).chain(words.iter().cloned()))
            .map(drop)
            .map_err(|e| {
                let t = e.render().to_string();
                t.lines()
                    .next()
                    .unwrap_or_default()
                    .trim_start_matches("error: ")
                    .to_string()
            })
    };
    parse(text, "c.toml".as_ref(), &cmd, &check).map_err(|e| e.to_string())
}

#[test]
fn settings_become_command_line_words() {
    let f = parse_text(
        r#"
model = "qwen3"
keep-alive = "5m"
timeout = 1_000
raw = true
no_log = false
debug = 2
think = true
color = "never"
option = ["seed=1"]
[options]
temperature = 0.25
stop = ["a", "b"]
"#,
    )
    .unwrap();
    let words: Vec<&str> = f
        .top
        .entries
        .iter()
        .flat_map(|e| e.args.iter().map(String::as_str))
        .collect();
    assert_eq!(
        words,
        [
            "--model=qwen3",
            "--keep-alive=5m",
            "--timeout=1000",
            "--raw",
            "--debug",
            "--debug",
            "--think=true",
            "--color=never",
            "--option=seed=1",
            "--option=temperature=0.25",
            "--option=stop=a",
            "--option=stop=b",
        ]
    );
    assert_eq!(f.top.get("model").unwrap().at, Pos { line: 2, col: 1 });
}

#[test]
fn every_flag_that_is_a_setting_is_a_key() {
    let cmd = Cli::command();
    let keys: Vec<String> = settings(&cmd)
        .map(|a| a.get_long().unwrap().replace('-', "_"))
        .collect();
    for k in [
        "model",
        "system",
        "host",
        "api",
        "base_url",
        "think",
        "format",
        "keep_alive",
        "timeout",
        "log",
        "log_content",
        "context_strategy",
        "raw",
        "theme",
        "color",
        "system_file",
    ] {
        assert!(keys.iter().any(|x| x == k), "{k} is not a key");
    }
    for k in [
        "prompt", "continue", "session", "config", "role", "help", "version",
    ] {
        assert!(!keys.iter().any(|x| x == k), "{k} should not be a key");
    }
}

#[test]
fn malformed_files_say_where() {
    let cases: &[(&str, &str)] = &[
        ("modle = \"x\"", "c.toml:1:1: unknown key `modle`; did you mean `model`?"),
        ("\n  timeout = \"soon\"", "c.toml:2:3: timeout: invalid value 'soon' for '--timeout <SECS>': invalid digit found in string"),
        ("raw = \"yes\"", "c.toml:1:1: raw takes true or false, not string"),
        ("debug = true", "c.toml:1:1: debug takes a count, not boolean"),
        ("debug = 99", "c.toml:1:1: debug takes a count from 0 to 9"),
        ("model = [1, 2]", "c.toml:1:1: model takes a string, number or boolean, not array"),
        ("model = {a = 1}", "c.toml:1:1: model takes a string, number or boolean, not table"),
        ("color = \"sometimes\"", "c.toml:1:1: color: invalid value 'sometimes' for '--color <WHEN>'"),
        ("prompt = \"hi\"", "c.toml:1:1: prompt is not a setting: give it on the command line"),
        ("continue = true", "c.toml:1:1: continue is not a setting: give it on the command line"),
        ("fork = \"abc\"", "c.toml:1:1: fork is not a setting: give it on the command line"),
        ("image = [\"a.png\"]", "c.toml:1:1: image is not a setting: give it on the command line"),
        ("file = \"-\"", "c.toml:1:1: file is not a setting: give it on the command line"),
        ("options = 3", "c.toml:1:1: options is a table (`[options]` with `temperature = 0.3` lines), not integer"),
        ("[options]\nstop = [[1]]", "c.toml:2:1: option stop: takes a string, number or boolean, not array"),
        ("[apis.gemini]\nmodel = \"x\"", "c.toml:1:7: unknown API `gemini`"),
        ("[apis.opnai]", "c.toml:1:7: unknown API `opnai`; did you mean `openai`?"),
        ("[apis.openai]\napi = \"ollama\"", "c.toml:2:1: api cannot be set in this table (an [apis.*] section applies once the API is chosen)"),
        ("[hosts.x]\nhost = \"y\"", "c.toml:2:1: host cannot be set in this table"),
        ("[roles.r]\napi_key = \"secret-value\"", "c.toml:2:1: unknown key `api_key`"),
        ("[roles]\nr = 1", "c.toml:2:5: a section must be a table, not integer"),
        ("api_key = \"\"", "c.toml:1:1: api_key takes a non-empty string"),
        ("api_key = \"abcdefgh1\"\napi_key_cmd = \"x\"", "c.toml:2:1: give api_key or api_key_cmd, not both"),
        ("model = \"a\"\nmodel = \"b\"", "c.toml:2:1: not valid TOML: duplicate key"),
        ("model = \"a\"\nkeep_alive = 1\nkeep-alive = 2", "c.toml:3:1: keep-alive is set twice in this table"),
        ("model = ", "c.toml:1:9: not valid TOML: "),
        ("[[roles]]", "c.toml:1:3: roles holds sections (`[roles.NAME]`), not array"),
        ("hosts = 1", "c.toml:1:1: hosts holds sections (`[hosts.NAME]`), not integer"),
        ("\"\u{4e2d}\u{6587}\" = 1", "c.toml:1:1: unknown key `中文`"),
        ("\"x\\u001b]0;t\\u0007\" = 1", "c.toml:1:1: unknown key `x"),
    ];
    for (text, want) in cases {
        let got = parse_text(text).unwrap_err();
        assert!(got.starts_with(want), "{text:?}\n got: {got}\nwant: {want}");
        assert!(!got.contains('\u{1b}'), "{got:?}");
    }
}

#[test]
fn columns_count_characters_not_bytes() {
    let e = parse_text("system = \"中文\"\n  \"中\" = 1").unwrap_err();
    assert!(e.starts_with("c.toml:2:3: unknown key"), "{e}");
    assert_eq!(Pos::of("中文x", "中文".len()), Pos { line: 1, col: 3 });
    assert_eq!(Pos::of("ab", 99), Pos { line: 1, col: 3 });
    assert_eq!(Pos::of("中", 1), Pos { line: 1, col: 1 });
}

#[test]
fn sections_and_keys() {
    let f = parse_text(
        r#"
api_key_cmd = "pass show x"
[apis.anthropic]
api_key = "sk-ant-0123456789"
model = "claude"
[hosts."http://gpu:11434"]
model = "big"
[roles.coder]
system = "Rust."
[roles.coder.options]
temperature = 0.1
[roles."翻译"]
system = "Translate to English."
"#,
    )
    .unwrap();
    assert!(f.holds_key);
    assert!(matches!(f.top.api_key, Some((KeySource::Command(_), _))));
    assert_eq!(f.apis[0].0, Api::Anthropic);
    assert!(
        format!("{f:?}").contains("redacted") && !format!("{f:?}").contains("sk-ant-0123456789")
    );
    assert_eq!(f.hosts[0].0, "http://gpu:11434");
    assert_eq!(f.roles[0].0, "coder");
    assert_eq!(f.roles[0].1.entries.len(), 2);
    assert_eq!(f.roles[1].0, "翻译");
}

#[test]
fn reading_refuses_what_is_not_a_small_text_file() {
    let dir = tempfile::tempdir().unwrap();
    assert!(read(&dir.path().join("none.toml")).unwrap().is_none());
    assert!(read(dir.path()).is_err());
    let big = dir.path().join("big.toml");
    std::fs::write(&big, vec![b'#'; (MAX_BYTES + 1) as usize]).unwrap();
    assert!(read(&big).is_err());
    let bin = dir.path().join("bin.toml");
    std::fs::write(&bin, [0xff, 0xfe]).unwrap();
    assert!(read(&bin).unwrap_err().to_string().contains("not UTF-8"));
}
