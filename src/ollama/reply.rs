//! A chat reply in flight, as the turn reads it: network batches in, chat events out. Everything
//! after the final chunk or an error line is ignored.

use bytes::Bytes;

use super::client::ChatResponse;
use super::ndjson::{event, parse_chunk, LineSplitter};
use crate::conversation::ChatEvent;
use crate::error::{ApiError, FeedError};

/// Dropping it closes the connection, which stops the server generating.
pub struct Reply {
    resp: ChatResponse,
    lines: LineSplitter,
    /// The final chunk or an error line was seen: nothing after it counts.
    ended: bool,
}

impl Reply {
    pub fn new(resp: ChatResponse) -> Self {
        Reply {
            resp,
            lines: LineSplitter::new(),
            ended: false,
        }
    }

    /// The same reply with another limit on a line's length (`--max-line`).
    pub fn with_max_line(mut self, limit: usize) -> Self {
        self.lines.set_limit(limit);
        self
    }

    /// The next bytes off the network; `None` at the end of the body.
    pub async fn read(&mut self) -> Result<Option<Bytes>, ApiError> {
        self.resp.chunk().await
    }

    /// Decodes the bytes of one read into events.
    pub fn feed<E>(
        &mut self,
        bytes: &[u8],
        on_event: impl FnMut(ChatEvent<'_>) -> Result<(), E>,
    ) -> Result<(), FeedError<E>> {
        let mut on_line = ndjson_events(&mut self.ended, on_event);
        self.lines.feed(bytes, &mut on_line)
    }

    /// The body ended cleanly: decodes a last line without a newline.
    pub fn finish<E>(
        &mut self,
        on_event: impl FnMut(ChatEvent<'_>) -> Result<(), E>,
    ) -> Result<(), FeedError<E>> {
        let mut on_line = ndjson_events(&mut self.ended, on_event);
        self.lines.finish(&mut on_line)
    }
}

/// NDJSON line → event, ignoring everything after the final chunk or an error line.
fn ndjson_events<'e, E>(
    ended: &'e mut bool,
    mut on_event: impl FnMut(ChatEvent<'_>) -> Result<(), E> + 'e,
) -> impl FnMut(&[u8]) -> Result<(), FeedError<E>> + 'e {
    move |line| {
        if *ended {
            return Ok(());
        }
        let chunk = parse_chunk(line).map_err(FeedError::Decode)?;
        if chunk.error.is_none() {
            for call in chunk.message.iter().flat_map(|m| &m.tool_calls) {
                on_event(ChatEvent::ToolCall(call.to_call())).map_err(FeedError::Sink)?;
            }
        }
        let ev = event(&chunk);
        if matches!(ev, ChatEvent::Done { .. } | ChatEvent::Error(_)) {
            *ended = true;
        }
        on_event(ev).map_err(FeedError::Sink)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ndjson_events_stop_after_the_final_chunk() {
        let mut ended = false;
        let mut seen = Vec::new();
        let mut lines = LineSplitter::new();
        let body = b"{\"message\":{\"content\":\"a\"},\"done\":false}\n{\"done\":true,\"done_reason\":\"stop\"}\nnot json\n";
        let r = {
            let mut on_line = ndjson_events(&mut ended, |ev: ChatEvent<'_>| {
                seen.push(format!("{ev:?}"));
                Ok::<(), ()>(())
            });
            lines.feed(body, &mut on_line)
        };
        assert!(r.is_ok(), "garbage after the final chunk is ignored");
        assert!(ended);
        assert_eq!(seen.len(), 2);
    }

    /// A tool call line as Ollama streams it, with Chinese arguments, fed at every split point.
    #[test]
    fn tool_calls_come_out_whole_at_every_split() {
        let body = "{\"message\":{\"role\":\"assistant\",\"content\":\"\",\"tool_calls\":[{\"id\":\"call_1\",\"function\":{\"index\":0,\"name\":\"read_file\",\"arguments\":{\"path\":\"笔记.txt\"}}},{\"function\":{\"index\":1,\"name\":\"now\",\"arguments\":{}}}]},\"done\":false}\n{\"done\":true,\"done_reason\":\"stop\"}\n".as_bytes();
        for at in 0..body.len() {
            let mut ended = false;
            let mut calls = Vec::new();
            let mut lines = LineSplitter::new();
            {
                let mut on_line = ndjson_events(&mut ended, |ev: ChatEvent<'_>| {
                    if let ChatEvent::ToolCall(c) = ev {
                        calls.push(c);
                    }
                    Ok::<(), ()>(())
                });
                lines.feed(&body[..at], &mut on_line).unwrap();
                lines.feed(&body[at..], &mut on_line).unwrap();
            }
            assert!(ended);
            assert_eq!(calls.len(), 2, "split at {at}");
            assert_eq!(calls[0].id.as_deref(), Some("call_1"));
            assert_eq!(calls[0].name, "read_file");
            assert_eq!(calls[0].arguments, serde_json::json!({"path": "笔记.txt"}));
            assert_eq!(
                (calls[1].id.as_deref(), calls[1].name.as_str()),
                (None, "now")
            );
        }
    }

    #[test]
    fn a_malformed_tool_call_is_a_decode_error() {
        for line in [
            &br#"{"message":{"content":"","tool_calls":[{"function":{"arguments":{}}}]},"done":false}"#[..],
            br#"{"message":{"content":"","tool_calls":{"function":{"name":"x"}}},"done":false}"#,
            br#"{"message":{"content":"","tool_calls":[{"name":"x"}]},"done":false}"#,
        ] {
            let mut ended = false;
            let mut on_line = ndjson_events(&mut ended, |_: ChatEvent<'_>| Ok::<(), ()>(()));
            assert!(matches!(on_line(line), Err(FeedError::Decode(_))));
        }
    }
}
