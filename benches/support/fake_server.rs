//! The in-repo fake Ollama as a process of its own, in fast-stream mode, for benchmarks and for
//! trying the client by hand: the end-to-end benchmark binary started with `--fake-server`
//! (`cargo bench --bench e2e -- --fake-server --tokens 5000`). Not an example target of its own,
//! so that `cargo test` compiles the fake once. It prints its port on stdout, then serves until
//! killed.
//!
//! Every chat gets `options.num_predict` tokens (or `--tokens N` without it) as fast as the socket
//! takes them, after `--first-token-delay-ms D`. With `--hostile CLASS` (`endless-line`,
//! `endless-body`, `keep-alives`, `absurd-numbers`) it serves that class of the tests' hostile
//! mode instead, for measuring the client's memory against it by hand (`/usr/bin/time -v`).

// Public, as in the tests: this process uses only the server and fast-stream mode, and the rest
// of the fake (scripted replies, recorded requests) is its API for the tests, not dead code.
#[path = "../../tests/support/fake_ollama/mod.rs"]
pub mod fake_ollama;

use std::io::Write;
use std::time::Duration;

use fake_ollama::{FakeOllama, FastStream, Hostile};

const USAGE: &str = "usage: fake_ollama [--tokens N] [--first-token-delay-ms MS] [--models a,b] \
                     [--markdown] [--load-delay-ms MS] \
                     [--hostile endless-line|endless-body|keep-alives|absurd-numbers]";

/// What the command line asks for.
struct Args {
    fast: FastStream,
    models: Vec<String>,
    hostile: Option<Hostile>,
    /// How long loading a model that is not in memory takes.
    load_delay: Duration,
}

fn parse_args(args: impl Iterator<Item = String>) -> Result<Args, String> {
    let mut out = Args {
        fast: FastStream::default(),
        models: vec!["tiny:latest".into()],
        hostile: None,
        load_delay: Duration::ZERO,
    };
    let mut args = args.peekable();
    while let Some(flag) = args.next() {
        let mut value = || args.next().ok_or(format!("{flag} needs a value"));
        match flag.as_str() {
            "--tokens" => {
                out.fast.default_tokens = value()?.parse().map_err(|e| format!("--tokens: {e}"))?
            }
            "--first-token-delay-ms" => {
                let ms: u64 = value()?
                    .parse()
                    .map_err(|e| format!("--first-token-delay-ms: {e}"))?;
                out.fast.first_delay = Duration::from_millis(ms);
            }
            "--load-delay-ms" => {
                let ms: u64 = value()?
                    .parse()
                    .map_err(|e| format!("--load-delay-ms: {e}"))?;
                out.load_delay = Duration::from_millis(ms);
            }
            "--models" => out.models = value()?.split(',').map(str::to_string).collect(),
            "--hostile" => {
                out.hostile = Some(match value()?.as_str() {
                    "endless-line" => Hostile::EndlessLine,
                    "endless-body" => Hostile::EndlessBody,
                    "keep-alives" => Hostile::KeepAlivesForever,
                    "absurd-numbers" => Hostile::AbsurdNumbers,
                    other => return Err(format!("unknown --hostile class {other:?}\n{USAGE}")),
                })
            }
            "--markdown" => out.fast.markdown = true,
            "-h" | "--help" => return Err(USAGE.to_string()),
            // `cargo bench` adds it to whatever it passes on.
            "--bench" => {}
            other => return Err(format!("unknown argument {other:?}\n{USAGE}")),
        }
    }
    Ok(out)
}

/// Starts the server as the arguments say, prints its port, and serves until the process is killed.
pub fn serve(args: impl Iterator<Item = String>) -> ! {
    let args = match parse_args(args) {
        Ok(a) => a,
        Err(msg) => {
            eprintln!("{msg}");
            std::process::exit(2);
        }
    };
    let fake = FakeOllama::start();
    let names: Vec<&str> = args.models.iter().map(String::as_str).collect();
    fake.set_models(&names);
    fake.set_load_delay(args.load_delay);
    match args.hostile {
        Some(h) => fake.set_hostile(Some(h)),
        None => fake.set_fast_stream(Some(args.fast)),
    }
    let port = fake
        .host_port()
        .rsplit(':')
        .next()
        .unwrap_or_default()
        .to_string();
    let mut stdout = std::io::stdout().lock();
    if writeln!(stdout, "{port}")
        .and_then(|()| stdout.flush())
        .is_err()
    {
        std::process::exit(1);
    }
    drop(stdout);
    loop {
        std::thread::park();
    }
}
