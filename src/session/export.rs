//! A session in other shapes: Markdown to read or share, and a `POST /api/chat` body (the current
//! history, model and options) that `curl -d @file` can send.

use std::fmt::Write as _;

use super::blobs::Blobs;
use super::format::Change;
use super::load::Loaded;
use super::short_id;
use super::state::SessionState;
use super::text::{describe, options_text, stats_text};
use crate::backend::Api;
use crate::conversation::{ChatRequest, Image};
use crate::error::{human_bytes, ApiError};

/// The request the session's next turn would build from, without a new message, as `api` takes
/// it: encoded by the same adapter that sends it, so it is exactly what the client sends.
/// `stream` is off so that a plain `curl` prints one JSON answer.
pub fn to_request_json(l: &Loaded, api: Api) -> Result<String, ApiError> {
    let st = &l.state;
    let request = ChatRequest {
        model: &st.model,
        messages: st.messages(),
        stream: false,
        options: &st.options,
        format: None,
        think: None,
        keep_alive: None,
        tools: &[],
        strict_window: false,
    };
    let body = api.request_body(&request)?;
    let mut s = serde_json::to_string_pretty(&body).expect("a JSON value always serialises");
    s.push('\n');
    Ok(s)
}

/// Everything that happened, as Markdown.
pub fn to_markdown(l: &Loaded) -> String {
    let h = &l.header;
    let mut md = String::new();
    let title = match &l.state.name {
        Some(n) => format!("{n} ({})", short_id(&h.id)),
        None => format!("Session {}", short_id(&h.id)),
    };
    let _ = writeln!(md, "# {title}\n");
    let started = h.created.with_timezone(&chrono::Local);
    let _ = writeln!(md, "- Started: {}", started.format("%Y-%m-%d %H:%M %:z"));
    if let Some(p) = h.parent {
        let _ = writeln!(
            md,
            "- Branched from: session `{}` at turn {}",
            short_id(&p.id),
            p.turn
        );
    }
    let _ = writeln!(md, "- Model: `{}` at {}", h.model, h.host);
    let _ = writeln!(md, "- Options: {}", options_text(&h.options));
    if let Some(s) = &h.system {
        let _ = writeln!(md, "- System prompt:\n\n{}", quote(s));
    }
    let mut state = SessionState::from_header(h);
    for e in &l.events {
        match &e.change {
            Change::User { content, images } => {
                let _ = write!(md, "\n## User\n\n{}\n", content.trim_end());
                for i in images {
                    let _ = write!(md, "\n{}\n", image_link(l, i));
                }
            }
            Change::Assistant(r) => {
                let _ = write!(md, "\n## Assistant\n\n");
                if !r.thinking.is_empty() {
                    let _ = write!(
                        md,
                        "<details><summary>Thinking</summary>\n\n{}\n\n</details>\n\n",
                        r.thinking.trim_end()
                    );
                }
                if !r.content.is_empty() {
                    let _ = writeln!(md, "{}\n", r.content.trim_end());
                }
                let _ = writeln!(md, "*{}*", stats_text(&state.model, r));
            }
            other => {
                let _ = write!(md, "\n---\n\n*{}*\n", describe(other));
            }
        }
        let _ = state.apply(e);
    }
    md
}

/// `![cat.png](<…/blobs/sha256-…>)`: the image as saved beside the session (its bytes are not
/// in the file), with its type and size in the title.
fn image_link(l: &Loaded, i: &Image) -> String {
    let blob = l
        .path
        .as_deref()
        .map(Blobs::beside)
        .and_then(|b| b.path(&i.sha256));
    let alt = i.name.replace(['[', ']'], "");
    match blob {
        Some(p) => format!(
            "![{alt}](<{}> \"{}, {}\")",
            p.display(),
            i.media_type,
            human_bytes(i.size)
        ),
        None => format!("*[image: {alt}, {}]*", human_bytes(i.size)),
    }
}

fn quote(s: &str) -> String {
    s.lines()
        .map(|l| format!("> {l}"))
        .collect::<Vec<_>>()
        .join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::conversation::TurnStatus;
    use crate::options::Options;
    use crate::session::format::{event_line, header_line, Event, Header, Reply};
    use crate::session::load::parse;

    fn loaded() -> Loaded {
        let mut o = Options::default();
        o.set("temperature", "0.3").unwrap();
        let h = Header::new("tiny:latest", "http://h", Some("你是老師"), &o);
        let mut text = header_line(&h) + "\n";
        for c in [
            Change::User {
                content: "你好".into(),
                images: Vec::new(),
            },
            Change::Assistant(Reply {
                content: "您好！".into(),
                thinking: "greet".into(),
                status: TurnStatus::Ok,
                error: None,
                latency: 0.5,
                ttft: Some(0.1),
                prompt_tokens: Some(3),
                completion_tokens: Some(2),
                tokens_per_second: None,
                done_reason: Some("stop".into()),
                tool_calls: Vec::new(),
            }),
            Change::Name {
                name: "greeting".into(),
            },
        ] {
            text += &(event_line(&Event::now(c)) + "\n");
        }
        parse(text.as_bytes(), None).unwrap()
    }

    #[test]
    fn images_are_linked_to_their_blobs() {
        let mut l = loaded();
        let img = Image::from_bytes("貓 [1].png", "image/png", &[0u8; 1500]);
        l.path = Some("/s/sessions/a.jsonl".into());
        assert_eq!(
            image_link(&l, &img),
            format!(
                "![貓 1.png](</s/sessions/blobs/sha256-{}> \"image/png, 1.5 KB\")",
                img.sha256
            )
        );
        l.path = None;
        assert_eq!(image_link(&l, &img), "*[image: 貓 1.png, 1.5 KB]*");
    }

    #[test]
    fn json_is_a_chat_request_body() {
        let v: serde_json::Value =
            serde_json::from_str(&to_request_json(&loaded(), crate::backend::Api::Ollama).unwrap())
                .unwrap();
        assert_eq!(
            v,
            serde_json::json!({
                "model": "tiny:latest",
                "messages": [
                    {"role": "system", "content": "你是老師"},
                    {"role": "user", "content": "你好"},
                    {"role": "assistant", "content": "您好！"}
                ],
                "stream": false,
                "options": {"temperature": 0.3}
            })
        );
    }

    #[test]
    fn markdown_has_every_turn_and_event() {
        let md = to_markdown(&loaded());
        assert!(md.starts_with("# greeting ("));
        assert!(md.contains("> 你是老師"));
        assert!(md.contains("## User\n\n你好\n"));
        assert!(md.contains("## Assistant\n\n<details><summary>Thinking</summary>\n\ngreet"));
        assert!(md.contains("您好！\n\n*tiny:latest · 0.50 s"));
        assert!(md.contains("*named \"greeting\"*"));
    }
}
