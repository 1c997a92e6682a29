//! Micro-benchmarks of the per-token paths: NDJSON decoding, rendering and sanitising, markdown
//! rendering (with and without colour, i.e. highlighting), and log record encoding; and of the per-turn request body. A plain timer (warm-up, then the median of many samples) rather than a
//! framework: the numbers are for comparing before and after a change on the same machine.
//!
//! `cargo bench --bench hot_paths [FILTER]`

use std::hint::black_box;
use std::io;
use std::time::{Duration, Instant};

use ollama_chat::conversation::ChatEvent;
use ollama_chat::conversation::{ChatRequest, FinalStats, Message, Role};
use ollama_chat::error::ApiError;
use ollama_chat::log::{ContextLog, TurnContext, TurnRecord};
use ollama_chat::ollama::body::BodyEncoder;
use ollama_chat::ollama::ndjson::{event, parse_chunk, LineSplitter};
use ollama_chat::ollama::wire::WireRequest;
use ollama_chat::options::Options;
use ollama_chat::render::markdown::{MarkdownView, Theme};
use ollama_chat::render::{sanitize, Output, Renderer, ReplySink, ThinkingTo};
use ollama_chat::turn::{Ending, TurnOutcome};

const TOKENS: &[&str] = &[
    " The", " quick", " brown", " fox", " jumps", " over", " the", " lazy", " dog", ".", "\n",
    " 你好", "，", "世界", "！", " 🦊", " and", " then", " it", " rests",
];

fn main() {
    let filter: Option<String> = std::env::args().skip(1).find(|a| !a.starts_with('-'));
    let run = |name: &str| filter.as_deref().is_none_or(|f| name.contains(f));
    println!("{:<44} {:>12} {:>14}", "benchmark", "median", "throughput");

    let stream = ndjson_stream(10_000);
    if run("ndjson/decode") {
        bench(
            "ndjson/decode 10k lines, 64 KiB reads",
            stream.len(),
            10_000,
            || decode(&stream, 64 * 1024),
        );
        bench(
            "ndjson/decode 10k lines, line per read",
            stream.len(),
            10_000,
            || decode(&stream, 1),
        );
    }
    if run("render") {
        let ascii: Vec<String> = (0..10_000).map(|i| TOKENS[i % 10].to_string()).collect();
        let mixed: Vec<String> = (0..10_000)
            .map(|i| TOKENS[i % TOKENS.len()].to_string())
            .collect();
        let hostile: Vec<String> = (0..10_000)
            .map(|i| format!("{}\x1b[31m\u{202e}", TOKENS[i % TOKENS.len()]))
            .collect();
        for (name, tokens) in [("ascii", &ascii), ("mixed", &mixed), ("hostile", &hostile)] {
            let bytes: usize = tokens.iter().map(String::len).sum();
            bench(
                &format!("render/pipe 10k {name} tokens"),
                bytes,
                10_000,
                || render(tokens, Output::Plain),
            );
            bench(
                &format!("render/terminal 10k {name} tokens"),
                bytes,
                10_000,
                || render(tokens, Output::Terminal { color: true }),
            );
        }
        let text: String = mixed.concat();
        bench("render/sanitize 55 KB clean text", text.len(), 1, || {
            sanitize(black_box(&text)).len()
        });
    }
    if run("markdown") {
        let md: Vec<String> = (0..10_000)
            .map(|i| MARKDOWN[i % MARKDOWN.len()].to_string())
            .collect();
        let bytes: usize = md.iter().map(String::len).sum();
        for (name, view, color) in [
            ("raw", None, true),
            ("rendered", Some(markdown_view()), true),
            ("rendered without colour", Some(markdown_view()), false),
        ] {
            bench(
                &format!("markdown/10k md tokens, {name}"),
                bytes,
                10_000,
                || render_md(&md, view, color),
            );
        }
    }
    if run("log") {
        for tokens in [150usize, 100_000] {
            let content: String = (0..tokens).map(|i| TOKENS[i % TOKENS.len()]).collect();
            let outcome = outcome(content);
            bench(
                &format!("log/encode record, {tokens}-token reply"),
                outcome.content.len(),
                1,
                || encode_record(&outcome),
            );
        }
    }
    if run("body") {
        body();
    }
}

/// The `/api/chat` body of a 1,000-turn history, turn after turn as the REPL sends it (the history
/// grows by an exchange each time, or slides as when the oldest exchange is left out): encoded
/// whole by `serde_json::to_vec`, or by `BodyEncoder`, which re-encodes only what changed.
fn body() {
    const HISTORY: usize = 1000;
    const TURNS: usize = 200;
    let messages: Vec<Message> = (0..2 * (HISTORY + TURNS) + 1)
        .map(|i| {
            let role = if i % 2 == 0 {
                Role::User
            } else {
                Role::Assistant
            };
            Message::new(role, history_text(i))
        })
        .collect();
    let options = Options::default();
    let request = |messages| chat_request(messages, &options);
    // Sliding, the history starts one exchange later each turn.
    for (name, start) in [("growing", 0), ("sliding", 2)] {
        // Turn `i`: the history so far and the new question.
        let history = |i: usize| &messages[start * i..2 * (HISTORY + i) + 1];
        let bytes = serde_json::to_vec(&WireRequest::from(&request(history(0))))
            .expect("serialisable")
            .len();
        let whole = per_turn(TURNS, |i| {
            serde_json::to_vec(&WireRequest::from(&request(history(i))))
                .expect("serialisable")
                .len()
        });
        let mut encoder = BodyEncoder::new();
        encoder.encode(&request(history(0))).expect("serialisable");
        let mut last = Vec::new();
        let incremental = per_turn(TURNS, |i| {
            last = encoder.encode(&request(history(i))).expect("serialisable");
            last.len()
        });
        assert_eq!(
            last,
            serde_json::to_vec(&WireRequest::from(&request(history(TURNS)))).expect("serialisable")
        );
        for (how, time) in [("to_vec", whole), ("BodyEncoder", incremental)] {
            let what = format!("body/{name} 1k turns ({:.1} MB), {how}", bytes as f64 / 1e6);
            let rate = bytes as f64 / time.as_secs_f64() / 1e6;
            println!(
                "{what:<44} {:>9.1} µs   {rate:.0} MB/s",
                time.as_secs_f64() * 1e6
            );
        }
    }
}

fn chat_request<'a>(messages: &'a [Message], options: &'a Options) -> ChatRequest<'a> {
    ChatRequest {
        model: "qwen3:8b",
        messages,
        stream: true,
        options,
        format: None,
        think: None,
        keep_alive: None,
        tools: &[],
        strict_window: false,
    }
}

/// The median time of `f(1)` … `f(turns)`, each called once, in order.
fn per_turn(turns: usize, mut f: impl FnMut(usize) -> usize) -> Duration {
    let mut times: Vec<Duration> = (1..=turns)
        .map(|i| {
            let start = Instant::now();
            black_box(f(i));
            start.elapsed()
        })
        .collect();
    times.sort();
    times[times.len() / 2]
}

/// A message of 200 to 2,000 characters, English and Chinese, with quotes and newlines to escape.
fn history_text(i: usize) -> String {
    const PIECES: &[&str] = &[
        "The borrow checker keeps \"references\" valid",
        "; 借用檢查器確保引用有效。",
        "\n",
        " A closure captures what it uses by reference, ",
        "除非它被標記為 move。",
        " Lifetimes name how long a borrow lasts.",
    ];
    let chars = 200 + (i * 7919) % 1801;
    let text: String = PIECES.iter().cycle().skip(i).take(chars).copied().collect();
    text.chars().take(chars).collect()
}

/// Times `f`: warm-up, then samples of a fixed number of calls; prints the median per call and
/// the bytes (and items) per second.
fn bench(name: &str, bytes: usize, items: usize, mut f: impl FnMut() -> usize) {
    let warm = Instant::now();
    let mut calls = 0u32;
    while warm.elapsed() < Duration::from_millis(200) || calls < 3 {
        black_box(f());
        calls += 1;
    }
    let per_sample = (calls / 10).max(1);
    let mut samples = Vec::new();
    let all = Instant::now();
    while samples.len() < 15 || (all.elapsed() < Duration::from_secs(1) && samples.len() < 200) {
        let start = Instant::now();
        for _ in 0..per_sample {
            black_box(f());
        }
        samples.push(start.elapsed() / per_sample);
    }
    samples.sort();
    let median = samples[samples.len() / 2];
    let secs = median.as_secs_f64();
    let mut rate = format!("{:.0} MB/s", bytes as f64 / secs / 1e6);
    if items > 1 {
        rate.push_str(&format!(", {:.0} ns/item", secs * 1e9 / items as f64));
    }
    println!("{name:<44} {:>9.1} µs   {rate}", secs * 1e6);
}

/// A chat stream as the fake server (and Ollama) sends it, one line per token, then the final chunk.
fn ndjson_stream(lines: usize) -> Vec<u8> {
    let mut out = Vec::new();
    for i in 0..lines {
        let token = serde_json::to_string(TOKENS[i % TOKENS.len()]).expect("string");
        out.extend_from_slice(
            format!(
                r#"{{"model":"tiny","created_at":"2026-11-29T00:09:38.878977244Z","message":{{"role":"assistant","content":{token}}},"done":false}}"#
            )
            .as_bytes(),
        );
        out.push(b'\n');
    }
    out.extend_from_slice(br#"{"model":"tiny","created_at":"2026-11-29T00:09:39.306954297Z","message":{"role":"assistant","content":""},"done":true,"done_reason":"length","total_duration":513003934,"load_duration":1046115,"prompt_eval_count":54,"prompt_eval_duration":79144000,"eval_count":10000,"eval_duration":427743000}"#);
    out.push(b'\n');
    out
}

/// Splits and decodes `stream` fed in reads of `read` bytes, or one line per read when `read` is 1;
/// returns the reply length.
fn decode(stream: &[u8], read: usize) -> usize {
    let mut splitter = LineSplitter::new();
    let mut content = String::new();
    let mut on_line = |line: &[u8]| -> Result<(), ApiError> {
        let chunk = parse_chunk(line)?;
        match event(&chunk) {
            ChatEvent::Delta { content: c, .. } | ChatEvent::Done { content: c, .. } => {
                content.push_str(c)
            }
            ChatEvent::Error(message) => {
                return Err(ApiError::InStream {
                    server: "Ollama",
                    message: message.into(),
                })
            }
            ChatEvent::ToolCall(_) => {}
        }
        Ok(())
    };
    if read == 1 {
        for line in stream.split_inclusive(|&b| b == b'\n') {
            splitter.feed(line, &mut on_line).expect("valid stream");
        }
    } else {
        for piece in stream.chunks(read) {
            splitter.feed(piece, &mut on_line).expect("valid stream");
        }
    }
    splitter.finish(&mut on_line).expect("valid stream");
    content.len()
}

fn render(tokens: &[String], output: Output) -> usize {
    let mut r = Renderer::new(io::BufWriter::new(io::sink()), output, ThinkingTo::Hidden);
    for t in tokens {
        r.content(black_box(t)).expect("sink");
    }
    r.finish().expect("sink");
    tokens.len()
}

#[path = "../tests/support/fake_ollama/markdown_answer.rs"]
mod markdown_answer;
/// A markdown answer in tokens, as the e2e benchmark's fake sends it.
use markdown_answer::MARKDOWN_TOKENS as MARKDOWN;

fn markdown_view() -> MarkdownView {
    MarkdownView {
        theme: Theme::Ansi,
        hyperlinks: false,
        width: 100,
        height: Some(50),
    }
}

fn render_md(tokens: &[String], view: Option<MarkdownView>, color: bool) -> usize {
    let mut r = Renderer::new(
        io::BufWriter::new(io::sink()),
        Output::Terminal { color },
        ThinkingTo::Hidden,
    )
    .with_wrap(Some(100))
    .with_markdown(view);
    for t in tokens {
        r.content(black_box(t)).expect("sink");
    }
    r.finish().expect("sink");
    tokens.len()
}

fn outcome(content: String) -> TurnOutcome {
    TurnOutcome {
        started_at: chrono::Utc::now(),
        content,
        thinking: String::new(),
        tool_calls: Vec::new(),
        stats: Some(FinalStats {
            done_reason: Some("stop".into()),
            prompt_eval_count: Some(54),
            eval_count: Some(150),
            eval_duration: 1_500_000_000,
            ..FinalStats::default()
        }),
        ttft: Some(Duration::from_millis(80)),
        elapsed: Duration::from_millis(1600),
        ending: Ending::Done,
    }
}

fn encode_record(outcome: &TurnOutcome) -> usize {
    let session = uuid::Uuid::nil();
    let options = Options::default();
    let ctx = TurnContext {
        session_id: &session,
        turn: 7,
        model: "tiny",
        host: "http://127.0.0.1:11434",
        options: &options,
        user_input: "Tell me a story about a fox. 講個故事。",
        images: &[],
        context: &ContextLog {
            tokens: Some(54),
            window: Some(4096),
            window_source: Some("model_parameter"),
            ..ContextLog::default()
        },
    };
    TurnRecord::new(&ctx, outcome)
        .to_line()
        .expect("serialisable")
        .len()
}
