//! Server-sent events, as the OpenAI and Anthropic APIs stream them: cuts a byte stream into the
//! `data` of each event, whatever the network's chunk boundaries. Pure, so every split point is
//! unit-tested. Shared framing, no API's vocabulary: each adapter reads the `data` in its own terms.
//!
//! Follows the parts of the WHATWG event-stream format that chat servers use: lines end in `\n`,
//! `\r\n` or a lone `\r` (also when the `\r` and `\n` arrive in different reads); `data:` lines are
//! joined with `\n` and handed out at the blank line that ends the event; a line starting with `:`
//! is a comment (keep-alive); `event:`, `id:`, `retry:` and unknown fields are ignored; a leading
//! byte-order mark is dropped. Lines are cut before any UTF-8 decoding, so a multi-byte character
//! split across reads is whole again when its event is handed out.

use crate::error::TooLong;

/// How a reply body is framed, decided from its `Content-Type`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Framing {
    /// `text/event-stream` (or no type given).
    Sse,
    /// `application/json`: the whole reply at once (a server that ignored `stream: true`).
    Whole,
}

/// The framing of a 200 answer to a stream request. Anything but an event stream or a JSON body
/// (an HTML page from a proxy, say) is refused rather than read as an empty reply.
pub fn framing_of(content_type: Option<&str>) -> Result<Framing, String> {
    let Some(ct) = content_type else {
        return Ok(Framing::Sse);
    };
    let ct = ct.to_ascii_lowercase();
    if ct.starts_with("text/event-stream") {
        Ok(Framing::Sse)
    } else if ct.starts_with("application/json") {
        Ok(Framing::Whole)
    } else {
        Err(format!("expected an event stream, got {ct}"))
    }
}

/// Adds one read of a `Framing::Whole` reply to the body so far, refusing a body longer than
/// `limit` (the limit of one event, which is what a whole reply stands for).
pub fn append_whole(whole: &mut Vec<u8>, bytes: &[u8], limit: usize) -> Result<(), TooLong> {
    crate::net::append_capped(whole, bytes, limit).map_err(|_| {
        *whole = Vec::new();
        TooLong {
            what: "a reply",
            limit,
        }
    })
}

/// The longest line, and the longest event `data`, a stream may send, in bytes: far beyond any
/// real event, small enough that a server that never ends one cannot fill the memory.
pub const MAX_EVENT: usize = 16 * 1024 * 1024;

/// Reassembles events from arbitrary byte chunks. Neither the unfinished line nor the event being
/// built ever holds more than the limit.
#[derive(Debug, Default)]
pub struct SseDecoder {
    /// An unfinished line.
    line: Vec<u8>,
    /// The `data` of the event being built (lines joined with `\n`).
    data: Vec<u8>,
    /// Whether the event being built has any `data` line (an empty `data:` still counts).
    has_data: bool,
    /// The last byte seen was a `\r`, so a `\n` right after it ends nothing.
    after_cr: bool,
    /// No byte has been seen yet (for the byte-order mark).
    at_start: bool,
    /// The longest line and the longest event `data`, in bytes.
    limit: usize,
}

const BOM: &[u8] = b"\xEF\xBB\xBF";

impl SseDecoder {
    pub fn new() -> Self {
        Self::with_limit(MAX_EVENT)
    }

    /// A decoder that refuses a line or an event longer than `limit` bytes (tests use small ones).
    pub fn with_limit(limit: usize) -> Self {
        SseDecoder {
            at_start: true,
            limit,
            ..Self::default()
        }
    }

    /// The limit of a line and of an event, in bytes (`--max-line`).
    pub fn limit(&self) -> usize {
        self.limit
    }

    /// Changes the limit before the first bytes are fed.
    pub fn set_limit(&mut self, limit: usize) {
        self.limit = limit;
    }

    /// Feeds bytes; calls `on_data` with the `data` of every complete event. A line or an event
    /// longer than the limit stops the feed with [`TooLong`], before it is buffered.
    pub fn feed<E: From<TooLong>>(
        &mut self,
        mut bytes: &[u8],
        mut on_data: impl FnMut(&[u8]) -> Result<(), E>,
    ) -> Result<(), E> {
        if self.at_start {
            // The mark may itself arrive split; hold back a prefix of it until it is decided.
            self.line.extend_from_slice(bytes);
            if self.line.len() < BOM.len() && BOM.starts_with(&self.line) {
                return Ok(());
            }
            self.at_start = false;
            let start = if self.line.starts_with(BOM) {
                BOM.len()
            } else {
                0
            };
            let held = std::mem::take(&mut self.line);
            return self.feed(&held[start..], on_data);
        }
        while !bytes.is_empty() {
            if self.after_cr {
                self.after_cr = false;
                if bytes[0] == b'\n' {
                    bytes = &bytes[1..];
                    continue;
                }
            }
            match bytes.iter().position(|&b| b == b'\n' || b == b'\r') {
                None => {
                    self.check("a line", self.line.len() + bytes.len())?;
                    self.line.extend_from_slice(bytes);
                    break;
                }
                Some(i) => {
                    self.check("a line", self.line.len() + i)?;
                    self.after_cr = bytes[i] == b'\r';
                    if self.line.is_empty() {
                        self.on_line(&bytes[..i], &mut on_data)?;
                    } else {
                        let mut line = std::mem::take(&mut self.line);
                        line.extend_from_slice(&bytes[..i]);
                        let result = self.on_line(&line, &mut on_data);
                        line.clear();
                        self.line = line;
                        result?;
                    }
                    bytes = &bytes[i + 1..];
                }
            }
        }
        Ok(())
    }

    /// Ends the stream. An event whose blank line never came is still handed out: a server that
    /// closes right after its last `data:` line meant it.
    pub fn finish<E: From<TooLong>>(
        &mut self,
        mut on_data: impl FnMut(&[u8]) -> Result<(), E>,
    ) -> Result<(), E> {
        if self.at_start {
            self.at_start = false;
            let held = std::mem::take(&mut self.line);
            self.feed(&held, &mut on_data)?;
        }
        if !self.line.is_empty() {
            let line = std::mem::take(&mut self.line);
            self.on_line(&line, &mut on_data)?;
        }
        self.dispatch(&mut on_data)
    }

    fn on_line<E: From<TooLong>>(
        &mut self,
        line: &[u8],
        on_data: &mut impl FnMut(&[u8]) -> Result<(), E>,
    ) -> Result<(), E> {
        if line.is_empty() {
            return self.dispatch(on_data);
        }
        if line[0] == b':' {
            return Ok(()); // a comment: keep-alive
        }
        let (field, value) = match line.iter().position(|&b| b == b':') {
            Some(i) => {
                let value = &line[i + 1..];
                (&line[..i], value.strip_prefix(b" ").unwrap_or(value))
            }
            None => (line, &b""[..]),
        };
        if field == b"data" {
            self.check(
                "an event",
                self.data.len() + usize::from(self.has_data) + value.len(),
            )?;
            if self.has_data {
                self.data.push(b'\n');
            }
            self.data.extend_from_slice(value);
            self.has_data = true;
        }
        Ok(())
    }

    /// Refuses `what` of `len` bytes if it is over the limit, dropping what was buffered.
    fn check(&mut self, what: &'static str, len: usize) -> Result<(), TooLong> {
        if len <= self.limit {
            return Ok(());
        }
        self.line = Vec::new();
        self.data = Vec::new();
        self.has_data = false;
        Err(TooLong {
            what,
            limit: self.limit,
        })
    }

    fn dispatch<E>(&mut self, on_data: &mut impl FnMut(&[u8]) -> Result<(), E>) -> Result<(), E> {
        if !self.has_data {
            return Ok(());
        }
        self.has_data = false;
        let result = on_data(&self.data);
        self.data.clear();
        result
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn events(pieces: &[&[u8]]) -> Vec<String> {
        let mut out = Vec::new();
        let mut d = SseDecoder::new();
        let mut on = |data: &[u8]| -> Result<(), TooLong> {
            out.push(String::from_utf8(data.to_vec()).expect("whole UTF-8"));
            Ok(())
        };
        for p in pieces {
            d.feed(p, &mut on).unwrap();
        }
        d.finish(&mut on).unwrap();
        out
    }

    /// Every way of cutting `bytes` in two, and byte by byte, gives `expected`.
    fn at_every_split(bytes: &[u8], expected: &[&str]) {
        for i in 0..=bytes.len() {
            let (a, b) = bytes.split_at(i);
            assert_eq!(events(&[a, b]), expected, "split at byte {i}");
        }
        let singles: Vec<&[u8]> = bytes.chunks(1).collect();
        assert_eq!(events(&singles), expected, "byte by byte");
    }

    #[test]
    fn recorded_streams_at_every_split_point() {
        let plain: &[u8] = include_bytes!("../tests/fixtures/recorded/v1_chat_stream.sse");
        let usage: &[u8] = include_bytes!("../tests/fixtures/recorded/v1_chat_stream_usage.sse");
        let think: &[u8] = include_bytes!("../tests/fixtures/recorded/v1_chat_think.sse");
        for bytes in [plain, usage, think] {
            let whole = events(&[bytes]);
            assert_eq!(whole.last().map(String::as_str), Some("[DONE]"));
            assert!(whole[0].starts_with("{\"id\":\"chatcmpl-"));
            let expected: Vec<&str> = whole.iter().map(String::as_str).collect();
            at_every_split(bytes, &expected);
        }
    }

    #[test]
    fn chinese_text_split_inside_characters() {
        let stream = "data: {\"c\":\"老師說：「你好」😀\"}\n\ndata: [DONE]\n\n".as_bytes();
        at_every_split(stream, &["{\"c\":\"老師說：「你好」😀\"}", "[DONE]"]);
        for i in 0..=stream.len() {
            for j in i..=stream.len() {
                let got = events(&[&stream[..i], &stream[i..j], &stream[j..]]);
                assert_eq!(
                    got[0], "{\"c\":\"老師說：「你好」😀\"}",
                    "splits at {i},{j}"
                );
            }
        }
    }

    #[test]
    fn crlf_and_lone_cr_line_endings() {
        at_every_split(b"data: a\r\n\r\ndata: b\r\rdata: c\n\n", &["a", "b", "c"]);
        // A \r at the end of one read and \n at the start of the next is one line ending.
        assert_eq!(events(&[b"data: a\r", b"\n\r", b"\n"]), vec!["a"]);
    }

    #[test]
    fn comments_event_names_and_other_fields_are_ignored() {
        let s = b": keep-alive\n\nevent: message\nid: 7\nretry: 100\ndata: x\n\n:ping\n\n";
        at_every_split(s, &["x"]);
    }

    #[test]
    fn several_data_lines_are_joined() {
        at_every_split(b"data: a\ndata:b\ndata\n\n", &["a\nb\n"]);
    }

    #[test]
    fn only_one_space_after_the_colon_is_dropped() {
        assert_eq!(events(&[b"data:  two\n\n"]), vec![" two"]);
    }

    #[test]
    fn blank_lines_without_data_dispatch_nothing() {
        assert!(events(&[b"\n\n\r\n: c\n\nevent: ping\n\n"]).is_empty());
        assert!(events(&[b""]).is_empty());
    }

    #[test]
    fn last_event_without_a_blank_line_still_counts() {
        assert_eq!(events(&[b"data: a\n\ndata: [DONE]"]), vec!["a", "[DONE]"]);
        assert_eq!(events(&[b"data: [DONE]\n"]), vec!["[DONE]"]);
    }

    #[test]
    fn byte_order_mark_is_dropped_even_when_split() {
        at_every_split(b"\xEF\xBB\xBFdata: a\n\n", &["a"]);
        assert_eq!(events(&[b"\xEF"]), Vec::<String>::new());
    }

    #[test]
    fn an_error_from_the_callback_stops_the_feed() {
        let mut d = SseDecoder::new();
        let mut seen = 0;
        let r = d.feed(b"data: a\n\ndata: b\n\n", |_| {
            seen += 1;
            Err(Stop::Said)
        });
        assert_eq!(r, Err(Stop::Said));
        assert_eq!(seen, 1);
    }

    #[test]
    fn framing_from_the_content_type() {
        assert_eq!(framing_of(None), Ok(Framing::Sse));
        assert_eq!(
            framing_of(Some("text/event-stream; charset=utf-8")),
            Ok(Framing::Sse)
        );
        assert_eq!(framing_of(Some("Application/JSON")), Ok(Framing::Whole));
        assert!(framing_of(Some("text/html"))
            .unwrap_err()
            .contains("text/html"));
    }

    #[derive(Debug, PartialEq)]
    enum Stop {
        Said,
        TooLong(TooLong),
    }

    impl From<TooLong> for Stop {
        fn from(e: TooLong) -> Self {
            Stop::TooLong(e)
        }
    }

    /// The events a decoder with `limit` hands out for `pieces`, or the error it stops with;
    /// checks after every read that nothing buffered is past the limit.
    fn events_with_limit(limit: usize, pieces: &[&[u8]]) -> Result<Vec<Vec<u8>>, TooLong> {
        let mut d = SseDecoder::with_limit(limit);
        let mut out = Vec::new();
        for p in pieces {
            d.feed(p, |data| {
                out.push(data.to_vec());
                Ok::<(), TooLong>(())
            })?;
            assert!(d.line.len() <= limit.max(BOM.len()) && d.data.len() <= limit);
        }
        d.finish(|data| {
            out.push(data.to_vec());
            Ok::<(), TooLong>(())
        })?;
        Ok(out)
    }

    /// `bytes` gives `expected` cut anywhere into two or three pieces.
    fn with_limit_at_every_split(
        limit: usize,
        bytes: &[u8],
        expected: &Result<Vec<Vec<u8>>, TooLong>,
    ) {
        for i in 0..=bytes.len() {
            for j in i..=bytes.len() {
                let pieces = [&bytes[..i], &bytes[i..j], &bytes[j..]];
                assert_eq!(
                    &events_with_limit(limit, &pieces),
                    expected,
                    "splits at {i},{j}"
                );
            }
        }
    }

    #[test]
    fn lines_and_events_at_the_limit_pass_and_one_byte_more_fails_at_every_split() {
        const LIMIT: usize = 10;
        let line = |n| TooLong {
            what: "a line",
            limit: n,
        };
        let event = |n| TooLong {
            what: "an event",
            limit: n,
        };
        // A line of exactly 10 bytes, and an event of exactly 10 bytes in two lines.
        let fits = b"data: abcd\n\ndata: 1234\ndata:56789\n\n";
        let expected = Ok(vec![b"abcd".to_vec(), b"1234\n56789".to_vec()]);
        with_limit_at_every_split(LIMIT, fits, &expected);
        // One byte more: in a data line, in a comment, in the joined event.
        with_limit_at_every_split(LIMIT, b"data: abcde\n\n", &Err(line(LIMIT)));
        with_limit_at_every_split(LIMIT, b": keep-alive\n\ndata: a\n\n", &Err(line(LIMIT)));
        with_limit_at_every_split(LIMIT, b"data:12345\ndata:67890\n\n", &Err(event(LIMIT)));
        // A last line without an ending counts too, and \r\n endings are no part of the line.
        with_limit_at_every_split(LIMIT, b"data:abcde\r\n\r\ndata: abcde", &Err(line(LIMIT)));
        with_limit_at_every_split(LIMIT, b"data:abcde\r\n\r\n", &Ok(vec![b"abcde".to_vec()]));
    }

    #[test]
    fn an_event_that_never_ends_is_refused_without_buffering_past_the_limit() {
        let mut d = SseDecoder::new();
        let read = b"data: xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\n"
            .repeat(2048);
        let err = loop {
            if let Err(e) = d.feed(&read, |_| Ok::<(), TooLong>(())) {
                break e;
            }
            assert!(d.data.len() <= MAX_EVENT && d.line.len() <= MAX_EVENT);
        };
        assert_eq!(
            err.to_string(),
            "the server sent an event longer than 16 MiB; the reply was stopped (raise the limit with --max-line)"
        );
        let mut d = SseDecoder::new();
        let read = vec![b'x'; 1 << 20];
        let err = loop {
            if let Err(e) = d.feed(&read, |_| Ok::<(), TooLong>(())) {
                break e;
            }
            assert!(d.line.len() <= MAX_EVENT);
        };
        assert_eq!(
            err.to_string(),
            "the server sent a line longer than 16 MiB; the reply was stopped (raise the limit with --max-line)"
        );
    }

    mod twins {
        //! The fuzz target `sse`'s twin: its invariants on seeded cases (see `crate::fuzzing`).
        use proptest::prelude::*;

        use crate::fuzzing::{proptest_config, sse, stream_input};

        /// Pieces of OpenAI and Anthropic events and of the framing, Chinese and an emoji included.
        const PARTS: &[&str] = &[
            "data: ",
            "data:",
            "event: message_delta",
            ": keep-alive",
            "id: 7",
            "retry: 1",
            "\u{feff}",
            r#"{"id":"chatcmpl-1","choices":[{"index":0,"delta":{"content":"#,
            r#"{"choices":[{"delta":{"reasoning":"hmm"},"finish_reason":"stop"}],"usage":{"prompt_tokens":3,"completion_tokens":2}}"#,
            r#"{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"#,
            r#"{"type":"message_delta","delta":{"stop_reason":"end_turn"},"usage":{"output_tokens":5}}"#,
            r#"{"type":"message_stop"}"#,
            r#"{"type":"error","error":{"type":"overloaded_error","message":"busy"}}"#,
            "[DONE]",
            "\"你好\"",
            "老師",
            "😀",
            "}}]}",
            "}}",
            "\n",
            "\r\n",
            "\r",
            "\n\n",
        ];

        proptest! {
            #![proptest_config(proptest_config(0x0053_5345))]
            #[test]
            fn near_streams_decode_the_same_however_cut(data in stream_input(PARTS, 24)) {
                sse(&data);
            }

            #[test]
            fn any_bytes_decode_the_same_however_cut(data in proptest::collection::vec(any::<u8>(), 0..300)) {
                sse(&data);
            }

            #[test]
            fn the_recorded_streams_at_any_cut_and_limit(controls in any::<[u8; 3]>(), anthropic in any::<bool>()) {
                let mut data = controls.to_vec();
                data.extend_from_slice(if anthropic {
                    &include_bytes!("../tests/fixtures/recorded/v1_messages_stream.sse")[..]
                } else {
                    &include_bytes!("../tests/fixtures/recorded/v1_chat_think.sse")[..]
                });
                sse(&data);
            }
        }
    }
}
