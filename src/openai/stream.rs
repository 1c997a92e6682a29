//! A chat-completions reply, bytes in any split → the events the turn consumes (`ChatEvent`): text
//! and thinking deltas, then one `Done` carrying `finish_reason` and the usage counts, or an
//! `Error`. Pure, so every split point is unit-tested.
//!
//! The stream is `data: {chunk}` events ending in `data: [DONE]`; with `include_usage` a chunk with
//! no choices and a `usage` object comes just before `[DONE]`. `Done` is emitted at `[DONE]`, so
//! the usage is in it. A server that answered the stream request with one whole JSON completion
//! is read too.

use crate::conversation::{arguments_object, dotted, ChatEvent, FinalStats, ToolCall};
use crate::error::TooLong;
use crate::error::{DecodeError, FeedError};

use super::error::ErrorInfo;
use super::wire::{Completion, DeltaToolCall, StreamChunk, Usage};
pub use crate::sse::Framing;
use crate::sse::{append_whole, SseDecoder};

/// Turns a reply body into chat events.
#[derive(Debug)]
pub struct EventDecoder {
    framing: Framing,
    sse: SseDecoder,
    /// The body so far, for `Framing::Whole`.
    whole: Vec<u8>,
    finish_reason: Option<String>,
    usage: Option<Usage>,
    /// Calls being streamed, by their `index`; handed out whole before `Done`.
    calls: Vec<PartialCall>,
    /// `[DONE]` or an error event was seen: nothing after it counts.
    ended: bool,
}

/// A call whose fragments are still arriving.
#[derive(Debug, Default)]
struct PartialCall {
    index: usize,
    id: Option<String>,
    name: String,
    arguments: String,
}

impl EventDecoder {
    pub fn new(framing: Framing) -> Self {
        EventDecoder {
            framing,
            sse: SseDecoder::new(),
            whole: Vec::new(),
            finish_reason: None,
            usage: None,
            calls: Vec::new(),
            ended: false,
        }
    }

    /// Changes the limit of a line, an event and a whole reply before the first bytes are fed
    /// (`--max-line`).
    pub fn set_limit(&mut self, limit: usize) {
        self.sse.set_limit(limit);
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
        let (sse, mut state) = self.parts();
        sse.feed(bytes, |data| state.on_data(data, &mut on_event))
    }

    /// The SSE decoder and, borrowed beside it, the stream's running state.
    fn parts(&mut self) -> (&mut SseDecoder, State<'_>) {
        let limit = self.sse.limit();
        let Self {
            sse,
            finish_reason,
            usage,
            calls,
            ended,
            ..
        } = self;
        let state = State {
            finish_reason,
            usage,
            calls,
            ended,
            limit,
        };
        (sse, state)
    }

    /// The body ended cleanly. A stream that stopped after its `finish_reason` but before `[DONE]`
    /// still counts as finished (some servers skip `[DONE]`); one that stopped earlier does not,
    /// and the turn reports it as cut short.
    pub fn finish<E>(
        &mut self,
        mut on_event: impl FnMut(ChatEvent<'_>) -> Result<(), E>,
    ) -> Result<(), FeedError<E>> {
        if self.framing == Framing::Whole {
            let body = std::mem::take(&mut self.whole);
            return whole_completion(&body, &mut on_event);
        }
        let (sse, mut state) = self.parts();
        sse.finish(|data| state.on_data(data, &mut on_event))?;
        if !*state.ended && state.finish_reason.is_some() {
            tracing::debug!("the stream ended after its finish_reason but without [DONE]");
            *state.ended = true;
            state.emit_calls(&mut on_event)?;
            on_event(ChatEvent::Done {
                content: "",
                stats: stats(state.finish_reason, state.usage),
            })
            .map_err(FeedError::Sink)?;
        }
        Ok(())
    }
}

/// The decoder's state, borrowed apart from the SSE decoder that calls into it.
struct State<'s> {
    finish_reason: &'s mut Option<String>,
    usage: &'s mut Option<Usage>,
    calls: &'s mut Vec<PartialCall>,
    ended: &'s mut bool,
    /// The most bytes the calls' arguments may add up to.
    limit: usize,
}

impl State<'_> {
    /// Adds one delta's call fragments.
    fn add_fragments(&mut self, fragments: &[DeltaToolCall]) -> Result<(), TooLong> {
        for f in fragments {
            let at = match self.calls.iter().position(|c| c.index == f.index) {
                Some(at) => at,
                None => {
                    self.calls.push(PartialCall {
                        index: f.index,
                        ..PartialCall::default()
                    });
                    self.calls.len() - 1
                }
            };
            let call = &mut self.calls[at];
            if let Some(id) = f.id.as_deref().filter(|id| !id.is_empty()) {
                call.id = Some(id.to_string());
            }
            if let Some(function) = &f.function {
                call.name.push_str(function.name.as_deref().unwrap_or(""));
                call.arguments
                    .push_str(function.arguments.as_deref().unwrap_or(""));
            }
        }
        let total: usize = self
            .calls
            .iter()
            .map(|c| c.arguments.len() + c.name.len())
            .sum();
        if total > self.limit {
            return Err(TooLong {
                what: "a tool call",
                limit: self.limit,
            });
        }
        Ok(())
    }

    /// Hands out the streamed calls, whole, in the order of their indices.
    fn emit_calls<E>(
        &mut self,
        on_event: &mut impl FnMut(ChatEvent<'_>) -> Result<(), E>,
    ) -> Result<(), FeedError<E>> {
        let mut calls = std::mem::take(self.calls);
        calls.sort_by_key(|c| c.index);
        for c in calls.into_iter().filter(|c| !c.name.is_empty()) {
            let call = ToolCall {
                id: c.id,
                name: dotted(&c.name),
                arguments: arguments_object(serde_json::Value::String(c.arguments)),
            };
            on_event(ChatEvent::ToolCall(call)).map_err(FeedError::Sink)?;
        }
        Ok(())
    }

    fn on_data<E>(
        &mut self,
        data: &[u8],
        on_event: &mut impl FnMut(ChatEvent<'_>) -> Result<(), E>,
    ) -> Result<(), FeedError<E>> {
        if *self.ended {
            return Ok(());
        }
        if data.trim_ascii() == b"[DONE]" {
            *self.ended = true;
            self.emit_calls(on_event)?;
            let event = ChatEvent::Done {
                content: "",
                stats: stats(self.finish_reason, self.usage),
            };
            return on_event(event).map_err(FeedError::Sink);
        }
        let chunk: StreamChunk = serde_json::from_slice(data)
            .map_err(|source| FeedError::Decode(DecodeError::new(data, source)))?;
        if let Some(message) = chunk_error(&chunk) {
            *self.ended = true;
            return on_event(ChatEvent::Error(message)).map_err(FeedError::Sink);
        }
        if chunk.usage.is_some() {
            *self.usage = chunk.usage;
        }
        // One reply was asked for; a server that sends more choices is read for the first.
        for choice in chunk.choices.iter().filter(|c| c.index == 0) {
            if let Some(delta) = &choice.delta {
                self.add_fragments(&delta.tool_calls)
                    .map_err(FeedError::TooLong)?;
                let content = delta.content.as_deref().unwrap_or("");
                let thinking = delta.thinking();
                if !content.is_empty() || !thinking.is_empty() {
                    on_event(ChatEvent::Delta { content, thinking }).map_err(FeedError::Sink)?;
                }
            }
            if let Some(reason) = &choice.finish_reason {
                *self.finish_reason = Some(reason.to_string());
            }
        }
        Ok(())
    }
}

fn chunk_error(chunk: &StreamChunk<'_>) -> Option<String> {
    if let Some(e) = &chunk.error {
        let wrapped = serde_json::json!({ "error": e });
        return ErrorInfo::from_value(&wrapped).map(|i| i.message);
    }
    if chunk.object.as_deref() == Some("error") {
        return Some(
            chunk
                .message
                .as_deref()
                .unwrap_or("unknown error")
                .to_string(),
        );
    }
    None
}

/// The final statistics: `finish_reason` is the `done_reason`, the usage the token counts.
fn stats(finish_reason: &Option<String>, usage: &Option<Usage>) -> FinalStats {
    FinalStats {
        done_reason: finish_reason.clone(),
        prompt_eval_count: usage.as_ref().and_then(|u| u.prompt_tokens),
        eval_count: usage.as_ref().and_then(|u| u.completion_tokens),
        usage_unknown: usage.is_none(),
        ..FinalStats::default()
    }
}

fn whole_completion<E>(
    body: &[u8],
    on_event: &mut impl FnMut(ChatEvent<'_>) -> Result<(), E>,
) -> Result<(), FeedError<E>> {
    if let Some(info) = serde_json::from_slice(body)
        .ok()
        .and_then(|v| ErrorInfo::from_value(&v))
    {
        return on_event(ChatEvent::Error(info.message)).map_err(FeedError::Sink);
    }
    let completion: Completion = serde_json::from_slice(body)
        .map_err(|source| FeedError::Decode(DecodeError::new(body, source)))?;
    let Some(choice) = completion.choices.into_iter().next() else {
        return Ok(()); // no reply at all: the turn reports it as incomplete
    };
    let m = &choice.message;
    let thinking = m
        .reasoning
        .as_deref()
        .filter(|s| !s.is_empty())
        .or(m.reasoning_content.as_deref())
        .unwrap_or("");
    let content = m.content.as_deref().unwrap_or("");
    if !content.is_empty() || !thinking.is_empty() {
        on_event(ChatEvent::Delta { content, thinking }).map_err(FeedError::Sink)?;
    }
    for c in &m.tool_calls {
        let Some(f) = c.function.as_ref().filter(|f| f.name.is_some()) else {
            continue;
        };
        let call = ToolCall {
            id: c.id.clone().filter(|id| !id.is_empty()),
            name: dotted(f.name.as_deref().unwrap_or("")),
            arguments: arguments_object(serde_json::Value::String(
                f.arguments.clone().unwrap_or_default(),
            )),
        };
        on_event(ChatEvent::ToolCall(call)).map_err(FeedError::Sink)?;
    }
    let reason = choice.finish_reason.or_else(|| Some("stop".to_string()));
    on_event(ChatEvent::Done {
        content: "",
        stats: stats(&reason, &completion.usage),
    })
    .map_err(FeedError::Sink)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, PartialEq, Default)]
    struct Collected {
        content: String,
        thinking: String,
        /// Delta events: one per chunk that carried text.
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

    const PLAIN: &[u8] = include_bytes!("../../tests/fixtures/recorded/v1_chat_stream.sse");
    const USAGE: &[u8] = include_bytes!("../../tests/fixtures/recorded/v1_chat_stream_usage.sse");
    const THINK: &[u8] = include_bytes!("../../tests/fixtures/recorded/v1_chat_think.sse");

    /// Two calls streamed as OpenAI does: the first fragment of each names it, the arguments
    /// follow in pieces (one split inside a Chinese character's JSON escape-free bytes).
    const CALLS: &str = concat!(
        "data: {\"choices\":[{\"index\":0,\"delta\":{\"role\":\"assistant\",\"content\":null,\"tool_calls\":[{\"index\":0,\"id\":\"call_a\",\"type\":\"function\",\"function\":{\"name\":\"read_file\",\"arguments\":\"\"}}]}}]}\n\n",
        "data: {\"choices\":[{\"index\":0,\"delta\":{\"tool_calls\":[{\"index\":0,\"function\":{\"arguments\":\"{\\\"path\\\": \\\"笔\"}}]}}]}\n\n",
        "data: {\"choices\":[{\"index\":0,\"delta\":{\"tool_calls\":[{\"index\":0,\"function\":{\"arguments\":\"记.txt\\\"}\"}}]}}]}\n\n",
        "data: {\"choices\":[{\"index\":0,\"delta\":{\"tool_calls\":[{\"index\":1,\"id\":\"call_b\",\"type\":\"function\",\"function\":{\"name\":\"fs__list_dir\",\"arguments\":\"{}\"}}]}}]}\n\n",
        "data: {\"choices\":[{\"index\":0,\"delta\":{},\"finish_reason\":\"tool_calls\"}]}\n\n",
        "data: [DONE]\n\n",
    );

    #[test]
    fn streamed_calls_come_out_whole_at_every_split() {
        let body = CALLS.as_bytes();
        for at in 0..body.len() {
            let got = collect(&[&body[..at], &body[at..]]);
            assert_eq!(got.tool_calls.len(), 2, "split at {at}");
            assert_eq!(got.tool_calls[0].id.as_deref(), Some("call_a"));
            assert_eq!(got.tool_calls[0].name, "read_file");
            assert_eq!(
                got.tool_calls[0].arguments,
                serde_json::json!({"path": "笔记.txt"})
            );
            assert_eq!(got.tool_calls[1].name, "fs.list_dir", "dots come back");
            let stats = got.stats.unwrap();
            assert_eq!(stats.done_reason.as_deref(), Some("tool_calls"));
        }
        let bytewise: Vec<&[u8]> = body.chunks(1).collect();
        assert_eq!(collect(&bytewise).tool_calls.len(), 2);
    }

    #[test]
    fn endless_call_arguments_are_refused() {
        let mut d = EventDecoder::new(Framing::Sse);
        d.set_limit(200);
        let frag = "data: {\"choices\":[{\"index\":0,\"delta\":{\"tool_calls\":[{\"index\":0,\"function\":{\"name\":\"x\",\"arguments\":\"aaaaaaaaaaaaaaaaaaaa\"}}]}}]}\n\n";
        assert!(frag.len() < 200, "each event fits");
        let mut r = Ok(());
        for _ in 0..20 {
            r = d.feed(frag.as_bytes(), |_| Ok::<(), ()>(()));
            if r.is_err() {
                break;
            }
        }
        assert!(matches!(r, Err(FeedError::TooLong(t)) if t.what == "a tool call"));
    }

    #[test]
    fn recorded_stream_with_usage() {
        let c = collect(&[USAGE]);
        assert_eq!(c.content, "You have a 3-digit number");
        assert_eq!(c.deltas, 8);
        let stats = c.stats.unwrap();
        assert_eq!(stats.done_reason.as_deref(), Some("length"));
        assert_eq!(stats.prompt_eval_count, Some(23));
        assert_eq!(stats.eval_count, Some(8));
        assert!(!stats.usage_unknown);
        assert!(c.errors.is_empty());
    }

    #[test]
    fn recorded_stream_without_usage_has_unknown_counts() {
        let c = collect(&[PLAIN]);
        assert_eq!(c.content, "You are a model.\n\nName a color. mendatanguser");
        let stats = c.stats.unwrap();
        assert_eq!(stats.done_reason.as_deref(), Some("length"));
        assert_eq!(stats.eval_count, None);
        assert!(stats.usage_unknown);
    }

    #[test]
    fn recorded_reasoning_is_thinking() {
        let c = collect(&[THINK]);
        assert_eq!(c.thinking, "Consider.you'to.you.and");
        assert_eq!(c.content, "");
        assert!(c.stats.is_some());
    }

    #[test]
    fn recorded_streams_at_every_split_point() {
        for bytes in [PLAIN, USAGE, THINK] {
            let whole = collect(&[bytes]);
            for i in 0..=bytes.len() {
                let (a, b) = bytes.split_at(i);
                let c = collect(&[a, b]);
                assert_eq!(
                    (&c.content, &c.thinking, &c.stats, &c.errors),
                    (&whole.content, &whole.thinking, &whole.stats, &whole.errors),
                    "split at byte {i}"
                );
            }
            let singles: Vec<&[u8]> = bytes.chunks(1).collect();
            assert_eq!(collect(&singles).content, whole.content);
        }
    }

    #[test]
    fn chinese_deltas_split_inside_characters() {
        let s = "data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"老師說：\"}}]}\n\ndata: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"「你好」😀\"},\"finish_reason\":\"stop\"}]}\n\ndata: [DONE]\n\n".as_bytes();
        for i in 0..=s.len() {
            for j in (i..=s.len()).step_by(7) {
                let c = collect(&[&s[..i], &s[i..j], &s[j..]]);
                assert_eq!(c.content, "老師說：「你好」😀", "splits at {i},{j}");
                assert_eq!(c.stats.unwrap().done_reason.as_deref(), Some("stop"));
            }
        }
    }

    #[test]
    fn error_event_inside_the_stream() {
        let s = b"data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"par\"}}]}\n\ndata: {\"error\":{\"message\":\"the model crashed\",\"type\":\"api_error\",\"param\":null,\"code\":null}}\n\ndata: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"ignored\"}}]}\n\n";
        let c = collect(&[s]);
        assert_eq!(c.content, "par");
        assert_eq!(c.errors, vec!["the model crashed"]);
        assert!(c.stats.is_none());
        let vllm = b"data: {\"object\":\"error\",\"message\":\"out of memory\",\"type\":\"InternalServerError\",\"code\":500}\n\n";
        assert_eq!(collect(&[vllm]).errors, vec!["out of memory"]);
        let plain = b"event: error\ndata: {\"error\":\"overloaded\"}\n\n";
        assert_eq!(collect(&[plain]).errors, vec!["overloaded"]);
    }

    #[test]
    fn ending_before_finish_reason_is_not_done() {
        let s = b"data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"half\"},\"finish_reason\":null}]}\n\n";
        let c = collect(&[s]);
        assert_eq!(c.content, "half");
        assert!(c.stats.is_none());
    }

    #[test]
    fn ending_after_finish_reason_without_done_counts_as_finished() {
        let s = b"data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"ok\"},\"finish_reason\":\"stop\"}]}\n\ndata: {\"choices\":[],\"usage\":{\"prompt_tokens\":5,\"completion_tokens\":1}}\n\n";
        let stats = collect(&[s]).stats.unwrap();
        assert_eq!(stats.done_reason.as_deref(), Some("stop"));
        assert_eq!(stats.prompt_eval_count, Some(5));
    }

    #[test]
    fn nothing_after_done_counts() {
        let s = b"data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"a\"},\"finish_reason\":\"stop\"}]}\n\ndata: [DONE]\n\ndata: garbage\n\n";
        let c = collect(&[s]);
        assert_eq!(c.content, "a");
        assert!(c.stats.is_some());
    }

    #[test]
    fn keep_alive_comments_and_null_content() {
        let s = b": ping\n\ndata: {\"choices\":[{\"index\":0,\"delta\":{\"role\":\"assistant\",\"content\":null}}]}\n\n: ping\n\ndata: {\"choices\":[{\"index\":1,\"delta\":{\"content\":\"other choice\"}}]}\n\ndata: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"x\"},\"finish_reason\":\"stop\"}]}\n\ndata: [DONE]\n\n";
        let c = collect(&[s]);
        assert_eq!(c.content, "x");
        assert_eq!(c.deltas, 1);
    }

    #[test]
    fn garbage_is_a_decode_error() {
        let err =
            collect_framed(Framing::Sse, &[b"data: <html>502 Bad Gateway</html>\n\n"]).unwrap_err();
        assert!(err.contains("502 Bad Gateway"), "{err}");
    }

    #[test]
    fn a_whole_completion_in_any_split() {
        let body = br#"{"id":"chatcmpl-1","object":"chat.completion","created":1795911027,"model":"tiny","system_fingerprint":"fp_ollama","choices":[{"index":0,"message":{"role":"assistant","content":"You are a model.\n\nName a color. mendatanguser"},"finish_reason":"length"}],"usage":{"prompt_tokens":18,"completion_tokens":12,"total_tokens":30}}"#;
        for i in (0..=body.len()).step_by(5) {
            let c = collect_framed(Framing::Whole, &[&body[..i], &body[i..]]).unwrap();
            assert_eq!(c.content, "You are a model.\n\nName a color. mendatanguser");
            let stats = c.stats.unwrap();
            assert_eq!(stats.eval_count, Some(12));
            assert_eq!(stats.done_reason.as_deref(), Some("length"));
        }
        let err = collect_framed(Framing::Whole, &[br#"{"error":{"message":"nope"}}"#]).unwrap();
        assert_eq!(err.errors, vec!["nope"]);
    }
}
