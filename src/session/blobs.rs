//! The blob folder beside the sessions: each attached image saved once, named by the sha256 of its
//! bytes (`blobs/sha256-<hex>`, 0600 in a 0700 folder), so that session records name images
//! rather than repeat them: a ten-turn chat about one photo keeps it once, and so do two sessions
//! that sent the same photo.

use std::collections::HashSet;
use std::fs::OpenOptions;
use std::io::{self, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use base64::Engine as _;
use sha2::Digest as _;

use crate::conversation::message::hex;
use crate::conversation::Image;
use crate::paths::create_private_dir;

/// The blob folder of the sessions stored in `sessions_dir`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Blobs {
    dir: PathBuf,
}

/// Base64 characters decoded at a time: a multiple of 4, so no piece needs padding of its own.
const PIECE: usize = 4 * 64 * 1024;

impl Blobs {
    /// The blob folder beside the session file at `session`.
    pub fn beside(session: &Path) -> Self {
        let dir = session
            .parent()
            .filter(|d| !d.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        Blobs {
            dir: dir.join("blobs"),
        }
    }

    /// The blob folder of the sessions folder `sessions`.
    pub fn of_folder(sessions: &Path) -> Self {
        Blobs {
            dir: sessions.join("blobs"),
        }
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Where the image with this sha256 is kept. Only a well-formed hash names a file: a record
    /// cannot point outside the folder.
    pub fn path(&self, sha256: &str) -> Option<PathBuf> {
        let ok = sha256.len() == 64
            && sha256
                .bytes()
                .all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'));
        ok.then(|| self.dir.join(format!("sha256-{sha256}")))
    }

    /// Saves the image's bytes unless a blob of that hash is there already. Written to a temporary
    /// file, checked against the hash, then renamed: a crash leaves no half blob under its name.
    pub fn save(&self, image: &Image) -> io::Result<()> {
        let path = self
            .path(&image.sha256)
            .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidData, "not a sha256"))?;
        if path.exists() {
            return Ok(());
        }
        create_private_dir(&self.dir)?;
        let tmp = self.dir.join(format!(
            ".tmp-{}-{}",
            &image.sha256[..16],
            std::process::id()
        ));
        let written = (|| {
            let mut file = OpenOptions::new()
                .write(true)
                .create(true)
                .truncate(true)
                .mode(0o600)
                .open(&tmp)?;
            let mut hasher = sha2::Sha256::new();
            let mut bytes = Vec::with_capacity(PIECE / 4 * 3);
            for piece in image.data.as_str().as_bytes().chunks(PIECE) {
                bytes.clear();
                base64::engine::general_purpose::STANDARD
                    .decode_vec(piece, &mut bytes)
                    .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))?;
                hasher.update(&bytes);
                file.write_all(&bytes)?;
            }
            if hex(&hasher.finalize()) != image.sha256 {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidData,
                    "the image's bytes do not match its sha256",
                ));
            }
            file.sync_data()
        })();
        match written {
            Ok(()) => std::fs::rename(&tmp, &path),
            Err(e) => {
                let _ = std::fs::remove_file(&tmp);
                Err(e)
            }
        }
    }

    /// Removes the blobs not named in `keep` (the hashes every remaining session refers to);
    /// returns how many were removed.
    pub fn remove_unused(&self, keep: &HashSet<String>) -> io::Result<usize> {
        let entries = match std::fs::read_dir(&self.dir) {
            Ok(e) => e,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(0),
            Err(e) => return Err(e),
        };
        let mut removed = 0;
        for entry in entries {
            let entry = entry?;
            let name = entry.file_name();
            let Some(hash) = name.to_str().and_then(|n| n.strip_prefix("sha256-")) else {
                continue;
            };
            if !keep.contains(hash) {
                std::fs::remove_file(entry.path())?;
                removed += 1;
            }
        }
        Ok(removed)
    }
}

/// The hashes of the images the session files (`*.jsonl`) in `dir` refer to. A file that cannot
/// be read is an error: better to keep every blob than to remove one a session still needs.
pub fn referenced(dir: &Path) -> io::Result<HashSet<String>> {
    let mut hashes = HashSet::new();
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        if path.extension().is_none_or(|e| e != "jsonl") || !path.is_file() {
            continue;
        }
        let text = std::fs::read_to_string(&path)?;
        // Only lines that can name an image are parsed.
        for line in text.lines().skip(1).filter(|l| l.contains("\"sha256\"")) {
            if let Ok(super::format::Event {
                change: super::format::Change::User { images, .. },
                ..
            }) = super::format::parse_event(line)
            {
                hashes.extend(images.into_iter().map(|i| i.sha256));
            }
        }
    }
    Ok(hashes)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn saved_once_by_hash_private_and_checked() {
        let dir = tempfile::tempdir().unwrap();
        let blobs = Blobs::beside(&dir.path().join("sessions/a.jsonl"));
        assert_eq!(blobs.dir(), dir.path().join("sessions/blobs"));
        let bytes: Vec<u8> = (0..PIECE * 2).map(|i| (i % 251) as u8).collect();
        let img = Image::from_bytes("cat.png", "image/png", &bytes);
        blobs.save(&img).unwrap();
        blobs.save(&img).unwrap();
        let path = blobs.path(&img.sha256).unwrap();
        assert!(std::fs::read(&path).unwrap() == bytes);
        assert_eq!(
            std::fs::metadata(&path).unwrap().permissions().mode() & 0o777,
            0o600
        );
        let folder = std::fs::metadata(blobs.dir()).unwrap().permissions().mode();
        assert_eq!(folder & 0o777, 0o700);
        assert_eq!(
            std::fs::read_dir(blobs.dir()).unwrap().count(),
            1,
            "one file, no temporary left"
        );

        let mut wrong = Image::from_bytes("x.png", "image/png", b"other");
        wrong.sha256 = Image::from_bytes("y", "image/png", b"another").sha256;
        assert!(blobs.save(&wrong).is_err());
        assert_eq!(std::fs::read_dir(blobs.dir()).unwrap().count(), 1);
    }

    #[test]
    fn only_hashes_name_blobs() {
        let b = Blobs::beside(Path::new("s.jsonl"));
        assert_eq!(b.dir(), Path::new("./blobs"));
        assert!(b.path("../../etc/passwd").is_none());
        assert!(b.path(&"A".repeat(64)).is_none());
        assert!(b.path(&"a".repeat(64)).is_some());
    }

    #[test]
    fn unused_blobs_are_removed() {
        let dir = tempfile::tempdir().unwrap();
        let blobs = Blobs::beside(&dir.path().join("a.jsonl"));
        assert_eq!(
            blobs.remove_unused(&HashSet::new()).unwrap(),
            0,
            "no folder yet"
        );
        let a = Image::from_bytes("a", "image/png", b"a");
        let b = Image::from_bytes("b", "image/png", b"b");
        blobs.save(&a).unwrap();
        blobs.save(&b).unwrap();
        let keep = HashSet::from([a.sha256.clone()]);
        assert_eq!(blobs.remove_unused(&keep).unwrap(), 1);
        assert!(blobs.path(&a.sha256).unwrap().exists());
        assert!(!blobs.path(&b.sha256).unwrap().exists());
    }
}
