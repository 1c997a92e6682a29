//! The HTTP side of Ollama: sends requests and hands back response bytes. The only place that knows
//! reqwest.

use std::time::Duration;

use bytes::Bytes;
use reqwest::StatusCode;

use super::error::ApiError;
use super::wire::{ChatRequest, ErrorBody, TagsResponse};

/// A connection to one Ollama server, built once per run.
#[derive(Clone)]
pub struct Client {
    http: reqwest::Client,
    base_url: String,
    api_key: Option<String>,
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
        let http = builder.build().map_err(|e| ApiError::Transport {
            url: base_url.to_string(),
            reason: e.to_string(),
        })?;
        Ok(Client {
            http,
            base_url: base_url.trim_end_matches('/').to_string(),
            api_key: api_key.filter(|k| !k.is_empty()),
        })
    }

    pub fn base_url(&self) -> &str {
        &self.base_url
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

    pub(super) fn transport_error(&self, e: reqwest::Error) -> ApiError {
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
        let body = serde_json::to_vec(req).map_err(|e| ApiError::Transport {
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
        Ok(ChatResponse { resp })
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

    /// Loads the model with these options (a chat with no messages), so that `/api/ps` then shows
    /// the window our requests get.
    pub async fn load(&self, req: &ChatRequest<'_>) -> Result<(), ApiError> {
        let mut resp = self.chat(req).await?;
        while resp.chunk().await?.is_some() {}
        Ok(())
    }

    /// Turns a non-success status into the error it means, reading Ollama's `{"error": …}` body.
    pub(super) async fn check(
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

/// A chat reply in flight. Dropping it closes the connection, which is how Ollama is told to stop.
pub struct ChatResponse {
    resp: reqwest::Response,
}

impl ChatResponse {
    /// The next bytes of the body as they came off the network; `None` at the end of the body.
    pub async fn chunk(&mut self) -> Result<Option<Bytes>, ApiError> {
        self.resp.chunk().await.map_err(|e| ApiError::Disconnected {
            server: "Ollama",
            reason: root_cause(&e),
        })
    }
}

fn is_loopback(base_url: &str) -> bool {
    let rest = base_url.split_once("://").map_or(base_url, |(_, r)| r);
    rest.starts_with("127.") || rest.starts_with("localhost") || rest.starts_with("[::1]")
}

/// The innermost error message, which is the one that says what actually went wrong.
pub(super) fn root_cause(e: &(dyn std::error::Error + 'static)) -> String {
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

    #[test]
    fn debug_never_shows_the_key() {
        let c = Client::new("http://127.0.0.1:1", Some("sk-secret".into())).unwrap();
        assert!(!format!("{c:?}").contains("sk-secret"));
    }
}
