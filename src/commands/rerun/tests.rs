//! The re-run's plan, stopping rule and printing on `Vec<u8>`, and a whole run against a dead
//! address.

use super::table::tests::reply;
use super::*;
use crate::session::load::parse;

/// Two questions with a model switch, an option change, a context record and a name between.
const SESSION: &str = concat!(
    r#"{"kind":"session","version":1,"id":"2e20de3d-d339-4a37-a9ad-3d908f72d5ad","created":"2026-11-29T01:14:49.215Z","model":"first","host":"http://127.0.0.1:1","system":"be brief","options":{"temperature":0.7}}"#,
    "\n",
    r#"{"at":"2026-11-29T01:14:50.799Z","kind":"user","content":"one?"}"#,
    "\n",
    r#"{"at":"2026-11-29T01:14:50.800Z","kind":"assistant","content":"ONE","status":"ok","latency":0.5,"ttft":0.1,"prompt_tokens":3,"completion_tokens":2}"#,
    "\n",
    r#"{"at":"2026-11-29T01:14:51.000Z","kind":"model","model":"second"}"#,
    "\n",
    r#"{"at":"2026-11-29T01:14:51.100Z","kind":"set","options":{"temperature":0.9,"seed":1}}"#,
    "\n",
    r#"{"at":"2026-11-29T01:14:51.200Z","kind":"context","dropped":[1,2]}"#,
    "\n",
    r#"{"at":"2026-11-29T01:14:52.000Z","kind":"user","content":"two?"}"#,
    "\n",
    r#"{"at":"2026-11-29T01:14:53.000Z","kind":"name","name":"n"}"#,
    "\n",
);

fn loaded() -> Loaded {
    parse(SESSION.as_bytes(), None).unwrap()
}

fn turn_of(step: &Step) -> (&str, Option<&Reply>, &str) {
    match step {
        Step::Turn {
            content,
            old,
            old_model,
            ..
        } => (content, old.as_ref(), old_model),
        Step::Change(c) => panic!("a change, not a turn: {c:?}"),
    }
}

#[test]
fn a_session_becomes_turns_and_the_changes_between_them() {
    let pairs = vec!["temperature=0".to_string()];
    let changes = Changes {
        model: None,
        option_pairs: &pairs,
    };
    let steps = plan(&loaded(), &changes);
    assert_eq!(steps.len(), 4, "{steps:?}");
    let (content, old, model) = turn_of(&steps[0]);
    assert_eq!((content, model), ("one?", "first"));
    assert_eq!(old.map(|r| r.content.as_str()), Some("ONE"));
    assert_eq!(
        steps[1],
        Step::Change(Change::Model {
            model: "second".into()
        })
    );
    let Step::Change(Change::Set {
        options: Some(o), ..
    }) = &steps[2]
    else {
        panic!("{:?}", steps[2]);
    };
    assert_eq!(
        serde_json::to_string(o).unwrap(),
        r#"{"seed":1,"temperature":0.0}"#
    );
    // No reply was recorded to the last question; the context record and the name are gone.
    assert_eq!(turn_of(&steps[3]), ("two?", None, "second"));
}

/// A question answered through a tool call: the call's reply, its result, then the answer.
const TOOL_SESSION: &str = concat!(
    r#"{"kind":"session","version":2,"id":"2e20de3d-d339-4a37-a9ad-3d908f72d5ad","created":"2026-11-29T01:14:49.215Z","model":"m","host":"http://127.0.0.1:1"}"#,
    "\n",
    r#"{"at":"2026-11-29T01:14:50.000Z","kind":"user","content":"time?"}"#,
    "\n",
    r#"{"at":"2026-11-29T01:14:50.500Z","kind":"assistant","content":"","status":"ok","latency":0.5,"tool_calls":[{"name":"now","arguments":{}}]}"#,
    "\n",
    r#"{"at":"2026-11-29T01:14:50.600Z","kind":"tool","name":"now","approval":"allowed","status":"ok","content":"noon","duration":0.001}"#,
    "\n",
    r#"{"at":"2026-11-29T01:14:51.000Z","kind":"assistant","content":"It is noon.","status":"ok","latency":0.4}"#,
    "\n",
);

#[test]
fn recorded_tool_results_are_redone_not_replayed() {
    let l = parse(TOOL_SESSION.as_bytes(), None).unwrap();
    let changes = Changes {
        model: None,
        option_pairs: &[],
    };
    let steps = plan(&l, &changes);
    assert_eq!(steps.len(), 1, "the tool record is no step: {steps:?}");
    let (content, old, _) = turn_of(&steps[0]);
    assert_eq!(content, "time?");
    assert_eq!(
        old.map(|r| r.content.as_str()),
        Some("It is noon."),
        "compared with the answer that ended the calls"
    );
}

#[test]
fn a_new_model_replaces_every_recorded_switch() {
    let changes = Changes {
        model: Some("other"),
        option_pairs: &[],
    };
    let steps = plan(&loaded(), &changes);
    assert_eq!(steps.len(), 3, "{steps:?}");
    // The old column still names the model the recorded run used.
    assert_eq!(turn_of(&steps[2]).2, "second");
}

#[test]
fn only_failures_that_every_turn_would_repeat_stop_the_run() {
    let refused = ApiError::Unauthorized {
        url: "u".into(),
        status: 401,
        message: "no".into(),
        key_var: "OPENAI_API_KEY",
        key_sent: false,
    };
    let Some(End::Stopped(e)) = end_after(Ending::Failed(refused)) else {
        panic!("an unauthorized turn stops the run");
    };
    assert_eq!(e.exit_code(), ExitCode::Unauthorized);
    let server = ApiError::InStream {
        server: "Ollama",
        message: "oops".into(),
    };
    assert!(end_after(Ending::Failed(server)).is_none());
    assert!(end_after(Ending::Failed(ApiError::Incomplete)).is_none());
    assert!(end_after(Ending::Done).is_none());
    assert!(end_after(Ending::Cancelled(CancelReason::OutputClosed)).is_none());
    assert!(matches!(
        end_after(Ending::Cancelled(CancelReason::Interrupt)),
        Some(End::Interrupted)
    ));
}

#[test]
fn exit_codes_follow_the_end_and_the_turns() {
    let ok = |status| Compared {
        old: None,
        old_model: "a".into(),
        new: reply(0.1, None, None, status),
        new_model: "a".into(),
    };
    let tally = |results, refused, end| Tally {
        results,
        refused,
        end,
    };
    let code = |t: Tally| t.exit().unwrap();
    assert_eq!(
        code(tally(vec![ok(TurnStatus::Ok)], 0, End::Finished)),
        ExitCode::Success
    );
    assert_eq!(
        code(tally(vec![ok(TurnStatus::Error)], 0, End::Finished)),
        ExitCode::Error
    );
    assert_eq!(code(tally(vec![], 1, End::Finished)), ExitCode::Error);
    assert_eq!(
        code(tally(vec![], 0, End::Interrupted)),
        ExitCode::Interrupted
    );
    let missing = ApiError::ModelNotFound {
        model: "x".into(),
        detail: String::new().into(),
    };
    let err = tally(vec![], 0, End::Stopped(missing)).exit().unwrap_err();
    assert_eq!(err.exit_code(), ExitCode::ModelNotFound);
}

fn screen() -> Screen<Vec<u8>, Vec<u8>> {
    Screen {
        out: Vec::new(),
        err: Vec::new(),
        style: Style { color: false },
        markdown: None,
    }
}

#[test]
fn a_turn_shows_the_question_and_the_old_reply_sanitised() {
    let mut s = screen();
    let old = reply(0.5, Some(0.1), Some(2), TurnStatus::Ok);
    let old = Reply {
        content: "ONE\x1b[2J\n".into(),
        ..old
    };
    s.turn(1, 2, "one?\x07", Some(&old), "first", "second")
        .unwrap();
    s.turn(2, 2, "two?", None, "second", "second").unwrap();
    let out = String::from_utf8(s.out).unwrap();
    assert!(!out.contains('\x1b') && !out.contains('\x07'), "{out:?}");
    assert!(out.starts_with("\n── turn 1/2 ──\n>>> one?"), "{out:?}");
    assert!(out.contains("old · first\nONE"), "{out:?}");
    assert!(out.contains("new · second\n\n── turn 2/2 ──"), "{out:?}");
    assert!(
        out.ends_with("old · second\n(no reply was recorded)\nnew · second\n"),
        "{out:?}"
    );
    assert!(s.err.is_empty());
}

/// A real chat against an address where nothing listens: the first turn fails in a way every
/// turn would, so the second is never sent and the run ends with exit code 3.
#[test]
fn the_run_stops_at_the_first_turn_no_server_can_answer() {
    let cli = <crate::cli::Cli as clap::Parser>::try_parse_from([
        "ollama-chat",
        "--no-session",
        "--no-log",
    ])
    .unwrap();
    let env = |k: &str| (k == "OLLAMA_HOST").then(|| "127.0.0.1:1".to_string());
    let config = Config::resolve(cli, &env).unwrap();
    let backend = Backend::new(config.api, &config.base_url, None).unwrap();
    let l = loaded();
    let changes = Changes {
        model: None,
        option_pairs: &[],
    };
    let mut chat = rerun_chat(&backend, &config, &l.header, &changes);
    let mut s = screen();
    let steps = plan(&l, &changes);
    let rt = crate::runtime().unwrap();
    let tally = drive(
        &rt,
        &mut chat,
        (&l.header, &steps),
        &mut s,
        &mut crate::chat::tools::Nobody,
        std::future::pending,
    )
    .unwrap();
    s.finish(&tally.results, chat.session()).unwrap();
    assert_eq!(tally.results.len(), 1);
    let err = tally.exit().unwrap_err();
    assert_eq!(err.exit_code(), ExitCode::Unreachable);
    let out = String::from_utf8(s.out).unwrap();
    assert!(
        out.starts_with("Re-running session 2e20de3d (2 turns) with first at http://127.0.0.1:1"),
        "{out}"
    );
    assert!(
        out.contains("── turn 1/2 ──") && !out.contains("turn 2/2"),
        "{out}"
    );
    assert!(out.contains("0/1 ok"), "{out}");
    // The stopping error is the caller's to print, once.
    assert!(s.err.is_empty(), "{:?}", String::from_utf8_lossy(&s.err));
}

#[test]
fn overrides_replace_recorded_options_everywhere() {
    let pairs = vec!["temperature=0".to_string(), "stop=END".to_string()];
    let c = Changes {
        model: None,
        option_pairs: &pairs,
    };
    assert!(c.check().is_ok());
    let mut rec = Options::default();
    rec.set("temperature", "0.7").unwrap();
    rec.set("stop", "a").unwrap();
    rec.set("seed", "1").unwrap();
    let o = c.options(&rec);
    assert_eq!(
        serde_json::to_string(&o).unwrap(),
        r#"{"seed":1,"stop":["END"],"temperature":0.0}"#
    );
    let bad = vec!["temprature=1".to_string()];
    let c = Changes {
        model: None,
        option_pairs: &bad,
    };
    assert!(c.check().is_err());
}
