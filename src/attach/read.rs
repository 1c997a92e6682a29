//! Reading a named file as an attachment: an image (type from its bytes, read in pieces straight
//! into base64 and its sha256, so a 20 MB photo costs its base64 and little more) or a text file
//! (UTF-8, not binary) put into the message as a fenced block. Each limit is checked where the
//! bytes enter.

use std::io::{self, Read};
use std::path::Path;

use base64::Engine as _;
use sha2::Digest as _;

use super::sniff::{looks_binary, sniff, SNIFF_LEN};
use super::AttachError;
use crate::conversation::message::hex;
use crate::conversation::{Base64, Image};
use crate::paths::{not_regular, open_regular, NotAFile};

/// Bytes read and encoded at a time: a multiple of 3, so each piece encodes without padding.
const PIECE: usize = 3 * 256 * 1024;

/// The name an attachment is shown and sent under: the file's own name, not the path (which may
/// say more about the user's folders than they meant to send).
pub fn display_name(path: &Path) -> String {
    path.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| path.to_string_lossy().into_owned())
}

/// Opens `path` as a regular file of at most `max` bytes, saying clearly why not.
fn open(path: &Path, max: u64) -> Result<(std::fs::File, u64), AttachError> {
    let shown = path.display().to_string();
    let file = open_regular(path).map_err(|e| file_error(&shown, e))?;
    let size = file.metadata().map_err(|e| file_error(&shown, e))?.len();
    if size > max {
        return Err(AttachError::TooLarge {
            path: shown,
            size,
            max,
        });
    }
    Ok((file, size))
}

fn file_error(path: &str, e: io::Error) -> AttachError {
    if NotAFile::is(&e) {
        AttachError::NotAFile {
            path: path.to_string(),
            what: e.to_string(),
        }
    } else {
        AttachError::Unreadable {
            path: path.to_string(),
            reason: e.to_string(),
        }
    }
}

/// Reads fully or to the end of the file: a short read is not the end.
fn fill(r: &mut impl Read, buf: &mut [u8]) -> io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match r.read(&mut buf[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(n)
}

/// The image at `path`: its type from the bytes, base64 and sha256 computed as it is read.
pub fn load_image(path: &Path, max: u64) -> Result<Image, AttachError> {
    let (file, size) = open(path, max)?;
    read_image(
        file,
        &display_name(path),
        &path.display().to_string(),
        size,
        max,
    )
}

/// The same from any reader; `size` is what the file said it holds (the capacity to reserve).
pub fn read_image(
    mut input: impl Read,
    name: &str,
    shown: &str,
    size: u64,
    max: u64,
) -> Result<Image, AttachError> {
    let unreadable = |e: io::Error| AttachError::Unreadable {
        path: shown.to_string(),
        reason: e.to_string(),
    };
    // Every piece but the last a multiple of 3 bytes, so each encodes without padding.
    let piece = (size as usize + 3).clamp(SNIFF_LEN, PIECE).div_ceil(3) * 3;
    let mut buf = vec![0u8; piece];
    let mut encoded = String::with_capacity((size as usize).div_ceil(3) * 4);
    let mut hasher = sha2::Sha256::new();
    let mut total: u64 = 0;
    let mut media_type = None;
    loop {
        let n = fill(&mut input, &mut buf).map_err(unreadable)?;
        if media_type.is_none() {
            let kind = sniff(&buf[..n]).ok_or_else(|| AttachError::NotAnImage {
                path: shown.to_string(),
            })?;
            media_type = Some(kind.media_type());
        }
        total += n as u64;
        if total > max {
            // The file grew while it was read.
            return Err(AttachError::TooLarge {
                path: shown.to_string(),
                size: total,
                max,
            });
        }
        hasher.update(&buf[..n]);
        base64::engine::general_purpose::STANDARD.encode_string(&buf[..n], &mut encoded);
        if n < buf.len() {
            break;
        }
    }
    Ok(Image {
        name: name.to_string(),
        media_type: media_type.unwrap_or_default().to_string(),
        size: total,
        sha256: hex(&hasher.finalize()),
        data: Base64::new(encoded),
    })
}

/// A text file to put in the message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TextFile {
    /// As shown and as the block's heading: the path as given.
    pub name: String,
    pub text: String,
}

impl TextFile {
    /// The file as it goes into the message: its name, then its text in a fence long enough that
    /// no run of backticks inside can close it, tagged with the language its extension names.
    pub fn block(&self) -> String {
        let longest = self
            .text
            .split(|c| c != '`')
            .map(str::len)
            .max()
            .unwrap_or(0);
        let fence = "`".repeat((longest + 1).max(3));
        let lang = language(&self.name);
        let body = self.text.trim_end_matches(['\n', '\r']);
        format!("{}:\n{fence}{lang}\n{body}\n{fence}", self.name)
    }
}

/// The text file at `path` (`-` is stdin, read by the caller with [`read_text`]).
pub fn load_text(path: &Path, max: u64) -> Result<TextFile, AttachError> {
    let shown = path.display().to_string();
    if let Ok(meta) = std::fs::metadata(path) {
        if meta.is_dir() {
            return Err(AttachError::Folder { path: shown });
        }
        if not_regular(&meta).is_none() && meta.len() > max {
            return Err(AttachError::TooLarge {
                path: shown,
                size: meta.len(),
                max,
            });
        }
    }
    let (file, _) = open(path, max)?;
    read_text(file, &shown, max)
}

/// Text from any reader, refused when larger than `max`, binary or not UTF-8.
pub fn read_text(input: impl Read, name: &str, max: u64) -> Result<TextFile, AttachError> {
    let mut bytes = Vec::new();
    input
        .take(max + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| AttachError::Unreadable {
            path: name.to_string(),
            reason: e.to_string(),
        })?;
    if bytes.len() as u64 > max {
        return Err(AttachError::TooLarge {
            path: name.to_string(),
            size: bytes.len() as u64,
            max,
        });
    }
    if let Some(kind) = sniff(&bytes) {
        return Err(AttachError::ImageAsText {
            path: name.to_string(),
            media_type: kind.media_type(),
        });
    }
    if looks_binary(&bytes) {
        return Err(AttachError::Binary {
            path: name.to_string(),
        });
    }
    let text = String::from_utf8(bytes).map_err(|e| AttachError::NotUtf8 {
        path: name.to_string(),
        offset: e.utf8_error().valid_up_to(),
    })?;
    Ok(TextFile {
        name: name.to_string(),
        text,
    })
}

/// The fence's language tag for a file name: what markdown renderers (ours too) highlight.
fn language(name: &str) -> &'static str {
    let lower = name.to_ascii_lowercase();
    let base = lower.rsplit('/').next().unwrap_or(&lower);
    if base == "makefile" {
        return "make";
    }
    if base == "dockerfile" {
        return "dockerfile";
    }
    let Some((_, ext)) = base.rsplit_once('.') else {
        return "";
    };
    match ext {
        "rs" => "rust",
        "py" => "python",
        "js" | "mjs" | "cjs" => "javascript",
        "ts" | "tsx" => "typescript",
        "go" => "go",
        "c" | "h" => "c",
        "cc" | "cpp" | "cxx" | "hpp" | "hh" => "cpp",
        "cs" => "csharp",
        "java" => "java",
        "kt" | "kts" => "kotlin",
        "rb" => "ruby",
        "php" => "php",
        "swift" => "swift",
        "sh" | "bash" | "zsh" => "bash",
        "ps1" => "powershell",
        "sql" => "sql",
        "html" | "htm" => "html",
        "css" => "css",
        "json" | "jsonl" => "json",
        "yaml" | "yml" => "yaml",
        "toml" => "toml",
        "xml" => "xml",
        "md" | "markdown" => "markdown",
        "lua" => "lua",
        "pl" => "perl",
        "r" => "r",
        "scala" => "scala",
        "hs" => "haskell",
        "diff" | "patch" => "diff",
        "tex" => "latex",
        "csv" => "csv",
        _ => "",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const PNG: &[u8] = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR\0\0\0\x01";

    #[test]
    fn an_image_is_encoded_and_hashed_as_read() {
        let img = read_image(PNG, "a.png", "a.png", PNG.len() as u64, 1000).unwrap();
        let whole = Image::from_bytes("a.png", "image/png", PNG);
        assert_eq!(img, whole);
        assert_eq!(img.size, PNG.len() as u64);
    }

    #[test]
    fn pieces_join_into_the_same_base64_as_one_pass() {
        // Larger than one piece and not a multiple of 3: padding only at the very end.
        let mut bytes = PNG.to_vec();
        bytes.extend((0..PIECE * 2 + 5).map(|i| (i * 7 % 251) as u8));
        for hint in [10, 13, bytes.len() as u64] {
            let img = read_image(&bytes[..], "b.png", "b.png", hint, u64::MAX).unwrap();
            // Not assert_eq: a failure would print megabytes of base64.
            assert!(
                img == Image::from_bytes("b.png", "image/png", &bytes),
                "size hint {hint}"
            );
        }
    }

    #[test]
    fn not_an_image_or_too_large() {
        let e = read_image(&b"#!/bin/sh\n"[..], "x.png", "x.png", 10, 100).unwrap_err();
        assert_eq!(
            e.to_string(),
            "x.png is not an image (PNG, JPEG, WebP or GIF, told by its bytes, not its name)"
        );
        let e = read_image(PNG, "a.png", "a.png", 5, 10).unwrap_err();
        assert!(matches!(e, AttachError::TooLarge { max: 10, .. }), "{e}");
    }

    #[test]
    fn text_refusals_say_why() {
        let t = |b: &[u8]| read_text(b, "f.txt", 100);
        assert_eq!(t("你好\n".as_bytes()).unwrap().text, "你好\n");
        assert_eq!(
            t(b"ok\0").unwrap_err().to_string(),
            "f.txt looks like a binary file, not text"
        );
        assert_eq!(
            t(b"abc\xe4\xbd").unwrap_err().to_string(),
            "f.txt is not UTF-8 text (invalid bytes at offset 3)"
        );
        assert!(t(PNG).unwrap_err().to_string().contains("--image"));
        assert!(matches!(
            read_text(&[b'a'; 101][..], "f", 100).unwrap_err(),
            AttachError::TooLarge { .. }
        ));
    }

    #[test]
    fn blocks_are_fenced_against_their_own_backticks() {
        let f = TextFile {
            name: "src/main.rs".into(),
            text: "fn main() {}\n".into(),
        };
        assert_eq!(f.block(), "src/main.rs:\n```rust\nfn main() {}\n```");
        let f = TextFile {
            name: "README".into(),
            text: "a\n````\nb".into(),
        };
        assert_eq!(f.block(), "README:\n`````\na\n````\nb\n`````");
        assert_eq!(language("Makefile"), "make");
        assert_eq!(language("x.TOML"), "toml");
        assert_eq!(language("notes"), "");
    }

    #[test]
    fn files_on_disk() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("cat.png");
        std::fs::write(&p, PNG).unwrap();
        assert_eq!(load_image(&p, 100).unwrap().media_type, "image/png");
        assert!(matches!(
            load_image(&p, 5).unwrap_err(),
            AttachError::TooLarge { size, max: 5, .. } if size == PNG.len() as u64
        ));
        let missing = load_image(&dir.path().join("nope.png"), 100).unwrap_err();
        assert!(missing.to_string().ends_with("does not exist"), "{missing}");
        let e = load_text(dir.path(), 100).unwrap_err();
        assert!(matches!(e, AttachError::Folder { .. }), "{e}");
        let e = load_image(dir.path(), 100).unwrap_err();
        assert!(e.to_string().contains("is a folder"), "{e}");
    }
}
