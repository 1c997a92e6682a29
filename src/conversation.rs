//! The `messages` history that is sent whole on every turn, with what is known about each message
//! (its token count) and the messages the context policy took out of it: pure data, no I/O.

use std::ops::Range;

use serde::Serialize;

use crate::ollama::wire::{Message, Role};

/// The chat so far. A system prompt, when there is one, is always the first message, so the history
/// can be sent as one borrowed slice. `meta` runs parallel to `messages`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Conversation {
    messages: Vec<Message>,
    meta: Vec<MessageMeta>,
    archived: Vec<Archived>,
}

/// What the client knows about one message besides its text.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct MessageMeta {
    /// Its size as Ollama counted it (template overhead included); `None` until a reply's
    /// `prompt_eval_count`/`eval_count` said, when estimates stand in.
    pub tokens: Option<u64>,
    /// A note that replaced older messages (a system message written by the summarize strategy).
    pub summary: bool,
}

/// Why a message is no longer sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Mark {
    /// The truncate strategy left it out.
    Dropped,
    /// The summarize strategy folded it into a note.
    Summarised,
}

/// A message taken out of the request, kept so nothing is lost from the record.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Archived {
    pub message: Message,
    pub meta: MessageMeta,
    pub mark: Mark,
    /// The turn whose request first went without it.
    pub turn: u32,
}

impl Conversation {
    pub fn new(system: Option<String>) -> Self {
        let mut c = Conversation::default();
        if let Some(s) = system {
            c.set_system(Some(s));
        }
        c
    }

    /// Exactly what goes into the request's `messages`.
    pub fn messages(&self) -> &[Message] {
        &self.messages
    }

    /// What is known about each of `messages()`, index for index.
    pub fn meta(&self) -> &[MessageMeta] {
        &self.meta
    }

    /// Messages no longer sent (dropped or summarised), oldest first.
    pub fn archived(&self) -> &[Archived] {
        &self.archived
    }

    pub fn system(&self) -> Option<&str> {
        self.messages
            .first()
            .filter(|m| m.role == Role::System && !self.meta[0].summary)
            .map(|m| m.content.as_str())
    }

    /// Replaces the system prompt (never adds a second one), or removes it with `None`.
    pub fn set_system(&mut self, system: Option<String>) {
        let has = self.system().is_some();
        match (system, has) {
            (Some(s), true) => {
                self.messages[0].content = s;
                self.meta[0] = MessageMeta::default();
            }
            (Some(s), false) => {
                self.insert(0, Message::new(Role::System, s), MessageMeta::default())
            }
            (None, true) => {
                self.messages.remove(0);
                self.meta.remove(0);
            }
            (None, false) => {}
        }
    }

    pub fn push_user(&mut self, text: impl Into<String>) {
        self.push(Message::new(Role::User, text));
    }

    pub fn push_assistant(&mut self, text: impl Into<String>) {
        self.push(Message::new(Role::Assistant, text));
    }

    fn push(&mut self, message: Message) {
        self.messages.push(message);
        self.meta.push(MessageMeta::default());
    }

    fn insert(&mut self, at: usize, message: Message, meta: MessageMeta) {
        self.messages.insert(at, message);
        self.meta.insert(at, meta);
    }

    /// Records a message's size as the server counted it.
    pub fn set_tokens(&mut self, index: usize, tokens: u64) {
        if let Some(m) = self.meta.get_mut(index) {
            m.tokens = Some(tokens);
        }
    }

    /// Moves `range` out of the request into the archive, marked, and returns where it went there.
    pub fn archive(&mut self, range: Range<usize>, mark: Mark, turn: u32) -> Range<usize> {
        let first = self.archived.len();
        let metas: Vec<MessageMeta> = self.meta.drain(range.clone()).collect();
        for (message, meta) in self.messages.drain(range).zip(metas) {
            self.archived.push(Archived {
                message,
                meta,
                mark,
                turn,
            });
        }
        first..self.archived.len()
    }

    /// Puts a summary note at `at` (right after the system prompt, before what it did not cover).
    pub fn insert_summary(&mut self, at: usize, text: String, tokens: Option<u64>) {
        let meta = MessageMeta {
            tokens,
            summary: true,
        };
        self.insert(at, Message::new(Role::System, text), meta);
    }

    /// Takes back the last message if it is an unanswered user message (a turn that got no reply),
    /// returning its text so it can be offered again.
    pub fn pop_unanswered(&mut self) -> Option<String> {
        if self.messages.last().is_some_and(|m| m.role == Role::User) {
            self.meta.pop();
            self.messages.pop().map(|m| m.content)
        } else {
            None
        }
    }

    /// Empties the conversation, archive included; the system prompt stays.
    pub fn clear(&mut self) {
        let keep = usize::from(self.system().is_some());
        self.messages.truncate(keep);
        self.meta.truncate(keep);
        self.archived.clear();
    }

    /// Number of user messages, i.e. exchanges started.
    pub fn user_turns(&self) -> usize {
        self.messages
            .iter()
            .filter(|m| m.role == Role::User)
            .count()
    }

    pub fn is_empty(&self) -> bool {
        self.messages.iter().all(|m| m.role == Role::System)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn system_prompt_stays_first_and_single() {
        let mut c = Conversation::new(Some("be brief".into()));
        c.push_user("hi");
        c.push_assistant("hello");
        c.set_system(Some("be verbose".into()));
        assert_eq!(c.messages().len(), 3);
        assert_eq!(c.system(), Some("be verbose"));
        c.set_system(None);
        assert_eq!(c.messages()[0].role, Role::User);
        c.set_system(Some("again".into()));
        assert_eq!(c.messages()[0].role, Role::System);
    }

    #[test]
    fn clear_keeps_the_system_prompt() {
        let mut c = Conversation::new(Some("sys".into()));
        c.push_user("a");
        c.push_assistant("b");
        c.clear();
        assert_eq!(c.messages().len(), 1);
        assert!(c.is_empty());
        let mut c = Conversation::new(None);
        c.push_user("a");
        c.clear();
        assert!(c.messages().is_empty());
    }

    #[test]
    fn pop_unanswered_only_takes_a_trailing_user_message() {
        let mut c = Conversation::new(None);
        c.push_user("q1");
        c.push_assistant("a1");
        assert_eq!(c.pop_unanswered(), None);
        c.push_user("q2");
        assert_eq!(c.pop_unanswered().as_deref(), Some("q2"));
        assert_eq!(c.messages().len(), 2);
        assert_eq!(c.user_turns(), 1);
    }

    #[test]
    fn history_serialises_as_the_api_expects() {
        let mut c = Conversation::new(Some("你是一位專業的老師".into()));
        c.push_user("你好");
        assert_eq!(
            serde_json::to_string(c.messages()).unwrap(),
            r#"[{"role":"system","content":"你是一位專業的老師"},{"role":"user","content":"你好"}]"#
        );
    }

    #[test]
    fn token_counts_follow_their_messages() {
        let mut c = Conversation::new(Some("sys".into()));
        c.push_user("q1");
        c.push_assistant("a1");
        c.set_tokens(1, 7);
        c.set_tokens(9, 1); // out of range: ignored
        assert_eq!(c.meta().len(), 3);
        assert_eq!(c.meta()[1].tokens, Some(7));
        c.set_system(None);
        assert_eq!(c.meta()[0].tokens, Some(7));
        c.set_system(Some("new".into()));
        assert_eq!(c.meta()[0].tokens, None);
        c.push_user("q2");
        assert_eq!(c.pop_unanswered().as_deref(), Some("q2"));
        assert_eq!(c.meta().len(), c.messages().len());
    }

    #[test]
    fn archived_messages_stay_in_the_record_and_a_summary_is_not_the_system_prompt() {
        let mut c = Conversation::new(Some("sys".into()));
        for i in 0..3 {
            c.push_user(format!("q{i}"));
            c.push_assistant(format!("a{i}"));
        }
        c.set_tokens(1, 5);
        let moved = c.archive(1..5, Mark::Summarised, 4);
        assert_eq!(moved, 0..4);
        c.insert_summary(1, "note".into(), None);
        let sent: Vec<&str> = c.messages().iter().map(|m| m.content.as_str()).collect();
        assert_eq!(sent, ["sys", "note", "q2", "a2"]);
        assert_eq!(c.archived()[0].message.content, "q0");
        assert_eq!(c.archived()[0].meta.tokens, Some(5));
        assert_eq!(c.archived()[3].mark, Mark::Summarised);
        assert_eq!(c.archived()[3].turn, 4);
        assert_eq!(c.system(), Some("sys"));
        assert!(c.meta()[1].summary);

        // Without a system prompt, a summary in first place is still not one.
        c.set_system(None);
        assert_eq!(c.system(), None);
        c.set_system(Some("back".into()));
        assert_eq!(c.messages()[1].content, "note");
        c.clear();
        assert!(c.archived().is_empty());
        assert_eq!(c.messages().len(), 1);
        assert_eq!(c.meta().len(), 1);
    }
}
