//! The streaming renderer on a corpus of model answers: snapshots of the final screen, and the
//! same screen whatever pieces the reply came in.

use super::screen::Screen;
use super::*;

/// Answers as models write them.
const CORPUS: &[(&str, &str)] = &[
    (
        "document",
        "# Installing the tool\n\nYou need **Rust 1.89** or later and `cargo`. See the \
         [install guide](https://rust-lang.org/tools/install) for *other* platforms, or \
         <https://example.com/a>.\n\n## Steps\n\n> **Note:** run these in a ~~new~~ fresh \
         terminal.\n\n---\n\n### Done\nThat is all.\n",
    ),
    (
        "lists",
        "Here is the plan:\n\n1. Prepare\n   - check the *version*\n   - read the notes\n     \
         that follow\n2. Build\n   1. debug\n   2. release\n\n- [ ] write tests\n- [x] \
         write code\n* star bullet\n+ plus bullet\n",
    ),
    (
        "cjk_table",
        "比較如下：\n\n| 城市 | 人口 | Notes |\n|:---|---:|:---:|\n| 台北 | 2.5M | **capital** \
         |\n| Kaohsiung | 2.7M | port `city` |\n| 台中 | 2.8M | |\n\n表格之後的文字，\
         很長很長很長很長很長很長很長很長很長很長很長很長很長很長很長很長很長很長。\n",
    ),
    (
        "code",
        "Python:\n\n```python\ndef greet(name: str) -> str:\n    # say hello\n    return \
         f\"hello {name}\"\n```\n\nRust:\n\n```rust\nfn main() {\n\tprintln!(\"{}\", 1 + 2);\n}\n\
         ```\n\nShell:\n\n~~~bash\nls -la | grep '\\.rs$'  # a very long line that goes on and on \
         past the edge of the terminal\n~~~\n\n```no-such-language\nplain text\n```\n",
    ),
    (
        "unclosed_fence",
        "Start:\n\n```js\nconst x = 1;\nconsole.log(x",
    ),
    (
        "not_a_table",
        "| just a line with a pipe\nand then text\n| a | b |\n| c | d |\n\n| x | y |\n|---|---|\n\
         | 1 | 2 |",
    ),
    (
        "long_prose",
        "This paragraph is long enough to wrap several times at the width the tests use, with \
         **bold words that cross** a break and a `code span` near the edge of the screen too.\n",
    ),
];

/// The fence case for every split: small, so every byte position is tried.
const FENCE: &str = "Text *a*\n```py\nprint('hi')\n```\n| h |\n|---|\n| 台 |\nDone **ok**";

const WIDTH: usize = 40;

fn view(hyperlinks: bool) -> MarkdownView {
    MarkdownView {
        theme: Theme::Ansi,
        hyperlinks,
        width: WIDTH,
        height: Some(1000),
    }
}

fn bytes(pieces: &[&str], color: bool, hyperlinks: bool) -> String {
    let mut md = Markdown::new(view(hyperlinks), color, true);
    let mut out = Vec::new();
    for p in pieces {
        md.push(p, &mut out).unwrap();
    }
    md.finish(&mut out).unwrap();
    String::from_utf8(out).unwrap()
}

fn screen(pieces: &[&str], color: bool) -> Screen {
    let mut s = Screen::new(WIDTH);
    s.play(&bytes(pieces, color, false));
    s
}

fn char_boundaries(s: &str) -> Vec<usize> {
    (1..s.len()).filter(|i| s.is_char_boundary(*i)).collect()
}

#[test]
fn corpus_screens() {
    for (name, src) in CORPUS {
        insta::assert_snapshot!(format!("{name}_plain"), screen(&[src], false).text());
        insta::assert_snapshot!(format!("{name}_styled"), screen(&[src], true).styled());
    }
}

#[test]
fn the_screen_is_the_same_whatever_the_pieces() {
    for (name, src) in CORPUS {
        for color in [false, true] {
            let whole = screen(&[src], color).styled();
            let chars: Vec<String> = src.chars().map(String::from).collect();
            let chars: Vec<&str> = chars.iter().map(String::as_str).collect();
            assert_eq!(
                screen(&chars, color).styled(),
                whole,
                "{name}, char by char"
            );
            // Two pieces split at a sample of places (every place is tried on `FENCE`).
            for i in char_boundaries(src).into_iter().step_by(7) {
                let (a, b) = src.split_at(i);
                assert_eq!(
                    screen(&[a, b], color).styled(),
                    whole,
                    "{name} split at {i}"
                );
            }
        }
    }
}

#[test]
fn a_fence_split_at_every_byte_position_gives_the_same_screen() {
    for color in [false, true] {
        let whole = screen(&[FENCE], color).styled();
        for i in char_boundaries(FENCE) {
            let (a, b) = FENCE.split_at(i);
            assert_eq!(screen(&[a, b], color).styled(), whole, "split at {i}");
            for j in char_boundaries(b).into_iter().step_by(3) {
                let (b1, b2) = b.split_at(j);
                assert_eq!(
                    screen(&[a, b1, b2], color).styled(),
                    whole,
                    "split at {i} and {}",
                    i + j
                );
            }
        }
    }
}

#[test]
fn plain_prose_is_never_rewritten() {
    let out = bytes(
        &["Just words, ", "nothing more, 中文也是。\nSecond line.\n"],
        true,
        false,
    );
    assert!(!out.contains("\x1b[J"), "{out:?}");
    assert_eq!(
        out,
        "Just words, nothing more, 中文也是。\nSecond line.\n\x1b[0m"
    );
}

#[test]
fn a_line_is_shown_raw_then_restyled_once_when_complete() {
    let mut md = Markdown::new(view(false), true, true);
    let mut out = Vec::new();
    md.push("Some **bo", &mut out).unwrap();
    assert_eq!(
        String::from_utf8_lossy(&out),
        "Some ",
        "the held word waits"
    );
    md.push("ld** text", &mut out).unwrap();
    assert_eq!(String::from_utf8_lossy(&out), "Some **bold** ");
    md.push("\n", &mut out).unwrap();
    let s = String::from_utf8(out).unwrap();
    assert_eq!(s.matches("\x1b[J").count(), 1);
    assert!(
        s.ends_with("\r\x1b[JSome \x1b[0;1mbold\x1b[0m text\n"),
        "{s:?}"
    );
}

#[test]
fn a_wrapped_line_is_cleared_from_its_first_row() {
    let long = "word ".repeat(20);
    let out = bytes(&[&format!("*{}*\n", long.trim_end())], true, false);
    assert!(out.contains("\r\x1b[2A\x1b[J"), "{out:?}");
}

#[test]
fn a_table_is_held_until_it_ends() {
    let mut md = Markdown::new(view(false), false, true);
    let mut out = Vec::new();
    md.push("| a | b |\n|---|---|\n| 1 | 2 |\n", &mut out)
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&out), "| a | b |\n");
    md.push("after\n", &mut out).unwrap();
    let mut s = Screen::new(WIDTH);
    s.play(&String::from_utf8(out).unwrap());
    assert_eq!(
        s.text(),
        "┌───┬───┐\n│ a │ b │\n├───┼───┤\n│ 1 │ 2 │\n└───┴───┘\nafter"
    );
}

#[test]
fn cancelling_inside_a_code_block_resets_styles() {
    let mut md = Markdown::new(view(false), true, true);
    let mut out = Vec::new();
    md.push("```rust\nfn main() {\n    let x = \"unfinis", &mut out)
        .unwrap();
    md.finish(&mut out).unwrap();
    let s = String::from_utf8(out).unwrap();
    assert!(s.ends_with("\x1b[0m"), "{s:?}");
    let mut screen = Screen::new(WIDTH);
    screen.play(&s);
    let rule = format!("── rust {}", "─".repeat(WIDTH - 8));
    assert_eq!(
        screen.text(),
        format!("{rule}\nfn main() {{\n    let x = \"unfinis")
    );
}

#[test]
fn code_lines_are_never_wrapped() {
    let long = format!("```\n{}\n```\n", "x".repeat(100));
    let out = bytes(&[&long], false, false);
    assert!(out.contains(&"x".repeat(100)), "{out:?}");
}

#[test]
fn links_become_hyperlinks_where_the_terminal_shows_them() {
    let src = "[site](https://a.example/\u{1b}]52) and [bad](javascript:x)\n";
    let clean = crate::untrusted::sanitize(src);
    let out = bytes(&[&clean], true, true);
    let mut s = Screen::new(WIDTH);
    s.play(&out);
    insta::assert_snapshot!(s.styled(), @"⟦https://a.example/%E2%90%9B]52⟧⟨4;34⟩site⟦⟧ ⟨⟩and ⟨4;34⟩bad⟨2⟩ (javascript:x)⟨⟩");
}

#[test]
fn a_line_too_tall_to_reach_stays_as_typed() {
    let mut md = Markdown::new(
        MarkdownView {
            height: Some(3),
            ..view(false)
        },
        true,
        true,
    );
    let mut out = Vec::new();
    let long = format!("**{}**\n", "word ".repeat(30).trim_end());
    md.push(&long, &mut out).unwrap();
    let s = String::from_utf8(out).unwrap();
    assert!(!s.contains("\x1b[J"), "{s:?}");
    assert!(s.contains("**word"));
}

#[test]
fn a_folded_code_line_with_a_wide_character_at_the_edge_is_replaced_in_place() {
    let src = format!(
        "```\n{}你好\tend {}\n```\nafter\n",
        "x".repeat(39),
        "y".repeat(50)
    );
    let whole = screen(&[&src], true).styled();
    let chars: Vec<String> = src.chars().map(String::from).collect();
    let chars: Vec<&str> = chars.iter().map(String::as_str).collect();
    assert_eq!(screen(&chars, true).styled(), whole);
    let text = screen(&chars, false).text();
    let rows: Vec<&str> = text.lines().collect();
    assert_eq!(
        rows[1],
        "x".repeat(39),
        "the wide character goes to the next row"
    );
    assert!(rows[2].starts_with("你好"), "{text}");
    assert_eq!(rows.last(), Some(&"after"));
}

#[test]
fn unwrapped_replies_fold_like_the_terminal() {
    let mut md = Markdown::new(view(false), true, false);
    let mut out = Vec::new();
    let line = format!("{} **b**", "a".repeat(45));
    md.push(&line, &mut out).unwrap();
    md.push("\n", &mut out).unwrap();
    md.finish(&mut out).unwrap();
    let s = String::from_utf8(out).unwrap();
    assert!(s.contains("\r\x1b[1A\x1b[J"), "{s:?}");
    let mut screen = Screen::new(WIDTH);
    screen.play(&s);
    assert_eq!(
        screen.text(),
        format!("{}\n{} b", "a".repeat(40), "a".repeat(5))
    );
}
