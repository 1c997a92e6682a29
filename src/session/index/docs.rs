//! What of a loaded session goes into the index: a summary for the list, and one document per
//! message for search. Pure.

use std::path::PathBuf;

use chrono::{DateTime, Utc};
use uuid::Uuid;

use crate::session::format::{Change, Parent};
use crate::session::Loaded;

/// Who said a message. Thinking is searched only when asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Role {
    System = 0,
    User = 1,
    Assistant = 2,
    Thinking = 3,
}

impl Role {
    pub const ALL: [Role; 4] = [Role::System, Role::User, Role::Assistant, Role::Thinking];

    pub fn name(self) -> &'static str {
        match self {
            Role::System => "system",
            Role::User => "user",
            Role::Assistant => "assistant",
            Role::Thinking => "thinking",
        }
    }

    /// Parses `--role`.
    pub fn parse(s: &str) -> Result<Role, String> {
        let s = s.trim().to_ascii_lowercase();
        Role::ALL
            .into_iter()
            .find(|r| r.name() == s)
            .ok_or_else(|| format!("--role takes user, assistant, system or thinking, not {s:?}"))
    }

    pub fn from_code(code: i64) -> Option<Role> {
        Role::ALL.into_iter().find(|r| *r as i64 == code)
    }
}

/// One searchable message: where it is in the file and what it says.
#[derive(Debug, Clone, PartialEq)]
pub struct Doc<'a> {
    /// The event's index in the file (`-1`: the header's system prompt).
    pub seq: i64,
    /// The user turn it belongs to (1 = the first user message; 0 = before any).
    pub turn: usize,
    pub role: Role,
    /// Milliseconds since the epoch.
    pub at: i64,
    /// The model the session was on at that point.
    pub model: &'a str,
    pub text: &'a str,
}

/// Every message of `l` worth finding. A branch's events copied from its parent are left out:
/// they are found in the parent, not once more in every branch.
pub fn documents(l: &Loaded) -> Vec<Doc<'_>> {
    let skip = l.header.parent.map_or(0, |p| p.events);
    let mut model = l.header.model.as_str();
    let mut turn = 0;
    let mut out = Vec::new();
    if skip == 0 {
        if let Some(s) = l.header.system.as_deref().filter(|s| !s.trim().is_empty()) {
            out.push(Doc {
                seq: -1,
                turn,
                role: Role::System,
                at: l.header.created.timestamp_millis(),
                model,
                text: s,
            });
        }
    }
    for (i, e) in l.events.iter().enumerate() {
        let texts: [Option<(Role, &str)>; 2] = match &e.change {
            Change::Model { model: m } => {
                model = m;
                [None, None]
            }
            Change::User { content, .. } => {
                turn += 1;
                [Some((Role::User, content)), None]
            }
            Change::Assistant(r) => [
                Some((Role::Assistant, &r.content)),
                Some((Role::Thinking, &r.thinking)),
            ],
            Change::Set {
                system: Some(Some(s)),
                ..
            } => [Some((Role::System, s)), None],
            _ => [None, None],
        };
        for (role, text) in texts.into_iter().flatten() {
            if i >= skip && !text.trim().is_empty() {
                out.push(Doc {
                    seq: i as i64,
                    turn,
                    role,
                    at: e.at.timestamp_millis(),
                    model,
                    text,
                });
            }
        }
    }
    out
}

/// The text of the document at `seq` with `role`, as [`documents`] numbered it.
pub fn text_at(l: &Loaded, seq: i64, role: Role) -> Option<&str> {
    if seq < 0 {
        return l.header.system.as_deref();
    }
    text_of(&l.events.get(usize::try_from(seq).ok()?)?.change, role)
}

/// The text of one event's document with `role`, if it has one.
pub fn text_of(change: &Change, role: Role) -> Option<&str> {
    match (change, role) {
        (Change::User { content, .. }, Role::User) => Some(content),
        (Change::Assistant(r), Role::Assistant) => Some(&r.content),
        (Change::Assistant(r), Role::Thinking) => Some(&r.thinking),
        (
            Change::Set {
                system: Some(Some(s)),
                ..
            },
            Role::System,
        ) => Some(s),
        _ => None,
    }
}

/// What the list, `--continue`, finding by name and the branch tree need of a session, kept
/// in the index so that none of them parses every file.
#[derive(Debug, Clone, PartialEq)]
pub struct Summary {
    pub path: PathBuf,
    pub id: Uuid,
    pub name: Option<String>,
    pub created: DateTime<Utc>,
    pub last_at: DateTime<Utc>,
    pub model: String,
    pub turns: usize,
    pub first_user_line: Option<String>,
    pub parent: Option<Parent>,
}

impl Summary {
    pub fn of(l: &Loaded, path: PathBuf) -> Summary {
        let st = &l.state;
        Summary {
            path,
            id: st.id,
            name: st.name.clone(),
            created: st.created,
            last_at: st.last_at,
            model: st.model.clone(),
            turns: st.turns,
            first_user_line: st.first_user_line.clone(),
            parent: st.parent,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::options::Options;
    use crate::session::format::{event_line, header_line, Event, Header, Reply};
    use crate::session::load::parse;

    fn reply(content: &str, thinking: &str) -> Change {
        Change::Assistant(Reply::ok(content, thinking))
    }

    fn file(h: &Header, changes: Vec<Change>) -> Loaded {
        let mut text = header_line(h) + "\n";
        for c in changes {
            text += &(event_line(&Event::now(c)) + "\n");
        }
        parse(text.as_bytes(), None).unwrap()
    }

    fn user(s: &str) -> Change {
        Change::User {
            content: s.into(),
            images: Vec::new(),
        }
    }

    #[test]
    fn every_message_with_its_turn_role_and_model() {
        let h = Header::new("a", "h", Some("老師"), &Options::default());
        let l = file(
            &h,
            vec![
                user("q1"),
                reply("a1", "hmm"),
                Change::Model { model: "b".into() },
                user("  "),
                reply("", ""),
                Change::Set {
                    options: None,
                    system: Some(Some("new sys".into())),
                },
                user("q3"),
            ],
        );
        let got: Vec<_> = documents(&l)
            .iter()
            .map(|d| {
                (
                    d.seq,
                    d.turn,
                    d.role,
                    d.model.to_string(),
                    d.text.to_string(),
                )
            })
            .collect();
        let row =
            |seq, turn, role, m: &str, t: &str| (seq, turn, role, m.to_string(), t.to_string());
        assert_eq!(
            got,
            vec![
                row(-1, 0, Role::System, "a", "老師"),
                row(0, 1, Role::User, "a", "q1"),
                row(1, 1, Role::Assistant, "a", "a1"),
                row(1, 1, Role::Thinking, "a", "hmm"),
                row(5, 2, Role::System, "b", "new sys"),
                row(6, 3, Role::User, "b", "q3"),
            ]
        );
        for d in documents(&l) {
            assert_eq!(text_at(&l, d.seq, d.role), Some(d.text));
        }
        assert_eq!(text_at(&l, 0, Role::Assistant), None);
        assert_eq!(text_at(&l, 99, Role::User), None);
    }

    #[test]
    fn a_branch_leaves_out_what_it_copied() {
        let mut h = Header::new("a", "h", Some("sys"), &Options::default());
        h.parent = Some(Parent {
            id: Uuid::nil(),
            turn: 1,
            events: 3,
        });
        let l = file(
            &h,
            vec![
                user("old"),
                reply("old answer", ""),
                Change::Model { model: "b".into() },
                user("new"),
            ],
        );
        let docs = documents(&l);
        assert_eq!(docs.len(), 1);
        assert_eq!((docs[0].turn, docs[0].model, docs[0].text), (2, "b", "new"));
    }

    #[test]
    fn roles_parse() {
        assert_eq!(Role::parse(" User "), Ok(Role::User));
        assert_eq!(Role::parse("thinking"), Ok(Role::Thinking));
        assert!(Role::parse("").is_err());
        assert!(Role::parse("tool").unwrap_err().contains("--role takes"));
        assert_eq!(Role::from_code(2), Some(Role::Assistant));
        assert_eq!(Role::from_code(9), None);
    }
}
