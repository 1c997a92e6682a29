//! What the client learned about a model on a server, kept between runs so that the first request
//! of the next run needs no round trip first: the window facts of `POST /api/show`, whether the
//! model thinks, its Modelfile `MESSAGE` history, and the model's digest, by which a changed model
//! is noticed. Pure: bytes in, bytes out; the chat reads and writes the file.
//!
//! The file is outside input like any other: a missing, corrupt, hostile or oversized one is an
//! empty cache, and implausible figures in an entry drop the entry.

use serde::{Deserialize, Serialize};

use super::window::{plausible_window, ModelFacts};
use crate::models::ShowMessage;

/// The file's format version; another version is ignored (and replaced on the next write).
pub const VERSION: u32 = 1;
/// The most a cache file may be; a larger one is not read.
pub const MAX_FILE: u64 = 1 << 20;
/// Entries kept, the most recently learned first.
pub const MAX_ENTRIES: usize = 64;
/// A Modelfile history larger than this is not kept (it is fetched again instead).
const MAX_HISTORY_BYTES: usize = 32 * 1024;

/// One model on one server.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Entry {
    /// The server's base URL as shown (any password blanked).
    pub host: String,
    pub model: String,
    pub digest: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub num_ctx_parameter: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub context_length: Option<u64>,
    #[serde(default)]
    pub thinking: bool,
    #[serde(default)]
    pub messages: Vec<ShowMessage>,
}

impl Entry {
    /// The window facts, with anything implausible taken as not reported.
    pub fn facts(&self) -> ModelFacts {
        ModelFacts {
            num_ctx_parameter: self.num_ctx_parameter.and_then(plausible_window),
            context_length: self.context_length.and_then(plausible_window),
        }
    }

    fn is_sane(&self) -> bool {
        let history: usize = self
            .messages
            .iter()
            .map(|m| m.content.raw().len() + m.role.raw().len())
            .sum();
        !self.host.is_empty()
            && !self.model.is_empty()
            && is_digest(&self.digest)
            && history <= MAX_HISTORY_BYTES
    }
}

/// A digest as Ollama writes one: hex, perhaps after `sha256:`.
fn is_digest(d: &str) -> bool {
    let hex = d.strip_prefix("sha256:").unwrap_or(d);
    (12..=128).contains(&hex.len()) && hex.bytes().all(|b| b.is_ascii_hexdigit())
}

/// The whole file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FactsCache {
    version: u32,
    entries: Vec<Entry>,
}

impl Default for FactsCache {
    fn default() -> Self {
        FactsCache {
            version: VERSION,
            entries: Vec::new(),
        }
    }
}

/// Why a cache file was not used (said once, in a warning, and then ignored).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CacheError {
    #[error("it is not a model-facts file this version reads ({0})")]
    Unreadable(String),
    #[error("it is of format version {0}, not {VERSION}")]
    Version(u32),
}

impl FactsCache {
    /// Parses a file's bytes; entries that make no sense are dropped.
    pub fn parse(bytes: &[u8]) -> Result<FactsCache, CacheError> {
        let mut cache: FactsCache =
            serde_json::from_slice(bytes).map_err(|e| CacheError::Unreadable(e.to_string()))?;
        if cache.version != VERSION {
            return Err(CacheError::Version(cache.version));
        }
        cache.entries.retain(Entry::is_sane);
        cache.entries.truncate(MAX_ENTRIES);
        Ok(cache)
    }

    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = serde_json::to_vec_pretty(&FactsCache {
            version: VERSION,
            entries: self.entries.clone(),
        })
        .unwrap_or_default();
        out.push(b'\n');
        out
    }

    pub fn get(&self, host: &str, model: &str) -> Option<&Entry> {
        self.entries
            .iter()
            .find(|e| e.host == host && super::window::same_model(&e.model, model))
    }

    /// Keeps `entry` as the newest, replacing what was known of the same model on the same server;
    /// an entry that makes no sense (or whose history is too large to keep) is not stored.
    pub fn put(&mut self, entry: Entry) {
        self.forget(&entry.host, &entry.model);
        if entry.is_sane() {
            self.entries.insert(0, entry);
            self.entries.truncate(MAX_ENTRIES);
        }
    }

    /// Drops what was known of a model (it changed, or it is gone).
    pub fn forget(&mut self, host: &str, model: &str) {
        self.entries
            .retain(|e| !(e.host == host && super::window::same_model(&e.model, model)));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(model: &str) -> Entry {
        Entry {
            host: "http://gpu:11434".into(),
            model: model.into(),
            digest: "a5fd3b62230aa5ec60212297dc9d20eaa70578ac519e00d93a17e44c087a6818".into(),
            num_ctx_parameter: Some(4096),
            context_length: Some(32768),
            thinking: false,
            messages: vec![ShowMessage {
                role: "user".into(),
                content: "2+2 是多少？".into(),
            }],
        }
    }

    #[test]
    fn what_is_written_reads_back() {
        let mut c = FactsCache::default();
        c.put(entry("tiny"));
        c.put(entry("qwen3:8b"));
        let back = FactsCache::parse(&c.to_bytes()).unwrap();
        assert_eq!(back, FactsCache::parse(&back.to_bytes()).unwrap());
        assert_eq!(
            back.get("http://gpu:11434", "tiny:latest"),
            Some(&entry("tiny"))
        );
        assert_eq!(back.entries[0].model, "qwen3:8b", "the newest first");
        assert_eq!(back.get("http://other:11434", "tiny"), None);
        assert_eq!(
            back.get("http://gpu:11434", "tiny").unwrap().facts(),
            ModelFacts {
                num_ctx_parameter: Some(4096),
                context_length: Some(32768)
            }
        );
    }

    #[test]
    fn a_new_entry_replaces_the_old_and_the_oldest_go() {
        let mut c = FactsCache::default();
        c.put(entry("tiny"));
        let mut changed = entry("tiny:latest");
        changed.num_ctx_parameter = Some(8192);
        c.put(changed.clone());
        assert_eq!(c.entries, vec![changed]);
        for i in 0..MAX_ENTRIES + 5 {
            c.put(entry(&format!("m{i}")));
        }
        assert_eq!(c.entries.len(), MAX_ENTRIES);
        assert_eq!(c.get("http://gpu:11434", "tiny"), None);
        c.forget("http://gpu:11434", &format!("m{}", MAX_ENTRIES + 4));
        assert_eq!(c.entries.len(), MAX_ENTRIES - 1);
    }

    #[test]
    fn malformed_files_are_errors_not_panics() {
        for bad in [
            &b""[..],
            b"{",
            b"null",
            b"[]",
            b"{\"version\":1}",
            b"{\"version\":\"1\",\"entries\":[]}",
            b"{\"version\":1,\"entries\":{}}",
            b"\xff\xfe",
            b"{\"version\":1,\"entries\":[{\"host\":1}]}",
        ] {
            assert!(
                matches!(FactsCache::parse(bad), Err(CacheError::Unreadable(_))),
                "{bad:?}"
            );
        }
        let future = br#"{"version":9,"entries":[]}"#;
        assert_eq!(FactsCache::parse(future), Err(CacheError::Version(9)));
    }

    #[test]
    fn senseless_entries_are_dropped_and_absurd_figures_not_reported() {
        let mut bad_digest = entry("a");
        bad_digest.digest = "\u{1b}[2Jnot-hex".into();
        let mut no_model = entry("");
        no_model.model.clear();
        let mut huge = entry("b");
        huge.messages[0].content = "x".repeat(MAX_HISTORY_BYTES + 1).into();
        let mut absurd = entry("c");
        absurd.num_ctx_parameter = Some(u64::MAX);
        absurd.context_length = Some(0);
        let file = serde_json::json!({
            "version": VERSION,
            "entries": [bad_digest, no_model, huge.clone(), absurd],
        });
        let c = FactsCache::parse(file.to_string().as_bytes()).unwrap();
        assert_eq!(c.entries.len(), 1);
        assert_eq!(c.entries[0].facts(), ModelFacts::default());
        let mut c = FactsCache::default();
        c.put(huge);
        assert!(c.entries.is_empty(), "too large a history is not kept");
    }
}
