//! Model management: `/api/pull` (a realistic progress stream, scripted failures and the recorded
//! registry error), `/api/create` (the JSON body recorded, statuses streamed, the model installed),
//! `/api/copy`, `/api/delete` (404s exactly as recorded) and `HEAD`/`POST /api/blobs/:digest`.

use std::collections::{HashMap, VecDeque};
use std::fmt::Write as _;
use std::time::{Duration, SystemTime};

use serde_json::Value;
use sha2::{Digest, Sha256};

use super::chat::{error_json, stream_requested};
use super::http::{response_head, After, BodyOut, Conn, Framing, Gone, Request};
use super::json::{decode_body, go_quote, go_str, rfc3339_nano, str_field};
use super::routes::{model_digest, normalize_model_name, BLOB, NDJSON, TEXT_PLAIN};
use super::{FakeOllama, ModelEntry, Shared};

// ============================================================================================
// Public API (scripted pulls, blobs)
// ============================================================================================

/// A scripted answer to one POST /api/pull.
#[derive(Clone, Debug)]
pub enum PullReply {
    /// The realistic stream (manifest, three layers, verify, write, success), optionally slowed
    /// down or cut by an error line; on success the model is installed.
    Script(PullScript),
    /// What the recording shows for a model the registry cannot give: "pulling manifest", then an
    /// error line naming the manifest URL. (The default for names containing "does-not-exist".)
    RegistryError,
}

#[derive(Clone, Debug, Default)]
pub struct PullScript {
    /// Pause before every line after the first (the client can be interrupted meanwhile).
    pub delay: Duration,
    /// Send this many lines of the stream, then `{"error": message}` instead of the rest.
    pub error_after: Option<(usize, String)>,
}

/// Sizes of the fake model's layers: the weights, the template, the parameters.
pub const PULL_LAYERS: [u64; 3] = [253_113_673, 358, 77];
/// The weights layer is reported in this many steps after its first line.
pub const PULL_STEPS: u64 = 5;

#[derive(Default)]
pub(crate) struct ManageState {
    pub(crate) pulls: VecDeque<PullReply>,
    /// Digest → size of every blob the server holds.
    pub(crate) blobs: HashMap<String, usize>,
    pub(crate) pull_disconnects: usize,
}

impl FakeOllama {
    /// Queue a scripted reply for the next POST /api/pull (FIFO); when empty the pull succeeds.
    pub fn push_pull(&self, reply: PullReply) {
        self.shared.lock().manage.pulls.push_back(reply);
    }

    /// Parsed JSON bodies of every POST /api/create received, in order.
    pub fn create_bodies(&self) -> Vec<Value> {
        self.bodies_of("POST", "/api/create")
    }

    /// Parsed JSON bodies of the requests with this method and path, in order.
    pub fn bodies_of(&self, method: &str, path: &str) -> Vec<Value> {
        self.requests()
            .iter()
            .filter(|r| r.method == method && r.path == path)
            .map(|r| serde_json::from_slice(&r.body).unwrap_or(Value::Null))
            .collect()
    }

    /// Digests of the blobs the server holds (uploaded with `POST /api/blobs`), sorted.
    pub fn blobs(&self) -> Vec<String> {
        let mut b: Vec<String> = self.shared.lock().manage.blobs.keys().cloned().collect();
        b.sort();
        b
    }

    /// Installed model names, as /api/tags lists them.
    pub fn model_names(&self) -> Vec<String> {
        self.shared
            .lock()
            .models
            .iter()
            .map(|m| m.name.clone())
            .collect()
    }

    /// How many pull streams ended because the client closed the connection.
    pub fn pull_disconnects(&self) -> usize {
        self.shared.lock().manage.pull_disconnects
    }
}

// ============================================================================================
// Routing
// ============================================================================================

const MANAGE_ROUTES: &[(&str, &[&str])] = &[
    ("/api/pull", &["POST"]),
    ("/api/create", &["POST"]),
    ("/api/copy", &["POST"]),
    ("/api/delete", &["DELETE"]),
    ("/api/blobs/", &["HEAD", "POST"]),
];

/// Answers the model-management paths; `None` for any other path.
pub(crate) fn route_manage(req: &Request, conn: &Conn) -> Option<Result<After, Gone>> {
    let path = req.path();
    let (route, methods) = MANAGE_ROUTES.iter().find(|(p, _)| {
        *p == path || (p.ends_with('/') && path.starts_with(p) && path.len() > p.len())
    })?;
    if !methods.contains(&req.method.as_str()) {
        let allow = methods.join(", ");
        return Some(conn.send(
            405,
            &[("Allow", allow.as_str()), ("Content-Type", TEXT_PLAIN)],
            b"405 method not allowed",
        ));
    }
    Some(match *route {
        "/api/pull" => handle_pull(req, conn),
        "/api/create" => handle_create(req, conn),
        "/api/copy" => handle_copy(req, conn),
        "/api/delete" => handle_delete(req, conn),
        _ => handle_blob(req, conn, &path["/api/blobs/".len()..]),
    })
}

fn model_field(body: &Value) -> &str {
    [str_field(body, "model"), str_field(body, "name")]
        .into_iter()
        .find(|s| !s.is_empty())
        .unwrap_or("")
}

/// The error a server without registry access gives (recorded in 17_pull_nonexistent_stream).
fn registry_error(model: &str) -> String {
    let full = normalize_model_name(model);
    let (name, tag) = full.rsplit_once(':').unwrap_or((&full, "latest"));
    let repo = if name.contains('/') {
        name.to_string()
    } else {
        format!("library/{name}")
    };
    format!(
        "pull model manifest: Get \"https://registry.ollama.ai/v2/{repo}/manifests/{tag}\": dial tcp: lookup registry.ollama.ai on 10.255.255.53:53: no such host"
    )
}

fn install(shared: &Shared, model: &str) {
    let name = normalize_model_name(model);
    let mut state = shared.lock();
    state.models.retain(|m| !m.name.eq_ignore_ascii_case(&name));
    state.models.insert(
        0,
        ModelEntry {
            name,
            modified_at: rfc3339_nano(SystemTime::now()),
        },
    );
}

/// Streams NDJSON lines (chunked, one line per chunk) with `delay` between them. `before_last`
/// runs just before the last line goes out, so a client that reads "success" sees its effect.
fn stream_lines(
    conn: &Conn,
    lines: &[String],
    delay: Duration,
    before_last: impl FnOnce(),
) -> Result<After, Gone> {
    let head = response_head(
        200,
        &[("Content-Type", NDJSON)],
        Framing::Chunked,
        conn.close,
    );
    let mut out = BodyOut::new(conn, head, true, None);
    let mut before_last = Some(before_last);
    for (i, line) in lines.iter().enumerate() {
        if i > 0 {
            conn.wait(delay)?;
        }
        if i + 1 == lines.len() {
            if let Some(f) = before_last.take() {
                f();
            }
        }
        out.push_line(line)?;
    }
    out.finish()?;
    Ok(After::KeepAlive)
}

fn status_line(status: &str) -> String {
    format!(r#"{{"status":{}}}"#, go_str(status))
}

// ============================================================================================
// POST /api/pull
// ============================================================================================

fn handle_pull(req: &Request, conn: &Conn) -> Result<After, Gone> {
    let body = match decode_body(&req.body, "api.PullRequest") {
        Ok(body) => body,
        Err(message) => return conn.send_error(400, &message),
    };
    let model = model_field(&body).to_string();
    if model.is_empty() {
        return conn.send_error(400, "model is required");
    }
    let queued = conn.shared.lock().manage.pulls.pop_front();
    let reply = queued.unwrap_or(if model.contains("does-not-exist") {
        PullReply::RegistryError
    } else {
        PullReply::Script(PullScript::default())
    });
    let script = match reply {
        PullReply::RegistryError => {
            if !stream_requested(&body) {
                return conn.send_error(500, &registry_error(&model));
            }
            let lines = [
                status_line("pulling manifest"),
                error_json(&registry_error(&model)),
            ];
            return stream_lines(conn, &lines, Duration::ZERO, || {});
        }
        PullReply::Script(script) => script,
    };
    let mut lines = pull_lines(&model);
    let fails = script.error_after.is_some();
    if let Some((keep, message)) = script.error_after {
        lines.truncate(keep);
        lines.push(error_json(&message));
    }
    let result = stream_lines(conn, &lines, script.delay, || {
        if !fails {
            install(conn.shared, &model);
        }
    });
    if result == Err(Gone::Peer) {
        conn.shared.lock().manage.pull_disconnects += 1;
    }
    result
}

/// The lines a real pull sends: `completed` is left out while zero, as Go's omitempty does.
pub(crate) fn pull_lines(model: &str) -> Vec<String> {
    let mut lines = vec![status_line("pulling manifest")];
    for (i, total) in PULL_LAYERS.iter().enumerate() {
        let digest = model_digest(&format!("{model}#{i}"));
        let steps = if i == 0 { PULL_STEPS } else { 1 };
        for step in 0..=steps {
            let done = total * step / steps;
            let mut line = format!(
                r#"{{"status":"pulling {}","digest":"sha256:{digest}","total":{total}"#,
                &digest[..12]
            );
            if done > 0 {
                let _ = write!(line, r#","completed":{done}"#);
            }
            line.push('}');
            lines.push(line);
        }
    }
    for s in ["verifying sha256 digest", "writing manifest", "success"] {
        lines.push(status_line(s));
    }
    lines
}

// ============================================================================================
// POST /api/create
// ============================================================================================

fn handle_create(req: &Request, conn: &Conn) -> Result<After, Gone> {
    let body = match decode_body(&req.body, "api.CreateRequest") {
        Ok(body) => body,
        Err(message) => return conn.send_error(400, &message),
    };
    let model = model_field(&body).to_string();
    if model.is_empty() {
        return conn.send_error(400, "model is required");
    }
    let from = str_field(&body, "from").to_string();
    let files: Vec<String> = body
        .get("files")
        .and_then(Value::as_object)
        .map(|m| {
            m.values()
                .filter_map(Value::as_str)
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default();
    let adapters: Vec<String> = body
        .get("adapters")
        .and_then(Value::as_object)
        .map(|m| {
            m.values()
                .filter_map(Value::as_str)
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default();
    if from.is_empty() && files.is_empty() {
        return conn.send_error(400, "neither 'from' or 'files' was specified");
    }
    let missing = {
        let state = conn.shared.lock();
        files
            .iter()
            .chain(&adapters)
            .find(|d| !state.manage.blobs.contains_key(*d))
            .cloned()
    };
    if let Some(digest) = missing {
        return conn.send_error(400, &format!("blob {digest} not found; upload it first"));
    }

    let mut lines = Vec::new();
    if !from.is_empty() {
        let known = conn.shared.lock().find_model(&from).is_some();
        if !known {
            // Recorded (14_create_from_missing_model): the server tries to pull the base model.
            lines.push(status_line("pulling manifest"));
            lines.push(error_json(&registry_error(&from)));
            return stream_lines(conn, &lines, Duration::ZERO, || {});
        }
        lines.push(status_line(&format!("using existing layer sha256:{BLOB}")));
    } else {
        lines.push(status_line("parsing GGUF"));
        for digest in &files {
            lines.push(status_line(&format!("using existing layer {digest}")));
        }
    }
    for digest in &adapters {
        lines.push(status_line(&format!("using existing layer {digest}")));
    }
    for field in ["template", "system", "license", "parameters", "messages"] {
        if let Some(value) = body.get(field) {
            let digest = model_digest(&format!("{model}#{field}#{value}"));
            lines.push(status_line(&format!("creating new layer sha256:{digest}")));
        }
    }
    lines.push(status_line("writing manifest"));
    lines.push(status_line("success"));
    if !stream_requested(&body) {
        install(conn.shared, &model);
        return conn.send(
            200,
            &[("Content-Type", "application/json")],
            br#"{"status":"success"}"#,
        );
    }
    stream_lines(conn, &lines, Duration::ZERO, || {
        install(conn.shared, &model)
    })
}

// ============================================================================================
// POST /api/copy, DELETE /api/delete
// ============================================================================================

fn handle_copy(req: &Request, conn: &Conn) -> Result<After, Gone> {
    let body = match decode_body(&req.body, "api.CopyRequest") {
        Ok(body) => body,
        Err(message) => return conn.send_error(400, &message),
    };
    let (source, destination) = (str_field(&body, "source"), str_field(&body, "destination"));
    if source.is_empty() || destination.is_empty() {
        return conn.send_error(400, "source and destination are required");
    }
    if conn.shared.lock().find_model(source).is_none() {
        // Recorded (15_copy_missing_source): Go's %q of the name as given.
        return conn.send_error(404, &format!("model {} not found", go_quote(source)));
    }
    install(conn.shared, destination);
    conn.send(200, &[], b"")
}

fn handle_delete(req: &Request, conn: &Conn) -> Result<After, Gone> {
    let body = match decode_body(&req.body, "api.DeleteRequest") {
        Ok(body) => body,
        Err(message) => return conn.send_error(400, &message),
    };
    let model = model_field(&body);
    if model.is_empty() {
        return conn.send_error(400, "model is required");
    }
    let removed = {
        let mut state = conn.shared.lock();
        match state.find_model(model).map(|m| m.name.clone()) {
            Some(name) => {
                state.models.retain(|m| m.name != name);
                state.loaded.retain(|l| l.name != name);
                true
            }
            None => false,
        }
    };
    if removed {
        conn.send(200, &[], b"")
    } else {
        // Recorded (16_delete_again_404): the name as given, in single quotes.
        conn.send_error(404, &format!("model '{model}' not found"))
    }
}

// ============================================================================================
// HEAD / POST /api/blobs/:digest
// ============================================================================================

fn handle_blob(req: &Request, conn: &Conn, digest: &str) -> Result<After, Gone> {
    let valid = digest
        .strip_prefix("sha256:")
        .is_some_and(|hex| hex.len() == 64 && hex.bytes().all(|b| b.is_ascii_hexdigit()));
    if !valid {
        return conn.send_error(400, "invalid digest format");
    }
    let exists = conn.shared.lock().manage.blobs.contains_key(digest);
    if req.method == "HEAD" {
        return if exists {
            conn.send(200, &[], b"")
        } else {
            conn.send_error(404, &format!("blob {digest} not found"))
        };
    }
    if exists {
        return conn.send(200, &[], b"");
    }
    let actual = format!("sha256:{}", hex(&Sha256::digest(&req.body)));
    if actual != digest {
        return conn.send_error(
            400,
            &format!(
                "digest mismatch, expected {}, got {}",
                go_quote(digest),
                go_quote(&actual)
            ),
        );
    }
    conn.shared
        .lock()
        .manage
        .blobs
        .insert(digest.to_string(), req.body.len());
    conn.send(201, &[], b"")
}

pub(crate) fn hex(bytes: &[u8]) -> String {
    bytes.iter().fold(String::new(), |mut s, b| {
        let _ = write!(s, "{b:02x}");
        s
    })
}
