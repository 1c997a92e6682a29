//! The invariants that the fuzz targets in `fuzz/` and their property-test twins check: one
//! function per parser, bytes in, a panic when an invariant breaks. Kept in the library so that
//! libFuzzer and `cargo test` run the very same checks. Not an API: hidden from the docs.
//!
//! The stream decoders take their first three bytes as controls: two choose where the rest is cut
//! in two, one the decoder's size limit, so that the fuzzer explores splits and limits too.

use std::borrow::Cow;

use crate::conversation::{ChatEvent, FinalStats};
use crate::error::{FeedError, TooLong};
use crate::modelfile::Blobs;
use crate::ollama::ndjson::{event, parse_chunk, parse_plain_token, LineSplitter, MAX_LINE};
use crate::ollama::wire::ChatChunk;
use crate::session::format::{event_line, header_line};
use crate::sse::{Framing, SseDecoder, MAX_EVENT};

/// Inputs longer than this are not also fed byte by byte (that costs a call per byte).
const BYTEWISE_UP_TO: usize = 4096;

/// The controls and the body of a stream decoder's input.
struct Controls<'a> {
    body: &'a [u8],
    /// Where the body is cut in two.
    at: usize,
    /// A small limit (to reach the too-long paths), or `None` for the real one.
    limit: Option<usize>,
}

fn controls(data: &[u8]) -> Option<Controls<'_>> {
    let [hi, lo, limit, body @ ..] = data else {
        return None;
    };
    let at = usize::from(u16::from_be_bytes([*hi, *lo])) % (body.len() + 1);
    let limit = (*limit < 0x80).then(|| usize::from(*limit) * 4);
    Some(Controls { body, at, limit })
}

/// The ways of feeding one body: whole, cut in two at the chosen point, and byte by byte.
fn ways<'a>(c: &Controls<'a>) -> Vec<Vec<&'a [u8]>> {
    let (a, b) = c.body.split_at(c.at);
    let mut ways = vec![vec![c.body], vec![a, b]];
    if c.body.len() <= BYTEWISE_UP_TO {
        ways.push(c.body.chunks(1).collect());
    }
    ways
}

/// An event in owned, comparable form.
#[derive(Debug, PartialEq)]
pub enum Seen {
    Delta { content: String, thinking: String },
    Done { content: String, stats: FinalStats },
    Error(String),
    ToolCall(crate::conversation::ToolCall),
}

impl From<ChatEvent<'_>> for Seen {
    fn from(e: ChatEvent<'_>) -> Self {
        match e {
            ChatEvent::Delta { content, thinking } => Seen::Delta {
                content: content.into(),
                thinking: thinking.into(),
            },
            ChatEvent::Done { content, stats } => Seen::Done {
                content: content.into(),
                stats,
            },
            ChatEvent::Error(e) => Seen::Error(e),
            ChatEvent::ToolCall(c) => Seen::ToolCall(c),
        }
    }
}

/// What a decoder handed out, and the error it stopped with (as text), if any.
type Outcome<T> = (Vec<T>, Option<String>);

/// Why an NDJSON feed stopped.
struct Stop(String);

impl From<TooLong> for Stop {
    fn from(e: TooLong) -> Self {
        Stop(e.to_string())
    }
}

fn ndjson_events(pieces: &[&[u8]], limit: usize) -> Outcome<Seen> {
    let mut seen = Vec::new();
    let mut lines = LineSplitter::with_limit(limit);
    let mut on_line = |line: &[u8]| -> Result<(), Stop> {
        let chunk = parse_chunk(line).map_err(|e| Stop(e.to_string()))?;
        seen.push(Seen::from(event(&chunk)));
        Ok(())
    };
    let mut result = Ok(());
    for p in pieces {
        result = lines.feed(p, &mut on_line);
        if result.is_err() {
            break;
        }
    }
    if result.is_ok() {
        result = lines.finish(&mut on_line);
    }
    (seen, result.err().map(|Stop(e)| e))
}

/// The NDJSON chat stream (`ollama::ndjson`): no panic; the same events and error however the
/// body is cut; and the fast path for token lines agrees with serde on every line it takes.
pub fn ndjson(data: &[u8]) {
    let Some(c) = controls(data) else { return };
    let limit = c.limit.unwrap_or(MAX_LINE);
    let whole = ndjson_events(&[c.body], limit);
    for pieces in ways(&c) {
        assert_eq!(ndjson_events(&pieces, limit), whole, "cut at {}", c.at);
    }
    for line in c.body.split(|&b| b == b'\n') {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if let Some(fast) = parse_plain_token(line) {
            let slow: ChatChunk<'_> =
                serde_json::from_slice(line).expect("serde reads what the fast path took");
            assert_eq!(comparable(&fast), comparable(&slow));
        }
    }
}

fn comparable(c: &ChatChunk<'_>) -> String {
    let m = c.message.as_ref();
    format!(
        "{:?} {:?} {} {:?}",
        m.map(|m| &m.content),
        m.map(|m| &m.thinking),
        c.done,
        crate::ollama::wire::final_stats(c)
    ) + &format!("{:?}", c.error.as_ref().map(Cow::as_ref))
}

fn sse_data(pieces: &[&[u8]], limit: usize) -> Outcome<Vec<u8>> {
    let mut out = Vec::new();
    let mut d = SseDecoder::with_limit(limit);
    let mut on_data = |data: &[u8]| -> Result<(), TooLong> {
        out.push(data.to_vec());
        Ok(())
    };
    let mut result = Ok(());
    for p in pieces {
        result = d.feed(p, &mut on_data);
        if result.is_err() {
            break;
        }
    }
    if result.is_ok() {
        result = d.finish(&mut on_data);
    }
    (out, result.err().map(|e| e.to_string()))
}

/// The events of an OpenAI or Anthropic decoder, fed `pieces`.
fn api_events<D>(
    pieces: &[&[u8]],
    mut decoder: D,
    feed: impl Fn(&mut D, &[u8], &mut dyn FnMut(ChatEvent<'_>)) -> Result<(), FeedError<()>>,
    finish: impl Fn(&mut D, &mut dyn FnMut(ChatEvent<'_>)) -> Result<(), FeedError<()>>,
) -> Outcome<Seen> {
    let mut seen = Vec::new();
    let mut result = Ok(());
    for p in pieces {
        result = feed(&mut decoder, p, &mut |e| seen.push(Seen::from(e)));
        if result.is_err() {
            break;
        }
    }
    if result.is_ok() {
        result = finish(&mut decoder, &mut |e| seen.push(Seen::from(e)));
    }
    (seen, result.err().map(|e| format!("{e:?}")))
}

/// `api_events` over one API's `EventDecoder` (the two share their shape, not a trait).
macro_rules! decoder_events {
    ($name:ident, $decoder:path) => {
        fn $name(pieces: &[&[u8]], framing: Framing) -> Outcome<Seen> {
            use $decoder as EventDecoder;
            api_events(
                pieces,
                EventDecoder::new(framing),
                |d, b, on| {
                    d.feed(b, |e| {
                        on(e);
                        Ok::<(), ()>(())
                    })
                },
                |d, on| {
                    d.finish(|e| {
                        on(e);
                        Ok::<(), ()>(())
                    })
                },
            )
        }
    };
}

decoder_events!(openai_events, crate::openai::stream::EventDecoder);
decoder_events!(anthropic_events, crate::anthropic::stream::EventDecoder);

/// The server-sent-event framing (`sse`) and the two APIs that read it: no panic; the same
/// events and error however the body is cut; an event's data never holds a `\r`, and it is
/// UTF-8 whenever the body is (a character cut across reads is whole again).
pub fn sse(data: &[u8]) {
    let Some(c) = controls(data) else { return };
    let limit = c.limit.unwrap_or(MAX_EVENT);
    let whole = sse_data(&[c.body], limit);
    let text = std::str::from_utf8(c.body).is_ok();
    for d in &whole.0 {
        assert!(!d.contains(&b'\r'), "a \\r in {d:?}");
        assert!(!text || std::str::from_utf8(d).is_ok(), "not UTF-8: {d:?}");
    }
    let framing = if c.limit.is_some_and(|l| l % 8 == 0) {
        Framing::Whole
    } else {
        Framing::Sse
    };
    let openai = openai_events(&[c.body], framing);
    let anthropic = anthropic_events(&[c.body], framing);
    for pieces in ways(&c) {
        assert_eq!(sse_data(&pieces, limit), whole, "cut at {}", c.at);
        assert_eq!(openai_events(&pieces, framing), openai, "cut at {}", c.at);
        assert_eq!(
            anthropic_events(&pieces, framing),
            anthropic,
            "cut at {}",
            c.at
        );
    }
}

/// The session loader (`session::load::parse`): no panic; what loads can be written back and
/// loads again to the same conversation; a crash can only cut the file, and every cut after the
/// header still loads (the first byte chooses where, the rest is the file).
pub fn session(data: &[u8]) {
    use crate::session::load::parse;
    let [cut, body @ ..] = data else { return };
    let Ok(full) = parse(body, None) else { return };
    assert!(full.intact_len <= body.len() as u64);
    if !full.warnings.is_empty() {
        let intact = &body[..full.intact_len as usize];
        let again = parse(intact, None).expect("the intact part loads");
        assert!(again.warnings.is_empty());
        assert_eq!(again.events, full.events);
    }
    let mut written = header_line(&full.header) + "\n";
    for e in &full.events {
        written += &(event_line(e) + "\n");
    }
    let again = parse(written.as_bytes(), None).expect("what loaded, written back, loads");
    assert_eq!(again.events.len(), full.events.len());
    assert_eq!(again.state.messages(), full.state.messages());
    assert_eq!(again.state.system(), full.state.system());
    // Cuts after the header line (blank lines may come first): the whole records before the cut load, a torn one is skipped.
    let header_end = body
        .split_inclusive(|&b| b == b'\n')
        .scan(0, |end, line| {
            *end += line.len();
            Some((*end, line))
        })
        .find(|(_, line)| !line.iter().all(u8::is_ascii_whitespace))
        .map_or(body.len(), |(end, _)| end);
    if header_end < body.len() {
        let at = header_end + usize::from(*cut) % (body.len() - header_end + 1);
        let part = parse(&body[..at], None).expect("every cut after the header loads");
        assert!(part.events.len() <= full.events.len());
    }
}

/// The Modelfile parser (`modelfile::parse`): no panic; a parsed Modelfile that can be printed
/// parses back to itself; its `/api/create` body can be built.
pub fn modelfile(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let Ok(m) = crate::modelfile::parse(&text) else {
        return;
    };
    let _ = m.create_request("fuzz", &Blobs::default());
    if let Ok(printed) = m.to_text() {
        let back = crate::modelfile::parse(&printed).expect("a printed Modelfile parses");
        assert_eq!(back, m, "printed as:\n{printed}");
    }
}

/// The slash-command parser (`repl::command::parse`) and its completion: no panic; a command
/// name is case-blind; an error always has its message; completion replaces a whole word.
pub fn slash(data: &[u8]) {
    use crate::repl::command::parse;
    let line = String::from_utf8_lossy(data);
    let parsed = parse(&line);
    if let Err(e) = &parsed {
        assert!(!e.to_string().is_empty());
    }
    if let Ok(Some(cmd)) = &parsed {
        let trimmed = line.trim();
        let name_end = trimmed.find(char::is_whitespace).unwrap_or(trimmed.len());
        let upper = trimmed[..name_end].to_ascii_uppercase() + &trimmed[name_end..];
        assert_eq!(parse(&upper).as_ref(), Ok(&Some(cmd.clone())), "{upper:?}");
    }
    let models = || vec!["tiny".to_string(), "老師:7b".to_string()];
    let (start, _) = crate::repl::complete::candidates(&line, &models);
    assert!(line.is_char_boundary(start), "{start} in {line:?}");
}

/// The host parsers (`OLLAMA_HOST`, the other APIs' base URLs): no panic; a resolved URL has a
/// scheme, no trailing `/`, and resolves to itself again.
pub fn host(data: &[u8]) {
    use crate::ollama::host::resolve;
    let raw = String::from_utf8_lossy(data);
    let r = resolve(&raw);
    assert!(r.base_url.contains("://"), "{r:?}");
    assert!(!r.base_url.ends_with('/'), "{r:?}");
    // A host that is neither a name nor an address (`a:b:c`), a scheme that is none (`http:2/[::`)
    // or an `@` (read as user info) gives text that is no URL, or another URL than meant, as it
    // does for the official CLI; it fails when used. Every URL that reads as meant is stable.
    let scheme = r.base_url.split("://").next().unwrap_or_default();
    let meant = |u: reqwest::Url| u.scheme() == scheme && u.username().is_empty();
    if reqwest::Url::parse(&r.base_url).is_ok_and(meant) {
        let again = resolve(&r.base_url);
        assert_eq!(again.base_url, r.base_url, "from {raw:?}");
        assert_eq!(again.warning, None, "from {raw:?}");
    }
    let _ = crate::net::is_loopback(&r.base_url);
    if let Ok(url) = crate::config::check_base_url(&raw) {
        assert!(!url.ends_with('/'), "{url:?}");
        assert_eq!(crate::config::check_base_url(&url).ok(), Some(url.clone()));
    }
}

/// The property-test twins' settings: a fixed seed and no failure files, so that `cargo test`
/// runs the same cases on every run and every machine. Each parser passes its own seed.
#[cfg(test)]
pub(crate) fn proptest_config(seed: u64) -> proptest::test_runner::Config {
    use proptest::test_runner::{Config, FileFailurePersistence, RngAlgorithm, RngSeed};
    Config {
        cases: 256,
        rng_algorithm: RngAlgorithm::ChaCha,
        rng_seed: RngSeed::Fixed(seed),
        failure_persistence: Some(Box::new(FileFailurePersistence::Off)),
        ..Config::default()
    }
}

/// Input for a stream decoder's twin: three control bytes, then up to `max` of `parts` joined,
/// so that the cases are near-streams that reach the decoders' paths, not noise.
#[cfg(test)]
pub(crate) fn stream_input(
    parts: &'static [&'static str],
    max: usize,
) -> impl proptest::strategy::Strategy<Value = Vec<u8>> {
    use proptest::prelude::*;
    (
        any::<[u8; 3]>(),
        proptest::collection::vec(proptest::sample::select(parts), 0..max),
    )
        .prop_map(|(controls, parts)| {
            let mut data = controls.to_vec();
            for p in parts {
                data.extend_from_slice(p.as_bytes());
            }
            data
        })
}
