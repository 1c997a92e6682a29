//! The `messages` history that is sent whole on every turn, with what is known about each message
//! (its token count) and the messages the context policy took out of it: pure data, no I/O.

use std::ops::Range;

use serde::Serialize;

use super::message::{Image, Message, Role};

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

    /// The images of the messages sent (not of those left out), to put their bytes back when a
    /// session is resumed.
    pub fn images_mut(&mut self) -> impl Iterator<Item = &mut Image> {
        self.messages.iter_mut().flat_map(|m| m.images.iter_mut())
    }

    pub fn push_user(&mut self, text: impl Into<String>) {
        self.push(Message::new(Role::User, text));
    }

    /// A user message with images attached.
    pub fn push_user_with(&mut self, text: impl Into<String>, images: Vec<Image>) {
        let mut m = Message::new(Role::User, text);
        m.images = images;
        self.push(m);
    }

    pub fn push_assistant(&mut self, text: impl Into<String>) {
        self.push(Message::new(Role::Assistant, text));
    }

    /// Adds a message as it is: an assistant reply with its tool calls, or a tool result.
    pub fn push_message(&mut self, message: Message) {
        self.push(message);
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

    /// Takes the messages at `dropped` (increasing indices) out of the request into the archive;
    /// with a `summary`, its note takes the place of the first of them. The one rule for a
    /// session's `context` record, live and when loading. Returns where the messages went in the
    /// archive.
    pub fn leave_out(
        &mut self,
        dropped: &[usize],
        summary: Option<&str>,
    ) -> Result<Range<usize>, String> {
        if dropped.windows(2).any(|w| w[0] >= w[1]) {
            return Err("context: `dropped` must be in increasing order".into());
        }
        if let Some(&last) = dropped.last() {
            if last >= self.messages.len() {
                return Err(format!(
                    "context: message {last} does not exist (the history has {})",
                    self.messages.len()
                ));
            }
        }
        let first = self.archived.len();
        let Some(&at) = dropped.first() else {
            return Ok(first..first);
        };
        let mark = if summary.is_some() {
            Mark::Summarised
        } else {
            Mark::Dropped
        };
        let mut taken = Vec::with_capacity(dropped.len());
        for &i in dropped.iter().rev() {
            taken.push(Archived {
                message: self.messages.remove(i),
                meta: self.meta.remove(i),
                mark,
            });
        }
        self.archived.extend(taken.into_iter().rev());
        if let Some(s) = summary {
            let meta = MessageMeta {
                tokens: None,
                summary: true,
            };
            self.insert(at, Message::new(Role::System, summary_note(s)), meta);
        }
        Ok(first..self.archived.len())
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

    /// Takes back the last exchange: the last user message and everything after it (the reply).
    /// Returns that user message's text, or `None` when there is no exchange to take back.
    pub fn pop_exchange(&mut self) -> Option<String> {
        let at = self.messages.iter().rposition(|m| m.role == Role::User)?;
        self.meta.truncate(at);
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

    /// Empties the conversation, archive included; the system prompt stays (a summary note does
    /// not).
    pub fn clear(&mut self) {
        let keep = usize::from(self.system().is_some());
        self.messages.truncate(keep);
        self.meta.truncate(keep);
        self.archived.clear();
    }

    /// The role of the last message, if any.
    pub fn last_role(&self) -> Option<Role> {
        self.messages.last().map(|m| m.role)
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

/// The system message that stands for summarised messages: the summary, introduced so the model
/// reads it as an account of what came before rather than an instruction.
pub fn summary_note(summary: &str) -> String {
    format!("Summary of the earlier part of this conversation:\n{summary}")
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
        c.set_tokens(5, 9);
        let moved = c.leave_out(&[1, 2, 3, 4], Some("names")).unwrap();
        assert_eq!(moved, 0..4);
        let sent: Vec<&str> = c.messages().iter().map(|m| m.content.as_str()).collect();
        assert_eq!(sent, ["sys", summary_note("names").as_str(), "q2", "a2"]);
        assert_eq!(c.archived()[0].message.content, "q0");
        assert_eq!(c.archived()[0].meta.tokens, Some(5));
        assert_eq!(c.archived()[3].message.content, "a1");
        assert_eq!(c.archived()[3].mark, Mark::Summarised);
        assert_eq!(c.system(), Some("sys"));
        assert!(c.meta()[1].summary);
        assert_eq!(c.meta()[2].tokens, Some(9), "counts follow their messages");

        // Without a system prompt, a summary in first place is still not one.
        c.set_system(None);
        assert_eq!(c.system(), None);
        c.set_system(Some("back".into()));
        assert_eq!(c.messages()[1].content, summary_note("names"));
        c.clear();
        assert!(c.archived().is_empty());
        assert_eq!(c.messages().len(), 1);
        assert_eq!(c.meta().len(), 1);
    }

    #[test]
    fn leaving_out_without_a_summary_and_bad_indices() {
        let mut c = Conversation::new(None);
        for i in 0..3 {
            c.push_user(format!("q{i}"));
            c.push_assistant(format!("a{i}"));
        }
        assert_eq!(c.leave_out(&[], None), Ok(0..0));
        assert!(c.leave_out(&[6], None).is_err());
        assert!(c.leave_out(&[2, 1], None).is_err());
        assert!(c.leave_out(&[1, 1], None).is_err());
        assert_eq!(c.messages().len(), 6, "a refused change changes nothing");
        assert_eq!(c.leave_out(&[0, 1], None), Ok(0..2));
        assert_eq!(c.archived()[1].mark, Mark::Dropped);
        assert_eq!(c.messages()[0].content, "q1");
        assert_eq!(c.meta().len(), 4);
        // A summary first in a history without a system prompt: /clear takes it too.
        c.leave_out(&[0, 1], Some("s")).unwrap();
        assert!(c.meta()[0].summary);
        c.clear();
        assert!(c.messages().is_empty());
    }

    #[test]
    fn pop_exchange_keeps_counts_aligned() {
        let mut c = Conversation::new(None);
        c.push_user("q1");
        c.push_assistant("a1");
        c.push_user("q2");
        c.push_assistant("a2");
        assert_eq!(c.pop_exchange().as_deref(), Some("q2"));
        assert_eq!(c.meta().len(), 2);
        assert_eq!(c.last_role(), Some(Role::Assistant));
    }
}
