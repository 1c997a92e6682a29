//! Splits a byte stream into NDJSON lines, whatever the network's chunk boundaries, and decodes each
//! line of a chat stream into an event.
//!
//! Lines are cut on `\n` bytes before any UTF-8 decoding, so a multi-byte character split across two
//! reads is whole again by the time its line is parsed.

use std::borrow::Cow;

use super::wire::{final_stats, ChatChunk, ChunkMessage};
use crate::conversation::ChatEvent;
use crate::error::{DecodeError, TooLong};

/// The longest line a reply may send, in bytes (its `\r` included, its `\n` not): far beyond any
/// real chunk (an image in a tool result is a few MiB), small enough that a server that never
/// ends its line cannot fill the memory. The same as an SSE event's: `--max-line` sets both.
pub const MAX_LINE: usize = crate::sse::MAX_EVENT;

/// Reassembles lines from arbitrary byte chunks. Complete lines inside one chunk are handed out
/// without copying; only an unfinished tail is buffered, and never more than the limit of it.
#[derive(Debug)]
pub struct LineSplitter {
    pending: Vec<u8>,
    limit: usize,
}

impl Default for LineSplitter {
    fn default() -> Self {
        Self::with_limit(MAX_LINE)
    }
}

impl LineSplitter {
    pub fn new() -> Self {
        Self::default()
    }

    /// A splitter that refuses lines longer than `limit` bytes (tests use small ones).
    pub fn with_limit(limit: usize) -> Self {
        LineSplitter {
            pending: Vec::new(),
            limit,
        }
    }

    /// Changes the limit before the first bytes are fed (`--max-line`).
    pub fn set_limit(&mut self, limit: usize) {
        self.limit = limit;
    }

    /// Feeds bytes; calls `on_line` for every complete non-blank line (without its `\n`/`\r\n`).
    /// A line longer than the limit stops the feed with [`TooLong`], before it is buffered.
    pub fn feed<E: From<TooLong>>(
        &mut self,
        mut data: &[u8],
        mut on_line: impl FnMut(&[u8]) -> Result<(), E>,
    ) -> Result<(), E> {
        if !self.pending.is_empty() {
            match memchr::memchr(b'\n', data) {
                None => {
                    self.check(self.pending.len() + data.len())?;
                    self.pending.extend_from_slice(data);
                    return Ok(());
                }
                Some(i) => {
                    self.check(self.pending.len() + i)?;
                    self.pending.extend_from_slice(&data[..i]);
                    data = &data[i + 1..];
                    let line = std::mem::take(&mut self.pending);
                    let result = emit(&line, &mut on_line);
                    self.pending = line;
                    self.pending.clear();
                    result?;
                }
            }
        }
        let mut start = 0;
        for end in memchr::memchr_iter(b'\n', data) {
            self.check(end - start)?;
            emit(&data[start..end], &mut on_line)?;
            start = end + 1;
        }
        self.check(data.len() - start)?;
        self.pending.extend_from_slice(&data[start..]);
        Ok(())
    }

    /// Ends the stream: a last line without a trailing newline still counts.
    pub fn finish<E>(&mut self, mut on_line: impl FnMut(&[u8]) -> Result<(), E>) -> Result<(), E> {
        let line = std::mem::take(&mut self.pending);
        emit(&line, &mut on_line)
    }

    /// Whether an unfinished line is waiting for more bytes.
    pub fn has_pending(&self) -> bool {
        self.pending.iter().any(|b| !b.is_ascii_whitespace())
    }

    /// Refuses a line of `len` bytes if it is over the limit, dropping what was buffered of it.
    fn check(&mut self, len: usize) -> Result<(), TooLong> {
        if len <= self.limit {
            return Ok(());
        }
        self.pending = Vec::new();
        Err(TooLong {
            what: "a line",
            limit: self.limit,
        })
    }
}

fn emit<E>(line: &[u8], on_line: &mut impl FnMut(&[u8]) -> Result<(), E>) -> Result<(), E> {
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    if line.iter().all(u8::is_ascii_whitespace) {
        return Ok(());
    }
    on_line(line)
}

/// Decodes one NDJSON line of `POST /api/chat`. The event borrows from `chunk`, which the caller keeps.
pub fn parse_chunk(line: &[u8]) -> Result<ChatChunk<'_>, DecodeError> {
    if let Some(chunk) = parse_plain_token(line) {
        return Ok(chunk);
    }
    serde_json::from_slice(line).map_err(|source| DecodeError::new(line, source))
}

/// What Ollama sends for nearly every token, up to the three string values.
const TOKEN_LINE: [&[u8]; 4] = [
    br#"{"model":""#,
    br#"","created_at":""#,
    br#"","message":{"role":"assistant","content":""#,
    br#""},"done":false}"#,
];

/// The fast path for the line nearly every token comes in: exactly the `TOKEN_LINE` shape, with
/// strings that need no unescaping. It reads the token in place, about four times faster than
/// the general decoder. Anything else (an escape, thinking, another field or order, a control
/// character, invalid UTF-8, a name or time that is not ASCII) returns `None` for the general
/// decoder, so this accepts only lines that it decodes exactly as serde does.
pub(crate) fn parse_plain_token(line: &[u8]) -> Option<ChatChunk<'_>> {
    let rest = line.strip_prefix(TOKEN_LINE[0])?;
    let (model, rest) = plain_string(rest)?;
    let rest = rest.strip_prefix(TOKEN_LINE[1])?;
    let (created_at, rest) = plain_string(rest)?;
    let rest = rest.strip_prefix(TOKEN_LINE[2])?;
    let (content, rest) = plain_string(rest)?;
    if rest != TOKEN_LINE[3] {
        return None;
    }
    // Names and times are ASCII in practice; anything else goes the general way.
    if !model.is_ascii() || !created_at.is_ascii() {
        return None;
    }
    let content = std::str::from_utf8(content).ok()?;
    Some(ChatChunk {
        message: Some(ChunkMessage {
            content: Cow::Borrowed(content),
            thinking: None,
            tool_calls: Vec::new(),
        }),
        ..ChatChunk::default()
    })
}

/// A JSON string's bytes up to its closing quote (which `s` starts after) and what follows the
/// quote; `None` if an escape or a control character comes first.
fn plain_string(s: &[u8]) -> Option<(&[u8], &[u8])> {
    let end = memchr::memchr2(b'"', b'\\', s)?;
    let (text, rest) = s.split_at(end);
    // A fold rather than `any`, so that it compiles to a vector loop.
    let control = text.iter().fold(false, |seen, &b| seen | (b < 0x20));
    (rest[0] == b'"' && !control).then_some((text, rest))
}

/// Interprets a decoded chunk.
pub fn event<'a>(chunk: &'a ChatChunk<'a>) -> ChatEvent<'a> {
    if let Some(err) = &chunk.error {
        return ChatEvent::Error(err.to_string());
    }
    let (content, thinking) = match &chunk.message {
        Some(m) => (m.content.as_ref(), m.thinking.as_deref().unwrap_or("")),
        None => ("", ""),
    };
    if chunk.done {
        ChatEvent::Done {
            content,
            stats: final_stats(chunk),
        }
    } else {
        ChatEvent::Delta { content, thinking }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::conversation::FinalStats;
    use crate::error::ApiError;

    /// The recorded multi-turn stream, plus a Chinese reply and a thinking stream.
    const RECORDED: &str = concat!(
        r#"{"model":"tiny","created_at":"2026-11-29T00:09:38.878977244Z","message":{"role":"assistant","content":"The"},"done":false}"#,
        "\n",
        r#"{"model":"tiny","created_at":"2026-11-29T00:09:38.978201256Z","message":{"role":"assistant","content":"遷移"},"done":false}"#,
        "\n",
        r#"{"model":"tiny","created_at":"2026-11-29T00:09:38.978201256Z","message":{"role":"assistant","content":"你好，世界！\n"},"done":false}"#,
        "\n",
        r#"{"model":"tiny-think","created_at":"2026-11-29T00:09:54.095612029Z","message":{"role":"assistant","content":"","thinking":"\u003clook"},"done":false}"#,
        "\n",
        r#"{"model":"tiny","created_at":"2026-11-29T00:09:39.306954297Z","message":{"role":"assistant","content":""},"done":true,"done_reason":"length","total_duration":513003934,"load_duration":1046115,"prompt_eval_count":54,"prompt_eval_duration":79144000,"eval_count":40,"eval_duration":427743000}"#,
        "\n",
    );

    #[derive(Debug, PartialEq, Default)]
    struct Collected {
        content: String,
        thinking: String,
        stats: Option<FinalStats>,
        errors: Vec<String>,
        tool_calls: Vec<crate::conversation::ToolCall>,
    }

    fn collect(pieces: &[&[u8]]) -> Collected {
        let mut out = Collected::default();
        let mut splitter = LineSplitter::new();
        let mut on_line = |line: &[u8]| -> Result<(), ApiError> {
            let chunk = parse_chunk(line)?;
            match event(&chunk) {
                ChatEvent::Delta { content, thinking } => {
                    out.content.push_str(content);
                    out.thinking.push_str(thinking);
                }
                ChatEvent::Done { content, stats } => {
                    out.content.push_str(content);
                    out.stats = Some(stats);
                }
                ChatEvent::Error(e) => out.errors.push(e),
                ChatEvent::ToolCall(c) => out.tool_calls.push(c),
            }
            Ok(())
        };
        for p in pieces {
            splitter.feed(p, &mut on_line).unwrap();
        }
        splitter.finish(&mut on_line).unwrap();
        out
    }

    #[test]
    fn whole_stream_in_one_read() {
        let c = collect(&[RECORDED.as_bytes()]);
        assert_eq!(c.content, "The遷移你好，世界！\n");
        assert_eq!(c.thinking, "<look");
        assert_eq!(c.stats.unwrap().eval_count, Some(40));
    }

    #[test]
    fn every_single_split_point_gives_the_same_result() {
        let bytes = RECORDED.as_bytes();
        let expected = collect(&[bytes]);
        for i in 0..=bytes.len() {
            let (a, b) = bytes.split_at(i);
            assert_eq!(collect(&[a, b]), expected, "split at byte {i}");
        }
    }

    #[test]
    fn recorded_streams_at_every_split_point() {
        let multiturn: &[u8] =
            include_bytes!("../../tests/fixtures/recorded/chat_stream_multiturn.ndjson");
        let think: &[u8] = include_bytes!("../../tests/fixtures/recorded/chat_think_stream.ndjson");
        let whole = collect(&[multiturn]);
        assert!(whole.content.starts_with("The capital of Italy is Milan."));
        assert!(whole.content.contains("遷移"));
        assert_eq!(whole.stats.as_ref().unwrap().prompt_eval_count, Some(54));
        let whole_think = collect(&[think]);
        assert!(whole_think.thinking.starts_with("<look>\n<feel>"));
        assert_eq!(whole_think.content, "");
        for (bytes, expected) in [(multiturn, &whole), (think, &whole_think)] {
            for i in 0..=bytes.len() {
                let (a, b) = bytes.split_at(i);
                assert_eq!(&collect(&[a, b]), expected, "split at byte {i}");
            }
        }
    }

    #[test]
    fn byte_by_byte_gives_the_same_result() {
        let bytes = RECORDED.as_bytes();
        let pieces: Vec<&[u8]> = bytes.chunks(1).collect();
        assert_eq!(collect(&pieces), collect(&[bytes]));
    }

    #[test]
    fn every_pair_of_split_points_in_a_chinese_line() {
        let line = "{\"message\":{\"content\":\"老師說：「你好」\"},\"done\":false}\n".as_bytes();
        for i in 0..=line.len() {
            for j in i..=line.len() {
                let c = collect(&[&line[..i], &line[i..j], &line[j..]]);
                assert_eq!(c.content, "老師說：「你好」", "splits at {i},{j}");
            }
        }
    }

    #[test]
    fn last_line_without_newline_and_crlf_and_blank_lines() {
        let c = collect(&[b"\n\r\n{\"message\":{\"content\":\"a\"},\"done\":false}\r\n{\"message\":{\"content\":\"b\"},\"done\":true}"]);
        assert_eq!(c.content, "ab");
        assert!(c.stats.is_some());
    }

    #[test]
    fn error_line_inside_a_stream() {
        let c = collect(&[b"{\"message\":{\"content\":\"par\"},\"done\":false}\n{\"error\":\"model runner has unexpectedly stopped\"}\n"]);
        assert_eq!(c.content, "par");
        assert_eq!(c.errors, vec!["model runner has unexpectedly stopped"]);
        assert!(c.stats.is_none());
    }

    #[test]
    fn garbage_is_a_decode_error() {
        let err = parse_chunk(b"<html>502 Bad Gateway</html>").unwrap_err();
        assert!(err.to_string().contains("502 Bad Gateway"));
    }

    /// What the general decoder makes of a line, in comparable form.
    fn by_serde(line: &[u8]) -> Option<(String, Option<String>, bool, String)> {
        let c: ChatChunk<'_> = serde_json::from_slice(line).ok()?;
        Some(comparable(c))
    }

    fn by_fast_path(line: &[u8]) -> Option<(String, Option<String>, bool, String)> {
        parse_plain_token(line).map(comparable)
    }

    fn comparable(c: ChatChunk<'_>) -> (String, Option<String>, bool, String) {
        let m = c.message.unwrap_or_default();
        (
            m.content.into_owned(),
            m.thinking.map(Cow::into_owned),
            c.done,
            format!(
                "{:?}{:?}{:?}{}",
                c.done_reason, c.eval_count, c.error, c.total_duration
            ),
        )
    }

    #[test]
    fn the_fast_path_takes_recorded_token_lines_and_agrees_with_serde() {
        let multiturn: &[u8] =
            include_bytes!("../../tests/fixtures/recorded/chat_stream_multiturn.ndjson");
        let think: &[u8] = include_bytes!("../../tests/fixtures/recorded/chat_think_stream.ndjson");
        let mut taken = 0;
        for line in multiturn
            .split(|&b| b == b'\n')
            .chain(think.split(|&b| b == b'\n'))
        {
            if let Some(fast) = by_fast_path(line) {
                let line_text = String::from_utf8_lossy(line);
                assert_eq!(Some(fast), by_serde(line), "{line_text}");
                taken += 1;
            }
        }
        assert!(
            taken >= 30,
            "the fast path took only {taken} recorded lines"
        );
        let chinese = r#"{"model":"tiny","created_at":"2026-11-29T00:09:38.978201256Z","message":{"role":"assistant","content":"你好，世界！"},"done":false}"#;
        assert_eq!(by_fast_path(chinese.as_bytes()).unwrap().0, "你好，世界！");
    }

    #[test]
    fn the_fast_path_leaves_everything_else_to_serde() {
        let base = r#"{"model":"tiny","created_at":"2026-11-29T00:09:38.878977244Z","message":{"role":"assistant","content":"The"},"done":false}"#;
        assert!(by_fast_path(base.as_bytes()).is_some());
        // Not the plain shape: serde decides.
        let others: Vec<String> = vec![
            base.replace("The", r"a\nb"),
            base.replace("The", r"\u003cb\u003e"),
            base.replace("The", r"tab\there"),
            base.replace("The", "raw\u{1}ctl"),
            base.replace("The", "raw\tctl"),
            base.replace(r#""done":false"#, r#""done":true"#),
            base.replace(r#""done":false}"#, r#""done":false,"done_reason":"stop"}"#),
            base.replace(r#""content":"The"}"#, r#""content":"","thinking":"hmm"}"#),
            base.replace("assistant", "user"),
            base.replace("tiny", r#"ti\"ny"#),
            base.replace("tiny", "ti\u{1}ny"),
            base.replace(r#"{"model""#, r#"{ "model""#),
            format!("{base} "),
            base[..base.len() - 1].to_string(),
            base.replace(r#""created_at""#, r#""created""#),
            base.replace("tiny", "小模型"),
        ];
        for line in &others {
            assert!(by_fast_path(line.as_bytes()).is_none(), "{line}");
        }
        // Plain lines with unusual but harmless text: taken, and exactly as serde reads them.
        let plain: Vec<String> = vec![
            base.replace("The", "\u{7f}del"),
            base.replace("The", "The\u{202e}"),
            base.replace("The", "🦊 \u{1b}"),
            base.replace("The", ""),
            base.replace("The", "你好"),
        ];
        for line in &plain {
            if let Some(fast) = by_fast_path(line.as_bytes()) {
                assert_eq!(Some(fast), by_serde(line.as_bytes()), "{line}");
            }
        }
        // Invalid UTF-8 in any of the three strings: not taken.
        for at in [11, 35, 103] {
            let mut bad = base.as_bytes().to_vec();
            bad.insert(at, 0xff);
            assert!(by_fast_path(&bad).is_none(), "byte {at}");
        }
        let mut bad = base.as_bytes().to_vec();
        bad.insert(103, 0xff);
        assert!(parse_chunk(&bad).is_err());
    }

    #[test]
    fn pending_tracks_unfinished_lines() {
        let mut s = LineSplitter::new();
        s.feed(b"{\"a\":", |_| Ok::<(), TooLong>(())).unwrap();
        assert!(s.has_pending());
        s.feed(b"1}\n", |_| Ok::<(), TooLong>(())).unwrap();
        assert!(!s.has_pending());
    }

    /// The lines a splitter with `limit` hands out for `pieces`, or the error it stops with.
    fn lines_with_limit(limit: usize, pieces: &[&[u8]]) -> Result<Vec<Vec<u8>>, TooLong> {
        let mut s = LineSplitter::with_limit(limit);
        let mut out = Vec::new();
        for p in pieces {
            s.feed(p, |l| {
                out.push(l.to_vec());
                Ok::<(), TooLong>(())
            })?;
            assert!(s.pending.len() <= limit, "buffered past the limit");
        }
        s.finish(|l| {
            out.push(l.to_vec());
            Ok::<(), TooLong>(())
        })?;
        Ok(out)
    }

    #[test]
    fn a_line_at_the_limit_passes_and_one_byte_more_fails_at_every_split() {
        const LIMIT: usize = 8;
        let too_long = TooLong {
            what: "a line",
            limit: LIMIT,
        };
        let at = b"{\"a\":1}\n{\"b\":234}\n".to_vec(); // 7 and 9 bytes: the second fails
        let fits = b"ab\n{\"a\":12}\ncd".to_vec(); // a line of exactly 8 bytes
        for i in 0..=fits.len() {
            let (a, b) = fits.split_at(i);
            let got = lines_with_limit(LIMIT, &[a, b]).unwrap();
            assert_eq!(got, [&b"ab"[..], b"{\"a\":12}", b"cd"], "split at {i}");
        }
        for i in 0..=at.len() {
            let (a, b) = at.split_at(i);
            assert_eq!(
                lines_with_limit(LIMIT, &[a, b]),
                Err(too_long),
                "split at {i}"
            );
            for j in i..=at.len() {
                let pieces = [&at[..i], &at[i..j], &at[j..]];
                assert_eq!(lines_with_limit(LIMIT, &pieces), Err(too_long), "{i},{j}");
            }
        }
        let singles: Vec<&[u8]> = at.chunks(1).collect();
        assert_eq!(lines_with_limit(LIMIT, &singles), Err(too_long));
        // A last line without a newline counts too.
        assert_eq!(lines_with_limit(LIMIT, &[b"123456789"]), Err(too_long));
        assert_eq!(lines_with_limit(LIMIT, &[b"12345678"]).unwrap().len(), 1);
    }

    #[test]
    fn a_line_that_never_ends_is_refused_without_buffering_past_the_limit() {
        let mut s = LineSplitter::new();
        let read = vec![b'x'; 256 * 1024];
        let mut fed = 0;
        let err = loop {
            match s.feed(&read, |_| Ok::<(), TooLong>(())) {
                Ok(()) => fed += read.len(),
                Err(e) => break e,
            }
            assert!(s.pending.len() <= MAX_LINE);
        };
        assert_eq!(fed, MAX_LINE, "refused at the first read past the limit");
        assert!(s.pending.capacity() <= MAX_LINE + read.len());
        assert_eq!(
            err.to_string(),
            "the server sent a line longer than 16 MiB; the reply was stopped (raise the limit with --max-line)"
        );
    }

    #[test]
    fn a_line_of_exactly_16_mib_passes() {
        let mut line = vec![b'x'; MAX_LINE];
        line.push(b'\n');
        let mut got = 0;
        let mut s = LineSplitter::new();
        for piece in line.chunks(1 << 20) {
            s.feed(piece, |l| {
                got = l.len();
                Ok::<(), TooLong>(())
            })
            .unwrap();
        }
        assert_eq!(got, MAX_LINE);
        line.insert(0, b'x');
        let err = LineSplitter::new().feed(&line, |_| Ok::<(), TooLong>(()));
        assert!(err.is_err());
    }

    mod twins {
        //! The fuzz target `ndjson`'s twin: its invariants on seeded cases (see `crate::fuzzing`).
        use proptest::prelude::*;

        use crate::fuzzing::{ndjson, proptest_config, stream_input};

        /// Pieces of token lines, final chunks and damage, Chinese and an emoji included.
        const PARTS: &[&str] = &[
            r#"{"model":"tiny","created_at":"2026-11-29T00:09:38.878977244Z","message":{"role":"assistant","content":""#,
            r#""},"done":false}"#,
            r#"{"message":{"content":"x","thinking":"\u003c"},"done":false}"#,
            r#"{"done":true,"done_reason":"stop","eval_count":3,"prompt_eval_count":9}"#,
            r#"{"error":"model runner has unexpectedly stopped"}"#,
            "你好",
            "老師說：「",
            "😀",
            "The",
            " ",
            "\\n",
            "\\\"",
            "\n",
            "\r\n",
            "\r",
            "\t",
            "{",
            "}",
            "\"",
            "\u{1}",
        ];

        proptest! {
            #![proptest_config(proptest_config(0x6e64_6a73))]
            #[test]
            fn near_streams_decode_the_same_however_cut(data in stream_input(PARTS, 24)) {
                ndjson(&data);
            }

            #[test]
            fn any_bytes_decode_the_same_however_cut(data in proptest::collection::vec(any::<u8>(), 0..300)) {
                ndjson(&data);
            }

            #[test]
            fn the_recorded_stream_at_any_cut_and_limit(controls in any::<[u8; 3]>()) {
                let mut data = controls.to_vec();
                data.extend_from_slice(include_bytes!("../../tests/fixtures/recorded/chat_think_stream.ndjson"));
                ndjson(&data);
            }
        }
    }
}
