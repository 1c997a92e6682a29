//! Save → load gives the identical state: a real `Chat` driven against the fake server through
//! every kind of turn ending and state change, then its session file loaded back and compared
//! with the chat's own model, options and history.

mod support;

use clap::Parser;
use ollama_chat::backend::Backend;
use ollama_chat::chat::Chat;
use ollama_chat::cli::Cli;
use ollama_chat::config::Config;
use ollama_chat::options::Options;
use ollama_chat::render::{Output, Renderer, ThinkingTo};
use ollama_chat::session::{live, load_file, Change, Header, SessionWriter};
use support::fake_ollama::{ChatReply, End, FakeOllama, Script};

fn config(fake: &FakeOllama, home: &std::path::Path) -> Config {
    let cli = Cli::try_parse_from(["ollama-chat", "-s", "你是老師", "-o", "seed=1"]).unwrap();
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
        if cancel_now {
            rt.block_on(chat.send(text, &mut sink, std::future::ready(())));
        } else {
            rt.block_on(chat.send(text, &mut sink, std::future::pending()));
        }
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
    assert_eq!(st.messages, chat.conversation.messages());
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
    let mut again = Chat::new(&client, &config, "ignored".into());
    live::resume_into(&mut again, loaded.clone()).unwrap();
    assert_eq!(again.model, chat.model);
    assert_eq!(again.settings.options, chat.settings.options);
    assert_eq!(again.conversation, chat.conversation);
    assert_eq!(again.session_id, loaded.header.id);
}
