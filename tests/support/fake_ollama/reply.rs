//! The reply engine every chat route shares: a `Plan` (thinking and content tokens, delays, how
//! the reply ends, how its bytes are cut) played through one API's `Frames` encoder, streamed or
//! whole. The engine owns the timing and the faults; an encoder only knows its API's bytes.

use std::time::{Duration, Instant};

use super::http::{response_head, After, BodyOut, Conn, Framing, Gone};
use super::{ChatReply, End, Script};

/// One reply to play: what the model "generates" and how the stream ends.
pub(crate) struct Plan {
    pub(crate) model: String,
    pub(crate) thinking: Vec<String>,
    pub(crate) tokens: Vec<String>,
    pub(crate) first_delay: Duration,
    pub(crate) delay: Duration,
    pub(crate) end: End,
    pub(crate) split_every: Option<usize>,
    pub(crate) prompt_eval_count: u64,
    pub(crate) eval_count: u64,
    /// In Ollama's words ("stop", "length"); each encoder maps it to its API's.
    pub(crate) done_reason: String,
    pub(crate) stream: bool,
    /// Anthropic only: an `event: ping` after `message_start`.
    pub(crate) ping: bool,
    pub(crate) tool_calls: Vec<(String, serde_json::Value)>,
    pub(crate) started: Instant,
}

impl Plan {
    /// The plan of a scripted reply; the request supplies the model, prompt size and stream flag.
    pub(crate) fn scripted(
        script: Script,
        model: String,
        prompt_eval_count: u64,
        stream: bool,
        started: Instant,
    ) -> Plan {
        let eval_count = (script.thinking.len() + script.tokens.len()) as u64;
        Plan {
            model,
            prompt_eval_count: script.prompt_eval_count.unwrap_or(prompt_eval_count),
            eval_count: script.eval_count.unwrap_or(eval_count),
            done_reason: script.done_reason.unwrap_or_else(|| "stop".to_string()),
            thinking: script.thinking,
            tokens: script.tokens,
            first_delay: script.first_delay,
            delay: script.delay,
            end: script.end,
            split_every: script.split_every,
            stream,
            ping: script.ping,
            tool_calls: script.tool_calls,
            started,
        }
    }

    /// The plan of a default (unscripted) reply: no delays, a normal end.
    pub(crate) fn generated(
        model: &str,
        thinking: Vec<String>,
        tokens: Vec<String>,
        done_reason: &str,
        prompt_eval_count: u64,
        stream: bool,
        started: Instant,
    ) -> Plan {
        Plan {
            model: model.to_string(),
            prompt_eval_count,
            eval_count: (thinking.len() + tokens.len()) as u64,
            done_reason: done_reason.to_string(),
            thinking,
            tokens,
            first_delay: Duration::ZERO,
            delay: Duration::ZERO,
            end: End::Final,
            split_every: None,
            stream,
            ping: false,
            tool_calls: Vec::new(),
            started,
        }
    }
}

/// A call's arguments as JSON text cut into three pieces (at characters), as servers stream
/// them; and its name as the OpenAI and Anthropic APIs allow one (no dots).
pub(crate) fn argument_pieces(args: &serde_json::Value) -> Vec<String> {
    let text = args.to_string();
    let chars: Vec<char> = text.chars().collect();
    let third = chars.len().div_ceil(3).max(1);
    chars.chunks(third).map(|c| c.iter().collect()).collect()
}

pub(crate) fn wire_name(name: &str) -> String {
    name.replace('.', "__")
}

/// Which part of the reply a token belongs to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Part {
    Thinking,
    Text,
}

/// One API's bytes for a reply. Each returned frame goes out as one HTTP chunk (unless the plan
/// cuts the body into fixed-size pieces).
pub(crate) trait Frames {
    /// The handler's headers of a 200 stream (the engine adds Date and Transfer-Encoding).
    fn stream_headers(&self) -> &'static [(&'static str, &'static str)];
    /// Frames before the first token.
    fn start(&mut self, _plan: &Plan) -> Vec<String> {
        Vec::new()
    }
    /// The frames of one token.
    fn token(&mut self, plan: &Plan, part: Part, text: &str) -> Vec<String>;
    /// The frames of the plan's tool calls, after the tokens.
    fn tool_calls(&mut self, _plan: &Plan) -> Vec<String> {
        Vec::new()
    }
    /// The frames that end a stream normally.
    fn end(&mut self, plan: &Plan) -> Vec<String>;
    /// The frames of an error inside a 200 stream (`End::Error`).
    fn stream_error(&mut self, plan: &Plan, message: &str) -> Vec<String>;
    /// A whole (`"stream": false`) reply: its Content-Type and body.
    fn whole(&self, plan: &Plan) -> (&'static str, String);
    /// An error response before any stream: its Content-Type and body.
    fn error(&self, status: u16, message: &str) -> (&'static str, String);
}

/// What the queue held for a chat.
pub(crate) enum Queued {
    /// Nothing: the route's default reply.
    Nothing,
    /// A script to play.
    Play(Box<Script>),
    /// A reply that was answered already (an HTTP error, raw bytes).
    Answered(Result<After, Gone>),
}

/// Takes the next queued reply; errors and raw replies are answered here, in the API's shape.
pub(crate) fn take_queued(conn: &Conn, api: &dyn Frames) -> Queued {
    let Some(reply) = conn.shared.lock().queue.pop_front() else {
        return Queued::Nothing;
    };
    let (status, message, headers) = match reply {
        ChatReply::Tokens(tokens) => {
            return Queued::Play(Box::new(Script {
                tokens,
                ..Script::default()
            }))
        }
        ChatReply::Thinking { thinking, content } => {
            return Queued::Play(Box::new(Script {
                thinking,
                tokens: content,
                ..Script::default()
            }))
        }
        ChatReply::Script(script) => return Queued::Play(Box::new(script)),
        ChatReply::Raw(bytes) => {
            return Queued::Answered(conn.write_all(&bytes).map(|()| After::Close));
        }
        ChatReply::HttpError { status, message } => (status, message, Vec::new()),
        ChatReply::HttpErrorHeaders {
            status,
            message,
            headers,
        } => (status, message, headers),
    };
    Queued::Answered(send_error(conn, api, status, &message, &headers))
}

/// An error response in the API's shape, with extra headers after its Content-Type.
pub(crate) fn send_error(
    conn: &Conn,
    api: &dyn Frames,
    status: u16,
    message: &str,
    extra: &[(String, String)],
) -> Result<After, Gone> {
    let (content_type, body) = api.error(status, message);
    let mut headers: Vec<(&str, &str)> = vec![("Content-Type", content_type)];
    headers.extend(extra.iter().map(|(k, v)| (k.as_str(), v.as_str())));
    conn.send(status, &headers, body.as_bytes())
}

/// Plays the plan, streamed or whole as it says.
pub(crate) fn play(conn: &Conn, plan: &Plan, api: &mut dyn Frames) -> Result<After, Gone> {
    if plan.stream {
        stream(conn, plan, api)
    } else {
        whole(conn, plan, api)
    }
}

/// A chunked 200 stream: the head goes out with the first frames, after `first_delay`; `delay`
/// before every token but the first and before the end; then the plan's ending.
fn stream(conn: &Conn, plan: &Plan, api: &mut dyn Frames) -> Result<After, Gone> {
    let head = response_head(200, api.stream_headers(), Framing::Chunked, conn.close);
    let mut out = BodyOut::new(conn, head, true, plan.split_every);
    let push = |out: &mut BodyOut, frames: Vec<String>| {
        frames
            .iter()
            .try_for_each(|frame| out.push(frame.as_bytes()))
    };
    conn.wait(plan.first_delay)?;
    push(&mut out, api.start(plan))?;
    let thinking = plan.thinking.iter().map(|t| (Part::Thinking, t));
    let content = plan.tokens.iter().map(|t| (Part::Text, t));
    let mut sent_any = false;
    for (part, text) in thinking.chain(content) {
        if sent_any {
            conn.wait(plan.delay)?;
        }
        push(&mut out, api.token(plan, part, text))?;
        sent_any = true;
    }
    if !plan.tool_calls.is_empty() {
        if sent_any {
            conn.wait(plan.delay)?;
        }
        push(&mut out, api.tool_calls(plan))?;
        sent_any = true;
    }
    match &plan.end {
        End::Final | End::Error(_) => {
            if sent_any {
                conn.wait(plan.delay)?;
            }
            let frames = match &plan.end {
                End::Error(message) => api.stream_error(plan, message),
                _ => api.end(plan),
            };
            push(&mut out, frames)?;
            out.finish()?;
            Ok(After::KeepAlive)
        }
        End::Drop => {
            out.flush()?;
            Ok(After::Close)
        }
        End::Stall(duration) => {
            out.flush()?;
            conn.wait(*duration)?;
            Ok(After::Close)
        }
    }
}

/// A `"stream": false` answer comes after the time the whole stream would have taken.
pub(crate) fn wait_whole_generation(conn: &Conn, plan: &Plan) -> Result<(), Gone> {
    let chunks = u32::try_from(plan.thinking.len() + plan.tokens.len()).unwrap_or(u32::MAX);
    let generation = plan.delay.checked_mul(chunks).unwrap_or(Duration::MAX);
    conn.wait(plan.first_delay.saturating_add(generation))
}

/// `"stream": false`: one body after the whole generation time; `End::Error` is a 500.
fn whole(conn: &Conn, plan: &Plan, api: &mut dyn Frames) -> Result<After, Gone> {
    wait_whole_generation(conn, plan)?;
    match &plan.end {
        End::Final => {
            let (content_type, body) = api.whole(plan);
            conn.send_body(
                200,
                &[("Content-Type", content_type)],
                body.as_bytes(),
                plan.split_every,
            )
        }
        End::Error(message) => send_error(conn, api, 500, message, &[]),
        End::Drop => Ok(After::Close),
        End::Stall(duration) => {
            conn.wait(*duration)?;
            Ok(After::Close)
        }
    }
}
