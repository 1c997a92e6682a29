//! The `ollama-chat` binary: parse flags, run, print any error once, exit with its code.

use clap::Parser;

fn main() -> std::process::ExitCode {
    let cli = ollama_chat::cli::Cli::parse();
    match ollama_chat::run(cli) {
        Ok(code) => code.into(),
        Err(err) => {
            eprintln!("ollama-chat: {}", ollama_chat::error_line(&err));
            ollama_chat::exit_code_for(&err).into()
        }
    }
}
