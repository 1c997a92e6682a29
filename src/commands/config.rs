//! `ollama-chat config init|show|path`: write the commented example, show the settings in force
//! and where each came from, or say where the file is looked for.

use std::io::Write;
use std::path::Path;

use clap::CommandFactory;

use crate::cli::Cli;
use crate::config_file::example::EXAMPLE;
use crate::config_file::load::Loaded;
use crate::config_file::show::{self, Shown};
use crate::exit_code::ExitCode;
use crate::untrusted::sanitize_line;
use crate::UsageError;

/// Writes the example to `path` (mode 0600: it may come to hold a key), refusing to replace a
/// file unless `force`.
pub fn init(path: Option<&Path>, force: bool, out: &mut impl Write) -> anyhow::Result<ExitCode> {
    use std::os::unix::fs::OpenOptionsExt;
    let Some(path) = path else {
        return Err(
            UsageError("no home folder is known: give the file with --config PATH".into()).into(),
        );
    };
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        crate::paths::create_private_dir(dir)
            .map_err(|e| anyhow::anyhow!("cannot create {}: {e}", dir.display()))?;
    }
    let mut options = std::fs::OpenOptions::new();
    options.write(true).mode(0o600);
    if force {
        options.create(true).truncate(true);
    } else {
        options.create_new(true);
    }
    let mut file = options.open(path).map_err(|e| match e.kind() {
        std::io::ErrorKind::AlreadyExists => anyhow::Error::from(UsageError(format!(
            "{} already exists; add --force to replace it",
            path.display()
        ))),
        _ => anyhow::anyhow!("cannot write {}: {e}", path.display()),
    })?;
    file.write_all(EXAMPLE.as_bytes())
        .and_then(|()| file.sync_all())
        .map_err(|e| anyhow::anyhow!("cannot write {}: {e}", path.display()))?;
    writeln!(out, "wrote {}", sanitize_line(&path.display().to_string()))?;
    Ok(ExitCode::Success)
}

/// Prints the settings in force.
pub fn show(
    loaded: &Loaded,
    env: &dyn Fn(&str) -> Option<String>,
    out: &mut impl Write,
) -> anyhow::Result<ExitCode> {
    let cmd = Cli::command();
    let shown = Shown {
        cmd: &cmd,
        user: &loaded.user,
        full: &loaded.full,
        layered: &loaded.layered,
        env,
        path: loaded.path.as_deref().map(|p| (p, loaded.file.is_some())),
        role: loaded.role.as_deref(),
        servers: loaded.file.as_ref().map_or(&[], |f| f.mcp.as_slice()),
    };
    show::write(out, &shown)?;
    Ok(ExitCode::Success)
}

/// Prints where the file is looked for.
pub fn path(path: Option<&Path>, out: &mut impl Write) -> anyhow::Result<ExitCode> {
    match path {
        Some(p) => writeln!(out, "{}", sanitize_line(&p.display().to_string()))?,
        None => return Err(UsageError("no home folder is known".into()).into()),
    }
    Ok(ExitCode::Success)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn init_writes_a_private_file_once() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sub/config.toml");
        let mut out = Vec::new();
        init(Some(&path), false, &mut out).unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), EXAMPLE);
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        let e = init(Some(&path), false, &mut out).unwrap_err();
        assert!(e.to_string().contains("already exists; add --force"), "{e}");
        std::fs::write(&path, "changed").unwrap();
        init(Some(&path), true, &mut out).unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), EXAMPLE);
    }
}
