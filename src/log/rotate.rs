//! Size-based rotation of the turn log (`turns.jsonl` → `turns.jsonl.1` → … `.N`), safe with several
//! clients writing at once: every append takes an advisory lock on a sibling `.lock` file, re-opens
//! the log if another client rotated it, and rotates only under that lock, so no line is written
//! into a file that is about to be renamed away or deleted.

use std::fs::File;
use std::io;
use std::path::{Path, PathBuf};

/// 50 MiB: a year of heavy chatting, small enough to open in an editor.
pub const DEFAULT_MAX_SIZE: u64 = 50 * 1024 * 1024;
/// Rotated files kept besides the live one.
pub const DEFAULT_KEEP: u32 = 5;

/// When to rotate and how many old files to keep.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rotation {
    /// Rotate before a line would make the file larger than this; 0 never rotates.
    pub max_size: u64,
    /// How many rotated files (`.1` … `.keep`) are kept; older ones are overwritten.
    pub keep: u32,
}

impl Default for Rotation {
    fn default() -> Self {
        Rotation {
            max_size: DEFAULT_MAX_SIZE,
            keep: DEFAULT_KEEP,
        }
    }
}

impl Rotation {
    /// Whether a file of `len` bytes must be rotated before a line of `line_len` bytes is added.
    /// A line larger than the limit still goes into a fresh file rather than being lost.
    pub fn due(&self, len: u64, line_len: usize) -> bool {
        self.max_size > 0 && len > 0 && len + line_len as u64 > self.max_size
    }
}

/// Parses a size: `50MiB`, `10M`, `512k`, `1G`, `2000000` (bytes), `0` (never rotate). K, M, G with or
/// without `iB` are powers of 1024; `KB`, `MB`, `GB` are powers of 1000.
pub fn parse_size(s: &str) -> Result<u64, String> {
    let t = s.trim();
    let split = t
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let bad = || format!("{s:?} is not a size (try 50MiB, 500KB, 1G or a number of bytes)");
    let n: f64 = num.parse().map_err(|_| bad())?;
    let mult: u64 = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "k" | "kib" => 1 << 10,
        "m" | "mib" => 1 << 20,
        "g" | "gib" => 1 << 30,
        "kb" => 1_000,
        "mb" => 1_000_000,
        "gb" => 1_000_000_000,
        _ => return Err(bad()),
    };
    let bytes = n * mult as f64;
    if !bytes.is_finite() || bytes >= u64::MAX as f64 {
        return Err(bad());
    }
    Ok(bytes.round() as u64)
}

/// `turns.jsonl` → `turns.jsonl.3`.
pub fn rotated_path(path: &Path, n: u32) -> PathBuf {
    let mut s = path.as_os_str().to_owned();
    s.push(format!(".{n}"));
    PathBuf::from(s)
}

/// The file whose lock every writer takes; it is never renamed, unlike the log.
pub fn lock_path(path: &Path) -> PathBuf {
    let mut s = path.as_os_str().to_owned();
    s.push(".lock");
    PathBuf::from(s)
}

/// The rotation number of `turns.jsonl.3` relative to `turns.jsonl`: 3.
pub fn rotation_number(base: &Path, candidate: &Path) -> Option<u32> {
    let b = base.file_name()?.to_str()?;
    let c = candidate.file_name()?.to_str()?;
    let digits = c.strip_prefix(b)?.strip_prefix('.')?;
    if digits.is_empty() || !digits.bytes().all(|d| d.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok()
}

/// The rotated files of `path` that exist, oldest (highest number) first.
pub fn rotated_siblings(path: &Path) -> io::Result<Vec<PathBuf>> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(e),
    };
    let mut found: Vec<(u32, PathBuf)> = Vec::new();
    for entry in entries {
        let p = dir.join(entry?.file_name());
        if let Some(n) = rotation_number(path, &p) {
            found.push((n, p));
        }
    }
    found.sort_by_key(|f| std::cmp::Reverse(f.0));
    Ok(found.into_iter().map(|(_, p)| p).collect())
}

/// Shifts `.1` … `.keep-1` up by one (the one at `.keep` is replaced) and renames the live log to
/// `.1`. Call only while holding the lock. Each step is one `rename`, so a crash part-way leaves
/// every line in some file.
pub fn rotate(path: &Path, keep: u32) -> io::Result<()> {
    let keep = keep.max(1);
    for n in (1..keep).rev() {
        match std::fs::rename(rotated_path(path, n), rotated_path(path, n + 1)) {
            Err(e) if e.kind() != io::ErrorKind::NotFound => return Err(e),
            _ => {}
        }
    }
    std::fs::rename(path, rotated_path(path, 1))
}

/// An exclusive advisory lock (`File::lock`, which is `flock` on Linux), released when dropped.
pub struct LockGuard<'a>(&'a File);

impl<'a> LockGuard<'a> {
    /// Waits for the lock. Works across processes and between two handles in one process.
    pub fn exclusive(file: &'a File) -> io::Result<Self> {
        file.lock()?;
        Ok(LockGuard(file))
    }
}

impl Drop for LockGuard<'_> {
    fn drop(&mut self) {
        let _ = self.0.unlock();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes() {
        assert_eq!(parse_size("50MiB"), Ok(50 << 20));
        assert_eq!(parse_size("50m"), Ok(50 << 20));
        assert_eq!(parse_size("1G"), Ok(1 << 30));
        assert_eq!(parse_size("512k"), Ok(512 << 10));
        assert_eq!(parse_size("500KB"), Ok(500_000));
        assert_eq!(parse_size("1.5 MB"), Ok(1_500_000));
        assert_eq!(parse_size("4096"), Ok(4096));
        assert_eq!(parse_size(" 0 "), Ok(0));
        for bad in ["", "MiB", "ten", "5 parsecs", "-1", "1e400", "1..2M"] {
            assert!(parse_size(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn due_only_when_the_line_would_overflow_a_non_empty_file() {
        let r = Rotation {
            max_size: 100,
            keep: 2,
        };
        assert!(!r.due(0, 500));
        assert!(!r.due(50, 50));
        assert!(r.due(50, 51));
        let never = Rotation {
            max_size: 0,
            keep: 2,
        };
        assert!(!never.due(u64::MAX / 2, 1));
    }

    #[test]
    fn numbers_and_paths() {
        let base = Path::new("/x/turns.jsonl");
        assert_eq!(rotated_path(base, 2), PathBuf::from("/x/turns.jsonl.2"));
        assert_eq!(lock_path(base), PathBuf::from("/x/turns.jsonl.lock"));
        assert_eq!(
            rotation_number(base, Path::new("/x/turns.jsonl.12")),
            Some(12)
        );
        for other in [
            "/x/turns.jsonl",
            "/x/turns.jsonl.lock",
            "/x/turns.jsonl.",
            "/x/turns.jsonl.1a",
            "/x/other.1",
        ] {
            assert_eq!(rotation_number(base, Path::new(other)), None, "{other}");
        }
    }

    #[test]
    fn rotate_shifts_and_keeps_n() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("turns.jsonl");
        for round in 0..4 {
            std::fs::write(&path, format!("{round}\n")).unwrap();
            rotate(&path, 2).unwrap();
        }
        assert!(!path.exists());
        assert_eq!(
            std::fs::read_to_string(rotated_path(&path, 1)).unwrap(),
            "3\n"
        );
        assert_eq!(
            std::fs::read_to_string(rotated_path(&path, 2)).unwrap(),
            "2\n"
        );
        assert!(!rotated_path(&path, 3).exists());
        assert_eq!(
            rotated_siblings(&path).unwrap(),
            vec![rotated_path(&path, 2), rotated_path(&path, 1)]
        );
    }
}
