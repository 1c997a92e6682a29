//! Where the client keeps its files, by the XDG base-directory rules (pure: the environment is passed in).

use std::borrow::Cow;
use std::fs::File;
use std::io;
use std::path::{Path, PathBuf};

/// The folder name used under each XDG base directory.
pub const APP_DIR: &str = "ollama-chat";

/// `$XDG_STATE_HOME/ollama-chat`, else `~/.local/state/ollama-chat`: logs are state.
pub fn state_dir(env: &dyn Fn(&str) -> Option<String>) -> Option<PathBuf> {
    base_dir(env, "XDG_STATE_HOME", ".local/state").map(|d| d.join(APP_DIR))
}

/// `$XDG_DATA_HOME/ollama-chat`, else `~/.local/share/ollama-chat`: history and sessions are data.
pub fn data_dir(env: &dyn Fn(&str) -> Option<String>) -> Option<PathBuf> {
    base_dir(env, "XDG_DATA_HOME", ".local/share").map(|d| d.join(APP_DIR))
}

/// `$XDG_CONFIG_HOME/ollama-chat`, else `~/.config/ollama-chat`: the config file and roles.
pub fn config_dir(env: &dyn Fn(&str) -> Option<String>) -> Option<PathBuf> {
    base_dir(env, "XDG_CONFIG_HOME", ".config").map(|d| d.join(APP_DIR))
}

fn base_dir(env: &dyn Fn(&str) -> Option<String>, var: &str, fallback: &str) -> Option<PathBuf> {
    // The spec says relative values are invalid and must be ignored.
    match env(var).filter(|v| Path::new(v).is_absolute()) {
        Some(v) => Some(PathBuf::from(v)),
        None => env("HOME")
            .filter(|h| !h.is_empty())
            .map(|h| PathBuf::from(h).join(fallback)),
    }
}

/// Creates `dir` and its parents; folders it creates are private to the user (0700).
pub fn create_private_dir(dir: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::DirBuilderExt;
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
}

/// What a path is when it is not a regular file, in words for an error ("is a FIFO"), or `None`
/// for a regular file. Asked before opening: opening a FIFO waits for a writer forever, and a
/// device such as `/dev/zero` never ends.
pub fn not_regular(meta: &std::fs::Metadata) -> Option<&'static str> {
    use std::os::unix::fs::FileTypeExt;
    let t = meta.file_type();
    if t.is_file() {
        None
    } else if t.is_dir() {
        Some("is a folder")
    } else if t.is_fifo() {
        Some("is a FIFO (a named pipe), not a file")
    } else if t.is_char_device() || t.is_block_device() {
        Some("is a device, not a file")
    } else if t.is_socket() {
        Some("is a socket, not a file")
    } else {
        Some("is not a regular file")
    }
}

/// A file the user named that cannot be read as one: it is not there, or it is not a regular file
/// (a folder, a FIFO, a device). Bad input, like a bad flag: wherever it surfaces (inside an
/// `io::Error`, see [`NotAFile::is`]) the run exits 2, not 1.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct NotAFile(pub Cow<'static, str>);

impl NotAFile {
    fn io(kind: io::ErrorKind, what: &'static str) -> io::Error {
        io::Error::new(kind, NotAFile(Cow::Borrowed(what)))
    }

    /// Whether `e` says that a named file is not there or is not a file.
    pub fn is(e: &io::Error) -> bool {
        e.get_ref().is_some_and(|inner| inner.is::<NotAFile>())
    }

    /// `e` with `context` before its message, still a [`NotAFile`] if it was one.
    pub fn context(e: io::Error, context: impl std::fmt::Display) -> io::Error {
        let text = format!("{context}: {e}");
        if NotAFile::is(&e) {
            io::Error::new(e.kind(), NotAFile(Cow::Owned(text)))
        } else {
            io::Error::new(e.kind(), text)
        }
    }
}

/// Opens the regular file at `path` for reading; anything else (missing, a folder, a FIFO, a
/// device) is a [`NotAFile`] error that says what it is. The check is made on the opened file,
/// and a FIFO is opened without waiting for a writer, so nothing can hang or slip in between.
pub fn open_regular(path: &Path) -> io::Result<File> {
    use std::os::unix::fs::OpenOptionsExt;
    let file = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(rustix::fs::OFlags::NONBLOCK.bits() as i32)
        .open(path)
        .map_err(|e| match e.kind() {
            io::ErrorKind::NotFound => NotAFile::io(e.kind(), "does not exist"),
            _ => e,
        })?;
    if let Some(what) = not_regular(&file.metadata()?) {
        return Err(NotAFile::io(io::ErrorKind::InvalidInput, what));
    }
    // Back to blocking reads (a regular file never blocks, but say what is meant).
    rustix::fs::fcntl_setfl(&file, rustix::fs::OFlags::empty())?;
    Ok(file)
}

/// The bytes of the regular file at `path`, at most `max` of them: anything else (a folder, a
/// FIFO, a device, a larger file) is an error that says what it is.
pub fn read_regular(path: &Path, max: u64) -> io::Result<Vec<u8>> {
    use std::io::Read;
    let mut bytes = Vec::new();
    open_regular(path)?.take(max + 1).read_to_end(&mut bytes)?;
    if bytes.len() as u64 > max {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("is larger than {} MiB", max >> 20),
        ));
    }
    Ok(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env<'a>(pairs: &'a [(&'a str, &'a str)]) -> impl Fn(&str) -> Option<String> + 'a {
        move |k| {
            pairs
                .iter()
                .find(|(n, _)| *n == k)
                .map(|(_, v)| v.to_string())
        }
    }

    #[test]
    fn xdg_vars_win_over_home() {
        let e = env(&[
            ("HOME", "/home/u"),
            ("XDG_STATE_HOME", "/s"),
            ("XDG_DATA_HOME", "/d"),
        ]);
        assert_eq!(state_dir(&e).unwrap(), PathBuf::from("/s/ollama-chat"));
        assert_eq!(data_dir(&e).unwrap(), PathBuf::from("/d/ollama-chat"));
        let e = env(&[("HOME", "/home/u"), ("XDG_CONFIG_HOME", "/c")]);
        assert_eq!(config_dir(&e).unwrap(), PathBuf::from("/c/ollama-chat"));
        let e = env(&[("HOME", "/home/u")]);
        assert_eq!(
            config_dir(&e).unwrap(),
            PathBuf::from("/home/u/.config/ollama-chat")
        );
    }

    #[test]
    fn home_fallbacks_and_relative_values_ignored() {
        let e = env(&[("HOME", "/home/u"), ("XDG_STATE_HOME", "rel")]);
        assert_eq!(
            state_dir(&e).unwrap(),
            PathBuf::from("/home/u/.local/state/ollama-chat")
        );
        assert_eq!(
            data_dir(&e).unwrap(),
            PathBuf::from("/home/u/.local/share/ollama-chat")
        );
        assert_eq!(state_dir(&env(&[])), None);
    }

    #[test]
    fn only_regular_files_open_and_the_rest_say_what_they_are() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("f");
        std::fs::write(&file, "x").unwrap();
        assert_eq!(read_regular(&file, 10).unwrap(), b"x");
        let fifo = dir.path().join("p");
        rustix::fs::mknodat(
            rustix::fs::CWD,
            &fifo,
            rustix::fs::FileType::Fifo,
            rustix::fs::Mode::from_raw_mode(0o600),
            0,
        )
        .unwrap();
        for (path, what) in [
            (dir.path().join("missing"), "does not exist"),
            (dir.path().to_path_buf(), "is a folder"),
            (fifo, "is a FIFO (a named pipe), not a file"),
            (PathBuf::from("/dev/zero"), "is a device, not a file"),
        ] {
            let e = open_regular(&path).unwrap_err();
            assert!(NotAFile::is(&e), "{path:?}");
            assert_eq!(e.to_string(), what);
            let e = NotAFile::context(e, "cannot read it");
            assert!(NotAFile::is(&e));
            assert_eq!(e.to_string(), format!("cannot read it: {what}"));
        }
        let big = read_regular(&file, 0).unwrap_err();
        assert!(!NotAFile::is(&big), "too large is not bad input");
    }
}
