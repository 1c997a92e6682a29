//! One exchange: send the request, stream the reply into a sink, race it against Ctrl-C and a stall
//! timer, and report what happened. The one place where network and rendering meet.

use std::future::Future;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};

use crate::backend::{Backend, ChatEvent, FeedError};
use crate::ollama::wire::{ChatRequest, FinalStats};
use crate::ollama::ApiError;
use crate::render::ReplySink;

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
}

impl CancelReason {
    pub fn describe(self) -> &'static str {
        match self {
            CancelReason::Interrupt => "interrupted by the user",
            CancelReason::OutputClosed => "the output was closed",
        }
    }
}

/// Everything a turn produced, whatever its ending: the log and the history are built from this.
#[derive(Debug)]
pub struct TurnOutcome {
    pub started_at: DateTime<Utc>,
    pub content: String,
    pub thinking: String,
    pub stats: Option<FinalStats>,
    /// Request sent → first reply (content) text.
    pub ttft: Option<Duration>,
    /// Request sent → final chunk (or the moment the turn ended otherwise).
    pub elapsed: Duration,
    pub ending: Ending,
}

impl TurnOutcome {
    pub fn status(&self) -> &'static str {
        match self.ending {
            Ending::Done => "ok",
            Ending::Cancelled(_) => "cancelled",
            Ending::Failed(_) => "error",
        }
    }
}

/// Runs one chat request to its end. `cancel` resolving (Ctrl-C) drops the response, which closes
/// the connection and makes the server stop generating. `stall` bounds the wait for each network
/// read. The turn does not know which API the backend speaks: both give the same events.
pub async fn run_turn<S, C>(
    backend: &Backend,
    request: &ChatRequest<'_>,
    sink: &mut S,
    cancel: C,
    stall: Duration,
) -> TurnOutcome
where
    S: ReplySink + ?Sized,
    C: Future<Output = ()>,
{
    let started_at = Utc::now();
    let start = Instant::now();
    let mut out = TurnOutcome {
        started_at,
        content: String::new(),
        thinking: String::new(),
        stats: None,
        ttft: None,
        elapsed: Duration::ZERO,
        ending: Ending::Done,
    };
    let stalled = || {
        Ending::Failed(ApiError::Stalled {
            server: backend.server_name(),
            secs: stall.as_secs(),
        })
    };
    tokio::pin!(cancel);

    let connect = tokio::time::timeout(stall, backend.chat(request));
    let mut reply = tokio::select! {
        r = connect => match r {
            Ok(Ok(reply)) => reply,
            Ok(Err(e)) => return finish(out, start, Ending::Failed(e), sink),
            Err(_) => return finish(out, start, stalled(), sink),
        },
        _ = &mut cancel => return finish(out, start, Ending::Cancelled(CancelReason::Interrupt), sink),
    };

    let mut stream_error: Option<String> = None;
    let ending = loop {
        let next = tokio::select! {
            r = tokio::time::timeout(stall, reply.read()) => r,
            _ = &mut cancel => break Ending::Cancelled(CancelReason::Interrupt),
        };
        let bytes = match next {
            Err(_) => break stalled(),
            Ok(Err(e)) => break Ending::Failed(e),
            Ok(Ok(None)) => {
                let r = reply.finish(|ev| on_event(ev, &mut out, &mut stream_error, sink, start));
                break match r {
                    Err(e) => feed_failure(e),
                    Ok(()) if stream_error.is_some() => stream_failure(backend, &mut stream_error),
                    Ok(()) if out.stats.is_some() => Ending::Done,
                    Ok(()) => Ending::Failed(ApiError::Incomplete),
                };
            }
            Ok(Ok(Some(b))) => b,
        };
        let r = reply
            .feed(&bytes, |ev| {
                on_event(ev, &mut out, &mut stream_error, sink, start)
            })
            .and_then(|()| sink.flush().map_err(FeedError::Sink));
        if let Err(e) = r {
            break feed_failure(e);
        }
        if stream_error.is_some() {
            break stream_failure(backend, &mut stream_error);
        }
        if out.stats.is_some() {
            break Ending::Done;
        }
    };
    drop(reply);
    finish(out, start, ending, sink)
}

fn stream_failure(backend: &Backend, msg: &mut Option<String>) -> Ending {
    Ending::Failed(ApiError::InStream {
        server: backend.server_name(),
        message: msg.take().unwrap_or_default(),
    })
}

fn feed_failure(e: FeedError<std::io::Error>) -> Ending {
    match e {
        FeedError::Decode(d) => Ending::Failed(ApiError::Decode(d)),
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
            out.stats = Some(stats);
            out.elapsed = start.elapsed();
            (content, "")
        }
        ChatEvent::Error(e) => {
            *stream_error = Some(e);
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
