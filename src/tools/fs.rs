//! The file tools: `read_file`, `list_dir` and `search_text`, confined to the roots (the working
//! directory and `--tool-root` folders). A path from the model is resolved with its symlinks
//! before it is checked, so neither `../` nor an absolute path nor a link leads out.

use std::fmt::Write as _;
use std::io::Read;
use std::path::{Path, PathBuf};

use serde_json::Value;

use super::ToolError;

/// The folders the file tools may read, each canonical (symlinks resolved).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Roots {
    roots: Vec<PathBuf>,
}

impl Roots {
    /// The given folders resolved; the first is where relative paths start. A folder that does
    /// not exist is an error, so a typo is not a silently empty root.
    pub fn new(dirs: &[PathBuf]) -> Result<Roots, String> {
        let mut roots = Vec::new();
        for d in dirs {
            let canon = std::fs::canonicalize(d)
                .map_err(|e| format!("--tool-root {}: {e}", d.display()))?;
            if !canon.is_dir() {
                return Err(format!("--tool-root {}: not a folder", d.display()));
            }
            roots.push(canon);
        }
        Ok(Roots { roots })
    }

    pub fn dirs(&self) -> &[PathBuf] {
        &self.roots
    }

    /// The real path `asked` names (relative to the first root), if it exists inside a root.
    pub fn resolve(&self, asked: &str) -> Result<PathBuf, ToolError> {
        let base = self
            .roots
            .first()
            .ok_or_else(|| ToolError::Refused("no folder is open to the file tools".into()))?;
        if asked.contains('\0') {
            return Err(ToolError::Refused("the path holds a NUL byte".into()));
        }
        let joined = base.join(if asked.is_empty() { "." } else { asked });
        let real = std::fs::canonicalize(&joined)
            .map_err(|e| ToolError::Failed(format!("{asked}: {}", io_reason(&e))))?;
        if self.roots.iter().any(|r| real.starts_with(r)) {
            Ok(real)
        } else {
            Err(ToolError::Refused(format!(
                "{asked} is outside the folders the tools may read ({})",
                self.shown()
            )))
        }
    }

    /// The roots as the model is told them.
    pub fn shown(&self) -> String {
        let names: Vec<String> = self.roots.iter().map(|r| r.display().to_string()).collect();
        names.join(", ")
    }

    /// `real` as the model should name it: relative to the first root when inside it.
    fn relative<'p>(&self, real: &'p Path) -> &'p Path {
        self.roots
            .first()
            .and_then(|b| real.strip_prefix(b).ok())
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or(real)
    }
}

fn io_reason(e: &std::io::Error) -> String {
    match e.kind() {
        std::io::ErrorKind::NotFound => "does not exist".into(),
        std::io::ErrorKind::PermissionDenied => "permission denied".into(),
        _ => e.to_string(),
    }
}

/// A string argument, or a refusal that tells the model what was expected.
pub fn str_arg<'a>(args: &'a Value, name: &str) -> Result<&'a str, ToolError> {
    args.get(name)
        .and_then(Value::as_str)
        .ok_or_else(|| ToolError::Refused(format!("the argument `{name}` (a string) is missing")))
}

/// Text of a file: valid UTF-8 without NUL bytes, else `None` (binary).
fn text_of(bytes: Vec<u8>) -> Option<String> {
    if bytes.contains(&0) {
        return None;
    }
    String::from_utf8(bytes).ok()
}

/// `read_file {path}`: the file's text, at most `max` bytes of it.
pub fn read_file(roots: &Roots, args: &Value, max: usize) -> Result<String, ToolError> {
    let asked = str_arg(args, "path")?;
    let real = roots.resolve(asked)?;
    let file = crate::paths::open_regular(&real)
        .map_err(|e| ToolError::Failed(format!("{asked}: {e}")))?;
    let whole = file.metadata().map(|m| m.len()).unwrap_or(0);
    let mut bytes = Vec::new();
    file.take(max as u64)
        .read_to_end(&mut bytes)
        .map_err(|e| ToolError::Failed(format!("{asked}: {e}")))?;
    let cut = whole > bytes.len() as u64;
    if cut {
        // Keep whole characters only.
        let valid = match std::str::from_utf8(&bytes) {
            Ok(_) => bytes.len(),
            Err(e) => e.valid_up_to(),
        };
        bytes.truncate(valid);
    }
    let mut text =
        text_of(bytes).ok_or_else(|| ToolError::Failed(format!("{asked} is not a text file")))?;
    if cut {
        let _ = write!(text, "\n[cut: the first {} of {whole} bytes]", text.len());
    }
    Ok(text)
}

/// The most entries `list_dir` names.
const MAX_ENTRIES: usize = 1000;

/// `list_dir {path?}`: one entry a line, folders ending in `/`, sorted.
pub fn list_dir(roots: &Roots, args: &Value) -> Result<String, ToolError> {
    let asked = args.get("path").and_then(Value::as_str).unwrap_or(".");
    let real = roots.resolve(asked)?;
    let entries = std::fs::read_dir(&real)
        .map_err(|e| ToolError::Failed(format!("{asked}: {}", io_reason(&e))))?;
    let mut names = Vec::new();
    let mut more = 0usize;
    for entry in entries.flatten() {
        if names.len() >= MAX_ENTRIES {
            more += 1;
            continue;
        }
        let mut name = entry.file_name().to_string_lossy().into_owned();
        match entry.file_type() {
            Ok(t) if t.is_dir() => name.push('/'),
            Ok(t) if t.is_symlink() => name.push('@'),
            _ => {}
        }
        names.push(name);
    }
    names.sort();
    let mut out = names.join("\n");
    if more > 0 {
        let _ = write!(out, "\n[and {more} more entries]");
    }
    if out.is_empty() {
        out = "(empty folder)".into();
    }
    Ok(out)
}

/// Limits of one `search_text`: files looked at, bytes of one file, matches reported.
const SEARCH_FILES: usize = 5000;
const SEARCH_FILE_BYTES: u64 = 1 << 20;
const SEARCH_MATCHES: usize = 200;
const SEARCH_LINE_CHARS: usize = 200;

/// `search_text {pattern, regex?, path?}`: `file:line: text` for each matching line under the
/// folder, symlinks not followed, binary and large files skipped.
pub fn search_text(roots: &Roots, args: &Value) -> Result<String, ToolError> {
    let pattern = str_arg(args, "pattern")?;
    let is_regex = args.get("regex").and_then(Value::as_bool).unwrap_or(false);
    let source = if is_regex {
        pattern.to_string()
    } else {
        regex::escape(pattern)
    };
    let re = regex::RegexBuilder::new(&source)
        .size_limit(1 << 20)
        .build()
        .map_err(|e| ToolError::Refused(format!("not a valid regex: {e}")))?;
    let asked = args.get("path").and_then(Value::as_str).unwrap_or(".");
    let start = roots.resolve(asked)?;
    let mut stack = vec![start];
    let mut files = 0usize;
    let mut out = String::new();
    let mut matches = 0usize;
    while let Some(dir) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        let mut entries: Vec<_> = entries.flatten().collect();
        entries.sort_by_key(|e| std::cmp::Reverse(e.file_name()));
        for entry in entries {
            let Ok(kind) = entry.file_type() else {
                continue;
            };
            let path = entry.path();
            if kind.is_dir() {
                if entry.file_name() != ".git" {
                    stack.push(path);
                }
                continue;
            }
            if !kind.is_file() || files >= SEARCH_FILES {
                continue; // symlinks are not followed
            }
            files += 1;
            let Ok(file) = crate::paths::open_regular(&path) else {
                continue;
            };
            let mut bytes = Vec::new();
            if file
                .take(SEARCH_FILE_BYTES)
                .read_to_end(&mut bytes)
                .is_err()
            {
                continue;
            }
            let Some(text) = text_of(bytes) else { continue };
            for (n, line) in text.lines().enumerate() {
                if !re.is_match(line) {
                    continue;
                }
                matches += 1;
                if matches > SEARCH_MATCHES {
                    let _ = writeln!(
                        out,
                        "[more than {SEARCH_MATCHES} matches; narrow the search]"
                    );
                    return Ok(out);
                }
                let shown: String = line.chars().take(SEARCH_LINE_CHARS).collect();
                let _ = writeln!(
                    out,
                    "{}:{}: {shown}",
                    roots.relative(&path).display(),
                    n + 1
                );
            }
        }
    }
    if out.is_empty() {
        out = format!("no match in {files} files");
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    struct Tree {
        _dir: tempfile::TempDir,
        root: PathBuf,
        outside: PathBuf,
    }

    fn tree() -> Tree {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("root");
        let outside = dir.path().join("outside");
        std::fs::create_dir_all(root.join("sub")).unwrap();
        std::fs::create_dir_all(&outside).unwrap();
        std::fs::write(root.join("笔记.txt"), "第一行\nsecret? no\n").unwrap();
        std::fs::write(root.join("sub/a.rs"), "fn main() {}\n").unwrap();
        std::fs::write(outside.join("secret.txt"), "top secret\n").unwrap();
        std::os::unix::fs::symlink(outside.join("secret.txt"), root.join("link.txt")).unwrap();
        std::os::unix::fs::symlink(&outside, root.join("linkdir")).unwrap();
        Tree {
            root: root.canonicalize().unwrap(),
            outside: outside.canonicalize().unwrap(),
            _dir: dir,
        }
    }

    fn refused(r: Result<String, ToolError>) -> String {
        match r {
            Err(ToolError::Refused(m)) => m,
            other => panic!("expected a refusal, got {other:?}"),
        }
    }

    #[test]
    fn reads_inside_and_refuses_every_way_out() {
        let t = tree();
        let roots = Roots::new(std::slice::from_ref(&t.root)).unwrap();
        assert_eq!(
            read_file(&roots, &json!({"path": "笔记.txt"}), 1000).unwrap(),
            "第一行\nsecret? no\n"
        );
        assert_eq!(
            read_file(&roots, &json!({"path": "sub/../笔记.txt"}), 1000).unwrap(),
            "第一行\nsecret? no\n"
        );
        for path in [
            "../outside/secret.txt".to_string(),
            t.outside.join("secret.txt").display().to_string(),
            "link.txt".into(),
            "linkdir/secret.txt".into(),
            "/etc/passwd".into(),
        ] {
            let m = refused(read_file(&roots, &json!({ "path": path }), 1000));
            assert!(m.contains("outside the folders"), "{path}: {m}");
        }
        assert!(refused(list_dir(&roots, &json!({"path": "linkdir"}))).contains("outside"));
        assert!(refused(read_file(&roots, &json!({}), 10)).contains("`path`"));
        assert!(matches!(
            read_file(&roots, &json!({"path": "nope"}), 10),
            Err(ToolError::Failed(m)) if m.contains("does not exist")
        ));
        assert!(matches!(
            read_file(&roots, &json!({"path": "sub"}), 10),
            Err(ToolError::Failed(_))
        ));
    }

    #[test]
    fn a_second_root_opens_its_folder_too() {
        let t = tree();
        let roots = Roots::new(&[t.root.clone(), t.outside.clone()]).unwrap();
        assert_eq!(
            read_file(&roots, &json!({"path": "link.txt"}), 100).unwrap(),
            "top secret\n"
        );
        assert!(Roots::new(&[t.root.join("missing")]).is_err());
    }

    #[test]
    fn long_files_are_cut_at_a_character_and_binary_refused() {
        let t = tree();
        std::fs::write(t.root.join("bin"), b"a\0b").unwrap();
        let roots = Roots::new(std::slice::from_ref(&t.root)).unwrap();
        let text = read_file(&roots, &json!({"path": "笔记.txt"}), 4).unwrap();
        assert!(text.starts_with("第\n[cut: the first 3 of"), "{text}");
        assert!(matches!(
            read_file(&roots, &json!({"path": "bin"}), 100),
            Err(ToolError::Failed(m)) if m.contains("not a text file")
        ));
    }

    #[test]
    fn lists_and_searches_without_following_links() {
        let t = tree();
        let roots = Roots::new(std::slice::from_ref(&t.root)).unwrap();
        assert_eq!(
            list_dir(&roots, &json!({})).unwrap(),
            "link.txt@\nlinkdir@\nsub/\n笔记.txt"
        );
        let found = search_text(&roots, &json!({"pattern": "secret"})).unwrap();
        assert_eq!(found, "笔记.txt:2: secret? no\n", "links are not followed");
        let found = search_text(&roots, &json!({"pattern": "fn \\w+", "regex": true})).unwrap();
        assert_eq!(found, "sub/a.rs:1: fn main() {}\n");
        assert!(
            refused(search_text(&roots, &json!({"pattern": "(", "regex": true}))).contains("regex")
        );
        assert_eq!(
            search_text(&roots, &json!({"pattern": "zzz"})).unwrap(),
            "no match in 2 files"
        );
    }
}
