//! What a session's events add up to: the model, options and history a chat resumes with. Pure; the
//! same rules serve loading a file and applying a change to a live chat.

use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::format::{Change, Event, Header, Parent};
use crate::conversation::Conversation;
use crate::conversation::{Message, Role};
use crate::options::Options;

/// The state a session file describes after its last event.
#[derive(Debug, Clone, PartialEq)]
pub struct SessionState {
    pub id: Uuid,
    pub name: Option<String>,
    /// The role in use: the header's, or the last `role` event's.
    pub role: Option<String>,
    pub created: DateTime<Utc>,
    /// When the last event happened (the header's time if none).
    pub last_at: DateTime<Utc>,
    pub host: String,
    pub model: String,
    pub options: Options,
    /// The history exactly as the next request would send it (system prompt first, if any), and
    /// the messages the context policy took out of it.
    pub conversation: Conversation,
    /// User messages sent, including ones later cleared or undone.
    pub turns: usize,
    pub first_user_line: Option<String>,
    pub rerun_of: Option<Uuid>,
    /// The session this one branched from, and at which turn.
    pub parent: Option<Parent>,
}

/// The parts of a chat that events change; borrowed so a live chat and a loader share the rules.
pub struct Core<'a> {
    pub model: &'a mut String,
    pub options: &'a mut Options,
    pub conversation: &'a mut Conversation,
}

impl SessionState {
    pub fn from_header(h: &Header) -> Self {
        SessionState {
            id: h.id,
            name: None,
            role: h.role.clone(),
            created: h.created,
            last_at: h.created,
            host: h.host.clone(),
            model: h.model.clone(),
            options: h.options.clone(),
            conversation: Conversation::new(h.system.clone()),
            turns: 0,
            first_user_line: None,
            rerun_of: h.rerun_of,
            parent: h.parent,
        }
    }

    /// Applies one event; an event that cannot follow the ones before is an error.
    pub fn apply(&mut self, e: &Event) -> Result<(), String> {
        self.last_at = e.at;
        match &e.change {
            Change::Name { name } => self.name = Some(name.clone()),
            Change::Role { role } => self.role = Some(role.clone()),
            Change::User { content, .. } => {
                self.turns += 1;
                if self.first_user_line.is_none() {
                    let first = content.lines().find(|l| !l.trim().is_empty());
                    self.first_user_line = first.map(|l| l.trim().to_string());
                }
            }
            _ => {}
        }
        apply(
            Core {
                model: &mut self.model,
                options: &mut self.options,
                conversation: &mut self.conversation,
            },
            &e.change,
        )
    }

    /// Called after the last event: a user message still waiting for its reply was in flight
    /// when the program stopped, so (as in a live chat whose turn failed) it is not history.
    pub fn finish(&mut self) -> bool {
        self.conversation.pop_unanswered().is_some()
    }

    /// The history the next request would send.
    pub fn messages(&self) -> &[Message] {
        self.conversation.messages()
    }

    pub fn system(&self) -> Option<&str> {
        self.conversation.system()
    }
}

/// How one change alters the model, options and history.
pub fn apply(core: Core<'_>, change: &Change) -> Result<(), String> {
    let conversation = core.conversation;
    match change {
        Change::User { content, images } => {
            conversation.pop_unanswered();
            // The images as named; their bytes come from the blob folder when the chat resumes.
            conversation.push_user_with(content.clone(), images.clone());
        }
        Change::Assistant(reply) => {
            if !matches!(conversation.last_role(), Some(Role::User | Role::Tool)) {
                return Err("a reply without a user message before it".into());
            }
            if reply.joins_history() {
                conversation.push_message(reply.message());
            } else {
                conversation.pop_unanswered();
            }
        }
        Change::Tool(t) => {
            let asked = conversation
                .messages()
                .iter()
                .rev()
                .find(|m| m.role != Role::Tool)
                .filter(|m| m.role == Role::Assistant);
            if !asked.is_some_and(|m| m.tool_calls.iter().any(|c| c.name == t.name)) {
                return Err(format!(
                    "a result of {} without a call of it before it",
                    t.name
                ));
            }
            conversation.push_message(t.message());
        }
        Change::Clear => conversation.clear(),
        Change::Set { options, system } => {
            if let Some(o) = options {
                *core.options = o.clone();
            }
            if let Some(s) = system {
                conversation.set_system(s.clone());
            }
        }
        Change::Model { model } => *core.model = model.clone(),
        Change::Undo | Change::Retry => {
            conversation.pop_exchange();
        }
        Change::Name { .. } | Change::Role { .. } => {}
        Change::Context { dropped, summary } => {
            conversation.leave_out(dropped, summary.as_deref())?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::conversation::TurnStatus;
    use crate::session::format::Reply;

    fn state(system: Option<&str>) -> SessionState {
        SessionState::from_header(&Header::new("m", "h", system, &Options::default()))
    }

    fn reply(content: &str, status: TurnStatus) -> Change {
        Change::Assistant(Reply {
            status,
            latency: 1.0,
            ..Reply::ok(content, "")
        })
    }

    fn user(s: &str) -> Change {
        Change::User {
            content: s.into(),
            images: Vec::new(),
        }
    }

    fn run(st: &mut SessionState, changes: Vec<Change>) -> Result<(), String> {
        for c in changes {
            st.apply(&Event::now(c))?;
        }
        Ok(())
    }

    fn contents(st: &SessionState) -> Vec<String> {
        st.messages()
            .iter()
            .map(|m| format!("{:?}:{}", m.role, m.content))
            .collect()
    }

    fn tool(name: &str, content: &str) -> Change {
        Change::Tool(crate::session::format::ToolRecord {
            name: name.into(),
            call_id: Some("c1".into()),
            approval: crate::conversation::Approval::Yes,
            status: crate::conversation::ToolStatus::Ok,
            content: content.into(),
            duration: 0.01,
        })
    }

    #[test]
    fn tool_calls_and_results_rebuild_the_history_and_undo_takes_them_back() {
        let mut st = state(None);
        let Change::Assistant(mut asked) = reply("", TurnStatus::Ok) else {
            unreachable!()
        };
        asked.thinking = "需要读文件".into();
        asked.tool_calls.push(crate::conversation::ToolCall {
            id: Some("c1".into()),
            name: "read_file".into(),
            arguments: serde_json::json!({"path": "笔记.txt"}),
        });
        run(
            &mut st,
            vec![
                user("读一下"),
                Change::Assistant(asked),
                tool("read_file", "内容"),
                reply("它说：内容", TurnStatus::Ok),
            ],
        )
        .unwrap();
        assert_eq!(
            contents(&st),
            [
                "User:读一下",
                "Assistant:",
                "Tool:内容",
                "Assistant:它说：内容"
            ]
        );
        let m = &st.messages()[1];
        assert_eq!(m.tool_calls[0].name, "read_file");
        assert_eq!(
            m.thinking.as_deref(),
            Some("需要读文件"),
            "kept with its calls"
        );
        let r = st.messages()[2].tool_result.as_ref().unwrap();
        assert_eq!(
            (r.name.as_str(), r.call_id.as_deref()),
            ("read_file", Some("c1"))
        );
        run(&mut st, vec![Change::Undo]).unwrap();
        assert!(contents(&st).is_empty());
    }

    #[test]
    fn a_tool_result_without_its_call_is_refused() {
        let mut st = state(None);
        assert!(run(&mut st, vec![user("q"), tool("now", "x")]).is_err());
        let mut st = state(None);
        let err = run(
            &mut st,
            vec![user("q"), reply("a", TurnStatus::Ok), tool("now", "x")],
        );
        assert!(err.unwrap_err().contains("without a call"));
    }

    #[test]
    fn exchanges_clear_and_undo() {
        let mut st = state(Some("sys"));
        run(
            &mut st,
            vec![
                user("q1"),
                reply("a1", TurnStatus::Ok),
                user("q2"),
                reply("a2", TurnStatus::Ok),
                Change::Undo,
            ],
        )
        .unwrap();
        assert_eq!(contents(&st), ["System:sys", "User:q1", "Assistant:a1"]);
        run(&mut st, vec![Change::Clear]).unwrap();
        assert_eq!(contents(&st), ["System:sys"]);
        assert_eq!(st.turns, 2);
        assert_eq!(st.first_user_line.as_deref(), Some("q1"));
    }

    #[test]
    fn failed_and_partial_replies_follow_the_live_rules() {
        let mut st = state(None);
        run(
            &mut st,
            vec![
                user("q1"),
                reply("", TurnStatus::Error),
                user("q1"),
                reply("half", TurnStatus::Cancelled),
            ],
        )
        .unwrap();
        assert_eq!(contents(&st), ["User:q1", "Assistant:half"]);
    }

    #[test]
    fn retry_removes_the_exchange_before_it_is_sent_again() {
        let mut st = state(None);
        run(
            &mut st,
            vec![
                user("q1"),
                reply("bad", TurnStatus::Ok),
                Change::Retry,
                user("q1"),
                reply("good", TurnStatus::Ok),
            ],
        )
        .unwrap();
        assert_eq!(contents(&st), ["User:q1", "Assistant:good"]);
    }

    #[test]
    fn an_unanswered_message_is_not_history() {
        let mut st = state(None);
        run(&mut st, vec![user("in flight")]).unwrap();
        assert!(st.finish());
        assert!(st.messages().is_empty());
        // …and a crash mid-turn followed by a resumed chat.
        run(
            &mut st,
            vec![user("lost"), user("q"), reply("a", TurnStatus::Ok)],
        )
        .unwrap();
        assert_eq!(contents(&st), ["User:q", "Assistant:a"]);
    }

    #[test]
    fn set_model_and_name() {
        let mut st = state(Some("old"));
        let mut o = Options::default();
        o.set("temperature", "0.5").unwrap();
        run(
            &mut st,
            vec![
                Change::Set {
                    options: Some(o.clone()),
                    system: Some(Some("new".into())),
                },
                Change::Model { model: "x".into() },
                Change::Name { name: "n".into() },
            ],
        )
        .unwrap();
        assert_eq!(st.system(), Some("new"));
        assert_eq!(st.options, o);
        assert_eq!(st.model, "x");
        assert_eq!(st.name.as_deref(), Some("n"));
        run(
            &mut st,
            vec![Change::Set {
                options: None,
                system: Some(None),
            }],
        )
        .unwrap();
        assert_eq!(st.system(), None);
        assert_eq!(st.options, o);
    }

    #[test]
    fn context_drops_and_summarises() {
        let mut st = state(Some("sys"));
        run(
            &mut st,
            vec![
                user("q1"),
                reply("a1", TurnStatus::Ok),
                user("q2"),
                reply("a2", TurnStatus::Ok),
                Change::Context {
                    dropped: vec![1, 2],
                    summary: Some("they said hello".into()),
                },
            ],
        )
        .unwrap();
        assert_eq!(
            contents(&st),
            [
                "System:sys",
                "System:Summary of the earlier part of this conversation:\nthey said hello",
                "User:q2",
                "Assistant:a2"
            ]
        );
        let bad = |d: Vec<usize>| {
            let mut s = st.clone();
            s.apply(&Event::now(Change::Context {
                dropped: d,
                summary: None,
            }))
            .is_err()
        };
        assert!(bad(vec![9]));
        assert!(bad(vec![2, 1]));
        assert!(bad(vec![1, 1]));
        assert!(!bad(vec![]));
    }

    #[test]
    fn a_reply_needs_a_question() {
        let mut st = state(None);
        assert!(run(&mut st, vec![reply("a", TurnStatus::Ok)]).is_err());
    }
}
