//! Branching a session (`/fork`, `--fork`): which of its events make up its history at a turn, and
//! the new session's header. Pure; `chat::session` writes the branch and continues it.
//!
//! A branch's file starts with a copy of those events under the parent's own header (with a new
//! id and the parent link), so it loads by the very rules the parent does into exactly the
//! history the parent had, and stands alone if the parent is deleted.

use chrono::Utc;

use super::format::{Change, Event, Header, Parent};
use super::load::Loaded;
use super::short_id;

/// Why a session cannot be branched as asked.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ForkError {
    #[error("session {id} has {turns} turn{}; branch it at 0 to {turns}", if *.turns == 1 { "" } else { "s" })]
    NoSuchTurn { id: String, turns: usize },
    #[error("{0:?} is not a turn number: use SESSION:TURN, e.g. 3f2a9c1e:4")]
    BadTurn(String),
}

/// The number of events before turn `turn + 1` was sent: every event up to the next user
/// message, but not the `retry` that announces it (that belongs to the next turn). Turn 0 is
/// the start; the last turn is the whole session.
pub fn cut(events: &[Event], turn: usize) -> Option<usize> {
    let mut users = 0;
    for (i, e) in events.iter().enumerate() {
        if let Change::User { .. } = e.change {
            if users == turn {
                let retry = i > 0 && events[i - 1].change == Change::Retry;
                return Some(if retry { i - 1 } else { i });
            }
            users += 1;
        }
    }
    (users == turn).then_some(events.len())
}

/// The branch of `l` at `turn` (its last turn when `None`): a header and the events to copy.
/// The parent's name is not copied, so that finding the name still finds the parent.
pub fn branch(l: &Loaded, turn: Option<usize>) -> Result<(Header, Vec<Event>), ForkError> {
    let turns = l.state.turns;
    let turn = turn.unwrap_or(turns);
    let end = cut(&l.events, turn).ok_or_else(|| ForkError::NoSuchTurn {
        id: short_id(&l.header.id),
        turns,
    })?;
    let events: Vec<Event> = l.events[..end]
        .iter()
        .filter(|e| !matches!(e.change, Change::Name { .. }))
        .cloned()
        .collect();
    let fresh = Header::new("", "", None, &Default::default());
    let header = Header {
        id: fresh.id,
        created: Utc::now(),
        client: fresh.client,
        rerun_of: None,
        parent: Some(Parent {
            id: l.header.id,
            turn,
            events: events.len(),
        }),
        ..l.header.clone()
    };
    Ok((header, events))
}

/// Splits `SESSION[:TURN]`: a colon followed by digits at the end is the turn; anything else
/// after a colon is an error only when it looks like a number was meant.
pub fn parse_ref(s: &str) -> Result<(&str, Option<usize>), ForkError> {
    match s.rsplit_once(':') {
        Some((session, turn)) if !session.is_empty() && !turn.is_empty() => {
            if turn.bytes().all(|b| b.is_ascii_digit()) {
                let n = turn.parse().map_err(|_| ForkError::BadTurn(turn.into()))?;
                Ok((session, Some(n)))
            } else if turn.starts_with(|c: char| c.is_ascii_digit() || c == '-') {
                Err(ForkError::BadTurn(turn.into()))
            } else {
                Ok((s, None))
            }
        }
        _ => Ok((s, None)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::options::Options;
    use crate::session::format::{event_line, header_line, Reply};
    use crate::session::load::parse;
    use crate::session::state::SessionState;

    fn reply(c: &str) -> Change {
        Change::Assistant(Reply::ok(c, ""))
    }

    fn user(c: &str) -> Change {
        Change::User {
            content: c.into(),
            images: Vec::new(),
        }
    }

    /// A session with every kind of event between its turns.
    fn recorded() -> Loaded {
        let h = Header::new("a", "h", Some("sys"), &Options::default());
        let mut o = Options::default();
        o.set("temperature", "0.2").unwrap();
        let changes = vec![
            Change::Name {
                name: "work".into(),
            },
            user("q1"),
            reply("a1"),
            Change::Model { model: "b".into() },
            user("q2"),
            reply("bad"),
            Change::Retry,
            user("q2"),
            reply("a2"),
            Change::Set {
                options: Some(o),
                system: Some(Some("new sys".into())),
            },
            user("q4"),
            reply(""),
            user("q5"),
            reply("a5"),
            Change::Undo,
            Change::Clear,
            user("q6"),
            reply("a6"),
            Change::Context {
                dropped: vec![1, 2],
                summary: Some("earlier".into()),
            },
            user("q7 in flight"),
        ];
        let mut text = header_line(&h) + "\n";
        for c in changes {
            text += &(event_line(&Event::now(c)) + "\n");
        }
        parse(text.as_bytes(), None).unwrap()
    }

    /// What the parent's state was when turn `turn + 1` began (its user message, or the
    /// retry that re-sends one): an oracle written apart from `cut`.
    fn state_before_turn(l: &Loaded, turn: usize) -> SessionState {
        let mut st = SessionState::from_header(&l.header);
        let mut started = 0;
        for (i, e) in l.events.iter().enumerate() {
            let starts = match e.change {
                Change::Retry => true,
                Change::User { .. } => i == 0 || l.events[i - 1].change != Change::Retry,
                _ => false,
            };
            if starts {
                if started == turn {
                    break;
                }
                started += 1;
            }
            st.apply(e).unwrap();
        }
        st.finish();
        st
    }

    #[test]
    fn a_branch_at_every_turn_has_the_history_the_parent_had() {
        let l = recorded();
        assert_eq!(l.state.turns, 7);
        for turn in 0..=l.state.turns {
            let (h, events) = branch(&l, Some(turn)).unwrap();
            let mut text = header_line(&h) + "\n";
            for e in &events {
                text += &(event_line(e) + "\n");
            }
            let b = parse(text.as_bytes(), None).unwrap();
            let want = state_before_turn(&l, turn);
            assert_eq!(b.state.messages(), want.messages(), "turn {turn}");
            assert_eq!(b.state.model, want.model, "turn {turn}");
            assert_eq!(b.state.options, want.options, "turn {turn}");
            assert_eq!(
                b.state.turns, turn,
                "the branch goes on numbering from {turn}"
            );
            assert_eq!(b.state.name, None, "the name stays with the parent");
            let p = b.header.parent.unwrap();
            assert_eq!((p.id, p.turn, p.events), (l.header.id, turn, events.len()));
            assert_ne!(b.header.id, l.header.id);
        }
        assert_eq!(branch(&l, None).unwrap().0.parent.unwrap().turn, 7);
        let err = branch(&l, Some(8)).unwrap_err();
        assert!(
            err.to_string().contains("has 7 turns; branch it at 0 to 7"),
            "{err}"
        );
    }

    #[test]
    fn a_retried_turn_is_cut_before_its_retry() {
        let l = recorded();
        let (_, events) = branch(&l, Some(2)).unwrap();
        assert!(!events.iter().any(|e| e.change == Change::Retry));
        assert_eq!(events.last().unwrap().change, reply("bad"));
    }

    #[test]
    fn refs() {
        assert_eq!(parse_ref("3f2a9c1e:4"), Ok(("3f2a9c1e", Some(4))));
        assert_eq!(parse_ref("3f2a9c1e"), Ok(("3f2a9c1e", None)));
        assert_eq!(parse_ref("work:0"), Ok(("work", Some(0))));
        assert_eq!(parse_ref("notes/a.jsonl:2"), Ok(("notes/a.jsonl", Some(2))));
        assert_eq!(parse_ref("team:alpha"), Ok(("team:alpha", None)));
        assert_eq!(parse_ref(":3"), Ok((":3", None)));
        assert_eq!(parse_ref("x:"), Ok(("x:", None)));
        assert!(matches!(parse_ref("x:-1"), Err(ForkError::BadTurn(_))));
        assert!(matches!(parse_ref("x:3a"), Err(ForkError::BadTurn(_))));
        assert!(matches!(
            parse_ref("x:99999999999999999999999"),
            Err(ForkError::BadTurn(_))
        ));
    }
}
