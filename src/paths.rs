//! Where the client keeps its files, by the XDG base-directory rules (pure: the environment is passed in).

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

/// The bytes of the regular file at `path`, at most `max` of them: anything else (a folder, a
/// FIFO, a device, a larger file) is an error that says what it is.
pub fn read_regular(path: &std::path::Path, max: u64) -> std::io::Result<Vec<u8>> {
    use std::io::Read;
    let meta = std::fs::metadata(path)?;
    if let Some(what) = not_regular(&meta) {
        return Err(std::io::Error::new(std::io::ErrorKind::InvalidInput, what));
    }
    let mut bytes = Vec::new();
    std::fs::File::open(path)?
        .take(max + 1)
        .read_to_end(&mut bytes)?;
    if bytes.len() as u64 > max {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
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
}
