//! The `ollama-chat` binary: parse flags, run, print any error once, exit with its code.

use clap::CommandFactory;

fn main() -> std::process::ExitCode {
    let args: Vec<std::ffi::OsString> = std::env::args_os().collect();
    let user = match ollama_chat::cli::Cli::command().try_get_matches_from(&args) {
        Ok(m) => m,
        Err(e) => e.exit(),
    };
    match ollama_chat::run_args(&args, user) {
        Ok(code) => code.into(),
        Err(err) => {
            eprintln!("ollama-chat: {}", ollama_chat::error_line(&err));
            ollama_chat::exit_code_for(&err).into()
        }
    }
}
