//! The `ollama-chat` binary: parse flags, run, print any error once, exit with its code.

use clap::CommandFactory;

/// mimalloc, also for the C libraries (`override`): Oniguruma, which syntect's grammars run on,
/// allocates for every regex search, and glibc's allocator was a seventh of the instructions of
/// rendering a reply with code.
#[global_allocator]
static ALLOC: mimalloc::MiMalloc = mimalloc::MiMalloc;

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
