//! The scan of every printer of outside text: each is fed text full of C0 and C1 controls,
//! OSC, CSI and DCS sequences and bidi overrides, where a server, a session file or a model
//! could put it, and what it prints must hold no raw control byte but the client's own colours.
//! A printer added later belongs here too (SECURITY.md says so).

use chrono::Utc;

use crate::conversation::TurnStatus;
use crate::error::{ApiError, DecodeError};
use crate::models::{LoadedModel, ModelDetails, ModelInfo, ModelSummary, Progress, ShowMessage};
use crate::options::Options;
use crate::render::style::Style;
use crate::render::Output;
use crate::session::format::{event_line, header_line, Change, Event, Header, Reply};
use crate::untrusted::Untrusted;

/// Every kind of hostile byte: set the title, write the clipboard, ask for the cursor position
/// (the answer is typed into the input), a DCS string, an 8-bit CSI, a carriage return that
/// hides what came before, backspaces, NUL, DEL, and right-to-left overrides.
pub const HOSTILE: &str = "ok\x1b]0;pwned\x07 \x1b]52;c;ZXZpbA==\x1b\\ \x1b[6n \x1b[2J\x1bP1$qm\x1b\\ \
     \u{9b}31m \u{9d}8;;http://x\u{9c} \rhidden \x08\x08 \x00 \x7f \u{202e}txt.exe\u{202c} \u{2066}i\u{2069} end";

/// Fails when `text` holds a character that can steer a terminal. With `colors`, the client's own
/// SGR sequences (dim, red, yellow, bold, reset) are allowed and removed first.
#[track_caller]
pub fn assert_clean(what: &str, text: &str, colors: bool) {
    let mut t = text.to_string();
    if colors {
        for own in ["\x1b[2m", "\x1b[31m", "\x1b[33m", "\x1b[1m", "\x1b[0m"] {
            t = t.replace(own, "");
        }
    }
    for c in t.chars() {
        let bad = matches!(c, '\u{0}'..='\u{8}' | '\u{b}'..='\u{1f}' | '\u{7f}'..='\u{9f}')
            || matches!(c, '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}');
        assert!(
            !bad,
            "{what} printed the raw control U+{:04X} in {t:?}",
            c as u32
        );
    }
}

fn h() -> Untrusted {
    Untrusted::new(HOSTILE)
}

fn every_api_error() -> Vec<ApiError> {
    vec![
        ApiError::Unreachable {
            server: "Ollama",
            url: "http://127.0.0.1:9".into(),
            reason: h(),
            hint: "is `ollama serve` running?",
        },
        ApiError::ModelNotFound {
            model: h(),
            detail: h(),
        },
        ApiError::model_not_served(HOSTILE, "http://h", HOSTILE).with_served(&[h(), h()]),
        ApiError::Unauthorized {
            url: "http://h".into(),
            status: 401,
            message: h(),
            key_var: "OPENAI_API_KEY",
            key_sent: true,
        },
        ApiError::NotFound {
            url: "http://h".into(),
            message: h(),
            hint: "check the URL",
        },
        ApiError::SignIn {
            url: "http://h".into(),
            status: 401,
            message: h(),
            signin_url: Some(h()),
        },
        ApiError::RateLimited {
            status: 429,
            message: h(),
            retry_after: Some(h()),
        },
        ApiError::Overloaded {
            status: 529,
            message: h(),
        },
        ApiError::Status {
            server: "Ollama",
            status: 500,
            message: h(),
        },
        ApiError::InStream {
            server: "Ollama",
            message: h(),
        },
        ApiError::Disconnected {
            server: "Ollama",
            reason: h(),
        },
        ApiError::Decode(DecodeError::new(
            HOSTILE.as_bytes(),
            serde_json::from_str::<u8>("x").unwrap_err(),
        )),
        ApiError::Unexpected {
            url: "http://h".into(),
            reason: h(),
        },
        ApiError::Request(h()),
        ApiError::Transport {
            url: "http://h".into(),
            reason: h(),
        },
    ]
}

#[test]
fn every_api_error_and_the_final_error_line() {
    for e in every_api_error() {
        assert_clean("ApiError", &e.to_string(), false);
        assert_clean(
            "describe_api_error",
            &crate::repl::models::describe_api_error(&e),
            false,
        );
        let line = crate::error_line(&anyhow::Error::from(e).context(HOSTILE));
        assert_clean("error_line", &line, false);
    }
    let several = crate::chat::session::ModelChoice::Ambiguous {
        names: vec![h(), h()],
    };
    assert_clean("several models", &several.to_string(), false);
}

#[test]
fn styled_notes_and_errors() {
    for color in [false, true] {
        let s = Style { color };
        assert_clean("dim", &s.dim(HOSTILE), color);
        assert_clean("red", &s.red(&format!("error: {HOSTILE}")), color);
    }
}

fn model() -> ModelSummary {
    ModelSummary {
        name: h(),
        size: 1,
        modified_at: Some(h()),
        details: details(),
        capabilities: vec![h()],
        digest: Some(h()),
    }
}

fn details() -> ModelDetails {
    ModelDetails {
        format: Some(h()),
        family: Some(h()),
        parameter_size: Some(h()),
        quantization_level: Some(h()),
        context_length: Some(u64::MAX),
    }
}

fn info() -> ModelInfo {
    let mut model_info = serde_json::Map::new();
    model_info.insert("general.architecture".into(), HOSTILE.into());
    model_info.insert(format!("{HOSTILE}.context_length"), 1.into());
    ModelInfo {
        modelfile: h(),
        parameters: Untrusted::new(format!("{HOSTILE} {HOSTILE}\nstop {HOSTILE}")),
        template: h(),
        system: h(),
        license: h(),
        details: details(),
        model_info,
        capabilities: vec![h()],
        modified_at: Some(h()),
        messages: vec![ShowMessage {
            role: h(),
            content: h(),
        }],
        raw: serde_json::Value::Null,
    }
}

#[test]
fn embedding_output() {
    for ndjson in [false, true] {
        let mut out = Vec::new();
        let mut p = crate::commands::embed::Printer::new(HOSTILE, ndjson);
        p.batch(&mut out, 0, &[vec![0.5, -1.0]]).unwrap();
        p.finish(&mut out).unwrap();
        assert_clean("embeddings", &String::from_utf8(out).unwrap(), false);
    }
}

#[test]
fn modelfile_history_at_the_start_of_a_repl_chat() {
    let history = info().messages;
    for color in [false, true] {
        let mut out = Vec::new();
        crate::repl::write_model_history(&mut out, &history, Style { color }).unwrap();
        assert_clean("model history", &String::from_utf8(out).unwrap(), color);
    }
}

#[test]
fn model_lists_and_model_facts() {
    let now = Utc::now();
    let models = [model(), model()];
    assert_clean(
        "models",
        &crate::commands::list::models_table(&models, now),
        false,
    );
    let loaded = LoadedModel {
        name: h(),
        size: 1,
        size_vram: 0,
        details: details(),
        expires_at: Some(h()),
        context_length: Some(1),
    };
    assert_clean(
        "ps",
        &crate::commands::list::ps_table(&[loaded], now),
        false,
    );
    assert_clean(
        "/models",
        &crate::repl::models::model_table(&models, HOSTILE),
        false,
    );
    assert_clean(
        "/models (names only)",
        &crate::backend::describe_models(&[h()], HOSTILE),
        false,
    );
    assert_clean("show", &crate::commands::show::summary(&info()), false);
    let mut options = Options::default();
    options.set("num_ctx", "8").unwrap();
    assert_clean("/show info", &crate::repl::show::info(&info()), false);
    assert_clean(
        "/show parameters",
        &crate::repl::show::parameters(&info(), &options),
        false,
    );
    assert_clean(
        "/show system",
        &crate::repl::show::system(&info(), Some(HOSTILE)),
        false,
    );
    assert_clean(
        "/show system",
        &crate::repl::show::system(&info(), None),
        false,
    );
}

#[test]
fn pull_and_create_progress() {
    let mut out = Vec::new();
    let mut lines = crate::commands::progress::Lines::new(&mut out);
    lines.update(&Progress {
        status: h(),
        ..Progress::default()
    });
    lines.update(&Progress {
        status: h(),
        digest: Some(h()),
        total: Some(100),
        completed: Some(50),
        error: None,
    });
    assert_clean("pull progress", &String::from_utf8(out).unwrap(), false);
}

#[test]
fn tables() {
    let rows = vec![vec![HOSTILE.to_string(), HOSTILE.to_string()]];
    assert_clean("table", &crate::table::render(&rows), false);
    assert_clean("left", &crate::table::left(HOSTILE, 30), false);
    assert_clean("right", &crate::table::right(HOSTILE, 30), false);
    assert_clean("truncate", &crate::table::truncate(HOSTILE, 30), false);
}

/// A session file whose every field is hostile, as someone else could hand it over.
fn hostile_session() -> crate::session::Loaded {
    let mut options = Options::default();
    options.set("stop", HOSTILE).unwrap();
    let header = Header::new(HOSTILE, HOSTILE, Some(HOSTILE), &options);
    let t0 = header.created;
    let mut text = header_line(&header) + "\n";
    let reply = Reply {
        content: HOSTILE.into(),
        thinking: HOSTILE.into(),
        status: TurnStatus::Error,
        error: Some(HOSTILE.into()),
        latency: 1.0,
        ttft: Some(0.5),
        prompt_tokens: Some(1),
        completion_tokens: Some(1),
        tokens_per_second: Some(1.0),
        done_reason: Some(HOSTILE.into()),
        tool_calls: Vec::new(),
    };
    let changes = [
        Change::User {
            content: HOSTILE.into(),
            images: vec![crate::conversation::Image::from_bytes(
                HOSTILE, HOSTILE, b"GIF89a",
            )],
        },
        Change::Assistant(reply),
        Change::Name {
            name: HOSTILE.into(),
        },
        Change::Role {
            role: HOSTILE.into(),
        },
        Change::Model {
            model: HOSTILE.into(),
        },
        Change::Set {
            options: Some(options),
            system: Some(Some(HOSTILE.into())),
        },
        Change::Context {
            dropped: vec![0],
            summary: Some(HOSTILE.into()),
        },
    ];
    for (i, change) in changes.into_iter().enumerate() {
        let e = Event {
            at: t0 + chrono::Duration::seconds(i as i64),
            change,
        };
        text += &(event_line(&e) + "\n");
    }
    crate::session::load::parse(text.as_bytes(), None).expect("a valid session")
}

#[test]
fn replay_and_sessions_show_on_a_terminal() {
    use crate::commands::replay::show::{replay, View};
    struct NoPause;
    impl crate::commands::replay::show::Pacer for NoPause {
        fn pause(&mut self, _: std::time::Duration) {}
    }
    let session = hostile_session();
    for color in [false, true] {
        let view = View {
            output: Output::Terminal { color },
            width: Some(80),
            speed: None,
            markdown: None,
        };
        let mut out = Vec::new();
        replay(&session, &mut out, view, &mut NoPause).unwrap();
        assert_clean("replay", &String::from_utf8(out).unwrap(), color);
    }
    // In a pipe without forced colour the transcript stays the recorded bytes, but what the
    // client says about it (header, changes, statistics) is sanitised.
    let mut out = Vec::new();
    let view = View {
        output: Output::Plain,
        width: None,
        speed: None,
        markdown: None,
    };
    replay(&session, &mut out, view, &mut NoPause).unwrap();
    let text = String::from_utf8(out).unwrap();
    let own: Vec<&str> = text
        .lines()
        .filter(|l| l.starts_with("Session ") || l.starts_with("──") || l.starts_with('['))
        .collect();
    assert!(own.len() >= 4, "{text}");
    for line in own {
        assert_clean("replay notes in a pipe", line, false);
    }
}

#[test]
fn attachments_and_the_vision_refusal() {
    use crate::attach::{Attachment, TextFile};
    let image = crate::conversation::Image::from_bytes(HOSTILE, "image/png", b"x");
    let text = TextFile {
        name: HOSTILE.into(),
        text: HOSTILE.into(),
    };
    // What the REPL and one-shot mode print for an attachment, and the refusals.
    for line in [
        Attachment::Image(image).describe(),
        Attachment::Text(text).describe(),
        crate::chat::vision::cannot_see(HOSTILE, &[]),
        crate::chat::vision::cannot_see("m", &[HOSTILE.to_string()]),
    ] {
        assert_clean(
            "an attachment line",
            &crate::untrusted::sanitize_line(&line),
            false,
        );
    }
    let attach = crate::config::Attach {
        images: vec![HOSTILE.into()],
        files: Vec::new(),
        max_size: 10,
    };
    let e = crate::oneshot::load_attachments(&attach).unwrap_err();
    assert_clean("a refused --image", &e.to_string(), false);
    let mut e = ApiError::Status {
        server: "Ollama",
        status: 400,
        message: h(),
    };
    crate::chat::vision::explain_refusal(&mut e, HOSTILE);
    assert_clean("a refused image", &e.to_string(), false);
    let mut e = ApiError::Status {
        server: "Ollama",
        status: 400,
        message: Untrusted::new(format!("{HOSTILE} image not supported")),
    };
    crate::chat::vision::explain_refusal(&mut e, HOSTILE);
    assert!(e.to_string().contains("cannot see images"), "{e}");
    assert_clean("a refused image", &e.to_string(), false);
}

#[test]
fn the_clipboard() {
    use base64::Engine as _;
    let reply = format!("```{HOSTILE}\n{HOSTILE}\n```\n");
    let selection = crate::repl::copy::select(Some(&reply), Some(1)).unwrap();
    assert_clean(
        "/copy description",
        &Style { color: false }.dim(&selection.description),
        false,
    );
    let seq = crate::repl::copy::osc52(&selection.text);
    let b64 = seq
        .strip_prefix("\x1b]52;c;")
        .and_then(|s| s.strip_suffix('\x07'))
        .unwrap();
    let payload = base64::engine::general_purpose::STANDARD
        .decode(b64)
        .unwrap();
    assert_clean(
        "clipboard payload",
        &String::from_utf8(payload).unwrap(),
        false,
    );
}

#[test]
fn prompt_hint_and_parameter_list_of_a_resumed_session() {
    assert_clean(
        "prompt hint",
        &crate::repl::complete::model_hint(HOSTILE),
        false,
    );
    let mut options = Options::default();
    options.set("stop", HOSTILE).unwrap();
    assert_clean(
        "/set parameter",
        &crate::repl::help::parameter_list(&options),
        false,
    );
}

/// The markdown renderer's own escapes taken out: SGR, carriage return (the model's are dropped
/// by the sanitiser), cursor up, clear, and OSC 8 hyperlinks whose target is printable ASCII.
/// What is left must be clean.
fn without_markdown_escapes(text: &str) -> String {
    let mut out = String::new();
    let mut rest = text;
    while let Some(i) = rest.find('\x1b') {
        out.push_str(&rest[..i]);
        let seq = &rest[i..];
        let own = if let Some(csi) = seq.strip_prefix("\x1b[") {
            let n = csi
                .bytes()
                .take_while(|b| b.is_ascii_digit() || *b == b';')
                .count();
            matches!(csi.as_bytes().get(n), Some(b'm' | b'A' | b'J')).then_some(2 + n + 1)
        } else if let Some(osc) = seq.strip_prefix("\x1b]8;;") {
            osc.find("\x1b\\")
                .filter(|end| osc[..*end].bytes().all(|b| (0x21..=0x7e).contains(&b)))
                .map(|end| 5 + end + 2)
        } else {
            None
        };
        match own {
            Some(len) => rest = &seq[len..],
            None => {
                out.push_str(seq);
                break;
            }
        }
    }
    if !text.is_empty() && rest.find('\x1b').is_none() {
        out.push_str(rest);
    }
    out.replace('\r', "")
}

#[test]
fn markdown_replies() {
    use crate::render::markdown::{MarkdownView, Theme};
    use crate::render::{Renderer, ReplySink, ThinkingTo};
    let reply = format!(
        "# {HOSTILE}\n\n- {HOSTILE} *{HOSTILE}* `{HOSTILE}`\n> [{HOSTILE}](https://x.example/{HOSTILE})\n\
         [x]({HOSTILE}) <http://{HOSTILE}>\n\n| {HOSTILE} | b |\n|---|---|\n| {HOSTILE} | 2 |\n\n\
         ```{HOSTILE}\n{HOSTILE}\n```\n```rust\nlet s = \"{HOSTILE}\";\n"
    );
    for color in [false, true] {
        for hyperlinks in [false, true] {
            for theme in [Theme::Ansi, Theme::Dark] {
                let view = MarkdownView {
                    theme,
                    hyperlinks,
                    width: 60,
                    height: Some(50),
                };
                let mut r =
                    Renderer::new(Vec::new(), Output::Terminal { color }, ThinkingTo::Inline)
                        .with_wrap(Some(60))
                        .with_markdown(Some(view));
                r.thinking(HOSTILE).unwrap();
                for piece in reply.split_inclusive(' ') {
                    r.content(piece).unwrap();
                }
                r.finish().unwrap();
                let out = String::from_utf8(r.into_inner()).unwrap();
                assert_clean("markdown", &without_markdown_escapes(&out), false);
            }
        }
    }
}

/// Session search hits (as a table and as JSON on a terminal), the list and the branch tree:
/// names, models and message text from session files someone else may have written.
#[test]
fn session_search_list_and_tree() {
    use crate::commands::search::{print_hits, print_json};
    use crate::session::index::query::parse;
    use crate::session::index::{Hit, Role, Summary};
    use crate::session::Parent;
    let hit = Hit {
        path: format!("/s/{HOSTILE}.jsonl").into(),
        id: uuid::Uuid::nil(),
        name: Some(HOSTILE.into()),
        turn: 2,
        role: Role::User,
        at: Utc::now(),
        model: HOSTILE.into(),
        score: Some(-1.0),
        text: format!("{HOSTILE} pwned {HOSTILE}\n{HOSTILE}"),
    };
    let q = parse("pwned ok end").unwrap();
    for color in [false, true] {
        let mut out = Vec::new();
        print_hits(
            &mut out,
            std::slice::from_ref(&hit),
            &q.needles,
            Style { color },
            60,
        )
        .unwrap();
        assert_clean("search hits", &String::from_utf8(out).unwrap(), color);
    }
    let mut out = Vec::new();
    print_json(&mut out, std::slice::from_ref(&hit), &q.needles, true).unwrap();
    assert_clean(
        "search --json on a terminal",
        &String::from_utf8(out).unwrap(),
        false,
    );

    let summary = |n: u128, parent: Option<u128>| Summary {
        path: "/s/x.jsonl".into(),
        id: uuid::Uuid::from_u128(n),
        name: Some(HOSTILE.into()),
        created: Utc::now(),
        last_at: Utc::now(),
        model: HOSTILE.into(),
        turns: 1,
        first_user_line: Some(HOSTILE.into()),
        parent: parent.map(|p| Parent {
            id: uuid::Uuid::from_u128(p),
            turn: 1,
            events: 2,
        }),
    };
    let all = [summary(1, None), summary(2, Some(1)), summary(3, Some(9))];
    let mut out = Vec::new();
    crate::commands::sessions::print_list(&mut out, &all, 80).unwrap();
    assert_clean("sessions list", &String::from_utf8(out).unwrap(), false);
    for id in [1, 3] {
        let mut out = Vec::new();
        crate::commands::tree::print_tree(&mut out, &all, uuid::Uuid::from_u128(id), 200).unwrap();
        assert_clean("sessions tree", &String::from_utf8(out).unwrap(), false);
    }
}
/// `config show` with hostile values in the file, the role and the environment, and the
/// errors a hostile file causes.
#[test]
fn config_show_and_config_errors() {
    use crate::cli::Cli;
    use crate::config_file::{layer, parse, show};
    use clap::CommandFactory;
    let cmd = Cli::command();
    let esc = |s: &str| {
        s.replace('\\', "\\\\")
            .replace('"', "\\\"")
            .replace('\x1b', "\\u001b")
    };
    let toml_hostile: String = esc(HOSTILE)
        .chars()
        .map(|c| match c {
            '\u{0}'..='\u{1f}' | '\u{7f}'..='\u{9f}' => format!("\\u{:04x}", c as u32),
            c => c.to_string(),
        })
        .collect();
    let text = format!(
        "model = \"{toml_hostile}\"\nhost = \"u:{toml_hostile}@h:1\"\n[options]\nstop = [\"{toml_hostile}\"]\n\
         [roles.r]\nsystem = \"{toml_hostile}\"\n\
         [mcp.m]\ncommand = \"{toml_hostile}\"\n"
    );
    let file = parse(&text, HOSTILE.as_ref(), &cmd, &|_| Ok(())).unwrap();
    let user = cmd.clone().try_get_matches_from(["ollama-chat"]).unwrap();
    let env = |k: &str| (k == "OLLAMA_CHAT_THEME").then(|| HOSTILE.to_string());
    let role = &file.roles[0].1;
    let layered = layer::layer(&cmd, &user, &env, &file, Some((HOSTILE, role)));
    let mut argv = vec!["ollama-chat".to_string()];
    argv.extend(layered.args.iter().cloned());
    let full = cmd.clone().try_get_matches_from(argv).unwrap();
    let shown = show::Shown {
        cmd: &cmd,
        user: &user,
        full: &full,
        layered: &layered,
        env: &env,
        path: Some((HOSTILE.as_ref(), true)),
        role: Some(HOSTILE),
        servers: &file.mcp,
    };
    let mut out = Vec::new();
    show::write(&mut out, &shown).unwrap();
    let out = String::from_utf8(out).unwrap();
    assert!(out.contains("pwned"), "{out}");
    assert!(out.contains("mcp.m = { command = "), "{out}");
    assert_clean("config show", &out, false);
    for bad in [
        format!("\"{toml_hostile}\" = 1"),
        format!("[apis.\"{toml_hostile}\"]"),
        "model = \n".to_string(),
    ] {
        let e = parse(&bad, HOSTILE.as_ref(), &cmd, &|_| Ok(())).unwrap_err();
        assert_clean("a config error", &crate::error_line(&e.into()), false);
    }
}

/// The model picker's list and its complaints about an answer, with hostile model names.
#[test]
fn the_model_picker() {
    use crate::repl::picker;
    let names = vec![h(), Untrusted::new(format!("b{HOSTILE}"))];
    let mut out = Vec::new();
    picker::write_menu(&mut out, &names, |n| n == HOSTILE).unwrap();
    let answer = format!("{HOSTILE}x\nb\n");
    picker::ask(&mut answer.as_bytes(), &mut out, &names, "? ", true).unwrap();
    let out = String::from_utf8(out).unwrap();
    assert!(out.contains("pwned"), "{out}");
    assert_clean("the model picker", &out, false);
}

#[test]
fn tool_calls_results_and_the_approval_prompt() {
    use crate::approve::{prompt_text, write_explanation};
    use crate::conversation::{ToolCall, ToolStatus};
    use crate::tools::show::{write_call, write_result};
    let call = ToolCall {
        id: Some(HOSTILE.into()),
        name: HOSTILE.into(),
        arguments: serde_json::json!({ HOSTILE: HOSTILE, "n": [HOSTILE] }),
    };
    for color in [false, true] {
        let style = Style { color };
        let mut out = Vec::new();
        write_call(&mut out, &call, style).unwrap();
        write_result(
            &mut out,
            ToolStatus::Ok,
            &format!("\n{HOSTILE}\n{HOSTILE}"),
            std::time::Duration::from_millis(5),
            style,
        )
        .unwrap();
        assert_clean(
            "a tool call and result",
            &String::from_utf8(out).unwrap(),
            color,
        );
    }
    assert_clean("the approval prompt", &prompt_text(&call, true), false);
    let settings = crate::tools::ToolSettings {
        builtins: vec!["read_file".into()],
        ..crate::tools::ToolSettings::default()
    };
    let toolbox = crate::tools::Toolbox::new(settings).unwrap();
    let mut tool = toolbox.defs()[0].clone();
    tool.spec.description = HOSTILE.into();
    let mut out = Vec::new();
    write_explanation(&mut out, &call, &tool).unwrap();
    assert_clean("[e]xplain", &String::from_utf8(out).unwrap(), false);
}
