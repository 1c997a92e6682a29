//! The HTTP side of an OpenAI-compatible server: `POST {base}/chat/completions` (streamed) and
//! `GET {base}/models`. Hands back response bytes; `stream` makes sense of them.

use crate::models::{EmbedRequest, Embeddings};
use bytes::Bytes;
use reqwest::header::CONTENT_TYPE;

use super::error::{self as err, classify, Failure};
use super::stream::EventDecoder;
use super::wire::{CompletionRequest, ModelList};
use crate::conversation::{Base64, ChatEvent, ChatRequest};
use crate::error::{ApiError, FeedError};
use crate::net::{
    http_client, json_body, read_body, root_cause, with_body, FailedAnswer, MAX_JSON_BODY,
};
use crate::sse::framing_of;
use crate::untrusted::Untrusted;

/// A connection to one OpenAI-compatible server, built once per run.
#[derive(Clone)]
pub struct Client {
    http: reqwest::Client,
    base_url: String,
    api_key: Option<String>,
}

impl std::fmt::Debug for Client {
    // Hand-written so the API key can never be printed by a `{:?}`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("openai::Client")
            .field("base_url", &self.base_url)
            .field("api_key", &self.api_key.as_ref().map(|_| "<set>"))
            .finish()
    }
}

impl Client {
    /// `base_url` as configured, e.g. `https://api.openai.com/v1` (a trailing `/` is dropped).
    pub fn new(base_url: &str, api_key: Option<String>) -> Result<Self, ApiError> {
        let base_url = base_url.trim_end_matches('/').to_string();
        let http = http_client(&base_url, "--base-url (or OPENAI_BASE_URL)")?;
        Ok(Client {
            http,
            base_url,
            api_key: api_key.filter(|k| !k.is_empty()),
        })
    }

    pub fn base_url(&self) -> &str {
        &self.base_url
    }

    /// The same client, sending `headers` with every request.
    pub fn with_headers(mut self, headers: reqwest::header::HeaderMap) -> Result<Self, ApiError> {
        self.http = crate::net::http_client_with(
            &self.base_url,
            "--base-url (or OPENAI_BASE_URL)",
            headers,
        )?;
        Ok(self)
    }

    fn request(&self, method: reqwest::Method, path: &str) -> reqwest::RequestBuilder {
        let mut rb = self
            .http
            .request(method, format!("{}{}", self.base_url, path));
        if let Some(key) = &self.api_key {
            rb = rb.bearer_auth(key); // marked sensitive: never shown in reqwest's debug output
        }
        rb
    }

    fn transport_error(&self, e: &reqwest::Error) -> ApiError {
        let reason = root_cause(e);
        if e.is_connect() || e.is_timeout() {
            err::unreachable(&self.base_url, reason)
        } else {
            ApiError::Transport {
                url: self.base_url.clone(),
                reason: reason.into(),
            }
        }
    }

    /// Sends the streaming request and returns once the server has answered with a success
    /// status; the reply then arrives through [`ChatResponse::chunk`]. Settings with no OpenAI
    /// equivalent are refused here, before anything is sent.
    pub async fn chat(&self, req: &ChatRequest<'_>) -> Result<ChatResponse, ApiError> {
        let body = CompletionRequest::from_chat(req)
            .map_err(|e| ApiError::Request(e.to_string().into()))?;
        let images: Vec<&Base64> = req
            .messages
            .iter()
            .flat_map(|m| m.images.iter().map(|i| &i.data))
            .collect();
        let body = json_body(&body, &images).map_err(|e| ApiError::Transport {
            url: self.base_url.clone(),
            reason: e.to_string().into(),
        })?;
        let request = self
            .request(reqwest::Method::POST, "/chat/completions")
            .header(CONTENT_TYPE, "application/json")
            .header(reqwest::header::ACCEPT, "text/event-stream");
        let resp = with_body(request, body)
            .send()
            .await
            .map_err(|e| self.transport_error(&e))?;
        let resp = match self.check(resp, Some(req.model)).await {
            Err(e @ ApiError::ModelNotFound { .. }) => {
                // Say what the server does serve; if it cannot say, the error stands as it is.
                let served = self.models().await.unwrap_or_default();
                return Err(e.with_served(&served));
            }
            other => other?,
        };
        let content_type = resp
            .headers()
            .get(CONTENT_TYPE)
            .and_then(|v| v.to_str().ok());
        let framing = framing_of(content_type).map_err(|reason| ApiError::Unexpected {
            url: self.base_url.clone(),
            reason: reason.into(),
        })?;
        Ok(ChatResponse {
            resp,
            decoder: EventDecoder::new(framing),
        })
    }

    /// `POST /embeddings`: one vector per input, put back in the inputs' order by `index`.
    pub async fn embed(
        &self,
        model: &str,
        input: &[String],
        dimensions: Option<u32>,
    ) -> Result<Embeddings, ApiError> {
        #[derive(serde::Deserialize)]
        struct Item {
            #[serde(default)]
            index: usize,
            #[serde(default)]
            embedding: Vec<f64>,
        }
        #[derive(serde::Deserialize, Default)]
        struct Usage {
            #[serde(default)]
            prompt_tokens: Option<u64>,
        }
        #[derive(serde::Deserialize)]
        struct Answer {
            #[serde(default)]
            data: Vec<Item>,
            #[serde(default)]
            usage: Option<Usage>,
        }
        let body = EmbedRequest {
            model,
            input,
            dimensions,
        }
        .body()?;
        let resp = self
            .request(reqwest::Method::POST, "/embeddings")
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .body(body)
            .send()
            .await
            .map_err(|e| self.transport_error(&e))?;
        let mut resp = self.check(resp, Some(model)).await?;
        let endpoint = format!("{}/embeddings", self.base_url);
        let bytes = read_body(&mut resp, MAX_JSON_BODY)
            .await
            .map_err(|e| e.into_api(&endpoint, |e| self.transport_error(&e)))?;
        let mut answer: Answer =
            serde_json::from_slice(&bytes).map_err(|e| ApiError::Unexpected {
                url: endpoint,
                reason: format!("not an embeddings answer ({e})").into(),
            })?;
        answer.data.sort_by_key(|d| d.index);
        Ok(Embeddings {
            vectors: answer.data.into_iter().map(|d| d.embedding).collect(),
            prompt_tokens: answer.usage.unwrap_or_default().prompt_tokens,
        })
    }

    /// `GET {base}/models`: the ids of the models the server offers, sorted.
    pub async fn models(&self) -> Result<Vec<Untrusted>, ApiError> {
        let resp = self
            .request(reqwest::Method::GET, "/models")
            .send()
            .await
            .map_err(|e| self.transport_error(&e))?;
        let mut resp = self.check(resp, None).await?;
        let endpoint = format!("{}/models", self.base_url);
        let bytes = read_body(&mut resp, MAX_JSON_BODY)
            .await
            .map_err(|e| e.into_api(&endpoint, |e| self.transport_error(&e)))?;
        let list: ModelList = serde_json::from_slice(&bytes).map_err(|e| ApiError::Unexpected {
            url: endpoint,
            reason: format!("not a model list ({e})").into(),
        })?;
        let mut ids: Vec<Untrusted> = list.data.into_iter().map(|m| m.id.into()).collect();
        ids.sort();
        ids.dedup();
        Ok(ids)
    }

    async fn check(
        &self,
        resp: reqwest::Response,
        model: Option<&str>,
    ) -> Result<reqwest::Response, ApiError> {
        if resp.status().is_success() {
            return Ok(resp);
        }
        let failed = FailedAnswer::read(resp).await;
        Err(classify(&Failure {
            url: &self.base_url,
            endpoint: &failed.endpoint,
            status: failed.status,
            body: &failed.body,
            retry_after: failed.retry_after.as_deref(),
            model,
            key_sent: self.api_key.is_some(),
        }))
    }
}

/// A reply in flight, as the turn reads it: network reads in, chat events out. Dropping it closes
/// the connection, which stops the server generating.
pub struct ChatResponse {
    resp: reqwest::Response,
    decoder: EventDecoder,
}

impl ChatResponse {
    /// The next bytes of the body as they came off the network; `None` at the end of the body.
    pub async fn read(&mut self) -> Result<Option<Bytes>, ApiError> {
        self.resp.chunk().await.map_err(|e| ApiError::Disconnected {
            server: err::SERVER,
            reason: root_cause(&e).into(),
        })
    }

    /// The same reply with another limit on a line's or an event's length (`--max-line`).
    pub fn with_max_line(mut self, limit: usize) -> Self {
        self.decoder.set_limit(limit);
        self
    }

    /// Decodes the bytes of one read into events.
    pub fn feed<E>(
        &mut self,
        bytes: &[u8],
        on_event: impl FnMut(ChatEvent<'_>) -> Result<(), E>,
    ) -> Result<(), FeedError<E>> {
        self.decoder.feed(bytes, on_event)
    }

    /// The body ended cleanly: decodes whatever was still held back.
    pub fn finish<E>(
        &mut self,
        on_event: impl FnMut(ChatEvent<'_>) -> Result<(), E>,
    ) -> Result<(), FeedError<E>> {
        self.decoder.finish(on_event)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_never_shows_the_key() {
        let c = Client::new("http://127.0.0.1:1/v1/", Some("sk-secret".into())).unwrap();
        assert!(!format!("{c:?}").contains("sk-secret"));
        assert_eq!(c.base_url(), "http://127.0.0.1:1/v1");
    }
}
