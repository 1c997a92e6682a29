//! `ollama-chat completions SHELL` and `ollama-chat man`: generated from the command line's own
//! definition (clap_complete, clap_mangen), so they never fall behind a new flag.

use std::io::Write;

use clap::CommandFactory;

use crate::cli::Cli;
use crate::exit_code::ExitCode;

/// The completion script for `shell`; bash also completes model and session names by asking
/// the binary itself (`ollama-chat models --json`, `ollama-chat sessions`).
pub fn completions(shell: clap_complete::Shell, out: &mut impl Write) -> anyhow::Result<ExitCode> {
    let mut cmd = Cli::command();
    clap_complete::generate(shell, &mut cmd, "ollama-chat", out);
    Ok(ExitCode::Success)
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
