//! The HTTP side of Ollama: sends requests and hands back response bytes. The only place that knows
//! reqwest.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use reqwest::StatusCode;
use tokio::sync::mpsc;
use tokio::task::AbortHandle;

use super::body::BodyEncoder;
use super::error::ApiError;
use super::wire::{ChatRequest, ErrorBody, TagsResponse};

/// A connection to one Ollama server, built once per run.
#[derive(Clone)]
pub struct Client {
    http: reqwest::Client,
    base_url: String,
    api_key: Option<String>,
    /// The last chat body's history, so the next turn encodes only what is new.
    encoder: Arc<Mutex<BodyEncoder>>,
}

impl std::fmt::Debug for Client {
    // Hand-written so the API key can never be printed by a `{:?}`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field("base_url", &self.base_url)
            .field("api_key", &self.api_key.as_ref().map(|_| "<set>"))
            .finish()
    }
}

impl Client {
    /// `base_url` as resolved from `OLLAMA_HOST` (no trailing slash).
    pub fn new(base_url: &str, api_key: Option<String>) -> Result<Self, ApiError> {
        let mut builder = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(10))
            .tcp_nodelay(true)
            .user_agent(concat!("ollama-chat/", env!("CARGO_PKG_VERSION")));
        if is_loopback(base_url) {
            // A corporate HTTP_PROXY must not swallow requests meant for this machine.
            builder = builder.no_proxy();
        }
        if is_plain_http(base_url) {
            // Plain HTTP needs no certificates, and loading the system's (a folder scan and
            // some 150 parses) was most of the start-up time. Without them an https redirect
            // could only fail obscurely, so it is refused with a message instead.
            builder = builder
                .tls_certs_only(std::iter::empty())
                .redirect(reqwest::redirect::Policy::custom(refuse_https_redirect));
        }
        let http = builder.build().map_err(|e| ApiError::Transport {
            url: base_url.to_string(),
            reason: e.to_string(),
        })?;
        Ok(Client {
            http,
            base_url: base_url.trim_end_matches('/').to_string(),
            api_key: api_key.filter(|k| !k.is_empty()),
            encoder: Arc::default(),
        })
    }

    pub fn base_url(&self) -> &str {
        &self.base_url
    }

    fn request(&self, method: reqwest::Method, path: &str) -> reqwest::RequestBuilder {
        let mut rb = self
            .http
            .request(method, format!("{}{}", self.base_url, path));
        if let Some(key) = &self.api_key {
            rb = rb.bearer_auth(key);
        }
        rb
    }

    fn transport_error(&self, e: reqwest::Error) -> ApiError {
        if e.is_connect() || e.is_timeout() {
            ApiError::Unreachable {
                url: self.base_url.clone(),
                reason: root_cause(&e),
            }
        } else {
            ApiError::Transport {
                url: self.base_url.clone(),
                reason: root_cause(&e),
            }
        }
    }

    /// Sends `POST /api/chat` and returns once the server has answered with a success status; the
    /// reply then arrives through [`ChatResponse::chunk`].
    pub async fn chat(&self, req: &ChatRequest<'_>) -> Result<ChatResponse, ApiError> {
        let encoded = match self.encoder.lock() {
            Ok(mut encoder) => encoder.encode(req),
            // A panic while encoding left it unusable; this request does without it.
            Err(_) => BodyEncoder::new().encode(req),
        };
        let body = encoded.map_err(|e| ApiError::Transport {
            url: self.base_url.clone(),
            reason: e.to_string(),
        })?;
        let resp = self
            .request(reqwest::Method::POST, "/api/chat")
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .body(body)
            .send()
            .await
            .map_err(|e| self.transport_error(e))?;
        let resp = self.check(resp, Some(req.model)).await?;
        Ok(ChatResponse::spawn(resp))
    }

    /// `GET /api/tags`: the installed models.
    pub async fn tags(&self) -> Result<TagsResponse, ApiError> {
        let resp = self
            .request(reqwest::Method::GET, "/api/tags")
            .send()
            .await
            .map_err(|e| self.transport_error(e))?;
        let resp = self.check(resp, None).await?;
        let bytes = resp.bytes().await.map_err(|e| self.transport_error(e))?;
        serde_json::from_slice(&bytes).map_err(|e| ApiError::Transport {
            url: self.base_url.clone(),
            reason: format!("unexpected /api/tags answer: {e}"),
        })
    }

    /// Turns a non-success status into the error it means, reading Ollama's `{"error": …}` body.
    async fn check(
        &self,
        resp: reqwest::Response,
        model: Option<&str>,
    ) -> Result<reqwest::Response, ApiError> {
        let status = resp.status();
        if status.is_success() {
            return Ok(resp);
        }
        let body = resp.bytes().await.unwrap_or_default();
        let message = match serde_json::from_slice::<ErrorBody>(&body) {
            Ok(e) => e.error,
            Err(_) => String::from_utf8_lossy(&body).trim().to_string(),
        };
        if status == StatusCode::NOT_FOUND && message.contains("not found") {
            if let Some(model) = model.filter(|_| message.starts_with("model ")) {
                return Err(ApiError::ModelNotFound {
                    model: model.to_string(),
                });
            }
        }
        Err(ApiError::Status {
            status: status.as_u16(),
            message: if message.is_empty() {
                status.canonical_reason().unwrap_or("").to_string()
            } else {
                message
            },
        })
    }
}

/// Frames the reader task may queue before it waits for `chunk` to take them: enough for a fast
/// stream to arrive in large batches, few enough that a slow reader holds little memory and the
/// server feels the backpressure.
const FRAMES_IN_FLIGHT: usize = 1024;

/// A chat reply in flight.
///
/// A task beside the connection reads the body and queues its frames (Ollama sends one line per
/// frame); `chunk` hands out everything queued at once. So a fast stream arrives in large batches,
/// one parse pass and one write each, while a slow one still arrives token by token. Handing each
/// frame across threads on its own cost a wake-up and a write per token.
///
/// Dropping it stops the task, which drops the response and so closes the connection: that is how
/// Ollama is told to stop generating.
pub struct ChatResponse {
    frames: mpsc::Receiver<Result<Bytes, ApiError>>,
    reader: AbortHandle,
    batch: Vec<Result<Bytes, ApiError>>,
    /// An error that arrived behind data; returned by the next call, after the data.
    held: Option<ApiError>,
}

impl ChatResponse {
    fn spawn(resp: reqwest::Response) -> Self {
        let (tx, frames) = mpsc::channel(FRAMES_IN_FLIGHT);
        let reader = tokio::spawn(read_body(resp, tx)).abort_handle();
        ChatResponse {
            frames,
            reader,
            batch: Vec::new(),
            held: None,
        }
    }

    /// All body bytes that have arrived since the last call, waiting for the first if none has;
    /// `None` at the end of the body.
    pub async fn chunk(&mut self) -> Result<Option<Bytes>, ApiError> {
        if let Some(e) = self.held.take() {
            return Err(e);
        }
        self.batch.clear();
        if self
            .frames
            .recv_many(&mut self.batch, FRAMES_IN_FLIGHT)
            .await
            == 0
        {
            return Ok(None);
        }
        let (data, error) = join_frames(self.batch.drain(..));
        match (data, error) {
            (Some(data), error) => {
                self.held = error;
                Ok(Some(data))
            }
            (None, Some(e)) => Err(e),
            (None, None) => Ok(Some(Bytes::new())),
        }
    }
}

impl Drop for ChatResponse {
    fn drop(&mut self) {
        self.reader.abort();
    }
}

/// Reads the body frame by frame into `tx` until it ends, fails, or nobody listens any more.
async fn read_body(mut resp: reqwest::Response, tx: mpsc::Sender<Result<Bytes, ApiError>>) {
    loop {
        let item = match resp.chunk().await {
            Ok(Some(bytes)) => Ok(bytes),
            Ok(None) => return,
            Err(e) => Err(ApiError::Disconnected {
                reason: root_cause(&e),
            }),
        };
        let failed = item.is_err();
        if tx.send(item).await.is_err() || failed {
            return;
        }
    }
}

/// Joins queued frames into one buffer (without a copy when there is only one), stopping at the
/// first error, which is returned beside the data before it.
fn join_frames(
    frames: impl Iterator<Item = Result<Bytes, ApiError>>,
) -> (Option<Bytes>, Option<ApiError>) {
    let mut first: Option<Bytes> = None;
    let mut joined: Option<Vec<u8>> = None;
    for frame in frames {
        let bytes = match frame {
            Ok(bytes) => bytes,
            Err(e) => {
                let data = joined.map(Bytes::from).or(first);
                return (data, Some(e));
            }
        };
        match (&mut joined, &first) {
            (Some(buf), _) => buf.extend_from_slice(&bytes),
            (None, Some(head)) => {
                let mut buf = Vec::with_capacity(head.len() * 64);
                buf.extend_from_slice(head);
                buf.extend_from_slice(&bytes);
                joined = Some(buf);
            }
            (None, None) => first = Some(bytes),
        }
    }
    (joined.map(Bytes::from).or(first), None)
}

fn is_plain_http(base_url: &str) -> bool {
    base_url
        .get(..7)
        .is_some_and(|scheme| scheme.eq_ignore_ascii_case("http://"))
}

/// Redirects as reqwest follows them by default (at most 10), except to https.
fn refuse_https_redirect(attempt: reqwest::redirect::Attempt<'_>) -> reqwest::redirect::Action {
    if attempt.url().scheme() == "https" {
        let to = attempt.url().to_string();
        attempt.error(format!(
            "the server redirected to {to}; set OLLAMA_HOST (or --host) to the https address"
        ))
    } else if attempt.previous().len() >= 10 {
        attempt.error("too many redirects")
    } else {
        attempt.follow()
    }
}

fn is_loopback(base_url: &str) -> bool {
    let rest = base_url.split_once("://").map_or(base_url, |(_, r)| r);
    rest.starts_with("127.") || rest.starts_with("localhost") || rest.starts_with("[::1]")
}

/// The innermost error message, which is the one that says what actually went wrong.
fn root_cause(e: &(dyn std::error::Error + 'static)) -> String {
    let mut cur = e;
    while let Some(next) = cur.source() {
        cur = next;
    }
    cur.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_detection() {
        assert!(is_loopback("http://127.0.0.1:11434"));
        assert!(is_loopback("http://localhost:11434"));
        assert!(is_loopback("http://[::1]:11434"));
        assert!(!is_loopback("https://ollama.com:443"));
        assert!(!is_loopback("http://10.0.0.5:11434"));
    }

    fn frames(items: Vec<Result<&'static str, ()>>) -> Vec<Result<Bytes, ApiError>> {
        items
            .into_iter()
            .map(|i| {
                i.map(|s| Bytes::from_static(s.as_bytes()))
                    .map_err(|_| ApiError::Disconnected {
                        reason: "reset".into(),
                    })
            })
            .collect()
    }

    #[test]
    fn frames_join_in_order_and_an_error_waits_behind_the_data() {
        let (data, err) = join_frames(frames(vec![Ok("a"), Ok("bc"), Ok("你好")]).into_iter());
        assert_eq!(data.unwrap(), "abc你好".as_bytes());
        assert!(err.is_none());
        let (data, err) = join_frames(frames(vec![Ok("one")]).into_iter());
        assert_eq!(data.unwrap(), "one".as_bytes());
        assert!(err.is_none());
        let (data, err) = join_frames(frames(vec![Ok("a"), Ok("b"), Err(()), Ok("c")]).into_iter());
        assert_eq!(data.unwrap(), "ab".as_bytes());
        assert!(matches!(err, Some(ApiError::Disconnected { .. })));
        let (data, err) = join_frames(frames(vec![Err(())]).into_iter());
        assert!(data.is_none());
        assert!(err.is_some());
    }

    #[test]
    fn plain_http_detection() {
        assert!(is_plain_http("http://127.0.0.1:11434"));
        assert!(is_plain_http("HTTP://example.com:80"));
        assert!(!is_plain_http("https://ollama.com:443"));
        assert!(!is_plain_http("http"));
    }

    #[test]
    fn debug_never_shows_the_key() {
        let c = Client::new("http://127.0.0.1:1", Some("sk-secret".into())).unwrap();
        assert!(!format!("{c:?}").contains("sk-secret"));
    }
}
