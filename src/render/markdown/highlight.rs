//! Syntax highlighting of code blocks, one line at a time, with syntect's bundled grammars on
//! Oniguruma (`regex-onig`: about three times faster per line than the pure-Rust `regex-fancy`,
//! for a C library built from the bundled source). The grammars load on the first code block of the run, not
//! at start-up, so a reply without code (and every reply's first token) pays nothing for them.
//!
//! The default `ansi` theme skips syntect's general theme matcher: every rule of that theme names
//! single scopes, so a scope's style is decided once, when it is pushed, by the same scores
//! syntect gives (the deepest scope wins, then the longest rule), at a fifth of the cost per line.
//! The `dark` and `light` themes go through syntect's highlighter.

use std::sync::LazyLock;

use rustc_hash::FxHashMap;

use syntect::easy::HighlightLines;
use syntect::highlighting::{
    Color as SynColor, FontStyle, ScopeSelectors, StyleModifier, Theme as SynTheme, ThemeItem,
    ThemeSet, ThemeSettings,
};
use syntect::parsing::{
    BasicScopeStackOp, ParseState, Scope, ScopeStack, ScopeStackOp, SyntaxReference, SyntaxSet,
};

use super::spans::{Color, Row, Sgr, Span};

/// `--theme`: the colours of code blocks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum Theme {
    /// The terminal's own 16 colours: they follow its light or dark scheme, so they read on both.
    #[default]
    Ansi,
    /// Exact colours for a dark background (base16-ocean.dark; needs a 24-bit colour terminal).
    Dark,
    /// Exact colours for a light background (InspiredGitHub; needs a 24-bit colour terminal).
    Light,
}

/// The grammars and themes, loaded once: read-only after loading, shared by every reply.
struct Assets {
    syntaxes: SyntaxSet,
    /// The `ansi` theme's rules, one scope each, longest first.
    palette: Vec<(Scope, Sgr)>,
    dark: SynTheme,
    light: SynTheme,
}

static ASSETS: LazyLock<Assets> = LazyLock::new(|| {
    let mut themes = ThemeSet::load_defaults().themes;
    let mut take = |name: &str| themes.remove(name).unwrap_or_else(ansi_theme);
    Assets {
        syntaxes: SyntaxSet::load_defaults_newlines(),
        palette: palette_rules(&ansi_theme()),
        dark: take("base16-ocean.dark"),
        light: take("InspiredGitHub"),
    }
});

/// A theme's rules as (scope, style), longest scope first; a selector of more than one scope
/// (none in the `ansi` theme) is left out.
fn palette_rules(theme: &SynTheme) -> Vec<(Scope, Sgr)> {
    let default_fg = theme.settings.foreground;
    let mut rules: Vec<(Scope, Sgr)> = theme
        .scopes
        .iter()
        .flat_map(|item| {
            let fg = item.style.foreground.unwrap_or(DEFAULT);
            let font = item.style.font_style.unwrap_or_else(FontStyle::empty);
            let sgr = sgr_of(fg, font, default_fg);
            item.scope
                .selectors
                .iter()
                .filter_map(move |sel| sel.extract_single_scope().map(|scope| (scope, sgr)))
        })
        .collect();
    rules.sort_by_key(|(scope, _)| std::cmp::Reverse(scope.len()));
    rules
}

/// A palette colour in a syntect theme: alpha 0 marks the palette index kept in `r` (the trick
/// bat uses), alpha 1 the terminal's default colour dimmed, alpha 2 the default colour.
const fn palette(n: u8) -> SynColor {
    SynColor {
        r: n,
        g: 0,
        b: 0,
        a: 0,
    }
}
const DIMMED: SynColor = SynColor {
    r: 0,
    g: 0,
    b: 0,
    a: 1,
};
const DEFAULT: SynColor = SynColor {
    r: 0,
    g: 0,
    b: 0,
    a: 2,
};

/// The `ansi` theme: scopes to the terminal's palette, as most terminal themes colour code.
fn ansi_theme() -> SynTheme {
    let item = |scopes: &str, fg: SynColor, font: FontStyle| ThemeItem {
        scope: scopes.parse::<ScopeSelectors>().unwrap_or_default(),
        style: StyleModifier {
            foreground: Some(fg),
            background: None,
            font_style: Some(font),
        },
    };
    let none = FontStyle::empty();
    SynTheme {
        name: Some("ansi".into()),
        author: None,
        settings: ThemeSettings {
            foreground: Some(DEFAULT),
            ..ThemeSettings::default()
        },
        scopes: vec![
            item(
                "comment, punctuation.definition.comment",
                DIMMED,
                FontStyle::ITALIC,
            ),
            item(
                "string, constant.character, markup.inserted",
                palette(2),
                none,
            ),
            item(
                "constant.numeric, constant.language, constant.other, markup.deleted",
                palette(1),
                none,
            ),
            item("keyword, storage, keyword.operator.word", palette(5), none),
            item("keyword.operator", DEFAULT, none),
            item(
                "entity.name.function, support.function, meta.function-call",
                palette(4),
                none,
            ),
            item(
                "entity.name.type, entity.name.class, support.type, support.class, storage.type",
                palette(6),
                none,
            ),
            item(
                "entity.name.tag, markup.heading",
                palette(4),
                FontStyle::BOLD,
            ),
            item(
                "entity.other.attribute-name, variable.other.member",
                palette(6),
                none,
            ),
            item("variable.parameter, variable.language", palette(3), none),
        ],
    }
}

/// Common names for languages that syntect knows under another one, or not at all but close.
fn alias(lang: &str) -> &str {
    match lang {
        "ts" | "typescript" | "tsx" | "jsx" | "mjs" | "cjs" | "javascriptreact"
        | "typescriptreact" | "node" | "jsonc" | "json5" => "js",
        "shell" | "console" | "shellscript" | "zsh" | "sh-session" | "ksh" | "fish"
        | "dockerfile" | "docker" => "sh",
        "c++" | "hpp" | "cxx" | "cc" => "cpp",
        "c#" | "csharp" => "cs",
        "kotlin" | "kt" | "kts" => "java",
        "objective-c" | "objc" | "objectivec" => "m",
        "golang" => "go",
        "rs" => "rust",
        "py3" | "python3" | "ipython" => "py",
        "rb" => "ruby",
        "yml" => "yaml",
        "htm" | "xhtml" | "vue" | "svelte" => "html",
        "mysql" | "postgresql" | "postgres" | "psql" | "sqlite" | "plsql" => "sql",
        "cmd" | "batch" => "bat",
        "tex" | "latex" => "tex",
        "md" => "markdown",
        "make" | "mk" => "makefile",
        other => other,
    }
}

/// The grammar for a fence's language word, if syntect has one (or one close enough).
fn syntax_for(lang: &str) -> Option<&'static SyntaxReference> {
    if lang.is_empty() {
        return None;
    }
    let lower = lang.to_ascii_lowercase();
    let name = alias(&lower);
    let ss = &ASSETS.syntaxes;
    ss.find_syntax_by_token(name)
        .or_else(|| ss.find_syntax_by_extension(name))
}

/// Whether a fence's language word gets highlighting.
pub fn known(lang: &str) -> bool {
    syntax_for(lang).is_some()
}

/// The highlighting state of one code block: grammar state carries from line to line.
pub struct Code {
    lines: Option<Lines>,
}

enum Lines {
    /// The `ansi` palette: the grammar's scopes, and the style each level of them gives with
    /// its score (syntect's: length of the rule times 8 to the power of the depth).
    Palette {
        parse: ParseState,
        scopes: ScopeStack,
        styles: Vec<(f64, Sgr)>,
    },
    /// An exact theme, through syntect's highlighter.
    Theme(HighlightLines<'static>, &'static SynTheme),
}

impl Code {
    /// For a block in `lang` (empty or unknown: no colours), in `theme`; with `color` off,
    /// nothing is loaded.
    pub fn new(lang: &str, theme: Theme, color: bool) -> Code {
        let lines = color
            .then(|| syntax_for(lang))
            .flatten()
            .map(|syntax| match theme {
                Theme::Ansi => Lines::Palette {
                    parse: ParseState::new(syntax),
                    scopes: ScopeStack::new(),
                    styles: Vec::new(),
                },
                Theme::Dark => {
                    Lines::Theme(HighlightLines::new(syntax, &ASSETS.dark), &ASSETS.dark)
                }
                Theme::Light => {
                    Lines::Theme(HighlightLines::new(syntax, &ASSETS.light), &ASSETS.light)
                }
            });
        Code { lines }
    }

    /// One line of code (without its newline), highlighted. Tabs become spaces to the next
    /// multiple of four, as the line is never wrapped and must measure what it shows.
    pub fn line(&mut self, text: &str, rules: &mut PaletteRules) -> Row {
        let mut text = expand_tabs(text);
        let row = match self.lines.as_mut() {
            None => None,
            Some(Lines::Palette {
                parse,
                scopes,
                styles,
            }) => {
                text.push('\n');
                let row = palette_line(&text, parse, scopes, styles, rules);
                text.pop();
                row
            }
            Some(Lines::Theme(hl, theme)) => {
                text.push('\n');
                let row = theme_line(&text, hl, theme);
                text.pop();
                row
            }
        };
        match row {
            Some(row) => row,
            None => {
                // A grammar that fails stays off for the rest of the block.
                self.lines = None;
                vec![Span::plain(text)]
            }
        }
    }
}

/// A piece of a line in `sgr`, joined to the previous piece when that has the same style.
fn push_piece(row: &mut Row, piece: &str, sgr: Sgr) {
    let piece = piece.trim_end_matches('\n');
    if piece.is_empty() {
        return;
    }
    match row.last_mut() {
        Some(last) if last.sgr == sgr => last.text.push_str(piece),
        _ => row.push(Span::new(piece, sgr)),
    }
}

/// One line (ending in its newline) in the `ansi` palette; `None` when the grammar fails.
fn palette_line(
    line: &str,
    parse: &mut ParseState,
    scopes: &mut ScopeStack,
    styles: &mut Vec<(f64, Sgr)>,
    rules: &mut PaletteRules,
) -> Option<Row> {
    let ops = parse.parse_line(line, &ASSETS.syntaxes).ok()?;
    let mut row = Row::new();
    let mut at = 0;
    for (pos, op) in &ops {
        let pos = (*pos).min(line.len());
        if pos > at {
            let sgr = styles.last().map(|s| s.1).unwrap_or_default();
            push_piece(&mut row, &line[at..pos], sgr);
            at = pos;
        }
        apply(scopes, styles, op, &mut rules.0).ok()?;
    }
    if at < line.len() {
        let sgr = styles.last().map(|s| s.1).unwrap_or_default();
        push_piece(&mut row, &line[at..], sgr);
    }
    Some(row)
}

/// The longest `ansi` rule each scope seen so far matches (its length and style): it depends on
/// the scope and the fixed palette alone, so a renderer keeps it for every block of every reply
/// (a grammar has a few hundred scopes at most).
#[derive(Default)]
pub struct PaletteRules(FxHashMap<Scope, Option<(u32, Sgr)>>);

/// The longest palette rule `scope` matches.
fn palette_rule(
    rules: &mut FxHashMap<Scope, Option<(u32, Sgr)>>,
    scope: Scope,
) -> Option<(u32, Sgr)> {
    *rules.entry(scope).or_insert_with(|| {
        // The palette is longest first: the first rule that matches scores highest here.
        ASSETS
            .palette
            .iter()
            .find(|(rule, _)| rule.is_prefix_of(scope))
            .map(|(rule, sgr)| (rule.len(), *sgr))
    })
}

/// Applies one of the grammar's scope operations, deciding the style of each pushed scope.
fn apply(
    scopes: &mut ScopeStack,
    styles: &mut Vec<(f64, Sgr)>,
    op: &ScopeStackOp,
    rules: &mut FxHashMap<Scope, Option<(u32, Sgr)>>,
) -> Result<(), syntect::parsing::ScopeError> {
    scopes.apply_with_hook(op, |basic, path| match basic {
        BasicScopeStackOp::Push(scope) => {
            let depth = path.len().saturating_sub(1);
            let mut best = styles.last().copied().unwrap_or((-1.0, Sgr::default()));
            let rule = palette_rule(rules, scope);
            if let Some((len, sgr)) = rule {
                let score = f64::from(len) * 8f64.powi(depth as i32);
                if score > best.0 {
                    best = (score, sgr);
                }
            }
            styles.push(best);
        }
        BasicScopeStackOp::Pop => {
            styles.pop();
        }
    })
}

/// One line (ending in its newline) in an exact theme; `None` when the grammar fails.
fn theme_line(line: &str, hl: &mut HighlightLines<'_>, theme: &SynTheme) -> Option<Row> {
    let ranges = hl.highlight_line(line, &ASSETS.syntaxes).ok()?;
    let default_fg = theme.settings.foreground;
    let mut row = Row::new();
    for (style, piece) in ranges {
        push_piece(
            &mut row,
            piece,
            sgr_of(style.foreground, style.font_style, default_fg),
        );
    }
    Some(row)
}

fn sgr_of(fg: SynColor, font: FontStyle, default_fg: Option<SynColor>) -> Sgr {
    let mut sgr = Sgr {
        bold: font.contains(FontStyle::BOLD),
        italic: font.contains(FontStyle::ITALIC),
        underline: font.contains(FontStyle::UNDERLINE),
        ..Sgr::default()
    };
    match fg.a {
        0 => sgr.fg = Some(Color::Ansi(fg.r)),
        1 => sgr.dim = true,
        2 => {}
        _ if Some(fg) == default_fg => {}
        _ => sgr.fg = Some(Color::Rgb(fg.r, fg.g, fg.b)),
    }
    sgr
}

/// Tabs as spaces to the next multiple of four columns.
pub fn expand_tabs(text: &str) -> String {
    if !text.contains('\t') {
        return text.to_string();
    }
    let mut out = String::with_capacity(text.len() + 8);
    let mut col = 0;
    for c in text.chars() {
        if c == '\t' {
            let n = 4 - col % 4;
            out.extend(std::iter::repeat_n(' ', n));
            col += n;
        } else {
            out.push(c);
            col += unicode_width::UnicodeWidthChar::width(c).unwrap_or(0);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The languages models write most, by the names they put after the fence.
    const COMMON: &[&str] = &[
        "python",
        "py",
        "javascript",
        "js",
        "typescript",
        "ts",
        "tsx",
        "java",
        "c",
        "cpp",
        "c++",
        "csharp",
        "cs",
        "go",
        "rust",
        "ruby",
        "php",
        "swift_unsupported_ok",
        "kotlin",
        "bash",
        "sh",
        "shell",
        "zsh",
        "powershell",
        "sql",
        "html",
        "css",
        "json",
        "yaml",
        "yml",
        "xml",
        "markdown",
        "lua",
        "perl",
        "r",
        "scala",
        "haskell",
        "makefile",
        "dockerfile",
        "diff",
        "objective-c",
        "clojure",
        "erlang",
        "ocaml",
        "latex",
        "groovy",
        "d",
        "pascal",
        "tcl",
        "matlab",
        "lisp",
        "jsx",
    ];

    #[test]
    fn at_least_thirty_common_languages_are_highlighted() {
        let known: Vec<&str> = COMMON.iter().copied().filter(|l| known(l)).collect();
        let missing: Vec<&str> = COMMON
            .iter()
            .copied()
            .filter(|l| !super::known(l))
            .collect();
        assert!(known.len() >= 45, "known {known:?}, missing {missing:?}");
        assert_eq!(missing, ["swift_unsupported_ok", "powershell"]);
    }

    #[test]
    fn lines_are_coloured_with_the_palette() {
        let mut code = Code::new("rust", Theme::Ansi, true);
        let row = code.line(
            "fn main() { let s = \"hi\"; } // note",
            &mut PaletteRules::default(),
        );
        let text: String = row.iter().map(|s| s.text.as_str()).collect();
        assert_eq!(text, "fn main() { let s = \"hi\"; } // note");
        let of = |needle: &str| row.iter().find(|s| s.text.contains(needle)).unwrap().sgr;
        assert!(of("fn").fg.is_some());
        assert_eq!(of("\"hi\"").fg, Some(Color::Ansi(2)));
        assert!(of("note").dim);
    }

    #[test]
    fn unknown_languages_and_no_colour_are_plain() {
        for mut code in [
            Code::new("no-such-lang", Theme::Ansi, true),
            Code::new("", Theme::Dark, true),
            Code::new("rust", Theme::Ansi, false),
        ] {
            assert_eq!(
                code.line("fn x()\t{}", &mut PaletteRules::default()),
                vec![Span::plain("fn x()  {}")]
            );
        }
    }

    /// The palette's own scope matching gives what syntect's highlighter gives with the same
    /// theme, line by line, across grammars (embedded languages, multi-line strings and comments,
    /// heredocs: pushes, pops, clears and restores).
    #[test]
    fn the_palette_colours_as_syntects_highlighter_does() {
        let corpus: &[(&str, &str)] = &[
            ("rust", "/// doc\nfn main() {\n    let s = \"你好\\n{x}\"; // note\n    println!(\"{s} {}\", 1.5e3);\n    /* a\n  b */ let r = r#\"raw\"#;\n}\n#[derive(Debug)]\nstruct S<'a> { x: &'a str }\nimpl<T: Clone> Tr for S<T> where T: Copy {}"),
            ("python", "@dec\ndef f(x: int = 3, *a, **k) -> str:\n    '''doc\n    more'''\n    return f\"{x!r:>10} {k['a']}\"  # note\nclass A(B):\n    async def g(self): await h(lambda y: y ** 2)\nx = [i for i in range(10) if i % 2 == 0]"),
            ("js", "const a = `x ${b + `y ${c}`} z`;\nfunction f(a, {b, c} = {}) { return a?.b ?? /re[gex]+/gi.test(c); }\nclass K extends L { #p = 1; static get q() { return this.#p } }\n// c\n/* m\n l */"),
            ("html", "<!DOCTYPE html>\n<html lang=\"en\"><head><style>\nbody { color: red; }\n</style><script>\nlet x = '<b>';\nif (x < 3) { alert(x) }\n</script></head>\n<body onload=\"f()\">&amp; <!-- c\n --></body></html>"),
            ("sh", "#!/bin/bash\nset -euo pipefail\ncat <<EOF > f\n$HOME ${x:-y} $(date)\nEOF\nfor i in \"$@\"; do echo \"${i//a/b}\" | grep -E '^x' && exit 1; done\ncase $1 in a) ;; esac"),
            ("c", "#include <stdio.h>\n#define M(x) ((x) * 2)\nint main(int argc, char **argv) {\n    printf(\"%d\\n\", M(3)); /* c */\n\treturn 0;\n}"),
            ("cpp", "template <typename T> class V : public B<T> {\n  public:\n    auto f() const -> std::vector<T> { return {}; }\n};\nR\"(raw\nstring)\";"),
            ("go", "package main\nimport \"fmt\"\nfunc main() {\n\tx := []int{1, 2}\n\tgo func() { fmt.Println(`raw\nstr`, x) }()\n}"),
            ("java", "@Override\npublic static <T> List<T> f(final int x) throws IOException {\n    return new ArrayList<>(); // c\n}"),
            ("sql", "SELECT a, COUNT(*) AS n FROM t -- c\nWHERE b = 'x''y' AND c IN (1, 2)\nGROUP BY a;"),
            ("yaml", "key: value\nlist:\n  - a: 1\n    b: \"s\"\nmulti: |\n  text\n  more\n# c"),
            ("json", "{\"a\": [1, 2.5, true, null], \"b\": {\"c\": \"d\\\"e\"}}"),
            ("markdown", "# H\n\n```rust\nfn x() {}\n```\n*e* **b** `c` [l](u)"),
            ("ruby", "def f(x) = x * 2\nputs \"#{x}\" if x =~ /re/\n<<~EOS\n  heredoc #{y}\nEOS\n"),
            ("php", "<?php\n$x = \"a $b {$c['d']}\";\nfunction f(int $x): ?string { return null; }\n?>\n<b>html</b>"),
            ("diff", "--- a/x\n+++ b/x\n@@ -1,2 +1,2 @@\n-old\n+new\n context"),
            ("css", "@media (max-width: 10px) { .a > #b:hover::after { content: \"x\"; color: #fff !important; } }"),
            ("latex", "\\documentclass{article}\n\\begin{document}\n$x^2 + \\alpha$ % c\n\\end{document}"),
        ];
        let theme = ansi_theme();
        // One cache for every language, as a renderer keeps it for every block of a reply.
        let mut rules = PaletteRules::default();
        for (lang, code) in corpus {
            let syntax = syntax_for(lang).unwrap_or_else(|| panic!("{lang}"));
            let mut ours = Code::new(lang, Theme::Ansi, true);
            let mut theirs = HighlightLines::new(syntax, &theme);
            for (n, line) in code.lines().enumerate() {
                let with_newline = format!("{}\n", expand_tabs(line));
                let expect = theme_line(&with_newline, &mut theirs, &theme);
                assert_eq!(
                    Some(ours.line(line, &mut rules)),
                    expect,
                    "{lang} line {n}: {line}"
                );
            }
        }
    }

    #[test]
    fn exact_themes_give_exact_colours() {
        let mut code = Code::new("py", Theme::Light, true);
        let row = code.line("def f(): return 1", &mut PaletteRules::default());
        assert!(row.iter().any(|s| matches!(s.sgr.fg, Some(Color::Rgb(..)))));
    }

    #[test]
    fn tabs_expand_to_four_column_stops() {
        assert_eq!(expand_tabs("\tx"), "    x");
        assert_eq!(expand_tabs("ab\tx"), "ab  x");
        assert_eq!(expand_tabs("你\tx"), "你  x");
    }
}
