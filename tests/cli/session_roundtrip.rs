//! Save → load gives the identical state: a real `Chat` driven against the fake server through
//! every kind of turn ending and state change, then its session file loaded back and compared
//! with the chat's own model, options and history.

use crate::support::fake_ollama::{ChatReply, End, FakeOllama, Script};
use clap::Parser;
use ollama_chat::backend::Backend;
use ollama_chat::chat::session::resume_into;
use ollama_chat::chat::Chat;
use ollama_chat::cli::Cli;
use ollama_chat::config::Config;
use ollama_chat::conversation::Mark;
use ollama_chat::options::Options;
use ollama_chat::render::{Output, Renderer, ThinkingTo};
use ollama_chat::session::{load_file, Change, Header, SessionWriter};

fn config(fake: &FakeOllama, home: &std::path::Path) -> Config {
    config_with(fake, home, &["-s", "你是老師", "-o", "seed=1"])
}

fn config_with(fake: &FakeOllama, home: &std::path::Path, args: &[&str]) -> Config {
    let cli =
        Cli::try_parse_from(std::iter::once("ollama-chat").chain(args.iter().copied())).unwrap();
    let home = home.to_str().unwrap().to_string();
    let host = fake.host_port();
    let env = move |k: &str| match k {
        "HOME" => Some(home.clone()),
        "OLLAMA_HOST" => Some(host.clone()),
        _ => None,
    };
    Config::resolve(cli, &env).unwrap()
}

#[test]
fn a_saved_chat_loads_back_to_the_identical_state() {
    let fake = FakeOllama::start();
    fake.set_models(&["tiny", "other"]);
    let home = tempfile::tempdir().unwrap();
    let config = config(&fake, home.path());
    let client = Backend::new(config.api, &config.base_url, None).unwrap();
    let rt = ollama_chat::runtime().unwrap();
    let mut chat = Chat::new(&client, &config, "tiny".into());
    let header = Header::new(
        &chat.model,
        client.base_url(),
        chat.conversation.system(),
        &chat.settings.options,
    );
    let dir = config.session.dir.clone().unwrap();
    chat.attach_session(SessionWriter::create_in(&dir, header), 0);

    let send = |chat: &mut Chat<'_>, text: &str, cancel_now: bool| {
        let mut sink = Renderer::new(Vec::new(), Output::Plain, ThinkingTo::Hidden);
        let sent = if cancel_now {
            rt.block_on(chat.send(
                text,
                &mut sink,
                std::future::ready(ollama_chat::turn::CancelReason::Interrupt),
            ))
        } else {
            rt.block_on(chat.send(text, &mut sink, std::future::pending()))
        };
        sent.expect("the history fits the window");
    };
    let change = |chat: &mut Chat<'_>, c: Change| chat.change(c).unwrap();

    send(&mut chat, "q1 你好", false);
    change(&mut chat, Change::Clear);
    send(&mut chat, "q2", false);
    let mut o = Options::default();
    o.set("temperature", "0.2").unwrap();
    change(
        &mut chat,
        Change::Set {
            options: Some(o),
            system: Some(Some("新的系統提示".into())),
        },
    );
    fake.push_chat(ChatReply::Script(Script {
        tokens: vec!["half".into(), " a".into()],
        end: End::Drop,
        ..Default::default()
    }));
    send(&mut chat, "q3 partial", false);
    fake.push_chat(ChatReply::HttpError {
        status: 500,
        message: "boom".into(),
    });
    send(&mut chat, "q4 failed", false);
    send(&mut chat, "q5 cancelled", true);
    change(
        &mut chat,
        Change::Model {
            model: "other".into(),
        },
    );
    send(&mut chat, "q6", false);
    send(&mut chat, "q7 undone", false);
    change(&mut chat, Change::Undo);
    send(&mut chat, "q8", false);
    change(&mut chat, Change::Retry);
    send(&mut chat, "q8", false);
    change(
        &mut chat,
        Change::Context {
            dropped: vec![1, 2],
            summary: Some("摘要".into()),
        },
    );
    change(&mut chat, Change::Name { name: "rt".into() });
    change(
        &mut chat,
        Change::Set {
            options: None,
            system: Some(None),
        },
    );
    send(&mut chat, "q9 last", false);

    let path = chat.session().unwrap().path().to_path_buf();
    let loaded = load_file(&path).unwrap();
    assert!(loaded.warnings.is_empty());
    let st = &loaded.state;
    assert_eq!(st.model, chat.model);
    assert_eq!(st.options, chat.settings.options);
    assert_eq!(st.messages(), chat.conversation.messages());
    assert_eq!(st.name.as_deref(), Some("rt"));
    assert_eq!(st.turns, 10);
    assert!(chat
        .conversation
        .messages()
        .iter()
        .any(|m| m.content == "half a"));
    assert!(!chat
        .conversation
        .messages()
        .iter()
        .any(|m| m.content.contains("q4") || m.content.contains("q7")));

    // Resuming into a fresh chat gives the same state again, and the next request carries it.
    // The first chat holds its session file while it lives, so it ends first.
    let (model, options) = (chat.model.clone(), chat.settings.options.clone());
    let (messages, archive) = (chat.conversation.messages().to_vec(), archived(&chat));
    drop(chat);
    let mut again = Chat::new(&client, &config, "ignored".into());
    resume_into(&mut again, loaded.clone()).unwrap();
    assert_eq!(again.model, model);
    assert_eq!(again.settings.options, options);
    // The same history and the same archive; token counts are learned again from the server.
    assert_eq!(again.conversation.messages(), messages.as_slice());
    assert_eq!(archived(&again), archive);
    assert_eq!(again.session_id, loaded.header.id);
}

fn archived(chat: &Chat<'_>) -> Vec<(String, Mark)> {
    chat.conversation
        .archived()
        .iter()
        .map(|a| (a.message.content.clone(), a.mark))
        .collect()
}

/// A 600-character message: 154 tokens in the fake's count, so with `num_ctx=512` (128 kept for
/// the reply) the third one does not fit beside the first two.
fn long(tag: &str) -> String {
    format!("{tag} {}", "x".repeat(599 - tag.len()))
}

/// A chat whose context policy acted, saved and loaded back: the loaded history is exactly what
/// the chat sends (and sent last), and the messages it left out are in both archives.
fn context_round_trip(strategy: &str, summary: Option<&str>) {
    let fake = FakeOllama::start();
    let home = tempfile::tempdir().unwrap();
    let config = config_with(
        &fake,
        home.path(),
        &[
            "-s",
            "Be brief.",
            "-o",
            "num_ctx=512",
            "--context-strategy",
            strategy,
        ],
    );
    let client = Backend::new(config.api, &config.base_url, None).unwrap();
    let rt = ollama_chat::runtime().unwrap();
    let mut chat = Chat::new(&client, &config, "tiny".into());
    let header = Header::new(
        &chat.model,
        client.base_url(),
        chat.conversation.system(),
        &chat.settings.options,
    );
    chat.attach_session(
        SessionWriter::create_in(config.session.dir.as_ref().unwrap(), header),
        0,
    );
    let ok = || ChatReply::Tokens(vec!["ok.".into()]);
    fake.push_chat(ok());
    fake.push_chat(ok());
    if let Some(s) = summary {
        fake.push_chat(ChatReply::Tokens(vec![s.into()]));
    }
    fake.push_chat(ok());
    fake.push_chat(ok());

    let mut acted = Vec::new();
    for tag in ["one", "two", "three", "four"] {
        let mut sink = Renderer::new(Vec::new(), Output::Plain, ThinkingTo::Hidden);
        let sent = rt
            .block_on(chat.send(&long(tag), &mut sink, std::future::pending()))
            .expect("sent");
        acted.extend(sent.context.map(|a| a.strategy.as_str()));
    }
    assert!(!acted.is_empty(), "the {strategy} strategy never acted");
    assert!(acted.iter().all(|s| *s == strategy));
    assert!(!chat.conversation.archived().is_empty());

    // What was sent last is the history now, less the reply.
    let bodies = fake.chat_bodies();
    let last_sent: Vec<(String, String)> = bodies.last().unwrap()["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            (
                m["role"].as_str().unwrap().to_string(),
                m["content"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    let history = chat.conversation.messages();
    let now: Vec<(String, String)> = history[..history.len() - 1]
        .iter()
        .map(|m| {
            (
                serde_json::to_value(m.role)
                    .unwrap()
                    .as_str()
                    .unwrap()
                    .to_string(),
                m.content.clone(),
            )
        })
        .collect();
    assert_eq!(last_sent, now);
    if let Some(s) = summary {
        assert!(last_sent[1].1.ends_with(s), "{last_sent:?}");
    }

    let path = chat.session().unwrap().path().to_path_buf();
    let loaded = load_file(&path).unwrap();
    assert!(loaded.warnings.is_empty(), "{:?}", loaded.warnings);
    assert_eq!(loaded.state.messages(), chat.conversation.messages());
    let recorded = loaded
        .events
        .iter()
        .filter(|e| matches!(e.change, Change::Context { .. }))
        .count();
    assert_eq!(recorded, acted.len());

    // The first chat holds its session file while it lives, so it ends before the resume.
    let (messages, archive) = (chat.conversation.messages().to_vec(), archived(&chat));
    drop(chat);
    let mut again = Chat::new(&client, &config, "tiny".into());
    resume_into(&mut again, loaded).unwrap();
    assert_eq!(again.conversation.messages(), messages.as_slice());
    assert_eq!(archived(&again), archive);
    let mark = if summary.is_some() {
        Mark::Summarised
    } else {
        Mark::Dropped
    };
    assert!(archived(&again).iter().all(|(_, m)| *m == mark));
    // The first message ever sent is still in the record.
    assert_eq!(archived(&again)[0].0, long("one"));
}

#[test]
fn a_chat_that_truncated_loads_back_to_what_it_sends() {
    context_round_trip("truncate", None);
}

#[test]
fn a_chat_that_summarised_loads_back_to_what_it_sends() {
    context_round_trip(
        "summarize",
        Some("The user sent long messages one and two."),
    );
}
