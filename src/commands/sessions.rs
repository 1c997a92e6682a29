//! `ollama-chat sessions`: list saved sessions, and show, delete or export one (`search`,
//! `reindex` and `tree` have modules of their own).

use std::io::{self, BufRead, Write};
use std::path::Path;

use crate::chat::session::load_blob;
use crate::cli::{ExportFormat, SessionsAction};
use crate::commands::replay::show::{replay, Sleep, View};
use crate::config::Config;
use crate::exit_code::ExitCode;
use crate::render::markdown::MarkdownView;
use crate::session::blobs::{self, Blobs};
use crate::session::index::Summary;
use crate::session::{catalog, export, short_id, Loaded, SessionError};
use crate::table;
use crate::term::Term;
use crate::untrusted::{sanitize, sanitize_line};
use crate::UsageError;

pub fn run(
    action: Option<SessionsAction>,
    config: &Config,
    term: &Term,
) -> anyhow::Result<ExitCode> {
    let dir = config.session.dir.as_deref();
    match action.unwrap_or(SessionsAction::List) {
        SessionsAction::List => list(config, term),
        SessionsAction::Show { id } => {
            let l = catalog::find(dir, &id)?;
            warn(&l);
            let mut out = io::BufWriter::new(io::stdout().lock());
            if let Some(p) = &l.path {
                writeln!(out, "File: {}", sanitize_line(&p.display().to_string()))?;
            }
            if let Some(p) = l.header.parent {
                writeln!(
                    out,
                    "Branched from session {} at turn {} (`sessions tree {}` shows the family)",
                    short_id(&p.id),
                    p.turn,
                    short_id(&l.header.id)
                )?;
            }
            let view = View {
                markdown: MarkdownView::for_stdout(term, config.markdown, config.theme),
                ..View::new(term, None)
            };
            replay(&l, &mut out, view, &mut Sleep)?;
            Ok(ExitCode::Success)
        }
        SessionsAction::Rm { id, yes } => remove(&catalog::find(dir, &id)?, yes, term),
        SessionsAction::Export { id, format } => {
            let l = catalog::find(dir, &id)?;
            warn(&l);
            let text = match format {
                ExportFormat::Markdown => export::to_markdown(&l),
                ExportFormat::Json => export::to_request_json(&with_images(l)?, config.api)?,
            };
            // The export is data for a file or a pipe, byte for byte; on a terminal it is read,
            // so what the session's author or the model put in it is shown harmless.
            let text = match term.stdout.tty {
                true => sanitize(&text).into_owned(),
                false => text,
            };
            io::stdout().lock().write_all(text.as_bytes())?;
            Ok(ExitCode::Success)
        }
        SessionsAction::Search(args) => super::search::run(&args, config, term),
        SessionsAction::Tree { id } => super::tree::run(&id, config, term.width),
        SessionsAction::Reindex => super::search::reindex(config),
    }
}

/// The session with its images' bytes read back from the blob folder, for a body that sends them.
fn with_images(mut l: Loaded) -> Result<Loaded, SessionError> {
    if let Some(path) = &l.path {
        let blobs = Blobs::beside(path);
        for image in l.state.conversation.images_mut() {
            *image = load_blob(&blobs, image)?;
        }
    }
    Ok(l)
}

fn warn(l: &Loaded) {
    for w in &l.warnings {
        crate::render::style::warn(format_args!("{w}"));
    }
}

fn list(config: &Config, term: &Term) -> anyhow::Result<ExitCode> {
    let dir = config
        .session
        .dir
        .as_deref()
        .ok_or(SessionError::NoFolder)?;
    let (entries, warnings) = catalog::list(dir)?;
    for w in &warnings {
        crate::render::style::warn(format_args!("{w}"));
    }
    let mut sessions = Vec::with_capacity(entries.len());
    for e in entries {
        match e.session {
            Ok(s) => sessions.push(s),
            Err(err) => crate::render::style::warn(format_args!("skipped {err}")),
        }
    }
    if sessions.is_empty() {
        println!("No saved sessions yet (they go to {}).", dir.display());
        return Ok(ExitCode::Success);
    }
    let mut out = io::BufWriter::new(io::stdout().lock());
    print_list(&mut out, &sessions, term.width)?;
    out.flush()?;
    Ok(ExitCode::Success)
}

/// The list as a table; a FROM column (parent and turn) appears when any session is a branch.
pub fn print_list<W: Write>(out: &mut W, sessions: &[Summary], width: usize) -> io::Result<()> {
    let branches = sessions.iter().any(|s| s.parent.is_some());
    let mut head = vec![
        "ID".to_string(),
        "NAME".into(),
        "STARTED".into(),
        "MODEL".into(),
        "TURNS".into(),
    ];
    if branches {
        head.push("FROM".into());
    }
    head.push("FIRST MESSAGE".into());
    let mut rows = vec![head];
    for st in sessions {
        let mut row = vec![
            short_id(&st.id),
            table::truncate(st.name.as_deref().unwrap_or("-"), 24),
            st.created
                .with_timezone(&chrono::Local)
                .format("%Y-%m-%d %H:%M")
                .to_string(),
            table::truncate(&st.model, 24),
            st.turns.to_string(),
        ];
        if branches {
            row.push(
                st.parent
                    .map_or("-".into(), |p| format!("{}:{}", short_id(&p.id), p.turn)),
            );
        }
        row.push(st.first_user_line.clone().unwrap_or_default());
        rows.push(row);
    }
    // Everything but the last column, as laid out, tells how much room the first message has.
    let last = rows[0].len() - 1;
    let used = table::columns_width(&rows, last);
    let room = width.saturating_sub(used + 2).max(16);
    for r in rows.iter_mut().skip(1) {
        r[last] = table::truncate(&r[last], room);
    }
    out.write_all(table::render(&rows).as_bytes())
}

fn remove(l: &Loaded, yes: bool, term: &Term) -> anyhow::Result<ExitCode> {
    let path = l.path.as_ref().expect("found sessions are files");
    let st = &l.state;
    let what = format!(
        "session {}{} ({} turns, started {})",
        short_id(&st.id),
        st.name
            .as_ref()
            .map(|n| format!(" \"{}\"", sanitize_line(n)))
            .unwrap_or_default(),
        st.turns,
        st.created
            .with_timezone(&chrono::Local)
            .format("%Y-%m-%d %H:%M")
    );
    if !yes {
        if !term.stdin_tty {
            return Err(UsageError(format!(
                "not deleting {what} without confirmation: add --yes"
            ))
            .into());
        }
        eprint!("Delete {what}? [y/N] ");
        io::stderr().flush()?;
        let mut answer = String::new();
        io::stdin().lock().read_line(&mut answer)?;
        if !matches!(answer.trim().to_lowercase().as_str(), "y" | "yes") {
            eprintln!("Kept it.");
            return Ok(ExitCode::Success);
        }
    }
    crate::session::store::while_not_in_use(path, || {
        std::fs::remove_file(path).map_err(|source| SessionError::Write {
            path: path.display().to_string(),
            source,
        })
    })?;
    println!(
        "Deleted {what} ({}).",
        sanitize_line(&path.display().to_string())
    );
    // Its images, unless another session beside it still sends them.
    let blobs = Blobs::beside(path);
    let dir = path.parent().filter(|d| !d.as_os_str().is_empty());
    let removed = blobs::referenced(dir.unwrap_or(Path::new(".")))
        .and_then(|keep| blobs.remove_unused(&keep));
    match removed {
        Ok(0) => {}
        Ok(n) => println!(
            "Removed {n} image{} no other session uses.",
            if n == 1 { "" } else { "s" }
        ),
        Err(e) => crate::render::style::warn(format_args!(
            "the session's images were kept in {}: {e}",
            blobs.dir().display()
        )),
    }
    Ok(ExitCode::Success)
}
