//! Images and files into the conversation: `--image`, `-f`, paths typed in the REPL, the vision
//! check before sending, each API's wire shape with the exact bytes, sessions that keep images
//! once by hash, and the turn log's record of them.

use std::path::{Path, PathBuf};

use base64::Engine as _;
use predicates::prelude::*;
use serde_json::Value;

use crate::harness::{read_jsonl, Api, TestEnv};
use crate::pty::{enter, exit_with_ctrl_d, l, start, PROMPT};

/// The 1×1 PNG of the recorded `29_*` requests.
const DOT_PNG: &str = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8DwHwAFBQIAX8jx0gAAAABJRU5ErkJggg==";

fn dot_png() -> Vec<u8> {
    base64::engine::general_purpose::STANDARD
        .decode(DOT_PNG)
        .unwrap()
}

/// A JPEG header and some bytes: the type is told by the bytes, whatever the name says.
fn jpeg_bytes() -> Vec<u8> {
    let mut b = vec![
        0xFF, 0xD8, 0xFF, 0xE0, 0x00, 0x10, b'J', b'F', b'I', b'F', 0,
    ];
    b.extend((0..=255u8).cycle().take(5000));
    b
}

fn write(dir: &Path, name: &str, bytes: &[u8]) -> PathBuf {
    let p = dir.join(name);
    if let Some(parent) = p.parent() {
        std::fs::create_dir_all(parent).unwrap();
    }
    std::fs::write(&p, bytes).unwrap();
    p
}

fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

/// An environment whose only model can see.
fn vision_env(api: Api) -> TestEnv {
    let env = TestEnv::with(api);
    env.fake.set_models(&["llava-vision:latest"]);
    env
}

fn paths(env: &TestEnv) -> Vec<String> {
    env.fake.requests().iter().map(|r| r.path.clone()).collect()
}

every_api!(one_shot_images_arrive_byte_for_byte);

fn one_shot_images_arrive_byte_for_byte(api: Api) {
    let env = vision_env(api);
    let dir = env.home.path();
    // A JPEG named .png: sent as the JPEG it is.
    write(dir, "photo.png", &jpeg_bytes());
    write(dir, "dot.png", &dot_png());
    env.cmd()
        .args([
            "--image",
            "photo.png",
            "--image",
            "dot.png",
            "-p",
            "compare these",
        ])
        .assert()
        .success()
        // No warning that the server cut the prompt: the images' estimate is not taken for
        // text that went missing.
        .stderr("");
    let bodies = env.fake.chat_bodies();
    assert_eq!(bodies.len(), 1);
    let user = &bodies[0]["messages"]
        .as_array()
        .unwrap()
        .last()
        .unwrap()
        .clone();
    match api {
        Api::Ollama => {
            assert_eq!(user["content"], "compare these");
            let images: Vec<&str> = user["images"]
                .as_array()
                .unwrap()
                .iter()
                .map(|i| i.as_str().unwrap())
                .collect();
            assert_eq!(images, [b64(&jpeg_bytes()).as_str(), DOT_PNG]);
        }
        Api::OpenAi => {
            let parts = user["content"].as_array().unwrap();
            assert_eq!(
                parts[0],
                serde_json::json!({"type":"text","text":"compare these"})
            );
            assert_eq!(
                parts[1]["image_url"]["url"],
                format!("data:image/jpeg;base64,{}", b64(&jpeg_bytes()))
            );
            assert_eq!(
                parts[2]["image_url"]["url"],
                format!("data:image/png;base64,{DOT_PNG}")
            );
        }
        Api::Anthropic => {
            let blocks = user["content"].as_array().unwrap();
            assert_eq!(
                blocks[0]["source"],
                serde_json::json!({"type":"base64","media_type":"image/jpeg","data":b64(&jpeg_bytes())})
            );
            assert_eq!(blocks[1]["source"]["data"], DOT_PNG);
            assert_eq!(
                blocks[2],
                serde_json::json!({"type":"text","text":"compare these"})
            );
        }
    }
}

#[test]
fn a_model_that_cannot_see_is_refused_before_any_chat_request() {
    let env = TestEnv::new();
    env.fake
        .set_models(&["tiny:latest", "llava-vision:latest", "gemma-vision:4b"]);
    write(env.home.path(), "dot.png", &dot_png());
    env.cmd()
        .args(["-m", "tiny", "--image", "dot.png", "-p", "what is this?"])
        .assert()
        .code(2)
        .stdout("")
        .stderr(predicate::str::contains(
            "tiny cannot see images; try a vision model such as gemma-vision:4b, llava-vision:latest (/model NAME, or -m NAME; nothing was sent)",
        ));
    assert!(
        !paths(&env).iter().any(|p| p == "/api/chat"),
        "{:?}",
        paths(&env)
    );
}

#[test]
fn the_servers_own_refusal_is_one_clear_line() {
    // OpenAI-compatible servers cannot be asked: the image is sent, and the recorded refusal
    // (29_v1_chat_image_nonvision) is said plainly.
    let env = TestEnv::with(Api::OpenAi);
    write(env.home.path(), "dot.png", &dot_png());
    env.cmd()
        .args(["--image", "dot.png", "-p", "what is this?"])
        .assert()
        .code(1)
        .stderr(predicate::str::contains(
            "tiny:latest cannot see images (Multimodal data provided, but model does not support multimodal requests.); try a vision model",
        ))
        .stderr(predicate::str::contains("\\\"").not());
}

#[test]
fn files_that_cannot_be_attached_send_nothing() {
    let env = vision_env(Api::Ollama);
    let dir = env.home.path();
    write(dir, "script.png", b"#!/bin/sh\necho hi\n");
    write(dir, "big.png", &dot_png());
    write(dir, "latin1.txt", b"caf\xe9\n");
    write(dir, "blob.bin", b"ab\0cd");
    std::fs::create_dir(dir.join("folder")).unwrap();
    for (args, says) in [
        (&["--image", "script.png"][..], "script.png is not an image"),
        (&["--image", "missing.png"], "missing.png does not exist"),
        (
            &["--image", "big.png", "--max-attachment-size", "10"],
            "more than the 10 B allowed",
        ),
        (
            &["-f", "latin1.txt"],
            "latin1.txt is not UTF-8 text (invalid bytes at offset 3)",
        ),
        (&["-f", "blob.bin"], "blob.bin looks like a binary file"),
        (&["-f", "folder"], "folder is a folder"),
        (
            &["-f", "big.png"],
            "big.png is an image (image/png); attach it with --image",
        ),
    ] {
        env.cmd()
            .args(args)
            .args(["-p", "look"])
            .assert()
            .code(2)
            .stdout("")
            .stderr(predicate::str::contains(says));
    }
    assert!(env.fake.chat_bodies().is_empty());
}

#[test]
fn text_files_become_fenced_blocks_in_order_and_dash_is_stdin() {
    let env = TestEnv::new();
    let dir = env.home.path();
    write(dir, "src/main.rs", "fn main() {}\n".as_bytes());
    write(dir, "notes.md", "```\n筆記\n```\n".as_bytes());
    env.cmd()
        .args([
            "-f",
            "src/main.rs",
            "-f",
            "-",
            "-f",
            "notes.md",
            "-p",
            "review",
        ])
        .write_stdin("piped 文字\n")
        .assert()
        .success();
    let body = &env.fake.chat_bodies()[0];
    let content = body["messages"][0]["content"].as_str().unwrap();
    assert_eq!(
        content,
        "review\n\nsrc/main.rs:\n```rust\nfn main() {}\n```\n\nstdin:\n```\npiped 文字\n```\n\nnotes.md:\n````markdown\n```\n筆記\n```\n````"
    );
    // A file alone, without -p, is a message too.
    env.cmd().args(["-f", "notes.md"]).assert().success();
    let body = &env.fake.chat_bodies()[1];
    assert!(body["messages"][0]["content"]
        .as_str()
        .unwrap()
        .starts_with("notes.md:\n````markdown"));
}

#[test]
fn an_image_with_piped_stdin_as_the_question() {
    let env = vision_env(Api::Ollama);
    write(env.home.path(), "dot.png", &dot_png());
    env.cmd()
        .args(["--image", "dot.png"])
        .write_stdin("這是什麼？\n")
        .assert()
        .success();
    let body = &env.fake.chat_bodies()[0];
    assert_eq!(body["messages"][0]["content"], "這是什麼？");
    assert_eq!(body["messages"][0]["images"], serde_json::json!([DOT_PNG]));
}

#[test]
fn a_file_too_large_for_the_window_is_refused_with_its_size() {
    let env = TestEnv::new();
    write(env.home.path(), "long.txt", "word ".repeat(4000).as_bytes());
    env.cmd()
        .args(["-f", "long.txt", "-p", "summarise", "-o", "num_ctx=1024"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("this message needs about"))
        .stderr(predicate::str::contains(
            "the context window is 1024 tokens",
        ));
    assert!(env.fake.chat_bodies().is_empty());
}

/// The blob files in the sessions' blob folder.
fn blobs(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir.join("blobs"))
        .map(|d| {
            d.map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    names
}

#[test]
fn a_session_keeps_each_image_once_and_sends_it_again_when_resumed() {
    use sha2::Digest as _;
    let env = vision_env(Api::Ollama);
    let dir = env.home.path();
    write(dir, "dot.png", &dot_png());
    let session = dir.join("chat.jsonl");
    let s = session.to_str().unwrap();
    for q in ["what is this?", "and again?"] {
        env.cmd()
            .args([
                "--session",
                s,
                "--image",
                "dot.png",
                "-p",
                q,
                "-o",
                "num_ctx=8192",
            ])
            .assert()
            .success();
    }
    let hash: String = sha2::Sha256::digest(dot_png())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    assert_eq!(blobs(dir), [format!("sha256-{hash}")], "stored once");
    let blob = dir.join("blobs").join(format!("sha256-{hash}"));
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(
        std::fs::metadata(&blob).unwrap().permissions().mode() & 0o777,
        0o600
    );
    assert_eq!(std::fs::read(&blob).unwrap(), dot_png());
    // The records name the image; its bytes are not in the file.
    let records = read_jsonl(&session);
    let users: Vec<&Value> = records.iter().filter(|r| r["kind"] == "user").collect();
    assert_eq!(
        users[0]["images"],
        serde_json::json!([{"name":"dot.png","media_type":"image/png","size":dot_png().len(),"sha256":hash}])
    );
    assert!(!std::fs::read_to_string(&session).unwrap().contains(DOT_PNG));

    // Resumed without --image: the earlier turns still carry their image.
    env.cmd()
        .args(["--session", s, "-p", "which colour?"])
        .assert()
        .success();
    let last = env.fake.chat_bodies().pop().unwrap();
    let sent = last["messages"].as_array().unwrap();
    let images: Vec<&Value> = sent.iter().map(|m| &m["images"]).collect();
    assert_eq!(images[0], &serde_json::json!([DOT_PNG]));
    assert_eq!(images[2], &serde_json::json!([DOT_PNG]));
    assert!(images[4].is_null(), "the new question has no image");

    // The export inlines it as /api/chat takes it, and replay names it.
    env.cmd()
        .args(["sessions", "export", s, "--format", "json"])
        .assert()
        .success()
        .stdout(predicate::str::contains(DOT_PNG));
    env.cmd()
        .args(["replay", s])
        .assert()
        .success()
        .stdout(predicate::str::contains("[image: dot.png, 70 B]"));
    env.cmd()
        .args(["sessions", "export", s])
        .assert()
        .success()
        .stdout(predicate::str::contains(format!(
            "![dot.png](<{}> \"image/png, 70 B\")",
            blob.display()
        )));
}

#[test]
fn a_missing_blob_stops_the_resume_with_one_line() {
    let env = vision_env(Api::Ollama);
    let dir = env.home.path();
    write(dir, "dot.png", &dot_png());
    let s = dir.join("chat.jsonl");
    env.cmd()
        .args([
            "--session",
            s.to_str().unwrap(),
            "--image",
            "dot.png",
            "-p",
            "q",
        ])
        .assert()
        .success();
    std::fs::remove_dir_all(dir.join("blobs")).unwrap();
    env.cmd()
        .args(["--session", s.to_str().unwrap(), "-p", "again"])
        .assert()
        .code(1)
        .stderr(predicate::str::contains(
            "the image dot.png of this session cannot be read from",
        ));
    assert_eq!(env.fake.chat_bodies().len(), 1);
}

#[test]
fn removing_a_session_removes_the_images_no_other_session_uses() {
    let env = vision_env(Api::Ollama);
    let dir = env.home.path();
    write(dir, "dot.png", &dot_png());
    write(dir, "photo.jpg", &jpeg_bytes());
    let sessions = dir.join(".local/share/ollama-chat/sessions");
    // Names no id can start with (ids are hex).
    for (name, image) in [("one", "dot.png"), ("two", "dot.png"), ("six", "photo.jpg")] {
        env.cmd()
            .args(["--session", name, "--image", image, "-p", "q"])
            .assert()
            .success();
    }
    assert_eq!(blobs(&sessions).len(), 2);
    env.cmd()
        .args(["sessions", "rm", "one", "--yes"])
        .assert()
        .success()
        .stdout(predicate::str::contains("Removed").not());
    assert_eq!(blobs(&sessions).len(), 2, "two still sends dot.png");
    env.cmd()
        .args(["sessions", "rm", "six", "--yes"])
        .assert()
        .success()
        .stdout(predicate::str::contains(
            "Removed 1 image no other session uses.",
        ));
    assert_eq!(blobs(&sessions).len(), 1);
}

#[test]
fn the_turn_log_names_images_and_never_holds_their_bytes() {
    let env = vision_env(Api::Ollama);
    write(env.home.path(), "dot.png", &dot_png());
    env.cmd()
        .args(["--image", "dot.png", "-p", "q"])
        .assert()
        .success();
    env.cmd()
        .args(["--image", "dot.png", "-p", "q", "--log-content", "none"])
        .assert()
        .success();
    let log = env.log_records();
    assert_eq!(log[0]["image_count"], 1);
    assert_eq!(log[0]["images"][0]["name"], "dot.png");
    assert_eq!(log[0]["images"][0]["media_type"], "image/png");
    assert_eq!(log[0]["images"][0]["size"], 70);
    assert_eq!(log[0]["images"][0]["sha256"].as_str().unwrap().len(), 64);
    assert_eq!(log[1]["image_count"], 1);
    assert!(log[1].get("images").is_none());
    let text = std::fs::read_to_string(env.log_path()).unwrap();
    assert!(!text.contains(DOT_PNG));
}

#[test]
fn typed_paths_attach_images_and_other_text_stays_text() {
    let env = vision_env(Api::Ollama);
    let dir = env.home.path();
    write(dir, "My Photos/dot 1.png", &dot_png());
    write(dir, "notes.txt", "記事\n".as_bytes());
    let mut p = start(&env, &[]);
    enter(
        &mut p,
        "what is in '~/My Photos/dot 1.png'? not /nowhere/cat.png",
    );
    p.exp_string("[image: dot 1.png, 70 B]").unwrap();
    p.exp_string(&l(PROMPT)).unwrap();
    // A message that starts with an image's path is a message, not an unknown command.
    let abs = dir.join("My Photos/dot 1.png");
    let typed = format!(
        "{} and this?",
        abs.display().to_string().replace(' ', "\\ ")
    );
    enter(&mut p, &typed);
    p.exp_string("echo: and this?").unwrap();
    p.exp_string(&l(PROMPT)).unwrap();
    enter(&mut p, "/file notes.txt");
    p.exp_string("[file: notes.txt, 7 B]").unwrap();
    p.exp_string(&l(PROMPT)).unwrap();
    enter(&mut p, "/attach");
    p.exp_string("1  [file: notes.txt, 7 B]").unwrap();
    p.exp_string(&l(PROMPT)).unwrap();
    // Tab completes a path after @.
    p.send("read @not\t").unwrap();
    p.flush().unwrap();
    p.exp_string("notes.txt").unwrap();
    enter(&mut p, "");
    p.exp_string("echo: read @notes.txt").unwrap();
    p.exp_string(&l(PROMPT)).unwrap();
    exit_with_ctrl_d(p);

    let bodies = env.fake.chat_bodies();
    assert_eq!(bodies.len(), 3);
    let first = &bodies[0]["messages"][0];
    assert_eq!(first["content"], "what is in ? not /nowhere/cat.png");
    assert_eq!(first["images"], serde_json::json!([DOT_PNG]));
    // /file's block first (it was waiting), then @notes.txt's; the text keeps the @path.
    assert_eq!(bodies[1]["messages"][2]["content"], "and this?");
    assert_eq!(
        bodies[1]["messages"][2]["images"],
        serde_json::json!([DOT_PNG])
    );
    let second = bodies[2]["messages"][4]["content"].as_str().unwrap();
    assert_eq!(
        second,
        "read @notes.txt\n\nnotes.txt:\n```\n記事\n```\n\nnotes.txt:\n```\n記事\n```"
    );
}

#[test]
fn a_repl_refusal_keeps_the_attachment_for_another_model() {
    let env = TestEnv::new();
    env.fake.set_models(&["tiny:latest", "llava-vision:latest"]);
    write(env.home.path(), "dot.png", &dot_png());
    let mut p = start(&env, &["-m", "tiny"]);
    // Tab completes the file name after /image.
    p.send("/image do\t").unwrap();
    p.flush().unwrap();
    p.exp_string("dot.png").unwrap();
    enter(&mut p, "");
    p.exp_string("[image: dot.png, 70 B]").unwrap();
    p.exp_string(&l(PROMPT)).unwrap();
    enter(&mut p, "describe it");
    p.exp_string("tiny cannot see images; try a vision model such as llava-vision:latest")
        .unwrap();
    p.exp_string(&l(PROMPT)).unwrap();
    // The message is back at the prompt; clear it, switch, and send again.
    p.send_control('u').unwrap();
    enter(&mut p, "/model llava-vision");
    p.exp_string(&l(PROMPT)).unwrap();
    enter(&mut p, "describe it");
    p.exp_string(&l(PROMPT)).unwrap();
    // /retry sends the same image again.
    enter(&mut p, "/retry");
    p.exp_string(&l(PROMPT)).unwrap();
    enter(&mut p, "/attach");
    p.exp_string("Nothing is attached").unwrap();
    exit_with_ctrl_d(p);
    let bodies = env.fake.chat_bodies();
    assert_eq!(bodies.len(), 2);
    for body in &bodies {
        let sent = body["messages"].as_array().unwrap();
        assert_eq!(sent.len(), 1, "the retried question replaced the first");
        assert_eq!(sent[0]["content"], "describe it");
        assert_eq!(sent[0]["images"], serde_json::json!([DOT_PNG]));
    }
}
