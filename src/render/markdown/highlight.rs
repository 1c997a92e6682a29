//! Syntax highlighting of code blocks, one line at a time, with syntect's bundled grammars on
//! Oniguruma (`regex-onig`: about three times faster per line than the pure-Rust `regex-fancy`,
//! for a C library built from the bundled source). The grammars load on the first code block of the run, not
//! at start-up, so a reply without code (and every reply's first token) pays nothing for them.

use std::sync::LazyLock;

use syntect::easy::HighlightLines;
use syntect::highlighting::{
    Color as SynColor, FontStyle, ScopeSelectors, StyleModifier, Theme as SynTheme, ThemeItem,
    ThemeSet, ThemeSettings,
};
use syntect::parsing::{SyntaxReference, SyntaxSet};

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
    ansi: SynTheme,
    dark: SynTheme,
    light: SynTheme,
}

static ASSETS: LazyLock<Assets> = LazyLock::new(|| {
    let mut themes = ThemeSet::load_defaults().themes;
    let mut take = |name: &str| themes.remove(name).unwrap_or_else(ansi_theme);
    Assets {
        syntaxes: SyntaxSet::load_defaults_newlines(),
        ansi: ansi_theme(),
        dark: take("base16-ocean.dark"),
        light: take("InspiredGitHub"),
    }
});

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
    lines: Option<(HighlightLines<'static>, &'static SynTheme)>,
}

impl Code {
    /// For a block in `lang` (empty or unknown: no colours), in `theme`; with `color` off,
    /// nothing is loaded.
    pub fn new(lang: &str, theme: Theme, color: bool) -> Code {
        let lines = color.then(|| syntax_for(lang)).flatten().map(|syntax| {
            let t = match theme {
                Theme::Ansi => &ASSETS.ansi,
                Theme::Dark => &ASSETS.dark,
                Theme::Light => &ASSETS.light,
            };
            (HighlightLines::new(syntax, t), t)
        });
        Code { lines }
    }

    /// One line of code (without its newline), highlighted. Tabs become spaces to the next
    /// multiple of four, as the line is never wrapped and must measure what it shows.
    pub fn line(&mut self, text: &str) -> Row {
        let text = expand_tabs(text);
        let Some((hl, theme)) = self.lines.as_mut() else {
            return vec![Span::plain(text)];
        };
        let with_newline = format!("{text}\n");
        let Ok(ranges) = hl.highlight_line(&with_newline, &ASSETS.syntaxes) else {
            self.lines = None;
            return vec![Span::plain(text)];
        };
        let default_fg = theme.settings.foreground;
        let mut row = Row::new();
        for (style, piece) in ranges {
            let piece = piece.trim_end_matches('\n');
            if piece.is_empty() {
                continue;
            }
            let sgr = sgr_of(style.foreground, style.font_style, default_fg);
            match row.last_mut() {
                Some(last) if last.sgr == sgr => last.text.push_str(piece),
                _ => row.push(Span::new(piece, sgr)),
            }
        }
        row
    }
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
        let row = code.line("fn main() { let s = \"hi\"; } // note");
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
            assert_eq!(code.line("fn x()\t{}"), vec![Span::plain("fn x()  {}")]);
        }
    }

    #[test]
    fn exact_themes_give_exact_colours() {
        let mut code = Code::new("py", Theme::Light, true);
        let row = code.line("def f(): return 1");
        assert!(row.iter().any(|s| matches!(s.sgr.fg, Some(Color::Rgb(..)))));
    }

    #[test]
    fn tabs_expand_to_four_column_stops() {
        assert_eq!(expand_tabs("\tx"), "    x");
        assert_eq!(expand_tabs("ab\tx"), "ab  x");
        assert_eq!(expand_tabs("你\tx"), "你  x");
    }
}
