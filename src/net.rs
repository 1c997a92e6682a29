//! What the APIs' HTTP clients share: the client itself, reading a failed answer, which URLs are this machine (no proxy, no key needed), the
//! innermost error message, and plain `http://` servers (a client for one loads no TLS
//! certificates, and so refuses a redirect to https with a message rather than failing obscurely).

use std::time::Duration;

use bytes::Bytes;
use reqwest::header::RETRY_AFTER;
use reqwest::redirect::{Action, Attempt, Policy};

use crate::conversation::Base64;
use crate::error::{size_text, ApiError};

/// A JSON request body that shares the images' base64 instead of copying it: the body is
/// serialised as usual, and when serde writes an image's text (in one piece, as it does for a
/// string with nothing to escape, also inside a `data:` URL) that piece is the image's own
/// shared copy. A 20 MB photo is then held once, not twice. Recognised by address and length,
/// so no text of the conversation can be mistaken for an image.
pub fn json_body<T: serde::Serialize>(
    value: &T,
    images: &[&Base64],
) -> serde_json::Result<Vec<Bytes>> {
    let mut w = SharingWriter {
        images,
        parts: Vec::new(),
        text: Vec::new(),
    };
    serde_json::to_writer(&mut w, value)?;
    let mut parts = w.parts;
    parts.push(Bytes::from(w.text));
    Ok(parts)
}

/// `request` with `parts` as its body, sent one after the other with the whole length said up
/// front (not chunked), as a body in one piece would be.
pub fn with_body(
    request: reqwest::RequestBuilder,
    mut parts: Vec<Bytes>,
) -> reqwest::RequestBuilder {
    if parts.len() == 1 {
        return request.body(parts.pop().unwrap_or_default());
    }
    let len: usize = parts.iter().map(Bytes::len).sum();
    let stream = futures_util::stream::iter(parts.into_iter().map(Ok::<Bytes, std::io::Error>));
    request
        .header(reqwest::header::CONTENT_LENGTH, len)
        .body(reqwest::Body::wrap_stream(stream))
}

struct SharingWriter<'a> {
    images: &'a [&'a Base64],
    parts: Vec<Bytes>,
    text: Vec<u8>,
}

impl std::io::Write for SharingWriter<'_> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let shared = self
            .images
            .iter()
            .find(|i| !i.is_empty() && i.as_str().as_ptr() == buf.as_ptr() && i.len() == buf.len());
        match shared {
            Some(image) => {
                self.parts.push(Bytes::from(std::mem::take(&mut self.text)));
                self.parts.push(image.to_bytes());
            }
            None => self.text.extend_from_slice(buf),
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// The HTTP client every API's adapter builds, once per run: a connect timeout, no Nagle delay,
/// our user agent; no proxy for this machine, and no TLS certificates for a plain `http://`
/// server (`setting` names what to change should it redirect to https).
pub fn http_client(base_url: &str, setting: &'static str) -> Result<reqwest::Client, ApiError> {
    http_client_with(base_url, setting, reqwest::header::HeaderMap::new())
}

/// The same, sending `headers` with every request (`--header`: a proxy's own authentication).
pub fn http_client_with(
    base_url: &str,
    setting: &'static str,
    headers: reqwest::header::HeaderMap,
) -> Result<reqwest::Client, ApiError> {
    let mut builder = reqwest::Client::builder()
        .default_headers(headers)
        .connect_timeout(Duration::from_secs(10))
        .tcp_nodelay(true)
        .user_agent(concat!("ollama-chat/", env!("CARGO_PKG_VERSION")));
    if is_loopback(base_url) {
        // A corporate HTTP_PROXY must not swallow requests meant for this machine.
        builder = builder.no_proxy();
    }
    without_tls_for_plain_http(builder, base_url, setting)
        .build()
        .map_err(|e| ApiError::Transport {
            url: base_url.to_string(),
            reason: e.to_string().into(),
        })
}

/// The standard phrase for an HTTP status, for an answer that gave no message of its own (529 is
/// Anthropic's "Overloaded", which the standard does not name).
pub fn reason_phrase(status: u16) -> &'static str {
    match status {
        529 => "Overloaded",
        _ => reqwest::StatusCode::from_u16(status)
            .ok()
            .and_then(|s| s.canonical_reason())
            .unwrap_or("no message"),
    }
}

/// What a failed answer said, read off the response for an adapter to classify.
#[derive(Debug, Clone, Default)]
pub struct FailedAnswer {
    pub status: u16,
    /// The URL that was asked, without its query.
    pub endpoint: String,
    /// `Retry-After`, as sent.
    pub retry_after: Option<String>,
    pub body: Bytes,
}

/// The most of a failed answer's body that is read: an error message is short, and a server that
/// answers a 500 with an endless page must not keep the client reading (or fill its memory).
pub const MAX_ERROR_BODY: usize = 64 * 1024;

/// The most characters of a server's error message that are shown.
pub const MAX_ERROR_EXCERPT: usize = 300;

/// Reads at most `cap` bytes of a response body, then stops (dropping the response then closes
/// the connection). A body that fails part-way gives what arrived before.
pub async fn read_capped(resp: &mut reqwest::Response, cap: usize) -> Bytes {
    let mut body = Vec::new();
    while body.len() < cap {
        match resp.chunk().await {
            Ok(Some(chunk)) => {
                let take = chunk.len().min(cap - body.len());
                body.extend_from_slice(&chunk[..take]);
            }
            Ok(None) | Err(_) => break,
        }
    }
    Bytes::from(body)
}

/// The most of a successful JSON answer (a model list, a model's facts, a model load) that is
/// read: far beyond any real one, small enough that a server whose answer never ends cannot keep
/// the client reading or fill its memory.
pub const MAX_JSON_BODY: usize = 16 * 1024 * 1024;

/// Why the body of a successful answer could not be read whole.
#[derive(Debug)]
pub enum BodyError {
    /// Longer than the limit (a broken or hostile server): the rest was not read.
    TooLarge { limit: usize },
    /// The connection failed part-way.
    Transport(reqwest::Error),
}

impl BodyError {
    /// The error it means for a request to `endpoint`; `transport` turns a connection failure
    /// into the adapter's own error.
    pub fn into_api(
        self,
        endpoint: &str,
        transport: impl FnOnce(reqwest::Error) -> ApiError,
    ) -> ApiError {
        match self {
            BodyError::TooLarge { limit } => ApiError::Unexpected {
                url: endpoint.to_string(),
                reason: format!(
                    "the answer is longer than {}, so it was not read",
                    size_text(limit)
                )
                .into(),
            },
            BodyError::Transport(e) => transport(e),
        }
    }
}

/// Adds one read to a body, refusing to grow it past `limit` bytes.
pub fn append_capped(body: &mut Vec<u8>, chunk: &[u8], limit: usize) -> Result<(), BodyError> {
    if chunk.len() > limit.saturating_sub(body.len()) {
        return Err(BodyError::TooLarge { limit });
    }
    body.extend_from_slice(chunk);
    Ok(())
}

/// Reads the whole body of a successful answer, at most `limit` bytes: a longer one (by its
/// `Content-Length`, or as it arrives) stops the reading with [`BodyError::TooLarge`].
pub async fn read_body(resp: &mut reqwest::Response, limit: usize) -> Result<Bytes, BodyError> {
    if resp.content_length().is_some_and(|n| n > limit as u64) {
        return Err(BodyError::TooLarge { limit });
    }
    let mut body = Vec::new();
    while let Some(chunk) = resp.chunk().await.map_err(BodyError::Transport)? {
        append_capped(&mut body, &chunk, limit)?;
    }
    Ok(Bytes::from(body))
}

/// A server's error message as shown: on one line (runs of whitespace become one space), at most
/// [`MAX_ERROR_EXCERPT`] characters, cut on a character boundary with `…` appended.
pub fn excerpt(text: &str) -> String {
    let mut out = String::new();
    for (n, word) in text.split_whitespace().enumerate() {
        if n > 0 {
            out.push(' ');
        }
        out.push_str(word);
        if out.len() > MAX_ERROR_EXCERPT * 4 {
            break; // enough to cut from; the rest of a huge text is never walked
        }
    }
    match out.char_indices().nth(MAX_ERROR_EXCERPT) {
        Some((i, _)) => {
            out.truncate(i);
            out.push('…');
            out
        }
        None => out,
    }
}

impl FailedAnswer {
    /// Reads the status, the address, `Retry-After` and at most [`MAX_ERROR_BODY`] of the body
    /// of a failed response.
    pub async fn read(mut resp: reqwest::Response) -> FailedAnswer {
        let retry_after = resp
            .headers()
            .get(RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        let mut endpoint = resp.url().clone();
        endpoint.set_query(None);
        FailedAnswer {
            status: resp.status().as_u16(),
            endpoint: endpoint.to_string(),
            retry_after,
            body: read_capped(&mut resp, MAX_ERROR_BODY).await,
        }
    }
}

/// Whether the URL points at this machine: such a server needs no API key, and a corporate
/// HTTP_PROXY must not swallow requests meant for it. The host is parsed, so
/// `127.0.0.1.example.com` is not mistaken for loopback.
pub fn is_loopback(base_url: &str) -> bool {
    let Ok(url) = reqwest::Url::parse(base_url) else {
        return false;
    };
    let host = url.host_str().unwrap_or("");
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    match bare.parse::<std::net::IpAddr>() {
        Ok(ip) => ip.is_loopback(),
        Err(_) => host.eq_ignore_ascii_case("localhost"),
    }
}

/// The innermost error message, which is the one that says what actually went wrong.
pub fn root_cause(e: &(dyn std::error::Error + 'static)) -> String {
    let mut cur = e;
    while let Some(next) = cur.source() {
        cur = next;
    }
    cur.to_string()
}

/// Whether `base_url` is plain HTTP (the scheme compared as URLs compare it, ignoring case).
pub fn is_plain_http(base_url: &str) -> bool {
    base_url
        .get(..7)
        .is_some_and(|scheme| scheme.eq_ignore_ascii_case("http://"))
}

/// For a plain `http://` base URL, a client without TLS certificates: loading the system's (a
/// folder scan and some 150 parses) was most of the start-up time, and plain HTTP needs none.
/// `setting` names what the user sets to the https address should the server redirect there
/// (e.g. "OLLAMA_HOST (or --host)"). Other base URLs get the builder back unchanged.
pub fn without_tls_for_plain_http(
    builder: reqwest::ClientBuilder,
    base_url: &str,
    setting: &'static str,
) -> reqwest::ClientBuilder {
    if !is_plain_http(base_url) {
        return builder;
    }
    builder
        .tls_certs_only(std::iter::empty())
        .redirect(Policy::custom(move |attempt| {
            refuse_https_redirect(attempt, setting)
        }))
}

/// Redirects as reqwest follows them by default (at most 10), except to https.
fn refuse_https_redirect(attempt: Attempt<'_>, setting: &str) -> Action {
    if attempt.url().scheme() == "https" {
        let message = redirect_message(attempt.url().as_str(), setting);
        attempt.error(message)
    } else if attempt.previous().len() >= 10 {
        attempt.error("too many redirects")
    } else {
        attempt.follow()
    }
}

fn redirect_message(to: &str, setting: &str) -> String {
    format!("the server redirected to {to}; set {setting} to the https address")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn images_are_shared_and_the_body_is_what_serde_writes() {
        use crate::conversation::Image;
        let img = Image::from_bytes("a.png", "image/png", &[7u8; 3000]);
        // The same text elsewhere (a copy, not the image's own) is written as text.
        let copy = img.data.as_str().to_string();
        let value = serde_json::json!({"a": "x\"y"});
        let body = (img.data.as_str(), &copy, value);
        let parts = json_body(&body, &[&img.data]).unwrap();
        let whole: Vec<u8> = parts.iter().flat_map(|p| p.to_vec()).collect();
        assert!(whole == serde_json::to_vec(&body).unwrap());
        let shared: Vec<&Bytes> = parts
            .iter()
            .filter(|p| p.as_ptr() == img.data.as_str().as_ptr())
            .collect();
        assert_eq!(shared.len(), 1, "the image once, its copy as text");
        assert_eq!(json_body(&"plain", &[]).unwrap().len(), 1);
    }

    #[test]
    fn loopback_detection() {
        assert!(is_loopback("http://127.0.0.1:11434"));
        assert!(!is_loopback("https://ollama.com:443"));
        assert!(is_loopback("http://127.0.0.1:11434/v1"));
        assert!(is_loopback("http://127.8.0.1/v1"));
        assert!(is_loopback("http://localhost:8000/v1"));
        assert!(is_loopback("http://[::1]:8080/v1"));
        assert!(!is_loopback("https://api.openai.com/v1"));
        assert!(!is_loopback("http://127.0.0.1.example.com/v1"));
        assert!(!is_loopback("http://10.0.0.5:8000/v1"));
        assert!(!is_loopback("not a url"));
    }

    #[test]
    fn plain_http_detection() {
        assert!(is_plain_http("http://127.0.0.1:11434"));
        assert!(is_plain_http("HTTP://example.com:80"));
        assert!(!is_plain_http("https://ollama.com:443"));
        assert!(!is_plain_http("http"));
        assert!(!is_plain_http(""));
    }

    #[test]
    fn the_redirect_message_says_what_to_set() {
        assert_eq!(
            redirect_message("https://h/v1/chat/completions", "--base-url"),
            "the server redirected to https://h/v1/chat/completions; set --base-url to the https address"
        );
    }

    #[test]
    fn clients_build_for_either_scheme() {
        for url in ["http://127.0.0.1:1", "https://127.0.0.1:1"] {
            let b = without_tls_for_plain_http(reqwest::Client::builder(), url, "X");
            assert!(b.build().is_ok(), "{url}");
        }
    }

    #[test]
    fn a_body_grows_up_to_its_limit_and_no_further() {
        let mut body = Vec::new();
        append_capped(&mut body, b"12345", 8).unwrap();
        append_capped(&mut body, b"678", 8).unwrap();
        assert_eq!(body, b"12345678", "exactly the limit fits");
        let refused = append_capped(&mut body, b"9", 8);
        assert!(matches!(refused, Err(BodyError::TooLarge { limit: 8 })));
        assert_eq!(body.len(), 8, "nothing past the limit is kept");
        let mut empty = Vec::new();
        assert!(append_capped(&mut empty, &[0; 9], 8).is_err());
        assert!(empty.is_empty());
    }

    #[test]
    fn a_body_too_large_is_one_line_naming_the_endpoint_and_the_limit() {
        let e = BodyError::TooLarge {
            limit: MAX_JSON_BODY,
        }
        .into_api("http://h:1/api/tags", |_| unreachable!());
        assert_eq!(
            e.to_string(),
            "unexpected answer from http://h:1/api/tags: the answer is longer than 16 MiB, so it was not read"
        );
    }

    #[test]
    fn an_excerpt_is_one_short_line_cut_on_a_character() {
        assert_eq!(
            excerpt("  model\n  failed\r\n\tto load "),
            "model failed to load"
        );
        assert_eq!(excerpt(""), "");
        let exact = "好".repeat(MAX_ERROR_EXCERPT);
        assert_eq!(excerpt(&exact), exact);
        let long = format!("{exact}好好");
        assert_eq!(excerpt(&long), format!("{exact}…"));
        let page = "<html>\n<p>oops</p>\n".repeat(100_000);
        let short = excerpt(&page);
        assert_eq!(short.chars().count(), MAX_ERROR_EXCERPT + 1);
        assert!(short.ends_with('…') && !short.contains('\n'));
    }
}
