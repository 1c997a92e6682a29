//! Reads a session file back into the state it describes. The parsing is pure (bytes in), so every
//! damaged shape is unit-tested; only `load_file` and `load_stdin` touch I/O.

use std::io::Read;
use std::path::{Path, PathBuf};

use super::format::{parse_event, parse_header, Event, Header, LineError};
use super::state::SessionState;
use super::SessionError;

/// A session as read from disk.
#[derive(Debug, Clone)]
pub struct Loaded {
    /// The file it came from; `None` for stdin.
    pub path: Option<PathBuf>,
    pub header: Header,
    pub events: Vec<Event>,
    pub state: SessionState,
    /// Things the user should hear about (a torn last record); the load still succeeded.
    pub warnings: Vec<String>,
    /// Length of the part of the file that holds whole records; appending starts here.
    pub intact_len: u64,
    /// The last whole record has its newline (false only when a crash cut exactly that byte).
    pub ends_with_newline: bool,
}

impl Loaded {
    pub fn source(&self) -> String {
        describe(self.path.as_deref())
    }
}

fn describe(path: Option<&Path>) -> String {
    path.map_or_else(|| "<stdin>".to_string(), |p| p.display().to_string())
}

/// A session file larger than this is not one this client wrote (a year of daily chats is a few
/// MiB): refused rather than read into memory.
const MAX_SESSION_BYTES: u64 = 256 << 20;

/// Reads and checks a session file. Never writes to it.
pub fn load_file(path: &Path) -> Result<Loaded, SessionError> {
    parse(&read_file(path)?, Some(path))
}

/// The bytes of a session file, refused past the size no session reaches.
pub fn read_file(path: &Path) -> Result<Vec<u8>, SessionError> {
    crate::paths::read_regular(path, MAX_SESSION_BYTES).map_err(|source| SessionError::Read {
        path: path.display().to_string(),
        source,
    })
}

/// Where each record of a session file starts (the header, then each event, as [`parse`] reads
/// them): the sessions index keeps these to read one message without parsing the whole file.
pub fn record_starts(bytes: &[u8]) -> Vec<u64> {
    split_lines(bytes)
        .iter()
        .filter(|l| !is_blank(l.bytes))
        .map(|l| l.offset as u64)
        .collect()
}

/// Reads a session piped on stdin (`replay -`).
pub fn load_stdin() -> Result<Loaded, SessionError> {
    let mut bytes = Vec::new();
    std::io::stdin()
        .lock()
        .read_to_end(&mut bytes)
        .map_err(|source| SessionError::Read {
            path: describe(None),
            source,
        })?;
    parse(&bytes, None)
}

/// Parses a whole file. A last line without its newline that does not parse is what a crash leaves:
/// it is skipped with a warning. Anything else that does not parse is an error naming the line.
pub fn parse(bytes: &[u8], path: Option<&Path>) -> Result<Loaded, SessionError> {
    let source = describe(path);
    let err = |line: usize, error: LineError| SessionError::Line {
        path: source.clone(),
        line,
        error,
    };
    let mut lines = split_lines(bytes);
    let tail = match lines.last() {
        Some(l) if !l.terminated => lines.pop(),
        _ => None,
    };

    let mut warnings = Vec::new();
    let mut intact_len = bytes.len() as u64;
    let mut ends_with_newline = true;
    let mut tail_event = None;
    if let Some(t) = tail {
        let text = std::str::from_utf8(t.bytes).ok();
        let header_needed = lines.iter().all(|l| is_blank(l.bytes));
        let parsed = match text {
            Some(text) if !header_needed => parse_event(text).ok(),
            _ => None,
        };
        match parsed {
            Some(e) => {
                ends_with_newline = false;
                tail_event = Some((t.number, e));
            }
            None if header_needed => {
                // Nothing whole before it: this is the header, and a torn header is no session.
                let h = text.ok_or_else(|| err(1, not_text()))?;
                parse_header(h.trim_end_matches('\r')).map_err(|e| err(t.number, e))?;
            }
            None => {
                intact_len = t.offset as u64;
                warnings.push(format!(
                    "{source}: line {}: skipped an incomplete last record ({} bytes), probably left by a crash",
                    t.number,
                    t.bytes.len()
                ));
            }
        }
    }

    let mut numbered = lines
        .iter()
        .filter(|l| !is_blank(l.bytes))
        .map(|l| (l.number, l.bytes));
    let (first_no, first) = numbered.next().ok_or_else(|| {
        err(
            1,
            LineError::NotASession(match tail_event {
                Some(_) => "the first line is not a session header".into(),
                None => "the file is empty".into(),
            }),
        )
    })?;
    let header_text = std::str::from_utf8(first).map_err(|_| err(first_no, not_text()))?;
    let header = parse_header(header_text.trim_end_matches('\r')).map_err(|e| err(first_no, e))?;

    let mut state = SessionState::from_header(&header);
    let mut events = Vec::new();
    let rest = numbered.map(|(n, b)| {
        let text =
            std::str::from_utf8(b).map_err(|_| err(n, LineError::Bad("not UTF-8".into())))?;
        Ok((
            n,
            parse_event(text.trim_end_matches('\r')).map_err(|e| err(n, e))?,
        ))
    });
    for item in rest.chain(tail_event.map(Ok)) {
        let (n, event) = item?;
        state
            .apply(&event)
            .map_err(|reason| err(n, LineError::Bad(reason)))?;
        events.push(event);
    }
    state.finish();
    Ok(Loaded {
        path: path.map(Path::to_path_buf),
        header,
        events,
        state,
        warnings,
        intact_len,
        ends_with_newline,
    })
}

fn not_text() -> LineError {
    LineError::NotASession("it is not UTF-8 text".into())
}

struct Line<'a> {
    number: usize,
    offset: usize,
    bytes: &'a [u8],
    terminated: bool,
}

fn split_lines(bytes: &[u8]) -> Vec<Line<'_>> {
    let mut out = Vec::new();
    let mut offset = 0;
    while offset < bytes.len() {
        let rest = &bytes[offset..];
        let (len, terminated) = match rest.iter().position(|&b| b == b'\n') {
            Some(i) => (i, true),
            None => (rest.len(), false),
        };
        out.push(Line {
            number: out.len() + 1,
            offset,
            bytes: &rest[..len],
            terminated,
        });
        offset += len + usize::from(terminated);
    }
    out
}

fn is_blank(b: &[u8]) -> bool {
    b.iter().all(u8::is_ascii_whitespace)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::conversation::Role;
    use crate::conversation::TurnStatus;
    use crate::options::Options;
    use crate::session::format::{event_line, header_line, Change, Reply};

    fn sample() -> String {
        let h = Header::new("tiny", "http://h", Some("老師"), &Options::default());
        let mut s = header_line(&h) + "\n";
        for c in [
            Change::User {
                content: "你好".into(),
                images: Vec::new(),
            },
            Change::Assistant(Reply {
                content: "您好！".into(),
                thinking: String::new(),
                status: TurnStatus::Ok,
                error: None,
                latency: 0.5,
                ttft: Some(0.1),
                prompt_tokens: Some(10),
                completion_tokens: Some(3),
                tokens_per_second: Some(30.0),
                done_reason: Some("stop".into()),
                tool_calls: Vec::new(),
            }),
        ] {
            s += &(event_line(&Event::now(c)) + "\n");
        }
        s
    }

    fn line_error(bytes: &[u8]) -> (usize, LineError) {
        match parse(bytes, Some(Path::new("s.jsonl"))) {
            Err(SessionError::Line { line, error, .. }) => (line, error),
            other => panic!("expected a line error, got {other:?}"),
        }
    }

    #[test]
    fn record_starts_match_the_records_read() {
        let text = format!("\n{}", sample()).replace("\n{\"at", "\n \r\n{\"at");
        let bytes = text.as_bytes();
        let l = parse(bytes, None).unwrap();
        let starts = record_starts(bytes);
        assert_eq!(starts.len(), 1 + l.events.len());
        for (i, &start) in starts.iter().enumerate() {
            let line = text[start as usize..].lines().next().unwrap();
            match i {
                0 => assert_eq!(parse_header(line).unwrap().id, l.header.id),
                _ => assert_eq!(parse_event(line).unwrap().change, l.events[i - 1].change),
            }
        }
    }

    #[test]
    fn whole_file() {
        let l = parse(sample().as_bytes(), None).unwrap();
        assert!(l.warnings.is_empty());
        assert_eq!(l.events.len(), 2);
        assert_eq!(l.state.messages().len(), 3);
        assert_eq!(l.state.messages()[2].role, Role::Assistant);
        assert_eq!(l.intact_len, sample().len() as u64);
        assert!(l.ends_with_newline);
    }

    #[test]
    fn every_cut_of_the_last_record_loads() {
        let text = sample();
        let bytes = text.as_bytes();
        let last_start = text[..text.len() - 1].rfind('\n').unwrap() + 1;
        for cut in last_start..=bytes.len() {
            let l = parse(&bytes[..cut], None).unwrap_or_else(|e| panic!("cut at {cut}: {e}"));
            let whole = cut >= bytes.len() - 1;
            assert_eq!(l.events.len(), if whole { 2 } else { 1 }, "cut {cut}");
            assert_eq!(
                l.warnings.len(),
                usize::from(cut > last_start && !whole),
                "cut {cut}"
            );
            if !whole {
                assert_eq!(l.intact_len, last_start as u64);
                // the user message never got its reply: not history
                assert_eq!(l.state.messages().len(), 1);
            }
        }
    }

    #[test]
    fn corrupt_middle_line_names_the_line() {
        let mut lines: Vec<String> = sample().lines().map(str::to_string).collect();
        lines[1] = "{\"at\":\"2026-11-29T01:02:03Z\",\"kind\":\"user\",\"cont".into();
        let text = lines.join("\n") + "\n";
        let (line, e) = line_error(text.as_bytes());
        assert_eq!(line, 2);
        assert!(matches!(e, LineError::Bad(_)));
        let err = parse(text.as_bytes(), Some(Path::new("s.jsonl"))).unwrap_err();
        assert!(err
            .to_string()
            .starts_with("s.jsonl: line 2: corrupt record"));
    }

    #[test]
    fn invalid_utf8_in_the_middle_is_corrupt() {
        let mut bytes = sample().into_bytes();
        let i = bytes.windows(3).position(|w| w == "你".as_bytes()).unwrap();
        bytes[i + 1] = 0xff;
        assert_eq!(line_error(&bytes).0, 2);
    }

    #[test]
    fn not_sessions() {
        for bytes in [
            &b""[..],
            b"\n\n",
            b"hello world\n",
            b"\xff\xfe\n",
            b"{\"log_version\":1}\n",
        ] {
            assert!(
                matches!(line_error(bytes), (_, LineError::NotASession(_))),
                "{bytes:?}"
            );
        }
        // a torn header is not a session either
        let h = sample();
        let first = h.lines().next().unwrap();
        let (line, _) = line_error(&first.as_bytes()[..first.len() / 2]);
        assert_eq!(line, 1);
    }

    /// The fuzzer's first session finding was in its own check, which took the first line for the
    /// header: blank lines may come before it, and a cut inside it is still a torn header.
    #[test]
    fn blank_lines_before_the_header_and_a_cut_inside_it() {
        let text = format!("\n\t\n{}", sample());
        assert_eq!(parse(text.as_bytes(), None).unwrap().events.len(), 2);
        let first = sample().lines().next().unwrap().to_string();
        let torn = format!("\n{}", &first[..first.len() / 2]);
        assert!(matches!(
            line_error(torn.as_bytes()),
            (2, LineError::NotASession(_))
        ));
    }

    #[test]
    fn future_version_is_refused_with_advice() {
        let text = sample().replacen("\"version\":2", "\"version\":9", 1);
        let (line, e) = line_error(text.as_bytes());
        assert_eq!((line, e), (1, LineError::Version(9)));
    }

    #[test]
    fn blank_lines_and_crlf_are_tolerated() {
        let text = sample().replace('\n', "\r\n\n");
        let l = parse(text.as_bytes(), None).unwrap();
        assert_eq!(l.events.len(), 2);
    }

    #[test]
    fn a_missing_file_names_it() {
        let e = load_file(Path::new("/nonexistent/x.jsonl")).unwrap_err();
        assert!(e.to_string().contains("/nonexistent/x.jsonl"), "{e}");
    }

    mod twins {
        //! The fuzz target `session`'s twin: saving any accepted sequence of changes and loading
        //! it gives them back, and the fuzz invariants hold on the file and on damaged copies.
        use chrono::{TimeZone, Utc};
        use proptest::prelude::*;

        use super::*;
        use crate::fuzzing::{proptest_config, session};

        fn text() -> impl Strategy<Value = String> {
            "[a-z 你好😀\"\\\n\r\t{}]{0,12}"
        }

        /// Floats that JSON carries exactly, so that a loaded reply equals the saved one.
        fn seconds() -> impl Strategy<Value = f64> {
            (0u32..4000).prop_map(|n| f64::from(n) / 8.0)
        }

        fn change() -> impl Strategy<Value = Change> {
            let reply = (
                text(),
                text(),
                0usize..3,
                proptest::option::of(text()),
                seconds(),
                proptest::option::of(seconds()),
                proptest::option::of(0u64..100_000),
                proptest::option::of("stop|length"),
            )
                .prop_map(
                    |(content, thinking, s, error, latency, ttft, tokens, done_reason)| {
                        Change::Assistant(Reply {
                            content,
                            thinking,
                            status: [TurnStatus::Ok, TurnStatus::Error, TurnStatus::Cancelled][s],
                            error,
                            latency,
                            ttft,
                            prompt_tokens: tokens,
                            completion_tokens: tokens.map(|t| t / 2),
                            tokens_per_second: ttft,
                            done_reason,
                            tool_calls: Vec::new(),
                        })
                    },
                );
            prop_oneof![
                4 => text().prop_map(|content| Change::User { content, images: Vec::new() }),
                4 => reply,
                1 => Just(Change::Clear),
                1 => Just(Change::Undo),
                1 => Just(Change::Retry),
                1 => "[a-z:0-9.]{1,10}".prop_map(|model| Change::Model { model }),
                1 => text().prop_map(|name| Change::Name { name }),
                1 => proptest::option::of(proptest::option::of(text()))
                    .prop_map(|system| Change::Set { options: None, system }),
                1 => (proptest::collection::vec(0usize..6, 0..3), proptest::option::of(text()))
                    .prop_map(|(dropped, summary)| Change::Context { dropped, summary }),
            ]
        }

        proptest! {
            #![proptest_config(proptest_config(0x5e55_10ad))]
            #[test]
            fn saved_changes_load_back_as_they_were(
                changes in proptest::collection::vec((change(), 0i64..1 << 40), 0..12),
                system in proptest::option::of(text()),
                cut in any::<u8>(),
                damage in any::<(usize, u8)>(),
            ) {
                let mut header = Header::new("tiny", "http://127.0.0.1:11434", system.as_deref(), &Options::default());
                header.created = Utc.timestamp_millis_opt(0).unwrap();
                let mut state = SessionState::from_header(&header);
                let mut saved = Vec::new();
                for (change, ms) in changes {
                    let e = Event { at: Utc.timestamp_millis_opt(ms).unwrap(), change };
                    let mut next = state.clone();
                    if next.apply(&e).is_err() {
                        break; // what a chat would never write
                    }
                    state = next;
                    saved.push(e);
                }
                state.finish();
                let mut file = header_line(&header) + "\n";
                for e in &saved {
                    file += &(event_line(e) + "\n");
                }
                let loaded = parse(file.as_bytes(), None).unwrap();
                prop_assert_eq!(&loaded.header, &header);
                prop_assert_eq!(&loaded.events, &saved);
                prop_assert_eq!(&loaded.state, &state);
                let mut data = vec![cut];
                data.extend_from_slice(file.as_bytes());
                session(&data);
                if !file.is_empty() {
                    let at = 1 + damage.0 % file.len();
                    data[at] = damage.1;
                    session(&data);
                }
            }
        }
    }
}
