//! One exchange: send the request, stream the reply into a sink, race it against Ctrl-C and a stall
//! timer, and report what happened. The one place where network and rendering meet.
//!
//! The turn reads from a [`ReplySource`]: the backend in the program, a scripted source in tests,
//! which drive it under tokio's paused clock (stalls, Ctrl-C mid-token, error lines, drops).

use std::future::Future;
use std::time::Duration;

use bytes::Bytes;
use chrono::{DateTime, Utc};
use tokio::time::Instant;

use crate::conversation::{ChatEvent, ChatRequest, FinalStats, ToolCall, TurnStatus};
use crate::error::{ApiError, FeedError};
use crate::render::ReplySink;
use crate::signals::StopSignal;

/// Where replies come from: something that takes a chat request and hands back a reply in flight.
pub trait ReplySource {
    type Reply: Reply;
    /// How errors name the server.
    fn server_name(&self) -> &'static str;
    /// Sends the request; resolves once the server has accepted it.
    fn open(
        &self,
        request: &ChatRequest<'_>,
    ) -> impl Future<Output = Result<Self::Reply, ApiError>>;
}

/// A reply in flight: network reads, each decoded into events. Dropping it closes the connection.
pub trait Reply {
    /// The next bytes off the network; `None` at the end of the body.
    fn read(&mut self) -> impl Future<Output = Result<Option<Bytes>, ApiError>>;
    /// Decodes the bytes of one read into events.
    fn feed<E>(
        &mut self,
        bytes: &[u8],
        on_event: impl FnMut(ChatEvent<'_>) -> Result<(), E>,
    ) -> Result<(), FeedError<E>>;
    /// The body ended cleanly: decodes whatever was still held back.
    fn finish<E>(
        &mut self,
        on_event: impl FnMut(ChatEvent<'_>) -> Result<(), E>,
    ) -> Result<(), FeedError<E>>;
}

/// How a turn ended.
#[derive(Debug)]
pub enum Ending {
    /// The final chunk arrived.
    Done,
    /// The user interrupted it (Ctrl-C), or the reader of our output went away.
    Cancelled(CancelReason),
    Failed(ApiError),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CancelReason {
    Interrupt,
    /// Writing the reply failed (a closed pipe): nobody is reading any more.
    OutputClosed,
    /// SIGTERM or SIGHUP: the turn ends like a Ctrl-C, and then the whole run.
    Stopped(StopSignal),
}

impl CancelReason {
    pub fn describe(self) -> &'static str {
        match self {
            CancelReason::Interrupt => "interrupted by the user",
            CancelReason::OutputClosed => "the output was closed",
            CancelReason::Stopped(StopSignal::Terminate) => "terminated by SIGTERM",
            CancelReason::Stopped(StopSignal::Hangup) => "hung up (SIGHUP)",
        }
    }
}

impl From<Option<StopSignal>> for CancelReason {
    /// What [`crate::signals::interrupt_or_stop`] resolved with: a stop signal, or Ctrl-C.
    fn from(s: Option<StopSignal>) -> Self {
        s.map_or(CancelReason::Interrupt, CancelReason::Stopped)
    }
}

/// Everything a turn produced, whatever its ending: the log and the history are built from this.
#[derive(Debug)]
pub struct TurnOutcome {
    pub started_at: DateTime<Utc>,
    pub content: String,
    pub thinking: String,
    /// The functions the reply asked to call, in the order they came.
    pub tool_calls: Vec<ToolCall>,
    pub stats: Option<FinalStats>,
    /// Request sent → first reply (content) text.
    pub ttft: Option<Duration>,
    /// Request sent → final chunk (or the moment the turn ended otherwise).
    pub elapsed: Duration,
    pub ending: Ending,
}

impl TurnOutcome {
    pub fn status(&self) -> TurnStatus {
        match self.ending {
            Ending::Done => TurnStatus::Ok,
            Ending::Cancelled(CancelReason::Stopped(StopSignal::Terminate)) => {
                TurnStatus::Terminated
            }
            Ending::Cancelled(CancelReason::Stopped(StopSignal::Hangup)) => TurnStatus::Hangup,
            Ending::Cancelled(_) => TurnStatus::Cancelled,
            Ending::Failed(_) => TurnStatus::Error,
        }
    }

    /// The signal that ended this turn, if one did: the run ends after it.
    pub fn stop_signal(&self) -> Option<StopSignal> {
        match self.ending {
            Ending::Cancelled(CancelReason::Stopped(s)) => Some(s),
            _ => None,
        }
    }
}

/// How long a turn waits without progress, by phase: before the first text, thinking or end
/// arrives a long wait is normal (the server may be loading the model from disk); in the middle
/// of a reply a long silence means the server is stuck.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timeouts {
    /// From sending the request to its first event (`--load-timeout`).
    pub load: Duration,
    /// Between events once the reply has begun (`--timeout`).
    pub idle: Duration,
}

impl Timeouts {
    /// The same limit in both phases.
    pub fn uniform(limit: Duration) -> Self {
        Timeouts {
            load: limit,
            idle: limit,
        }
    }
}

/// Runs one chat request to its end. `cancel` resolving (Ctrl-C, SIGTERM, SIGHUP: it says which)
/// drops the response, which closes the connection and makes the server stop generating.
/// `timeouts` bound the wait for the first event and then for each next one. The turn does not
/// know which API the source speaks: every API gives the same events.
pub async fn run_turn<R, S, C>(
    source: &R,
    request: &ChatRequest<'_>,
    sink: &mut S,
    cancel: C,
    timeouts: Timeouts,
) -> TurnOutcome
where
    R: ReplySource,
    S: ReplySink + ?Sized,
    C: Future<Output = CancelReason>,
{
    let started_at = Utc::now();
    let start = Instant::now();
    let mut out = TurnOutcome {
        started_at,
        content: String::new(),
        thinking: String::new(),
        tool_calls: Vec::new(),
        stats: None,
        ttft: None,
        elapsed: Duration::ZERO,
        ending: Ending::Done,
    };
    let stalled = |begun: bool| {
        let (limit, flag) = if begun {
            (timeouts.idle, "--timeout")
        } else {
            (timeouts.load, "--load-timeout")
        };
        Ending::Failed(ApiError::Stalled {
            server: source.server_name(),
            secs: limit.as_secs(),
            before_first: !begun,
            flag,
        })
    };
    tokio::pin!(cancel);

    // Until the first event the load limit runs from the start, across opening and reading.
    let mut deadline = start + timeouts.load;
    let mut begun = false;
    let connect = tokio::time::timeout_at(deadline, source.open(request));
    let mut reply = tokio::select! {
        r = connect => match r {
            Ok(Ok(reply)) => reply,
            Ok(Err(e)) => return finish(out, start, Ending::Failed(e), sink),
            Err(_) => return finish(out, start, stalled(false), sink),
        },
        why = &mut cancel => return finish(out, start, Ending::Cancelled(why), sink),
    };

    let mut stream_error: Option<String> = None;
    // The idle limit counts from the last event that made progress, not the last read: blank
    // keep-alive lines or SSE comments must not hold a dead reply open forever.
    let ending = loop {
        let next = tokio::select! {
            r = tokio::time::timeout_at(deadline, reply.read()) => r,
            why = &mut cancel => break Ending::Cancelled(why),
        };
        let bytes = match next {
            Err(_) => break stalled(begun),
            Ok(Err(e)) => break Ending::Failed(e),
            Ok(Ok(None)) => {
                let r = reply.finish(|ev| on_event(ev, &mut out, &mut stream_error, sink, start));
                break match r {
                    Err(e) => feed_failure(e),
                    Ok(()) if stream_error.is_some() => {
                        stream_failure(source.server_name(), &mut stream_error)
                    }
                    Ok(()) if out.stats.is_some() => Ending::Done,
                    Ok(()) => Ending::Failed(ApiError::Incomplete),
                };
            }
            Ok(Ok(Some(b))) => b,
        };
        let mut events = 0usize;
        let r = reply
            .feed(&bytes, |ev| {
                events += 1;
                on_event(ev, &mut out, &mut stream_error, sink, start)
            })
            .and_then(|()| sink.flush().map_err(FeedError::Sink));
        if events > 0 {
            begun = true;
            deadline = Instant::now() + timeouts.idle;
        }
        if let Err(e) = r {
            break feed_failure(e);
        }
        if stream_error.is_some() {
            break stream_failure(source.server_name(), &mut stream_error);
        }
        if out.stats.is_some() {
            break Ending::Done;
        }
    };
    drop(reply);
    finish(out, start, ending, sink)
}

fn stream_failure(server: &'static str, msg: &mut Option<String>) -> Ending {
    Ending::Failed(ApiError::InStream {
        server,
        message: msg.take().unwrap_or_default().into(),
    })
}

fn feed_failure(e: FeedError<std::io::Error>) -> Ending {
    match e {
        FeedError::Decode(d) => Ending::Failed(ApiError::Decode(d)),
        FeedError::TooLong(t) => Ending::Failed(ApiError::TooLong(t)),
        FeedError::Sink(e) => {
            tracing::debug!("stopped the reply: writing it failed: {e}");
            Ending::Cancelled(CancelReason::OutputClosed)
        }
    }
}

fn on_event<S: ReplySink + ?Sized>(
    ev: ChatEvent<'_>,
    out: &mut TurnOutcome,
    stream_error: &mut Option<String>,
    sink: &mut S,
    start: Instant,
) -> Result<(), std::io::Error> {
    if out.stats.is_some() || stream_error.is_some() {
        return Ok(()); // nothing after the final chunk or an error counts
    }
    let (content, thinking) = match ev {
        ChatEvent::Delta { content, thinking } => (content, thinking),
        ChatEvent::Done { content, stats } => {
            out.stats = Some(stats.plausible());
            out.elapsed = start.elapsed();
            (content, "")
        }
        ChatEvent::Error(e) => {
            *stream_error = Some(e);
            return Ok(());
        }
        ChatEvent::ToolCall(call) => {
            out.tool_calls.push(call);
            return Ok(());
        }
    };
    if !thinking.is_empty() {
        out.thinking.push_str(thinking);
        sink.thinking(thinking)?;
    }
    if !content.is_empty() {
        if out.ttft.is_none() {
            out.ttft = Some(start.elapsed());
        }
        out.content.push_str(content);
        sink.content(content)?;
    }
    Ok(())
}

fn finish<S: ReplySink + ?Sized>(
    mut out: TurnOutcome,
    start: Instant,
    ending: Ending,
    sink: &mut S,
) -> TurnOutcome {
    if out.stats.is_none() {
        out.elapsed = start.elapsed();
    }
    // A reader that went away cannot be written to; any other failure to finish is not worth more
    // than the reply itself.
    let _ = sink.finish();
    out.ending = ending;
    out
}

#[cfg(test)]
#[path = "turn_tests.rs"]
mod tests;
