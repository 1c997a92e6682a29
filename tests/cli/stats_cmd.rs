//! `ollama-chat stats` on fixture logs: every aggregate, exact percentiles on small inputs, the
//! groupings, filters, several files, and the histogram past the exact limit (marked as such).

use serde_json::Value;

use crate::harness::TestEnv;
use crate::hostile_escapes::assert_clean;
use crate::logs_cmd::fixture;

fn stats_json(env: &TestEnv, args: &[&str]) -> Value {
    let out = env
        .cmd()
        .env("TZ", "UTC")
        .arg("stats")
        .args(args)
        .arg("--json")
        .output()
        .unwrap();
    assert!(out.status.success(), "stats {args:?}: {out:?}");
    serde_json::from_slice(&out.stdout).unwrap()
}

fn mixed() -> String {
    fixture("mixed.jsonl").to_str().unwrap().to_string()
}

#[test]
fn overall_aggregates_are_exact() {
    let env = TestEnv::new();
    let v = stats_json(&env, &[&mixed()]);
    let o = &v["overall"];
    assert_eq!(o["turns"], 8);
    assert_eq!(o["sessions"], 4);
    assert_eq!(
        (o["ok"].clone(), o["errors"].clone(), o["cancelled"].clone()),
        (6.into(), 1.into(), 1.into())
    );
    assert_eq!(o["error_rate"], 0.125);
    assert_eq!(o["cancel_rate"], 0.125);
    assert_eq!(o["prompt_tokens"], 146);
    assert_eq!(o["completion_tokens"], 322);
    assert_eq!(o["first"], "2026-11-27T10:00:00.000Z");
    assert_eq!(o["last"], "2026-11-29T09:00:00.000Z");
    // Completed turns' latencies 1 2 3 5 6 7: nearest rank p50 = 3rd, p95 = p99 = 6th.
    let lat = &o["latency"];
    assert_eq!(
        [
            &lat["count"],
            &lat["p50"],
            &lat["p95"],
            &lat["p99"],
            &lat["max"]
        ],
        [
            &Value::from(6),
            &Value::from(3.0),
            &Value::from(7.0),
            &Value::from(7.0),
            &Value::from(7.0)
        ]
    );
    assert_eq!(lat["exact"], true);
    let ttft = &o["ttft"];
    assert_eq!(
        (
            ttft["count"].as_u64(),
            ttft["p50"].as_f64(),
            ttft["p95"].as_f64()
        ),
        (Some(5), Some(0.3), Some(0.7))
    );
    let tps = &o["tokens_per_second"];
    assert_eq!(
        (
            tps["p50"].as_f64(),
            tps["p99"].as_f64(),
            tps["max"].as_f64()
        ),
        (Some(50.0), Some(70.0), Some(70.0))
    );
    assert_eq!(v["malformed"]["count"], 3);
    let lines: Vec<u64> = v["malformed"]["first"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["line"].as_u64().unwrap())
        .collect();
    assert_eq!(lines, [4, 9, 11]);
    assert!(v["by"].is_null());
    assert_eq!(v["groups"], Value::Array(vec![]));
}

#[test]
fn by_model_day_and_session() {
    let env = TestEnv::new();
    let keys = |v: &Value| -> Vec<(String, u64)> {
        v["groups"]
            .as_array()
            .unwrap()
            .iter()
            .map(|g| {
                (
                    g["key"].as_str().unwrap().to_string(),
                    g["turns"].as_u64().unwrap(),
                )
            })
            .collect()
    };
    let v = stats_json(&env, &[&mixed(), "--by", "model"]);
    assert_eq!(v["by"], "model");
    assert_eq!(
        keys(&v),
        [
            ("qwen3:8b".into(), 4),
            ("llama3.2:latest".into(), 3),
            ("(unknown)".into(), 1)
        ]
    );
    let llama = &v["groups"][1];
    assert_eq!(llama["errors"], 1);
    assert_eq!(llama["sessions"], 1);
    assert_eq!(llama["latency"]["p50"], 1.0);
    assert_eq!(llama["latency"]["p95"], 2.0);
    assert_eq!(v["groups"][0]["sessions"], 2);
    assert_eq!(v["groups"][0]["cancel_rate"], 0.25);

    let v = stats_json(&env, &[&mixed(), "--by", "day"]);
    assert_eq!(
        keys(&v),
        [
            ("2026-11-27".into(), 3),
            ("2026-11-28".into(), 3),
            ("2026-11-29".into(), 2)
        ]
    );
    let v = stats_json(&env, &[&mixed(), "--by", "session"]);
    let k = keys(&v);
    assert_eq!(k.len(), 4);
    assert_eq!(k[0], ("aaaa1111-0000-4000-8000-000000000001".into(), 3));
    assert_eq!(k[2], ("lab-session-1".into(), 1));
}

#[test]
fn stats_use_the_same_filters_and_several_files() {
    let env = TestEnv::new();
    let other = fixture("other-machine.jsonl");
    let v = stats_json(&env, &[&mixed(), other.to_str().unwrap()]);
    assert_eq!(v["overall"]["turns"], 10);
    assert_eq!(v["overall"]["sessions"], 5);
    assert_eq!(v["overall"]["errors"], 2);
    assert_eq!(v["files"].as_array().unwrap().len(), 2);
    let v = stats_json(&env, &[&mixed(), "--model", "qwen3", "--status", "ok"]);
    assert_eq!(v["overall"]["turns"], 3);
    assert_eq!(v["overall"]["latency"]["p50"], 5.0);
    let v = stats_json(
        &env,
        &[
            &mixed(),
            "--since",
            "2026-11-28",
            "--until",
            "2026-11-29",
            "--grep",
            "v1",
        ],
    );
    assert_eq!(v["overall"]["turns"], 1);
    let v = stats_json(&env, &[&mixed(), "--session", "nothing"]);
    assert_eq!(v["overall"]["turns"], 0);
    assert!(v["overall"]["latency"].is_null());
}

#[test]
fn tables_for_people() {
    let env = TestEnv::new();
    let out = env
        .cmd()
        .env("TZ", "UTC")
        .args(["stats", &mixed(), "--by", "model"])
        .output()
        .unwrap();
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    let row = |prefix: &str, section: usize| -> Vec<String> {
        let block = text.split("\n\n").nth(section).unwrap();
        block
            .lines()
            .find(|l| l.starts_with(prefix))
            .unwrap_or_else(|| panic!("no {prefix} row in {block}"))
            .split_whitespace()
            .map(String::from)
            .collect()
    };
    assert_eq!(
        row("all", 0),
        ["all", "8", "4", "12.5%", "12.5%", "146", "322"]
    );
    assert_eq!(
        row("llama3.2:latest", 0),
        ["llama3.2:latest", "3", "1", "33.3%", "0.0%", "40", "60"]
    );
    assert_eq!(
        row("all", 1),
        ["all", "3.000", "7.000", "7.000", "7.000", "6"]
    );
    assert_eq!(
        row("all", 2),
        ["all", "0.300", "0.700", "0.700", "0.700", "5"]
    );
    assert_eq!(row("all", 3), ["all", "50.0", "70.0", "70.0", "70.0", "5"]);
    assert_eq!(row("(unknown)", 2), ["(unknown)", "-", "-", "-", "-", "0"]);
    assert!(text.contains("latency (s)") && text.contains("TTFT (s)") && text.contains("tokens/s"));
    assert!(!text.contains('~'), "small inputs are exact");
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(err.contains("mixed.jsonl:4"), "{err}");

    let out = env
        .cmd()
        .args(["stats", &mixed(), "--session", "x"])
        .output()
        .unwrap();
    assert_eq!(String::from_utf8(out.stdout).unwrap(), "No turns match.\n");
}

#[test]
fn past_the_exact_limit_percentiles_are_marked_approximate() {
    let env = TestEnv::new();
    let path = env.home.path().join("many.jsonl");
    let mut text = String::new();
    for i in 1..=12_000u32 {
        text.push_str(&format!(
            "{{\"timestamp\":\"2026-11-29T00:00:00Z\",\"session_id\":\"s{}\",\"model\":\"m\",\"status\":\"ok\",\"response_time\":{}.0}}\n",
            i % 7,
            i
        ));
    }
    std::fs::write(&path, text).unwrap();
    let v = stats_json(&env, &[path.to_str().unwrap()]);
    let lat = &v["overall"]["latency"];
    assert_eq!(lat["exact"], false);
    assert_eq!(lat["max"], 12_000.0);
    assert_eq!(lat["count"], 12_000);
    let p50 = lat["p50"].as_f64().unwrap();
    assert!(
        (p50 - 6000.0).abs() / 6000.0 <= v["relative_error"].as_f64().unwrap(),
        "{p50}"
    );
    assert_eq!(v["overall"]["sessions"], 7);
    let out = env
        .cmd()
        .args(["stats", path.to_str().unwrap()])
        .output()
        .unwrap();
    let table = String::from_utf8(out.stdout).unwrap();
    assert!(table.contains('~'), "{table}");
    assert!(table.contains("log-bucketed histogram"), "{table}");
}

#[test]
fn bad_group_is_a_usage_error() {
    let env = TestEnv::new();
    env.cmd()
        .args(["stats", "--by", "week"])
        .assert()
        .code(2)
        .stderr(predicates::str::contains(
            "--by takes model, day or session",
        ));
}

/// A log someone else wrote, with escapes in every text field (the model, the session id, the
/// host, the error): every table of `stats` and `logs` shows them harmless, labels included.
#[test]
fn hostile_log_fields_are_shown_sanitised() {
    let env = TestEnv::new();
    let log = fixture("hostile.jsonl");
    let log = log.to_str().unwrap();
    for args in [
        vec!["stats", log],
        vec!["stats", log, "--by", "model"],
        vec!["stats", log, "--by", "session"],
        vec!["logs", log],
        vec!["logs", log, "--status", "error"],
    ] {
        let out = env.cmd().env("TZ", "UTC").args(&args).output().unwrap();
        assert!(out.status.success(), "{args:?}: {out:?}");
        assert!(!out.stdout.is_empty(), "{args:?} printed nothing");
        let (stdout, stderr) = (
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr),
        );
        assert_clean(&format!("{args:?} stdout"), &stdout);
        assert_clean(&format!("{args:?} stderr"), &stderr);
    }
}
