//! The commented example that `ollama-chat config init` writes.

/// Every line is a comment, so the file changes nothing until a line is uncommented.
pub const EXAMPLE: &str = r#"# ollama-chat config file. Every key is a long flag's name (`--keep-alive` → keep_alive);
# a flag on the command line wins, then a role, then the environment, then this file.
# `ollama-chat config show` prints the settings in force and where each came from.

# model = "qwen3:8b"
# system = "Answer briefly."
# think = "medium"            # true, false, low, medium, high
# keep_alive = "30m"
# timeout = 300
# context_strategy = "summarize"   # truncate, summarize, fail
# color = "auto"              # auto, always, never
# theme = "ansi"              # ansi, dark, light
# raw = false                 # true: no markdown rendering
# log_content = "redact"      # full, redact, none
# log_max_size = "50MiB"
# no_session = false
# api = "ollama"              # ollama, openai, anthropic

# Model options, as `-o key=value`.
# [options]
# temperature = 0.3
# num_ctx = 8192
# stop = ["</answer>"]

# Settings for one API: used when `--api` (or OLLAMA_CHAT_API, or `api` above) chooses it.
# [apis.openai]
# base_url = "https://api.openai.com/v1"
# model = "gpt-4o-mini"
# api_key_cmd = "pass show openai"   # its first line is the key; or api_key = "…" (chmod 600!)

# Settings for one server, by its address as --host or --base-url gives it.
# [hosts."gpu-box:11434"]
# model = "llama3.3:70b"
# keep_alive = "1h"

# Roles: `--role NAME` or `/role NAME`; also files in roles/NAME.toml or roles/NAME.md
# beside this file (a .md file is the system prompt).
# [roles.reviewer]
# system = "You review Rust code: point out bugs first, style last."
# model = "qwen2.5-coder:14b"
# [roles.reviewer.options]
# temperature = 0.1

# MCP servers whose tools the model may call as NAME.tool (as with --mcp), started when first
# needed. A server gets no environment variable but PATH and those in its `env`.
# [mcp.git]
# command = "uvx"
# args = ["mcp-server-git", "--repository", "."]
# env = { GIT_AUTHOR_NAME = "me" }
"#;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cli::Cli;
    use clap::CommandFactory;

    #[test]
    fn the_example_parses_as_it_is_and_uncommented() {
        let cmd = Cli::command();
        let ok = |_: &[String]| Ok(());
        let f = super::super::parse(EXAMPLE, "c.toml".as_ref(), &cmd, &ok).unwrap();
        assert!(f.top.entries.is_empty() && f.roles.is_empty() && f.mcp.is_empty());
        let uncommented: String = EXAMPLE
            .lines()
            .filter(|l| {
                l.starts_with("# ") && !l.starts_with("# ollama-chat") && {
                    let rest = &l[2..];
                    rest.starts_with('[') || rest.contains(" = ")
                }
            })
            .map(|l| format!("{}\n", &l[2..]))
            .collect();
        let check = |words: &[String]| {
            cmd.clone()
                .try_get_matches_from(std::iter::once("x".to_string()).chain(words.iter().cloned()))
                .map(drop)
                .map_err(|e| e.to_string())
        };
        let f = super::super::parse(&uncommented, "c.toml".as_ref(), &cmd, &check)
            .unwrap_or_else(|e| panic!("{e}\n{uncommented}"));
        assert_eq!(f.top.value("model"), Some("qwen3:8b"));
        assert_eq!(f.apis.len(), 1);
        assert_eq!(f.hosts.len(), 1);
        assert_eq!(f.roles.len(), 1);
        assert_eq!(f.mcp.len(), 1);
    }
}
