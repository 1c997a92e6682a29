//! The REPL's own work per turn with a long history, measured in-process over the library's API,
//! step for step what `Chat::send` does around the network on the Ollama path:
//!
//! 1. add the input to the history;
//! 2. budget the history against the context window (`chat::context::budget_items`, `fit`) and,
//!    when it no longer fits, leave the oldest exchanges out as the truncate strategy does (a
//!    session `context` record, synced);
//! 3. append the question to the session file;
//! 4. build the request from the chat's settings and encode its body (as `Client::chat` does, with
//!    the encoder kept from turn to turn);
//! 5. append the reply to the session file and sync it to disk (once per turn);
//! 6. add the reply to the history and record the sizes Ollama counted;
//! 7. append the turn's record to the log.
//!
//! What the network and the model take is not in it, nor the one-time work of the first turn
//! (learning the window from `/api/show` and `/api/ps`). The files go where the caller says, which
//! should be the same disk as a real home folder: syncing is part of the cost.

use std::path::Path;
use std::time::{Duration, Instant};

use chrono::Utc;
use ollama_chat::chat::context::budget_items;
use ollama_chat::chat::ChatSettings;
use ollama_chat::context::{fit, reply_reserve, ContextAction, Estimator, Fit, Strategy};
use ollama_chat::conversation::Conversation;
use ollama_chat::conversation::{ChatRequest, FinalStats, Role};
use ollama_chat::log::{ContextLog, TurnContext, TurnLog, TurnRecord};
use ollama_chat::ollama::body::BodyEncoder;
use ollama_chat::options::Options;
use ollama_chat::session::{state, Change, Event, Header, Reply, SessionWriter};
use ollama_chat::turn::{Ending, TurnOutcome};
use uuid::Uuid;

const MODEL: &str = "tiny";
const HOST: &str = "http://127.0.0.1:11434";
const SYSTEM: &str = "You are a patient teacher. 你是一位老師。";

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

/// How big the context window is.
#[derive(Debug, Clone, Copy)]
pub enum Window {
    /// Large enough for the whole history: every message is budgeted and sent.
    Whole,
    /// This many tokens, which the history overflows: each turn leaves the oldest exchange out.
    Sliding(u64),
}

/// One run's state, as a `Chat` holds it.
struct Turns {
    conversation: Conversation,
    settings: ChatSettings,
    estimator: Estimator,
    window: u64,
    encoder: BodyEncoder,
    session: SessionWriter,
    log: TurnLog,
    session_id: Uuid,
    model: String,
    turn: u32,
    /// Bytes of request bodies encoded, so the work cannot be optimised away.
    sent: usize,
}

/// Median of `samples` turns on top of a `history`-turn conversation, the session and log files
/// in `dir`.
pub fn per_turn(history: usize, window: Window, samples: usize, dir: &Path) -> Duration {
    let mut t = Turns::new(history, window, dir);
    let mut times = Vec::with_capacity(samples);
    for i in 0..samples + 5 {
        let input = question(history + i);
        let answer = reply(history + i);
        let start = Instant::now();
        t.turn(&input, answer);
        if i >= 5 {
            times.push(start.elapsed());
        }
    }
    std::hint::black_box(t.sent);
    super::median(&mut times)
}

impl Turns {
    /// A chat `history` turns long whose messages Ollama has counted (as after every reply), its
    /// session file started.
    fn new(history: usize, window: Window, dir: &Path) -> Turns {
        let estimator = Estimator::default();
        let mut conversation = Conversation::new(Some(SYSTEM.into()));
        for i in 0..history {
            conversation.push_user(question(i));
            conversation.push_assistant(reply(i));
        }
        let counts: Vec<u64> = conversation
            .messages()
            .iter()
            .map(|m| estimator.message_tokens(&m.content))
            .collect();
        for (i, n) in counts.iter().enumerate() {
            conversation.set_tokens(i, *n);
        }
        let window = match window {
            Window::Whole => 2 * counts.iter().sum::<u64>(),
            Window::Sliding(n) => n,
        };
        let mut options = Options::default();
        options
            .set("num_ctx", &window.to_string())
            .expect("a valid num_ctx");
        let settings = ChatSettings {
            options,
            ..ChatSettings::default()
        };
        let header = Header::new(MODEL, HOST, Some(SYSTEM), &settings.options);
        let mut session = SessionWriter::create_in(&dir.join("sessions"), header);
        session
            .append(&Event::now(Change::Name {
                name: "bench".into(),
            }))
            .expect("writable session");
        Turns {
            conversation,
            settings,
            estimator,
            window,
            encoder: BodyEncoder::new(),
            session,
            log: TurnLog::new(dir.join("turns.jsonl")),
            session_id: Uuid::new_v4(),
            model: MODEL.into(),
            turn: u32::try_from(history).unwrap_or(u32::MAX),
            sent: 0,
        }
    }

    fn turn(&mut self, input: &str, answer: String) {
        self.conversation.push_user(input);
        let context = self.budget();
        self.session
            .append(&Event::now(Change::User {
                content: input.to_string(),
                images: Vec::new(),
            }))
            .expect("writable session");
        let request = ChatRequest {
            model: &self.model,
            messages: self.conversation.messages(),
            stream: true,
            options: &self.settings.options,
            format: self.settings.format.as_ref(),
            think: self.settings.think.as_ref(),
            keep_alive: self.settings.keep_alive.as_ref(),
            tools: &[],
            strict_window: true,
        };
        let sent_messages = request.messages.len();
        let body = self.encoder.encode(&request).expect("serialisable request");
        self.sent += body.len();

        // The reply, as the turn hands it back.
        let prompt_tokens: u64 = self.conversation.meta().iter().flat_map(|m| m.tokens).sum();
        let outcome = outcome(answer, prompt_tokens + 30);
        self.turn += 1;
        let event = Event {
            at: outcome.started_at,
            change: Change::Assistant(Reply::from_outcome(&outcome)),
        };
        self.session.append(&event).expect("writable session");
        self.session.sync().expect("syncable session");
        self.conversation.push_assistant(outcome.content.clone());
        // What the checks after the reply learn: the question's size from `prompt_eval_count`,
        // the reply's from `eval_count`.
        let question = self.estimator.message_tokens(input);
        self.conversation.set_tokens(sent_messages - 1, question);
        self.conversation.set_tokens(sent_messages, 150);

        let ctx = TurnContext {
            session_id: &self.session_id,
            turn: self.turn,
            model: &self.model,
            host: HOST,
            options: &self.settings.options,
            user_input: input,
            images: &[],
            context: &context,
        };
        self.log
            .append(&TurnRecord::new(&ctx, &outcome))
            .expect("writable log");
    }

    /// Budgets the history (the input is its last message) and applies the truncate strategy.
    fn budget(&mut self) -> ContextLog {
        let reserve = reply_reserve(None, self.window);
        let items = budget_items(&self.conversation, &self.estimator);
        let mut log = ContextLog {
            window: Some(self.window),
            window_source: Some("num_ctx"),
            ..ContextLog::default()
        };
        match fit(&items, self.window.saturating_sub(reserve)) {
            Fit::Fits { tokens } => log.tokens = Some(tokens),
            Fit::Drop {
                drop,
                before,
                after,
            } => {
                let messages = self.conversation.messages();
                let exchanges = messages[drop.clone()]
                    .iter()
                    .filter(|m| m.role == Role::User)
                    .count();
                let archived = self.conversation.archived().len();
                let change = Change::Context {
                    dropped: drop.clone().collect(),
                    summary: None,
                };
                let mut model = self.model.clone();
                state::apply(
                    state::Core {
                        model: &mut model,
                        options: &mut self.settings.options,
                        conversation: &mut self.conversation,
                    },
                    &change,
                )
                .expect("a range from the budget");
                self.session
                    .append(&Event::now(change))
                    .expect("writable session");
                self.session.sync().expect("syncable session");
                log.tokens = Some(after);
                log.action = Some(ContextAction {
                    strategy: Strategy::Truncate,
                    messages: drop.len(),
                    exchanges,
                    tokens: before - after,
                    tokens_after: after,
                    summary: None,
                    archived: archived..self.conversation.archived().len(),
                });
            }
            Fit::TooLarge { .. } => panic!("a question alone does not fill the window"),
        }
        log
    }
}

fn outcome(content: String, prompt_tokens: u64) -> TurnOutcome {
    TurnOutcome {
        started_at: Utc::now(),
        content,
        thinking: String::new(),
        tool_calls: Vec::new(),
        stats: Some(FinalStats {
            done_reason: Some("stop".into()),
            prompt_eval_count: Some(prompt_tokens),
            eval_count: Some(150),
            eval_duration: 1_500_000_000,
            ..FinalStats::default()
        }),
        ttft: Some(Duration::from_millis(80)),
        elapsed: Duration::from_millis(1600),
        ending: Ending::Done,
    }
}
