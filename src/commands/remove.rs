//! `rm MODEL…`: delete models, after a y/N question on a terminal (`--yes` skips it). Every name
//! is checked first, so a typo deletes nothing.

use tokio::runtime::Runtime;

use super::{confirm, CommandError};
use crate::backend::Backend;
use crate::cli::RemoveArgs;
use crate::error::ApiError;
use crate::exit_code::ExitCode;
use crate::term::Term;

pub fn run(
    rt: &Runtime,
    client: &Backend,
    term: &Term,
    args: &RemoveArgs,
) -> anyhow::Result<ExitCode> {
    if !args.yes && !term.stdin_tty {
        return Err(CommandError::Usage(
            "rm asks before deleting, but stdin is not a terminal; pass --yes to delete without asking"
                .into(),
        )
        .into());
    }
    let installed: Vec<String> = rt
        .block_on(client.installed_models())?
        .into_iter()
        .map(|m| m.name.into_raw())
        .collect();
    let names = args
        .models
        .iter()
        .map(|wanted| {
            installed
                .iter()
                .find(|name| same_model(name, wanted))
                .cloned()
                .ok_or_else(|| CommandError::NotInstalled(wanted.clone()))
        })
        .collect::<Result<Vec<_>, _>>()?;
    for name in names {
        if !args.yes && !confirm(&format!("Delete '{name}'?"))? {
            println!("kept '{name}'");
            continue;
        }
        match rt.block_on(client.delete(&name)) {
            Ok(()) => println!("deleted '{name}'"),
            Err(ApiError::ModelNotFound { .. }) => {
                return Err(CommandError::NotInstalled(name).into())
            }
            Err(e) => return Err(e.into()),
        }
    }
    Ok(ExitCode::Success)
}

/// Whether an installed name is what the user typed: `tiny` means `tiny:latest`.
pub fn same_model(installed: &str, typed: &str) -> bool {
    let full = |n: &str| {
        let last = n.rsplit('/').next().unwrap_or(n);
        if last.contains(':') {
            n.to_string()
        } else {
            format!("{n}:latest")
        }
    };
    full(installed).eq_ignore_ascii_case(&full(typed))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_match_with_the_implied_tag() {
        assert!(same_model("tiny:latest", "tiny"));
        assert!(same_model("tiny:latest", "TINY:latest"));
        assert!(!same_model("tiny:latest", "tiny:7b"));
        assert!(!same_model("tiny2:latest", "tiny"));
        assert!(same_model("library/x:latest", "library/x"));
        assert!(same_model("host:5000/x:latest", "host:5000/x"));
    }
}
