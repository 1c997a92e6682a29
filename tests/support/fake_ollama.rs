//! A fake Ollama v0.32 HTTP server for integration tests and benchmarks: std-only (one thread per
//! connection), shaped byte for byte like the recordings in the Ollama v0.32 transcripts the project was built against.
//!
//! Layout: public API, shared state, connection handling, HTTP parsing, routing, endpoints
//! (`/`, `/api/version`, `/api/tags`, `/api/ps`, `/api/show`, `/api/chat`), the reply engine
//! (streamed and whole), response writing, and small helpers (Go-style JSON strings, model facts, time).
#![allow(dead_code)]

use std::collections::{HashMap, VecDeque};
use std::fmt::Write as _;
use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde_json::Value;

// ============================================================================================
// Public API
// ============================================================================================

/// A running fake Ollama server on `127.0.0.1:<random port>`; stops (best effort) when dropped.
pub struct FakeOllama {
    shared: Arc<Shared>,
    addr: SocketAddr,
    acceptor: Option<JoinHandle<()>>,
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

    /// `"http://127.0.0.1:PORT"`
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// `"127.0.0.1:PORT"` (what a user would put in `OLLAMA_HOST`).
    pub fn host_port(&self) -> String {
        self.addr.to_string()
    }

    /// Installed models for /api/tags, /api/show, /api/ps and the 404 check. Default: `["tiny:latest"]`.
    /// A name without a tag means ":latest". A name containing "think" gets the "thinking" capability
    /// (and one containing "embed" is an embedding-only model that refuses chat, as `tiny-embed` did).
    pub fn set_models(&self, names: &[&str]) {
        self.shared.lock().models = model_entries(names);
    }

    /// Queue a scripted reply for the next POST /api/chat (FIFO). When the queue is empty the default
    /// (echo) reply is used. Load-only requests (no or empty `messages`) never take a queued reply.
    pub fn push_chat(&self, reply: ChatReply) {
        self.shared.lock().queue.push_back(reply);
    }

    /// Every request received, in order.
    pub fn requests(&self) -> Vec<Recorded> {
        self.shared.lock().requests.clone()
    }

    /// Bodies (parsed JSON) of every POST /api/chat received, in order (`Value::Null` for a body that
    /// is not JSON, so the list lines up with the requests).
    pub fn chat_bodies(&self) -> Vec<Value> {
        self.shared.lock().chat_bodies.clone()
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
    /// Answer with this status and `{"error":msg}` body before any stream (e.g. 404, 400, 500).
    HttpError { status: u16, message: String },
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

struct Shared {
    state: Mutex<State>,
    /// Signalled whenever a request is recorded (for `wait_for_chats`).
    changed: Condvar,
    stopping: AtomicBool,
    disconnects: AtomicUsize,
}

struct State {
    models: Vec<ModelEntry>,
    queue: VecDeque<ChatReply>,
    requests: Vec<Recorded>,
    chat_bodies: Vec<Value>,
    /// Models "in memory" for /api/ps.
    loaded: Vec<Loaded>,
    /// Clones of the open sockets, so that dropping the server can unblock their threads.
    conns: HashMap<u64, TcpStream>,
    next_conn: u64,
}

struct ModelEntry {
    /// Normalised name, always with a tag ("tiny:latest").
    name: String,
    modified_at: String,
}

struct Loaded {
    name: String,
    context_length: u64,
    expires_at: SystemTime,
}

impl Shared {
    fn new() -> Shared {
        Shared {
            state: Mutex::new(State {
                models: model_entries(&["tiny:latest"]),
                queue: VecDeque::new(),
                requests: Vec::new(),
                chat_bodies: Vec::new(),
                loaded: Vec::new(),
                conns: HashMap::new(),
                next_conn: 0,
            }),
            changed: Condvar::new(),
            stopping: AtomicBool::new(false),
            disconnects: AtomicUsize::new(0),
        }
    }

    /// The state, even if a thread panicked while holding it.
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn stopping(&self) -> bool {
        self.stopping.load(Ordering::SeqCst)
    }

    fn record(&self, req: &Request) {
        let mut state = self.lock();
        state.requests.push(Recorded {
            method: req.method.clone(),
            path: req.target.clone(),
            headers: req.headers.clone(),
            body: req.body.clone(),
        });
        if req.method == "POST" && req.path() == "/api/chat" {
            let body = first_json_value(&req.body)
                .and_then(Result::ok)
                .unwrap_or(Value::Null);
            state.chat_bodies.push(body);
        }
        drop(state);
        self.changed.notify_all();
    }

    /// Puts `model` at the front of /api/ps (if installed) with the request's `num_ctx` and `keep_alive`.
    fn mark_loaded(&self, model: &str, body: &Value) {
        let mut state = self.lock();
        let Some(name) = state.find_model(model).map(|m| m.name.clone()) else {
            return;
        };
        let context_length = body
            .pointer("/options/num_ctx")
            .and_then(Value::as_u64)
            .unwrap_or(DEFAULT_NUM_CTX);
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

    fn unload(&self, model: &str) {
        let mut state = self.lock();
        if let Some(name) = state.find_model(model).map(|m| m.name.clone()) {
            state.loaded.retain(|l| l.name != name);
        }
    }
}

impl State {
    fn find_model(&self, requested: &str) -> Option<&ModelEntry> {
        let wanted = normalize_model_name(requested);
        self.models
            .iter()
            .find(|m| m.name.eq_ignore_ascii_case(&wanted))
    }
}

fn model_entries(names: &[&str]) -> Vec<ModelEntry> {
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

// ============================================================================================
// Connections
// ============================================================================================

fn accept_loop(listener: TcpListener, shared: Arc<Shared>) {
    for incoming in listener.incoming() {
        if shared.stopping() {
            break;
        }
        let stream = match incoming {
            Ok(stream) => stream,
            Err(_) => {
                thread::sleep(Duration::from_millis(5));
                continue;
            }
        };
        let id = {
            let mut state = shared.lock();
            if shared.stopping() {
                break;
            }
            let id = state.next_conn;
            state.next_conn += 1;
            if let Ok(clone) = stream.try_clone() {
                state.conns.insert(id, clone);
            }
            id
        };
        let worker = Arc::clone(&shared);
        let spawned = thread::Builder::new()
            .name(format!("fake-ollama-conn-{id}"))
            .spawn(move || {
                serve_connection(stream, &worker);
                worker.lock().conns.remove(&id);
            });
        if spawned.is_err() {
            shared.lock().conns.remove(&id);
        }
    }
}

/// Serves requests on one connection (keep-alive) until the peer closes, a response asks for the
/// connection to end, or the server stops.
fn serve_connection(stream: TcpStream, shared: &Shared) {
    let _ = stream.set_nodelay(true);
    let mut reader = BufReader::new(stream);
    while !shared.stopping() {
        let req = match read_request(&mut reader) {
            Ok(Some(req)) => req,
            Ok(None) | Err(_) => break,
        };
        shared.record(&req);
        let conn = Conn {
            stream: reader.get_ref(),
            shared,
            head_only: req.method == "HEAD",
            close: req.wants_close(),
        };
        if route(&req, &conn) == After::Close || conn.close {
            break;
        }
    }
    let _ = reader.get_ref().shutdown(Shutdown::Both);
}

/// Whether the connection may serve another request after a response.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum After {
    KeepAlive,
    Close,
}

/// Why a response could not be completed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Gone {
    /// The client hung up (write failed, or a peek saw end of stream / reset).
    Peer,
    /// The server is being dropped.
    Stopped,
}

// ============================================================================================
// HTTP request parsing
// ============================================================================================

const MAX_HEAD: usize = 64 * 1024;
const MAX_BODY: usize = 256 * 1024 * 1024;

struct Request {
    method: String,
    target: String,
    version: String,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Request {
    fn header(&self, name: &str) -> Option<&str> {
        find_header(&self.headers, name)
    }

    /// The request target without its query string.
    fn path(&self) -> &str {
        self.target.split('?').next().unwrap_or("")
    }

    fn wants_close(&self) -> bool {
        let connection = self.header("Connection").unwrap_or("").to_ascii_lowercase();
        if self.version == "HTTP/1.0" {
            !connection.contains("keep-alive")
        } else {
            connection.contains("close")
        }
    }
}

fn find_header<'a>(headers: &'a [(String, String)], name: &str) -> Option<&'a str> {
    headers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
}

fn bad_request(what: &str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, what.to_string())
}

/// Reads one request; `Ok(None)` when the peer closed cleanly before a new request.
fn read_request(reader: &mut BufReader<TcpStream>) -> io::Result<Option<Request>> {
    let mut line = Vec::new();
    // Request line (blank lines before it are tolerated, as RFC 9112 asks).
    loop {
        line.clear();
        if read_line(reader, &mut line, MAX_HEAD)? == 0 {
            return Ok(None);
        }
        if !trim_eol(&line).is_empty() {
            break;
        }
    }
    let request_line =
        std::str::from_utf8(trim_eol(&line)).map_err(|_| bad_request("request line"))?;
    let mut parts = request_line.split_whitespace();
    let (Some(method), Some(target), Some(version), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(bad_request("request line"));
    };
    if !version.starts_with("HTTP/1.") {
        return Err(bad_request("version"));
    }
    let mut req = Request {
        method: method.to_string(),
        target: target.to_string(),
        version: version.to_string(),
        headers: Vec::new(),
        body: Vec::new(),
    };

    let mut head_len = line.len();
    loop {
        line.clear();
        let n = read_line(reader, &mut line, MAX_HEAD.saturating_sub(head_len))?;
        if n == 0 {
            return Err(bad_request("headers cut short"));
        }
        head_len += n;
        let text = trim_eol(&line);
        if text.is_empty() {
            break;
        }
        let text = String::from_utf8_lossy(text);
        let (name, value) = text
            .split_once(':')
            .ok_or_else(|| bad_request("header line"))?;
        req.headers
            .push((name.trim().to_string(), value.trim().to_string()));
    }

    if req
        .header("Expect")
        .is_some_and(|v| v.eq_ignore_ascii_case("100-continue"))
    {
        let mut out = reader.get_ref();
        out.write_all(b"HTTP/1.1 100 Continue\r\n\r\n")?;
    }

    if req
        .header("Transfer-Encoding")
        .is_some_and(|v| v.to_ascii_lowercase().contains("chunked"))
    {
        req.body = read_chunked_body(reader)?;
    } else if let Some(len) = req.header("Content-Length") {
        let len: usize = len.parse().map_err(|_| bad_request("Content-Length"))?;
        if len > MAX_BODY {
            return Err(bad_request("body too large"));
        }
        let mut body = vec![0; len];
        reader.read_exact(&mut body)?;
        req.body = body;
    }
    Ok(Some(req))
}

/// Reads up to and including `\n`, at most `limit` bytes; a line that does not end in `\n` is an error
/// (too long or cut short), except for a clean end of stream (returns 0).
fn read_line(
    reader: &mut BufReader<TcpStream>,
    buf: &mut Vec<u8>,
    limit: usize,
) -> io::Result<usize> {
    if limit == 0 {
        return Err(bad_request("head too large"));
    }
    let n = reader.by_ref().take(limit as u64).read_until(b'\n', buf)?;
    if n > 0 && !buf.ends_with(b"\n") {
        return Err(bad_request("line too long or cut short"));
    }
    Ok(n)
}

fn trim_eol(line: &[u8]) -> &[u8] {
    let line = line.strip_suffix(b"\n").unwrap_or(line);
    line.strip_suffix(b"\r").unwrap_or(line)
}

fn read_chunked_body(reader: &mut BufReader<TcpStream>) -> io::Result<Vec<u8>> {
    let mut body = Vec::new();
    let mut line = Vec::new();
    loop {
        line.clear();
        if read_line(reader, &mut line, 1024)? == 0 {
            return Err(bad_request("chunked body cut short"));
        }
        let size_text = String::from_utf8_lossy(trim_eol(&line));
        let size_text = size_text.split(';').next().unwrap_or("").trim();
        let size = usize::from_str_radix(size_text, 16).map_err(|_| bad_request("chunk size"))?;
        if size == 0 {
            // Trailer section, up to the empty line.
            loop {
                line.clear();
                if read_line(reader, &mut line, MAX_HEAD)? == 0 || trim_eol(&line).is_empty() {
                    return Ok(body);
                }
            }
        }
        if body.len() + size > MAX_BODY {
            return Err(bad_request("body too large"));
        }
        let start = body.len();
        body.resize(start + size, 0);
        reader.read_exact(&mut body[start..])?;
        line.clear();
        read_line(reader, &mut line, 2)?;
    }
}

// ============================================================================================
// Routing
// ============================================================================================

const JSON: &str = "application/json; charset=utf-8";
const NDJSON: &str = "application/x-ndjson";
const TEXT_UTF8: &str = "text/plain; charset=utf-8";
/// What gin writes for its own 404/405 pages.
const TEXT_PLAIN: &str = "text/plain";

/// Paths the fake serves, with their methods in Ollama's registration order (for the `Allow` header).
const ROUTES: &[(&str, &[&str])] = &[
    ("/", &["HEAD", "GET"]),
    ("/api/version", &["HEAD", "GET"]),
    ("/api/tags", &["HEAD", "GET"]),
    ("/api/show", &["POST"]),
    ("/api/ps", &["GET"]),
    ("/api/chat", &["POST"]),
];

fn route(req: &Request, conn: &Conn) -> After {
    let path = req.path();
    let result = match ROUTES.iter().find(|(p, _)| *p == path) {
        None => conn.send(404, &[("Content-Type", TEXT_PLAIN)], b"404 page not found"),
        Some((_, methods)) if !methods.contains(&req.method.as_str()) => {
            let allow = methods.join(", ");
            conn.send(
                405,
                &[("Allow", allow.as_str()), ("Content-Type", TEXT_PLAIN)],
                b"405 method not allowed",
            )
        }
        Some(_) => match path {
            "/" => conn.send(200, &[("Content-Type", TEXT_UTF8)], b"Ollama is running"),
            "/api/version" => conn.send_json(200, r#"{"version":"0.32.15"}"#),
            "/api/tags" => handle_tags(conn),
            "/api/ps" => handle_ps(conn),
            "/api/show" => handle_show(req, conn),
            _ => {
                let result = handle_chat(req, conn);
                if result == Err(Gone::Peer) {
                    conn.shared.disconnects.fetch_add(1, Ordering::SeqCst);
                }
                result
            }
        },
    };
    result.unwrap_or(After::Close)
}

// ============================================================================================
// Endpoints other than chat
// ============================================================================================

fn handle_tags(conn: &Conn) -> Result<After, Gone> {
    let body = {
        let state = conn.shared.lock();
        let models: Vec<String> = state
            .models
            .iter()
            .map(|m| {
                format!(
                    r#"{{"name":{name},"model":{name},"modified_at":{modified},"size":{size},"digest":{digest},"details":{details},"capabilities":{caps}}}"#,
                    name = go_str(&m.name),
                    modified = go_str(&m.modified_at),
                    size = model_size(&m.name),
                    digest = go_str(&model_digest(&m.name)),
                    details = TAGS_DETAILS,
                    caps = json_str_array(capabilities(&m.name)),
                )
            })
            .collect();
        format!(r#"{{"models":[{}]}}"#, models.join(","))
    };
    conn.send_json(200, &body)
}

fn handle_ps(conn: &Conn) -> Result<After, Gone> {
    let body = {
        let mut state = conn.shared.lock();
        let now = SystemTime::now();
        state.loaded.retain(|l| l.expires_at > now);
        let mut loaded: Vec<&Loaded> = state
            .loaded
            .iter()
            .filter(|l| state.models.iter().any(|m| m.name == l.name))
            .collect();
        // The server lists the model that expires last first.
        loaded.sort_by_key(|l| std::cmp::Reverse(l.expires_at));
        let models: Vec<String> = loaded
            .iter()
            .map(|l| {
                format!(
                    r#"{{"name":{name},"model":{name},"size":{size},"digest":{digest},"details":{details},"expires_at":{expires},"size_vram":0,"context_length":{ctx}}}"#,
                    name = go_str(&l.name),
                    size = PS_SIZE,
                    digest = go_str(&model_digest(&l.name)),
                    details = BASE_DETAILS,
                    expires = go_str(&rfc3339_nano(l.expires_at)),
                    ctx = l.context_length,
                )
            })
            .collect();
        format!(r#"{{"models":[{}]}}"#, models.join(","))
    };
    conn.send_json(200, &body)
}

fn handle_show(req: &Request, conn: &Conn) -> Result<After, Gone> {
    let body = match decode_body(&req.body, "api.ShowRequest")
        .and_then(|v| check_field(&v, "ShowRequest.model", "string", Value::is_string).map(|_| v))
    {
        Ok(body) => body,
        Err(message) => return conn.send_error(400, &message),
    };
    let requested = [str_field(&body, "model"), str_field(&body, "name")]
        .into_iter()
        .find(|s| !s.is_empty())
        .unwrap_or("");
    if requested.is_empty() {
        return conn.send_error(400, "model is required");
    }
    let found = {
        let state = conn.shared.lock();
        state
            .find_model(requested)
            .map(|m| show_json(&m.name, &m.modified_at))
    };
    match found {
        Some(json) => conn.send_json(200, &json),
        None => conn.send_error(
            404,
            &format!("model '{}' not found", normalize_model_name(requested)),
        ),
    }
}

fn show_json(name: &str, modified_at: &str) -> String {
    let think = capabilities(name).contains(&"thinking");
    let (template, system, parameters, modelfile_params) = if think {
        (
            THINK_TEMPLATE,
            None,
            THINK_PARAMETERS,
            THINK_MODELFILE_PARAMETERS,
        )
    } else {
        (
            PLAIN_TEMPLATE,
            Some(PLAIN_SYSTEM),
            PLAIN_PARAMETERS,
            PLAIN_MODELFILE_PARAMETERS,
        )
    };
    let mut modelfile = format!(
        "# Modelfile generated by \"ollama show\"\n# To build a new Modelfile based on this, replace FROM with:\n# FROM {name}\n\nFROM /usr/share/ollama/models/blobs/sha256-{BLOB}\nTEMPLATE \"\"\"{template}\"\"\"\n"
    );
    if let Some(system) = system {
        let _ = writeln!(modelfile, "SYSTEM {system}");
    }
    modelfile.push_str(modelfile_params);

    let mut out = format!(
        r#"{{"modelfile":{},"parameters":{},"template":{}"#,
        go_str(&modelfile),
        go_str(parameters),
        go_str(template)
    );
    if let Some(system) = system {
        let _ = write!(out, r#","system":{}"#, go_str(system));
    }
    let _ = write!(
        out,
        r#","details":{BASE_DETAILS},"model_info":{MODEL_INFO},"capabilities":{},"modified_at":{}}}"#,
        json_str_array(capabilities(name)),
        go_str(modified_at)
    );
    out
}

// ============================================================================================
// POST /api/chat
// ============================================================================================

fn handle_chat(req: &Request, conn: &Conn) -> Result<After, Gone> {
    let started = Instant::now();
    let decoded = decode_chat_request(&req.body);
    let load_only = decoded.as_ref().is_ok_and(|body| messages(body).is_empty());
    let scripted = if load_only {
        None
    } else {
        conn.shared.lock().queue.pop_front()
    };
    let script = match scripted {
        None => return default_chat(decoded, conn, started),
        Some(ChatReply::HttpError { status, message }) => return conn.send_error(status, &message),
        Some(ChatReply::Raw(bytes)) => {
            conn.write_all(&bytes)?;
            return Ok(After::Close);
        }
        Some(ChatReply::Tokens(tokens)) => Script {
            tokens,
            ..Script::default()
        },
        Some(ChatReply::Thinking { thinking, content }) => Script {
            thinking,
            tokens: content,
            ..Script::default()
        },
        Some(ChatReply::Script(script)) => script,
    };

    // Scripted replies skip validation; the request only supplies the model name, the stream flag
    // and the prompt size.
    let body = first_json_value(&req.body)
        .and_then(Result::ok)
        .unwrap_or(Value::Null);
    let model = str_field(&body, "model").to_string();
    conn.shared.mark_loaded(&model, &body);
    let eval_count = (script.thinking.len() + script.tokens.len()) as u64;
    let plan = Plan {
        model,
        prompt_eval_count: script
            .prompt_eval_count
            .unwrap_or_else(|| prompt_tokens(&body)),
        eval_count: script.eval_count.unwrap_or(eval_count),
        done_reason: script.done_reason.unwrap_or_else(|| "stop".to_string()),
        thinking: script.thinking,
        tokens: script.tokens,
        first_delay: script.first_delay,
        delay: script.delay,
        end: script.end,
        split_every: script.split_every,
        stream: stream_requested(&body),
        started,
    };
    run_plan(conn, &plan)
}

/// What a real server answers when nothing is queued: validation, then an echo of the last user message.
fn default_chat(
    decoded: Result<Value, String>,
    conn: &Conn,
    started: Instant,
) -> Result<After, Gone> {
    let body = match decoded {
        Ok(body) => body,
        Err(message) => return conn.send_error(400, &message),
    };
    let model = str_field(&body, "model");
    if model.is_empty() {
        return conn.send_error(400, "model is required");
    }
    let caps = conn
        .shared
        .lock()
        .find_model(model)
        .map(|m| capabilities(&m.name));
    let Some(caps) = caps else {
        return conn.send_error(404, &format!("model '{model}' not found"));
    };
    if !caps.contains(&"completion") {
        return conn.send_error(400, &format!("{} does not support chat", go_quote(model)));
    }
    let think = think_requested(&body);
    if think && !caps.contains(&"thinking") {
        return conn.send_error(
            400,
            &format!("{} does not support thinking", go_quote(model)),
        );
    }

    let messages = messages(&body);
    if messages.is_empty() {
        // Load (or with keep_alive 0, unload) the model: one JSON object even when streaming.
        let reason = if keep_alive(&body) == Some(Duration::ZERO) {
            conn.shared.unload(model);
            "unload"
        } else {
            conn.shared.mark_loaded(model, &body);
            "load"
        };
        let json = format!(
            r#"{{"model":{},"created_at":{},"message":{},"done":true,"done_reason":{}}}"#,
            go_str(model),
            go_str(&rfc3339_nano(SystemTime::now())),
            message_json("", ""),
            go_str(reason)
        );
        return conn.send_json(200, &json);
    }

    let last_user = messages
        .iter()
        .rev()
        .find(|m| m.get("role").and_then(Value::as_str) == Some("user"))
        .map(|m| str_field(m, "content"))
        .unwrap_or("");
    let mut thinking = if think {
        tokenize(&format!("thinking about: {last_user}"))
    } else {
        Vec::new()
    };
    let mut tokens = tokenize(&format!("echo: {last_user}"));
    let mut done_reason = "stop";
    if let Some(limit) = body.pointer("/options/num_predict").and_then(Value::as_i64) {
        let limit = usize::try_from(limit).unwrap_or(usize::MAX); // negative: no limit
        if thinking.len() + tokens.len() > limit {
            thinking.truncate(limit);
            tokens.truncate(limit - thinking.len());
            done_reason = "length";
        }
    }

    conn.shared.mark_loaded(model, &body);
    let plan = Plan {
        model: model.to_string(),
        prompt_eval_count: prompt_tokens(&body),
        eval_count: (thinking.len() + tokens.len()) as u64,
        done_reason: done_reason.to_string(),
        thinking,
        tokens,
        first_delay: Duration::ZERO,
        delay: Duration::ZERO,
        end: End::Final,
        split_every: None,
        stream: stream_requested(&body),
        started,
    };
    run_plan(conn, &plan)
}

/// Decodes a chat body as Go's `json.Decoder` into `api.ChatRequest` would, with its error messages.
fn decode_chat_request(body: &[u8]) -> Result<Value, String> {
    let value = decode_body(body, "api.ChatRequest")?;
    check_field(&value, "ChatRequest.model", "string", Value::is_string)?;
    check_field(
        &value,
        "ChatRequest.messages",
        "[]api.Message",
        Value::is_array,
    )?;
    check_field(&value, "ChatRequest.stream", "bool", Value::is_boolean)?;
    Ok(value)
}

fn messages(body: &Value) -> &[Value] {
    body.get("messages")
        .and_then(Value::as_array)
        .map_or(&[], Vec::as_slice)
}

fn stream_requested(body: &Value) -> bool {
    body.get("stream").and_then(Value::as_bool).unwrap_or(true)
}

/// `think: true` or a level ("low", "medium", "high").
fn think_requested(body: &Value) -> bool {
    match body.get("think") {
        Some(Value::Bool(b)) => *b,
        Some(Value::String(s)) => !s.is_empty() && s != "false",
        _ => false,
    }
}

/// The fake's prompt size: per message, ceil(chars / 4) + 4.
fn prompt_tokens(body: &Value) -> u64 {
    messages(body)
        .iter()
        .map(|m| (str_field(m, "content").chars().count() as u64).div_ceil(4) + 4)
        .sum()
}

/// Splits text like the recordings' tokens: a space starts a new token (" hello"), a newline is a
/// token of its own, characters are never split.
fn tokenize(text: &str) -> Vec<String> {
    let mut tokens = Vec::new();
    let mut current = String::new();
    for ch in text.chars() {
        if ch == '\n' {
            if !current.is_empty() {
                tokens.push(std::mem::take(&mut current));
            }
            tokens.push("\n".to_string());
            continue;
        }
        if ch == ' ' && !current.is_empty() && !current.ends_with(' ') {
            tokens.push(std::mem::take(&mut current));
        }
        current.push(ch);
    }
    if !current.is_empty() {
        tokens.push(current);
    }
    tokens
}

// ============================================================================================
// Reply engine (shared by default and scripted replies)
// ============================================================================================

struct Plan {
    model: String,
    thinking: Vec<String>,
    tokens: Vec<String>,
    first_delay: Duration,
    delay: Duration,
    end: End,
    split_every: Option<usize>,
    prompt_eval_count: u64,
    eval_count: u64,
    done_reason: String,
    stream: bool,
    started: Instant,
}

fn run_plan(conn: &Conn, plan: &Plan) -> Result<After, Gone> {
    if plan.stream {
        stream_reply(conn, plan)
    } else {
        whole_reply(conn, plan)
    }
}

/// `application/x-ndjson`, chunked, one line per chunk (or `split_every` pieces).
fn stream_reply(conn: &Conn, plan: &Plan) -> Result<After, Gone> {
    let head = response_head(
        200,
        &[("Content-Type", NDJSON)],
        Framing::Chunked,
        conn.close,
    );
    let mut out = BodyOut::new(conn, head, true, plan.split_every);
    conn.wait(plan.first_delay)?;
    let thinking = plan.thinking.iter().map(|t| message_json("", t));
    let content = plan.tokens.iter().map(|t| message_json(t, ""));
    let mut sent_any = false;
    for message in thinking.chain(content) {
        if sent_any {
            conn.wait(plan.delay)?;
        }
        let line = format!(
            r#"{{"model":{},"created_at":{},"message":{},"done":false}}"#,
            go_str(&plan.model),
            go_str(&rfc3339_nano(SystemTime::now())),
            message
        );
        out.push_line(&line)?;
        sent_any = true;
    }
    match &plan.end {
        End::Final | End::Error(_) => {
            if sent_any {
                conn.wait(plan.delay)?;
            }
            let line = match &plan.end {
                End::Error(message) => error_json(message),
                _ => final_json(plan, "", ""),
            };
            out.push_line(&line)?;
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

/// `"stream": false`: one JSON object after the whole generation time.
fn whole_reply(conn: &Conn, plan: &Plan) -> Result<After, Gone> {
    let chunks = u32::try_from(plan.thinking.len() + plan.tokens.len()).unwrap_or(u32::MAX);
    let generation = plan.delay.checked_mul(chunks).unwrap_or(Duration::MAX);
    conn.wait(plan.first_delay.saturating_add(generation))?;
    match &plan.end {
        End::Final => {
            let json = final_json(plan, &plan.tokens.concat(), &plan.thinking.concat());
            conn.send_body(
                200,
                &[("Content-Type", JSON)],
                json.as_bytes(),
                plan.split_every,
            )
        }
        End::Error(message) => conn.send_error(500, message),
        End::Drop => Ok(After::Close),
        End::Stall(duration) => {
            conn.wait(*duration)?;
            Ok(After::Close)
        }
    }
}

/// The `done:true` object, field order as in the recordings; zero metrics are omitted (Go omitempty).
fn final_json(plan: &Plan, content: &str, thinking: &str) -> String {
    let load_duration: u64 = 1_046_115;
    let prompt_eval_duration = plan.prompt_eval_count.saturating_mul(1_465_000);
    let eval_duration = plan.eval_count.saturating_mul(10_000_000);
    let elapsed = u64::try_from(plan.started.elapsed().as_nanos()).unwrap_or(u64::MAX);
    let total_duration = load_duration
        .saturating_add(prompt_eval_duration)
        .saturating_add(eval_duration)
        .saturating_add(elapsed);
    let mut out = format!(
        r#"{{"model":{},"created_at":{},"message":{},"done":true"#,
        go_str(&plan.model),
        go_str(&rfc3339_nano(SystemTime::now())),
        message_json(content, thinking)
    );
    if !plan.done_reason.is_empty() {
        let _ = write!(out, r#","done_reason":{}"#, go_str(&plan.done_reason));
    }
    let metrics = [
        ("total_duration", total_duration),
        ("load_duration", load_duration),
        ("prompt_eval_count", plan.prompt_eval_count),
        ("prompt_eval_duration", prompt_eval_duration),
        ("eval_count", plan.eval_count),
        ("eval_duration", eval_duration),
    ];
    for (name, value) in metrics {
        if value > 0 {
            let _ = write!(out, r#","{name}":{value}"#);
        }
    }
    out.push('}');
    out
}

fn message_json(content: &str, thinking: &str) -> String {
    let mut out = format!(r#"{{"role":"assistant","content":{}"#, go_str(content));
    if !thinking.is_empty() {
        let _ = write!(out, r#","thinking":{}"#, go_str(thinking));
    }
    out.push('}');
    out
}

fn error_json(message: &str) -> String {
    format!(r#"{{"error":{}}}"#, go_str(message))
}

// ============================================================================================
// Response writing
// ============================================================================================

/// Go's net/http sends a handler's body with Content-Length if it fits its 2048-byte buffer, chunked
/// otherwise (that is why the recorded /api/show reply is chunked).
const GO_CHUNKING_THRESHOLD: usize = 2048;

enum Framing {
    Length(usize),
    Chunked,
}

/// The status line and headers, in the order Go writes them: the handler's headers (sorted), then
/// Date, Content-Length, Connection, Transfer-Encoding.
fn response_head(status: u16, headers: &[(&str, &str)], framing: Framing, close: bool) -> Vec<u8> {
    let mut head = format!("HTTP/1.1 {status} {}\r\n", reason_phrase(status));
    for (name, value) in headers {
        let _ = write!(head, "{name}: {value}\r\n");
    }
    let _ = write!(head, "Date: {}\r\n", http_date(SystemTime::now()));
    if let Framing::Length(len) = framing {
        let _ = write!(head, "Content-Length: {len}\r\n");
    }
    if close {
        head.push_str("Connection: close\r\n");
    }
    if let Framing::Chunked = framing {
        head.push_str("Transfer-Encoding: chunked\r\n");
    }
    head.push_str("\r\n");
    head.into_bytes()
}

fn reason_phrase(status: u16) -> &'static str {
    match status {
        200 => "OK",
        201 => "Created",
        204 => "No Content",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        408 => "Request Timeout",
        413 => "Request Entity Too Large",
        429 => "Too Many Requests",
        500 => "Internal Server Error",
        501 => "Not Implemented",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        504 => "Gateway Timeout",
        _ => "Unknown",
    }
}

/// One accepted connection, for the duration of one response.
struct Conn<'a> {
    stream: &'a TcpStream,
    shared: &'a Shared,
    /// A HEAD request: headers only.
    head_only: bool,
    /// The client asked for `Connection: close`.
    close: bool,
}

impl Conn<'_> {
    fn gone(&self) -> Gone {
        if self.shared.stopping() {
            Gone::Stopped
        } else {
            Gone::Peer
        }
    }

    fn write_all(&self, bytes: &[u8]) -> Result<(), Gone> {
        let mut stream = self.stream;
        stream
            .write_all(bytes)
            .and_then(|()| stream.flush())
            .map_err(|_| self.gone())
    }

    /// Whether the client has closed its side (a non-blocking peek reads end of stream or fails).
    fn peer_closed(&self) -> bool {
        if self.stream.set_nonblocking(true).is_err() {
            return true;
        }
        let mut byte = [0u8; 1];
        let closed = match self.stream.peek(&mut byte) {
            Ok(0) => true,
            Ok(_) => false,
            Err(e) => !matches!(
                e.kind(),
                io::ErrorKind::WouldBlock | io::ErrorKind::Interrupted
            ),
        };
        let _ = self.stream.set_nonblocking(false);
        closed
    }

    /// Sleeps in 5 ms slices, noticing a hang-up or the server stopping meanwhile.
    fn wait(&self, duration: Duration) -> Result<(), Gone> {
        if duration.is_zero() {
            return Ok(());
        }
        let start = Instant::now();
        loop {
            if self.shared.stopping() {
                return Err(Gone::Stopped);
            }
            if self.peer_closed() {
                return Err(self.gone());
            }
            let left = duration.saturating_sub(start.elapsed());
            if left.is_zero() {
                return Ok(());
            }
            thread::sleep(left.min(Duration::from_millis(5)));
        }
    }

    fn send(&self, status: u16, headers: &[(&str, &str)], body: &[u8]) -> Result<After, Gone> {
        self.send_body(status, headers, body, None)
    }

    fn send_json(&self, status: u16, json: &str) -> Result<After, Gone> {
        self.send(status, &[("Content-Type", JSON)], json.as_bytes())
    }

    fn send_error(&self, status: u16, message: &str) -> Result<After, Gone> {
        self.send_json(status, &error_json(message))
    }

    /// A whole (non-stream) body, framed the way Go frames it, optionally written in small pieces.
    fn send_body(
        &self,
        status: u16,
        headers: &[(&str, &str)],
        body: &[u8],
        split_every: Option<usize>,
    ) -> Result<After, Gone> {
        let chunked = body.len() > GO_CHUNKING_THRESHOLD && !self.head_only;
        let framing = if chunked {
            Framing::Chunked
        } else {
            Framing::Length(body.len())
        };
        let head = response_head(status, headers, framing, self.close);
        let mut out = BodyOut::new(self, head, chunked, split_every);
        out.push(body)?;
        out.finish()?;
        Ok(After::KeepAlive)
    }
}

/// Writes a response body: the head goes out with the first bytes; with chunked framing each write
/// is one HTTP chunk; with `split_every` the body is cut into pieces of that many bytes regardless of
/// line boundaries (a trailing partial piece waits for more bytes, or for `flush`/`finish`).
struct BodyOut<'c, 'a> {
    conn: &'c Conn<'a>,
    head: Option<Vec<u8>>,
    chunked: bool,
    split_every: Option<usize>,
    pending: Vec<u8>,
}

impl<'c, 'a> BodyOut<'c, 'a> {
    fn new(conn: &'c Conn<'a>, head: Vec<u8>, chunked: bool, split_every: Option<usize>) -> Self {
        BodyOut {
            conn,
            head: Some(head),
            chunked,
            split_every: split_every.filter(|&n| n > 0),
            pending: Vec::new(),
        }
    }

    fn push_line(&mut self, json: &str) -> Result<(), Gone> {
        let mut line = Vec::with_capacity(json.len() + 1);
        line.extend_from_slice(json.as_bytes());
        line.push(b'\n');
        self.push(&line)
    }

    fn push(&mut self, data: &[u8]) -> Result<(), Gone> {
        let Some(size) = self.split_every else {
            return self.write_piece(data);
        };
        self.pending.extend_from_slice(data);
        while self.pending.len() >= size {
            let piece: Vec<u8> = self.pending.drain(..size).collect();
            self.write_piece(&piece)?;
            thread::sleep(Duration::from_millis(2));
        }
        Ok(())
    }

    /// Sends the head (if not yet sent) and any pending partial piece.
    fn flush(&mut self) -> Result<(), Gone> {
        let pending = std::mem::take(&mut self.pending);
        self.write_piece(&pending)
    }

    /// Flushes, then ends a chunked body with the terminating 0-chunk.
    fn finish(&mut self) -> Result<(), Gone> {
        self.flush()?;
        if self.chunked && !self.conn.head_only {
            self.conn.write_all(b"0\r\n\r\n")?;
        }
        Ok(())
    }

    fn write_piece(&mut self, data: &[u8]) -> Result<(), Gone> {
        let mut buf = self.head.take().unwrap_or_default();
        if !data.is_empty() && !self.conn.head_only {
            if self.chunked {
                let _ = write!(buf, "{:x}\r\n", data.len());
                buf.extend_from_slice(data);
                buf.extend_from_slice(b"\r\n");
            } else {
                buf.extend_from_slice(data);
            }
        }
        if buf.is_empty() {
            return Ok(());
        }
        self.conn.write_all(&buf)
    }
}

// ============================================================================================
// JSON helpers (Go's encoding/json conventions)
// ============================================================================================

/// A JSON string literal escaped as Go's encoding/json does (`<`, `>`, `&` as `\u003c` etc.).
fn go_str(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for ch in s.chars() {
        match ch {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            '<' => out.push_str("\\u003c"),
            '>' => out.push_str("\\u003e"),
            '&' => out.push_str("\\u0026"),
            '\u{2028}' => out.push_str("\\u2028"),
            '\u{2029}' => out.push_str("\\u2029"),
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// Go's `%q` for the simple strings used in error messages.
fn go_quote(s: &str) -> String {
    let mut out = String::from("\"");
    for ch in s.chars() {
        match ch {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c => out.extend(c.escape_default()),
        }
    }
    out.push('"');
    out
}

fn json_str_array(items: &[&str]) -> String {
    let items: Vec<String> = items.iter().map(|s| go_str(s)).collect();
    format!("[{}]", items.join(","))
}

fn str_field<'v>(value: &'v Value, name: &str) -> &'v str {
    value.get(name).and_then(Value::as_str).unwrap_or("")
}

/// The first JSON value of a body, ignoring what follows it (as Go's `json.Decoder` does);
/// `None` for an empty body.
fn first_json_value(body: &[u8]) -> Option<Result<Value, serde_json::Error>> {
    serde_json::Deserializer::from_slice(body)
        .into_iter::<Value>()
        .next()
}

/// Decodes a request body into a JSON object, with the server's messages for the failures.
fn decode_body(body: &[u8], go_type: &str) -> Result<Value, String> {
    let value = match first_json_value(body) {
        None => return Err("missing request body".to_string()),
        Some(Err(e)) if e.is_eof() => return Err("unexpected EOF".to_string()),
        Some(Err(e)) => return Err(go_syntax_error(body, &e)),
        Some(Ok(value)) => value,
    };
    if !value.is_object() {
        return Err(format!(
            "json: cannot unmarshal {} into Go value of type {go_type}",
            json_kind(&value)
        ));
    }
    Ok(value)
}

/// A wrongly typed field as Go reports it (null is always accepted).
fn check_field(
    value: &Value,
    field: &str,
    go_type: &str,
    ok: fn(&Value) -> bool,
) -> Result<(), String> {
    let name = field.rsplit('.').next().unwrap_or(field);
    match value.get(name) {
        Some(v) if !v.is_null() && !ok(v) => Err(format!(
            "json: cannot unmarshal {} into Go struct field {field} of type {go_type}",
            json_kind(v)
        )),
        _ => Ok(()),
    }
}

fn json_kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "bool",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

/// An approximation of Go's syntax error text: "invalid character 'x' looking for beginning of value".
fn go_syntax_error(body: &[u8], err: &serde_json::Error) -> String {
    let text = String::from_utf8_lossy(body);
    let bad = text
        .lines()
        .nth(err.line().saturating_sub(1))
        .and_then(|line| line.get(err.column().saturating_sub(1)..))
        .and_then(|rest| rest.chars().next());
    match bad {
        Some(c) => format!(
            "invalid character {} looking for beginning of value",
            go_char(c)
        ),
        None => "unexpected EOF".to_string(),
    }
}

fn go_char(c: char) -> String {
    match c {
        '\'' => "'\\''".to_string(),
        c if c.is_control() => format!("'\\x{:02x}'", c as u32),
        c => format!("'{c}'"),
    }
}

// ============================================================================================
// Model facts (shapes copied from 02_tags, 03_ps_after_first_load, 04_show_tiny, 04_show_tiny_think)
// ============================================================================================

const DEFAULT_NUM_CTX: u64 = 2048;
/// The recording server kept models loaded for 30 minutes.
const DEFAULT_KEEP_ALIVE: Duration = Duration::from_secs(30 * 60);
/// A negative keep_alive keeps a model loaded "forever".
const FOREVER: Duration = Duration::from_secs(200 * 365 * 24 * 3600);
const PS_SIZE: u64 = 285_149_756;
const BLOB: &str = "a5fd3b62230aa5ec60212297dc9d20eaa70578ac519e00d93a17e44c087a6818";

const BASE_DETAILS: &str = r#"{"parent_model":"","format":"gguf","family":"gemma3","families":["gemma3"],"parameter_size":"268.10M","quantization_level":"Q4_K_M"}"#;
const TAGS_DETAILS: &str = r#"{"parent_model":"","format":"gguf","family":"gemma3","families":["gemma3"],"parameter_size":"268.10M","quantization_level":"Q4_K_M","context_length":32768,"embedding_length":640}"#;
const MODEL_INFO: &str = r#"{"gemma3.attention.head_count":4,"gemma3.attention.head_count_kv":1,"gemma3.attention.key_length":256,"gemma3.attention.layer_norm_rms_epsilon":0.000001,"gemma3.attention.sliding_window":512,"gemma3.attention.value_length":256,"gemma3.block_count":18,"gemma3.context_length":32768,"gemma3.embedding_length":640,"gemma3.feed_forward_length":2048,"gemma3.rope.freq_base":1000000,"general.architecture":"gemma3","general.basename":"gemma-3","general.file_type":15,"general.license":"gemma","general.parameter_count":268098176,"general.quantization_version":2,"general.size_label":"270M","general.tags":null,"general.type":"model","tokenizer.ggml.add_bos_token":true,"tokenizer.ggml.add_eos_token":false,"tokenizer.ggml.add_sep_token":false,"tokenizer.ggml.add_space_prefix":false,"tokenizer.ggml.bos_token_id":2,"tokenizer.ggml.eos_token_id":1,"tokenizer.ggml.model":"llama","tokenizer.ggml.padding_token_id":0,"tokenizer.ggml.pre":"default","tokenizer.ggml.scores":null,"tokenizer.ggml.token_type":null,"tokenizer.ggml.tokens":null,"tokenizer.ggml.unknown_token_id":3}"#;

const PLAIN_TEMPLATE: &str = r#"{{- range $i, $_ := .Messages }}
{{- $last := eq (len (slice $.Messages $i)) 1 }}
{{- if eq .Role "user" }}<start_of_turn>user
{{- if and (eq $i 1) $.System }}
{{ $.System }}
{{ end }}
{{ .Content }}<end_of_turn>
{{ else if eq .Role "assistant" }}<start_of_turn>model
{{ .Content }}<end_of_turn>
{{ end }}
{{- if $last }}<start_of_turn>model
{{ end }}
{{- end }}"#;
const PLAIN_SYSTEM: &str = "You are Tiny, a terse test assistant.";
const PLAIN_PARAMETERS: &str = "top_p                          0.95\nnum_ctx                        2048\nstop                           \"<end_of_turn>\"\ntemperature                    0.7\ntop_k                          64";
const PLAIN_MODELFILE_PARAMETERS: &str = "PARAMETER num_ctx 2048\nPARAMETER stop <end_of_turn>\nPARAMETER temperature 0.7\nPARAMETER top_k 64\nPARAMETER top_p 0.95\n";

const THINK_TEMPLATE: &str = r#"{{- range $i, $_ := .Messages }}
{{- $last := eq (len (slice $.Messages $i)) 1 }}
{{- if eq .Role "system" }}<start_of_turn>system
{{ .Content }}<end_of_turn>
{{ else if eq .Role "user" }}<start_of_turn>user
{{ .Content }}<end_of_turn>
{{ else if eq .Role "assistant" }}<start_of_turn>model
{{ if .Thinking }}<think>{{ .Thinking }}</think>{{ end }}{{ .Content }}<end_of_turn>
{{ end }}
{{- if $last }}<start_of_turn>model
{{ if and $.IsThinkSet $.Think }}<think>{{ end }}
{{- end }}
{{- end }}"#;
const THINK_PARAMETERS: &str = "stop                           \"<end_of_turn>\"\ntemperature                    0.7\nnum_ctx                        2048";
const THINK_MODELFILE_PARAMETERS: &str =
    "PARAMETER num_ctx 2048\nPARAMETER stop <end_of_turn>\nPARAMETER temperature 0.7\n";

/// "tiny" → "tiny:latest"; a name whose last path segment has a tag is kept.
fn normalize_model_name(name: &str) -> String {
    let last_segment = name.rsplit('/').next().unwrap_or(name);
    if last_segment.contains(':') {
        name.to_string()
    } else {
        format!("{name}:latest")
    }
}

fn capabilities(name: &str) -> &'static [&'static str] {
    let lower = name.to_ascii_lowercase();
    if lower.contains("embed") {
        &["embedding"]
    } else if lower.contains("think") {
        &["completion", "thinking"]
    } else {
        &["completion"]
    }
}

/// A stable fake sha256 (64 hex digits) per model name.
fn model_digest(name: &str) -> String {
    (0u64..4).fold(String::with_capacity(64), |mut out, seed| {
        let _ = write!(out, "{:016x}", fnv1a(name.as_bytes(), seed));
        out
    })
}

fn model_size(name: &str) -> u64 {
    253_113_673 + fnv1a(name.as_bytes(), 9) % 100
}

fn fnv1a(bytes: &[u8], seed: u64) -> u64 {
    let mut hash = 0xcbf2_9ce4_8422_2325u64 ^ seed.wrapping_mul(0x9e37_79b9_7f4a_7c15);
    for &b in bytes {
        hash ^= u64::from(b);
        hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
    }
    hash
}

/// `keep_alive` as a duration: a number of seconds or a Go duration string ("5m", "1h30m", "0");
/// `Some(ZERO)` means unload, a negative value keeps the model forever, absent means the default.
fn keep_alive(body: &Value) -> Option<Duration> {
    let seconds = match body.get("keep_alive") {
        None | Some(Value::Null) => return Some(DEFAULT_KEEP_ALIVE),
        Some(Value::Number(n)) => n.as_f64()?,
        Some(Value::String(s)) => parse_go_duration(s)?,
        Some(_) => return Some(DEFAULT_KEEP_ALIVE),
    };
    if seconds < 0.0 {
        None
    } else {
        Some(Duration::try_from_secs_f64(seconds).unwrap_or(FOREVER))
    }
}

/// Seconds in a Go duration string such as "30m", "1h30m", "-1", "0" or "1.5s".
fn parse_go_duration(s: &str) -> Option<f64> {
    let s = s.trim();
    let (sign, mut rest) = match s.strip_prefix('-') {
        Some(rest) => (-1.0, rest),
        None => (1.0, s.strip_prefix('+').unwrap_or(s)),
    };
    if let Ok(bare) = rest.parse::<f64>() {
        return Some(sign * bare);
    }
    let mut total = 0.0;
    while !rest.is_empty() {
        let digits = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        let number: f64 = rest[..digits].parse().ok()?;
        rest = &rest[digits..];
        let unit_len = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let scale = match &rest[..unit_len] {
            "ns" => 1e-9,
            "us" | "µs" => 1e-6,
            "ms" => 1e-3,
            "s" => 1.0,
            "m" => 60.0,
            "h" => 3600.0,
            _ => return None,
        };
        rest = &rest[unit_len..];
        total += number * scale;
    }
    Some(sign * total)
}

// ============================================================================================
// Time formatting (UTC, without chrono)
// ============================================================================================

/// Go's RFC3339Nano: "2026-11-29T00:09:38.89378492Z" (trailing zeros of the fraction dropped).
fn rfc3339_nano(t: SystemTime) -> String {
    let since = t.duration_since(UNIX_EPOCH).unwrap_or_default();
    let secs = i64::try_from(since.as_secs()).unwrap_or(i64::MAX / 2);
    let (year, month, day) = civil_from_days(secs.div_euclid(86_400));
    let sod = secs.rem_euclid(86_400);
    let mut out = format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}",
        sod / 3600,
        sod % 3600 / 60,
        sod % 60
    );
    let nanos = since.subsec_nanos();
    if nanos > 0 {
        let fraction = format!("{nanos:09}");
        out.push('.');
        out.push_str(fraction.trim_end_matches('0'));
    }
    out.push('Z');
    out
}

/// The HTTP `Date` format: "Sun, 29 Nov 2026 00:09:38 GMT".
fn http_date(t: SystemTime) -> String {
    const DAYS: [&str; 7] = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"];
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let secs =
        i64::try_from(t.duration_since(UNIX_EPOCH).unwrap_or_default().as_secs()).unwrap_or(0);
    let days = secs.div_euclid(86_400);
    let (year, month, day) = civil_from_days(days);
    let sod = secs.rem_euclid(86_400);
    format!(
        "{}, {day:02} {} {year:04} {:02}:{:02}:{:02} GMT",
        DAYS[days.rem_euclid(7) as usize],
        MONTHS[(month - 1) as usize],
        sod / 3600,
        sod % 3600 / 60,
        sod % 60
    )
}

/// Days since 1970-01-01 → (year, month 1-12, day 1-31) (Howard Hinnant's algorithm).
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = (if mp < 10 { mp + 3 } else { mp - 10 }) as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}
