//! The turn without a network: a scripted reply source (waits, events, failures, hangs) under
//! tokio's paused clock, so stalls, Ctrl-C and timings are exact and nothing really sleeps.

use std::cell::{Cell, RefCell};
use std::collections::VecDeque;
use std::rc::Rc;

use tokio::sync::Notify;

use super::*;
use crate::error::DecodeError;
use crate::options::Options;
use crate::signals::StopSignal;

/// One step of a script. Before `Accept` the steps are the opening of the request; after it, each
/// network read takes the steps up to and including the next one that answers it.
#[derive(Debug)]
enum Step {
    /// Nothing happens for this long.
    Wait(Duration),
    /// The server accepts the request: the reply is open.
    Accept,
    /// One network read that decodes into these events.
    Read(Vec<Ev>),
    /// The open or the read fails.
    Fail(ApiError),
    /// Nothing ever comes again (and the connection stays open).
    Hang,
    /// The body ends (also what an exhausted script does).
    End,
}

/// An event as the decoder would hand it out.
#[derive(Debug)]
enum Ev {
    Text(&'static str),
    Thinking(&'static str),
    /// The final event, with a last bit of text.
    Done(&'static str, FinalStats),
    /// The server reports a failure inside the stream.
    Error(&'static str),
    /// Bytes the decoder cannot read.
    Garbage,
    /// A whole tool call (name; arguments `{}`).
    Call(&'static str),
}

use Ev::*;
use Step::*;

/// A reply source that plays a script; `dropped` is set once the reply (the connection) is gone.
struct Script {
    steps: RefCell<VecDeque<Step>>,
    dropped: Rc<Cell<bool>>,
}

fn script(steps: Vec<Step>) -> Script {
    Script {
        steps: RefCell::new(steps.into()),
        dropped: Rc::default(),
    }
}

impl Script {
    fn next(&self) -> Option<Step> {
        self.steps.borrow_mut().pop_front()
    }
}

impl ReplySource for Script {
    type Reply = Scripted;

    fn server_name(&self) -> &'static str {
        "Scripted"
    }

    async fn open(&self, _: &ChatRequest<'_>) -> Result<Scripted, ApiError> {
        loop {
            match self.next() {
                Some(Wait(d)) => tokio::time::sleep(d).await,
                Some(Fail(e)) => return Err(e),
                Some(Hang) => std::future::pending::<()>().await,
                Some(Accept) | None => break,
                Some(other) => panic!("{other:?} before the reply was accepted"),
            }
        }
        Ok(Scripted {
            steps: self.steps.take(),
            events: Vec::new(),
            dropped: self.dropped.clone(),
        })
    }
}

/// The reply in flight: `read` returns a marker, `feed` hands out the events of that read.
struct Scripted {
    steps: VecDeque<Step>,
    events: Vec<Ev>,
    dropped: Rc<Cell<bool>>,
}

impl Drop for Scripted {
    fn drop(&mut self) {
        self.dropped.set(true);
    }
}

impl Reply for Scripted {
    async fn read(&mut self) -> Result<Option<Bytes>, ApiError> {
        loop {
            match self.steps.pop_front() {
                Some(Wait(d)) => tokio::time::sleep(d).await,
                Some(Read(events)) => {
                    self.events = events;
                    return Ok(Some(Bytes::from_static(b"<read>")));
                }
                Some(Fail(e)) => return Err(e),
                Some(Hang) => std::future::pending::<()>().await,
                Some(End) | None => return Ok(None),
                Some(Accept) => panic!("accepted twice"),
            }
        }
    }

    fn feed<E>(
        &mut self,
        bytes: &[u8],
        mut on_event: impl FnMut(ChatEvent<'_>) -> Result<(), E>,
    ) -> Result<(), FeedError<E>> {
        assert_eq!(bytes, b"<read>");
        for ev in std::mem::take(&mut self.events) {
            let ev = match ev {
                Text(t) => ChatEvent::Delta {
                    content: t,
                    thinking: "",
                },
                Thinking(t) => ChatEvent::Delta {
                    content: "",
                    thinking: t,
                },
                Done(t, stats) => ChatEvent::Done { content: t, stats },
                Error(m) => ChatEvent::Error(m.to_string()),
                Call(name) => ChatEvent::ToolCall(crate::conversation::ToolCall {
                    id: None,
                    name: name.to_string(),
                    arguments: serde_json::json!({}),
                }),
                Garbage => {
                    let bad = b"<html>";
                    let e = serde_json::from_slice::<serde_json::Value>(bad).unwrap_err();
                    return Err(FeedError::Decode(DecodeError::new(bad, e)));
                }
            };
            on_event(ev).map_err(FeedError::Sink)?;
        }
        Ok(())
    }

    fn finish<E>(
        &mut self,
        _: impl FnMut(ChatEvent<'_>) -> Result<(), E>,
    ) -> Result<(), FeedError<E>> {
        Ok(())
    }
}

/// What the sink was asked to do, in order.
#[derive(Debug, PartialEq)]
enum Call {
    Thinking(String),
    Content(String),
    Flush,
    Finish,
}

/// A sink that records its calls; it can fail a content write, or press Ctrl-C after some.
#[derive(Default)]
struct Recorder {
    calls: Vec<Call>,
    /// The content write with this index (from 0) fails as a closed pipe does.
    fail_at: Option<usize>,
    /// After this many content writes, Ctrl-C.
    interrupt_after: Option<(usize, Rc<Notify>)>,
}

impl Recorder {
    fn contents(&self) -> usize {
        self.calls
            .iter()
            .filter(|c| matches!(c, Call::Content(_)))
            .count()
    }

    fn flushes(&self) -> usize {
        self.calls.iter().filter(|c| **c == Call::Flush).count()
    }
}

impl ReplySink for Recorder {
    fn thinking(&mut self, text: &str) -> std::io::Result<()> {
        self.calls.push(Call::Thinking(text.into()));
        Ok(())
    }

    fn content(&mut self, text: &str) -> std::io::Result<()> {
        if self.fail_at == Some(self.contents()) {
            return Err(std::io::ErrorKind::BrokenPipe.into());
        }
        self.calls.push(Call::Content(text.into()));
        if let Some((n, ctrl_c)) = &self.interrupt_after {
            if self.contents() == *n {
                ctrl_c.notify_one();
            }
        }
        Ok(())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.calls.push(Call::Flush);
        Ok(())
    }

    fn finish(&mut self) -> std::io::Result<()> {
        self.calls.push(Call::Finish);
        Ok(())
    }
}

const STALL: Duration = Duration::from_secs(30);

fn secs(s: u64) -> Duration {
    Duration::from_secs(s)
}

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

fn stats() -> FinalStats {
    FinalStats {
        done_reason: Some("stop".into()),
        eval_count: Some(3),
        ..FinalStats::default()
    }
}

/// Runs the script with no Ctrl-C.
async fn play(source: &Script, sink: &mut Recorder) -> TurnOutcome {
    play_until(source, sink, std::future::pending()).await
}

async fn play_until(
    source: &Script,
    sink: &mut Recorder,
    cancel: impl Future<Output = CancelReason>,
) -> TurnOutcome {
    let options = Options::default();
    let request = ChatRequest::new("m", &[], &options);
    run_turn(source, &request, sink, cancel, Timeouts::uniform(STALL)).await
}

#[tokio::test(start_paused = true)]
async fn thinking_then_content_with_ttft_at_the_first_content() {
    let s = script(vec![
        Accept,
        Wait(secs(1)),
        Read(vec![Thinking("let me see")]),
        Wait(secs(2)),
        Read(vec![Text("Hel"), Text("lo")]),
        Wait(secs(1)),
        Read(vec![Done("!", stats())]),
        Hang, // never read: the final event ends the turn
    ]);
    let mut sink = Recorder::default();
    let out = play(&s, &mut sink).await;
    assert!(matches!(out.ending, Ending::Done), "{:?}", out.ending);
    assert_eq!(out.status(), TurnStatus::Ok);
    assert_eq!(
        (out.thinking.as_str(), out.content.as_str()),
        ("let me see", "Hello!")
    );
    assert_eq!(out.ttft, Some(secs(3)), "the thinking does not count");
    assert_eq!(out.elapsed, secs(4));
    assert_eq!(out.stats, Some(stats()));
    assert_eq!(
        sink.calls,
        [
            Call::Thinking("let me see".into()),
            Call::Flush,
            Call::Content("Hel".into()),
            Call::Content("lo".into()),
            Call::Flush,
            Call::Content("!".into()),
            Call::Flush,
            Call::Finish,
        ]
    );
    assert!(s.dropped.get());
}

/// Tool calls are collected in order, count as progress for the stall timer but not as the first
/// text, and nothing after the final event counts.
#[tokio::test(start_paused = true)]
async fn tool_calls_are_collected_and_only_until_the_end() {
    let s = script(vec![
        Accept,
        Wait(secs(20)),
        Read(vec![Text("我看看"), Call("read_file")]),
        Wait(secs(20)),
        Read(vec![Call("now")]),
        Wait(secs(20)),
        Read(vec![Done("", stats()), Call("late")]),
    ]);
    let mut sink = Recorder::default();
    let out = play(&s, &mut sink).await;
    assert!(matches!(out.ending, Ending::Done), "{:?}", out.ending);
    let names: Vec<&str> = out.tool_calls.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(names, ["read_file", "now"]);
    assert_eq!(out.ttft, Some(secs(20)));
    assert_eq!(out.elapsed, secs(60), "each read with a call was progress");
}

#[tokio::test(start_paused = true)]
async fn the_stall_timer_bounds_the_wait_for_the_reply_to_open() {
    let s = script(vec![
        Wait(secs(31)),
        Accept,
        Read(vec![Done("late", stats())]),
    ]);
    let mut sink = Recorder::default();
    let out = play(&s, &mut sink).await;
    let Ending::Failed(ApiError::Stalled {
        server, secs: 30, ..
    }) = out.ending
    else {
        panic!("{:?}", out.ending);
    };
    assert_eq!(server, "Scripted");
    assert_eq!(out.elapsed, STALL);
    assert_eq!((out.content.as_str(), out.ttft), ("", None));
    assert_eq!(sink.calls, [Call::Finish]);
}

#[tokio::test(start_paused = true)]
async fn the_stall_timer_bounds_each_read_not_the_turn() {
    // Two pauses just under the limit are fine; a third one over it is not.
    let s = script(vec![
        Accept,
        Wait(secs(29)),
        Read(vec![Text("a")]),
        Wait(secs(29)),
        Read(vec![Text("b")]),
        Wait(secs(31)),
        Read(vec![Done("", stats())]),
    ]);
    let mut sink = Recorder::default();
    let out = play(&s, &mut sink).await;
    assert!(
        matches!(
            out.ending,
            Ending::Failed(ApiError::Stalled { secs: 30, .. })
        ),
        "{:?}",
        out.ending
    );
    assert_eq!(out.content, "ab", "what came before the stall is kept");
    assert_eq!(out.elapsed, secs(29 + 29 + 30));
    assert_eq!(out.ttft, Some(secs(29)));
    assert_eq!(out.status(), TurnStatus::Error);
    assert!(s.dropped.get(), "the connection is closed");
}

#[tokio::test(start_paused = true)]
async fn keep_alives_do_not_hold_a_dead_reply_open() {
    // Reads that decode into nothing (blank NDJSON lines, SSE comments, pings) every 10 s: the
    // limit counts from the last event that made progress.
    let mut steps = vec![Accept, Read(vec![Text("a")])];
    for _ in 0..10 {
        steps.push(Wait(secs(10)));
        steps.push(Read(vec![]));
    }
    steps.push(Read(vec![Done("", stats())]));
    let s = script(steps);
    let mut sink = Recorder::default();
    let out = play(&s, &mut sink).await;
    assert!(
        matches!(
            out.ending,
            Ending::Failed(ApiError::Stalled { secs: 30, .. })
        ),
        "{:?}",
        out.ending
    );
    assert_eq!(out.content, "a");
    assert_eq!(
        out.elapsed, STALL,
        "30 s after the last text, not after the last keep-alive"
    );
}

#[tokio::test(start_paused = true)]
async fn ctrl_c_mid_token_keeps_the_partial_reply() {
    let mut steps = vec![Accept];
    for t in ["one ", "two ", "three ", "four "] {
        steps.push(Wait(ms(100)));
        steps.push(Read(vec![Text(t)]));
    }
    steps.push(Read(vec![Done("", stats())]));
    let s = script(steps);
    let ctrl_c = Rc::new(Notify::new());
    let mut sink = Recorder {
        interrupt_after: Some((2, ctrl_c.clone())),
        ..Recorder::default()
    };
    let out = play_until(&s, &mut sink, async move {
        ctrl_c.notified().await;
        CancelReason::Interrupt
    })
    .await;
    assert!(
        matches!(out.ending, Ending::Cancelled(CancelReason::Interrupt)),
        "{:?}",
        out.ending
    );
    assert_eq!(out.status(), TurnStatus::Cancelled);
    assert_eq!(out.content, "one two ");
    assert_eq!(out.stats, None);
    assert_eq!(out.ttft, Some(ms(100)));
    assert_eq!(
        out.elapsed,
        ms(200),
        "stopped at once, not at the next token"
    );
    assert_eq!(sink.calls.last(), Some(&Call::Finish));
    assert!(s.dropped.get(), "the connection is closed");
}

#[tokio::test(start_paused = true)]
async fn a_stop_signal_mid_token_keeps_the_partial_reply_under_its_own_status() {
    for (signal, status) in [
        (StopSignal::Terminate, TurnStatus::Terminated),
        (StopSignal::Hangup, TurnStatus::Hangup),
    ] {
        let mut steps = vec![Accept];
        for t in ["one ", "two ", "three "] {
            steps.push(Wait(ms(100)));
            steps.push(Read(vec![Text(t)]));
        }
        steps.push(Read(vec![Done("", stats())]));
        let s = script(steps);
        let stop = Rc::new(Notify::new());
        let mut sink = Recorder {
            interrupt_after: Some((1, stop.clone())),
            ..Recorder::default()
        };
        let out = play_until(&s, &mut sink, async move {
            stop.notified().await;
            CancelReason::Stopped(signal)
        })
        .await;
        assert_eq!(out.status(), status);
        assert_eq!(out.stop_signal(), Some(signal));
        assert_eq!(out.content, "one ");
        assert!(s.dropped.get(), "the connection is closed");
    }
}

#[tokio::test(start_paused = true)]
async fn ctrl_c_before_the_reply_opens() {
    let s = script(vec![Hang]);
    let mut sink = Recorder::default();
    let out = play_until(&s, &mut sink, async {
        tokio::time::sleep(secs(5)).await;
        CancelReason::Interrupt
    })
    .await;
    assert!(
        matches!(out.ending, Ending::Cancelled(CancelReason::Interrupt)),
        "{:?}",
        out.ending
    );
    assert_eq!(out.elapsed, secs(5));
    assert_eq!(sink.calls, [Call::Finish]);
}

#[tokio::test(start_paused = true)]
async fn an_error_line_mid_stream_fails_the_turn_and_nothing_after_it_counts() {
    let s = script(vec![
        Accept,
        Read(vec![Text("par")]),
        Read(vec![
            Text("tial"),
            Error("model runner crashed"),
            Text("ignored"),
        ]),
        Read(vec![Text("never read")]),
    ]);
    let mut sink = Recorder::default();
    let out = play(&s, &mut sink).await;
    let Ending::Failed(ApiError::InStream { server, message }) = &out.ending else {
        panic!("{:?}", out.ending);
    };
    assert_eq!(
        (*server, message.raw()),
        ("Scripted", "model runner crashed")
    );
    assert_eq!(out.content, "partial");
    assert_eq!(sink.contents(), 2);
    assert_eq!(out.status(), TurnStatus::Error);
}

#[tokio::test(start_paused = true)]
async fn a_dropped_connection_fails_the_turn_and_keeps_the_text() {
    let lost = ApiError::Disconnected {
        server: "Scripted",
        reason: "connection reset".into(),
    };
    let s = script(vec![
        Accept,
        Read(vec![Text("half a")]),
        Wait(ms(10)),
        Fail(lost),
    ]);
    let mut sink = Recorder::default();
    let out = play(&s, &mut sink).await;
    assert!(
        matches!(out.ending, Ending::Failed(ApiError::Disconnected { .. })),
        "{:?}",
        out.ending
    );
    assert_eq!(out.content, "half a");
    assert_eq!(out.elapsed, ms(10));
    assert_eq!(sink.calls.last(), Some(&Call::Finish));
}

#[tokio::test(start_paused = true)]
async fn a_stream_that_ends_without_its_final_event_is_incomplete() {
    let s = script(vec![Accept, Read(vec![Text("and then")]), End]);
    let mut sink = Recorder::default();
    let out = play(&s, &mut sink).await;
    assert!(
        matches!(out.ending, Ending::Failed(ApiError::Incomplete)),
        "{:?}",
        out.ending
    );
    assert_eq!(out.content, "and then");
    assert_eq!(out.stats, None);
}

#[tokio::test(start_paused = true)]
async fn unreadable_bytes_fail_the_turn_as_a_decode_error() {
    let s = script(vec![Accept, Read(vec![Text("ok so far"), Garbage])]);
    let mut sink = Recorder::default();
    let out = play(&s, &mut sink).await;
    let Ending::Failed(ApiError::Decode(d)) = &out.ending else {
        panic!("{:?}", out.ending);
    };
    assert_eq!(d.excerpt, "<html>");
    assert_eq!(out.content, "ok so far");
}

#[tokio::test(start_paused = true)]
async fn a_refused_request_fails_before_anything_is_written() {
    let missing = ApiError::ModelNotFound {
        model: "m".into(),
        detail: String::new().into(),
    };
    let s = script(vec![Wait(ms(3)), Fail(missing)]);
    let mut sink = Recorder::default();
    let out = play(&s, &mut sink).await;
    assert!(
        matches!(out.ending, Ending::Failed(ApiError::ModelNotFound { .. })),
        "{:?}",
        out.ending
    );
    assert_eq!(out.elapsed, ms(3));
    assert_eq!(sink.calls, [Call::Finish]);
}

#[tokio::test(start_paused = true)]
async fn a_sink_that_cannot_write_ends_the_turn_as_output_closed() {
    let s = script(vec![
        Accept,
        Read(vec![Text("first ")]),
        Wait(ms(50)),
        Read(vec![Text("second "), Text("third")]),
        Hang, // never reached: nobody reads the output any more
    ]);
    let mut sink = Recorder {
        fail_at: Some(1),
        ..Recorder::default()
    };
    let out = play(&s, &mut sink).await;
    assert!(
        matches!(out.ending, Ending::Cancelled(CancelReason::OutputClosed)),
        "{:?}",
        out.ending
    );
    assert_eq!(out.status(), TurnStatus::Cancelled);
    assert_eq!(
        out.content, "first second ",
        "the text taken before the write failed"
    );
    assert_eq!(sink.flushes(), 1, "no flush after the failed write");
    assert_eq!(out.elapsed, ms(50));
    assert!(s.dropped.get(), "the connection is closed");
}

/// The phases' limits of the next tests: a long load, a short silence mid-reply.
const PHASES: Timeouts = Timeouts {
    load: Duration::from_secs(300),
    idle: Duration::from_secs(60),
};

async fn play_phases(source: &Script, sink: &mut Recorder) -> TurnOutcome {
    let options = Options::default();
    let request = ChatRequest::new("m", &[], &options);
    run_turn(source, &request, sink, std::future::pending(), PHASES).await
}

#[tokio::test(start_paused = true)]
async fn a_long_load_before_the_first_token_is_waited_for() {
    // Four minutes before the server answers (a model loading from disk), two before its first
    // token: far past the mid-reply limit, within the load limit, which counts from the start.
    let s = script(vec![
        Wait(secs(240)),
        Accept,
        Wait(secs(50)),
        Read(vec![Text("你")]),
        Wait(secs(59)),
        Read(vec![Done("好", stats())]),
    ]);
    let mut sink = Recorder::default();
    let out = play_phases(&s, &mut sink).await;
    assert!(matches!(out.ending, Ending::Done), "{:?}", out.ending);
    assert_eq!(out.content, "你好");
    assert_eq!(out.ttft, Some(secs(290)));
}

#[tokio::test(start_paused = true)]
async fn the_load_limit_counts_from_the_request_across_opening_and_the_first_read() {
    let s = script(vec![
        Wait(secs(200)),
        Accept,
        Wait(secs(101)),
        Read(vec![Text("late")]),
    ]);
    let mut sink = Recorder::default();
    let out = play_phases(&s, &mut sink).await;
    let Ending::Failed(
        ref e @ ApiError::Stalled {
            secs: 300,
            before_first: true,
            flag: "--load-timeout",
            ..
        },
    ) = out.ending
    else {
        panic!("{:?}", out.ending);
    };
    assert!(e.to_string().contains("before the reply began"), "{e}");
    assert!(e.to_string().contains("--load-timeout"), "{e}");
    assert_eq!(out.elapsed, secs(300));
}

#[tokio::test(start_paused = true)]
async fn a_minute_of_silence_mid_reply_ends_it_with_the_idle_limit() {
    let s = script(vec![
        Accept,
        Wait(secs(120)),
        Read(vec![Thinking("嗯")]),
        Wait(secs(61)),
        Read(vec![Done("never", stats())]),
    ]);
    let mut sink = Recorder::default();
    let out = play_phases(&s, &mut sink).await;
    let Ending::Failed(
        ref e @ ApiError::Stalled {
            secs: 60,
            before_first: false,
            flag: "--timeout",
            ..
        },
    ) = out.ending
    else {
        panic!("{:?}", out.ending);
    };
    assert!(!e.to_string().contains("before the reply began"), "{e}");
    assert_eq!(out.thinking, "嗯", "what came before the silence is kept");
    assert_eq!(out.elapsed, secs(180));
}
