//! Shows a pull or create status stream: on a terminal a bar per layer (bytes, rate, ETA) under
//! the status lines; otherwise plain lines, one per status and a few per layer, fit for a log.

use std::collections::HashMap;
use std::io::{self, Write};
use std::time::Duration;

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};

use super::format::human_bytes;
use crate::models::Progress;
use crate::term::Term;
use crate::untrusted::MaybeUntrusted;

/// Where progress goes, decided from the terminal description: bars on a terminal that can move
/// the cursor, lines otherwise.
pub enum ProgressView {
    Bars(Bars),
    Lines(Lines<io::Stderr>),
}

impl ProgressView {
    pub fn stderr(term: &Term) -> Self {
        if term.stderr.tty && !term.dumb {
            ProgressView::Bars(Bars::new(!term.stderr.color))
        } else {
            ProgressView::Lines(Lines::new(io::stderr()))
        }
    }

    pub fn update(&mut self, u: &Progress) {
        match self {
            ProgressView::Bars(b) => b.update(u),
            ProgressView::Lines(l) => l.update(u),
        }
    }

    /// Stops drawing and leaves what is shown, so that an error or a summary can follow it.
    pub fn stop(&mut self) {
        if let ProgressView::Bars(b) = self {
            b.stop();
        }
    }
}

/// A byte count, when the update carries one: `(done, total)`.
fn bytes(u: &Progress) -> Option<(&str, u64, u64)> {
    let digest = u.digest.raw()?;
    let total = u.total.filter(|t| *t > 0)?;
    Some((digest, u.completed.unwrap_or(0).min(total), total))
}

/// indicatif bars: finished status lines stay, the current one spins, each layer has a bar.
pub struct Bars {
    multi: MultiProgress,
    no_color: bool,
    status: Option<(String, ProgressBar)>,
    layers: HashMap<String, ProgressBar>,
}

impl Bars {
    fn new(no_color: bool) -> Self {
        Bars {
            multi: MultiProgress::with_draw_target(ProgressDrawTarget::stderr()),
            no_color,
            status: None,
            layers: HashMap::new(),
        }
    }

    fn update(&mut self, u: &Progress) {
        let status = u.status.one_line().into_owned();
        match bytes(u) {
            Some((digest, done, total)) => {
                if !self.layers.contains_key(digest) {
                    self.end_status();
                    let bar = self.multi.add(ProgressBar::new(total));
                    bar.set_style(self.bar_style());
                    bar.set_prefix(status);
                    self.layers.insert(digest.to_string(), bar);
                }
                let bar = &self.layers[digest];
                bar.set_length(total);
                bar.set_position(done);
                if done == total && !bar.is_finished() {
                    bar.finish();
                }
            }
            None => {
                if self.status.as_ref().is_some_and(|(s, _)| *s == status) || status.is_empty() {
                    return;
                }
                self.end_status();
                let spinner = self.multi.add(ProgressBar::new_spinner());
                spinner.set_style(
                    ProgressStyle::with_template("{spinner} {msg}")
                        .unwrap_or_else(|_| ProgressStyle::default_spinner()),
                );
                spinner.set_message(status.clone());
                spinner.enable_steady_tick(Duration::from_millis(100));
                self.status = Some((status, spinner));
            }
        }
    }

    fn bar_style(&self) -> ProgressStyle {
        let bar = if self.no_color {
            "{bar:25}"
        } else {
            "{bar:25.cyan/blue}"
        };
        let template = format!(
            "{{prefix}}: {{percent:>3}}% ▕{bar}▏ {{decimal_bytes}}/{{decimal_total_bytes}}  {{decimal_bytes_per_sec}}  ETA {{eta}}"
        );
        ProgressStyle::with_template(&template)
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("█▉▊▋▌▍▎▏ ")
    }

    /// The current status line stops spinning and stays, as plain text.
    fn end_status(&mut self) {
        if let Some((text, spinner)) = self.status.take() {
            spinner.set_style(
                ProgressStyle::with_template("{msg}")
                    .unwrap_or_else(|_| ProgressStyle::default_spinner()),
            );
            spinner.finish_with_message(text);
        }
    }

    fn stop(&mut self) {
        self.end_status();
        for bar in self.layers.values() {
            if !bar.is_finished() {
                bar.abandon();
            }
        }
    }
}

/// Plain lines: each new status once; a layer when it starts and at each quarter of its bytes.
pub struct Lines<W: Write> {
    out: W,
    last_status: String,
    /// Per layer, the last quarter (0–4) reported.
    quarters: HashMap<String, u64>,
}

impl<W: Write> Lines<W> {
    pub fn new(out: W) -> Self {
        Lines {
            out,
            last_status: String::new(),
            quarters: HashMap::new(),
        }
    }

    pub fn update(&mut self, u: &Progress) {
        let status = u.status.one_line();
        // A closed stderr is no reason to stop a pull.
        let _ = match bytes(u) {
            Some((digest, done, total)) => {
                let quarter = done * 4 / total;
                match self.quarters.get(digest) {
                    None => {
                        self.quarters.insert(digest.to_string(), quarter);
                        writeln!(self.out, "{status} ({})", human_bytes(total))
                    }
                    Some(&q) if quarter > q => {
                        self.quarters.insert(digest.to_string(), quarter);
                        writeln!(
                            self.out,
                            "{status}: {}% of {}",
                            quarter * 25,
                            human_bytes(total)
                        )
                    }
                    Some(_) => Ok(()),
                }
            }
            None if status.is_empty() || status == self.last_status => Ok(()),
            None => {
                self.last_status = status.to_string();
                writeln!(self.out, "{status}")
            }
        };
    }

    #[cfg(test)]
    fn into_inner(self) -> W {
        self.out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn up(status: &str, digest: Option<&str>, total: Option<u64>, done: Option<u64>) -> Progress {
        Progress {
            status: status.into(),
            digest: digest.map(str::to_string).map(Into::into),
            total,
            completed: done,
            error: None,
        }
    }

    #[test]
    fn plain_lines_for_a_pull() {
        let mut l = Lines::new(Vec::new());
        let d = Some("sha256:74ad");
        let layer = "pulling 74ad131c9d82";
        for u in [
            up("pulling manifest", None, None, None),
            up("pulling manifest", None, None, None),
            up(layer, d, Some(253_113_673), None),
            up(layer, d, Some(253_113_673), Some(10_000_000)),
            up(layer, d, Some(253_113_673), Some(130_000_000)),
            up(layer, d, Some(253_113_673), Some(140_000_000)),
            up(layer, d, Some(253_113_673), Some(253_113_673)),
            up("verifying sha256 digest", None, None, None),
            up("writing manifest", None, None, None),
            up("success", None, None, None),
        ] {
            l.update(&u);
        }
        let out = String::from_utf8(l.into_inner()).unwrap();
        assert_eq!(
            out,
            "pulling manifest\npulling 74ad131c9d82 (253 MB)\npulling 74ad131c9d82: 50% of 253 MB\n\
             pulling 74ad131c9d82: 100% of 253 MB\nverifying sha256 digest\nwriting manifest\nsuccess\n"
        );
    }

    #[test]
    fn server_text_is_sanitised() {
        let mut l = Lines::new(Vec::new());
        l.update(&up("evil \x1b]52;c;bad\x07", None, None, None));
        let out = String::from_utf8(l.into_inner()).unwrap();
        assert!(!out.contains('\x1b'), "{out:?}");
    }

    #[test]
    fn a_layer_without_a_total_is_a_status_line() {
        let mut l = Lines::new(Vec::new());
        l.update(&up("pulling abc", Some("sha256:abc"), None, None));
        assert_eq!(String::from_utf8(l.into_inner()).unwrap(), "pulling abc\n");
    }
}
