//! The one seam between the chat and the server it talks to: Ollama's own API or an
//! OpenAI-compatible one. The REPL, one-shot mode, the turn and the log use `Backend` and
//! `ReplyStream` and never learn which it is.
//!
//! Both kinds of reply become the same events (`ChatEvent`: text and thinking deltas, one `Done`
//! with the final statistics, or an `Error`), handed out per network read so the turn can flush
//! once per read.

use bytes::Bytes;

use crate::ollama::ndjson::{event, parse_chunk, DecodeError, LineSplitter};
use crate::ollama::wire::ChatRequest;
use crate::ollama::{self, ApiError};
use crate::openai::{self, stream::EventDecoder};

pub use crate::ollama::ndjson::ChatEvent;

/// Which API the server speaks, chosen with `--api` or `OLLAMA_CHAT_API`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum Api {
    /// Ollama's own API (`/api/chat`): every option, `keep_alive`, model management.
    #[default]
    Ollama,
    /// The OpenAI chat-completions API (`/chat/completions`): OpenAI, vLLM, llama.cpp, Ollama's /v1.
    #[value(name = "openai")]
    OpenAi,
}

impl Api {
    pub fn parse(s: &str) -> Option<Api> {
        match s.trim().to_ascii_lowercase().as_str() {
            "ollama" => Some(Api::Ollama),
            "openai" => Some(Api::OpenAi),
            _ => None,
        }
    }
}

/// A client for the configured server.
#[derive(Debug, Clone)]
pub enum Backend {
    Ollama(ollama::Client),
    OpenAi(openai::Client),
}

/// Why feeding bytes stopped: the server sent something unreadable, or the event sink failed.
#[derive(Debug)]
pub enum FeedError<E> {
    Decode(DecodeError),
    Sink(E),
}

impl Backend {
    /// A client for `api` at `base_url`; the key is sent as a bearer token, never shown.
    pub fn new(api: Api, base_url: &str, api_key: Option<String>) -> Result<Backend, ApiError> {
        Ok(match api {
            Api::Ollama => Backend::Ollama(ollama::Client::new(base_url, api_key)?),
            Api::OpenAi => Backend::OpenAi(openai::Client::new(base_url, api_key)?),
        })
    }

    pub fn api(&self) -> Api {
        match self {
            Backend::Ollama(_) => Api::Ollama,
            Backend::OpenAi(_) => Api::OpenAi,
        }
    }

    pub fn base_url(&self) -> &str {
        match self {
            Backend::Ollama(c) => c.base_url(),
            Backend::OpenAi(c) => c.base_url(),
        }
    }

    /// The Ollama client, for what only Ollama's API offers (`/show`, model details).
    pub fn ollama(&self) -> Option<&ollama::Client> {
        match self {
            Backend::Ollama(c) => Some(c),
            Backend::OpenAi(_) => None,
        }
    }

    /// How errors name the server.
    pub fn server_name(&self) -> &'static str {
        match self {
            Backend::Ollama(_) => "Ollama",
            Backend::OpenAi(_) => "the server",
        }
    }

    /// Sends one chat request and returns once the server has accepted it.
    pub async fn chat(&self, req: &ChatRequest<'_>) -> Result<ReplyStream, ApiError> {
        let inner = match self {
            Backend::Ollama(c) => Inner::Ollama {
                resp: c.chat(req).await?,
                lines: LineSplitter::new(),
                ended: false,
            },
            Backend::OpenAi(c) => {
                let resp = c.chat(req).await?;
                let decoder = EventDecoder::new(resp.framing());
                Inner::OpenAi {
                    resp: Box::new(resp),
                    decoder,
                }
            }
        };
        Ok(ReplyStream { inner })
    }

    /// The models the server offers, sorted by name.
    pub async fn list_models(&self) -> Result<Vec<String>, ApiError> {
        match self {
            Backend::Ollama(c) => {
                let mut names: Vec<String> =
                    c.tags().await?.models.into_iter().map(|m| m.name).collect();
                names.sort();
                Ok(names)
            }
            Backend::OpenAi(c) => Ok(c.models().await?),
        }
    }
}

/// A reply in flight. Dropping it closes the connection, which stops the server generating.
pub struct ReplyStream {
    inner: Inner,
}

enum Inner {
    Ollama {
        resp: ollama::ChatResponse,
        lines: LineSplitter,
        /// The final chunk or an error line was seen: nothing after it counts.
        ended: bool,
    },
    OpenAi {
        /// Boxed: a whole reqwest response, where Ollama's side holds only a channel.
        resp: Box<openai::ChatResponse>,
        decoder: EventDecoder,
    },
}

impl ReplyStream {
    /// The next bytes off the network; `None` at the end of the body.
    pub async fn read(&mut self) -> Result<Option<Bytes>, ApiError> {
        match &mut self.inner {
            Inner::Ollama { resp, .. } => resp.chunk().await,
            Inner::OpenAi { resp, .. } => resp.chunk().await.map_err(|e| ApiError::Disconnected {
                server: "the server",
                reason: crate::net::root_cause(&e),
            }),
        }
    }

    /// Decodes the bytes of one read into events.
    pub fn feed<E>(
        &mut self,
        bytes: &[u8],
        on_event: impl FnMut(ChatEvent<'_>) -> Result<(), E>,
    ) -> Result<(), FeedError<E>> {
        match &mut self.inner {
            Inner::Ollama { lines, ended, .. } => {
                let mut on_line = ndjson_events(ended, on_event);
                lines.feed(bytes, &mut on_line)
            }
            Inner::OpenAi { decoder, .. } => decoder.feed(bytes, on_event),
        }
    }

    /// The body ended cleanly: decodes whatever was still held back.
    pub fn finish<E>(
        &mut self,
        on_event: impl FnMut(ChatEvent<'_>) -> Result<(), E>,
    ) -> Result<(), FeedError<E>> {
        match &mut self.inner {
            Inner::Ollama { lines, ended, .. } => {
                let mut on_line = ndjson_events(ended, on_event);
                lines.finish(&mut on_line)
            }
            Inner::OpenAi { decoder, .. } => decoder.finish(on_event),
        }
    }
}

/// NDJSON line → event, ignoring everything after the final chunk or an error line.
fn ndjson_events<'e, E>(
    ended: &'e mut bool,
    mut on_event: impl FnMut(ChatEvent<'_>) -> Result<(), E> + 'e,
) -> impl FnMut(&[u8]) -> Result<(), FeedError<E>> + 'e {
    move |line| {
        if *ended {
            return Ok(());
        }
        let chunk = parse_chunk(line).map_err(FeedError::Decode)?;
        let ev = event(&chunk);
        if matches!(ev, ChatEvent::Done { .. } | ChatEvent::Error(_)) {
            *ended = true;
        }
        on_event(ev).map_err(FeedError::Sink)
    }
}

/// The model list as the REPL's `/models` shows it: one per line, the current one marked.
pub fn describe_models(names: &[String], current: &str) -> String {
    if names.is_empty() {
        return "The server offers no models.".to_string();
    }
    names
        .iter()
        .map(|n| {
            let mark = if n == current { "*" } else { " " };
            format!("{mark} {n}")
        })
        .collect::<Vec<_>>()
        .join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn api_names() {
        assert_eq!(Api::parse("openai"), Some(Api::OpenAi));
        assert_eq!(Api::parse(" Ollama "), Some(Api::Ollama));
        assert_eq!(Api::parse("anthropic"), None);
    }

    #[test]
    fn ndjson_events_stop_after_the_final_chunk() {
        let mut ended = false;
        let mut seen = Vec::new();
        let mut lines = LineSplitter::new();
        let body = b"{\"message\":{\"content\":\"a\"},\"done\":false}\n{\"done\":true,\"done_reason\":\"stop\"}\nnot json\n";
        let r = {
            let mut on_line = ndjson_events(&mut ended, |ev: ChatEvent<'_>| {
                seen.push(format!("{ev:?}"));
                Ok::<(), ()>(())
            });
            lines.feed(body, &mut on_line)
        };
        assert!(r.is_ok(), "garbage after the final chunk is ignored");
        assert!(ended);
        assert_eq!(seen.len(), 2);
    }

    #[test]
    fn model_listing_marks_the_current_one() {
        let names = vec!["a".to_string(), "b".to_string()];
        assert_eq!(describe_models(&names, "b"), "  a\n* b");
        assert_eq!(describe_models(&[], "b"), "The server offers no models.");
    }
}
