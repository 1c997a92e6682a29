//! Follows the live log as it grows (`logs -f`), across rotations and truncation: at the end of the
//! file it checks whether the path now names another file; if so it reads the old one to its end
//! (a writer may have added a line just before rotating) and then opens the new one.

use std::fs::File;
use std::io;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use super::read::Lines;

/// A reader of the file at a path, whichever file that is over time.
pub struct Tail {
    path: PathBuf,
    current: Option<Current>,
}

struct Current {
    lines: Lines<File>,
    id: (u64, u64),
    /// The path names another file now: read this one to its end, then switch.
    draining: bool,
}

impl Tail {
    pub fn new(path: PathBuf) -> Self {
        Tail {
            path,
            current: None,
        }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The next whole line and its number in its file, or `None` if there is none yet (call again
    /// later). A line still being written is left for a later call.
    pub fn next_line(&mut self) -> io::Result<Option<(u64, &[u8])>> {
        loop {
            if self.current.is_none() {
                let file = match File::open(&self.path) {
                    Ok(f) => f,
                    Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
                    Err(e) => return Err(e),
                };
                let m = file.metadata()?;
                self.current = Some(Current {
                    lines: Lines::new(file),
                    id: (m.dev(), m.ino()),
                    draining: false,
                });
            }
            let cur = self.current.as_mut().expect("opened above");
            let no = cur.lines.line_no;
            // When draining, an unterminated last line is handed out too: nobody will finish it.
            if let Some(range) = cur.lines.next_range(cur.draining)? {
                let cur = self.current.as_ref().expect("still open");
                return Ok(Some((no, cur.lines.line(range))));
            }
            if cur.draining {
                self.current = None;
                continue;
            }
            match std::fs::metadata(&self.path) {
                Ok(m) if (m.dev(), m.ino()) == cur.id => {
                    cur.lines.rearm();
                    if m.len() < cur.lines.consumed() {
                        // Truncated in place: start again from the top.
                        self.current = None;
                        continue;
                    }
                    return Ok(None);
                }
                _ => {
                    cur.draining = true;
                    cur.lines.rearm();
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::log::rotate::rotate;
    use std::io::Write;

    fn drain(t: &mut Tail) -> Vec<String> {
        let mut out = Vec::new();
        while let Some((_, l)) = t.next_line().unwrap() {
            out.push(String::from_utf8(l.to_vec()).unwrap());
        }
        out
    }

    fn append(path: &Path, text: &str) {
        let mut f = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .unwrap();
        f.write_all(text.as_bytes()).unwrap();
    }

    #[test]
    fn follows_growth_rotation_and_truncation() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("turns.jsonl");
        let mut t = Tail::new(path.clone());
        assert!(drain(&mut t).is_empty(), "no file yet");
        append(&path, "a\nb\npart");
        assert_eq!(drain(&mut t), ["a", "b"]);
        append(&path, "ial\n");
        assert_eq!(drain(&mut t), ["partial"]);
        // A line lands just before another client rotates; then the new file gets one.
        append(&path, "c\n");
        rotate(&path, 3).unwrap();
        append(&path, "d\n");
        assert_eq!(drain(&mut t), ["c", "d"]);
        // Truncated in place (seen as a shrink, like `tail -f` does), then written again.
        std::fs::write(&path, "").unwrap();
        assert!(drain(&mut t).is_empty());
        append(&path, "e\n");
        assert_eq!(drain(&mut t), ["e"]);
    }
}
