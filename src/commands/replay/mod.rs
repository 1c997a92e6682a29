//! `ollama-chat replay FILE`: a saved session shown as it happened, or re-run (`--rerun`).

use std::io;

use super::rerun::{rerun, Changes};

pub mod show;
use crate::backend::Backend;
use crate::cli::ReplayArgs;
use crate::config::Config;
use crate::exit_code::ExitCode;
use crate::render::markdown::MarkdownView;
use crate::session::load::load_stdin;
use crate::session::{catalog, Loaded};
use crate::term::Term;
use crate::UsageError;
use show::{replay, Sleep, View};

pub fn run(args: &ReplayArgs, config: &Config, term: &Term) -> anyhow::Result<ExitCode> {
    let speed = match args.speed {
        Some(s) if !(s.is_finite() && s > 0.0) => {
            return Err(UsageError(format!("--speed must be a number above 0, not {s}")).into())
        }
        other => other,
    };
    let loaded = open(args.file.as_deref(), config, term)?;
    for w in &loaded.warnings {
        crate::render::style::warn(format_args!("{w}"));
    }
    if args.rerun {
        let changes = Changes {
            model: args.model.as_deref(),
            option_pairs: &args.options,
        };
        changes.check()?;
        let rt = crate::runtime()?;
        let key = config.api_key.as_ref().map(|k| k.expose().to_string());
        let client = Backend::new(config.api, &config.base_url, key)?
            .with_headers(&config.headers)?
            .with_max_line(config.max_line);
        return rerun(&rt, &client, config, term, &loaded, &changes);
    }
    let view = View {
        markdown: MarkdownView::for_stdout(term, config.markdown, config.theme),
        ..View::new(term, speed)
    };
    // Buffered: a paced replay flushes before every pause, an instant one once at the end.
    let mut out = io::BufWriter::new(io::stdout().lock());
    replay(&loaded, &mut out, view, &mut Sleep)?;
    Ok(ExitCode::Success)
}

/// The session named on the command line; `-`, or nothing with a pipe on stdin, reads stdin.
fn open(file: Option<&str>, config: &Config, term: &Term) -> anyhow::Result<Loaded> {
    match file {
        Some("-") => Ok(load_stdin()?),
        Some(q) => Ok(catalog::find(config.session.dir.as_deref(), q)?),
        None if !term.stdin_tty => Ok(load_stdin()?),
        None => Err(UsageError(
            "replay needs a session: a file, an id or name from `ollama-chat sessions`, or `-` for stdin"
                .into(),
        )
        .into()),
    }
}
