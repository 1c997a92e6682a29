//! The JSON body of `POST /api/chat`, encoded incrementally: each turn sends the whole history, but
//! only the messages that changed since the last request are serialised again.

use bytes::Bytes;

use super::wire::{WireMessage, WireRequest};
use crate::conversation::{ChatRequest, Message};

/// Remembers the last history it encoded. A turn adds two messages to a history that is otherwise
/// unchanged, so the next body costs a comparison and a copy of the earlier messages rather than
/// escaping all of their text again (with 1,000 turns, about a megabyte).
///
/// When the context policy leaves older messages out (or puts a summary note in their place), the
/// messages after them are still encoded, only further along, and their bytes are moved up rather
/// than encoded again.
///
/// Correct for any history: the messages are compared by value (every field, via `PartialEq`), and
/// only the bytes of equal messages are reused.
#[derive(Debug, Default)]
pub struct BodyEncoder {
    /// Copies of the messages encoded last time.
    messages: Vec<Message>,
    /// The encoded messages, comma-separated, without the enclosing brackets.
    encoded: Vec<u8>,
    /// Where each message's encoding ends in `encoded`.
    ends: Vec<usize>,
}

/// A history whose text is larger than this is encoded in one pass straight into the body and not
/// remembered: keeping a copy of each message and of its encoding (as the cache does) would cost
/// two more times a huge prompt's size, for a saving of a few milliseconds per turn.
const MAX_REMEMBERED: usize = 16 << 20;

/// Where the history goes in the body: serde writes `messages` right after `model`, whose value is
/// a JSON string, so the first occurrence of this text is the field itself.
const EMPTY_MESSAGES: &[u8] = br#""messages":[]"#;

impl BodyEncoder {
    pub fn new() -> Self {
        Self::default()
    }

    /// The request as JSON, byte for byte what `serde_json::to_vec(request)` gives.
    pub fn encode(&mut self, request: &ChatRequest<'_>) -> serde_json::Result<Vec<u8>> {
        let text: usize = request
            .messages
            .iter()
            .map(|m| m.content.len() + m.images.iter().map(|i| i.data.len()).sum::<usize>())
            .sum();
        if text > MAX_REMEMBERED {
            *self = Self::default();
            let mut body = Vec::with_capacity(text + text / 8 + 4096);
            serde_json::to_writer(&mut body, &WireRequest::from(request))?;
            return Ok(body);
        }
        self.update(request.messages)?;
        let rest = serde_json::to_vec(&WireRequest::from(&ChatRequest {
            messages: &[],
            ..*request
        }))?;
        let at = messages_at(&rest);
        let mut body = Vec::with_capacity(rest.len() + self.encoded.len());
        body.extend_from_slice(&rest[..at]);
        body.extend_from_slice(&self.encoded);
        body.extend_from_slice(&rest[at..]);
        Ok(body)
    }

    /// The request as pieces to send one after the other. Without images, one piece: what
    /// [`encode`](Self::encode) gives. With images, each image's base64 is a piece of its own
    /// that shares the history's copy, so a 20 MB photo is not copied into the body (the text
    /// around it is encoded afresh, and nothing is remembered).
    pub fn encode_parts(&mut self, request: &ChatRequest<'_>) -> serde_json::Result<Vec<Bytes>> {
        if request.messages.iter().all(|m| m.images.is_empty()) {
            return Ok(vec![Bytes::from(self.encode(request)?)]);
        }
        *self = Self::default();
        let rest = serde_json::to_vec(&WireRequest::from(&ChatRequest {
            messages: &[],
            ..*request
        }))?;
        let at = messages_at(&rest);
        let mut parts = Vec::new();
        let mut text = rest[..at].to_vec();
        for (n, m) in request.messages.iter().enumerate() {
            if n > 0 {
                text.push(b',');
            }
            let mut wire = WireMessage::from(m);
            let images = std::mem::take(&mut wire.images);
            serde_json::to_writer(&mut text, &wire)?;
            if m.images.is_empty() {
                continue;
            }
            // `images` is the last field: reopen the object and add it, as serde would write it
            // (base64 needs no escaping).
            text.pop();
            text.extend_from_slice(br#","images":["#);
            for (k, image) in m.images.iter().enumerate() {
                if k > 0 {
                    text.push(b',');
                }
                text.push(b'"');
                parts.push(Bytes::from(std::mem::take(&mut text)));
                parts.push(image.data.to_bytes());
                text.push(b'"');
            }
            text.extend_from_slice(b"]}");
            debug_assert_eq!(images.len(), m.images.len());
        }
        text.extend_from_slice(&rest[at..]);
        parts.push(Bytes::from(text));
        Ok(parts)
    }

    /// Brings the encoded messages up to date with `messages`.
    fn update(&mut self, messages: &[Message]) -> serde_json::Result<()> {
        let same = self
            .messages
            .iter()
            .zip(messages)
            .take_while(|(old, new)| old == new)
            .count();
        let mut done = same;
        match self.kept_run(messages, same) {
            // The context policy left out older messages (perhaps with a summary note in their
            // place): the rest is still encoded, only further along.
            Some(run) => done = self.splice(messages, same, run)?,
            None => self.truncate(same),
        }
        for m in &messages[done..] {
            self.push(m)?;
        }
        Ok(())
    }

    /// Where earlier messages reappear after the common prefix (`same`): the new history goes on
    /// with at most one new message (a summary note), then a run of old messages from a later
    /// position. Two linear scans of cheap comparisons (roles and lengths differ first).
    fn kept_run(&self, messages: &[Message], same: usize) -> Option<KeptRun> {
        let old = &self.messages;
        (same..messages.len().min(same + 2)).find_map(|at| {
            let from = (same + 1..old.len()).find(|&j| old[j] == messages[at])?;
            let len = old[from..]
                .iter()
                .zip(&messages[at..])
                .take_while(|(o, n)| o == n)
                .count();
            Some(KeptRun { at, from, len })
        })
    }

    /// Rebuilds the encoding as the prefix, the new messages before `run` and the old encoding of
    /// `run` moved up; returns how many of `messages` are now encoded.
    fn splice(
        &mut self,
        messages: &[Message],
        same: usize,
        run: KeptRun,
    ) -> serde_json::Result<usize> {
        let start = |k: usize| if k == 0 { 0 } else { self.ends[k - 1] };
        let prefix_end = start(same);
        let run_end = self.ends[run.from + run.len - 1];
        // The run's bytes without the comma that led them before.
        let run_start = start(run.from) + usize::from(run.from > 0);
        let mut inserted = Vec::new();
        let mut inserted_ends = Vec::new();
        for (k, m) in messages[same..run.at].iter().enumerate() {
            if same + k > 0 {
                inserted.push(b',');
            }
            serde_json::to_writer(&mut inserted, &WireMessage::from(m))?;
            inserted_ends.push(prefix_end + inserted.len());
        }
        if run.at > 0 {
            inserted.push(b',');
        }
        let shift = prefix_end + inserted.len();
        self.encoded.truncate(run_end);
        self.encoded.splice(prefix_end..run_start, inserted);
        let run_ends: Vec<usize> = self.ends[run.from..run.from + run.len]
            .iter()
            .map(|&e| e - run_start + shift)
            .collect();
        self.ends.truncate(same);
        self.ends.extend(inserted_ends);
        self.ends.extend(run_ends);
        self.messages.truncate(run.from + run.len);
        self.messages
            .splice(same..run.from, messages[same..run.at].iter().cloned());
        Ok(run.at + run.len)
    }

    /// Keeps only the first `n` messages' encoding.
    fn truncate(&mut self, n: usize) {
        self.messages.truncate(n);
        self.ends.truncate(n);
        self.encoded
            .truncate(self.ends.last().copied().unwrap_or(0));
    }

    /// Encodes one more message after the others.
    fn push(&mut self, m: &Message) -> serde_json::Result<()> {
        let before = self.encoded.len();
        if !self.ends.is_empty() {
            self.encoded.push(b',');
        }
        if let Err(e) = serde_json::to_writer(&mut self.encoded, &WireMessage::from(m)) {
            // Leave a consistent state behind: only what was fully encoded.
            self.encoded.truncate(before);
            return Err(e);
        }
        self.ends.push(self.encoded.len());
        self.messages.push(m.clone());
        Ok(())
    }
}

/// Where the messages go in a body serialised with none: just inside `"messages":[`.
fn messages_at(rest: &[u8]) -> usize {
    rest.windows(EMPTY_MESSAGES.len())
        .position(|w| w == EMPTY_MESSAGES)
        .map(|i| i + EMPTY_MESSAGES.len() - 1)
        .expect("a serialised ChatRequest has a messages field")
}

/// Old messages `from..from + len` are new messages `at..at + len`.
#[derive(Debug, Clone, Copy)]
struct KeptRun {
    at: usize,
    from: usize,
    len: usize,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::conversation::{Image, Role, Think};
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
            tools: &[],
            strict_window: false,
        }
    }

    fn assert_same(enc: &mut BodyEncoder, req: &ChatRequest<'_>) {
        let ours = enc.encode(req).unwrap();
        let serde = serde_json::to_vec(&WireRequest::from(req)).unwrap();
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
    fn images_are_pieces_of_their_own_and_the_whole_is_what_serde_writes() {
        let opts = Options::default();
        let mut enc = BodyEncoder::new();
        let png = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR";
        let mut with = Message::new(Role::User, "what are these? \"兩張\"");
        with.images
            .push(Image::from_bytes("a.png", "image/png", png));
        with.images
            .push(Image::from_bytes("b.png", "image/png", b"GIF89a"));
        let history = [
            Message::new(Role::System, "sys"),
            with.clone(),
            Message::new(Role::Assistant, "two"),
            Message::new(Role::User, "and now?"),
        ];
        for messages in [&history[..2], &history[..]] {
            let req = request("tiny", messages, &opts);
            let parts = enc.encode_parts(&req).unwrap();
            let whole: Vec<u8> = parts.iter().flat_map(|p| p.to_vec()).collect();
            let serde = serde_json::to_vec(&WireRequest::from(&req)).unwrap();
            assert_eq!(
                String::from_utf8(whole).unwrap(),
                String::from_utf8(serde).unwrap()
            );
            // The base64 pieces share the history's text: no copy.
            let shared = parts
                .iter()
                .filter(|p| p.as_ptr() == with.images[0].data.as_str().as_ptr())
                .count();
            assert_eq!(shared, 1);
        }
        // Text alone: one piece, and the cache works as before.
        let plain = [Message::new(Role::User, "hi")];
        assert_eq!(
            enc.encode_parts(&request("tiny", &plain, &opts))
                .unwrap()
                .len(),
            1
        );
        assert_eq!(enc.messages.len(), 1);
    }

    #[test]
    fn a_huge_history_is_encoded_in_one_pass_and_not_remembered() {
        let opts = Options::default();
        let mut enc = BodyEncoder::new();
        let mut history = vec![Message::new(Role::User, "small")];
        assert_same(&mut enc, &request("tiny", &history, &opts));
        assert_eq!(enc.messages.len(), 1);
        history.push(Message::new(Role::Assistant, "a"));
        history.push(Message::new(
            Role::User,
            "x\"\n".repeat(MAX_REMEMBERED / 3 + 1),
        ));
        assert_same(&mut enc, &request("tiny", &history, &opts));
        assert!(
            enc.messages.is_empty() && enc.encoded.is_empty(),
            "nothing kept"
        );
        // Small again: remembered again, still the same bytes.
        history.truncate(2);
        assert_same(&mut enc, &request("tiny", &history, &opts));
        assert_eq!(enc.messages.len(), 2);
    }

    fn numbered(n: usize) -> Vec<Message> {
        let mut history = vec![Message::new(Role::System, "你是一位老師")];
        for i in 0..n {
            history.push(Message::new(Role::User, format!("q{i} 問題")));
            history.push(Message::new(Role::Assistant, format!("a{i} \"答案\"")));
        }
        history
    }

    #[test]
    fn matches_serde_as_the_context_policy_leaves_messages_out() {
        let opts = Options::default();
        let mut enc = BodyEncoder::new();
        let mut history = numbered(6);
        assert_same(&mut enc, &request("tiny", &history, &opts));
        // Truncate: the oldest exchange goes, a new question comes.
        history.drain(1..3);
        history.push(Message::new(Role::User, "next"));
        assert_same(&mut enc, &request("tiny", &history, &opts));
        // Summarize: a note in place of two exchanges.
        history.splice(1..5, [Message::new(Role::System, "Summary: 前情")]);
        assert_same(&mut enc, &request("tiny", &history, &opts));
        // A new system prompt, everything else kept.
        history[0].content = "be brief".into();
        assert_same(&mut enc, &request("tiny", &history, &opts));
        // No system prompt, and the first exchange left out.
        history.remove(0);
        assert_same(&mut enc, &request("tiny", &history, &opts));
        history.drain(0..2);
        assert_same(&mut enc, &request("tiny", &history, &opts));
        // The same message again later in the history.
        history.push(history[0].clone());
        assert_same(&mut enc, &request("tiny", &history, &opts));
    }

    #[test]
    fn moved_messages_are_not_encoded_again() {
        let opts = Options::default();
        let mut enc = BodyEncoder::new();
        let mut history = numbered(3);
        enc.encode(&request("tiny", &history, &opts)).unwrap();
        // A message whose bytes were reused carries what it had: make the stored copy differ from
        // its encoding, and it must show up as it was encoded.
        history.drain(1..3);
        enc.encoded = String::from_utf8(enc.encoded.clone())
            .unwrap()
            .replace("a2", "ZZ")
            .into_bytes();
        let body = enc.encode(&request("tiny", &history, &opts)).unwrap();
        assert!(String::from_utf8(body).unwrap().contains("ZZ"));
    }

    use proptest::prelude::*;

    /// What can happen to a history between two requests.
    #[derive(Debug, Clone)]
    enum Step {
        Push(u8, String),
        Drop(usize, usize),
        Summarise(usize, usize, String),
        Pop,
        SetSystem(String),
        Clear,
    }

    fn step() -> impl Strategy<Value = Step> {
        let text = "[a-c 你\"\\\n]{0,6}";
        prop_oneof![
            4 => (0u8..3, text).prop_map(|(r, t)| Step::Push(r, t)),
            2 => (0usize..8, 0usize..4).prop_map(|(a, n)| Step::Drop(a, n)),
            1 => (0usize..8, 1usize..4, text).prop_map(|(a, n, t)| Step::Summarise(a, n, t)),
            1 => Just(Step::Pop),
            1 => text.prop_map(Step::SetSystem),
            1 => Just(Step::Clear),
        ]
    }

    fn apply(history: &mut Vec<Message>, step: &Step) {
        let clamp = |a: usize, n: usize, len: usize| a.min(len)..(a + n).min(len);
        match step {
            Step::Push(r, t) => {
                let role = [Role::User, Role::Assistant, Role::System][usize::from(*r)];
                history.push(Message::new(role, t.clone()));
            }
            Step::Drop(a, n) => {
                history.drain(clamp(*a, *n, history.len()));
            }
            Step::Summarise(a, n, t) => {
                let range = clamp(*a, *n, history.len());
                history.splice(range, [Message::new(Role::System, t.clone())]);
            }
            Step::Pop => {
                history.pop();
            }
            Step::SetSystem(t) => match history.first_mut() {
                Some(m) => m.content = t.clone(),
                None => history.push(Message::new(Role::System, t.clone())),
            },
            Step::Clear => history.clear(),
        }
    }

    proptest! {
        // Seeded, and no regression files: the same cases on every run and every machine.
        #![proptest_config(ProptestConfig {
            rng_algorithm: proptest::test_runner::RngAlgorithm::ChaCha,
            rng_seed: proptest::test_runner::RngSeed::Fixed(0x0b0d_7e5c),
            failure_persistence: Some(Box::new(
                proptest::test_runner::FileFailurePersistence::Off,
            )),
            ..ProptestConfig::default()
        })]
        #[test]
        fn any_sequence_of_changes_encodes_as_serde_does(
            steps in proptest::collection::vec(step(), 1..40)
        ) {
            let opts = Options::default();
            let mut enc = BodyEncoder::new();
            let mut history = Vec::new();
            for s in &steps {
                apply(&mut history, s);
                let req = request("tiny", &history, &opts);
                prop_assert_eq!(
                    String::from_utf8(enc.encode(&req).unwrap()).unwrap(),
                    String::from_utf8(serde_json::to_vec(&WireRequest::from(&req)).unwrap()).unwrap()
                );
            }
        }
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
            tools: &[],
            strict_window: false,
        };
        let mut enc = BodyEncoder::new();
        assert_same(&mut enc, &req);
        let v: serde_json::Value = serde_json::from_slice(&enc.encode(&req).unwrap()).unwrap();
        assert_eq!(v["messages"][0]["content"], "hi");
        assert_eq!(v["model"], r#"odd"messages":[]name"#);
    }
}
