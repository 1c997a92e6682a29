//! `/log off`, `/log on`, `/log`: pausing the turn log from the REPL, and what to say about it.
//! The REPL's command table parses the words; this is the state and the sentences.

/// What `/log …` asks for (parsed by the REPL's command table).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LogSwitch {
    On,
    Off,
    /// `/log` alone: say whether turns are being logged, and where.
    Status,
}

/// Whether the next turns are written, as the REPL tracks it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Pause {
    pub paused: bool,
}

impl Pause {
    /// Applies `switch` and returns the sentence to show. `log` is where turns go (`None` with
    /// `--no-log`).
    pub fn apply(&mut self, switch: &LogSwitch, log: Option<&std::path::Path>) -> String {
        let Some(path) = log else {
            return "There is no turn log in this run (--no-log), so nothing to pause or resume."
                .into();
        };
        match switch {
            LogSwitch::Off if self.paused => {
                "Logging is already paused. /log on resumes it.".into()
            }
            LogSwitch::Off => {
                self.paused = true;
                "Logging paused: the next turns are not written to the log. /log on resumes it."
                    .into()
            }
            LogSwitch::On if !self.paused => {
                format!("Logging is already on: turns go to {}.", path.display())
            }
            LogSwitch::On => {
                self.paused = false;
                format!("Logging resumed: turns go to {}.", path.display())
            }
            LogSwitch::Status if self.paused => "Logging is paused. /log on resumes it.".into(),
            LogSwitch::Status => format!(
                "Logging is on: turns go to {}. /log off pauses it.",
                path.display()
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    #[test]
    fn pause_and_resume() {
        let mut p = Pause::default();
        let log = Some(Path::new("t.jsonl"));
        assert!(p.apply(&LogSwitch::Off, log).starts_with("Logging paused"));
        assert!(p.paused);
        assert!(p.apply(&LogSwitch::Off, log).contains("already paused"));
        assert!(p.apply(&LogSwitch::Status, log).contains("paused"));
        assert!(p.apply(&LogSwitch::On, log).contains("resumed"));
        assert!(!p.paused);
        assert!(p.apply(&LogSwitch::On, log).contains("already on"));
        assert!(p.apply(&LogSwitch::Off, None).contains("--no-log"));
        assert!(!p.paused);
    }
}
