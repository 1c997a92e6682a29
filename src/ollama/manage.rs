//! Model-management calls on the [`Client`]: list loaded models, show one, pull, create, copy,
//! delete, and the blob upload that creating from a local file needs. Same request builder (and so
//! the same API-key handling) as the chat call.

use std::collections::VecDeque;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use bytes::Bytes;
use tokio::io::AsyncReadExt;

use reqwest::{Method, StatusCode};
use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::Value;

use super::client::Client;
use super::error::disconnected;
use super::ndjson::LineSplitter;
use super::wire::{CopyRequest, ModelRequest, PsResponse, PullRequest};
use crate::error::{ApiError, DecodeError};
use crate::models::{CreateRequest, ModelInfo, Progress};
use crate::net::{read_body, root_cause, MAX_JSON_BODY};

impl Client {
    /// `GET /api/ps`: the models loaded in memory.
    pub async fn ps(&self) -> Result<PsResponse, ApiError> {
        let resp = self.send(Method::GET, "/api/ps", None::<&()>, None).await?;
        self.read_json(resp, "/api/ps").await
    }

    /// `POST /api/show`. A missing model is [`ApiError::ModelNotFound`].
    pub async fn show(&self, model: &str) -> Result<ModelInfo, ApiError> {
        let resp = self
            .send(
                Method::POST,
                "/api/show",
                Some(&ModelRequest { model }),
                Some(model),
            )
            .await?;
        let raw: Value = self.read_json(resp, "/api/show").await?;
        let mut show: ModelInfo =
            serde_json::from_value(raw.clone()).map_err(|e| self.unexpected("/api/show", e))?;
        show.raw = raw;
        Ok(show)
    }

    /// `POST /api/pull`, streaming. Failures after the 200 arrive as `error` lines in the stream.
    pub async fn pull(&self, model: &str) -> Result<ProgressStream, ApiError> {
        let resp = self
            .send(
                Method::POST,
                "/api/pull",
                Some(&PullRequest { model }),
                Some(model),
            )
            .await?;
        Ok(ProgressStream::new(resp))
    }

    /// `POST /api/create` with a JSON body, streaming its status lines.
    pub async fn create(&self, req: &CreateRequest) -> Result<ProgressStream, ApiError> {
        let resp = self
            .send(Method::POST, "/api/create", Some(req), None)
            .await?;
        Ok(ProgressStream::new(resp))
    }

    /// `POST /api/copy`. A missing source is [`ApiError::ModelNotFound`].
    pub async fn copy(&self, source: &str, destination: &str) -> Result<(), ApiError> {
        let body = CopyRequest {
            source,
            destination,
        };
        self.send(Method::POST, "/api/copy", Some(&body), Some(source))
            .await
            .map(drop)
    }

    /// `DELETE /api/delete`. A missing model is [`ApiError::ModelNotFound`].
    pub async fn delete(&self, model: &str) -> Result<(), ApiError> {
        self.send(
            Method::DELETE,
            "/api/delete",
            Some(&ModelRequest { model }),
            Some(model),
        )
        .await
        .map(drop)
    }

    /// `HEAD /api/blobs/<digest>`: whether the server already has this file.
    pub async fn blob_exists(&self, digest: &str) -> Result<bool, ApiError> {
        let resp = self
            .request(Method::HEAD, &format!("/api/blobs/{digest}"))
            .send()
            .await
            .map_err(|e| self.transport_error(e))?;
        match resp.status() {
            s if s.is_success() => Ok(true),
            StatusCode::NOT_FOUND => Ok(false),
            _ => self.check(resp, None).await.map(|_| false),
        }
    }

    /// `POST /api/blobs/<digest>` with the bytes of the file at `path`, streamed, counting them
    /// into `sent` for a progress bar; the server checks the digest.
    pub async fn upload_file(
        &self,
        digest: &str,
        path: &Path,
        sent: Arc<AtomicU64>,
    ) -> Result<(), ApiError> {
        let body = file_body(path, sent)
            .await
            .map_err(|e| ApiError::Transport {
                url: self.base_url().to_string(),
                reason: format!("cannot read {}: {e}", path.display()).into(),
            })?;
        let resp = self
            .request(Method::POST, &format!("/api/blobs/{digest}"))
            .body(body)
            .send()
            .await
            .map_err(|e| self.transport_error(e))?;
        self.check(resp, None).await.map(drop)
    }

    /// Sends a request with an optional JSON body and turns a failure status into its error.
    async fn send<B: Serialize + ?Sized>(
        &self,
        method: Method,
        path: &str,
        body: Option<&B>,
        model: Option<&str>,
    ) -> Result<reqwest::Response, ApiError> {
        let mut rb = self.request(method, path);
        if let Some(body) = body {
            let bytes = serde_json::to_vec(body).map_err(|e| self.unexpected(path, e))?;
            rb = rb
                .header(reqwest::header::CONTENT_TYPE, "application/json")
                .body(bytes);
        }
        let resp = rb.send().await.map_err(|e| self.transport_error(e))?;
        self.check(resp, model).await
    }

    /// The JSON of a successful answer, read up to [`MAX_JSON_BODY`].
    async fn read_json<T: DeserializeOwned>(
        &self,
        mut resp: reqwest::Response,
        path: &str,
    ) -> Result<T, ApiError> {
        let bytes = read_body(&mut resp, MAX_JSON_BODY)
            .await
            .map_err(|e| e.into_api(&self.endpoint(path), |e| self.transport_error(e)))?;
        serde_json::from_slice(&bytes).map_err(|e| self.unexpected(path, e))
    }

    fn unexpected(&self, path: &str, e: serde_json::Error) -> ApiError {
        ApiError::Transport {
            url: self.base_url().to_string(),
            reason: format!("unexpected {path} answer: {e}").into(),
        }
    }
}

/// The NDJSON status stream of a pull or create. Dropping it closes the connection, which is how
/// a pull is cancelled.
pub struct ProgressStream {
    resp: reqwest::Response,
    splitter: LineSplitter,
    ready: VecDeque<Progress>,
    ended: bool,
}

impl ProgressStream {
    fn new(resp: reqwest::Response) -> Self {
        ProgressStream {
            resp,
            splitter: LineSplitter::new(),
            ready: VecDeque::new(),
            ended: false,
        }
    }

    /// The next status line; `None` at the end of the stream. An `{"error": …}` line is returned
    /// like any other, with `error` set: the caller decides what it means.
    pub async fn next(&mut self) -> Result<Option<Progress>, ApiError> {
        loop {
            if let Some(update) = self.ready.pop_front() {
                return Ok(Some(update));
            }
            if self.ended {
                return Ok(None);
            }
            let chunk = self
                .resp
                .chunk()
                .await
                .map_err(|e| disconnected(root_cause(&e)))?;
            let ready = &mut self.ready;
            let push = |line: &[u8]| -> Result<(), ApiError> {
                ready.push_back(decode(line)?);
                Ok(())
            };
            match chunk {
                Some(bytes) => self.splitter.feed(&bytes, push)?,
                None => {
                    self.ended = true;
                    self.splitter.finish(push)?;
                }
            }
        }
    }
}

/// One line of a progress stream.
pub fn decode(line: &[u8]) -> Result<Progress, DecodeError> {
    serde_json::from_slice(line).map_err(|source| DecodeError::new(line, source))
}

/// How much of a file one read of an upload takes.
const UPLOAD_CHUNK: usize = 1 << 20;

/// The file as a streamed request body that counts the bytes sent.
async fn file_body(path: &Path, sent: Arc<AtomicU64>) -> std::io::Result<reqwest::Body> {
    let file = tokio::fs::File::open(path).await?;
    let stream = futures_util::stream::unfold(Some(file), move |file| {
        let sent = Arc::clone(&sent);
        async move {
            let mut file = file?;
            let mut buf = vec![0u8; UPLOAD_CHUNK];
            match file.read(&mut buf).await {
                Ok(0) => None,
                Ok(n) => {
                    buf.truncate(n);
                    sent.fetch_add(n as u64, Ordering::Relaxed);
                    Some((Ok(Bytes::from(buf)), Some(file)))
                }
                Err(e) => Some((Err(e), None)),
            }
        }
    });
    Ok(reqwest::Body::wrap_stream(stream))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_the_recorded_create_failure() {
        let u = decode(br#"{"status":"pulling manifest"}"#).unwrap();
        assert_eq!(u.status, "pulling manifest");
        let e = decode(br#"{"error":"pull model manifest: Get \"https://registry.ollama.ai/v2/library/does-not-exist/manifests/latest\": dial tcp: lookup registry.ollama.ai on 10.255.255.53:53: no such host"}"#).unwrap();
        assert!(e
            .error
            .unwrap()
            .raw()
            .starts_with("pull model manifest: Get"));
        assert!(decode(b"{not json").is_err());
    }
}
