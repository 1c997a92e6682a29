//! Unit tests of the slash-command parser: every command, every malformed form.

use super::*;
use serde_json::json;

use crate::context::Strategy;
use crate::conversation::Think;
use crate::log::pause::LogSwitch;

fn ok(line: &str) -> SlashCommand {
    parse(line)
        .unwrap_or_else(|e| panic!("{line:?} failed: {e}"))
        .unwrap_or_else(|| panic!("{line:?} is not a command"))
}

fn err(line: &str) -> ParseError {
    match parse(line) {
        Err(e) => e,
        Ok(c) => panic!("{line:?} parsed as {c:?}"),
    }
}

fn set(line: &str) -> Setting {
    match ok(line) {
        SlashCommand::Set(s) => s,
        other => panic!("{line:?} gave {other:?}"),
    }
}

#[test]
fn messages_are_not_commands() {
    assert_eq!(parse("hello /bye"), Ok(None));
    assert_eq!(parse("你好"), Ok(None));
    assert_eq!(parse(""), Ok(None));
}

#[test]
fn simple_commands_and_aliases() {
    assert_eq!(ok("/bye"), SlashCommand::Bye);
    assert_eq!(ok("  /exit  "), SlashCommand::Bye);
    assert_eq!(ok("/quit"), SlashCommand::Bye);
    assert_eq!(ok("/BYE"), SlashCommand::Bye);
    assert_eq!(ok("/clear"), SlashCommand::Clear);
    assert_eq!(ok("/models"), SlashCommand::Models);
    assert_eq!(ok("/retry"), SlashCommand::Retry);
    assert_eq!(ok("/undo"), SlashCommand::Undo);
    assert_eq!(ok("/edit"), SlashCommand::Edit);
    assert_eq!(ok("/context"), SlashCommand::Context);
    assert_eq!(ok("/stats"), SlashCommand::Stats);
}

#[test]
fn help_topics() {
    assert_eq!(ok("/?"), SlashCommand::Help(HelpTopic::All));
    assert_eq!(ok("/help"), SlashCommand::Help(HelpTopic::All));
    assert_eq!(ok("/? shortcuts"), SlashCommand::Help(HelpTopic::Shortcuts));
    assert_eq!(
        ok("/help Shortcuts"),
        SlashCommand::Help(HelpTopic::Shortcuts)
    );
    assert_eq!(ok("/? set"), SlashCommand::Help(HelpTopic::Command("/set")));
    assert_eq!(
        ok("/help /exit"),
        SlashCommand::Help(HelpTopic::Command("/bye"))
    );
    assert!(matches!(
        err("/? sett"),
        ParseError::UnknownArgument {
            suggestion: Some("/set"),
            ..
        }
    ));
    assert!(matches!(err("/? set show"), ParseError::Unexpected { .. }));
}

#[test]
fn commands_without_arguments_refuse_them() {
    for line in [
        "/bye now",
        "/clear all",
        "/models x",
        "/retry 2",
        "/undo 1",
        "/stats x",
    ] {
        assert!(matches!(err(line), ParseError::Unexpected { .. }), "{line}");
    }
}

#[test]
fn unknown_commands_suggest_the_nearest() {
    assert_eq!(
        err("/cler"),
        ParseError::Unknown {
            name: "/cler".into(),
            suggestion: Some("/clear")
        }
    );
    assert!(matches!(
        err("/exti"),
        ParseError::Unknown {
            suggestion: Some("/exit"),
            ..
        }
    ));
    assert!(matches!(
        err("/zzzzzzzz"),
        ParseError::Unknown {
            suggestion: None,
            ..
        }
    ));
    assert_eq!(
        err("/shwo info").to_string(),
        "unknown command '/shwo' (did you mean /show?). Type /? for help"
    );
    assert!(matches!(err("/"), ParseError::Unknown { .. }));
}

#[test]
fn show_every_sub_command() {
    let cases = [
        ("/show info", ShowWhat::Info),
        ("/show parameters", ShowWhat::Parameters),
        ("/show system", ShowWhat::System),
        ("/show template", ShowWhat::Template),
        ("/show modelfile", ShowWhat::Modelfile),
        ("/show license", ShowWhat::License),
        ("/show INFO", ShowWhat::Info),
    ];
    for (line, what) in cases {
        assert_eq!(ok(line), SlashCommand::Show(what), "{line}");
    }
    assert_eq!(ok("/show"), SlashCommand::Help(HelpTopic::Command("/show")));
    assert_eq!(
        err("/show inof").to_string(),
        "/show: unknown argument 'inof' (did you mean info?). Usage: /show WHAT"
    );
    assert!(matches!(
        err("/show info extra"),
        ParseError::Unexpected { .. }
    ));
}

#[test]
fn set_flags() {
    assert_eq!(set("/set verbose"), Setting::Verbose(true));
    assert_eq!(set("/set quiet"), Setting::Verbose(false));
    assert_eq!(set("/set wordwrap"), Setting::WordWrap(true));
    assert_eq!(set("/set nowordwrap"), Setting::WordWrap(false));
    assert_eq!(set("/set history"), Setting::History(true));
    assert_eq!(set("/set nohistory"), Setting::History(false));
    assert_eq!(set("/set markdown on"), Setting::Markdown(true));
    assert_eq!(set("/set markdown OFF"), Setting::Markdown(false));
    assert_eq!(set("/set vi"), Setting::Keys(crate::cli::Keys::Vi));
    assert_eq!(set("/set hidethinking"), Setting::HideThinking(true));
    assert_eq!(set("/set nohidethinking"), Setting::HideThinking(false));
    assert_eq!(
        set("/set think max"),
        Setting::Think(crate::conversation::Think::Level("max".into()))
    );
    assert_eq!(set("/set emacs"), Setting::Keys(crate::cli::Keys::Emacs));
    assert!(matches!(err("/set vi now"), ParseError::Unexpected { .. }));
    assert!(matches!(err("/set markdown"), ParseError::Missing { .. }));
    assert!(matches!(
        err("/set markdown offf"),
        ParseError::UnknownArgument {
            suggestion: Some("off"),
            ..
        }
    ));
    assert!(matches!(
        err("/set markdown on now"),
        ParseError::Unexpected { .. }
    ));
    assert_eq!(ok("/set"), SlashCommand::Help(HelpTopic::Command("/set")));
    assert!(matches!(
        err("/set verbose yes"),
        ParseError::Unexpected { .. }
    ));
    assert!(matches!(
        err("/set verbos"),
        ParseError::UnknownArgument {
            suggestion: Some("verbose"),
            ..
        }
    ));
}

#[test]
fn set_format() {
    assert_eq!(
        set("/set format json"),
        Setting::Format(Some(json!("json")))
    );
    assert_eq!(
        set("/set format JSON"),
        Setting::Format(Some(json!("json")))
    );
    assert_eq!(
        set(r#"/set format {"type":"object"}"#),
        Setting::Format(Some(json!({"type": "object"})))
    );
    assert_eq!(set("/set noformat"), Setting::Format(None));
    assert!(matches!(err("/set format"), ParseError::Missing { .. }));
    assert!(matches!(err("/set format xml"), ParseError::Invalid { .. }));
    assert!(matches!(err("/set format [1]"), ParseError::Invalid { .. }));
    assert!(matches!(
        err("/set noformat json"),
        ParseError::Unexpected { .. }
    ));
}

#[test]
fn set_think() {
    assert_eq!(set("/set think"), Setting::Think(Think::On(true)));
    assert_eq!(
        set("/set think high"),
        Setting::Think(Think::Level("high".into()))
    );
    assert_eq!(
        set("/set think LOW"),
        Setting::Think(Think::Level("low".into()))
    );
    assert_eq!(
        set("/set think medium"),
        Setting::Think(Think::Level("medium".into()))
    );
    assert_eq!(set("/set nothink"), Setting::Think(Think::On(false)));
    assert!(matches!(err("/set think hard"), ParseError::Invalid { .. }));
    assert!(matches!(
        err("/set nothink please"),
        ParseError::Unexpected { .. }
    ));
}

#[test]
fn set_context() {
    assert_eq!(
        set("/set context summarize"),
        Setting::Context(Strategy::Summarize)
    );
    assert_eq!(
        set("/set context Summarise"),
        Setting::Context(Strategy::Summarize)
    );
    assert_eq!(set("/set context fail"), Setting::Context(Strategy::Fail));
    assert_eq!(
        set("/set context  truncate "),
        Setting::Context(Strategy::Truncate)
    );
    assert!(matches!(err("/set context"), ParseError::Missing { .. }));
    assert_eq!(
        err("/set context trucate").to_string(),
        "/set: unknown argument 'trucate' (did you mean truncate?). Usage: /set context truncate|summarize|fail"
    );
    assert!(matches!(
        err("/set context drop"),
        ParseError::UnknownArgument {
            suggestion: None,
            ..
        }
    ));
    assert!(matches!(
        err("/set context fail now"),
        ParseError::Unexpected { .. }
    ));
    assert!(matches!(err("/context now"), ParseError::Unexpected { .. }));
}

#[test]
fn set_system_keeps_the_text_whole() {
    assert_eq!(
        set("/set system You are a   terse  老師."),
        Setting::System("You are a   terse  老師.".into())
    );
    assert_eq!(
        set(r#"/set system "be brief""#),
        Setting::System("be brief".into())
    );
    assert_eq!(
        set("/set system \"\"\"line one\nline two\"\"\""),
        Setting::System("line one\nline two".into())
    );
    assert!(matches!(err("/set system"), ParseError::Missing { .. }));
    assert!(matches!(
        err("/set system \"\""),
        ParseError::Missing { .. }
    ));
}

#[test]
fn set_parameter() {
    assert_eq!(set("/set parameter"), Setting::ListParameters);
    assert_eq!(
        set("/set parameter temperature 0.2"),
        Setting::Parameter {
            name: "temperature".into(),
            values: vec!["0.2".into()]
        }
    );
    assert_eq!(
        set("/set parameter stop <end> \"User: \" ###"),
        Setting::Parameter {
            name: "stop".into(),
            values: vec!["<end>".into(), "User: ".into(), "###".into()]
        }
    );
    assert!(matches!(
        err("/set parameter seed"),
        ParseError::Missing { .. }
    ));
    assert_eq!(
        err("/set parameter temprature 1").to_string(),
        "/set: unknown option \"temprature\" (did you mean \"temperature\"?). Usage: /set SETTING [VALUE]"
    );
    assert!(matches!(
        err("/set parameter seed 1 2"),
        ParseError::Invalid { .. }
    ));
    assert!(matches!(
        err("/set parameter stop \"open"),
        ParseError::Invalid { .. }
    ));
}

#[test]
fn load_and_model() {
    assert_eq!(
        ok("/load tiny2"),
        SlashCommand::Load {
            model: "tiny2".into(),
            clear: false
        }
    );
    assert_eq!(
        ok("/load --clear qwen3:8b"),
        SlashCommand::Load {
            model: "qwen3:8b".into(),
            clear: true
        }
    );
    assert!(matches!(err("/load"), ParseError::Missing { .. }));
    assert!(matches!(err("/load --clear"), ParseError::Missing { .. }));
    assert!(matches!(
        err("/load tiny --cleer"),
        ParseError::UnknownArgument {
            suggestion: Some("--clear"),
            ..
        }
    ));
    assert!(matches!(err("/load a b"), ParseError::Unexpected { .. }));
    assert_eq!(ok("/model"), SlashCommand::Model(None));
    assert_eq!(
        ok("/model tiny2"),
        SlashCommand::Model(Some("tiny2".into()))
    );
    assert!(matches!(err("/model a b"), ParseError::Unexpected { .. }));
}

#[test]
fn copy() {
    assert_eq!(ok("/copy"), SlashCommand::Copy(None));
    assert_eq!(ok("/copy 2"), SlashCommand::Copy(Some(2)));
    assert!(matches!(err("/copy 0"), ParseError::Invalid { .. }));
    assert!(matches!(err("/copy -1"), ParseError::Invalid { .. }));
    assert!(matches!(err("/copy two"), ParseError::Invalid { .. }));
    assert!(matches!(err("/copy 1 2"), ParseError::Unexpected { .. }));
}

#[test]
fn search_and_fork() {
    assert_eq!(
        ok("/search  \"上海 天气\" rust* "),
        SlashCommand::Search("\"上海 天气\" rust*".into())
    );
    assert!(matches!(err("/search"), ParseError::Missing { .. }));
    assert!(matches!(err("/search   "), ParseError::Missing { .. }));
    assert_eq!(ok("/fork"), SlashCommand::Fork(None));
    assert_eq!(ok("/fork 0"), SlashCommand::Fork(Some(0)));
    assert_eq!(ok("/fork 12"), SlashCommand::Fork(Some(12)));
    assert!(matches!(err("/fork -1"), ParseError::Invalid { .. }));
    assert!(matches!(err("/fork two"), ParseError::Invalid { .. }));
    assert!(matches!(err("/fork 1 2"), ParseError::Unexpected { .. }));
}

#[test]
fn the_table_is_consistent() {
    let names: Vec<&str> = all_names().collect();
    let mut unique = names.clone();
    unique.sort_unstable();
    unique.dedup();
    assert_eq!(names.len(), unique.len(), "a name is listed twice");
    for spec in COMMANDS {
        assert!(spec.name.starts_with('/'));
        assert!(!spec.help.is_empty());
        assert_eq!(find(spec.name).map(|s| s.name), Some(spec.name));
        for alias in spec.aliases {
            assert_eq!(find(alias).map(|s| s.name), Some(spec.name));
        }
        assert_eq!(spec.completes == Completes::Subs, !spec.subs.is_empty());
    }
}

#[test]
fn log_switches() {
    assert_eq!(ok("/log"), SlashCommand::Log(LogSwitch::Status));
    assert_eq!(ok("/log off"), SlashCommand::Log(LogSwitch::Off));
    assert_eq!(ok("/LOG  On "), SlashCommand::Log(LogSwitch::On));
    assert!(matches!(
        err("/log of"),
        ParseError::UnknownArgument {
            command: "/log",
            suggestion: Some("off"),
            ..
        }
    ));
    assert!(err("/log maybe")
        .to_string()
        .contains("Usage: /log [on|off]"));
    assert!(matches!(err("/log off now"), ParseError::Unexpected { .. }));
}

mod twins {
    //! The fuzz target `slash`'s twin: any line never panics, and generated valid commands
    //! (any case, spacing, quoting) parse to what they say.
    use proptest::prelude::*;

    use super::{parse, LogSwitch, Setting, SlashCommand, Think};
    use crate::fuzzing::{proptest_config, slash};

    /// A word a model or session name can be: no spaces, no leading `-`.
    fn word() -> impl Strategy<Value = String> {
        "[a-z0-9你好][a-z0-9:._/你好-]{0,10}"
    }

    /// ASCII case mixed at random, as a user may type a command name.
    fn any_case(s: &'static str) -> impl Strategy<Value = String> {
        proptest::collection::vec(any::<bool>(), s.len()).prop_map(move |up| {
            s.chars()
                .zip(up)
                .map(|(c, u)| if u { c.to_ascii_uppercase() } else { c })
                .collect()
        })
    }

    /// A command line as typed and what it must parse to.
    fn command() -> impl Strategy<Value = (String, SlashCommand)> {
        prop_oneof![
            (any_case("/load"), word(), any::<bool>()).prop_map(|(c, m, clear)| {
                let flag = if clear { " --clear" } else { "" };
                (
                    format!("{c} {m}{flag}"),
                    SlashCommand::Load { model: m, clear },
                )
            }),
            (any_case("/model"), proptest::option::of(word())).prop_map(|(c, m)| (
                format!("{c} {}", m.clone().unwrap_or_default()),
                SlashCommand::Model(m)
            )),
            (any_case("/copy"), proptest::option::of(1usize..1000)).prop_map(|(c, n)| (
                format!("{c} {}", n.map_or(String::new(), |n| n.to_string())),
                SlashCommand::Copy(n)
            )),
            (
                any_case("/set"),
                proptest::collection::vec("[a-z 你好<|>]{1,6}", 1..4)
            )
                .prop_map(|(c, stops)| {
                    let quoted: Vec<String> = stops.iter().map(|s| format!("\"{s}\"")).collect();
                    let line = format!("{c} parameter STOP {}", quoted.join(" "));
                    (
                        line,
                        SlashCommand::Set(Setting::Parameter {
                            name: "stop".into(),
                            values: stops,
                        }),
                    )
                }),
            (any_case("/set"), -1000i32..1000).prop_map(|(c, n)| (
                format!("{c} parameter num_ctx {n}"),
                SlashCommand::Set(Setting::Parameter {
                    name: "num_ctx".into(),
                    values: vec![n.to_string()]
                }),
            )),
            (any_case("/set"), "[a-z你好][a-z 你好]{0,10}[a-z你好]").prop_map(|(c, s)| (
                format!("{c} system \"\"\"{s}\"\"\""),
                SlashCommand::Set(Setting::System(s)),
            )),
            (
                any_case("/set"),
                prop::sample::select(vec!["truncate", "summarize", "fail"])
            )
                .prop_map(|(c, s)| (
                    format!("{c} context {s}"),
                    SlashCommand::Set(Setting::Context(
                        s.parse::<crate::context::Strategy>().unwrap()
                    )),
                )),
            (
                any_case("/set"),
                prop::sample::select(vec!["low", "medium", "high"])
            )
                .prop_map(|(c, l)| (
                    format!("{c} think {l}"),
                    SlashCommand::Set(Setting::Think(Think::Level(l.into()))),
                )),
            (any_case("/save"), "[a-z你好][a-z 你好]{0,10}[a-z你好]")
                .prop_map(|(c, n)| (format!("{c} {n}"), SlashCommand::Save(n))),
            (any_case("/log"), any::<bool>()).prop_map(|(c, on)| (
                format!("{c} {}", if on { "on" } else { "off" }),
                SlashCommand::Log(if on { LogSwitch::On } else { LogSwitch::Off }),
            )),
            any_case("/bye").prop_map(|c| (c, SlashCommand::Bye)),
            any_case("/retry").prop_map(|c| (c, SlashCommand::Retry)),
            any_case("/models").prop_map(|c| (c, SlashCommand::Models)),
        ]
    }

    proptest! {
        #![proptest_config(proptest_config(0x0051_a54c))]
        #[test]
        fn generated_commands_parse_to_what_they_say(
            (line, expected) in command(),
            before in "[ \t]{0,3}",
            after in "[ \t]{0,3}",
        ) {
            let typed = format!("{before}{line}{after}");
            prop_assert_eq!(parse(&typed), Ok(Some(expected)), "{:?}", typed);
            slash(typed.as_bytes());
        }

        #[test]
        fn any_line_parses_without_panic(line in "/?[a-z/? ]{0,6}.{0,30}") {
            slash(line.as_bytes());
        }
    }
}

#[test]
fn tools_switches() {
    use super::ToolsSwitch;
    assert_eq!(ok("/tools"), SlashCommand::Tools(ToolsSwitch::List));
    assert_eq!(ok("/tools list"), SlashCommand::Tools(ToolsSwitch::List));
    assert_eq!(ok("/tools off"), SlashCommand::Tools(ToolsSwitch::Off));
    assert_eq!(ok("/TOOLS  On "), SlashCommand::Tools(ToolsSwitch::On));
    assert!(err("/tools on now").to_string().contains("now"));
    assert!(err("/tools maybe")
        .to_string()
        .contains("Usage: /tools [on|off|list]"));
}
