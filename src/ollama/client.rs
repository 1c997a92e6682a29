//! The HTTP side of Ollama: sends requests and hands back response bytes. The only place that knows
//! reqwest.

use std::sync::{Arc, Mutex};

use bytes::{Bytes, BytesMut};
use tokio::sync::mpsc;
use tokio::task::AbortHandle;

use super::body::BodyEncoder;
use super::error::{self as err, disconnected};
use super::wire::{TagsResponse, WireRequest};
use crate::conversation::ChatRequest;
use crate::error::ApiError;
use crate::models::{EmbedRequest, Embeddings};
use crate::net::{
    http_client, read_body, read_capped, root_cause, with_body, BodyError, MAX_ERROR_BODY,
    MAX_JSON_BODY,
};

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
        let http = http_client(base_url, "OLLAMA_HOST (or --host)")?;
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

    /// The same client, sending `headers` with every request.
    pub fn with_headers(mut self, headers: reqwest::header::HeaderMap) -> Result<Self, ApiError> {
        self.http =
            crate::net::http_client_with(&self.base_url, "OLLAMA_HOST (or --host)", headers)?;
        Ok(self)
    }

    pub(super) fn request(&self, method: reqwest::Method, path: &str) -> reqwest::RequestBuilder {
        let mut rb = self
            .http
            .request(method, format!("{}{}", self.base_url, path));
        if let Some(key) = &self.api_key {
            rb = rb.bearer_auth(key);
        }
        rb
    }

    /// The full URL of `path`, as errors name it.
    pub(super) fn endpoint(&self, path: &str) -> String {
        format!("{}{}", self.base_url, path)
    }

    pub(super) fn transport_error(&self, e: reqwest::Error) -> ApiError {
        if e.is_connect() || e.is_timeout() {
            err::unreachable(&self.base_url, root_cause(&e))
        } else {
            ApiError::Transport {
                url: self.base_url.clone(),
                reason: root_cause(&e).into(),
            }
        }
    }

    /// Sends `POST /api/chat` and returns once the server has answered with a success status; the
    /// reply then arrives through [`ChatResponse::chunk`].
    pub async fn chat(&self, req: &ChatRequest<'_>) -> Result<ChatResponse, ApiError> {
        let encoded = match self.encoder.lock() {
            Ok(mut encoder) => encoder.encode_parts(req),
            // A panic while encoding left it unusable; this request does without it.
            Err(_) => BodyEncoder::new().encode_parts(req),
        };
        self.post_chat(encoded, req.model).await
    }

    /// `POST /api/chat` with an encoded body.
    async fn post_chat(
        &self,
        encoded: serde_json::Result<Vec<Bytes>>,
        model: &str,
    ) -> Result<ChatResponse, ApiError> {
        let body = encoded.map_err(|e| ApiError::Transport {
            url: self.base_url.clone(),
            reason: e.to_string().into(),
        })?;
        let request = self
            .request(reqwest::Method::POST, "/api/chat")
            .header(reqwest::header::CONTENT_TYPE, "application/json");
        // In pieces when images share the history's copy (see `BodyEncoder::encode_parts`).
        let request = with_body(request, body);
        let resp = request.send().await.map_err(|e| self.transport_error(e))?;
        let resp = self.check(resp, Some(model)).await?;
        Ok(ChatResponse::spawn(resp))
    }

    /// `GET /api/tags`: the installed models.
    pub async fn tags(&self) -> Result<TagsResponse, ApiError> {
        let resp = self
            .request(reqwest::Method::GET, "/api/tags")
            .send()
            .await
            .map_err(|e| self.transport_error(e))?;
        let mut resp = self.check(resp, None).await?;
        let bytes = read_body(&mut resp, MAX_JSON_BODY)
            .await
            .map_err(|e| e.into_api(&self.endpoint("/api/tags"), |e| self.transport_error(e)))?;
        serde_json::from_slice(&bytes).map_err(|e| ApiError::Transport {
            url: self.base_url.clone(),
            reason: format!("unexpected /api/tags answer: {e}").into(),
        })
    }

    /// `POST /api/embed`: one vector per input (`dimensions` shortens them, where the model can).
    pub async fn embed(
        &self,
        model: &str,
        input: &[String],
        dimensions: Option<u32>,
    ) -> Result<Embeddings, ApiError> {
        #[derive(serde::Deserialize)]
        struct Answer {
            #[serde(default)]
            embeddings: Vec<Vec<f64>>,
            #[serde(default)]
            prompt_eval_count: Option<u64>,
        }
        let body = EmbedRequest {
            model,
            input,
            dimensions,
        }
        .body()?;
        let resp = self
            .request(reqwest::Method::POST, "/api/embed")
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .body(body)
            .send()
            .await
            .map_err(|e| self.transport_error(e))?;
        let mut resp = self.check(resp, Some(model)).await?;
        let endpoint = self.endpoint("/api/embed");
        let bytes = read_body(&mut resp, MAX_JSON_BODY)
            .await
            .map_err(|e| e.into_api(&endpoint, |e| self.transport_error(e)))?;
        let answer: Answer = serde_json::from_slice(&bytes).map_err(|e| ApiError::Unexpected {
            url: endpoint,
            reason: format!("not an /api/embed answer ({e})").into(),
        })?;
        Ok(Embeddings {
            vectors: answer.embeddings,
            prompt_tokens: answer.prompt_eval_count,
        })
    }

    /// Loads the model with these options (a chat with no messages), so that `/api/ps` then shows
    /// the window our requests get. Encoded on its own: the chat's encoder keeps the history.
    pub async fn load(&self, req: &ChatRequest<'_>) -> Result<(), ApiError> {
        let body = serde_json::to_vec(&WireRequest::from(req)).map(|b| vec![Bytes::from(b)]);
        let mut resp = self.post_chat(body, req.model).await?;
        let mut read = 0;
        while let Some(bytes) = resp.chunk().await? {
            read += bytes.len();
            if read > MAX_JSON_BODY {
                return Err(BodyError::TooLarge {
                    limit: MAX_JSON_BODY,
                }
                .into_api(&self.endpoint("/api/chat"), |e| self.transport_error(e)));
            }
        }
        Ok(())
    }

    /// Turns a non-success status into the error it means, reading Ollama's `{"error": …}` body
    /// (at most [`MAX_ERROR_BODY`] of it).
    pub(super) async fn check(
        &self,
        mut resp: reqwest::Response,
        model: Option<&str>,
    ) -> Result<reqwest::Response, ApiError> {
        let status = resp.status();
        if status.is_success() {
            return Ok(resp);
        }
        let body = read_capped(&mut resp, MAX_ERROR_BODY).await;
        Err(err::from_status(
            &self.base_url,
            status,
            &body,
            model,
            self.api_key.is_some(),
        ))
    }
}

/// Bytes the reader task gathers while `chunk` is busy before it waits for `chunk` to take them:
/// large batches for a fast stream, little memory and backpressure on the server for a slow reader.
const MAX_BATCH: usize = 256 * 1024;

/// A chat reply in flight.
///
/// A task beside the connection reads the body frame by frame (Ollama sends one line per frame)
/// and hands over batches: a frame at once if `chunk` is waiting for one, and while `chunk` is busy,
/// everything that arrives meanwhile as one buffer. So a slow stream still arrives token by token,
/// and a fast one in large batches, one parse pass and one write each. Handing each frame across
/// threads on its own cost a wake-up and a write per token.
///
/// Dropping it stops the task, which drops the response and so closes the connection: that is how
/// Ollama is told to stop generating.
pub struct ChatResponse {
    batches: mpsc::Receiver<Result<Bytes, ApiError>>,
    reader: AbortHandle,
}

impl ChatResponse {
    fn spawn(resp: reqwest::Response) -> Self {
        let (tx, batches) = mpsc::channel(1);
        let reader = tokio::spawn(pump(resp, tx)).abort_handle();
        ChatResponse { batches, reader }
    }

    /// The body bytes that arrived since the last call, waiting for some if none has; `None` at
    /// the end of the body.
    pub async fn chunk(&mut self) -> Result<Option<Bytes>, ApiError> {
        self.batches.recv().await.transpose()
    }
}

impl Drop for ChatResponse {
    fn drop(&mut self) {
        self.reader.abort();
    }
}

/// Where `pump` reads frames from: the response body, or a script in tests.
trait FrameSource {
    async fn next_frame(&mut self) -> Result<Option<Bytes>, ApiError>;
}

impl FrameSource for reqwest::Response {
    async fn next_frame(&mut self) -> Result<Option<Bytes>, ApiError> {
        self.chunk().await.map_err(|e| disconnected(root_cause(&e)))
    }
}

/// Moves frames from `src` to `tx` in batches (see `ChatResponse`) until the body ends or fails
/// (data first, then the error) or nobody listens any more.
async fn pump(mut src: impl FrameSource, tx: mpsc::Sender<Result<Bytes, ApiError>>) {
    let mut batch = BytesMut::new();
    loop {
        let frame = tokio::select! {
            biased;
            frame = src.next_frame(), if batch.len() < MAX_BATCH => frame,
            permit = tx.reserve(), if !batch.is_empty() => match permit {
                Ok(permit) => {
                    permit.send(Ok(batch.split().freeze()));
                    continue;
                }
                Err(_) => return,
            },
        };
        match frame {
            Ok(Some(bytes)) => {
                batch.extend_from_slice(&bytes);
                match tx.try_reserve() {
                    Ok(permit) => permit.send(Ok(batch.split().freeze())),
                    Err(mpsc::error::TrySendError::Full(())) => {}
                    Err(mpsc::error::TrySendError::Closed(())) => return,
                }
            }
            Ok(None) => {
                if !batch.is_empty() {
                    let _ = tx.send(Ok(batch.freeze())).await;
                }
                return;
            }
            Err(e) => {
                if !batch.is_empty() && tx.send(Ok(batch.split().freeze())).await.is_err() {
                    return;
                }
                let _ = tx.send(Err(e)).await;
                return;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use std::collections::VecDeque;

    /// A body that hands out scripted frames, yielding before each as a network read would;
    /// after the script it ends, or with `hang` never answers again.
    struct Scripted {
        frames: VecDeque<Result<Bytes, ApiError>>,
        hang: bool,
    }

    impl Scripted {
        fn new(frames: Vec<Result<String, ()>>, hang: bool) -> Self {
            let frames = frames
                .into_iter()
                .map(|f| f.map(Bytes::from).map_err(|_| disconnected("reset".into())))
                .collect();
            Scripted { frames, hang }
        }
    }

    impl FrameSource for Scripted {
        async fn next_frame(&mut self) -> Result<Option<Bytes>, ApiError> {
            tokio::task::yield_now().await;
            match self.frames.pop_front() {
                Some(frame) => frame.map(Some),
                None if self.hang => std::future::pending().await,
                None => Ok(None),
            }
        }
    }

    /// Everything the receiver gets: the batches, then the error if one came.
    async fn drain(
        rx: &mut mpsc::Receiver<Result<Bytes, ApiError>>,
    ) -> (Vec<Bytes>, Option<ApiError>) {
        let mut batches = Vec::new();
        while let Some(item) = rx.recv().await {
            match item {
                Ok(b) => batches.push(b),
                Err(e) => return (batches, Some(e)),
            }
        }
        (batches, None)
    }

    #[tokio::test]
    async fn a_busy_reader_gets_everything_in_order_in_few_batches() {
        let lines: Vec<String> = (0..2000).map(|i| format!("line {i} 你好\n")).collect();
        let (tx, mut rx) = mpsc::channel(1);
        let task = tokio::spawn(pump(
            Scripted::new(lines.iter().cloned().map(Ok).collect(), false),
            tx,
        ));
        // The reader is busy elsewhere while the whole body arrives.
        for _ in 0..10_000 {
            tokio::task::yield_now().await;
        }
        let (batches, err) = drain(&mut rx).await;
        assert!(err.is_none());
        assert!(batches.len() <= 3, "{} batches", batches.len());
        assert_eq!(batches.concat(), lines.concat().into_bytes());
        task.await.unwrap();
    }

    #[tokio::test]
    async fn a_waiting_reader_gets_a_frame_without_waiting_for_more() {
        let (tx, mut rx) = mpsc::channel(1);
        let _task = tokio::spawn(pump(Scripted::new(vec![Ok("first".into())], true), tx));
        let got = tokio::time::timeout(std::time::Duration::from_secs(10), rx.recv()).await;
        assert_eq!(
            got.expect("delivered").unwrap().unwrap(),
            "first".as_bytes()
        );
    }

    #[tokio::test]
    async fn an_error_comes_after_the_data_before_it() {
        let (tx, mut rx) = mpsc::channel(1);
        let script = vec![Ok("a".into()), Ok("b".into()), Err(()), Ok("never".into())];
        tokio::spawn(pump(Scripted::new(script, false), tx));
        for _ in 0..100 {
            tokio::task::yield_now().await;
        }
        let (batches, err) = drain(&mut rx).await;
        assert_eq!(batches.concat(), b"ab");
        assert!(matches!(err, Some(ApiError::Disconnected { .. })));
        assert!(rx.recv().await.is_none());
    }

    #[tokio::test]
    async fn the_pump_stops_when_nobody_listens() {
        let (tx, rx) = mpsc::channel(1);
        let endless = (0..100_000).map(|i| Ok(format!("{i}"))).collect();
        let task = tokio::spawn(pump(Scripted::new(endless, true), tx));
        tokio::task::yield_now().await;
        drop(rx);
        tokio::time::timeout(std::time::Duration::from_secs(10), task)
            .await
            .expect("the pump ended")
            .unwrap();
    }

    #[test]
    fn debug_never_shows_the_key() {
        let c = Client::new("http://127.0.0.1:1", Some("sk-secret".into())).unwrap();
        assert!(!format!("{c:?}").contains("sk-secret"));
    }
}
