//! Splits a byte stream into NDJSON lines, whatever the network's chunk boundaries, and decodes each
//! line of a chat stream into an event.
//!
//! Lines are cut on `\n` bytes before any UTF-8 decoding, so a multi-byte character split across two
//! reads is whole again by the time its line is parsed.

use super::wire::{ChatChunk, FinalStats};

/// Reassembles lines from arbitrary byte chunks. Complete lines inside one chunk are handed out
/// without copying; only an unfinished tail is buffered.
#[derive(Debug, Default)]
pub struct LineSplitter {
    pending: Vec<u8>,
}

impl LineSplitter {
    pub fn new() -> Self {
        Self::default()
    }

    /// Feeds bytes; calls `on_line` for every complete non-blank line (without its `\n`/`\r\n`).
    pub fn feed<E>(
        &mut self,
        mut data: &[u8],
        mut on_line: impl FnMut(&[u8]) -> Result<(), E>,
    ) -> Result<(), E> {
        if !self.pending.is_empty() {
            match data.iter().position(|&b| b == b'\n') {
                None => {
                    self.pending.extend_from_slice(data);
                    return Ok(());
                }
                Some(i) => {
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
        let mut rest = data;
        while let Some(i) = rest.iter().position(|&b| b == b'\n') {
            emit(&rest[..i], &mut on_line)?;
            rest = &rest[i + 1..];
        }
        self.pending.extend_from_slice(rest);
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
}

fn emit<E>(line: &[u8], on_line: &mut impl FnMut(&[u8]) -> Result<(), E>) -> Result<(), E> {
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    if line.iter().all(u8::is_ascii_whitespace) {
        return Ok(());
    }
    on_line(line)
}

/// What one line of a chat stream means to the client.
#[derive(Debug, PartialEq)]
pub enum ChatEvent<'a> {
    /// Reply text and/or thinking text; either may be empty.
    Delta { content: &'a str, thinking: &'a str },
    /// The final chunk (`done: true`); it may still carry a last bit of text.
    Done { content: &'a str, stats: FinalStats },
    /// An `{"error": …}` line inside a 200 stream: the turn failed.
    Error(String),
}

/// A line that is not a chat chunk.
#[derive(Debug, thiserror::Error)]
#[error("unreadable line from the server ({source}): {excerpt}")]
pub struct DecodeError {
    pub excerpt: String,
    #[source]
    pub source: serde_json::Error,
}

/// Decodes one NDJSON line of `POST /api/chat`. The event borrows from `chunk`, which the caller keeps.
pub fn parse_chunk(line: &[u8]) -> Result<ChatChunk<'_>, DecodeError> {
    serde_json::from_slice(line).map_err(|source| DecodeError {
        excerpt: String::from_utf8_lossy(&line[..line.len().min(120)]).into_owned(),
        source,
    })
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
            stats: FinalStats::from_chunk(chunk),
        }
    } else {
        ChatEvent::Delta { content, thinking }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
    }

    fn collect(pieces: &[&[u8]]) -> Collected {
        let mut out = Collected::default();
        let mut splitter = LineSplitter::new();
        let mut on_line = |line: &[u8]| -> Result<(), DecodeError> {
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

    #[test]
    fn pending_tracks_unfinished_lines() {
        let mut s = LineSplitter::new();
        s.feed(b"{\"a\":", |_| Ok::<(), ()>(())).unwrap();
        assert!(s.has_pending());
        s.feed(b"1}\n", |_| Ok::<(), ()>(())).unwrap();
        assert!(!s.has_pending());
    }
}
