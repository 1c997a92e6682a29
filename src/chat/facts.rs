//! A model's facts for the context budget (its window, whether it thinks, its Modelfile history),
//! learned without making anyone wait: from the file the last run left at once, and from the
//! server in the background while the person types, never in sequence before a request that
//! clearly fits. Also the REPL's preload: the model is loaded while the first message is typed.

use std::io::{Read, Write};
use std::path::Path;
use std::time::Duration;

use serde_json::Value;
use tokio::task::JoinHandle;

use crate::backend::Backend;
use crate::context::cache::{FactsCache, MAX_FILE};
use crate::context::window::{plausible_window, same_model};
use crate::conversation::ChatRequest;
use crate::models::ModelInfo;
use crate::options::Options;

/// What a background fetch learned; each part `None` when the server did not say.
#[derive(Debug, Default)]
pub struct Learned {
    pub show: Option<ModelInfo>,
    pub digest: Option<String>,
    /// The window of the model in memory, and whether our own request (the preload) loaded it.
    pub loaded: Option<(u64, bool)>,
}

/// What to ask the server in the background.
#[derive(Debug, Clone, Default)]
pub struct Ask {
    /// `POST /api/show` (not needed when the REPL already asked it).
    pub show: bool,
    /// `GET /api/tags`, for the model's digest (to keep the facts in the cache).
    pub digest: bool,
    /// Load the model first with these options and `keep_alive` (the REPL's preload), then read
    /// its window from `GET /api/ps`.
    pub preload: Option<(Options, Option<Value>)>,
    /// `GET /api/ps` without loading: a window someone else's request loaded, or with `ours`
    /// the one our last reply was given.
    pub ps: bool,
    pub ours: bool,
}

/// Limits of the background requests: `load` for the preload, `idle` for each of the others.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    pub load: Duration,
    pub idle: Duration,
}

/// Asks the server what `ask` says, all at once, on the runtime of the caller.
pub fn spawn(backend: &Backend, model: &str, ask: Ask, limits: Limits) -> JoinHandle<Learned> {
    let backend = backend.clone();
    let model = model.to_string();
    tokio::spawn(async move { learn(&backend, &model, ask, limits).await })
}

/// The same, awaited here.
pub async fn learn(backend: &Backend, model: &str, ask: Ask, limits: Limits) -> Learned {
    let idle = limits.idle;
    let show = async {
        if !ask.show {
            return None;
        }
        match tokio::time::timeout(idle, backend.model_info(model)).await {
            Ok(Ok(info)) => Some(info),
            Ok(Err(e)) => {
                tracing::debug!("POST /api/show failed: {e}");
                None
            }
            Err(_) => None,
        }
    };
    let digest = async {
        if !ask.digest {
            return None;
        }
        let models = tokio::time::timeout(idle, backend.installed_models()).await;
        let models = models.ok()?.ok()?;
        models
            .into_iter()
            .find(|m| same_model(m.name.raw(), model))
            .and_then(|m| m.digest)
            .map(|d| d.raw().to_string())
    };
    let loaded = async {
        let ours = match &ask.preload {
            Some((options, keep_alive)) => {
                let request = ChatRequest {
                    stream: false,
                    keep_alive: keep_alive.as_ref(),
                    ..ChatRequest::new(model, &[], options)
                };
                match tokio::time::timeout(limits.load, backend.load(&request)).await {
                    Ok(Ok(())) => true,
                    Ok(Err(e)) => {
                        tracing::debug!("preloading {model} failed: {e}");
                        return None;
                    }
                    Err(_) => return None,
                }
            }
            None if ask.ps => ask.ours,
            None => return None,
        };
        let ps = tokio::time::timeout(idle, backend.loaded_models()).await;
        let n = ps
            .ok()?
            .ok()?
            .iter()
            .find(|m| same_model(m.name.raw(), model))
            .and_then(|m| m.context_length)
            .and_then(plausible_window)?;
        Some((n, ours))
    };
    let (show, digest, loaded) = tokio::join!(show, digest, loaded);
    Learned {
        show,
        digest,
        loaded,
    }
}

/// The cache file, or an empty cache when it is missing, too large or not one (said at `-v`).
pub fn read_cache(path: &Path) -> FactsCache {
    let read = || -> std::io::Result<Vec<u8>> {
        let file = std::fs::File::open(path)?;
        if crate::paths::not_regular(&file.metadata()?).is_some() {
            return Err(std::io::Error::other("not a regular file"));
        }
        let mut bytes = Vec::new();
        file.take(MAX_FILE + 1).read_to_end(&mut bytes)?;
        if bytes.len() as u64 > MAX_FILE {
            return Err(std::io::Error::other("larger than 1 MiB"));
        }
        Ok(bytes)
    };
    match read() {
        Ok(bytes) => FactsCache::parse(&bytes).unwrap_or_else(|e| {
            tracing::info!("ignoring the model facts in {}: {e}", path.display());
            FactsCache::default()
        }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => FactsCache::default(),
        Err(e) => {
            tracing::info!("ignoring the model facts in {}: {e}", path.display());
            FactsCache::default()
        }
    }
}

/// Replaces the cache file (private, written aside and renamed, so a crash leaves the old one);
/// failing to is not worth more than a line at `-v`.
pub fn write_cache(path: &Path, cache: &FactsCache) {
    let write = || -> std::io::Result<()> {
        use std::os::unix::fs::OpenOptionsExt;
        if let Some(dir) = path.parent() {
            crate::paths::create_private_dir(dir)?;
        }
        let aside = path.with_extension(format!("json.{}", std::process::id()));
        let mut file = std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o600)
            .open(&aside)?;
        file.write_all(&cache.to_bytes())?;
        drop(file);
        std::fs::rename(&aside, path).inspect_err(|_| {
            let _ = std::fs::remove_file(&aside);
        })
    };
    if let Err(e) = write() {
        tracing::info!("could not keep the model facts in {}: {e}", path.display());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::context::cache::Entry;

    fn entry() -> Entry {
        Entry {
            host: "http://h:1".into(),
            model: "tiny:latest".into(),
            digest: "0123456789abcdef".into(),
            num_ctx_parameter: Some(2048),
            context_length: None,
            thinking: true,
            messages: Vec::new(),
        }
    }

    #[test]
    fn a_written_cache_reads_back_and_a_broken_one_is_empty() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state/model-facts.json");
        assert_eq!(read_cache(&path), FactsCache::default(), "missing");
        let mut cache = FactsCache::default();
        cache.put(entry());
        write_cache(&path, &cache);
        assert_eq!(read_cache(&path), cache);
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        std::fs::write(&path, b"\x1b[2J{not json").unwrap();
        assert_eq!(read_cache(&path), FactsCache::default(), "corrupt");
        let mut huge = cache.to_bytes();
        huge.resize(MAX_FILE as usize + 10, b' ');
        std::fs::write(&path, &huge).unwrap();
        assert_eq!(read_cache(&path), FactsCache::default(), "too large");
        std::fs::remove_file(&path).unwrap();
        std::fs::create_dir(&path).unwrap();
        assert_eq!(read_cache(&path), FactsCache::default(), "a folder");
        write_cache(&path, &cache); // cannot replace a folder: no panic, no error
    }
}
