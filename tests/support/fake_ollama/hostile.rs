//! Hostile mode: the fake as an attacker's server, one class of hostility at a time (issue 14),
//! each served on every route where it makes sense and in each API's own frames. The classes:
//! escape sequences in every field the server controls, the request's key echoed into error
//! texts, an endless stream line or event, endless bodies, keep-alives forever, and absurd
//! numbers. Endless answers are generated as they are written: the fake never holds more than
//! one piece of one, and stops when the client hangs up or the server is dropped.

use std::fmt::Write as _;
use std::time::{Duration, Instant, SystemTime};

use serde_json::Value;

use super::anthropic::AnthropicFrames;
use super::chat::OllamaFrames;
use super::http::{response_head, After, BodyOut, Conn, Framing, Gone, Request};
use super::json::{first_json_value, go_str, rfc3339_nano, str_field};
use super::openai::OpenAiFrames;
use super::reply::{play, send_error, Frames, Part, Plan};
use super::routes::JSON;
use super::{model_entries, FakeOllama};

// ============================================================================================
// Public API
// ============================================================================================

/// One class of hostile answers. While a class is set it overrides queued replies and the
/// default behaviour of the routes it names; the other routes answer as usual.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Hostile {
    /// [`ESCAPES`] in every field the server controls: an extra installed model named
    /// [`hostile_model_name`] (loaded, too, by any chat), and the details of every model, in
    /// `/api/tags`, `/api/show` (details, template, system, parameters, Modelfile, license),
    /// `/api/ps` and `/v1/models`;
    /// in a chat, the reply's model, thinking, text and done/stop reason, and the failure as
    /// [`Failure`] says (its text is [`ESCAPES`] too).
    Escapes(Failure),
    /// The request's `Authorization` and `x-api-key` headers, as sent, in the text of the chat's
    /// failure ([`Failure::None`] has no failure, so nothing is echoed).
    EchoKeys(Failure),
    /// A streamed chat gets its 200 head (and Anthropic's `message_start`), then one NDJSON line
    /// or SSE event, in the API's frame, that never ends.
    EndlessLine,
    /// A 200 body that never ends on `/api/tags`, `/api/show`, `/api/ps`, `/v1/models` and a
    /// `"stream": false` chat (Ollama's model load); a streamed chat is a 500 whose error body
    /// never ends.
    EndlessBody,
    /// A streamed chat gets its 200 head (and Anthropic's `message_start`), then keep-alives and
    /// nothing else, forever: blank NDJSON lines, SSE comments (`: keep-alive`), Anthropic pings.
    KeepAlivesForever,
    /// Absurd numbers. Chat replies stream normally and end with token counts that alternate per
    /// chat: odd chats near `u64::MAX`, even ones `u32::MAX` (under the client's plausibility
    /// bound, far over any window); Ollama's durations are `u64::MAX` and `i64` negatives, OpenAI's
    /// `total_tokens` is -1, Anthropic's cache counts are near `u64::MAX`. `/api/tags` sizes,
    /// `/api/show` `num_ctx` and context length and `/api/ps` `context_length` are near
    /// `u64::MAX`.
    AbsurdNumbers,
}

/// How a hostile chat ends.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Failure {
    /// A successful reply.
    None,
    /// This status before any stream, with an error body in the API's shape.
    Status(u16),
    /// A 502 `text/html` page, as a proxy in front of the server answers.
    HtmlPage,
    /// One token, then an error inside the 200 stream: Ollama's `{"error":…}` line, OpenAI's error
    /// event, Anthropic's `event: error`.
    InStream,
}

/// Every kind of terminal escape a server could try: clear screen (CSI 2J), window title (OSC 0),
/// clipboard write (OSC 52), a DCS string, a device-status query (CSI 6n, whose answer a terminal
/// types into the input), a C1 CSI (U+009B), a right-to-left override (U+202E), BEL, a lone CR
/// and NUL, DEL. The words `pwned` and `evil` show where the text went.
pub const ESCAPES: &str = "pwned\x1b[2J\x1b]0;evil-title\x07\x1b]52;c;ZXZpbA==\x07\x1bP+q544e\x1b\\\x1b[6n\u{9b}31m\u{202e}evil\x07\r\x00\x7f";

/// The extra model the escapes class installs: a name full of [`ESCAPES`].
pub fn hostile_model_name() -> String {
    format!("evil{ESCAPES}:latest")
}

impl FakeOllama {
    /// Serves one class of hostile answers from now on; `None` returns to normal answers. The
    /// escapes class also installs [`hostile_model_name`] (after the models set so far).
    pub fn set_hostile(&self, hostile: Option<Hostile>) {
        let mut state = self.shared.lock();
        if matches!(hostile, Some(Hostile::Escapes(_))) {
            let name = hostile_model_name();
            if !state.models.iter().any(|m| m.name == name) {
                state.models.extend(model_entries(&[name.as_str()]));
            }
        }
        state.hostile = hostile;
    }
}

// ============================================================================================
// Model listings and facts
// ============================================================================================

/// Which listing or fact route is answering.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Listing {
    Tags,
    Show,
    Ps,
    V1Models,
}

/// The class in force, if any.
pub(crate) fn hostile(conn: &Conn) -> Option<Hostile> {
    conn.shared.lock().hostile.clone()
}

/// An endless 200 body for a listing route, when that is the class in force.
pub(crate) fn endless_listing(conn: &Conn, listing: Listing) -> Option<Result<After, Gone>> {
    if hostile(conn) != Some(Hostile::EndlessBody) {
        return None;
    }
    let (prefix, unit) = match listing {
        Listing::Tags | Listing::Ps => (
            r#"{"models":["#.to_string(),
            r#"{"name":"more:latest","model":"more:latest","size":1},"#.to_string(),
        ),
        Listing::Show => (
            r##"{"modelfile":"# "##.to_string(),
            "an endless Modelfile comment ".to_string(),
        ),
        Listing::V1Models => (
            r#"{"object":"list","data":["#.to_string(),
            r#"{"id":"more:latest","object":"model","created":1,"owned_by":"library"},"#
                .to_string(),
        ),
    };
    Some(endless(conn, 200, JSON, &[prefix], &unit))
}

/// The `details` object of a listing, with escapes or absurd numbers when that is the class.
pub(crate) fn details(conn: &Conn, normal: &'static str) -> String {
    match hostile(conn) {
        Some(Hostile::Escapes(_)) => format!(
            r#"{{"parent_model":{e},"format":{e},"family":{e},"families":[{e}],"parameter_size":{e},"quantization_level":{e},"context_length":32768}}"#,
            e = go_str(ESCAPES)
        ),
        Some(Hostile::AbsurdNumbers) => normal.replace("32768", &u64::MAX.to_string()),
        _ => normal.to_string(),
    }
}

/// A number the listings report (a size, a context length), absurd when that is the class.
pub(crate) fn number(hostile: &Option<Hostile>, normal: u64) -> String {
    match hostile {
        Some(Hostile::AbsurdNumbers) => u64::MAX.to_string(),
        _ => normal.to_string(),
    }
}

/// The `/api/show` object made hostile: escapes in every text field, or absurd window figures.
pub(crate) fn show_json(conn: &Conn, json: String) -> String {
    match hostile(conn) {
        Some(Hostile::Escapes(_)) => {
            let Ok(Value::Object(mut show)) = serde_json::from_str::<Value>(&json) else {
                return json;
            };
            for field in ["modelfile", "template", "system", "license"] {
                show.insert(field.into(), Value::String(ESCAPES.into()));
            }
            let parameters = format!("num_ctx 2048\nstop {ESCAPES}");
            show.insert("parameters".into(), Value::String(parameters));
            if let Ok(details) = serde_json::from_str(&details(conn, "")) {
                show.insert("details".into(), details);
            }
            if let Some(Value::Object(info)) = show.get_mut("model_info") {
                info.insert("general.basename".into(), Value::String(ESCAPES.into()));
                info.insert("general.license".into(), Value::String(ESCAPES.into()));
            }
            Value::Object(show).to_string()
        }
        Some(Hostile::AbsurdNumbers) => {
            let max = u64::MAX.to_string();
            json.replace(
                "num_ctx                        2048",
                &format!("num_ctx {max}"),
            )
            .replace(
                "PARAMETER num_ctx 2048",
                &format!("PARAMETER num_ctx {max}"),
            )
            .replace(
                r#""gemma3.context_length":32768"#,
                &format!(r#""gemma3.context_length":{max}"#),
            )
        }
        _ => json,
    }
}

// ============================================================================================
// Chats
// ============================================================================================

/// Which API a chat came in through.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum ChatApi {
    Ollama,
    OpenAi,
    Anthropic,
}

/// Answers a chat the hostile way, when a class is in force.
pub(crate) fn chat(req: &Request, conn: &Conn, api: ChatApi) -> Option<Result<After, Gone>> {
    let hostile = hostile(conn)?;
    let body = first_json_value(&req.body)
        .and_then(Result::ok)
        .unwrap_or(Value::Null);
    let stream = match api {
        ChatApi::Ollama => body.get("stream").and_then(Value::as_bool).unwrap_or(true),
        _ => body.get("stream").and_then(Value::as_bool).unwrap_or(false),
    };
    let model = str_field(&body, "model").to_string();
    // So that `/api/ps` lists it, as after any chat.
    conn.shared.mark_loaded(&model, &body);
    if matches!(hostile, Hostile::Escapes(_)) {
        conn.shared.mark_loaded(&hostile_model_name(), &body);
    }
    let usage = api == ChatApi::OpenAi;
    let mut frames: Box<dyn Frames> = match api {
        ChatApi::Ollama => Box::new(OllamaFrames),
        ChatApi::OpenAi => Box::new(OpenAiFrames::new(usage)),
        ChatApi::Anthropic => Box::new(AnthropicFrames::new(0)),
    };
    let frames = frames.as_mut();
    let plan = |tokens: &[&str], thinking: &[&str], model: String| {
        let owned = |t: &[&str]| t.iter().map(|s| s.to_string()).collect();
        Plan::generated(
            &model,
            owned(thinking),
            owned(tokens),
            "stop",
            12,
            stream,
            Instant::now(),
        )
    };
    Some(match hostile {
        Hostile::Escapes(failure) => {
            let mut p = plan(
                &["echo", " ", ESCAPES],
                &["thinking", " ", ESCAPES],
                format!("evil{ESCAPES}"),
            );
            p.done_reason = ESCAPES.to_string();
            fail(conn, frames, p, failure, ESCAPES)
        }
        Hostile::EchoKeys(failure) => {
            let echoed = format!(
                "upstream refused Authorization: {} x-api-key: {}",
                req.header("Authorization").unwrap_or("-"),
                req.header("x-api-key").unwrap_or("-")
            );
            fail(conn, frames, plan(&["echo"], &[], model), failure, &echoed)
        }
        Hostile::EndlessLine if stream => endless_line(conn, frames, &plan(&[], &[], model)),
        Hostile::EndlessBody if stream => {
            endless(conn, 500, JSON, &[r#"{"error":""#.into()], "endless error ")
        }
        Hostile::EndlessBody => {
            let opening = match api {
                ChatApi::Ollama => format!(
                    r#"{{"model":{},"created_at":{},"message":{{"role":"assistant","content":""#,
                    go_str(&model),
                    go_str(&rfc3339_nano(SystemTime::now()))
                ),
                ChatApi::OpenAi => r#"{"id":"chatcmpl-1","object":"chat.completion","created":1,"choices":[{"index":0,"message":{"role":"assistant","content":""#.to_string(),
                ChatApi::Anthropic => r#"{"id":"msg_1","type":"message","role":"assistant","content":[{"type":"text","text":""#.to_string(),
            };
            endless(conn, 200, JSON, &[opening], "endless reply ")
        }
        Hostile::KeepAlivesForever if stream => {
            keep_alives(conn, frames, api, &plan(&[], &[], model))
        }
        Hostile::AbsurdNumbers => {
            let odd = {
                let mut state = conn.shared.lock();
                state.hostile_chats += 1;
                state.hostile_chats % 2 == 1
            };
            absurd(conn, frames, api, &plan(&["echo"], &[], model), odd)
        }
        // A class for streams only, on a whole reply: answered as usual.
        Hostile::EndlessLine | Hostile::KeepAlivesForever => return None,
    })
}

/// Plays `plan`, ending the way `failure` says with `text` as the error's message.
fn fail(
    conn: &Conn,
    frames: &mut dyn Frames,
    mut plan: Plan,
    failure: Failure,
    text: &str,
) -> Result<After, Gone> {
    match failure {
        Failure::None => play(conn, &plan, frames),
        Failure::Status(status) => send_error(conn, frames, status, text, &[]),
        Failure::HtmlPage => {
            let page = format!(
                "<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n<center><h1>502 Bad Gateway</h1></center>\r\n<p>{text}</p>\r\n</body>\r\n</html>\r\n"
            );
            conn.send(502, &[("Content-Type", "text/html")], page.as_bytes())
        }
        Failure::InStream => {
            plan.end = super::End::Error(text.to_string());
            play(conn, &plan, frames)
        }
    }
}

/// The head of a 200 stream in the API's frames, and the frames before the first token.
fn open_stream<'c, 'a>(
    conn: &'c Conn<'a>,
    frames: &mut dyn Frames,
    plan: &Plan,
) -> Result<BodyOut<'c, 'a>, Gone> {
    let head = response_head(200, frames.stream_headers(), Framing::Chunked, conn.close);
    let mut out = BodyOut::new(conn, head, true, None);
    for frame in frames.start(plan) {
        out.push(frame.as_bytes())?;
    }
    out.flush()?;
    Ok(out)
}

/// The first token's frame cut open just inside its text, then that text forever.
fn endless_line(conn: &Conn, frames: &mut dyn Frames, plan: &Plan) -> Result<After, Gone> {
    let mut out = open_stream(conn, frames, plan)?;
    let frame = frames.token(plan, Part::Text, "CUT").concat();
    let opening = frame.rsplit_once("CUT").map_or(frame.as_str(), |(a, _)| a);
    // Anthropic's frames open a content block first: send whole frames before the cut one.
    let (whole_frames, cut) = match opening.rfind("\n\n") {
        Some(i) => opening.split_at(i + 2),
        None => ("", opening),
    };
    out.push(whole_frames.as_bytes())?;
    out.push(cut.as_bytes())?;
    let piece = "endless ".repeat(PIECE / 8);
    loop {
        out.push(piece.as_bytes())?;
        if conn.shared.stopping() {
            return Err(Gone::Stopped);
        }
    }
}

/// Bytes of one piece of an endless answer (one HTTP chunk).
const PIECE: usize = 64 * 1024;

/// A chunked response of `status`: `prefix`, then `unit` repeated forever.
fn endless(
    conn: &Conn,
    status: u16,
    content_type: &str,
    prefix: &[String],
    unit: &str,
) -> Result<After, Gone> {
    let head = response_head(
        status,
        &[("Content-Type", content_type)],
        Framing::Chunked,
        conn.close,
    );
    let mut out = BodyOut::new(conn, head, true, None);
    for p in prefix {
        out.push(p.as_bytes())?;
    }
    let piece = unit.repeat((PIECE / unit.len().max(1)).max(1));
    loop {
        out.push(piece.as_bytes())?;
        if conn.shared.stopping() {
            return Err(Gone::Stopped);
        }
    }
}

/// Keep-alives, every 20 ms, until the client hangs up.
fn keep_alives(
    conn: &Conn,
    frames: &mut dyn Frames,
    api: ChatApi,
    plan: &Plan,
) -> Result<After, Gone> {
    let mut out = open_stream(conn, frames, plan)?;
    let keep_alive: &[u8] = match api {
        ChatApi::Ollama => b"\n",
        ChatApi::OpenAi => b": keep-alive\n\n",
        ChatApi::Anthropic => b"event: ping\ndata: {\"type\":\"ping\"}\n\n",
    };
    loop {
        out.push(keep_alive)?;
        conn.wait(Duration::from_millis(20))?;
    }
}

/// A normal reply whose last frames carry absurd numbers.
fn absurd(
    conn: &Conn,
    frames: &mut dyn Frames,
    api: ChatApi,
    plan: &Plan,
    odd: bool,
) -> Result<After, Gone> {
    let (prompt, eval) = if odd {
        (u64::MAX, u64::MAX - 1)
    } else {
        (u64::from(u32::MAX), u64::from(u32::MAX) - 1)
    };
    if !plan.stream {
        let mut plan = Plan::generated(
            &plan.model,
            Vec::new(),
            plan.tokens.clone(),
            "stop",
            prompt,
            false,
            plan.started,
        );
        plan.eval_count = eval;
        return play(conn, &plan, frames);
    }
    let mut out = open_stream(conn, frames, plan)?;
    for token in &plan.tokens {
        for frame in frames.token(plan, Part::Text, token) {
            out.push(frame.as_bytes())?;
        }
    }
    let end = match api {
        ChatApi::Ollama => {
            let mut line = format!(
                r#"{{"model":{},"created_at":{},"message":{{"role":"assistant","content":""}},"done":true,"done_reason":"stop""#,
                go_str(&plan.model),
                go_str(&rfc3339_nano(SystemTime::now()))
            );
            let _ = write!(
                line,
                r#","total_duration":{},"load_duration":{},"prompt_eval_count":{prompt},"prompt_eval_duration":{},"eval_count":{eval},"eval_duration":{}}}"#,
                u64::MAX,
                i64::MIN,
                -1,
                i64::MAX
            );
            vec![line + "\n"]
        }
        ChatApi::OpenAi => {
            let finish = r#"{"id":"chatcmpl-1","object":"chat.completion.chunk","created":1,"model":"m","choices":[{"index":0,"delta":{},"finish_reason":"stop"}]}"#;
            let usage = format!(
                r#"{{"id":"chatcmpl-1","object":"chat.completion.chunk","created":1,"model":"m","choices":[],"usage":{{"prompt_tokens":{prompt},"completion_tokens":{eval},"total_tokens":-1}}}}"#
            );
            vec![
                format!("data: {finish}\n\n"),
                format!("data: {usage}\n\n"),
                "data: [DONE]\n\n".to_string(),
            ]
        }
        ChatApi::Anthropic => {
            let mut frames = vec![
                "event: content_block_stop\ndata: {\"type\":\"content_block_stop\",\"index\":0}\n\n"
                    .to_string(),
            ];
            let delta = format!(
                r#"{{"type":"message_delta","delta":{{"stop_reason":"end_turn"}},"usage":{{"input_tokens":{prompt},"output_tokens":{eval},"cache_creation_input_tokens":{},"cache_read_input_tokens":{}}}}}"#,
                u64::MAX,
                u64::MAX
            );
            frames.push(format!("event: message_delta\ndata: {delta}\n\n"));
            frames.push("event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n".to_string());
            frames
        }
    };
    for frame in end {
        out.push(frame.as_bytes())?;
    }
    out.finish()?;
    Ok(After::KeepAlive)
}
