//! Unit tests of the Modelfile parser: every instruction and every malformed form.

use serde_json::json;

use super::*;

fn err(text: &str) -> (Option<(usize, usize)>, String) {
    let e = parse(text).unwrap_err();
    (e.at, e.kind.to_string())
}

#[test]
fn from_a_model_or_a_path() {
    assert_eq!(parse("FROM llama3.2").unwrap().from, "llama3.2");
    assert_eq!(parse("from ./m.gguf\n").unwrap().from, "./m.gguf");
    assert_eq!(
        parse("FROM \"./my models/m.gguf\"").unwrap().from,
        "./my models/m.gguf"
    );
}

#[test]
fn parameters_are_typed_and_stop_repeats() {
    let m = parse(
        "FROM x\nPARAMETER temperature 0.3\nparameter NUM_CTX 4096\nPARAMETER stop <end>\n\
         PARAMETER stop \"User: \"\nPARAMETER use_mmap false\nPARAMETER\ttop_k\t40\n",
    )
    .unwrap();
    assert_eq!(
        serde_json::to_value(&m.parameters).unwrap(),
        json!({"temperature": 0.3, "num_ctx": 4096, "stop": ["<end>", "User: "],
               "use_mmap": false, "top_k": 40})
    );
}

#[test]
fn template_and_system_multi_line() {
    let m = parse(
        "FROM x\nTEMPLATE \"\"\"{{ .System }}\n{{ .Prompt }}\"\"\"\nSYSTEM \"\"\"\nBe \"brief\".\n\"\"\"\n",
    )
    .unwrap();
    assert_eq!(m.template.unwrap(), "{{ .System }}\n{{ .Prompt }}");
    assert_eq!(m.system.unwrap(), "\nBe \"brief\".\n");
}

#[test]
fn bare_and_quoted_values() {
    let m = parse("FROM x\nSYSTEM   You are \"Tiny\".   \n").unwrap();
    assert_eq!(m.system.unwrap(), "You are \"Tiny\".");
    let m = parse("FROM x\nSYSTEM \"  spaced  \"").unwrap();
    assert_eq!(m.system.unwrap(), "  spaced  ");
    let m = parse("FROM x\nSYSTEM \"two\nlines\"").unwrap();
    assert_eq!(m.system.unwrap(), "two\nlines");
    let m = parse("FROM x\nSYSTEM \"\"").unwrap();
    assert_eq!(m.system.unwrap(), "");
    let m = parse("FROM x\nSYSTEM #not a comment").unwrap();
    assert_eq!(m.system.unwrap(), "#not a comment");
}

#[test]
fn adapter_license_message_requires() {
    let m = parse(
        "FROM x\nADAPTER ./lora.gguf\nLICENSE MIT\nLICENSE \"\"\"line one\nline two\"\"\"\n\
         MESSAGE user 今天天氣如何？\nMESSAGE Assistant \"晴天。\"\nMESSAGE system be kind\n\
         REQUIRES v0.14.0\n",
    )
    .unwrap();
    assert_eq!(m.adapters, vec!["./lora.gguf"]);
    assert_eq!(m.licenses, vec!["MIT", "line one\nline two"]);
    assert_eq!(
        m.messages,
        vec![
            ModelfileMessage {
                role: MessageRole::User,
                content: "今天天氣如何？".into()
            },
            ModelfileMessage {
                role: MessageRole::Assistant,
                content: "晴天。".into()
            },
            ModelfileMessage {
                role: MessageRole::System,
                content: "be kind".into()
            },
        ]
    );
    assert_eq!(m.requires.as_deref(), Some("0.14.0"));
}

#[test]
fn comments_blank_lines_crlf_and_bom() {
    let m =
        parse("\u{feff}# header\r\n\r\n   # indented comment\r\nFROM x\r\n\tSYSTEM hi\r\n# end")
            .unwrap();
    assert_eq!(m.from, "x");
    assert_eq!(m.system.as_deref(), Some("hi"));
}

#[test]
fn versions() {
    assert_eq!(version("0.14.0").as_deref(), Some("0.14.0"));
    assert_eq!(version("v1").as_deref(), Some("1"));
    assert_eq!(version("1.2.3-rc1").as_deref(), Some("1.2.3-rc1"));
    for bad in ["", "v", "1.2.3.4", "x.1", "1..2", "1.2-", "1.2-a b"] {
        assert_eq!(version(bad), None, "{bad:?}");
    }
}

#[test]
fn unknown_instruction_names_line_column_and_the_nearest() {
    let (at, msg) = err("FROM x\n  SYTEM hi\n");
    assert_eq!(at, Some((2, 3)));
    assert!(
        msg.starts_with("unknown instruction \"SYTEM\" (did you mean SYSTEM?)"),
        "{msg}"
    );
    let (at, msg) = err("FROM x\nRUN make\n");
    assert_eq!(at, Some((2, 1)));
    assert!(!msg.contains("did you mean"), "{msg}");
    let (at, _) = err("FROM: x");
    assert_eq!(at, Some((1, 1)));
}

#[test]
fn missing_and_empty_values() {
    assert_eq!(err("FROM"), (Some((1, 5)), "FROM needs a value".into()));
    assert_eq!(
        err("FROM   \n"),
        (Some((1, 8)), "FROM needs a value".into())
    );
    assert_eq!(
        err("FROM x\nSYSTEM\nhi"),
        (Some((2, 7)), "SYSTEM needs a value".into())
    );
    assert_eq!(
        err("FROM \"\""),
        (Some((1, 6)), "FROM needs a non-empty value".into())
    );
    assert_eq!(
        err("FROM x\nADAPTER \"\""),
        (Some((2, 9)), "ADAPTER needs a non-empty value".into())
    );
}

#[test]
fn unclosed_quotes_point_at_the_opening() {
    assert_eq!(
        err("FROM x\nSYSTEM \"\"\"never\nclosed\n"),
        (Some((2, 8)), "this \"\"\" is never closed".into())
    );
    assert_eq!(
        err("FROM x\nTEMPLATE \"open"),
        (Some((2, 10)), "this quote is never closed".into())
    );
}

#[test]
fn text_after_a_closing_quote() {
    let (at, msg) = err("FROM x\nSYSTEM \"hi\" there");
    assert_eq!(at, Some((2, 13)));
    assert!(msg.starts_with("unexpected text after the closing quote"));
    let (at, _) = err("FROM x\nSYSTEM \"\"\"a\nb\"\"\" c");
    assert_eq!(at, Some((3, 6)));
}

#[test]
fn bad_parameters() {
    let (at, msg) = err("FROM x\nPARAMETER temprature 0.3");
    assert_eq!(at, Some((2, 11)));
    assert_eq!(
        msg,
        "PARAMETER unknown option \"temprature\" (did you mean \"temperature\"?)"
    );
    let (at, msg) = err("FROM x\nPARAMETER num_ctx lots");
    assert_eq!(at, Some((2, 19)));
    assert_eq!(
        msg,
        "PARAMETER option num_ctx takes a whole number, not \"lots\""
    );
    let (at, msg) = err("FROM x\nPARAMETER temperature");
    assert_eq!(at, Some((2, 11)));
    assert!(msg.starts_with("PARAMETER needs a name and a value"));
    assert_eq!(err("FROM x\nPARAMETER  ").0, Some((2, 12)));
    assert_eq!(
        err("FROM x\nPARAMETER stop \"\"").1,
        "PARAMETER needs a non-empty value"
    );
    assert_eq!(
        err("FROM x\nPARAMETER use_mmap maybe").1,
        "PARAMETER option use_mmap takes true or false, not \"maybe\""
    );
}

#[test]
fn bad_messages() {
    let (at, msg) = err("FROM x\nMESSAGE bot hi");
    assert_eq!(at, Some((2, 9)));
    assert_eq!(
        msg,
        "MESSAGE role must be system, user or assistant, not \"bot\""
    );
    assert!(err("FROM x\nMESSAGE user")
        .1
        .starts_with("MESSAGE needs a role"));
    assert!(err("FROM x\nMESSAGE  ")
        .1
        .starts_with("MESSAGE needs a role"));
}

#[test]
fn bad_requires() {
    assert_eq!(
        err("FROM x\nREQUIRES soon"),
        (
            Some((2, 10)),
            "REQUIRES takes an Ollama version such as 0.14.0, not \"soon\"".into()
        )
    );
}

#[test]
fn duplicates_name_both_lines() {
    assert_eq!(
        err("FROM a\nFROM b"),
        (
            Some((2, 1)),
            "FROM is given twice (first on line 1); keep one".into()
        )
    );
    assert!(err("FROM a\nSYSTEM x\n\nsystem y")
        .1
        .contains("SYSTEM is given twice"));
    assert!(err("FROM a\nTEMPLATE x\nTEMPLATE y").1.contains("TEMPLATE"));
    assert!(err("FROM a\nREQUIRES 1\nREQUIRES 2").1.contains("REQUIRES"));
    assert_eq!(
        err("FROM a\nPARAMETER top_k 1\nPARAMETER top_k 2").1,
        "PARAMETER top_k is given twice (first on line 2); keep one"
    );
}

#[test]
fn no_from_at_all() {
    for text in ["", "# only a comment\n", "SYSTEM hi"] {
        let e = parse(text).unwrap_err();
        assert_eq!(e.at, None);
        assert_eq!(e.kind, ErrorKind::MissingFrom);
    }
}

#[test]
fn columns_count_characters_not_bytes() {
    let (at, _) = err("FROM x\nSYSTEM \"你好\" 世界");
    assert_eq!(at, Some((2, 13)));
}

#[test]
fn display_includes_the_position() {
    let e = parse("FROM x\nPARAMETER seed x").unwrap_err();
    assert_eq!(
        e.to_string(),
        "line 2, column 16: PARAMETER option seed takes a whole number, not \"x\""
    );
}

#[test]
fn a_huge_unknown_word_is_quoted_as_an_excerpt() {
    let word = "X".repeat(1 << 20);
    let (at, msg) = err(&format!("FROM x\n{word} hi\n"));
    assert_eq!(at, Some((2, 1)));
    assert!(
        msg.starts_with(&format!("unknown instruction \"{}…\";", "X".repeat(64))),
        "{msg}"
    );
    assert!(msg.len() < 300, "{msg}");
    let (_, msg) = err(&format!("FROM x\nMESSAGE {word} hi\n"));
    assert!(msg.len() < 200, "{msg}");
    let (_, msg) = err(&format!("FROM x\nPARAMETER {word} 1\n"));
    assert!(msg.len() < 200, "{msg}");
}

mod twins {
    //! The fuzz target `modelfile`'s twin: near-Modelfiles never panic, and what parses and prints
    //! parses back to itself (the printer's own round trip is in `roundtrip`).
    use proptest::prelude::*;

    use crate::fuzzing::{modelfile, proptest_config, stream_input};

    const PARTS: &[&str] = &[
        "FROM ",
        "from ",
        "PARAMETER ",
        "stop ",
        "temperature ",
        "num_ctx ",
        "seed ",
        "TEMPLATE ",
        "SYSTEM ",
        "MESSAGE ",
        "user ",
        "assistant ",
        "ADAPTER ",
        "LICENSE ",
        "REQUIRES ",
        "v0.1.2",
        "# c",
        "\"",
        "\"\"\"",
        "\\",
        "\n",
        "\r\n",
        "\t",
        " ",
        "0.5",
        "-1",
        "42",
        "true",
        "你好",
        "😀",
        "./x.gguf",
        "{{ .Prompt }}",
    ];

    proptest! {
        #![proptest_config(proptest_config(0x0d31_f11e))]
        #[test]
        fn near_modelfiles_parse_without_panic_and_print_back(data in stream_input(PARTS, 30)) {
            modelfile(&data);
        }

        #[test]
        fn any_text_parses_without_panic(text in any::<String>()) {
            modelfile(text.as_bytes());
        }
    }
}
