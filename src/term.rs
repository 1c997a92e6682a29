//! The terminal, described once at start-up: which standard streams are terminals, whether each
//! gets colour, and how wide the output is. Printers are given a `Term` (or the part they need);
//! nothing else asks the process.
//!
//! `Term::new` is pure (every rule is unit-tested below); `Term::detect` reads the real process
//! and is, with `Term::current_width`, the only code that does.

use std::ffi::OsString;
use std::io::{self, IsTerminal};

/// `--color`: when the client uses styles (dimmed thinking and notices, red errors, bold headers).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum ColorChoice {
    /// Colour on terminals, unless NO_COLOR says no; CLICOLOR_FORCE turns it on in pipes too.
    #[default]
    Auto,
    /// Colour everywhere, whatever the environment says.
    Always,
    /// Never colour, whatever the environment says.
    Never,
}

/// The width used when neither `COLUMNS` nor the terminal gives one (a pipe, a file).
pub const FALLBACK_WIDTH: usize = 80;
/// Widths are kept in this range: narrower cannot hold a table row, wider is a typo.
pub const MIN_WIDTH: usize = 20;
pub const MAX_WIDTH: usize = 1000;

/// What the description is decided from: the process as `detect` sees it, or a test's values.
#[derive(Debug, Clone, Default)]
pub struct Inputs {
    pub stdin_tty: bool,
    pub stdout_tty: bool,
    pub stderr_tty: bool,
    /// The size in columns the terminal on stdout reports (`None` or 0: unknown).
    pub tty_columns: Option<u16>,
    /// The size in rows it reports, likewise.
    pub tty_rows: Option<u16>,
    /// `--color`.
    pub color: ColorChoice,
    /// The environment variables, as set (`None`: unset).
    pub no_color: Option<OsString>,
    pub clicolor_force: Option<OsString>,
    pub columns: Option<OsString>,
    pub term: Option<OsString>,
    /// What says which terminal program this is, for OSC 8 hyperlinks: `TERM_PROGRAM`,
    /// `VTE_VERSION`, `WT_SESSION`, `KITTY_WINDOW_ID`.
    pub term_program: Option<OsString>,
    pub vte_version: Option<OsString>,
    pub wt_session: Option<OsString>,
    pub kitty_window_id: Option<OsString>,
}

/// One standard output stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stream {
    /// A terminal: a person reads it as it comes.
    pub tty: bool,
    /// Styles may be written to it.
    pub color: bool,
}

/// The terminal description every printer is given.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Term {
    /// Someone can type answers (the REPL, y/N questions); otherwise stdin is input to read.
    pub stdin_tty: bool,
    pub stdout: Stream,
    pub stderr: Stream,
    /// Columns to wrap replies and lay out tables in (see [`Term::new`] for where it comes from).
    pub width: usize,
    /// Rows of the terminal on stdout, when it says: how far up a reply may move the cursor to
    /// restyle a line it has shown.
    pub height: Option<usize>,
    /// `TERM=dumb`: no cursor movement, so no progress bars.
    pub dumb: bool,
    /// The terminal on stdout is known to show OSC 8 hyperlinks (otherwise a link is `text (url)`).
    pub hyperlinks: bool,
    /// Colour switched off by `--color never` or NO_COLOR, before any tty-ness is considered.
    color_refused: bool,
    /// A valid `COLUMNS`, which wins over the terminal's size.
    columns: Option<usize>,
}

impl Term {
    /// Decides everything from `inputs`:
    ///
    /// - Colour, for stdout and stderr each: `--color always`/`never` win over the environment;
    ///   otherwise (`auto`) a non-empty NO_COLOR turns it off, else a CLICOLOR_FORCE that is
    ///   non-empty and not `0` turns it on even in a pipe, else it is on for a terminal unless
    ///   `TERM=dumb`.
    /// - Width: `COLUMNS` when it is a positive whole number, else the size the terminal on
    ///   stdout reports, else [`FALLBACK_WIDTH`]; kept within [`MIN_WIDTH`]..=[`MAX_WIDTH`].
    pub fn new(inputs: Inputs) -> Term {
        let set = |v: &Option<OsString>| v.as_ref().is_some_and(|v| !v.is_empty());
        let dumb = inputs.term.as_ref().is_some_and(|t| t == "dumb");
        let forced =
            set(&inputs.clicolor_force) && inputs.clicolor_force.as_ref().is_some_and(|v| v != "0");
        let refused = match inputs.color {
            ColorChoice::Never => true,
            ColorChoice::Always => false,
            ColorChoice::Auto => set(&inputs.no_color),
        };
        let color = |tty: bool| match inputs.color {
            ColorChoice::Always => true,
            ColorChoice::Never => false,
            ColorChoice::Auto if refused => false,
            ColorChoice::Auto => forced || (tty && !dumb),
        };
        let columns = inputs.columns.as_ref().and_then(parse_columns);
        let tty_columns = inputs
            .tty_columns
            .filter(|_| inputs.stdout_tty)
            .map(usize::from);
        Term {
            stdin_tty: inputs.stdin_tty,
            stdout: Stream {
                tty: inputs.stdout_tty,
                color: color(inputs.stdout_tty),
            },
            stderr: Stream {
                tty: inputs.stderr_tty,
                color: color(inputs.stderr_tty),
            },
            width: width(columns, tty_columns),
            height: inputs
                .tty_rows
                .filter(|r| inputs.stdout_tty && *r > 0)
                .map(usize::from),
            dumb,
            hyperlinks: inputs.stdout_tty && !dumb && hyperlinks(&inputs),
            color_refused: refused,
            columns,
        }
    }

    /// Reads the real process: which streams are terminals, the terminal's size, and the
    /// environment variables of [`Inputs`].
    pub fn detect(color: ColorChoice) -> Term {
        let stdout = io::stdout();
        let stdout_tty = stdout.is_terminal();
        let size = stdout_tty
            .then(|| terminal_size::terminal_size_of(&stdout))
            .flatten();
        Term::new(Inputs {
            stdin_tty: io::stdin().is_terminal(),
            stdout_tty,
            stderr_tty: io::stderr().is_terminal(),
            tty_columns: size.map(|(w, _)| w.0),
            tty_rows: size.map(|(_, h)| h.0),
            color,
            no_color: std::env::var_os("NO_COLOR"),
            clicolor_force: std::env::var_os("CLICOLOR_FORCE"),
            columns: std::env::var_os("COLUMNS"),
            term: std::env::var_os("TERM"),
            term_program: std::env::var_os("TERM_PROGRAM"),
            vte_version: std::env::var_os("VTE_VERSION"),
            wt_session: std::env::var_os("WT_SESSION"),
            kitty_window_id: std::env::var_os("KITTY_WINDOW_ID"),
        })
    }

    /// The width now, by the same rule as [`Term::width`]: a terminal may have been resized since
    /// start-up, so the REPL asks before each reply. Without a terminal it is `width`.
    pub fn current_width(&self) -> usize {
        if self.columns.is_some() || !self.stdout.tty {
            return self.width;
        }
        let now = terminal_size::terminal_size_of(io::stdout()).map(|(w, _)| usize::from(w.0));
        width(None, now)
    }

    /// The height now, as [`Term::current_width`] does for the width.
    pub fn current_height(&self) -> Option<usize> {
        if !self.stdout.tty {
            return self.height;
        }
        terminal_size::terminal_size_of(io::stdout())
            .map(|(_, h)| usize::from(h.0))
            .filter(|h| *h > 0)
            .or(self.height)
    }

    /// `--color never` or NO_COLOR: the user asked for no styles at all.
    pub fn color_refused(&self) -> bool {
        self.color_refused
    }

    /// A description of pipes everywhere, no colour, the fallback width: for tests.
    pub fn pipes() -> Term {
        Term::new(Inputs::default())
    }
}

/// Whether the terminal is one known to show OSC 8 hyperlinks. There is no query for it, so this
/// goes by what the terminal says about itself; one it does not know shows `text (url)`, which
/// every terminal can.
fn hyperlinks(inputs: &Inputs) -> bool {
    let is = |v: &Option<OsString>, names: &[&str]| {
        v.as_ref()
            .and_then(|v| v.to_str())
            .is_some_and(|v| names.contains(&v))
    };
    let set = |v: &Option<OsString>| v.as_ref().is_some_and(|v| !v.is_empty());
    let vte = inputs
        .vte_version
        .as_ref()
        .and_then(|v| v.to_str())
        .and_then(|v| v.parse::<u32>().ok())
        .is_some_and(|v| v >= 5000);
    is(
        &inputs.term_program,
        &["iTerm.app", "WezTerm", "vscode", "ghostty", "Hyper", "rio"],
    ) || is(
        &inputs.term,
        &[
            "xterm-kitty",
            "wezterm",
            "xterm-ghostty",
            "foot",
            "foot-extra",
            "alacritty",
        ],
    ) || vte
        || set(&inputs.wt_session)
        || set(&inputs.kitty_window_id)
}

/// `COLUMNS` as a number of columns: digits only, above zero; too many digits count as huge.
fn parse_columns(raw: &OsString) -> Option<usize> {
    let s = raw.to_str()?.trim();
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    match s.parse::<usize>() {
        Ok(0) => None,
        Ok(n) => Some(n),
        Err(_) if s.bytes().any(|b| b != b'0') => Some(MAX_WIDTH),
        Err(_) => None,
    }
}

/// The one width rule: `COLUMNS`, else the terminal's size, else the fallback, within bounds.
fn width(columns: Option<usize>, tty: Option<usize>) -> usize {
    columns
        .or(tty.filter(|w| *w > 0))
        .unwrap_or(FALLBACK_WIDTH)
        .clamp(MIN_WIDTH, MAX_WIDTH)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn os(s: &str) -> Option<OsString> {
        Some(s.into())
    }

    fn ttys() -> Inputs {
        Inputs {
            stdin_tty: true,
            stdout_tty: true,
            stderr_tty: true,
            tty_columns: Some(132),
            term: os("xterm-256color"),
            ..Inputs::default()
        }
    }

    fn colors(t: &Term) -> (bool, bool) {
        (t.stdout.color, t.stderr.color)
    }

    #[test]
    fn terminals_get_colour_and_pipes_do_not() {
        assert_eq!(colors(&Term::new(ttys())), (true, true));
        assert_eq!(colors(&Term::pipes()), (false, false));
        let mixed = Term::new(Inputs {
            stdout_tty: false,
            ..ttys()
        });
        assert_eq!(colors(&mixed), (false, true), "each stream by its own tty");
    }

    #[test]
    fn no_color_turns_colour_off_only_when_not_empty() {
        let t = Term::new(Inputs {
            no_color: os("1"),
            ..ttys()
        });
        assert_eq!(colors(&t), (false, false));
        assert!(t.color_refused());
        let t = Term::new(Inputs {
            no_color: os(""),
            ..ttys()
        });
        assert_eq!(colors(&t), (true, true));
        assert!(!t.color_refused());
    }

    #[test]
    fn clicolor_force_colours_pipes_unless_empty_or_zero() {
        let forced = |v: &str| {
            colors(&Term::new(Inputs {
                clicolor_force: os(v),
                ..Inputs::default()
            }))
        };
        assert_eq!(forced("1"), (true, true));
        assert_eq!(forced("yes"), (true, true));
        assert_eq!(forced("0"), (false, false));
        assert_eq!(forced(""), (false, false));
    }

    #[test]
    fn no_color_wins_over_clicolor_force() {
        let t = Term::new(Inputs {
            no_color: os("1"),
            clicolor_force: os("1"),
            ..ttys()
        });
        assert_eq!(colors(&t), (false, false));
    }

    #[test]
    fn the_flag_wins_over_the_environment() {
        let always = Term::new(Inputs {
            color: ColorChoice::Always,
            no_color: os("1"),
            ..Inputs::default()
        });
        assert_eq!(colors(&always), (true, true), "always, even in a pipe");
        assert!(!always.color_refused());
        let never = Term::new(Inputs {
            color: ColorChoice::Never,
            clicolor_force: os("1"),
            ..ttys()
        });
        assert_eq!(colors(&never), (false, false), "never, even on a terminal");
        assert!(never.color_refused());
        let auto = Term::new(Inputs {
            color: ColorChoice::Auto,
            no_color: os("1"),
            ..ttys()
        });
        assert_eq!(
            colors(&auto),
            (false, false),
            "auto follows the environment"
        );
    }

    #[test]
    fn a_dumb_terminal_gets_no_colour_unless_forced() {
        let dumb = Inputs {
            term: os("dumb"),
            ..ttys()
        };
        let t = Term::new(dumb.clone());
        assert!(t.dumb);
        assert_eq!(colors(&t), (false, false));
        let t = Term::new(Inputs {
            clicolor_force: os("1"),
            ..dumb.clone()
        });
        assert_eq!(colors(&t), (true, true));
        let t = Term::new(Inputs {
            color: ColorChoice::Always,
            ..dumb
        });
        assert_eq!(colors(&t), (true, true));
    }

    #[test]
    fn tty_ness_is_kept_per_stream() {
        let t = Term::new(Inputs {
            stdin_tty: false,
            stderr_tty: false,
            ..ttys()
        });
        assert!(!t.stdin_tty && t.stdout.tty && !t.stderr.tty);
    }

    fn width_with(columns: Option<&str>, tty: Option<u16>, stdout_tty: bool) -> usize {
        Term::new(Inputs {
            stdout_tty,
            tty_columns: tty,
            columns: columns.and_then(os),
            ..Inputs::default()
        })
        .width
    }

    #[test]
    fn width_comes_from_columns_then_the_terminal_then_the_fallback() {
        assert_eq!(width_with(Some("40"), Some(132), true), 40, "COLUMNS wins");
        assert_eq!(width_with(None, Some(132), true), 132);
        assert_eq!(
            width_with(Some("100"), None, false),
            100,
            "COLUMNS in a pipe"
        );
        assert_eq!(width_with(None, None, false), FALLBACK_WIDTH);
        assert_eq!(
            width_with(None, Some(0), true),
            FALLBACK_WIDTH,
            "size unknown"
        );
        assert_eq!(
            width_with(None, Some(132), false),
            FALLBACK_WIDTH,
            "a size without a terminal on stdout is not used"
        );
    }

    #[test]
    fn bad_columns_values_are_ignored() {
        for garbage in ["", " ", "abc", "40px", "-40", "4.5", "0", "000", "0x50"] {
            assert_eq!(
                width_with(Some(garbage), Some(132), true),
                132,
                "COLUMNS={garbage:?}"
            );
            assert_eq!(width_with(Some(garbage), None, false), FALLBACK_WIDTH);
        }
        assert_eq!(width_with(Some(" 60 "), None, false), 60, "spaces around");
    }

    #[test]
    fn widths_are_kept_in_bounds() {
        assert_eq!(width_with(Some("5"), None, false), MIN_WIDTH);
        assert_eq!(width_with(Some("100000"), None, false), MAX_WIDTH);
        assert_eq!(
            width_with(Some("99999999999999999999999999"), None, false),
            MAX_WIDTH,
            "too big for a number is still huge"
        );
        assert_eq!(width_with(None, Some(10), true), MIN_WIDTH);
        assert_eq!(width_with(None, Some(u16::MAX), true), MAX_WIDTH);
    }

    #[test]
    fn hyperlinks_only_on_terminals_known_to_show_them() {
        assert!(!Term::new(ttys()).hyperlinks, "plain xterm: text (url)");
        for known in [
            Inputs {
                term_program: os("WezTerm"),
                ..ttys()
            },
            Inputs {
                vte_version: os("7600"),
                ..ttys()
            },
            Inputs {
                term: os("xterm-kitty"),
                ..ttys()
            },
            Inputs {
                wt_session: os("1f2e"),
                ..ttys()
            },
        ] {
            assert!(Term::new(known.clone()).hyperlinks, "{known:?}");
            let piped = Term::new(Inputs {
                stdout_tty: false,
                ..known
            });
            assert!(!piped.hyperlinks, "never into a pipe");
        }
        for unknown in [os("4800"), os("x"), os("")] {
            let t = Term::new(Inputs {
                vte_version: unknown,
                ..ttys()
            });
            assert!(!t.hyperlinks);
        }
    }

    #[test]
    fn height_only_from_a_terminal() {
        let t = Term::new(Inputs {
            tty_rows: Some(50),
            ..ttys()
        });
        assert_eq!(t.height, Some(50));
        let piped = Term::new(Inputs {
            tty_rows: Some(50),
            stdout_tty: false,
            ..ttys()
        });
        assert_eq!(piped.height, None);
        let zero = Term::new(Inputs {
            tty_rows: Some(0),
            ..ttys()
        });
        assert_eq!(zero.height, None);
    }

    #[test]
    fn current_width_without_a_terminal_is_the_start_up_width() {
        let t = Term::new(Inputs {
            columns: os("55"),
            ..ttys()
        });
        assert_eq!(t.current_width(), 55);
        assert_eq!(Term::pipes().current_width(), FALLBACK_WIDTH);
    }
}
