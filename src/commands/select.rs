//! What `logs` and `stats` read: their shared selection flags turned into files and a `Filter`,
//! and the malformed-line warnings both print.

use std::path::{Path, PathBuf};

use crate::cli::SelectArgs;
use crate::log::filter::{parse_status, parse_time, Filter};
use crate::log::read::{log_files, order_given, Problems};
use crate::UsageError;

/// The files to read and the filter to apply.
pub struct Selection {
    pub files: Vec<PathBuf>,
    pub filter: Filter,
    /// The file new turns go to: the default log, or the one file given.
    pub live: Option<PathBuf>,
    /// No files were given: the default log (and its rotations) is read.
    pub default_log: bool,
}

impl Selection {
    /// `log_path` is the configured turn log (`--log` or the default), `None` with `--no-log`.
    pub fn new(args: &SelectArgs, log_path: Option<&Path>) -> anyhow::Result<Selection> {
        let now = chrono::Utc::now().timestamp_millis();
        let time = |s: &Option<String>, flag: &str| {
            s.as_deref()
                .map(|t| parse_time(t, now, &chrono::Local))
                .transpose()
                .map_err(|e| UsageError(format!("{flag}: {e}")))
        };
        let statuses = args
            .status
            .iter()
            .map(|s| parse_status(s))
            .collect::<Result<Vec<_>, _>>()
            .map_err(UsageError)?;
        let filter = Filter {
            session: args.session.clone().filter(|s| !s.is_empty()),
            model: args.model.clone().filter(|s| !s.is_empty()),
            since: time(&args.since, "--since")?,
            until: time(&args.until, "--until")?,
            statuses,
            ..Filter::default()
        }
        .with_grep(args.grep.as_deref());

        if !args.files.is_empty() {
            let files = order_given(&args.files);
            let live = (files.len() == 1).then(|| files[0].clone());
            return Ok(Selection {
                files,
                filter,
                live,
                default_log: false,
            });
        }
        let Some(path) = log_path else {
            return Err(UsageError(
                "there is no turn log to read (no home folder, or --no-log): give log files".into(),
            )
            .into());
        };
        Ok(Selection {
            files: log_files(path)?,
            filter,
            live: Some(path.to_path_buf()),
            default_log: true,
        })
    }

    /// Says on stderr that the default log has nothing yet, and where it would be.
    pub fn say_if_empty(&self) -> bool {
        if self.files.is_empty() && self.default_log {
            if let Some(p) = &self.live {
                crate::render::style::notice(format_args!(
                    "no turns logged yet ({} does not exist)",
                    p.display()
                ));
            }
            return true;
        }
        false
    }
}

/// Prints the malformed-line warnings on stderr.
pub fn warn_problems(problems: &Problems) {
    for w in problems.warnings() {
        crate::render::style::warn(format_args!("{w}"));
    }
}
