//! `ollama-chat completions SHELL` and `ollama-chat man`: generated from the command line's own
//! definition (clap_complete, clap_mangen), so they never fall behind a new flag.

use std::io::Write;

use clap::CommandFactory;

use crate::cli::Cli;
use crate::exit_code::ExitCode;

/// The completion script for `shell`; bash and fish also complete model, session and role
/// names by asking the binary itself (`ollama-chat __complete models`).
pub fn completions(shell: clap_complete::Shell, out: &mut impl Write) -> anyhow::Result<ExitCode> {
    let mut cmd = Cli::command();
    if shell == clap_complete::Shell::Zsh {
        let mut script = Vec::new();
        clap_complete::generate(shell, &mut cmd, "ollama-chat", &mut script);
        out.write_all(zsh_with_names(&String::from_utf8_lossy(&script)).as_bytes())?;
        return Ok(ExitCode::Success);
    }
    clap_complete::generate(shell, &mut cmd, "ollama-chat", out);
    match shell {
        clap_complete::Shell::Bash => out.write_all(BASH_NAMES.as_bytes())?,
        clap_complete::Shell::Fish => out.write_all(FISH_NAMES.as_bytes())?,
        _ => {}
    }
    Ok(ExitCode::Success)
}

/// Zsh: clap's script, with the values of the chat's `-m`/`--model`, `--session` and `--role`
/// completed by [`ZSH_NAMES`] (a session may also be a file). Only the top-level flags, whose
/// help texts are matched: a subcommand's `--model` is a different thing.
fn zsh_with_names(script: &str) -> String {
    let mut out = String::with_capacity(script.len() + ZSH_NAMES.len());
    for line in script.lines() {
        let named = [
            (
                "-m+[Model to chat with",
                ":MODEL:_default'",
                ":MODEL:_ollama_chat_names models'",
            ),
            (
                "--model=[Model to chat with",
                ":MODEL:_default'",
                ":MODEL:_ollama_chat_names models'",
            ),
            (
                "--session=[Resume this session",
                ":FILE:_default'",
                ":FILE:_ollama_chat_names sessions'",
            ),
            (
                "--role=[Start with a saved role",
                ":NAME:_default'",
                ":NAME:_ollama_chat_names roles'",
            ),
        ]
        .into_iter()
        .find(|(flag, from, _)| line.contains(flag) && line.contains(from));
        match named {
            Some((_, from, to)) => out.push_str(&line.replace(from, to)),
            None if line.starts_with("if [ \"$funcstack[1]\" = \"_ollama-chat\" ]") => {
                out.push_str(ZSH_NAMES);
                out.push_str(line);
            }
            None => out.push_str(line),
        }
        out.push('\n');
    }
    out
}

/// The zsh completer of those names (printed filtered, see [`names`]).
const ZSH_NAMES: &str = r#"(( $+functions[_ollama_chat_names] )) ||
_ollama_chat_names() {
    local -a names
    names=(${(f)"$(ollama-chat __complete $1 2>/dev/null)"})
    compadd -a names
    [[ $1 == sessions ]] && _files
    return 0
}

"#;

/// Bash: the values of `-m`, `--session` and `--role` from the binary, the rest from clap's
/// function. The names are printed filtered (see [`names`]), so `compgen -W` expands nothing.
const BASH_NAMES: &str = r#"
_ollama_chat_names() {
    local cur="${COMP_WORDS[COMP_CWORD]}" prev="${COMP_WORDS[COMP_CWORD-1]}" what=""
    case "$prev" in
        -m|--model) what=models ;;
        --session) what=sessions ;;
        --role) what=roles ;;
    esac
    if [[ -n "$what" ]]; then
        COMPREPLY=($(compgen -W "$(ollama-chat __complete "$what" 2>/dev/null)" -- "$cur"))
        return 0
    fi
    _ollama__chat "$@"
}
complete -F _ollama_chat_names -o nosort -o bashdefault -o default ollama-chat
"#;

/// Fish: the same names as the values of those flags.
const FISH_NAMES: &str = r#"
complete -c ollama-chat -s m -l model -f -a "(ollama-chat __complete models 2>/dev/null)"
complete -c ollama-chat -l session -f -a "(ollama-chat __complete sessions 2>/dev/null)"
complete -c ollama-chat -l role -f -a "(ollama-chat __complete roles 2>/dev/null)"
"#;

/// How long a completion waits for the server's model list.
const NAMES_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(2);

/// Prints model, session or role names one a line, for the completion scripts. Only names made
/// of plain characters are printed: a shell may expand what a hostile server calls a model.
pub fn names(
    what: crate::cli::CompleteWhat,
    config: &crate::config::Config,
    out: &mut impl Write,
) -> anyhow::Result<ExitCode> {
    use crate::cli::CompleteWhat;
    let names: Vec<String> = match what {
        CompleteWhat::Models => {
            let rt = crate::runtime()?;
            let key = config.api_key.as_ref().map(|k| k.expose().to_string());
            let backend = crate::backend::Backend::new(config.api, &config.base_url, key)?
                .with_headers(&config.headers)?;
            let listed = rt.block_on(async {
                tokio::time::timeout(NAMES_TIMEOUT, backend.list_models()).await
            });
            match listed {
                Ok(Ok(names)) => names.into_iter().map(|n| n.into_raw()).collect(),
                _ => Vec::new(),
            }
        }
        CompleteWhat::Sessions => session_names(config.session.dir.as_deref()),
        CompleteWhat::Roles => crate::config_file::roles::list_names(&config.roles),
    };
    for name in names.iter().filter(|n| plain(n)) {
        writeln!(out, "{name}")?;
    }
    Ok(ExitCode::Success)
}

/// The sessions' ids and names, most recent first.
fn session_names(dir: Option<&std::path::Path>) -> Vec<String> {
    let Some((entries, _warnings)) = dir.and_then(|d| crate::session::catalog::list(d).ok()) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for e in entries.into_iter().take(200) {
        if let Ok(s) = e.session {
            out.extend(s.name);
            out.push(s.id.to_string());
        }
    }
    out
}

/// Letters (any script), digits and `._:/@+-`: nothing a shell expands or splits on.
fn plain(name: &str) -> bool {
    !name.is_empty()
        && name.chars().count() <= 200
        && name
            .chars()
            .all(|c| c.is_alphanumeric() || matches!(c, '.' | '_' | ':' | '/' | '@' | '+' | '-'))
}

/// The manual page, in roff.
pub fn man(out: &mut impl Write) -> anyhow::Result<ExitCode> {
    clap_mangen::Man::new(Cli::command()).render(out)?;
    Ok(ExitCode::Success)
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::ValueEnum;

    #[test]
    fn every_shell_gets_a_script_that_names_the_flags() {
        for shell in clap_complete::Shell::value_variants() {
            let mut out = Vec::new();
            completions(*shell, &mut out).unwrap();
            let text = String::from_utf8(out).unwrap();
            assert!(text.contains("keep-alive"), "{shell}");
            assert!(text.contains("completions"), "{shell}");
            if *shell == clap_complete::Shell::Zsh {
                // Each of the chat's name flags goes through the names function, once defined.
                assert_eq!(text.matches("_ollama_chat_names models'").count(), 2);
                assert_eq!(text.matches("_ollama_chat_names sessions'").count(), 1);
                assert_eq!(text.matches("_ollama_chat_names roles'").count(), 1);
                let defined = text.find("_ollama_chat_names() {").unwrap();
                assert!(defined < text.rfind("compdef _ollama-chat").unwrap());
            }
            if *shell == clap_complete::Shell::Bash {
                // The function BASH_NAMES falls back on.
                assert!(text.starts_with("_ollama__chat() {"), "{}", &text[..40]);
            }
        }
    }

    #[test]
    fn only_plain_names_are_offered() {
        for ok in ["qwen3:8b", "library/llama3.2", "翻译", "a-b_c.d+e@f"] {
            assert!(plain(ok), "{ok}");
        }
        for bad in ["$(rm -rf ~)", "a b", "`x`", "a;b", "", "a\u{1b}[31m", "x*"] {
            assert!(!plain(bad), "{bad}");
        }
    }

    #[test]
    fn the_man_page_has_its_sections() {
        let mut out = Vec::new();
        man(&mut out).unwrap();
        let text = String::from_utf8(out).unwrap();
        assert!(text.starts_with(".ie"), "{}", &text[..40]);
        assert!(text.contains(".SH NAME") && text.contains(".SH OPTIONS"));
        assert!(text.contains("keep\\-alive"));
    }
}
