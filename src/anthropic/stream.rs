//! A Messages API reply, bytes in any split → the events the turn consumes (`ChatEvent`): text and
//! thinking deltas, then one `Done` carrying the stop reason and token counts, or an `Error`.
//! Pure, so every split point is unit-tested.
//!
//! The stream is named server-sent events whose `data` carries its own `type`, so only the `data`
//! is read: `message_start` (the prompt's `input_tokens`), `content_block_start`,
//! `content_block_delta` (`text_delta` and `thinking_delta` are shown; `signature_delta` and
//! `input_json_delta` are not text), `content_block_stop`, `message_delta` (`stop_reason` and the
//! usage so far), `message_stop` (→ `Done`), `ping`, and `error`. Unknown event types are ignored,
//! as Anthropic's versioning policy asks. A stream that ends before `message_stop` is not done:
//! the turn reports it cut short. A server that answered with one whole JSON message is read too.
//!
//! Counts: the prompt is `message_delta`'s `input_tokens` when it gives one (Ollama's
//! `message_start` holds only an estimate, its `message_delta` the evaluated count), else
//! `message_start`'s; the reply is `message_delta`'s `output_tokens`.

use crate::conversation::{arguments_object, dotted, ChatEvent, FinalStats, ToolCall};
use crate::error::{DecodeError, FeedError, TooLong};
pub use crate::sse::Framing;
use crate::sse::{append_whole, SseDecoder};

use super::error::ErrorInfo;
use super::wire::{StreamEvent, Usage, WholeMessage};

/// Turns a reply body into chat events.
#[derive(Debug)]
pub struct EventDecoder {
    framing: Framing,
    sse: SseDecoder,
    /// The body so far, for `Framing::Whole`.
    whole: Vec<u8>,
    state: State,
}

/// What the stream has said so far.
#[derive(Debug, Default)]
struct State {
    /// `message_start`'s usage.
    start: Option<Usage>,
    /// The last `message_delta`'s usage.
    last: Option<Usage>,
    stop_reason: Option<String>,
    /// `tool_use` blocks being streamed; handed out whole before `Done`.
    calls: Vec<PartialCall>,
    /// The most bytes the calls' arguments may add up to.
    limit: usize,
    /// `message_stop` or an error event was seen: nothing after it counts.
    ended: bool,
}

/// A `tool_use` block whose `input_json_delta`s are still arriving.
#[derive(Debug, Default)]
struct PartialCall {
    index: usize,
    id: Option<String>,
    name: String,
    /// The `input` of `content_block_start` (`{}` from Anthropic; a server may put all there).
    input: Option<serde_json::Value>,
    json: String,
}

impl PartialCall {
    fn call(self) -> ToolCall {
        let arguments = if self.json.trim().is_empty() {
            self.input.unwrap_or_default()
        } else {
            serde_json::Value::String(self.json)
        };
        ToolCall {
            id: self.id.filter(|id| !id.is_empty()),
            name: dotted(&self.name),
            arguments: arguments_object(arguments),
        }
    }
}

impl EventDecoder {
    pub fn new(framing: Framing) -> Self {
        EventDecoder {
            framing,
            sse: SseDecoder::new(),
            whole: Vec::new(),
            state: State {
                limit: crate::sse::MAX_EVENT,
                ..State::default()
            },
        }
    }

    /// Changes the limit of a line, an event and a whole reply before the first bytes are fed
    /// (`--max-line`).
    pub fn set_limit(&mut self, limit: usize) {
        self.sse.set_limit(limit);
        self.state.limit = limit;
    }

    /// Feeds the bytes of one network read.
    pub fn feed<E>(
        &mut self,
        bytes: &[u8],
        mut on_event: impl FnMut(ChatEvent<'_>) -> Result<(), E>,
    ) -> Result<(), FeedError<E>> {
        if self.framing == Framing::Whole {
            let limit = self.sse.limit();
            return append_whole(&mut self.whole, bytes, limit).map_err(FeedError::TooLong);
        }
        let state = &mut self.state;
        self.sse
            .feed(bytes, |data| state.on_data(data, &mut on_event))
    }

    /// The body ended cleanly. Without `message_stop` nothing more is said: the turn sees no
    /// `Done` and reports the reply as cut short.
    pub fn finish<E>(
        &mut self,
        mut on_event: impl FnMut(ChatEvent<'_>) -> Result<(), E>,
    ) -> Result<(), FeedError<E>> {
        if self.framing == Framing::Whole {
            let body = std::mem::take(&mut self.whole);
            return whole_message(&body, &mut on_event);
        }
        let state = &mut self.state;
        self.sse.finish(|data| state.on_data(data, &mut on_event))
    }
}

impl State {
    fn on_data<E>(
        &mut self,
        data: &[u8],
        on_event: &mut impl FnMut(ChatEvent<'_>) -> Result<(), E>,
    ) -> Result<(), FeedError<E>> {
        if self.ended {
            return Ok(());
        }
        let event: StreamEvent = serde_json::from_slice(data)
            .map_err(|source| FeedError::Decode(DecodeError::new(data, source)))?;
        let sink = |r: Result<(), E>| r.map_err(FeedError::Sink);
        match event.kind.as_ref() {
            "message_start" => {
                self.start = event.message.and_then(|m| m.usage);
            }
            "content_block_start" => {
                let Some(block) = event.content_block.filter(|b| b.kind == "tool_use") else {
                    return Ok(());
                };
                self.calls.push(PartialCall {
                    index: event.index.unwrap_or(self.calls.len()),
                    id: block.id,
                    name: block.name.unwrap_or_default(),
                    input: block.input,
                    json: String::new(),
                });
            }
            "content_block_delta" => {
                let Some(delta) = event.delta else {
                    return Ok(());
                };
                if delta.kind.as_deref() == Some("input_json_delta") {
                    let piece = delta.partial_json.as_deref().unwrap_or("");
                    let index = event.index;
                    if let Some(call) = self
                        .calls
                        .iter_mut()
                        .rev()
                        .find(|c| index.is_none_or(|i| i == c.index))
                    {
                        call.json.push_str(piece);
                    }
                    let total: usize = self.calls.iter().map(|c| c.json.len()).sum();
                    if total > self.limit {
                        return Err(FeedError::TooLong(TooLong {
                            what: "a tool call",
                            limit: self.limit,
                        }));
                    }
                    return Ok(());
                }
                let (content, thinking) = match delta.kind.as_deref() {
                    Some("text_delta") => (delta.text.as_deref().unwrap_or(""), ""),
                    Some("thinking_delta") => ("", delta.thinking.as_deref().unwrap_or("")),
                    _ => ("", ""), // signature_delta, input_json_delta, citations…
                };
                if !content.is_empty() || !thinking.is_empty() {
                    sink(on_event(ChatEvent::Delta { content, thinking }))?;
                }
            }
            "message_delta" => {
                if let Some(reason) = event.delta.and_then(|d| d.stop_reason) {
                    self.stop_reason = Some(reason);
                }
                if event.usage.is_some() {
                    self.last = event.usage;
                }
            }
            "message_stop" => {
                self.ended = true;
                for call in std::mem::take(&mut self.calls) {
                    sink(on_event(ChatEvent::ToolCall(call.call())))?;
                }
                let stats = stats(self.stop_reason.as_deref(), self.start, self.last);
                sink(on_event(ChatEvent::Done { content: "", stats }))?;
            }
            "error" => {
                self.ended = true;
                let e = event.error.unwrap_or_default();
                let message = ErrorInfo::from_parts(e.kind, e.message).describe();
                sink(on_event(ChatEvent::Error(message)))?;
            }
            // ping, content_block_start, content_block_stop, and types added later.
            _ => {}
        }
        Ok(())
    }
}

/// Anthropic's stop reason in Ollama's words where one means the same.
pub fn done_reason(stop_reason: &str) -> String {
    match stop_reason {
        "end_turn" | "stop_sequence" => "stop",
        "max_tokens" => "length",
        other => other,
    }
    .to_string()
}

fn stats(stop_reason: Option<&str>, start: Option<Usage>, last: Option<Usage>) -> FinalStats {
    let prompt = last
        .and_then(|u| u.prompt_tokens())
        .or_else(|| start.and_then(|u| u.prompt_tokens()));
    FinalStats {
        done_reason: stop_reason.map(done_reason),
        prompt_eval_count: prompt,
        eval_count: last.and_then(|u| u.output_tokens),
        usage_unknown: start.is_none() && last.is_none(),
        ..FinalStats::default()
    }
}

fn whole_message<E>(
    body: &[u8],
    on_event: &mut impl FnMut(ChatEvent<'_>) -> Result<(), E>,
) -> Result<(), FeedError<E>> {
    let message: WholeMessage = serde_json::from_slice(body)
        .map_err(|source| FeedError::Decode(DecodeError::new(body, source)))?;
    if message.kind.as_deref() == Some("error") {
        let info = ErrorInfo::from_body(body);
        return on_event(ChatEvent::Error(info.describe())).map_err(FeedError::Sink);
    }
    let mut content = String::new();
    let mut thinking = String::new();
    for block in &message.content {
        match block.kind.as_str() {
            "text" => content.push_str(block.text.as_deref().unwrap_or("")),
            "thinking" => thinking.push_str(block.thinking.as_deref().unwrap_or("")),
            _ => {}
        }
    }
    if !content.is_empty() || !thinking.is_empty() {
        on_event(ChatEvent::Delta {
            content: &content,
            thinking: &thinking,
        })
        .map_err(FeedError::Sink)?;
    }
    for (index, block) in message.content.into_iter().enumerate() {
        if block.kind == "tool_use" {
            let call = PartialCall {
                index,
                id: block.id,
                name: block.name.unwrap_or_default(),
                input: block.input,
                json: String::new(),
            };
            on_event(ChatEvent::ToolCall(call.call())).map_err(FeedError::Sink)?;
        }
    }
    let stats = stats(
        Some(message.stop_reason.as_deref().unwrap_or("end_turn")),
        None,
        message.usage,
    );
    on_event(ChatEvent::Done { content: "", stats }).map_err(FeedError::Sink)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, PartialEq, Default)]
    struct Collected {
        content: String,
        thinking: String,
        deltas: usize,
        stats: Option<FinalStats>,
        errors: Vec<String>,
        tool_calls: Vec<crate::conversation::ToolCall>,
    }

    fn collect_framed(framing: Framing, pieces: &[&[u8]]) -> Result<Collected, String> {
        let mut out = Collected::default();
        let mut d = EventDecoder::new(framing);
        let mut on = |ev: ChatEvent<'_>| -> Result<(), ()> {
            match ev {
                ChatEvent::Delta { content, thinking } => {
                    out.content.push_str(content);
                    out.thinking.push_str(thinking);
                    out.deltas += 1;
                }
                ChatEvent::Done { content, stats } => {
                    assert!(out.stats.is_none(), "one Done only");
                    out.content.push_str(content);
                    out.stats = Some(stats);
                }
                ChatEvent::Error(e) => out.errors.push(e),
                ChatEvent::ToolCall(c) => out.tool_calls.push(c),
            }
            Ok(())
        };
        let fail = |e: FeedError<()>| match e {
            FeedError::Decode(d) => d.to_string(),
            FeedError::TooLong(t) => t.to_string(),
            FeedError::Sink(()) => "sink".to_string(),
        };
        for p in pieces {
            d.feed(p, &mut on).map_err(fail)?;
        }
        d.finish(&mut on).map_err(fail)?;
        Ok(out)
    }

    fn collect(pieces: &[&[u8]]) -> Collected {
        collect_framed(Framing::Sse, pieces).unwrap()
    }

    const STREAM: &[u8] = include_bytes!("../../tests/fixtures/recorded/v1_messages_stream.sse");
    const MULTITURN: &[u8] =
        include_bytes!("../../tests/fixtures/recorded/v1_messages_multiturn_blocks.sse");
    const THINKING_MODEL: &[u8] =
        include_bytes!("../../tests/fixtures/recorded/v1_messages_thinking_model.sse");
    const THINKING_ON_PLAIN: &[u8] =
        include_bytes!("../../tests/fixtures/recorded/v1_messages_thinking_on_nonthinking.sse");
    const MAX_TOKENS: &[u8] =
        include_bytes!("../../tests/fixtures/recorded/v1_messages_max_tokens_stop.sse");
    const NONSTREAM: &[u8] =
        include_bytes!("../../tests/fixtures/recorded/v1_messages_nonstream.json");
    const RECORDED: [&[u8]; 5] = [
        STREAM,
        MULTITURN,
        THINKING_MODEL,
        THINKING_ON_PLAIN,
        MAX_TOKENS,
    ];

    /// A text block, then two `tool_use` blocks whose arguments arrive as `input_json_delta`
    /// pieces (one cut inside a Chinese character's bytes), as Anthropic streams them.
    const TOOL_USE: &str = concat!(
        "event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"usage\":{\"input_tokens\":9}}}\n\n",
        "event: content_block_start\ndata: {\"type\":\"content_block_start\",\"index\":0,\"content_block\":{\"type\":\"text\",\"text\":\"\"}}\n\n",
        "event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_delta\",\"text\":\"我看看\"}}\n\n",
        "event: content_block_stop\ndata: {\"type\":\"content_block_stop\",\"index\":0}\n\n",
        "event: content_block_start\ndata: {\"type\":\"content_block_start\",\"index\":1,\"content_block\":{\"type\":\"tool_use\",\"id\":\"toolu_1\",\"name\":\"read_file\",\"input\":{}}}\n\n",
        "event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":1,\"delta\":{\"type\":\"input_json_delta\",\"partial_json\":\"{\\\"path\\\": \\\"笔\"}}\n\n",
        "event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":1,\"delta\":{\"type\":\"input_json_delta\",\"partial_json\":\"记.txt\\\"}\"}}\n\n",
        "event: content_block_stop\ndata: {\"type\":\"content_block_stop\",\"index\":1}\n\n",
        "event: content_block_start\ndata: {\"type\":\"content_block_start\",\"index\":2,\"content_block\":{\"type\":\"tool_use\",\"id\":\"toolu_2\",\"name\":\"t__echo\",\"input\":{}}}\n\n",
        "event: content_block_stop\ndata: {\"type\":\"content_block_stop\",\"index\":2}\n\n",
        "event: message_delta\ndata: {\"type\":\"message_delta\",\"delta\":{\"stop_reason\":\"tool_use\"},\"usage\":{\"output_tokens\":30}}\n\n",
        "event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n",
    );

    #[test]
    fn tool_use_blocks_come_out_whole_at_every_split() {
        let body = TOOL_USE.as_bytes();
        for at in 0..body.len() {
            let got = collect(&[&body[..at], &body[at..]]);
            assert_eq!(got.content, "我看看");
            assert_eq!(got.tool_calls.len(), 2, "split at {at}");
            assert_eq!(got.tool_calls[0].id.as_deref(), Some("toolu_1"));
            assert_eq!(got.tool_calls[0].name, "read_file");
            assert_eq!(
                got.tool_calls[0].arguments,
                serde_json::json!({"path": "笔记.txt"})
            );
            assert_eq!(got.tool_calls[1].name, "t.echo");
            assert_eq!(got.tool_calls[1].arguments, serde_json::json!({}));
            assert_eq!(
                got.stats.as_ref().unwrap().done_reason.as_deref(),
                Some("tool_use")
            );
        }
    }

    #[test]
    fn a_whole_message_with_tool_use() {
        let body = br#"{"type":"message","content":[{"type":"tool_use","id":"toolu_9","name":"now","input":{"tz":"UTC"}}],"stop_reason":"tool_use","usage":{"input_tokens":3,"output_tokens":4}}"#;
        let got = collect_framed(Framing::Whole, &[body]).unwrap();
        assert_eq!(got.tool_calls[0].name, "now");
        assert_eq!(
            got.tool_calls[0].arguments,
            serde_json::json!({"tz": "UTC"})
        );
    }

    #[test]
    fn recorded_stream() {
        let c = collect(&[STREAM]);
        assert_eq!(c.content, "You are a model.\n\nName a colour. staan\n");
        assert_eq!(c.deltas, 12);
        let stats = c.stats.unwrap();
        assert_eq!(stats.done_reason.as_deref(), Some("length"));
        // message_start said 8 (an estimate); message_delta's 18 is the evaluated count.
        assert_eq!(stats.prompt_eval_count, Some(18));
        assert_eq!(stats.eval_count, Some(12));
        assert!(!stats.usage_unknown);
        assert!(c.errors.is_empty());
    }

    #[test]
    fn recorded_streams_with_chinese_text() {
        let c = collect(&[MULTITURN]);
        assert!(c.content.starts_with("Hello Li.łę"), "{:?}", c.content);
        assert_eq!(c.stats.unwrap().eval_count, Some(12));
        let c = collect(&[THINKING_MODEL]);
        assert!(c.content.starts_with("hi进制user\n"), "{:?}", c.content);
        assert_eq!(
            c.thinking, "",
            "Ollama answers a thinking model in text only"
        );
        assert_eq!(c.stats.unwrap().eval_count, Some(24));
    }

    #[test]
    fn recorded_streams_at_every_split_point() {
        for bytes in RECORDED {
            let whole = collect(&[bytes]);
            assert!(whole.stats.is_some());
            for i in 0..=bytes.len() {
                let (a, b) = bytes.split_at(i);
                assert_eq!(collect(&[a, b]), whole, "split at byte {i}");
            }
            let singles: Vec<&[u8]> = bytes.chunks(1).collect();
            let c = collect(&singles);
            assert_eq!(
                (&c.content, &c.thinking, &c.stats, &c.errors),
                (&whole.content, &whole.thinking, &whole.stats, &whole.errors),
                "byte by byte"
            );
        }
    }

    /// Anthropic's own stream: ping, a signed thinking block, then text split inside characters.
    const ANTHROPIC: &str = concat!(
        "event: message_start\n",
        "data: {\"type\":\"message_start\",\"message\":{\"id\":\"msg_1\",\"type\":\"message\",\"role\":\"assistant\",\"content\":[],\"model\":\"claude\",\"stop_reason\":null,\"usage\":{\"input_tokens\":25,\"cache_read_input_tokens\":5,\"output_tokens\":1}}}\n\n",
        "event: ping\ndata: {\"type\": \"ping\"}\n\n",
        "event: content_block_start\n",
        "data: {\"type\":\"content_block_start\",\"index\":0,\"content_block\":{\"type\":\"thinking\",\"thinking\":\"\"}}\n\n",
        "event: content_block_delta\n",
        "data: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"thinking_delta\",\"thinking\":\"想一想…\"}}\n\n",
        "event: content_block_delta\n",
        "data: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"signature_delta\",\"signature\":\"EqQBCgIYAhIM\"}}\n\n",
        "event: content_block_stop\ndata: {\"type\":\"content_block_stop\",\"index\":0}\n\n",
        "event: content_block_start\n",
        "data: {\"type\":\"content_block_start\",\"index\":1,\"content_block\":{\"type\":\"text\",\"text\":\"\"}}\n\n",
        "event: content_block_delta\n",
        "data: {\"type\":\"content_block_delta\",\"index\":1,\"delta\":{\"type\":\"text_delta\",\"text\":\"老師說：\"}}\n\n",
        "event: content_block_delta\n",
        "data: {\"type\":\"content_block_delta\",\"index\":1,\"delta\":{\"type\":\"text_delta\",\"text\":\"「你好」😀\"}}\n\n",
        "event: content_block_stop\ndata: {\"type\":\"content_block_stop\",\"index\":1}\n\n",
        "event: message_delta\n",
        "data: {\"type\":\"message_delta\",\"delta\":{\"stop_reason\":\"end_turn\",\"stop_sequence\":null},\"usage\":{\"output_tokens\":15}}\n\n",
        "event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n",
    );

    #[test]
    fn anthropic_stream_with_thinking_split_inside_characters() {
        let s = ANTHROPIC.as_bytes();
        let expect = |c: &Collected| {
            assert_eq!(c.content, "老師說：「你好」😀");
            assert_eq!(c.thinking, "想一想…");
            let stats = c.stats.as_ref().unwrap();
            assert_eq!(stats.done_reason.as_deref(), Some("stop"));
            assert_eq!(stats.prompt_eval_count, Some(30), "cache reads count");
            assert_eq!(stats.eval_count, Some(15));
        };
        expect(&collect(&[s]));
        for i in 0..=s.len() {
            for j in (i..=s.len()).step_by(13) {
                expect(&collect(&[&s[..i], &s[i..j], &s[j..]]));
            }
        }
        let singles: Vec<&[u8]> = s.chunks(1).collect();
        expect(&collect(&singles));
    }

    #[test]
    fn stop_reasons_in_ollama_words() {
        assert_eq!(done_reason("end_turn"), "stop");
        assert_eq!(done_reason("stop_sequence"), "stop");
        assert_eq!(done_reason("max_tokens"), "length");
        assert_eq!(done_reason("tool_use"), "tool_use");
        assert_eq!(done_reason("refusal"), "refusal");
    }

    #[test]
    fn an_error_event_ends_the_reply() {
        let s = b"event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_delta\",\"text\":\"par\"}}\n\nevent: error\ndata: {\"type\":\"error\",\"error\":{\"type\":\"overloaded_error\",\"message\":\"Overloaded\"}}\n\nevent: message_stop\ndata: {\"type\":\"message_stop\"}\n\n";
        let c = collect(&[s]);
        assert_eq!(c.content, "par");
        assert_eq!(c.errors, vec!["Overloaded (overloaded_error)"]);
        assert!(c.stats.is_none(), "nothing after the error counts");
        let bare = b"data: {\"type\":\"error\"}\n\n";
        assert_eq!(collect(&[bare]).errors, vec!["unknown error"]);
    }

    #[test]
    fn a_stream_cut_before_message_stop_is_not_done() {
        let cut = &STREAM
            [..STREAM.len() - b"event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n".len()];
        let c = collect(&[cut]);
        assert!(c.content.starts_with("You are"));
        assert!(c.stats.is_none());
        assert!(collect(&[b""]).stats.is_none());
    }

    #[test]
    fn unknown_events_and_deltas_and_missing_fields_are_ignored() {
        let s = concat!(
            "event: future_event\ndata: {\"type\":\"future_event\",\"x\":1}\n\n",
            "data: {\"type\":\"content_block_delta\",\"index\":0}\n\n",
            "data: {\"type\":\"content_block_delta\",\"delta\":{\"type\":\"input_json_delta\",\"partial_json\":\"{\\\"a\"}}\n\n",
            "data: {\"type\":\"content_block_delta\",\"delta\":{\"type\":\"text_delta\"}}\n\n",
            "data: {\"type\":\"content_block_delta\",\"delta\":{\"type\":\"citations_delta\",\"text\":\"no\"}}\n\n",
            "data: {\"type\":\"content_block_delta\",\"delta\":{\"type\":\"text_delta\",\"text\":\"ok\"}}\n\n",
            "data: {\"type\":\"message_start\"}\n\n",
            "data: {\"type\":\"message_delta\"}\n\n",
            "data: {\"type\":\"message_stop\"}\n\n",
            "data: garbage after the end is not read\n\n",
        );
        let c = collect(&[s.as_bytes()]);
        assert_eq!(c.content, "ok");
        assert_eq!(c.deltas, 1);
        let stats = c.stats.unwrap();
        assert_eq!(stats.done_reason, None);
        assert_eq!(stats.eval_count, None);
        assert!(stats.usage_unknown);
    }

    #[test]
    fn garbage_and_typeless_events_are_decode_errors() {
        let err =
            collect_framed(Framing::Sse, &[b"data: <html>502 Bad Gateway</html>\n\n"]).unwrap_err();
        assert!(err.contains("502 Bad Gateway"), "{err}");
        let err = collect_framed(Framing::Sse, &[b"data: {\"index\":0}\n\n"]).unwrap_err();
        assert!(err.contains("type"), "{err}");
        let err = collect_framed(Framing::Sse, &[b"data: [DONE]\n\n"]).unwrap_err();
        assert!(err.contains("[DONE]"), "{err}");
    }

    #[test]
    fn a_whole_message_in_any_split() {
        let expected = "Name a colour. 衣装\nName a colour. 衣装\n";
        for i in 0..=NONSTREAM.len() {
            let c = collect_framed(Framing::Whole, &[&NONSTREAM[..i], &NONSTREAM[i..]]).unwrap();
            assert_eq!(c.content, expected);
            let stats = c.stats.unwrap();
            assert_eq!(stats.done_reason.as_deref(), Some("length"));
            assert_eq!(stats.prompt_eval_count, Some(13));
            assert_eq!(stats.eval_count, Some(12));
        }
        let thinking = br#"{"type":"message","content":[{"type":"thinking","thinking":"hm","signature":"s"},{"type":"text","text":"42"}],"stop_reason":"end_turn","usage":{"input_tokens":3,"output_tokens":2}}"#;
        let c = collect_framed(Framing::Whole, &[thinking]).unwrap();
        assert_eq!((c.thinking.as_str(), c.content.as_str()), ("hm", "42"));
        assert_eq!(c.stats.unwrap().done_reason.as_deref(), Some("stop"));
        let err = br#"{"type":"error","error":{"type":"api_error","message":"boom"}}"#;
        assert_eq!(
            collect_framed(Framing::Whole, &[err]).unwrap().errors,
            vec!["boom (api_error)"]
        );
        assert!(collect_framed(Framing::Whole, &[b"not json"]).is_err());
    }
}
