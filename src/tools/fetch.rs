//! `fetch_url`: an HTTP(S) GET of text, with a size limit (the caller adds the time limit).

use serde_json::Value;

use super::fs::str_arg;
use super::ToolError;

/// The client the tool uses: no cookies, a few redirects, a short connect timeout.
pub fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::limited(5))
        .connect_timeout(std::time::Duration::from_secs(10))
        .user_agent(concat!("ollama-chat/", env!("CARGO_PKG_VERSION")))
        .build()
        .unwrap_or_default()
}

/// Whether a Content-Type is text the model can read.
fn is_text(content_type: &str) -> bool {
    let t = content_type
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    t.is_empty()
        || t.starts_with("text/")
        || t.ends_with("json")
        || t.ends_with("xml")
        || t.ends_with("+json")
        || t == "application/javascript"
}

/// `fetch_url {url}`: `HTTP <status>` and the body's text, at most `max` bytes read.
pub async fn fetch_url(
    http: &reqwest::Client,
    args: &Value,
    max: usize,
) -> Result<String, ToolError> {
    let url = str_arg(args, "url")?;
    let parsed =
        reqwest::Url::parse(url).map_err(|e| ToolError::Refused(format!("not a URL: {e}")))?;
    if !matches!(parsed.scheme(), "http" | "https") {
        return Err(ToolError::Refused(
            "only http:// and https:// URLs can be fetched".into(),
        ));
    }
    let mut resp = http
        .get(parsed)
        .send()
        .await
        .map_err(|e| ToolError::Failed(crate::net::root_cause(&e)))?;
    let status = resp.status();
    let content_type = resp
        .headers()
        .get(reqwest::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string();
    if !is_text(&content_type) {
        return Err(ToolError::Failed(format!(
            "HTTP {status}: the answer is {content_type}, not text"
        )));
    }
    let mut body = Vec::new();
    let mut cut = false;
    while let Some(chunk) = resp
        .chunk()
        .await
        .map_err(|e| ToolError::Failed(crate::net::root_cause(&e)))?
    {
        let room = max.saturating_sub(body.len());
        if chunk.len() > room {
            body.extend_from_slice(&chunk[..room]);
            cut = true;
            break;
        }
        body.extend_from_slice(&chunk);
    }
    let text = String::from_utf8_lossy(&body);
    let mut out = format!("HTTP {status}\n\n{text}");
    if cut {
        out.push_str(&format!("\n[cut: the first {max} bytes]"));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn text_types() {
        for t in [
            "text/html; charset=utf-8",
            "application/json",
            "application/ld+json",
            "image/svg+xml",
            "",
        ] {
            assert!(is_text(t), "{t}");
        }
        for t in ["image/png", "application/octet-stream", "application/pdf"] {
            assert!(!is_text(t), "{t}");
        }
    }

    #[tokio::test]
    async fn only_http_urls() {
        let http = client();
        for url in ["file:///etc/passwd", "ftp://x/y", "not a url"] {
            assert!(matches!(
                fetch_url(&http, &json!({ "url": url }), 100).await,
                Err(ToolError::Refused(_))
            ));
        }
    }
}
