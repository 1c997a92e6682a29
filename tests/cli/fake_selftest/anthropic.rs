//! Self-tests of the fake's Anthropic Messages route, `POST /v1/messages`: the recorded shapes
//! (28_v1_messages_*), then what Anthropic's own servers add (ping, thinking blocks, the
//! mid-stream error event, error statuses, the `x-api-key` check), and the request record.

use std::io::Write;
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use super::{connect, read_response, request, toks, Resp};
use crate::support::fake_ollama::{ChatReply, End, FakeOllama, Script};

fn messages(fake: &FakeOllama, body: &Value) -> Resp {
    request(fake, "POST", "/v1/messages", Some(&body.to_string()))
}

/// A request with extra headers (`x-api-key`, `anthropic-version`).
fn request_with(fake: &FakeOllama, path: &str, body: &str, headers: &[(&str, &str)]) -> Resp {
    let method = if body.is_empty() { "GET" } else { "POST" };
    let mut req = format!("{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n");
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    if !body.is_empty() {
        req.push_str(&format!(
            "Content-Type: application/json\r\nContent-Length: {}\r\n",
            body.len()
        ));
    }
    req.push_str("\r\n");
    req.push_str(body);
    let mut client = connect(fake);
    client.get_mut().write_all(req.as_bytes()).unwrap();
    read_response(&mut client, false)
}

fn ask(content: &str, stream: bool) -> Value {
    json!({"model": "tiny", "max_tokens": 64, "stream": stream,
           "messages": [{"role": "user", "content": content}]})
}

/// The events of an SSE body as (name, data), checking that each is `event:` + `data:` and that
/// the data's `type` is the event's name.
fn read_events(resp: &Resp) -> Vec<(String, Value)> {
    let text = resp.text();
    text.split("\n\n")
        .filter(|e| !e.is_empty())
        .map(|e| {
            let (name, data) = e
                .strip_prefix("event: ")
                .and_then(|e| e.split_once("\ndata: "))
                .unwrap_or_else(|| panic!("not a named event: {e:?}"));
            let data: Value = serde_json::from_str(data).unwrap();
            assert_eq!(data["type"], name, "{e}");
            (name.to_string(), data)
        })
        .collect()
}

fn names(events: &[(String, Value)]) -> Vec<&str> {
    events.iter().map(|(n, _)| n.as_str()).collect()
}

/// The text (or thinking) of the deltas of this type.
fn deltas(events: &[(String, Value)], kind: &str, field: &str) -> String {
    events
        .iter()
        .filter(|(_, d)| d["delta"]["type"] == kind)
        .map(|(_, d)| d["delta"][field].as_str().unwrap())
        .collect()
}

/// An Anthropic error body: its `type` and `message`, after checking the envelope and key order.
fn error_of(resp: &Resp) -> (String, String) {
    let text = resp.text();
    assert!(
        text.starts_with(r#"{"type":"error","error":{"type":"#),
        "{text}"
    );
    let v = resp.json();
    let id = v["request_id"].as_str().unwrap();
    assert!(id.starts_with("req_") && id.len() == 28, "{id}");
    let e = &v["error"];
    (
        e["type"].as_str().unwrap().to_string(),
        e["message"].as_str().unwrap().to_string(),
    )
}

#[test]
fn stream_is_shaped_like_the_recording() {
    let fake = FakeOllama::start();
    let body = json!({"model": "tiny", "max_tokens": 12, "system": "You are terse.",
                      "messages": [{"role": "user", "content": "Name a colour."}], "stream": true});
    let resp = messages(&fake, &body);
    assert_eq!(resp.status, 200);
    let heads: Vec<&str> = resp.headers.iter().map(|(k, _)| k.as_str()).collect();
    assert_eq!(
        heads,
        [
            "Cache-Control",
            "Connection",
            "Content-Type",
            "Date",
            "Transfer-Encoding"
        ]
    );
    assert_eq!(resp.header("Cache-Control"), Some("no-cache"));
    assert_eq!(resp.header("Connection"), Some("keep-alive"));
    assert_eq!(resp.header("Content-Type"), Some("text/event-stream"));
    assert!(resp.complete);

    let events = read_events(&resp);
    // One event per HTTP chunk.
    assert_eq!(resp.chunks.len(), events.len());
    let n = events.len();
    assert_eq!(
        names(&events)[..2],
        ["message_start", "content_block_start"]
    );
    assert!(names(&events)[2..n - 3]
        .iter()
        .all(|e| *e == "content_block_delta"));
    assert_eq!(
        names(&events)[n - 3..],
        ["content_block_stop", "message_delta", "message_stop"]
    );

    let text = resp.text();
    let start = &events[0].1["message"];
    assert!(start["id"].as_str().unwrap().starts_with("msg_"));
    assert_eq!(start["id"].as_str().unwrap().len(), 28);
    assert!(text.starts_with(&format!(
        "event: message_start\ndata: {{\"type\":\"message_start\",\"message\":{{\"id\":{},\"type\":\"message\",\"role\":\"assistant\",\"model\":\"tiny\",\"content\":[],\"usage\":{{\"input_tokens\":8,\"output_tokens\":0}}}}}}\n\n",
        start["id"]
    )));
    assert!(text.contains("event: content_block_start\ndata: {\"type\":\"content_block_start\",\"index\":0,\"content_block\":{\"type\":\"text\",\"text\":\"\"}}\n\n"));
    assert!(text.contains("event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_delta\",\"text\":\"echo:\"}}\n\n"));
    assert!(text.ends_with("event: content_block_stop\ndata: {\"type\":\"content_block_stop\",\"index\":0}\n\nevent: message_delta\ndata: {\"type\":\"message_delta\",\"delta\":{\"stop_reason\":\"end_turn\"},\"usage\":{\"input_tokens\":16,\"output_tokens\":4}}\n\nevent: message_stop\ndata: {\"type\":\"message_stop\"}\n\n"));
    assert_eq!(
        deltas(&events, "text_delta", "text"),
        "echo: Name a colour."
    );
}

#[test]
fn max_tokens_cuts_the_reply_and_input_tokens_are_estimated_as_recorded() {
    let fake = FakeOllama::start();
    let body = json!({"model": "tiny", "max_tokens": 3, "stream": true,
                      "messages": [{"role": "user", "content": "Tell me a long story."}]});
    let events = read_events(&messages(&fake, &body));
    assert_eq!(deltas(&events, "text_delta", "text"), "echo: Tell me");
    assert_eq!(events[0].1["message"]["usage"]["input_tokens"], 6);
    let delta = &events[events.len() - 2].1;
    assert_eq!(delta["delta"]["stop_reason"], "max_tokens");
    assert_eq!(delta["usage"]["output_tokens"], 3);

    // Content blocks and several turns (28_v1_messages_multiturn_blocks).
    let body = json!({"model": "tiny", "max_tokens": 12, "stream": true, "messages": [
        {"role": "user", "content": [{"type": "text", "text": "Hi, I am Li."}]},
        {"role": "assistant", "content": "Hello Li."},
        {"role": "user", "content": "What is my name?"}]});
    let events = read_events(&messages(&fake, &body));
    assert_eq!(events[0].1["message"]["usage"]["input_tokens"], 13);
    assert_eq!(
        deltas(&events, "text_delta", "text"),
        "echo: What is my name?"
    );
}

#[test]
fn without_stream_one_message_object() {
    let fake = FakeOllama::start();
    let resp = messages(&fake, &ask("Name a colour.", false));
    assert_eq!(resp.status, 200);
    assert_eq!(resp.header("Content-Type"), Some("application/json"));
    assert!(resp.header("Content-Length").is_some());
    assert!(resp.header("Cache-Control").is_none());
    let text = resp.text();
    assert!(text.starts_with(r#"{"id":"msg_"#), "{text}");
    assert!(text.contains(r#","type":"message","role":"assistant","model":"tiny","content":[{"type":"text","text":"echo: Name a colour."}],"stop_reason":"end_turn","usage":{"input_tokens":8,"output_tokens":4}}"#), "{text}");
    // Not streamed unless asked, like the recording without `stream`.
    let mut body = ask("x", false);
    body.as_object_mut().unwrap().remove("stream");
    assert_eq!(
        messages(&fake, &body).header("Content-Type"),
        Some("application/json")
    );
}

#[test]
fn errors_match_the_recordings() {
    let fake = FakeOllama::start();
    fake.set_models(&["tiny", "tiny-think"]);
    let charset = Some("application/json; charset=utf-8");

    let resp = request(&fake, "POST", "/v1/messages", Some(r#"{"model":"#));
    assert_eq!((resp.status, resp.header("Content-Type")), (400, charset));
    let want = ("invalid_request_error".to_string(), "unexpected EOF".into());
    assert_eq!(error_of(&resp), want);

    let resp = messages(
        &fake,
        &json!({"model": "tiny", "messages": [{"role": "user", "content": "hi"}]}),
    );
    assert_eq!((resp.status, resp.header("Content-Type")), (400, charset));
    assert_eq!(
        error_of(&resp).1,
        "max_tokens is required and must be positive"
    );

    let resp = messages(
        &fake,
        &json!({"max_tokens": 5, "messages": [{"role": "user", "content": "hi"}]}),
    );
    assert_eq!((resp.status, resp.header("Content-Type")), (400, charset));
    assert_eq!(error_of(&resp).1, "model is required");

    let mut unknown = ask("hi", false);
    unknown["model"] = json!("no-such");
    let resp = messages(&fake, &unknown);
    assert_eq!(resp.status, 404);
    assert_eq!(resp.header("Content-Type"), Some("application/json"));
    assert!(resp.header("Cache-Control").is_none());
    let want = (
        "not_found_error".to_string(),
        "model 'no-such' not found".into(),
    );
    assert_eq!(error_of(&resp), want);
    // Streamed, the error comes after the stream's headers were set.
    unknown["stream"] = json!(true);
    let resp = messages(&fake, &unknown);
    assert_eq!(resp.status, 404);
    assert_eq!(resp.header("Cache-Control"), Some("no-cache"));
    assert_eq!(resp.header("Connection"), Some("keep-alive"));
    assert_eq!(resp.header("Content-Type"), Some("application/json"));
    assert_eq!(error_of(&resp), want);

    let mut tools = ask("weather in Paris?", false);
    tools["tools"] = json!([{"name": "get_weather", "input_schema": {"type": "object"}}]);
    let resp = messages(&fake, &tools);
    assert_eq!(resp.status, 400);
    assert_eq!(
        error_of(&resp).1,
        "registry.ollama.ai/library/tiny:latest does not support tools"
    );

    let image = json!({"model": "tiny", "max_tokens": 12, "messages": [{"role": "user", "content": [
        {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": "iVBORw0KGgo="}},
        {"type": "text", "text": "What is this?"}]}]});
    let resp = messages(&fake, &image);
    assert_eq!(resp.status, 400);
    assert!(resp.text().contains(r#""message":"{\"error\":{\"code\":400,\"message\":\"Multimodal data provided, but model does not support multimodal requests.\",\"type\":\"invalid_request_error\"}}""#));

    // `thinking` is ignored: no refusal for a model without it, and no thinking block for one
    // with it (as recorded).
    for model in ["tiny", "tiny-think"] {
        let mut body = ask("hi", true);
        body["model"] = json!(model);
        body["thinking"] = json!({"type": "enabled", "budget_tokens": 1024});
        let resp = messages(&fake, &body);
        assert_eq!(resp.status, 200);
        let events = read_events(&resp);
        assert_eq!(events[1].1["content_block"]["type"], "text");
        assert!(!names(&events).contains(&"thinking_delta"));
        assert_eq!(deltas(&events, "text_delta", "text"), "echo: hi");
    }
}

#[test]
fn scripted_thinking_comes_as_a_signed_thinking_block_after_a_ping() {
    let fake = FakeOllama::start();
    let script = Script {
        thinking: toks(&["Let", " me"]),
        tokens: toks(&["Hi", "!"]),
        ping: true,
        ..Script::default()
    };
    fake.push_chat(ChatReply::Script(script.clone()));
    let events = read_events(&messages(&fake, &ask("x", true)));
    let kinds: Vec<String> = events
        .iter()
        .map(|(n, d)| match d["delta"]["type"].as_str() {
            Some(kind) => kind.to_string(),
            None => match d["content_block"]["type"].as_str() {
                Some(block) => format!("{n}:{block}"),
                None => n.clone(),
            },
        })
        .collect();
    assert_eq!(
        kinds,
        [
            "message_start",
            "ping",
            "content_block_start:thinking",
            "thinking_delta",
            "thinking_delta",
            "signature_delta",
            "content_block_stop",
            "content_block_start:text",
            "text_delta",
            "text_delta",
            "content_block_stop",
            "message_delta",
            "message_stop"
        ]
    );
    let indexes: Vec<i64> = events
        .iter()
        .filter_map(|(_, d)| d["index"].as_i64())
        .collect();
    assert_eq!(indexes, [0, 0, 0, 0, 0, 1, 1, 1, 1]);
    assert_eq!(deltas(&events, "thinking_delta", "thinking"), "Let me");
    assert!(!deltas(&events, "signature_delta", "signature").is_empty());
    assert_eq!(events[11].1["usage"]["output_tokens"], 4);

    fake.push_chat(ChatReply::Script(script));
    let v = messages(&fake, &ask("x", false)).json();
    assert_eq!(v["content"][0]["type"], "thinking");
    assert_eq!(v["content"][0]["thinking"], "Let me");
    assert!(v["content"][0]["signature"].is_string());
    assert_eq!(v["content"][1], json!({"type": "text", "text": "Hi!"}));
}

#[test]
fn scripted_faults() {
    let fake = FakeOllama::start();
    fake.push_chat(ChatReply::Script(Script {
        tokens: toks(&["par", "tial"]),
        end: End::Error("Overloaded".into()),
        ..Script::default()
    }));
    let resp = messages(&fake, &ask("x", true));
    assert_eq!(resp.status, 200);
    assert!(resp.complete);
    assert!(resp.text().ends_with(
        "event: error\ndata: {\"type\":\"error\",\"error\":{\"type\":\"overloaded_error\",\"message\":\"Overloaded\"}}\n\n"
    ));
    assert!(!names(&read_events(&resp)).contains(&"message_stop"));

    fake.push_chat(ChatReply::Script(Script {
        tokens: toks(&["a", "b"]),
        end: End::Drop,
        ..Script::default()
    }));
    let resp = messages(&fake, &ask("x", true));
    assert!(!resp.complete);
    let events_ = read_events(&resp);
    assert_eq!(deltas(&events_, "text_delta", "text"), "ab");
    assert_eq!(names(&events_).last(), Some(&"content_block_delta"));

    fake.push_chat(ChatReply::Script(Script {
        tokens: toks(&["a"]),
        end: End::Stall(Duration::from_millis(300)),
        ..Script::default()
    }));
    let started = Instant::now();
    let resp = messages(&fake, &ask("x", true));
    assert!(started.elapsed() >= Duration::from_millis(250));
    assert!(!resp.complete);

    // Chinese text split across frames, and inside its characters.
    let reply = ["老師", "說", "：你好"];
    fake.push_chat(ChatReply::Script(Script {
        tokens: toks(&reply),
        split_every: Some(3),
        ..Script::default()
    }));
    let resp = messages(&fake, &ask("x", true));
    assert!(resp.complete);
    assert!(resp.chunks.iter().all(|c| c.len() <= 3));
    assert!(resp.chunks.iter().any(|c| std::str::from_utf8(c).is_err()));
    assert_eq!(
        deltas(&read_events(&resp), "text_delta", "text"),
        reply.concat()
    );

    // Delays, and the whole reply after them; an error there is a 500.
    fake.push_chat(ChatReply::Script(Script {
        tokens: toks(&["a", "b", "c"]),
        first_delay: Duration::from_millis(100),
        delay: Duration::from_millis(30),
        done_reason: Some("length".into()),
        ..Script::default()
    }));
    let started = Instant::now();
    let v = messages(&fake, &ask("x", false)).json();
    assert!(started.elapsed() >= Duration::from_millis(180));
    assert_eq!(v["content"][0]["text"], "abc");
    assert_eq!(v["stop_reason"], "max_tokens");
    fake.push_chat(ChatReply::Script(Script {
        end: End::Error("boom".into()),
        ..Script::default()
    }));
    let resp = messages(&fake, &ask("x", false));
    assert_eq!(resp.status, 500);
    assert_eq!(error_of(&resp), ("api_error".into(), "boom".into()));
}

#[test]
fn error_statuses_have_anthropics_types() {
    let fake = FakeOllama::start();
    for (status, kind) in [
        (400, "invalid_request_error"),
        (404, "not_found_error"),
        (500, "api_error"),
        (529, "overloaded_error"),
    ] {
        fake.push_chat(ChatReply::HttpError {
            status,
            message: "nope".into(),
        });
        let resp = messages(&fake, &ask("x", true));
        assert_eq!(resp.status, status);
        assert_eq!(resp.header("Content-Type"), Some("application/json"));
        assert_eq!(error_of(&resp), (kind.to_string(), "nope".to_string()));
    }
    fake.push_chat(ChatReply::HttpErrorHeaders {
        status: 429,
        message: "Number of request tokens has exceeded your rate limit".into(),
        headers: vec![("retry-after".into(), "7".into())],
    });
    let resp = messages(&fake, &ask("x", true));
    assert_eq!(resp.status, 429);
    assert_eq!(resp.header("retry-after"), Some("7"));
    assert_eq!(error_of(&resp).0, "rate_limit_error");
}

#[test]
fn the_key_is_checked_and_every_request_is_recorded() {
    let fake = FakeOllama::start();
    fake.require_api_key(Some("sk-ant-right"));
    let body = json!({"model": "tiny", "max_tokens": 12, "system": "Be brief.",
                      "thinking": {"type": "enabled", "budget_tokens": 1024},
                      "messages": [{"role": "user", "content": "hi"}]})
    .to_string();
    let version = ("anthropic-version", "2023-06-01");

    let resp = request_with(&fake, "/v1/messages", &body, &[version]);
    assert_eq!(resp.status, 401);
    let want = (
        "authentication_error".to_string(),
        "x-api-key header is required".to_string(),
    );
    assert_eq!(error_of(&resp), want);
    let wrong = [("x-api-key", "sk-ant-wrong"), version];
    let resp = request_with(&fake, "/v1/messages", &body, &wrong);
    assert_eq!(error_of(&resp).1, "invalid x-api-key");
    let bearer = [("Authorization", "Bearer sk-ant-right")];
    assert_eq!(
        request_with(&fake, "/v1/messages", &body, &bearer).status,
        401
    );
    let right = [("x-api-key", "sk-ant-right"), version];
    let resp = request_with(&fake, "/v1/messages", &body, &right);
    assert_eq!(resp.status, 200);
    assert_eq!(resp.json()["content"][0]["text"], "echo: hi");

    // `GET /v1/models` takes either key; an Anthropic request is refused in Anthropic's shape.
    let resp = request_with(&fake, "/v1/models", "", &right);
    assert_eq!(resp.json()["data"][0]["id"], "tiny:latest");
    let resp = request_with(&fake, "/v1/models", "", &[version]);
    assert_eq!(resp.status, 401);
    assert_eq!(error_of(&resp).0, "authentication_error");

    // The record: headers as sent, the body as bytes, and the chat bodies.
    let sent: Vec<_> = fake
        .requests()
        .into_iter()
        .filter(|r| r.method == "POST" && r.path == "/v1/messages")
        .collect();
    assert_eq!(sent.len(), 4);
    let last = sent.last().unwrap();
    assert_eq!(last.header("X-Api-Key"), Some("sk-ant-right"));
    assert_eq!(last.header("anthropic-version"), Some("2023-06-01"));
    assert_eq!(last.body, body.as_bytes());
    let recorded = fake.chat_bodies();
    assert_eq!(recorded.len(), 4);
    assert_eq!(recorded[3]["system"], "Be brief.");
    assert_eq!(recorded[3]["max_tokens"], 12);
    assert_eq!(
        recorded[3]["thinking"],
        json!({"type": "enabled", "budget_tokens": 1024})
    );
    assert_eq!(fake.bodies_of("POST", "/v1/messages"), recorded);
    assert!(fake.wait_for_chats(4, Duration::from_secs(1)));
}

#[test]
fn a_client_that_asks_to_close_gets_one_connection_header() {
    let fake = FakeOllama::start();
    let body = ask("hi", true).to_string();
    let resp = request_with(&fake, "/v1/messages", &body, &[("Connection", "close")]);
    let connection: Vec<&str> = resp
        .headers
        .iter()
        .filter(|(k, _)| k == "Connection")
        .map(|(_, v)| v.as_str())
        .collect();
    assert_eq!(connection, ["close"]);
    assert!(resp.complete);
}
