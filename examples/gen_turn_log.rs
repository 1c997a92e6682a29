//! Writes a synthetic turn log for benchmarks: `cargo run --release --example gen_turn_log -- N OUT`.
//!
//! Deterministic (a fixed-seed generator): N turns over 60 days, sessions of 1–30 turns, six models,
//! about 2% errors and 1% cancelled turns, questions and answers mixing English and Chinese with
//! escaped newlines, and the context fields, as the real writer produces them. About one record in
//! a hundred is a `summarize` call (with its turn's `context_action` carrying the summary).

use std::io::{BufWriter, Write};

/// A small deterministic generator (SplitMix64), so every run writes the same log.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }
}

const MODELS: [&str; 6] = [
    "llama3.2:latest",
    "qwen3:8b",
    "qwen3:32b",
    "gemma3:4b",
    "mistral:7b",
    "deepseek-r1:14b",
];
const WORDS: [&str; 16] = [
    "the",
    "model",
    "context",
    "window",
    "token",
    "stream",
    "巴黎",
    "首都",
    "為什麼",
    "天空",
    "是藍色的",
    "請解釋",
    "example",
    "latency",
    "memory",
    "Rust",
];

fn text(rng: &mut Rng, min: u64, max: u64) -> String {
    let n = min + rng.below(max - min + 1);
    let mut s = String::new();
    while (s.chars().count() as u64) < n {
        if !s.is_empty() {
            s.push(if rng.below(12) == 0 { '\n' } else { ' ' });
        }
        s.push_str(WORDS[rng.below(WORDS.len() as u64) as usize]);
    }
    s
}

fn main() -> std::io::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    if args.len() != 3 {
        eprintln!("usage: gen_turn_log TURNS OUT.jsonl");
        std::process::exit(2);
    }
    let turns: u64 = args[1].parse().expect("TURNS is a number");
    let mut out = BufWriter::with_capacity(1 << 20, std::fs::File::create(&args[2])?);
    let mut rng = Rng(42);
    let start_ms: i64 = 1_790_726_400_000; // 2026-09-30T00:00:00Z
    let span_ms = 60 * 86_400_000i64;
    let (mut session, mut left, mut turn, mut model) = (String::new(), 0, 0, MODELS[0]);
    for i in 0..turns {
        if left == 0 {
            session = format!(
                "{:08x}-{:04x}-4{:03x}-a{:03x}-{:012x}",
                rng.next() as u32,
                rng.below(0x10000),
                rng.below(0x1000),
                rng.below(0x1000),
                rng.below(1 << 48)
            );
            left = 1 + rng.below(30);
            turn = 0;
            model = MODELS[rng.below(MODELS.len() as u64) as usize];
        }
        left -= 1;
        turn += 1;
        let at = start_ms + (i as i64 * span_ms) / turns.max(1) as i64;
        let ts = chrono::DateTime::from_timestamp_millis(at)
            .expect("in range")
            .to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
        let roll = rng.below(100);
        let status = match roll {
            0..=1 => "error",
            2 => "cancelled",
            _ => "ok",
        };
        let ttft = 0.02 + rng.unit() * rng.unit() * 2.0;
        let completion = 5 + rng.below(600);
        let tps = 20.0 + rng.unit() * 80.0;
        let rt = ttft + completion as f64 / tps;
        let prompt = 20 + rng.below(4000);
        let question = text(&mut rng, 10, 80);
        let answer = text(&mut rng, 50, 600);
        let window = 4096;
        let summarize = turn > 1 && rng.below(100) == 0;
        let (call, action) = if summarize {
            ("summarize", "null".to_string())
        } else if rng.below(100) == 0 {
            (
                "chat",
                format!(
                    r#"{{"strategy":"summarize","messages":4,"exchanges":2,"tokens":1800,"tokens_after":900,"summary":{}}}"#,
                    serde_json::to_string(&text(&mut rng, 40, 120)).expect("a string")
                ),
            )
        } else {
            ("chat", "null".to_string())
        };
        let context = format!(
            r#""call":"{call}","context_tokens":{},"context_window":{window},"context_window_source":"loaded","context_action":{action}"#,
            prompt.min(window)
        );
        let (answer, stats, error) = match status {
            "ok" => (
                answer.as_str(),
                format!(
                    r#""prompt_tokens":{prompt},"completion_tokens":{completion},"tokens_used":{},"tokens_per_second":{tps:.3},"done_reason":"stop""#,
                    prompt + completion
                ),
                "null".to_string(),
            ),
            "error" => (
                "",
                r#""prompt_tokens":null,"completion_tokens":null,"tokens_used":null,"tokens_per_second":null,"done_reason":null"#.to_string(),
                r#""the connection to Ollama was lost before the reply finished""#.to_string(),
            ),
            _ => (
                &answer[..answer.char_indices().nth(20).map_or(answer.len(), |(i, _)| i)],
                r#""prompt_tokens":null,"completion_tokens":null,"tokens_used":null,"tokens_per_second":null,"done_reason":null"#.to_string(),
                r#""interrupted by the user""#.to_string(),
            ),
        };
        writeln!(
            out,
            r#"{{"log_version":2,"log_content":"full","timestamp":"{ts}","session_id":"{session}","turn":{turn},"model":"{model}","host":"http://127.0.0.1:11434","options":{{"temperature":0.7}},"user_input":{},"model_response":{},"response_time":{rt:.3},"ttft":{ttft:.3},{stats},"status":"{status}","error":{error},{context}}}"#,
            serde_json::to_string(&question).expect("a string"),
            serde_json::to_string(answer).expect("a string"),
        )?;
    }
    out.flush()
}
