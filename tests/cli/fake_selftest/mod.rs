//! Self-tests of the fake Ollama server (tests/support/fake_ollama/), with plain TcpStream HTTP.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use crate::support::fake_ollama::{
    fast_stream_text, ChatReply, End, FakeOllama, FastStream, Script,
};
use serde_json::{json, Value};

// ---------------------------------------------------------------------------------------------
// A minimal HTTP/1.1 client
// ---------------------------------------------------------------------------------------------

struct Resp {
    status: u16,
    headers: Vec<(String, String)>,
    /// The HTTP chunks as received (empty for a Content-Length body).
    chunks: Vec<Vec<u8>>,
    /// The body, de-chunked.
    body: Vec<u8>,
    /// Whether a chunked body ended with the terminating 0-chunk.
    complete: bool,
}

impl Resp {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
    fn text(&self) -> String {
        String::from_utf8(self.body.clone()).expect("utf-8 body")
    }
    fn json(&self) -> Value {
        serde_json::from_slice(&self.body).expect("JSON body")
    }
    fn lines(&self) -> Vec<Value> {
        self.text()
            .lines()
            .map(|l| serde_json::from_str(l).expect("NDJSON line"))
            .collect()
    }
}

type Client = BufReader<TcpStream>;

fn connect(fake: &FakeOllama) -> Client {
    let stream = TcpStream::connect(fake.host_port()).expect("connect");
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    BufReader::new(stream)
}

fn send(client: &mut Client, method: &str, path: &str, body: Option<&str>) {
    let mut req =
        format!("{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nUser-Agent: selftest/1\r\n");
    if let Some(body) = body {
        req.push_str(&format!(
            "Content-Type: application/json\r\nContent-Length: {}\r\n",
            body.len()
        ));
    }
    req.push_str("\r\n");
    req.push_str(body.unwrap_or(""));
    client
        .get_mut()
        .write_all(req.as_bytes())
        .expect("send request");
}

fn read_line(client: &mut Client) -> Option<String> {
    let mut line = String::new();
    match client.read_line(&mut line) {
        Ok(0) | Err(_) => None,
        Ok(_) => Some(line.trim_end_matches(['\r', '\n']).to_string()),
    }
}

/// Reads status and headers only.
fn read_head(client: &mut Client) -> Resp {
    let status_line = read_line(client).expect("status line");
    let status = status_line.split(' ').nth(1).unwrap().parse().unwrap();
    let mut headers = Vec::new();
    loop {
        let line = read_line(client).expect("header line");
        if line.is_empty() {
            break;
        }
        let (k, v) = line.split_once(':').unwrap();
        headers.push((k.trim().to_string(), v.trim().to_string()));
    }
    Resp {
        status,
        headers,
        chunks: Vec::new(),
        body: Vec::new(),
        complete: false,
    }
}

/// Reads one chunk; `None` at end of stream (or a cut), `Some(empty)` for the 0-chunk.
fn read_chunk(client: &mut Client) -> Option<Vec<u8>> {
    let size = usize::from_str_radix(&read_line(client)?, 16).expect("chunk size");
    let mut data = vec![0; size];
    client.read_exact(&mut data).ok()?;
    read_line(client)?;
    Some(data)
}

fn read_response(client: &mut Client, head_only: bool) -> Resp {
    let mut resp = read_head(client);
    if head_only {
        return resp;
    }
    if resp.header("Transfer-Encoding") == Some("chunked") {
        while let Some(chunk) = read_chunk(client) {
            if chunk.is_empty() {
                resp.complete = true;
                break;
            }
            resp.body.extend_from_slice(&chunk);
            resp.chunks.push(chunk);
        }
    } else if let Some(len) = resp.header("Content-Length") {
        let mut body = vec![0; len.parse().unwrap()];
        client.read_exact(&mut body).expect("body");
        resp.body = body;
        resp.complete = true;
    } else {
        client.read_to_end(&mut resp.body).unwrap();
    }
    resp
}

fn request(fake: &FakeOllama, method: &str, path: &str, body: Option<&str>) -> Resp {
    let mut client = connect(fake);
    send(&mut client, method, path, body);
    read_response(&mut client, method == "HEAD")
}

fn chat(fake: &FakeOllama, body: &Value) -> Resp {
    request(fake, "POST", "/api/chat", Some(&body.to_string()))
}

fn user(content: &str) -> Value {
    json!({"model": "tiny", "messages": [{"role": "user", "content": content}]})
}

fn toks(words: &[&str]) -> Vec<String> {
    words.iter().map(|s| s.to_string()).collect()
}

fn contents(lines: &[Value]) -> String {
    lines
        .iter()
        .filter_map(|l| l["message"]["content"].as_str())
        .collect()
}

// ---------------------------------------------------------------------------------------------
// Simple endpoints
// ---------------------------------------------------------------------------------------------

#[test]
fn root_version_and_unknown_paths() {
    let fake = FakeOllama::start();
    let root = request(&fake, "GET", "/", None);
    assert_eq!(root.status, 200);
    assert_eq!(root.text(), "Ollama is running");
    assert_eq!(
        root.header("Content-Type"),
        Some("text/plain; charset=utf-8")
    );

    let head = request(&fake, "HEAD", "/", None);
    assert_eq!(head.status, 200);
    assert_eq!(head.header("Content-Length"), Some("17"));

    let version = request(&fake, "GET", "/api/version", None);
    assert_eq!(version.text(), r#"{"version":"0.32.15"}"#);
    assert_eq!(
        version.header("Content-Type"),
        Some("application/json; charset=utf-8")
    );

    let missing = request(&fake, "GET", "/api/nope", None);
    assert_eq!(missing.status, 404);
    assert_eq!(missing.text(), "404 page not found");

    let get_chat = request(&fake, "GET", "/api/chat", None);
    assert_eq!(get_chat.status, 405);
    assert_eq!(get_chat.header("Allow"), Some("POST"));
    assert_eq!(get_chat.header("Content-Type"), Some("text/plain"));
    assert_eq!(get_chat.text(), "405 method not allowed");
}

#[test]
fn tags_lists_the_configured_models() {
    let fake = FakeOllama::start();
    let default = request(&fake, "GET", "/api/tags", None).json();
    assert_eq!(default["models"].as_array().unwrap().len(), 1);
    assert_eq!(default["models"][0]["name"], "tiny:latest");

    fake.set_models(&["tiny-think", "tiny", "big:7b"]);
    let resp = request(&fake, "GET", "/api/tags", None);
    assert_eq!(
        resp.header("Content-Type"),
        Some("application/json; charset=utf-8")
    );
    assert!(resp.text().starts_with(
        r#"{"models":[{"name":"tiny-think:latest","model":"tiny-think:latest","modified_at":""#
    ));
    let tags = resp.json();
    let names: Vec<&str> = tags["models"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["tiny-think:latest", "tiny:latest", "big:7b"]);
    assert_eq!(
        tags["models"][0]["capabilities"],
        json!(["completion", "thinking"])
    );
    assert_eq!(tags["models"][1]["capabilities"], json!(["completion"]));
    assert_eq!(tags["models"][1]["details"]["context_length"], 32768);
    assert_eq!(tags["models"][1]["digest"].as_str().unwrap().len(), 64);
}

#[test]
fn show_known_and_unknown_models() {
    let fake = FakeOllama::start();
    fake.set_models(&["tiny", "tiny-think"]);

    let resp = request(&fake, "POST", "/api/show", Some(r#"{"model":"tiny"}"#));
    assert_eq!(resp.status, 200);
    // Larger than Go's 2048-byte buffer, so chunked like the recording.
    assert_eq!(resp.header("Transfer-Encoding"), Some("chunked"));
    assert!(resp.complete);
    assert!(
        resp.text().contains(r#"\u003cstart_of_turn\u003e"#),
        "Go-style escaping"
    );
    let show = resp.json();
    assert_eq!(show["model_info"]["gemma3.context_length"], 32768);
    assert_eq!(show["model_info"]["general.architecture"], "gemma3");
    assert_eq!(show["capabilities"], json!(["completion"]));
    assert_eq!(show["system"], "You are Tiny, a terse test assistant.");
    assert!(show["modelfile"]
        .as_str()
        .unwrap()
        .contains("# FROM tiny:latest\n"));
    assert!(show["parameters"]
        .as_str()
        .unwrap()
        .contains("num_ctx                        2048"));

    let think = request(
        &fake,
        "POST",
        "/api/show",
        Some(r#"{"model":"tiny-think"}"#),
    )
    .json();
    assert_eq!(think["capabilities"], json!(["completion", "thinking"]));
    assert!(think.get("system").is_none());

    let unknown = request(
        &fake,
        "POST",
        "/api/show",
        Some(r#"{"model":"nope-not-here"}"#),
    );
    assert_eq!(unknown.status, 404);
    assert_eq!(
        unknown.text(),
        r#"{"error":"model 'nope-not-here:latest' not found"}"#
    );
}

// ---------------------------------------------------------------------------------------------
// Default chat behaviour
// ---------------------------------------------------------------------------------------------

#[test]
fn default_stream_echoes_the_last_user_message() {
    let fake = FakeOllama::start();
    let ps = request(&fake, "GET", "/api/ps", None);
    assert_eq!(ps.text(), r#"{"models":[]}"#);

    let resp = chat(&fake, &user("hello world"));
    assert_eq!(resp.status, 200);
    assert_eq!(resp.header("Content-Type"), Some("application/x-ndjson"));
    assert_eq!(resp.header("Transfer-Encoding"), Some("chunked"));
    assert!(resp.complete);
    // One NDJSON line per chunk.
    assert_eq!(resp.chunks.len(), 4);
    for chunk in &resp.chunks {
        assert!(chunk.ends_with(b"\n"));
        assert_eq!(chunk.iter().filter(|&&b| b == b'\n').count(), 1);
    }
    let first = String::from_utf8(resp.chunks[0].clone()).unwrap();
    assert!(
        first.starts_with(r#"{"model":"tiny","created_at":"20"#),
        "{first}"
    );
    assert!(first.ends_with(
        "Z\",\"message\":{\"role\":\"assistant\",\"content\":\"echo:\"},\"done\":false}\n"
    ));

    let lines = resp.lines();
    let tokens: Vec<&str> = lines[..3]
        .iter()
        .map(|l| l["message"]["content"].as_str().unwrap())
        .collect();
    assert_eq!(tokens, ["echo:", " hello", " world"]);
    let last = &lines[3];
    assert_eq!(last["done"], true);
    assert_eq!(last["done_reason"], "stop");
    assert_eq!(last["message"], json!({"role": "assistant", "content": ""}));
    assert_eq!(last["prompt_eval_count"], 7); // ceil(11 / 4) + 4
    assert_eq!(last["eval_count"], 3);
    assert_eq!(last["eval_duration"], 30_000_000);
    for key in ["total_duration", "load_duration", "prompt_eval_duration"] {
        assert!(last[key].as_u64().unwrap() > 0, "{key}");
    }
    let final_text = String::from_utf8(resp.chunks[3].clone()).unwrap();
    let order = [
        "\"done\":true",
        "\"done_reason\"",
        "\"total_duration\"",
        "\"load_duration\"",
        "\"prompt_eval_count\"",
        "\"prompt_eval_duration\"",
        "\"eval_count\"",
        "\"eval_duration\"",
    ];
    let positions: Vec<usize> = order.iter().map(|k| final_text.find(k).expect(k)).collect();
    assert!(
        positions.windows(2).all(|w| w[0] < w[1]),
        "field order: {final_text}"
    );

    // The model is now loaded, with the default context.
    let ps = request(&fake, "GET", "/api/ps", None).json();
    assert_eq!(ps["models"][0]["name"], "tiny:latest");
    assert_eq!(ps["models"][0]["context_length"], 2048);
    let with_ctx = json!({"model": "tiny", "messages": [{"role": "user", "content": "x"}], "options": {"num_ctx": 4096}});
    chat(&fake, &with_ctx);
    let ps = request(&fake, "GET", "/api/ps", None).json();
    assert_eq!(ps["models"][0]["context_length"], 4096);
}

#[test]
fn default_reply_counts_all_messages_and_keeps_chinese_intact() {
    let fake = FakeOllama::start();
    let body = json!({"model": "tiny", "messages": [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "你好，世界"},
    ]});
    let lines = chat(&fake, &body).lines();
    assert_eq!(contents(&lines), "echo: 你好，世界");
    assert_eq!(
        lines.last().unwrap()["prompt_eval_count"],
        (3 + 4) + (5 + 4) // CJK characters count one token each
    );
}

#[test]
fn stream_false_answers_one_json_object() {
    let fake = FakeOllama::start();
    let mut body = user("hello world");
    body["stream"] = json!(false);
    let resp = chat(&fake, &body);
    assert_eq!(resp.status, 200);
    assert_eq!(
        resp.header("Content-Type"),
        Some("application/json; charset=utf-8")
    );
    assert_eq!(
        resp.header("Content-Length").unwrap(),
        resp.body.len().to_string()
    );
    let v = resp.json();
    assert_eq!(v["message"]["content"], "echo: hello world");
    assert_eq!(v["done"], true);
    assert_eq!(v["done_reason"], "stop");
    assert_eq!(v["eval_count"], 3);
}

#[test]
fn num_predict_cuts_the_reply_with_done_reason_length() {
    let fake = FakeOllama::start();
    let body = json!({"model": "tiny", "stream": false, "options": {"num_predict": 2},
        "messages": [{"role": "user", "content": "one two three"}]});
    let v = chat(&fake, &body).json();
    assert_eq!(v["message"]["content"], "echo: one");
    assert_eq!(v["done_reason"], "length");
    assert_eq!(v["eval_count"], 2);
}

#[test]
fn validation_errors_match_the_real_server() {
    let fake = FakeOllama::start();
    fake.set_models(&["tiny", "tiny-think"]);
    let cases: Vec<(Option<&str>, u16, &str)> = vec![
        (
            Some(r#"{"model":"no-such-model","messages":[{"role":"user","content":"hi"}]}"#),
            404,
            r#"{"error":"model 'no-such-model' not found"}"#,
        ),
        (
            Some(r#"{"model":"","messages":[{"role":"user","content":"hi"}]}"#),
            400,
            r#"{"error":"model is required"}"#,
        ),
        (
            Some(r#"{"messages":[{"role":"user","content":"hi"}]}"#),
            400,
            r#"{"error":"model is required"}"#,
        ),
        (None, 400, r#"{"error":"missing request body"}"#),
        (
            Some(r#"{"model":"tiny","messages":[{"role":"user","content":"hi"}"#),
            400,
            r#"{"error":"unexpected EOF"}"#,
        ),
        (
            Some(r#"{"model":"tiny","messages":"hello"}"#),
            400,
            r#"{"error":"json: cannot unmarshal string into Go struct field ChatRequest.messages of type []api.Message"}"#,
        ),
        (
            Some(
                r#"{"model":"tiny","messages":[{"role":"user","content":"hi"}],"think":true,"stream":false}"#,
            ),
            400,
            r#"{"error":"\"tiny\" does not support thinking"}"#,
        ),
        // 29_chat_image_bad_base64 and 29_chat_image_nonvision.
        (
            Some(
                r#"{"model":"tiny","messages":[{"role":"user","content":"What is this?","images":["data:image/png;base64,iVBORw0KGgo"]}],"stream":false}"#,
            ),
            400,
            r#"{"error":"json: cannot unmarshal string into Alias.images.0 of type api.ImageData: illegal base64 data at input byte 4"}"#,
        ),
        (
            Some(
                r#"{"model":"tiny","messages":[{"role":"user","content":"What is this?","images":["iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8DwHwAFBQIAX8jx0gAAAABJRU5ErkJggg=="]}],"stream":false}"#,
            ),
            400,
            r#"{"error":"{\"error\":{\"code\":400,\"message\":\"Multimodal data provided, but model does not support multimodal requests.\",\"type\":\"invalid_request_error\"}}"}"#,
        ),
    ];
    for (body, status, expected) in cases {
        let resp = request(&fake, "POST", "/api/chat", body);
        assert_eq!(resp.status, status, "{body:?}");
        assert_eq!(resp.text(), expected, "{body:?}");
        assert_eq!(
            resp.header("Content-Type"),
            Some("application/json; charset=utf-8")
        );
    }
    // Thinking is fine on a thinking model; the thinking comes before the content.
    let body = json!({"model": "tiny-think", "think": true, "messages": [{"role": "user", "content": "sky"}]});
    let lines = chat(&fake, &body).lines();
    assert_eq!(lines[0]["message"]["content"], "");
    assert!(lines[0]["message"]["thinking"].is_string());
    assert_eq!(contents(&lines), "echo: sky");
}

#[test]
fn load_only_request_does_not_take_a_scripted_reply() {
    let fake = FakeOllama::start();
    fake.push_chat(ChatReply::Tokens(toks(&["scripted"])));
    let resp = chat(&fake, &json!({"model": "tiny", "messages": []}));
    assert_eq!(
        resp.header("Content-Type"),
        Some("application/json; charset=utf-8")
    );
    assert_eq!(resp.json()["done_reason"], "load");
    assert_eq!(contents(&chat(&fake, &user("hi")).lines()), "scripted");
}

// ---------------------------------------------------------------------------------------------
// Scripted replies
// ---------------------------------------------------------------------------------------------

#[test]
fn scripted_replies_are_used_in_order_then_the_default() {
    let fake = FakeOllama::start();
    fake.push_chat(ChatReply::Tokens(toks(&["Hi", " there"])));
    fake.push_chat(ChatReply::Thinking {
        thinking: toks(&["hmm"]),
        content: toks(&["ok"]),
    });
    fake.push_chat(ChatReply::HttpError {
        status: 500,
        message: "boom".into(),
    });

    let lines = chat(&fake, &user("x")).lines();
    assert_eq!(contents(&lines), "Hi there");
    assert_eq!(lines.last().unwrap()["eval_count"], 2);

    let lines = chat(&fake, &user("x")).lines();
    assert_eq!(
        lines[0]["message"],
        json!({"role": "assistant", "content": "", "thinking": "hmm"})
    );
    assert_eq!(
        lines[1]["message"],
        json!({"role": "assistant", "content": "ok"})
    );
    assert_eq!(lines[2]["done"], true);

    let err = chat(&fake, &user("x"));
    assert_eq!(err.status, 500);
    assert_eq!(err.text(), r#"{"error":"boom"}"#);

    assert_eq!(contents(&chat(&fake, &user("back")).lines()), "echo: back");
}

#[test]
fn mid_stream_error_is_an_ndjson_line() {
    let fake = FakeOllama::start();
    fake.push_chat(ChatReply::Script(Script {
        tokens: toks(&["par", "tial"]),
        end: End::Error("model runner crashed".into()),
        ..Script::default()
    }));
    let resp = chat(&fake, &user("x"));
    assert_eq!(resp.status, 200);
    assert!(resp.complete);
    let lines = resp.lines();
    assert_eq!(lines.len(), 3);
    assert_eq!(lines[2], json!({"error": "model runner crashed"}));
}

#[test]
fn drop_ends_without_the_terminating_chunk() {
    let fake = FakeOllama::start();
    fake.push_chat(ChatReply::Script(Script {
        tokens: toks(&["a", "b"]),
        end: End::Drop,
        ..Script::default()
    }));
    let resp = chat(&fake, &user("x"));
    assert_eq!(resp.status, 200);
    assert!(!resp.complete);
    assert_eq!(contents(&resp.lines()), "ab");
    assert!(resp.lines().iter().all(|l| l["done"] == false));
}

#[test]
fn stall_keeps_the_socket_open_then_closes_it() {
    let fake = FakeOllama::start();
    fake.push_chat(ChatReply::Script(Script {
        tokens: toks(&["a"]),
        end: End::Stall(Duration::from_millis(300)),
        ..Script::default()
    }));
    let started = Instant::now();
    let resp = chat(&fake, &user("x"));
    assert!(started.elapsed() >= Duration::from_millis(250));
    assert!(!resp.complete);
    assert_eq!(contents(&resp.lines()), "a");
}

#[test]
fn split_every_cuts_lines_and_characters_but_delivers_them_intact() {
    let fake = FakeOllama::start();
    let reply = ["你好", "，世界", "！🎉"];
    fake.push_chat(ChatReply::Script(Script {
        tokens: toks(&reply),
        split_every: Some(5),
        ..Script::default()
    }));
    let resp = chat(&fake, &user("x"));
    assert!(resp.complete);
    assert!(resp.chunks.len() > 10);
    assert!(resp.chunks.iter().all(|c| c.len() <= 5));
    // Some piece ends inside a multi-byte character.
    assert!(resp.chunks.iter().any(|c| std::str::from_utf8(c).is_err()));
    let lines = resp.lines();
    assert_eq!(contents(&lines), reply.concat());
    assert_eq!(lines.last().unwrap()["done"], true);
}

#[test]
fn script_delays_and_stream_false() {
    let fake = FakeOllama::start();
    fake.push_chat(ChatReply::Script(Script {
        tokens: toks(&["a", "b", "c"]),
        first_delay: Duration::from_millis(100),
        delay: Duration::from_millis(30),
        done_reason: Some("length".into()),
        prompt_eval_count: Some(99),
        ..Script::default()
    }));
    let mut body = user("x");
    body["stream"] = json!(false);
    let started = Instant::now();
    let v = chat(&fake, &body).json();
    assert!(started.elapsed() >= Duration::from_millis(180));
    assert_eq!(v["message"]["content"], "abc");
    assert_eq!(v["done_reason"], "length");
    assert_eq!(v["prompt_eval_count"], 99);
}

#[test]
fn raw_reply_is_written_verbatim() {
    let fake = FakeOllama::start();
    fake.push_chat(ChatReply::Raw(
        b"HTTP/1.1 503 Service Unavailable\r\nContent-Length: 4\r\n\r\nbusy".to_vec(),
    ));
    let resp = chat(&fake, &user("x"));
    assert_eq!(resp.status, 503);
    assert_eq!(resp.text(), "busy");
}

#[test]
fn client_closing_mid_stream_is_counted() {
    let fake = FakeOllama::start();
    fake.push_chat(ChatReply::Script(Script {
        tokens: vec!["word ".to_string(); 200],
        delay: Duration::from_millis(20),
        ..Script::default()
    }));
    let mut client = connect(&fake);
    send(
        &mut client,
        "POST",
        "/api/chat",
        Some(&user("x").to_string()),
    );
    let head = read_head(&mut client);
    assert_eq!(head.status, 200);
    assert!(read_chunk(&mut client).is_some());
    drop(client);

    let deadline = Instant::now() + Duration::from_secs(3);
    while fake.client_disconnects() == 0 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(10));
    }
    assert_eq!(fake.client_disconnects(), 1);
    // A normal chat afterwards is not counted.
    chat(&fake, &user("x"));
    assert_eq!(fake.client_disconnects(), 1);
}

// ---------------------------------------------------------------------------------------------
// Recording and connection handling
// ---------------------------------------------------------------------------------------------

#[test]
fn requests_and_chat_bodies_are_recorded() {
    let fake = FakeOllama::start();
    request(&fake, "GET", "/api/tags", None);
    chat(&fake, &user("first"));
    request(&fake, "POST", "/api/chat", Some("{not json"));
    assert!(fake.wait_for_chats(2, Duration::from_secs(1)));
    assert!(!fake.wait_for_chats(3, Duration::from_millis(50)));

    let requests = fake.requests();
    assert_eq!(requests.len(), 3);
    assert_eq!(requests[0].method, "GET");
    assert_eq!(requests[0].path, "/api/tags");
    assert_eq!(requests[1].path, "/api/chat");
    assert_eq!(requests[1].header("content-type"), Some("application/json"));
    assert_eq!(requests[1].header("USER-AGENT"), Some("selftest/1"));
    assert_eq!(requests[1].body, user("first").to_string().into_bytes());

    let bodies = fake.chat_bodies();
    assert_eq!(bodies, vec![user("first"), Value::Null]);
}

#[test]
fn keep_alive_serves_several_requests_on_one_connection() {
    let fake = FakeOllama::start();
    let mut client = connect(&fake);
    send(&mut client, "GET", "/api/version", None);
    assert_eq!(read_response(&mut client, false).status, 200);
    send(
        &mut client,
        "POST",
        "/api/chat",
        Some(&user("one").to_string()),
    );
    assert_eq!(
        contents(&read_response(&mut client, false).lines()),
        "echo: one"
    );
    send(
        &mut client,
        "POST",
        "/api/chat",
        Some(&user("two").to_string()),
    );
    assert_eq!(
        contents(&read_response(&mut client, false).lines()),
        "echo: two"
    );
}

#[test]
fn dropping_the_server_ends_open_connections() {
    let fake = FakeOllama::start();
    fake.push_chat(ChatReply::Script(Script {
        tokens: toks(&["a"]),
        end: End::Stall(Duration::from_secs(30)),
        ..Script::default()
    }));
    let mut idle = connect(&fake);
    send(&mut idle, "GET", "/", None);
    assert_eq!(read_response(&mut idle, false).status, 200);
    let mut streaming = connect(&fake);
    send(
        &mut streaming,
        "POST",
        "/api/chat",
        Some(&user("x").to_string()),
    );
    read_head(&mut streaming);
    assert!(read_chunk(&mut streaming).is_some());

    let started = Instant::now();
    drop(fake);
    assert!(read_chunk(&mut streaming).is_none());
    assert!(read_line(&mut idle).is_none());
    assert!(started.elapsed() < Duration::from_secs(5));
}

#[test]
fn garbage_closes_the_connection_and_the_server_keeps_working() {
    let fake = FakeOllama::start();
    let mut client = connect(&fake);
    client
        .get_mut()
        .write_all(b"\x00\x01 not http\r\n\r\n")
        .unwrap();
    let mut rest = Vec::new();
    let _ = client.read_to_end(&mut rest);
    assert!(rest.is_empty());
    assert_eq!(request(&fake, "GET", "/", None).status, 200);
}

// ---------------------------------------------------------------------------------------------
// Context window (22_ctx_overflow_*)
// ---------------------------------------------------------------------------------------------

fn filler(turn: usize) -> String {
    // 400 ASCII characters: 100 + 4 tokens in the fake's count.
    format!("{turn:03} {}", "x".repeat(396))
}

#[test]
fn a_history_over_the_window_loses_its_oldest_messages_but_keeps_system_and_latest() {
    let fake = FakeOllama::start();
    let mut msgs = vec![json!({"role": "system", "content": "Be brief."})]; // 7 tokens
    for i in 0..4 {
        msgs.push(json!({"role": "user", "content": filler(i)}));
        msgs.push(json!({"role": "assistant", "content": "ok"})); // 5 tokens
    }
    msgs.push(json!({"role": "user", "content": "last"})); // 5 tokens
    let body = json!({"model": "tiny", "messages": msgs, "options": {"num_ctx": 256}});
    let lines = chat(&fake, &body).lines();
    let last = lines.last().unwrap();
    // 7 + 5 (latest), then newest first: ok 5, filler 104, ok 5, filler 104, ok 5 = 235; the
    // next filler does not fit.
    assert_eq!(last["prompt_eval_count"], 235);
    assert_eq!(last["done_reason"], "stop");
    assert_eq!(fake.truncations(), 1);

    let fits = json!({"model": "tiny", "messages": msgs, "options": {"num_ctx": 4096}});
    let lines = chat(&fake, &fits).lines();
    assert_eq!(
        lines.last().unwrap()["prompt_eval_count"],
        7 + 4 * (104 + 5) + 5
    );
    assert_eq!(fake.truncations(), 1);
}

#[test]
fn a_single_message_over_the_window_is_cut() {
    let fake = FakeOllama::start();
    let body = json!({"model": "tiny", "messages": [{"role": "user", "content": "w ".repeat(1000)}], "options": {"num_ctx": 256}});
    let lines = chat(&fake, &body).lines();
    assert_eq!(lines.last().unwrap()["prompt_eval_count"], 131);
    assert_eq!(fake.truncations(), 1);
}

#[test]
fn generating_past_the_window_stops_with_length() {
    let fake = FakeOllama::start();
    fake.set_default_num_ctx(20);
    let body = json!({"model": "tiny", "messages": [{"role": "user", "content": "a b c d e f g h i j k l m n o p"}]});
    let lines = chat(&fake, &body).lines();
    let last = lines.last().unwrap();
    assert_eq!(last["prompt_eval_count"], 12);
    assert_eq!(last["eval_count"], 8);
    assert_eq!(last["done_reason"], "length");
}

#[test]
fn default_window_and_cap_show_in_show_and_ps() {
    let fake = FakeOllama::start();
    fake.set_default_num_ctx(1024);
    let show = request(&fake, "POST", "/api/show", Some(r#"{"model":"tiny"}"#)).json();
    assert!(show["parameters"]
        .as_str()
        .unwrap()
        .contains("num_ctx                        1024"));
    assert!(show["modelfile"]
        .as_str()
        .unwrap()
        .contains("PARAMETER num_ctx 1024"));
    chat(&fake, &user("hi"));
    let ps = request(&fake, "GET", "/api/ps", None).json();
    assert_eq!(ps["models"][0]["context_length"], 1024);
    fake.set_num_ctx_cap(Some(512));
    chat(
        &fake,
        &json!({"model": "tiny", "messages": [{"role": "user", "content": "hi"}], "options": {"num_ctx": 8192}}),
    );
    let ps = request(&fake, "GET", "/api/ps", None).json();
    assert_eq!(ps["models"][0]["context_length"], 512);
}

// ---------------------------------------------------------------------------------------------
// The OpenAI-compatible /v1 endpoints (recordings 23–25)
// ---------------------------------------------------------------------------------------------

fn v1_chat(fake: &FakeOllama, body: &Value) -> Resp {
    request(
        fake,
        "POST",
        "/v1/chat/completions",
        Some(&body.to_string()),
    )
}

fn v1_user(content: &str) -> Value {
    json!({"model": "tiny", "messages": [{"role": "user", "content": content}], "stream": true,
           "stream_options": {"include_usage": true}})
}

/// The `data:` payloads of an SSE body, checking the framing on the way.
fn sse_events(resp: &Resp) -> Vec<String> {
    let text = resp.text();
    assert!(text.ends_with("\n\n") || !resp.complete, "{text:?}");
    text.split("\n\n")
        .filter(|e| !e.is_empty())
        .map(|e| {
            e.strip_prefix("data: ")
                .unwrap_or_else(|| panic!("not a data event: {e:?}"))
                .to_string()
        })
        .collect()
}

fn sse_content(events: &[String]) -> (String, String) {
    let mut content = String::new();
    let mut reasoning = String::new();
    for e in events.iter().filter(|e| *e != "[DONE]") {
        let v: Value = serde_json::from_str(e).unwrap();
        if let Some(d) = v.pointer("/choices/0/delta") {
            content.push_str(d["content"].as_str().unwrap_or(""));
            reasoning.push_str(d["reasoning"].as_str().unwrap_or(""));
        }
    }
    (content, reasoning)
}

#[test]
fn v1_stream_is_shaped_like_the_recording() {
    let fake = FakeOllama::start();
    let resp = v1_chat(&fake, &v1_user("name a color"));
    assert_eq!(resp.status, 200);
    assert_eq!(resp.header("Content-Type"), Some("text/event-stream"));
    assert!(resp.complete);
    let events = sse_events(&resp);
    assert_eq!(events.last().unwrap(), "[DONE]");
    let first: Value = serde_json::from_str(&events[0]).unwrap();
    assert!(first["id"].as_str().unwrap().starts_with("chatcmpl-"));
    assert_eq!(first["object"], "chat.completion.chunk");
    assert_eq!(first["system_fingerprint"], "fp_ollama");
    assert_eq!(first["choices"][0]["delta"]["role"], "assistant");
    assert_eq!(first["choices"][0]["finish_reason"], Value::Null);
    let second: Value = serde_json::from_str(&events[1]).unwrap();
    assert!(second["choices"][0]["delta"].get("role").is_none());
    let n = events.len();
    let finish: Value = serde_json::from_str(&events[n - 3]).unwrap();
    assert_eq!(
        finish["choices"][0],
        json!({"index":0,"delta":{},"finish_reason":"stop"})
    );
    let usage: Value = serde_json::from_str(&events[n - 2]).unwrap();
    assert_eq!(usage["choices"], json!([]));
    let u = &usage["usage"];
    assert_eq!(
        u["total_tokens"].as_u64(),
        Some(u["prompt_tokens"].as_u64().unwrap() + u["completion_tokens"].as_u64().unwrap())
    );
    assert_eq!(sse_content(&events).0, "echo: name a color");
    assert_eq!(fake.chat_bodies().len(), 1);
}

#[test]
fn v1_usage_only_when_asked_and_max_tokens_cuts() {
    let fake = FakeOllama::start();
    let body = json!({"model":"tiny","messages":[{"role":"user","content":"a b c d e"}],
                      "stream":true,"max_tokens":2});
    let events = sse_events(&v1_chat(&fake, &body));
    assert!(events.iter().all(|e| !e.contains("\"usage\"")));
    let finish: Value = serde_json::from_str(&events[events.len() - 2]).unwrap();
    assert_eq!(finish["choices"][0]["finish_reason"], "length");
    assert_eq!(sse_content(&events).0, "echo: a");
}

#[test]
fn v1_without_stream_answers_one_completion() {
    let fake = FakeOllama::start();
    let body = json!({"model":"tiny","messages":[{"role":"user","content":"hi"}]});
    let resp = v1_chat(&fake, &body);
    let v = resp.json();
    assert_eq!(v["object"], "chat.completion");
    assert_eq!(v["choices"][0]["message"]["content"], "echo: hi");
    assert_eq!(v["choices"][0]["finish_reason"], "stop");
    assert!(v["usage"]["prompt_tokens"].as_u64().unwrap() > 0);
}

#[test]
fn v1_errors_match_the_recordings() {
    let fake = FakeOllama::start();
    let resp = request(
        &fake,
        "POST",
        "/v1/chat/completions",
        Some(r#"{"model":"tiny","#),
    );
    assert_eq!(resp.status, 400);
    assert_eq!(
        resp.text(),
        r#"{"error":{"message":"unexpected EOF","type":"invalid_request_error","param":null,"code":null}}"#
    );
    let resp = v1_chat(
        &fake,
        &json!({"model":"nope","messages":[{"role":"user","content":"hi"}]}),
    );
    assert_eq!(resp.status, 404);
    assert_eq!(resp.header("Content-Type"), Some("application/json"));
    assert_eq!(
        resp.text(),
        r#"{"error":{"message":"model 'nope' not found","type":"not_found_error","param":null,"code":null}}"#
    );
    let resp = v1_chat(
        &fake,
        &json!({"model":"tiny","messages":[{"role":"user","content":"x"}],"reasoning_effort":"low"}),
    );
    assert_eq!(resp.status, 400);
    assert!(resp.text().contains("does not support thinking"));
    fake.push_chat(ChatReply::HttpErrorHeaders {
        status: 429,
        message: "slow down".into(),
        headers: vec![("Retry-After".into(), "7".into())],
    });
    let resp = v1_chat(&fake, &v1_user("x"));
    assert_eq!(resp.status, 429);
    assert_eq!(resp.header("Retry-After"), Some("7"));
    assert_eq!(resp.json()["error"]["message"], "slow down");
    assert_eq!(resp.json()["error"]["type"], "api_error");
}

#[test]
fn v1_reasoning_for_a_thinking_model() {
    let fake = FakeOllama::start();
    fake.set_models(&["tiny-think"]);
    let body = json!({"model":"tiny-think","messages":[{"role":"user","content":"why"}],
                      "stream":true,"reasoning_effort":"low"});
    let (content, reasoning) = sse_content(&sse_events(&v1_chat(&fake, &body)));
    assert_eq!(reasoning, "thinking about: why");
    assert_eq!(content, "echo: why");
}

#[test]
fn v1_scripted_faults() {
    let fake = FakeOllama::start();
    fake.push_chat(ChatReply::Script(Script {
        tokens: toks(&["par", "tial"]),
        end: End::Error("model runner crashed".into()),
        ..Script::default()
    }));
    let resp = v1_chat(&fake, &v1_user("x"));
    assert!(resp.complete);
    let events = sse_events(&resp);
    assert_eq!(events.len(), 3, "{events:?}");
    let err: Value = serde_json::from_str(&events[2]).unwrap();
    assert_eq!(err["error"]["message"], "model runner crashed");

    fake.push_chat(ChatReply::Script(Script {
        tokens: toks(&["a", "b"]),
        end: End::Drop,
        ..Script::default()
    }));
    let resp = v1_chat(&fake, &v1_user("x"));
    assert!(!resp.complete);
    assert_eq!(sse_content(&sse_events(&resp)).0, "ab");

    fake.push_chat(ChatReply::Script(Script {
        tokens: toks(&["老師", "說"]),
        split_every: Some(3),
        ..Script::default()
    }));
    let resp = v1_chat(&fake, &v1_user("x"));
    assert!(resp.chunks.len() > 10);
    assert!(resp.chunks.iter().all(|c| c.len() <= 3));
    assert_eq!(sse_content(&sse_events(&resp)).0, "老師說");
}

#[test]
fn v1_models_list_and_lookup() {
    let fake = FakeOllama::start();
    fake.set_models(&["tiny", "tiny2"]);
    let v = request(&fake, "GET", "/v1/models", None).json();
    assert_eq!(v["object"], "list");
    let ids: Vec<&str> = v["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, vec!["tiny:latest", "tiny2:latest"]);
    assert_eq!(v["data"][0]["owned_by"], "library");
    let resp = request(&fake, "GET", "/v1/models/tiny", None);
    assert_eq!(resp.json()["id"], "tiny");
    let resp = request(&fake, "GET", "/v1/models/nope", None);
    assert_eq!(resp.status, 404);
    assert_eq!(
        resp.json()["error"]["message"],
        "model 'nope:latest' not found"
    );
}

#[test]
fn v1_api_key_is_checked_when_required() {
    let fake = FakeOllama::start();
    fake.require_api_key(Some("sk-right"));
    let resp = v1_chat(&fake, &v1_user("x"));
    assert_eq!(resp.status, 401);
    assert_eq!(resp.json()["error"]["code"], "invalid_api_key");
    let mut client = connect(&fake);
    let body = v1_user("x").to_string();
    let req = format!(
        "POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer sk-right\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    client.get_mut().write_all(req.as_bytes()).unwrap();
    assert_eq!(read_response(&mut client, false).status, 200);
    assert_eq!(request(&fake, "GET", "/v1/models", None).status, 401);
}

// ---------------------------------------------------------------------------------------------
// Model management (pull, create, copy, delete, blobs)
// ---------------------------------------------------------------------------------------------

#[test]
fn pull_streams_layers_then_installs_the_model() {
    let fake = FakeOllama::start();
    let r = request(&fake, "POST", "/api/pull", Some(r#"{"model":"tiny2"}"#));
    assert_eq!(r.status, 200);
    assert_eq!(r.header("Content-Type"), Some("application/x-ndjson"));
    let lines = r.lines();
    assert_eq!(lines[0], json!({"status": "pulling manifest"}));
    assert!(lines[1].get("completed").is_none(), "zero is omitted");
    assert_eq!(lines[1]["total"], 253_113_673);
    let status = lines[1]["status"].as_str().unwrap();
    let digest = lines[1]["digest"].as_str().unwrap();
    assert_eq!(status, format!("pulling {}", &digest[7..19]));
    let last: Vec<&str> = lines[lines.len() - 3..]
        .iter()
        .map(|l| l["status"].as_str().unwrap())
        .collect();
    assert_eq!(
        last,
        ["verifying sha256 digest", "writing manifest", "success"]
    );
    assert!(fake.model_names().contains(&"tiny2:latest".to_string()));
}

#[test]
fn pull_failures_as_recorded() {
    let fake = FakeOllama::start();
    let r = request(
        &fake,
        "POST",
        "/api/pull",
        Some(r#"{"model":"this-model-does-not-exist-xyz"}"#),
    );
    assert_eq!(r.status, 200);
    assert_eq!(
        r.text(),
        "{\"status\":\"pulling manifest\"}\n{\"error\":\"pull model manifest: Get \\\"https://registry.ollama.ai/v2/library/this-model-does-not-exist-xyz/manifests/latest\\\": dial tcp: lookup registry.ollama.ai on 10.255.255.53:53: no such host\"}\n"
    );
    let r = request(
        &fake,
        "POST",
        "/api/pull",
        Some(r#"{"model":"this-model-does-not-exist-xyz","stream":false}"#),
    );
    assert_eq!(r.status, 500);

    fake.push_pull(crate::support::fake_ollama::PullReply::Script(
        crate::support::fake_ollama::PullScript {
            error_after: Some((3, "max retries exceeded".into())),
            ..Default::default()
        },
    ));
    let lines = request(&fake, "POST", "/api/pull", Some(r#"{"model":"x"}"#)).lines();
    assert_eq!(lines.len(), 4);
    assert_eq!(lines[3], json!({"error": "max retries exceeded"}));
    assert!(!fake.model_names().contains(&"x:latest".to_string()));
}

#[test]
fn create_records_the_body_and_installs_the_model() {
    let fake = FakeOllama::start();
    let body = r#"{"model":"tiny3","from":"tiny","system":"You are Tiny3. Reply with one word.","parameters":{"num_ctx":512,"temperature":0.2,"stop":["<end_of_turn>"]}}"#;
    let r = request(&fake, "POST", "/api/create", Some(body));
    assert_eq!(r.status, 200);
    let statuses: Vec<String> = r
        .lines()
        .iter()
        .map(|l| l["status"].as_str().unwrap().to_string())
        .collect();
    assert!(statuses[0].starts_with("using existing layer sha256:"));
    assert_eq!(statuses.len(), 5);
    assert_eq!(statuses[4], "success");
    assert_eq!(
        fake.create_bodies(),
        vec![serde_json::from_str::<Value>(body).unwrap()]
    );
    assert_eq!(fake.model_names()[0], "tiny3:latest");

    let r = request(
        &fake,
        "POST",
        "/api/create",
        Some(r#"{"model":"tiny5","from":"does-not-exist"}"#),
    );
    let lines = r.lines();
    assert_eq!(lines[0], json!({"status": "pulling manifest"}));
    assert!(lines[1]["error"]
        .as_str()
        .unwrap()
        .contains("library/does-not-exist/manifests/latest"));
}

#[test]
fn copy_and_delete_answer_as_recorded() {
    let fake = FakeOllama::start();
    let r = request(
        &fake,
        "POST",
        "/api/copy",
        Some(r#"{"source":"tiny","destination":"tiny3-copy"}"#),
    );
    assert_eq!((r.status, r.header("Content-Length")), (200, Some("0")));
    assert_eq!(r.header("Content-Type"), None);
    let r = request(
        &fake,
        "POST",
        "/api/copy",
        Some(r#"{"source":"nope","destination":"nope2"}"#),
    );
    assert_eq!(r.status, 404);
    assert_eq!(r.text(), r#"{"error":"model \"nope\" not found"}"#);

    let r = request(
        &fake,
        "DELETE",
        "/api/delete",
        Some(r#"{"model":"tiny3-copy"}"#),
    );
    assert_eq!((r.status, r.body.len()), (200, 0));
    let r = request(
        &fake,
        "DELETE",
        "/api/delete",
        Some(r#"{"model":"tiny3-copy"}"#),
    );
    assert_eq!(r.status, 404);
    assert_eq!(r.text(), r#"{"error":"model 'tiny3-copy' not found"}"#);
    assert_eq!(
        request(&fake, "POST", "/api/delete", Some("{}")).status,
        405
    );
}

#[test]
fn blobs_check_their_digest() {
    use sha2::{Digest, Sha256};
    let fake = FakeOllama::start();
    let data = "GGUF fake weights";
    let hex: String = Sha256::digest(data.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    let path = format!("/api/blobs/sha256:{hex}");
    assert_eq!(request(&fake, "HEAD", &path, None).status, 404);
    let wrong = format!("/api/blobs/sha256:{}", "0".repeat(64));
    let r = request(&fake, "POST", &wrong, Some(data));
    assert_eq!(r.status, 400);
    assert!(r.text().contains("digest mismatch"));
    assert_eq!(request(&fake, "POST", &path, Some(data)).status, 201);
    assert_eq!(request(&fake, "HEAD", &path, None).status, 200);
    assert_eq!(fake.blobs(), vec![format!("sha256:{hex}")]);
    assert_eq!(
        request(&fake, "HEAD", "/api/blobs/md5:abc", None).status,
        400
    );
}

// ---------------------------------------------------------------------------------------------
// Fast-stream mode (benchmarks)
// ---------------------------------------------------------------------------------------------

#[test]
fn fast_stream_sends_num_predict_tokens_one_line_per_chunk() {
    let fake = FakeOllama::start();
    fake.set_fast_stream(Some(FastStream::default()));
    let body = json!({"model": "tiny", "options": {"num_predict": 5000},
        "messages": [{"role": "user", "content": "go"}]});
    let resp = chat(&fake, &body);
    assert_eq!(resp.status, 200);
    assert_eq!(resp.header("Content-Type"), Some("application/x-ndjson"));
    assert!(resp.complete);
    assert_eq!(resp.chunks.len(), 5001);
    for chunk in &resp.chunks {
        assert!(chunk.ends_with(b"\n"));
        assert_eq!(chunk.iter().filter(|&&b| b == b'\n').count(), 1);
    }
    let lines = resp.lines();
    assert_eq!(contents(&lines), fast_stream_text(5000));
    assert!(fast_stream_text(5000).contains("你好"));
    let last = lines.last().unwrap();
    assert_eq!(last["done"], true);
    assert_eq!(last["done_reason"], "length");
    assert_eq!(last["eval_count"], 5000);
    assert_eq!(lines[0]["model"], "tiny");
    assert!(lines[0]["created_at"].as_str().unwrap().ends_with('Z'));
}

#[test]
fn fast_stream_default_length_delay_queue_and_errors() {
    let fake = FakeOllama::start();
    fake.set_fast_stream(Some(FastStream {
        default_tokens: 7,
        first_delay: Duration::from_millis(50),
        markdown: false,
    }));
    let started = Instant::now();
    let lines = chat(&fake, &user("go")).lines();
    assert!(started.elapsed() >= Duration::from_millis(50));
    assert_eq!(lines.len(), 8);
    assert_eq!(lines[7]["done_reason"], "stop");
    // A queued reply still comes first; errors are still the server's.
    fake.push_chat(ChatReply::Tokens(toks(&["queued"])));
    assert_eq!(contents(&chat(&fake, &user("go")).lines()), "queued");
    let missing = json!({"model": "nope", "messages": [{"role": "user", "content": "x"}]});
    assert_eq!(chat(&fake, &missing).status, 404);
    // Back to the echo.
    fake.set_fast_stream(None);
    assert_eq!(contents(&chat(&fake, &user("hi")).lines()), "echo: hi");
}

mod anthropic;
