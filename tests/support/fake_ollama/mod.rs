//! A fake Ollama v0.32 HTTP server for integration tests and benchmarks: std-only (one thread per
//! connection), shaped byte for byte like the recordings in the Ollama v0.32 transcripts the
//! project was built against.
//!
//! Layout: this file is the public API (start, script, inspect) and the shared state; `http`
//! accepts connections, parses requests and writes responses; `routes` maps paths to handlers and
//! serves the simple endpoints and model facts; the chat routes are `chat` (`/api/chat`),
//! `openai` (`/v1/chat/completions`, `/v1/models`) and `anthropic` (`/v1/messages`), each an
//! encoder of its API's frames for the one reply engine in `reply` (tokens, thinking, delays,
//! faults); `context` is the window and prompt count, `fast` the benchmarks' fast-stream mode,
//! `hostile` the attacker's answers (escapes, echoed keys, endless lines and bodies, keep-alives,
//! absurd numbers), `manage` pull/create/copy/delete/blobs, and `json` Go-style JSON and times.

use std::collections::{HashMap, VecDeque};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant, SystemTime};

use serde_json::Value;

mod anthropic;
mod chat;
mod context;
mod embed;
mod fast;
mod hostile;
mod http;
mod json;
mod manage;
mod openai;
mod reply;
mod routes;

pub use fast::{fast_stream_text, FastStream};
pub use hostile::{Failure, Hostile};
pub use manage::{PullReply, PullScript};

use context::request_window;
use http::{accept_loop, find_header, Request};
use json::{first_json_value, rfc3339_nano};
use manage::ManageState;
use routes::{keep_alive, normalize_model_name, DEFAULT_NUM_CTX, FOREVER};

// ============================================================================================
// Public API
// ============================================================================================

/// A running fake Ollama server on `127.0.0.1:<random port>`; stops (best effort) when dropped.
pub struct FakeOllama {
    pub(crate) shared: Arc<Shared>,
    pub(crate) addr: SocketAddr,
    pub(crate) acceptor: Option<JoinHandle<()>>,
}

impl FakeOllama {
    /// Binds 127.0.0.1:0, serves each connection on its own thread; stops when dropped (best effort).
    pub fn start() -> FakeOllama {
        let listener =
            TcpListener::bind("127.0.0.1:0").expect("fake ollama: cannot bind 127.0.0.1:0");
        let addr = listener
            .local_addr()
            .expect("fake ollama: no local address");
        let shared = Arc::new(Shared::new());
        let acceptor = {
            let shared = Arc::clone(&shared);
            thread::Builder::new()
                .name("fake-ollama-accept".into())
                .spawn(move || accept_loop(listener, shared))
                .expect("fake ollama: cannot spawn the accept thread")
        };
        FakeOllama {
            shared,
            addr,
            acceptor: Some(acceptor),
        }
    }

    /// `"127.0.0.1:PORT" (what a user would put in `OLLAMA_HOST`).
    pub fn host_port(&self) -> String {
        self.addr.to_string()
    }

    /// Installed models for /api/tags, /api/show, /api/ps and the 404 check. Default: `["tiny:latest"]`.
    /// A name without a tag means ":latest". A name containing "think" gets the "thinking" capability
    /// (and one containing "embed" is an embedding-only model that refuses chat, as `tiny-embed` did).
    pub fn set_models(&self, names: &[&str]) {
        self.shared.lock().models = model_entries(names);
    }
}

// The scripting and inspection API, for tests.
impl FakeOllama {
    /// `"http://127.0.0.1:PORT"`
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Queue a scripted reply for the next POST /api/chat (FIFO). When the queue is empty the default
    /// (echo) reply is used. Load-only requests (no or empty `messages`) never take a queued reply.
    pub fn push_chat(&self, reply: ChatReply) {
        self.shared.lock().queue.push_back(reply);
    }

    /// Makes the `/v1` endpoints demand the key, as OpenAI, Anthropic and a gateway do: the OpenAI
    /// ones `Authorization: Bearer <key>` (401 in OpenAI's shape otherwise), `/v1/messages`
    /// `x-api-key: <key>` (401 `authentication_error`), and `GET /v1/models` either, answering a
    /// request with an `x-api-key` or `anthropic-version` header in Anthropic's shape. `None` (the
    /// default) accepts any request.
    pub fn require_api_key(&self, key: Option<&str>) {
        self.shared.lock().api_key = key.map(str::to_string);
    }

    /// Makes `/api/chat` demand `Authorization: Bearer <key>` (401 `unauthorized` otherwise), as
    /// a hosted Ollama does (`OLLAMA_API_KEY`). `None` (the default) accepts any request.
    pub fn require_ollama_key(&self, key: Option<&str>) {
        self.shared.lock().ollama_key = key.map(str::to_string);
    }

    /// Every request received, in order.
    pub fn requests(&self) -> Vec<Recorded> {
        self.shared.lock().requests.clone()
    }

    /// Bodies (parsed JSON) of every POST /api/chat, /v1/chat/completions and /v1/messages received,
    /// in order (`Value::Null` for a body that is not JSON, so the list lines up with the requests).
    /// A request to `/api/chat` with no messages loads (or unloads) the model and is no chat: it
    /// is not here but in [`FakeOllama::loads`].
    pub fn chat_bodies(&self) -> Vec<Value> {
        self.shared.lock().chat_bodies.clone()
    }

    /// Bodies of the `/api/chat` requests with no messages (loading or unloading the model), in
    /// order.
    pub fn loads(&self) -> Vec<Value> {
        self.requests()
            .iter()
            .filter(|r| r.method == "POST" && r.path == "/api/chat")
            .filter_map(|r| first_json_value(&r.body).and_then(Result::ok))
            .filter(is_load)
            .collect()
    }

    /// Every request as `METHOD /path`, in the order received: what a run asked, and when.
    pub fn journal(&self) -> Vec<String> {
        self.requests()
            .iter()
            .map(|r| {
                let load = r.path == "/api/chat"
                    && first_json_value(&r.body)
                        .and_then(Result::ok)
                        .is_some_and(|b| is_load(&b));
                let what = if load { " (load)" } else { "" };
                format!("{} {}{what}", r.method, r.path)
            })
            .collect()
    }

    /// How many chat responses ended because the client closed the connection early
    /// (a write failed or the peer hung up before the stream finished). Poll-friendly.
    pub fn client_disconnects(&self) -> usize {
        self.shared.disconnects.load(Ordering::SeqCst)
    }

    /// Block until `n` chat requests have been received or the timeout passes; returns whether it happened.
    pub fn wait_for_chats(&self, n: usize, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        let mut state = self.shared.lock();
        loop {
            if state.chat_bodies.len() >= n {
                return true;
            }
            let now = Instant::now();
            if now >= deadline {
                return false;
            }
            state = match self.shared.changed.wait_timeout(state, deadline - now) {
                Ok((guard, _)) => guard,
                Err(poisoned) => poisoned.into_inner().0,
            };
        }
    }
}

impl Drop for FakeOllama {
    fn drop(&mut self) {
        // Flag first (under the lock, so the acceptor cannot register a connection we miss), then
        // unblock every connection thread and the acceptor.
        let conns: Vec<TcpStream> = {
            let mut state = self.shared.lock();
            self.shared.stopping.store(true, Ordering::SeqCst);
            state.conns.drain().map(|(_, c)| c).collect()
        };
        for conn in conns {
            let _ = conn.shutdown(Shutdown::Both);
        }
        let _ = TcpStream::connect_timeout(&self.addr, Duration::from_secs(1));
        if let Some(acceptor) = self.acceptor.take() {
            let _ = acceptor.join();
        }
    }
}

/// One request as received (method, request target, headers in arrival order, de-chunked body).
#[derive(Clone, Debug)]
pub struct Recorded {
    pub method: String,
    pub path: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Recorded {
    /// The first header with this name (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        find_header(&self.headers, name)
    }
}

/// A scripted answer to one POST /api/chat.
#[derive(Clone, Debug)]
pub enum ChatReply {
    /// Stream these content tokens (one NDJSON line each), then the final chunk.
    Tokens(Vec<String>),
    /// Stream thinking tokens (content "" and "thinking":tok), then content tokens, then the final chunk.
    Thinking {
        thinking: Vec<String>,
        content: Vec<String>,
    },
    /// Full control.
    Script(Script),
    /// Answer with this status and `{"error":msg}` body before any stream (e.g. 404, 400, 500);
    /// on `/v1` the body is `{"error":{"message":msg,"type":…,"param":null,"code":null}}`.
    HttpError { status: u16, message: String },
    /// The same, with extra response headers (e.g. `Retry-After` on a 429).
    HttpErrorHeaders {
        status: u16,
        message: String,
        headers: Vec<(String, String)>,
    },
    /// Send these exact bytes as the whole HTTP response (status line, headers and body), e.g. a
    /// recorded raw/*.resp.headers + body; the fake only writes them and closes.
    Raw(Vec<u8>),
}

/// A fully controlled chat reply. With `"stream":false` in the request the same script is answered
/// as one JSON object after sleeping `first_delay + delay * chunks` (an `End::Error` becomes a 500).
#[derive(Clone, Debug, Default)]
pub struct Script {
    pub tokens: Vec<String>,
    pub thinking: Vec<String>,
    /// Sleep before the first chunk (server-side "time to first token"); like Go, the response
    /// headers go out together with the first chunk.
    pub first_delay: Duration,
    /// Sleep between chunks (also before the final chunk or error line).
    pub delay: Duration,
    /// What happens after the tokens.
    pub end: End,
    /// If set, the response BODY bytes are written in pieces of this many bytes (each its own HTTP
    /// chunk, flushed separately, with a short 2 ms pause between pieces) instead of one line per chunk,
    /// so lines and multi-byte UTF-8 characters are split across network reads.
    pub split_every: Option<usize>,
    /// Override counts in the final chunk (default: prompt_eval_count computed from the request
    /// messages, eval_count = thinking.len() + tokens.len()). A zero count is omitted, as Go does.
    pub prompt_eval_count: Option<u64>,
    pub eval_count: Option<u64>,
    pub done_reason: Option<String>,
    /// `POST /v1/messages` only: an `event: ping` right after `message_start`, as Anthropic's own
    /// servers send (Ollama sends none); the other APIs have no such frame.
    pub ping: bool,
    /// Function calls (name, arguments object) sent after the tokens, in each API's shape:
    /// Ollama's whole `message.tool_calls`, OpenAI's `tool_calls` deltas and Anthropic's
    /// `tool_use` blocks with their arguments in several fragments.
    pub tool_calls: Vec<(String, Value)>,
}

impl ChatReply {
    /// A reply that only calls these functions.
    pub fn calls(calls: &[(&str, Value)]) -> ChatReply {
        ChatReply::Script(Script {
            tool_calls: calls
                .iter()
                .map(|(n, a)| (n.to_string(), a.clone()))
                .collect(),
            ..Script::default()
        })
    }
}

/// How a scripted stream ends.
#[derive(Clone, Debug, Default)]
pub enum End {
    /// The normal final chunk (`done:true`, `done_reason`, durations and counts), then the
    /// terminating 0-chunk.
    #[default]
    Final,
    /// An NDJSON line `{"error":"<msg>"}` inside the 200 stream, then the terminating 0-chunk.
    Error(String),
    /// Close the socket without a final chunk and without the terminating 0-chunk
    /// (the 200 headers are sent first even when there are no tokens).
    Drop,
    /// Stop sending anything for this long (keep the socket open), then close it abruptly
    /// (the 200 headers are sent first even when there are no tokens).
    Stall(Duration),
}

// ============================================================================================
// Shared state
// ============================================================================================

pub(crate) struct Shared {
    pub(crate) state: Mutex<State>,
    /// Signalled whenever a request is recorded (for `wait_for_chats`).
    pub(crate) changed: Condvar,
    pub(crate) stopping: AtomicBool,
    pub(crate) disconnects: AtomicUsize,
}

pub(crate) struct State {
    pub(crate) models: Vec<ModelEntry>,
    pub(crate) queue: VecDeque<ChatReply>,
    pub(crate) requests: Vec<Recorded>,
    pub(crate) chat_bodies: Vec<Value>,
    /// The key the `/v1` endpoints demand, if any.
    pub(crate) api_key: Option<String>,
    /// The key `/api/chat` demands, as a hosted Ollama does, if any.
    pub(crate) ollama_key: Option<String>,
    /// Models "in memory" for /api/ps.
    pub(crate) loaded: Vec<Loaded>,
    /// Clones of the open sockets, so that dropping the server can unblock their threads.
    pub(crate) conns: HashMap<u64, TcpStream>,
    pub(crate) next_conn: u64,
    /// The window without `num_ctx` (see `context.rs`).
    pub(crate) default_num_ctx: u64,
    pub(crate) num_ctx_cap: Option<u64>,
    pub(crate) truncations: usize,
    /// Pull scripts and blobs (see `manage`).
    pub(crate) manage: ManageState,
    /// Fast-stream mode for benchmarks (see `fast.rs`).
    pub(crate) fast: Option<FastStream>,
    /// Hostile mode (see `hostile.rs`), and how many chats it answered with absurd numbers.
    pub(crate) hostile: Option<Hostile>,
    pub(crate) hostile_chats: u64,
    /// How long loading a model that is not in memory takes (see `context.rs`), and when each
    /// model being loaded will be ready.
    pub(crate) load_delay: Duration,
    pub(crate) loading: HashMap<String, Instant>,
}

pub(crate) struct ModelEntry {
    /// Normalised name, always with a tag ("tiny:latest").
    pub(crate) name: String,
    pub(crate) modified_at: String,
}

pub(crate) struct Loaded {
    pub(crate) name: String,
    pub(crate) context_length: u64,
    pub(crate) expires_at: SystemTime,
}

impl Shared {
    pub(crate) fn new() -> Shared {
        Shared {
            state: Mutex::new(State {
                models: model_entries(&["tiny:latest"]),
                queue: VecDeque::new(),
                requests: Vec::new(),
                chat_bodies: Vec::new(),
                api_key: None,
                ollama_key: None,
                loaded: Vec::new(),
                conns: HashMap::new(),
                next_conn: 0,
                default_num_ctx: DEFAULT_NUM_CTX,
                num_ctx_cap: None,
                truncations: 0,
                manage: ManageState::default(),
                fast: None,
                hostile: None,
                hostile_chats: 0,
                load_delay: Duration::ZERO,
                loading: HashMap::new(),
            }),
            changed: Condvar::new(),
            stopping: AtomicBool::new(false),
            disconnects: AtomicUsize::new(0),
        }
    }

    /// The state, even if a thread panicked while holding it.
    pub(crate) fn lock(&self) -> MutexGuard<'_, State> {
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    pub(crate) fn stopping(&self) -> bool {
        self.stopping.load(Ordering::SeqCst)
    }

    pub(crate) fn record(&self, req: &Request) {
        let mut state = self.lock();
        state.requests.push(Recorded {
            method: req.method.clone(),
            path: req.target.clone(),
            headers: req.headers.clone(),
            body: req.body.clone(),
        });
        let chat = matches!(
            req.path(),
            "/api/chat" | "/v1/chat/completions" | "/v1/messages"
        );
        if req.method == "POST" && chat {
            let body = first_json_value(&req.body)
                .and_then(Result::ok)
                .unwrap_or(Value::Null);
            if !(req.path() == "/api/chat" && is_load(&body)) {
                state.chat_bodies.push(body);
            }
        }
        drop(state);
        self.changed.notify_all();
    }

    /// Puts `model` at the front of /api/ps (if installed) with the request's `num_ctx` and `keep_alive`.
    pub(crate) fn mark_loaded(&self, model: &str, body: &Value) {
        let context_length = request_window(self, body);
        let mut state = self.lock();
        let Some(name) = state.find_model(model).map(|m| m.name.clone()) else {
            return;
        };
        let expires_at = SystemTime::now() + keep_alive(body).unwrap_or(FOREVER);
        state.loaded.retain(|l| l.name != name);
        state.loaded.insert(
            0,
            Loaded {
                name,
                context_length,
                expires_at,
            },
        );
    }

    pub(crate) fn unload(&self, model: &str) {
        let mut state = self.lock();
        if let Some(name) = state.find_model(model).map(|m| m.name.clone()) {
            state.loaded.retain(|l| l.name != name);
        }
    }
}

impl State {
    pub(crate) fn find_model(&self, requested: &str) -> Option<&ModelEntry> {
        let wanted = normalize_model_name(requested);
        self.models
            .iter()
            .find(|m| m.name.eq_ignore_ascii_case(&wanted))
    }
}

/// A chat request with no messages: Ollama loads (or with `keep_alive: 0` unloads) the model.
fn is_load(body: &Value) -> bool {
    body.is_object()
        && body
            .get("messages")
            .and_then(Value::as_array)
            .is_none_or(Vec::is_empty)
}

pub(crate) fn model_entries(names: &[&str]) -> Vec<ModelEntry> {
    // Listed first = modified most recently, like the server's own order in 02_tags.txt.
    let base = SystemTime::now() - Duration::from_secs(3600);
    names
        .iter()
        .enumerate()
        .map(|(i, name)| ModelEntry {
            name: normalize_model_name(name),
            modified_at: rfc3339_nano(base - Duration::from_micros(14_502_687 * i as u64 + 1)),
        })
        .collect()
}
