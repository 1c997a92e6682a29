//! The one seam between the chat and the server it talks to, and the only module that knows which
//! APIs exist: Ollama's own (`ollama`), the OpenAI-compatible one (`openai`) and Anthropic's
//! Messages API (`anthropic`). Everything above
//! it asks a [`Backend`] and gets the conversation's own types back, or a typed "this server
//! cannot" ([`ApiError::Unsupported`]) that the caller turns into one clear line.
//!
//! Replies of every API become the same events (`ChatEvent`), handed out per network read so the
//! turn can flush once per read.

use std::path::Path;
use std::sync::atomic::AtomicU64;
use std::sync::Arc;

use bytes::Bytes;

use crate::conversation::{ChatEvent, ChatRequest};
use crate::error::{ApiError, FeedError, Secrets};
use crate::models::{CreateRequest, Embeddings, LoadedModel, ModelInfo, ModelSummary, Progress};
use crate::turn::{Reply, ReplySource};
use crate::untrusted::Untrusted;
use crate::{anthropic, ollama, openai};

/// Which API the server speaks, chosen with `--api` or `OLLAMA_CHAT_API`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum Api {
    /// Ollama's own API (`/api/chat`): every option, `keep_alive`, model management.
    #[default]
    Ollama,
    /// The OpenAI chat-completions API (`/chat/completions`): OpenAI, vLLM, llama.cpp, Ollama's /v1.
    #[value(name = "openai")]
    OpenAi,
    /// Anthropic's Messages API (`/v1/messages`): Anthropic, Ollama's /v1/messages.
    Anthropic,
}

impl Api {
    pub fn parse(s: &str) -> Option<Api> {
        match s.trim().to_ascii_lowercase().as_str() {
            "ollama" => Some(Api::Ollama),
            "openai" => Some(Api::OpenAi),
            "anthropic" => Some(Api::Anthropic),
            _ => None,
        }
    }

    /// The name `--api` takes.
    pub fn name(self) -> &'static str {
        match self {
            Api::Ollama => "ollama",
            Api::OpenAi => "openai",
            Api::Anthropic => "anthropic",
        }
    }

    /// Where the server is when `--base-url` is not given (Ollama's comes from OLLAMA_HOST).
    pub fn default_base_url(self) -> Option<&'static str> {
        match self {
            Api::Ollama => None,
            Api::OpenAi => Some(openai::DEFAULT_BASE_URL),
            Api::Anthropic => Some(anthropic::DEFAULT_BASE_URL),
        }
    }

    /// Every name `--api` takes.
    pub fn names() -> Vec<&'static str> {
        use clap::ValueEnum;
        Api::value_variants().iter().map(|a| a.name()).collect()
    }

    /// The environment variable (or `.env` entry) the base URL is read from.
    pub fn base_url_var(self) -> Option<&'static str> {
        match self {
            Api::Ollama => None,
            Api::OpenAi => Some("OPENAI_BASE_URL"),
            Api::Anthropic => Some("ANTHROPIC_BASE_URL"),
        }
    }

    /// The environment variable (or `.env` entry) the API key is read from.
    pub fn key_var(self) -> &'static str {
        match self {
            Api::Ollama => "OLLAMA_API_KEY",
            Api::OpenAi => "OPENAI_API_KEY",
            Api::Anthropic => anthropic::error::KEY_VAR,
        }
    }

    /// What a client of this API at `base_url` with `api_key` sends that must never be shown:
    /// the key, and a password in the URL (which reqwest sends as Basic authentication).
    pub fn secrets(self, base_url: &str, api_key: Option<&str>) -> Secrets {
        let mut secrets = Secrets::new();
        if let Some(key) = api_key {
            secrets.add(self.key_var(), key);
        }
        secrets.add_url_password(self.base_url_var().unwrap_or("OLLAMA_HOST"), base_url);
        secrets
    }

    /// Whether a remote server of this API needs a key (a loopback one never does).
    pub fn needs_key(self) -> bool {
        !matches!(self, Api::Ollama)
    }

    /// The JSON body this API's chat endpoint takes for `req` (what `sessions export` writes).
    pub fn request_body(self, req: &ChatRequest<'_>) -> Result<serde_json::Value, ApiError> {
        let body = match self {
            Api::Ollama => serde_json::to_value(ollama::wire::WireRequest::from(req)),
            Api::OpenAi => {
                let body = openai::wire::CompletionRequest::from_chat(req)
                    .map_err(|e| ApiError::Request(e.to_string().into()))?;
                serde_json::to_value(body)
            }
            Api::Anthropic => {
                let body = anthropic::wire::MessagesRequest::from_chat(req)
                    .map_err(|e| ApiError::Request(e.to_string().into()))?;
                serde_json::to_value(body)
            }
        };
        body.map_err(|e| ApiError::Request(format!("cannot encode the request: {e}").into()))
    }

    /// Refuses, before anything is sent, settings this API cannot express: a user who asked for
    /// `num_ctx=8192` must not get a silently different answer.
    pub fn check_request(self, req: &ChatRequest<'_>) -> Result<(), ApiError> {
        match self {
            Api::Ollama => Ok(()),
            Api::OpenAi => openai::wire::CompletionRequest::from_chat(req)
                .map(drop)
                .map_err(|e| ApiError::Request(e.to_string().into())),
            Api::Anthropic => anthropic::wire::MessagesRequest::from_chat(req)
                .map(drop)
                .map_err(|e| ApiError::Request(e.to_string().into())),
        }
    }
}

/// What a server can do besides chatting, so callers can say so before asking.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Capabilities {
    /// It reports a model's facts and the loaded models' windows (`/api/show`, `/api/ps`), so the
    /// context window can be learned.
    pub model_facts: bool,
    /// It pulls, creates, copies and deletes models.
    pub manage_models: bool,
}

/// A client for the configured server. Every error leaving it has the secrets it sends blanked
/// (see [`Secrets`]), whatever the server echoed back.
#[derive(Debug, Clone)]
pub struct Backend {
    client: Client,
    secrets: Arc<Secrets>,
    /// The base URL with any password blanked: what is shown, logged and recorded.
    shown_url: String,
    /// The longest stream line or event a reply may send, in bytes (`--max-line`).
    max_line: usize,
}

/// The default of `--max-line`: the stream decoders' own limit.
pub const DEFAULT_MAX_LINE: usize = crate::sse::MAX_EVENT;

#[derive(Debug, Clone)]
enum Client {
    Ollama(ollama::Client),
    OpenAi(openai::Client),
    Anthropic(anthropic::Client),
}

impl Backend {
    /// A client for `api` at `base_url`; the key is sent as the API wants it, never shown.
    pub fn new(api: Api, base_url: &str, api_key: Option<String>) -> Result<Backend, ApiError> {
        let secrets = Arc::new(api.secrets(base_url, api_key.as_deref()));
        let client = match api {
            Api::Ollama => ollama::Client::new(base_url, api_key).map(Client::Ollama),
            Api::OpenAi => openai::Client::new(base_url, api_key).map(Client::OpenAi),
            Api::Anthropic => anthropic::Client::new(base_url, api_key).map(Client::Anthropic),
        }
        .map_err(|e| e.scrub(&secrets))?;
        let placeholder = format!("<{} password>", api.base_url_var().unwrap_or("OLLAMA_HOST"));
        let shown_url =
            crate::error::blank_url_password(&secrets.scrub(client_url(&client)), &placeholder);
        Ok(Backend {
            client,
            secrets,
            shown_url,
            max_line: DEFAULT_MAX_LINE,
        })
    }

    /// What this client sends that must never be shown or written: for the last line of
    /// defence where error texts are written (the turn log, the session file).
    pub fn secrets(&self) -> &Secrets {
        &self.secrets
    }

    pub fn api(&self) -> Api {
        match self.client {
            Client::Ollama(_) => Api::Ollama,
            Client::OpenAi(_) => Api::OpenAi,
            Client::Anthropic(_) => Api::Anthropic,
        }
    }

    /// The server's address as shown, logged and recorded: any password in it blanked.
    pub fn base_url(&self) -> &str {
        &self.shown_url
    }

    /// The same backend sending `headers` (name, value) with every request; their values join
    /// the secrets no error may show.
    pub fn with_headers(mut self, headers: &[(String, String)]) -> Result<Backend, ApiError> {
        if headers.is_empty() {
            return Ok(self);
        }
        let mut map = reqwest::header::HeaderMap::new();
        let secrets = Arc::make_mut(&mut self.secrets);
        for (name, value) in headers {
            let bad = || ApiError::Request(format!("--header {name}: not a valid header").into());
            let n = reqwest::header::HeaderName::from_bytes(name.as_bytes()).map_err(|_| bad())?;
            let mut v = reqwest::header::HeaderValue::from_str(value).map_err(|_| bad())?;
            v.set_sensitive(true);
            map.append(n, v);
            secrets.add(&format!("{name} header"), value);
        }
        self.client = match self.client {
            Client::Ollama(c) => Client::Ollama(c.with_headers(map)?),
            Client::OpenAi(c) => Client::OpenAi(c.with_headers(map)?),
            Client::Anthropic(c) => Client::Anthropic(c.with_headers(map)?),
        };
        Ok(self)
    }

    /// The same backend with another limit on a reply's stream lines and events.
    pub fn with_max_line(mut self, bytes: usize) -> Self {
        self.max_line = bytes;
        self
    }

    /// How errors and notes name the server.
    pub fn server_name(&self) -> &'static str {
        match self.client {
            Client::Ollama(_) => ollama::error::SERVER,
            Client::OpenAi(_) => openai::error::SERVER,
            Client::Anthropic(_) => anthropic::error::SERVER,
        }
    }

    pub fn capabilities(&self) -> Capabilities {
        let ollama = matches!(self.client, Client::Ollama(_));
        Capabilities {
            model_facts: ollama,
            manage_models: ollama,
        }
    }

    /// Sends one chat request and returns once the server has accepted it.
    pub async fn chat(&self, req: &ChatRequest<'_>) -> Result<ReplyStream, ApiError> {
        let inner = async {
            Ok(match &self.client {
                Client::Ollama(c) => Inner::Ollama(
                    ollama::Reply::new(c.chat(req).await?).with_max_line(self.max_line),
                ),
                Client::OpenAi(c) => {
                    Inner::OpenAi(Box::new(c.chat(req).await?.with_max_line(self.max_line)))
                }
                Client::Anthropic(c) => {
                    Inner::Anthropic(Box::new(c.chat(req).await?.with_max_line(self.max_line)))
                }
            })
        };
        let inner = self.scrubbed(inner.await)?;
        Ok(ReplyStream {
            inner,
            secrets: Arc::clone(&self.secrets),
        })
    }

    /// The result with the secrets blanked from its error: every error leaves through here.
    fn scrubbed<T>(&self, r: Result<T, ApiError>) -> Result<T, ApiError> {
        r.map_err(|e| e.scrub(&self.secrets))
    }

    /// The names of the models the server offers, sorted.
    pub async fn list_models(&self) -> Result<Vec<Untrusted>, ApiError> {
        let names = async {
            match &self.client {
                Client::Ollama(c) => {
                    let mut names: Vec<Untrusted> =
                        c.tags().await?.models.into_iter().map(|m| m.name).collect();
                    names.sort();
                    Ok(names)
                }
                Client::OpenAi(c) => c.models().await,
                Client::Anthropic(c) => c.models().await,
            }
        };
        self.scrubbed(names.await)
    }

    /// The installed models with what the server says of each (size, family, capabilities); a
    /// server that only names its models gives names alone.
    pub async fn installed_models(&self) -> Result<Vec<ModelSummary>, ApiError> {
        let names = match &self.client {
            Client::Ollama(c) => return self.scrubbed(c.tags().await.map(|t| t.models)),
            Client::OpenAi(c) => c.models().await,
            Client::Anthropic(c) => c.models().await,
        };
        let names = self.scrubbed(names)?;
        Ok(names.into_iter().map(ModelSummary::named).collect())
    }

    /// One vector per input, in order (Ollama's `/api/embed`, an OpenAI-compatible
    /// `/embeddings`); a server that gives another number of vectors is refused.
    pub async fn embed(
        &self,
        model: &str,
        input: &[String],
        dimensions: Option<u32>,
    ) -> Result<Embeddings, ApiError> {
        let embedded = match &self.client {
            Client::Ollama(c) => c.embed(model, input, dimensions).await,
            Client::OpenAi(c) => c.embed(model, input, dimensions).await,
            Client::Anthropic(_) => Err(ApiError::Unsupported {
                server: self.server_name(),
                what: "make embeddings",
                hint: Some("Ollama's API (--api ollama) or an OpenAI-compatible one can"),
            }),
        };
        let embedded = self.scrubbed(embedded)?;
        if embedded.vectors.len() != input.len() {
            return Err(ApiError::Unexpected {
                url: self.shown_url.clone(),
                reason: format!(
                    "{} vectors for {} inputs",
                    embedded.vectors.len(),
                    input.len()
                )
                .into(),
            });
        }
        Ok(embedded)
    }

    /// The models loaded in memory, with the window each was loaded with.
    pub async fn loaded_models(&self) -> Result<Vec<LoadedModel>, ApiError> {
        let ps = self.ollama("list the loaded models")?.ps().await;
        self.scrubbed(ps).map(|ps| ps.models)
    }

    /// One model's facts: parameters, template, system prompt, architecture, capabilities.
    pub async fn model_info(&self, model: &str) -> Result<ModelInfo, ApiError> {
        self.scrubbed(self.ollama("describe a model")?.show(model).await)
    }

    /// Loads the model with the request's options (a chat with no messages), so that
    /// `loaded_models` then shows the window our requests get.
    pub async fn load(&self, req: &ChatRequest<'_>) -> Result<(), ApiError> {
        self.scrubbed(self.ollama("load a model ahead of a chat")?.load(req).await)
    }

    /// Downloads a model; its progress arrives through the stream.
    pub async fn pull(&self, model: &str) -> Result<ProgressStream, ApiError> {
        let stream = self.scrubbed(self.manager("pull models")?.pull(model).await)?;
        Ok(ProgressStream(stream, Arc::clone(&self.secrets)))
    }

    /// Creates a model; its progress arrives through the stream.
    pub async fn create(&self, req: &CreateRequest) -> Result<ProgressStream, ApiError> {
        let stream = self.scrubbed(self.manager("create models")?.create(req).await)?;
        Ok(ProgressStream(stream, Arc::clone(&self.secrets)))
    }

    pub async fn copy(&self, source: &str, destination: &str) -> Result<(), ApiError> {
        self.scrubbed(self.manager("copy models")?.copy(source, destination).await)
    }

    pub async fn delete(&self, model: &str) -> Result<(), ApiError> {
        self.scrubbed(self.manager("delete models")?.delete(model).await)
    }

    /// Whether the server already has the file with this digest (creating from a local file).
    pub async fn blob_exists(&self, digest: &str) -> Result<bool, ApiError> {
        self.scrubbed(self.manager("create models")?.blob_exists(digest).await)
    }

    /// Uploads the file at `path` as the blob `digest`.
    /// `sent` counts the bytes sent, for a progress bar.
    pub async fn upload_blob(
        &self,
        digest: &str,
        path: &Path,
        sent: Arc<AtomicU64>,
    ) -> Result<(), ApiError> {
        let manager = self.manager("create models")?;
        self.scrubbed(manager.upload_file(digest, path, sent).await)
    }

    /// The Ollama client for what only Ollama's API offers, or the typed refusal.
    fn ollama(&self, what: &'static str) -> Result<&ollama::Client, ApiError> {
        match &self.client {
            Client::Ollama(c) => Ok(c),
            _ => Err(ApiError::Unsupported {
                server: self.server_name(),
                what,
                hint: Some("that needs Ollama's own API: --api ollama"),
            }),
        }
    }

    fn manager(&self, what: &'static str) -> Result<&ollama::Client, ApiError> {
        self.ollama(what)
    }
}

impl ReplySource for Backend {
    type Reply = ReplyStream;

    fn server_name(&self) -> &'static str {
        Backend::server_name(self)
    }

    async fn open(&self, request: &ChatRequest<'_>) -> Result<ReplyStream, ApiError> {
        self.chat(request).await
    }
}

fn client_url(client: &Client) -> &str {
    match client {
        Client::Ollama(c) => c.base_url(),
        Client::OpenAi(c) => c.base_url(),
        Client::Anthropic(c) => c.base_url(),
    }
}

/// The status stream of a pull or create. Dropping it closes the connection, which is how a pull
/// is cancelled.
pub struct ProgressStream(ollama::ProgressStream, Arc<Secrets>);

impl ProgressStream {
    /// The next status; `None` at the end. A failure inside the stream comes with `error` set.
    pub async fn next(&mut self) -> Result<Option<Progress>, ApiError> {
        match self.0.next().await {
            Ok(Some(mut p)) => {
                if let Some(e) = p.error.as_mut() {
                    e.edit(|t| *t = self.1.scrub(t).into_owned());
                }
                Ok(Some(p))
            }
            Ok(None) => Ok(None),
            Err(e) => Err(e.scrub(&self.1)),
        }
    }
}

/// A reply in flight. Dropping it closes the connection, which stops the server generating.
pub struct ReplyStream {
    inner: Inner,
    /// Blanked from every error the reply carries: a failed read, an error event, an
    /// unreadable line's excerpt.
    secrets: Arc<Secrets>,
}

enum Inner {
    Ollama(ollama::Reply),
    /// Boxed: a whole reqwest response, where Ollama's side holds only a channel.
    OpenAi(Box<openai::ChatResponse>),
    Anthropic(Box<anthropic::ChatResponse>),
}

impl Reply for ReplyStream {
    async fn read(&mut self) -> Result<Option<Bytes>, ApiError> {
        let r = match &mut self.inner {
            Inner::Ollama(r) => r.read().await,
            Inner::OpenAi(r) => r.read().await,
            Inner::Anthropic(r) => r.read().await,
        };
        r.map_err(|e| e.scrub(&self.secrets))
    }

    fn feed<E>(
        &mut self,
        bytes: &[u8],
        mut on_event: impl FnMut(ChatEvent<'_>) -> Result<(), E>,
    ) -> Result<(), FeedError<E>> {
        let secrets = &*self.secrets;
        let on_event = |ev: ChatEvent<'_>| on_event(scrub_event(ev, secrets));
        let r = match &mut self.inner {
            Inner::Ollama(r) => r.feed(bytes, on_event),
            Inner::OpenAi(r) => r.feed(bytes, on_event),
            Inner::Anthropic(r) => r.feed(bytes, on_event),
        };
        r.map_err(|e| scrub_feed_error(e, secrets))
    }

    fn finish<E>(
        &mut self,
        mut on_event: impl FnMut(ChatEvent<'_>) -> Result<(), E>,
    ) -> Result<(), FeedError<E>> {
        let secrets = &*self.secrets;
        let on_event = |ev: ChatEvent<'_>| on_event(scrub_event(ev, secrets));
        let r = match &mut self.inner {
            Inner::Ollama(r) => r.finish(on_event),
            Inner::OpenAi(r) => r.finish(on_event),
            Inner::Anthropic(r) => r.finish(on_event),
        };
        r.map_err(|e| scrub_feed_error(e, secrets))
    }
}

/// An error event with the secrets blanked from its text; the reply's own text is the model's,
/// and passes untouched.
fn scrub_event<'a>(ev: ChatEvent<'a>, secrets: &Secrets) -> ChatEvent<'a> {
    match ev {
        ChatEvent::Error(message) => ChatEvent::Error(secrets.scrub(&message).into_owned()),
        other => other,
    }
}

fn scrub_feed_error<E>(e: FeedError<E>, secrets: &Secrets) -> FeedError<E> {
    match e {
        FeedError::Decode(d) => FeedError::Decode(d.scrub(secrets)),
        sink => sink,
    }
}

/// The model list as the REPL's `/models` shows it: one per line, the current one marked.
pub fn describe_models(names: &[Untrusted], current: &str) -> String {
    if names.is_empty() {
        return "The server offers no models.".to_string();
    }
    names
        .iter()
        .map(|n| {
            let mark = if n.raw() == current { "*" } else { " " };
            format!("{mark} {n}")
        })
        .collect::<Vec<_>>()
        .join("\n")
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_shown_url_never_holds_the_password() {
        let b = super::Backend::new(super::Api::Ollama, "http://me:pw@h:1", None).unwrap();
        assert_eq!(b.base_url(), "http://me:<OLLAMA_HOST password>@h:1");
    }

    use super::*;

    #[test]
    fn api_names() {
        assert_eq!(Api::parse("openai"), Some(Api::OpenAi));
        assert_eq!(Api::parse(" Ollama "), Some(Api::Ollama));
        assert_eq!(Api::parse("nope"), None);
        assert_eq!(Api::parse("ANTHROPIC"), Some(Api::Anthropic));
        for api in [Api::Ollama, Api::OpenAi, Api::Anthropic] {
            assert_eq!(Api::parse(api.name()), Some(api));
        }
    }

    #[test]
    fn what_only_ollama_can_do_is_a_typed_refusal() {
        for api in [Api::OpenAi, Api::Anthropic] {
            let b = Backend::new(api, "http://127.0.0.1:1", None).unwrap();
            assert_eq!(b.api(), api);
            assert_eq!(b.server_name(), "the server");
            assert_eq!(
                b.capabilities(),
                Capabilities {
                    model_facts: false,
                    manage_models: false
                }
            );
            let rt = tokio::runtime::Builder::new_current_thread()
                .build()
                .unwrap();
            let e = rt.block_on(b.loaded_models()).unwrap_err();
            assert!(matches!(e, ApiError::Unsupported { .. }), "{e:?}");
            assert_eq!(e.exit_code(), crate::exit_code::ExitCode::Usage);
            assert!(e.to_string().contains("--api ollama"), "{e}");
            let e = rt.block_on(b.delete("m")).unwrap_err();
            assert!(matches!(e, ApiError::Unsupported { .. }), "{e:?}");
        }
    }

    #[test]
    fn anthropic_registration() {
        let a = Api::Anthropic;
        assert_eq!(a.name(), "anthropic");
        assert_eq!(a.default_base_url(), Some("https://api.anthropic.com"));
        assert_eq!(a.base_url_var(), Some("ANTHROPIC_BASE_URL"));
        assert_eq!(a.key_var(), "ANTHROPIC_API_KEY");
        assert!(a.needs_key());
        assert!(Api::names().contains(&"anthropic"));
        let messages = [crate::conversation::Message::new(
            crate::conversation::Role::System,
            "be brief",
        )];
        let o = crate::options::Options::default();
        let body = a
            .request_body(&ChatRequest::new("m", &messages, &o))
            .unwrap();
        assert_eq!(body["system"], "be brief");
        assert_eq!(body["max_tokens"], 4096);
        let mut o = crate::options::Options::default();
        o.set_pair("num_ctx=8").unwrap();
        let e = a
            .check_request(&ChatRequest::new("m", &[], &o))
            .unwrap_err();
        assert_eq!(e.exit_code(), crate::exit_code::ExitCode::Usage);
    }

    #[test]
    fn model_listing_marks_the_current_one() {
        let names = vec![Untrusted::from("a"), Untrusted::from("b")];
        assert_eq!(describe_models(&names, "b"), "  a\n* b");
        assert_eq!(describe_models(&[], "b"), "The server offers no models.");
    }
}
