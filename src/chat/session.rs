//! A session tied to a running chat: which model and session a run starts with (new,
//! `--continue`, `--session`, `--fork`), saving every change to it, and the REPL's `/save NAME`,
//! `/session load NAME` and `/fork [N]`.

use tokio::runtime::Runtime;

use super::Chat;
use crate::backend::Backend;
use crate::config::{Config, SessionChoice};
use crate::conversation::Image;
use crate::error::ApiError;
use crate::session::blobs::Blobs;
use crate::session::catalog;
use crate::session::format::{Change, Event, Header};
use crate::session::load::Loaded;
use crate::session::state;
use crate::session::store::SessionWriter;
use crate::session::{short_id, SessionError};
use crate::untrusted::{sanitize_line, Untrusted};
use crate::UsageError;

/// Builds the run's chat: a resumed session with its history, model and options, or a new one
/// (saved in the REPL, and in one-shot mode only when `--session` asks). Warnings about the file
/// go to stderr at once; the returned lines are for a person at a terminal.
pub fn start_chat<'a>(
    rt: &Runtime,
    client: &'a Backend,
    config: &'a Config,
    interactive: bool,
) -> anyhow::Result<(Chat<'a>, Vec<String>)> {
    let sc = &config.session;
    let dir = sc.dir.as_deref();
    let choice = match &sc.choice {
        SessionChoice::Open(q) => at_turn(dir, q).unwrap_or_else(|| sc.choice.clone()),
        other => other.clone(),
    };
    let (loaded, new_at) = match &choice {
        SessionChoice::Off => (None, None),
        SessionChoice::New => (None, interactive.then_some(NewAt::Folder)),
        SessionChoice::Continue => (Some(catalog::most_recent(dir)?), None),
        SessionChoice::Open(q) => match catalog::find(dir, q) {
            Ok(l) => (Some(l), None),
            Err(SessionError::NotFound(_) | SessionError::NoFolder) => (None, Some(new_at(q))),
            Err(SessionError::Read { source, .. })
                if source.kind() == std::io::ErrorKind::NotFound =>
            {
                (None, Some(new_at(q)))
            }
            Err(e) => return Err(e.into()),
        },
        SessionChoice::Fork(q, turn) => {
            let parent = catalog::find(dir, q)?;
            for w in &parent.warnings {
                crate::render::style::warn(format_args!("{w}"));
            }
            let branch = Branch::of(&parent, *turn)?;
            let model = sc
                .model_flag
                .clone()
                .unwrap_or_else(|| branch.state.model.clone());
            let mut chat = Chat::new(client, config, model);
            let notice = branch.attach(&mut chat)?;
            apply_overrides(&mut chat, config);
            return Ok((chat, vec![notice]));
        }
    };
    if let Some(loaded) = loaded {
        let model = sc
            .model_flag
            .clone()
            .unwrap_or_else(|| loaded.state.model.clone());
        let mut chat = Chat::new(client, config, model);
        for w in &loaded.warnings {
            crate::render::style::warn(format_args!("{w}"));
        }
        let notice = resume_into(&mut chat, loaded)?;
        apply_overrides(&mut chat, config);
        return Ok((chat, vec![notice]));
    }

    let model = rt.block_on(pick_model(client, config.model.as_deref()))?;
    let mut chat = Chat::new(client, config, model);
    let header = Header {
        role: config.role.clone(),
        ..Header::new(
            &chat.model,
            client.base_url(),
            chat.conversation.system(),
            &chat.settings.options,
        )
    };
    let (writer, name) = match new_at {
        None => return Ok((chat, Vec::new())),
        Some(NewAt::Path(p)) => (SessionWriter::create(p, header), None),
        Some(at @ (NewAt::Folder | NewAt::Named(_))) => match dir {
            Some(d) => (
                SessionWriter::create_in(d, header),
                match at {
                    NewAt::Named(n) => Some(n),
                    _ => None,
                },
            ),
            None => {
                crate::render::style::warn(format_args!("{}", SessionError::NoFolder));
                return Ok((chat, Vec::new()));
            }
        },
    };
    chat.attach_session(writer, 0);
    if let Some(name) = name {
        let _ = chat.change(Change::Name { name });
    }
    Ok((chat, Vec::new()))
}

/// `--session ID:TURN` (as `sessions search` shows a hit) opens that session at that turn: its
/// last turn resumes it, an earlier one branches it there. `None` when `query` is not of that
/// form, names a session as it is (a name may hold a colon), or its session is not found.
fn at_turn(dir: Option<&std::path::Path>, query: &str) -> Option<SessionChoice> {
    let (session, Some(turn)) = crate::session::fork::parse_ref(query).ok()? else {
        return None;
    };
    if !matches!(catalog::find(dir, query), Err(SessionError::NotFound(_))) {
        return None;
    }
    let found = catalog::find(dir, session).ok()?;
    Some(match turn == found.state.turns {
        true => SessionChoice::Open(session.to_string()),
        false => SessionChoice::Fork(session.to_string(), Some(turn)),
    })
}

/// Where a new session goes.
enum NewAt {
    Folder,
    /// `--session work`: a new session in the folder, named so that next time finds it.
    Named(String),
    /// `--session notes/today.jsonl`: exactly there.
    Path(std::path::PathBuf),
}

fn new_at(query: &str) -> NewAt {
    if catalog::looks_like_path(query) {
        NewAt::Path(query.into())
    } else {
        NewAt::Named(query.to_string())
    }
}

/// Makes `chat` continue `loaded`: its history, model and options, appending to its file.
pub fn resume_into(chat: &mut Chat<'_>, loaded: Loaded) -> Result<String, SessionError> {
    if chat.session().map(SessionWriter::id) == Some(loaded.header.id) {
        return Ok(format!(
            "Already in session {}.",
            short_id(&loaded.header.id)
        ));
    }
    let mut conversation = loaded.state.conversation.clone();
    if let Some(path) = &loaded.path {
        let blobs = Blobs::beside(path);
        for image in conversation.images_mut() {
            *image = load_blob(&blobs, image)?;
        }
    }
    let writer = SessionWriter::resume(&loaded)?;
    let st = loaded.state;
    chat.model = st.model.clone();
    chat.settings.options = st.options.clone();
    chat.conversation = conversation;
    if st.role.is_some() {
        chat.settings.role = st.role.clone();
    }
    chat.attach_session(writer, u32::try_from(st.turns).unwrap_or(u32::MAX));
    let name = st
        .name
        .as_ref()
        .map(|n| format!(" \"{n}\""))
        .unwrap_or_default();
    let exchanges = st.conversation.user_turns();
    Ok(format!(
        "Resumed session {}{name} · {exchanges} exchange{} in the history · {} · last used {}",
        short_id(&st.id),
        if exchanges == 1 { "" } else { "s" },
        st.model,
        st.last_at
            .with_timezone(&chrono::Local)
            .format("%Y-%m-%d %H:%M"),
    ))
}

/// A new session branched from a saved one at a turn, ready to be continued.
pub struct Branch {
    header: Header,
    events: Vec<Event>,
    /// What the copied events add up to: exactly the parent's state at that turn.
    pub state: crate::session::SessionState,
}

impl Branch {
    /// The branch of `parent` at `turn` (its last turn when `None`); a turn it does not have is
    /// bad input.
    pub fn of(parent: &Loaded, turn: Option<usize>) -> Result<Branch, UsageError> {
        let (header, mut events) =
            crate::session::fork::branch(parent, turn).map_err(|e| UsageError(e.to_string()))?;
        // The records name their images; the branch sends them again, and its writer keeps
        // them in its own blob folder, so their bytes come from the parent's.
        if let Some(path) = &parent.path {
            let blobs = Blobs::beside(path);
            for e in &mut events {
                if let Change::User { images, .. } = &mut e.change {
                    for image in images.iter_mut() {
                        *image = load_blob(&blobs, image).map_err(|e| UsageError(e.to_string()))?;
                    }
                }
            }
        }
        let mut state = crate::session::SessionState::from_header(&header);
        for e in &events {
            // The parent loaded by these rules, so its first events apply again.
            state.apply(e).map_err(UsageError)?;
        }
        state.finish();
        Ok(Branch {
            header,
            events,
            state,
        })
    }

    /// Writes the branch to a new file in the sessions folder and makes `chat` continue it.
    pub fn attach(self, chat: &mut Chat<'_>) -> anyhow::Result<String> {
        let dir = chat
            .config
            .session
            .dir
            .as_deref()
            .ok_or(SessionError::NoFolder)?;
        let parent = self.header.parent.expect("a branch has a parent");
        let mut writer = SessionWriter::create_in(dir, self.header);
        for e in &self.events {
            writer.append(e)?;
        }
        writer.sync()?;
        let st = self.state;
        chat.model = st.model.clone();
        chat.settings.options = st.options.clone();
        chat.conversation = st.conversation.clone();
        chat.attach_session(writer, u32::try_from(st.turns).unwrap_or(u32::MAX));
        let exchanges = st.conversation.user_turns();
        Ok(format!(
            "Branched session {} from {} at turn {} · {exchanges} exchange{} in the history · {} · the old session stays as it was",
            short_id(&st.id),
            short_id(&parent.id),
            parent.turn,
            if exchanges == 1 { "" } else { "s" },
            st.model,
        ))
    }
}

/// `/fork [N]`: this session, branched at turn N (default: now), continued in the branch.
pub fn slash_fork(chat: &mut Chat<'_>, turn: Option<usize>) -> Result<String, String> {
    let path = match chat.session() {
        None => {
            return Err(
                "This chat is not being saved (--no-session), so it cannot be branched.".into(),
            )
        }
        Some(w) if !w.started() => {
            return Err("Nothing to branch yet: this session has no turns.".into())
        }
        Some(w) => w.path().to_path_buf(),
    };
    let parent = crate::session::load_file(&path).map_err(|e| e.to_string())?;
    let branch = Branch::of(&parent, turn).map_err(|e| e.to_string())?;
    branch.attach(chat).map_err(|e| e.to_string())
}

/// A session's image with its bytes read back from the blob folder (checked against its sha256),
/// so a resumed or re-run session sends the same image.
pub fn load_blob(blobs: &Blobs, image: &Image) -> Result<Image, SessionError> {
    let missing = |reason: String| SessionError::Blob {
        name: sanitize_line(&image.name).into_owned(),
        dir: blobs.dir().display().to_string(),
        reason,
    };
    let path = blobs
        .path(&image.sha256)
        .ok_or_else(|| missing(format!("{:?} is not a sha256", image.sha256)))?;
    let file = crate::paths::open_regular(&path).map_err(|e| missing(e.to_string()))?;
    let loaded = crate::attach::read::read_image(
        file,
        &image.name,
        &path.display().to_string(),
        image.size,
        u64::MAX,
    )
    .map_err(|e| missing(e.to_string()))?;
    if loaded.sha256 != image.sha256 {
        return Err(missing("its bytes no longer match their sha256".into()));
    }
    Ok(Image {
        data: loaded.data,
        ..image.clone()
    })
}

/// `-m`, `-s` and `-o` given with `--continue`/`--session` change the resumed session, and the
/// change is saved like any other.
fn apply_overrides(chat: &mut Chat<'_>, config: &Config) {
    let sc = &config.session;
    if let Some(m) = &sc.model_flag {
        // The chat already runs on it; the session must say so too.
        let _ = chat.change(Change::Model { model: m.clone() });
    }
    if let Some(s) = &sc.system_flag {
        if chat.conversation.system() != Some(s.as_str()) {
            let _ = chat.change(Change::Set {
                options: None,
                system: Some(Some(s.clone())),
            });
        }
    }
    if !sc.option_pairs.is_empty() {
        let mut options = chat.settings.options.clone();
        for pair in &sc.option_pairs {
            if let Some((k, _)) = pair.split_once('=') {
                options.unset(k.trim());
            }
        }
        // Already checked by `Config::resolve`.
        for pair in &sc.option_pairs {
            let _ = options.set_pair(pair);
        }
        if options != chat.settings.options {
            let _ = chat.change(Change::Set {
                options: Some(options),
                system: None,
            });
        }
    }
}

/// `/save NAME`: names the current session, so `--session NAME` and `/session load NAME` find it.
pub fn slash_save(chat: &mut Chat<'_>, arg: &str) -> String {
    let name = arg.trim();
    if name.is_empty() {
        return "Usage: /save NAME (names this session; unlike `ollama run`, it creates no model)"
            .into();
    }
    if chat.session().is_none() {
        return "This chat is not being saved (--no-session), so it cannot be named.".into();
    }
    let _ = chat.change(Change::Name {
        name: name.to_string(),
    });
    match chat.session() {
        Some(w) => format!("Saved as \"{name}\" ({})", w.path().display()),
        None => "The session could not be written; see the warning above.".into(),
    }
}

/// `/session` (where this chat is saved) and `/session load NAME|ID|FILE`.
pub fn slash_session(chat: &mut Chat<'_>, config: &Config, arg: &str) -> Result<String, String> {
    let mut words = arg.split_whitespace();
    match (words.next(), words.next()) {
        (None, _) => Ok(match chat.session() {
            Some(w) if w.started() => format!(
                "Session {} · saved to {}",
                short_id(&w.id()),
                w.path().display()
            ),
            Some(w) => format!(
                "Session {} · saved to {} from the first message on",
                short_id(&w.id()),
                w.path().display()
            ),
            None => "This chat is not being saved (--no-session).".into(),
        }),
        (Some("load"), Some(_)) => {
            let query = arg.trim()["load".len()..].trim();
            let dir = config.session.dir.as_deref();
            let query = match at_turn(dir, query) {
                Some(SessionChoice::Fork(session, turn)) => {
                    let parent = catalog::find(dir, &session).map_err(|e| e.to_string())?;
                    let branch = Branch::of(&parent, turn).map_err(|e| e.to_string())?;
                    return branch.attach(chat).map_err(|e| e.to_string());
                }
                Some(SessionChoice::Open(session)) => session,
                _ => query.to_string(),
            };
            let loaded = catalog::find(dir, &query).map_err(|e| e.to_string())?;
            let mut lines = loaded.warnings.clone();
            lines.push(resume_into(chat, loaded).map_err(|e| e.to_string())?);
            Ok(lines.join("\n"))
        }
        _ => {
            Err("Usage: /session (where this chat is saved) or /session load NAME|ID[:TURN]".into())
        }
    }
}

impl Chat<'_> {
    /// From now on every turn and change is saved by `writer`; the log uses the session's id and
    /// numbers turns on from `turns_so_far`.
    pub fn attach_session(&mut self, writer: SessionWriter, turns_so_far: u32) {
        self.session_id = writer.id();
        self.turns = turns_so_far;
        self.session = Some(writer);
    }

    pub fn session(&self) -> Option<&SessionWriter> {
        self.session.as_ref()
    }

    /// Changes the chat's state by the same rule a session file is loaded with, and saves the
    /// change, so a resumed session is exactly this one.
    pub fn change(&mut self, change: Change) -> Result<(), String> {
        state::apply(
            state::Core {
                model: &mut self.model,
                options: &mut self.settings.options,
                conversation: &mut self.conversation,
            },
            &change,
        )?;
        self.save(Event::now(change), true);
        Ok(())
    }

    /// Appends to the session file; after the first failure the chat goes on unsaved, said once.
    pub(super) fn save(&mut self, event: Event, sync: bool) {
        let Some(writer) = self.session.as_mut() else {
            return;
        };
        let written = writer.append(&event);
        let notice = writer.take_notice();
        if let Some(notice) = notice {
            self.note(&notice);
        }
        let Some(writer) = self.session.as_mut() else {
            return;
        };
        if let Err(e) = written.and_then(|()| if sync { writer.sync() } else { Ok(()) }) {
            crate::render::style::warn(format_args!("{e}; this chat is no longer being saved"));
            self.session = None;
            self.lost("the session");
        }
    }
}

/// Picks the model: the configured one, else the only one the server offers.
pub async fn pick_model(
    backend: &Backend,
    configured: Option<&str>,
) -> Result<String, ModelChoice> {
    if let Some(m) = configured {
        return Ok(m.to_string());
    }
    let mut names = backend.list_models().await.map_err(ModelChoice::Api)?;
    match names.len() {
        0 => Err(ModelChoice::NoneInstalled {
            url: backend.base_url().to_string(),
            can_pull: backend.capabilities().manage_models,
        }),
        1 => Ok(names.remove(0).into_raw()),
        _ => Err(ModelChoice::Ambiguous { names }),
    }
}

/// Why no model could be chosen.
#[derive(Debug, thiserror::Error)]
pub enum ModelChoice {
    #[error("{}", none_installed(.url, *.can_pull))]
    NoneInstalled { url: String, can_pull: bool },
    #[error("several models are available; choose one with --model or OLLAMA_CHAT_MODEL: {}", join(.names))]
    Ambiguous { names: Vec<Untrusted> },
    #[error(transparent)]
    Api(ApiError),
}

/// Names from the server, sanitised, comma-separated.
fn join(names: &[Untrusted]) -> String {
    let shown: Vec<String> = names.iter().map(Untrusted::to_string).collect();
    shown.join(", ")
}

fn none_installed(url: &str, can_pull: bool) -> String {
    if can_pull {
        format!("no models are installed on {url}; pull one first, e.g. `ollama pull llama3.2`")
    } else {
        format!("the server at {url} lists no models; name one with --model")
    }
}
