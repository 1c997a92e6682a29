//! The `messages` history that is sent whole on every turn: pure data, no I/O.

use crate::ollama::wire::{Message, Role};

/// The chat so far. A system prompt, when there is one, is always the first message, so the history
/// can be sent as one borrowed slice.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Conversation {
    messages: Vec<Message>,
}

impl Conversation {
    pub fn new(system: Option<String>) -> Self {
        let mut c = Conversation::default();
        if let Some(s) = system {
            c.set_system(Some(s));
        }
        c
    }

    /// A history as saved (a resumed session); the caller keeps the system prompt first.
    pub fn from_messages(messages: Vec<Message>) -> Self {
        Conversation { messages }
    }

    pub fn into_messages(self) -> Vec<Message> {
        self.messages
    }

    /// Exactly what goes into the request's `messages`.
    pub fn messages(&self) -> &[Message] {
        &self.messages
    }

    pub fn system(&self) -> Option<&str> {
        self.messages
            .first()
            .filter(|m| m.role == Role::System)
            .map(|m| m.content.as_str())
    }

    /// Replaces the system prompt (never adds a second one), or removes it with `None`.
    pub fn set_system(&mut self, system: Option<String>) {
        let has = self.system().is_some();
        match (system, has) {
            (Some(s), true) => self.messages[0].content = s,
            (Some(s), false) => self.messages.insert(0, Message::new(Role::System, s)),
            (None, true) => {
                self.messages.remove(0);
            }
            (None, false) => {}
        }
    }

    pub fn push_user(&mut self, text: impl Into<String>) {
        self.messages.push(Message::new(Role::User, text));
    }

    pub fn push_assistant(&mut self, text: impl Into<String>) {
        self.messages.push(Message::new(Role::Assistant, text));
    }

    /// Takes back the last message if it is an unanswered user message (a turn that got no reply),
    /// returning its text so it can be offered again.
    pub fn pop_unanswered(&mut self) -> Option<String> {
        if self.messages.last().is_some_and(|m| m.role == Role::User) {
            self.messages.pop().map(|m| m.content)
        } else {
            None
        }
    }

    /// Takes back the last exchange: the last user message and everything after it (the reply).
    /// Returns that user message's text, or `None` when there is no exchange to take back.
    pub fn pop_exchange(&mut self) -> Option<String> {
        let at = self.messages.iter().rposition(|m| m.role == Role::User)?;
        self.messages.drain(at..).next().map(|m| m.content)
    }

    /// The text of the last user message.
    pub fn last_user(&self) -> Option<&str> {
        self.last_of(Role::User)
    }

    /// The text of the last reply.
    pub fn last_reply(&self) -> Option<&str> {
        self.last_of(Role::Assistant)
    }

    fn last_of(&self, role: Role) -> Option<&str> {
        self.messages
            .iter()
            .rev()
            .find(|m| m.role == role)
            .map(|m| m.content.as_str())
    }

    /// Empties the conversation; the system prompt stays.
    pub fn clear(&mut self) {
        let keep = usize::from(self.system().is_some());
        self.messages.truncate(keep);
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
    fn pop_exchange_takes_the_question_and_its_reply() {
        let mut c = Conversation::new(Some("sys".into()));
        assert_eq!(c.pop_exchange(), None);
        c.push_user("q1");
        c.push_assistant("a1");
        c.push_user("q2");
        c.push_assistant("a2");
        assert_eq!(c.last_reply(), Some("a2"));
        assert_eq!(c.pop_exchange().as_deref(), Some("q2"));
        assert_eq!(c.messages().len(), 3);
        assert_eq!(c.last_user(), Some("q1"));
        assert_eq!(c.pop_exchange().as_deref(), Some("q1"));
        assert_eq!(c.pop_exchange(), None);
        assert_eq!(c.system(), Some("sys"));
        assert_eq!(c.last_reply(), None);
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
}
