//! The REPL's own work per turn with a long history, measured in-process over the library's API:
//! add the input to the history, build and encode the request body (as `Client::chat` does),
//! record the turn in the log file, add the reply to the history. What the network and the model
//! take is not in it.

use std::time::{Duration, Instant};

use chrono::Utc;
use ollama_chat::conversation::Conversation;
use ollama_chat::log::{TurnContext, TurnLog, TurnRecord};
use ollama_chat::ollama::body::BodyEncoder;
use ollama_chat::ollama::wire::{ChatRequest, FinalStats};
use ollama_chat::options::Options;
use ollama_chat::turn::{Ending, TurnOutcome};
use uuid::Uuid;

/// A reply of about 150 tokens, English and Chinese, with the characters JSON has to escape.
fn reply(i: usize) -> String {
    let mut s = format!("Answer {i}: ");
    for _ in 0..12 {
        s.push_str("The borrow checker keeps \"references\" valid; 借用檢查器確保引用有效。\n");
    }
    s
}

fn question(i: usize) -> String {
    format!("Question {i}: how does the borrow checker treat 引用 captured by a closure?")
}

/// Median of `samples` turns on top of a `history`-turn conversation, logging into `log_dir`.
pub fn per_turn(history: usize, samples: usize, log_dir: &std::path::Path) -> Duration {
    let mut conversation =
        Conversation::new(Some("You are a patient teacher. 你是一位老師。".into()));
    for i in 0..history {
        conversation.push_user(question(i));
        conversation.push_assistant(reply(i));
    }
    let options = Options::default();
    let session = Uuid::new_v4();
    let mut log = TurnLog::new(log_dir.join("turns.jsonl"));
    // What `Client::chat` encodes the body with, kept from turn to turn as the client keeps it.
    let mut encoder = BodyEncoder::new();
    let mut times = Vec::with_capacity(samples);
    let mut sent = 0usize;
    for i in 0..samples + 5 {
        let input = question(history + i);
        let answer = reply(history + i);
        let start = Instant::now();

        conversation.push_user(input.as_str());
        let request = ChatRequest {
            model: "tiny",
            messages: conversation.messages(),
            stream: true,
            options: &options,
            format: None,
            think: None,
            keep_alive: None,
        };
        let body = encoder.encode(&request).expect("serialisable request");
        sent += body.len();
        let outcome = TurnOutcome {
            started_at: Utc::now(),
            content: answer,
            thinking: String::new(),
            stats: Some(FinalStats {
                done_reason: Some("stop".into()),
                prompt_eval_count: Some(4000),
                eval_count: Some(150),
                eval_duration: 1_500_000_000,
                ..FinalStats::default()
            }),
            ttft: Some(Duration::from_millis(80)),
            elapsed: Duration::from_millis(1600),
            ending: Ending::Done,
        };
        let ctx = TurnContext {
            session_id: &session,
            turn: u32::try_from(history + i).unwrap_or(u32::MAX),
            model: "tiny",
            host: "http://127.0.0.1:11434",
            options: &options,
            user_input: &input,
        };
        log.append(&TurnRecord::new(&ctx, &outcome))
            .expect("writable log");
        conversation.push_assistant(outcome.content);

        if i >= 5 {
            times.push(start.elapsed());
        }
    }
    std::hint::black_box(sent);
    super::median(&mut times)
}
