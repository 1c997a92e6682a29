//! The JSON body of `POST /api/chat`, encoded incrementally: each turn sends the whole history, but
//! only the messages that changed since the last request are serialised again.

use super::wire::{ChatRequest, Message};

/// Remembers the last history it encoded. A turn adds two messages to a history that is otherwise
/// unchanged, so the next body costs a comparison and a copy of the earlier messages rather than
/// escaping all of their text again (with 1,000 turns, about a megabyte).
///
/// Correct for any history: the messages are compared by value (every field, via `PartialEq`), and
/// encoding starts again from the first one that differs.
#[derive(Debug, Default)]
pub struct BodyEncoder {
    /// Copies of the messages encoded last time.
    messages: Vec<Message>,
    /// The encoded messages, comma-separated, without the enclosing brackets.
    encoded: Vec<u8>,
    /// Where each message's encoding ends in `encoded`.
    ends: Vec<usize>,
}

/// Where the history goes in the body: serde writes `messages` right after `model`, whose value is
/// a JSON string, so the first occurrence of this text is the field itself.
const EMPTY_MESSAGES: &[u8] = br#""messages":[]"#;

impl BodyEncoder {
    pub fn new() -> Self {
        Self::default()
    }

    /// The request as JSON, byte for byte what `serde_json::to_vec(request)` gives.
    pub fn encode(&mut self, request: &ChatRequest<'_>) -> serde_json::Result<Vec<u8>> {
        self.update(request.messages)?;
        let rest = serde_json::to_vec(&ChatRequest {
            messages: &[],
            ..*request
        })?;
        let at = rest
            .windows(EMPTY_MESSAGES.len())
            .position(|w| w == EMPTY_MESSAGES)
            .map(|i| i + EMPTY_MESSAGES.len() - 1)
            .expect("a serialised ChatRequest has a messages field");
        let mut body = Vec::with_capacity(rest.len() + self.encoded.len());
        body.extend_from_slice(&rest[..at]);
        body.extend_from_slice(&self.encoded);
        body.extend_from_slice(&rest[at..]);
        Ok(body)
    }

    /// Brings the encoded messages up to date with `messages`.
    fn update(&mut self, messages: &[Message]) -> serde_json::Result<()> {
        let same = self
            .messages
            .iter()
            .zip(messages)
            .take_while(|(old, new)| old == new)
            .count();
        self.messages.truncate(same);
        self.ends.truncate(same);
        self.encoded
            .truncate(self.ends.last().copied().unwrap_or(0));
        for m in &messages[same..] {
            if !self.ends.is_empty() {
                self.encoded.push(b',');
            }
            if let Err(e) = serde_json::to_writer(&mut self.encoded, m) {
                // Leave a consistent state behind: only what was fully encoded.
                self.encoded
                    .truncate(self.ends.last().copied().unwrap_or(0));
                return Err(e);
            }
            self.ends.push(self.encoded.len());
            self.messages.push(m.clone());
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ollama::wire::{Role, Think};
    use crate::options::Options;

    fn request<'a>(
        model: &'a str,
        messages: &'a [Message],
        options: &'a Options,
    ) -> ChatRequest<'a> {
        ChatRequest {
            model,
            messages,
            stream: true,
            options,
            format: None,
            think: None,
            keep_alive: None,
        }
    }

    fn assert_same(enc: &mut BodyEncoder, req: &ChatRequest<'_>) {
        let ours = enc.encode(req).unwrap();
        let serde = serde_json::to_vec(req).unwrap();
        assert_eq!(
            String::from_utf8(ours).unwrap(),
            String::from_utf8(serde).unwrap()
        );
    }

    #[test]
    fn matches_serde_as_a_history_grows_shrinks_and_changes() {
        let opts = Options::default();
        let mut enc = BodyEncoder::new();
        let mut history = vec![Message::new(Role::System, "你是一位老師 \"quoted\"\n")];
        assert_same(&mut enc, &request("tiny", &history, &opts));
        for i in 0..5 {
            history.push(Message::new(
                Role::User,
                format!("question {i} 問題\t\u{1}"),
            ));
            assert_same(&mut enc, &request("tiny", &history, &opts));
            history.push(Message::new(Role::Assistant, format!("answer {i} 答案\\")));
            assert_same(&mut enc, &request("tiny", &history, &opts));
        }
        // /system replaced with text of the same length, a message taken back, /clear.
        history[0].content = "你是一位學生 \"quoted\"\n".into();
        assert_same(&mut enc, &request("tiny", &history, &opts));
        history.pop();
        assert_same(&mut enc, &request("tiny", &history, &opts));
        history[3].thinking = Some("hmm".into());
        assert_same(&mut enc, &request("tiny", &history, &opts));
        history.truncate(1);
        assert_same(&mut enc, &request("tiny", &history, &opts));
        assert_same(&mut enc, &request("tiny", &[], &opts));
    }

    #[test]
    fn every_other_field_is_kept() {
        let mut opts = Options::default();
        opts.set_pair("num_ctx=4096").unwrap();
        let history = vec![Message::new(Role::User, "hi")];
        let format = serde_json::json!({"type": "object"});
        let keep_alive = serde_json::json!("5m");
        let think = Think::Level("high".into());
        let req = ChatRequest {
            model: r#"odd"messages":[]name"#,
            messages: &history,
            stream: false,
            options: &opts,
            format: Some(&format),
            think: Some(&think),
            keep_alive: Some(&keep_alive),
        };
        let mut enc = BodyEncoder::new();
        assert_same(&mut enc, &req);
        let v: serde_json::Value = serde_json::from_slice(&enc.encode(&req).unwrap()).unwrap();
        assert_eq!(v["messages"][0]["content"], "hi");
        assert_eq!(v["model"], r#"odd"messages":[]name"#);
    }
}
