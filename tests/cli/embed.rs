//! `ollama-chat embed` against the fake: the JSON and NDJSON shapes, stdin lines in batches with
//! `--dimensions`, the OpenAI-compatible endpoint, a model that cannot embed, and the log record.

use predicates::prelude::*;
use serde_json::Value;

use crate::harness::{Api, TestEnv};

fn embed_env(api: Api) -> TestEnv {
    let env = TestEnv::with(api);
    env.fake.set_models(&["tiny-embed", "tiny"]);
    env
}

#[test]
fn texts_become_one_json_document_and_one_log_record() {
    let env = embed_env(Api::Ollama);
    let out = env
        .cmd()
        .args(["embed", "-m", "tiny-embed", "你好", "world"])
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    let doc: Value = serde_json::from_slice(&out).unwrap();
    assert_eq!(doc["model"], "tiny-embed");
    let vectors = doc["embeddings"].as_array().unwrap();
    assert_eq!(vectors.len(), 2);
    assert_eq!(vectors[0].as_array().unwrap().len(), 8);
    let sent = env.fake.bodies_of("POST", "/api/embed");
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0]["input"], serde_json::json!(["你好", "world"]));
    assert!(sent[0].get("dimensions").is_none());
    let log = env.log_records();
    assert_eq!(log.len(), 1);
    assert_eq!(log[0]["call"], "embed");
    assert_eq!(log[0]["status"], "ok");
    assert_eq!(log[0]["model"], "tiny-embed");
    assert_eq!(log[0]["user_input"], "你好\nworld");
    assert!(log[0]["prompt_tokens"].as_u64().unwrap() > 0);
    assert!(log[0]["response_time"].as_f64().is_some());
    // `stats` counts the run apart from the chat's turns.
    env.cmd()
        .args(["-p", "hi", "-m", "tiny"])
        .assert()
        .success();
    let out = env.cmd().args(["stats", "--json"]).output().unwrap();
    let stats: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(stats["overall"]["turns"], 1, "{stats}");
    assert_eq!(stats["overall"]["embed_calls"], 1, "{stats}");
    let out = env.cmd().arg("stats").output().unwrap();
    let table = String::from_utf8(out.stdout).unwrap();
    assert!(table.contains("embed calls"), "{table}");
}

#[test]
fn stdin_lines_go_in_batches_as_ndjson_with_their_index_and_dimensions() {
    let env = embed_env(Api::Ollama);
    let out = env
        .cmd()
        .args(["embed", "-m", "tiny-embed", "--ndjson", "--batch", "2"])
        .args(["--dimensions", "4"])
        .write_stdin("one\n\ntwo\r\nthree\nfour\n五\n")
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    let lines: Vec<Value> = String::from_utf8(out)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 5);
    for (i, line) in lines.iter().enumerate() {
        assert_eq!(line["index"], i);
        assert_eq!(line["embedding"].as_array().unwrap().len(), 4);
    }
    let sent = env.fake.bodies_of("POST", "/api/embed");
    assert_eq!(sent.len(), 3, "2 + 2 + 1");
    assert_eq!(sent[1]["input"], serde_json::json!(["three", "four"]));
    assert!(sent.iter().all(|b| b["dimensions"] == 4));
}

#[test]
fn an_openai_compatible_server_gets_its_own_request_and_gives_the_same_shape() {
    let env = embed_env(Api::OpenAi);
    let out = env
        .cmd()
        .args([
            "embed",
            "-m",
            "tiny-embed",
            "--dimensions",
            "3",
            "a",
            "b",
            "c",
        ])
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    let doc: Value = serde_json::from_slice(&out).unwrap();
    let vectors = doc["embeddings"].as_array().unwrap();
    assert_eq!(vectors.len(), 3);
    assert_eq!(vectors[2].as_array().unwrap().len(), 3);
    let sent = env.fake.bodies_of("POST", "/v1/embeddings");
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0]["input"], serde_json::json!(["a", "b", "c"]));
    assert_eq!(sent[0]["dimensions"], 3);
    assert_eq!(env.log_records()[0]["call"], "embed");
}

#[test]
fn a_model_that_cannot_embed_and_nothing_to_embed_are_one_clear_line() {
    let env = embed_env(Api::Ollama);
    env.cmd()
        .args(["embed", "-m", "tiny", "hello"])
        .assert()
        .code(1)
        .stdout("")
        .stderr(predicate::str::contains("does not support embeddings"));
    assert_eq!(env.log_records()[0]["status"], "error");
    env.cmd()
        .args(["embed", "-m", "tiny-embed"])
        .write_stdin("\n \n")
        .assert()
        .code(2)
        .stderr(predicate::str::contains("nothing to embed"));
}
