//! `create NAME -f Modelfile`: parse the Modelfile here (the API takes JSON only), upload a local
//! GGUF or adapter first (hash it, `HEAD` the blob, `POST` it only if the server lacks it), then
//! send `/api/create` and show its status stream.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use sha2::{Digest, Sha256};
use tokio::io::AsyncReadExt;
use tokio::runtime::Runtime;

use super::progress::ProgressView;
use super::{follow, unless_interrupted, CommandError};
use crate::backend::Backend;
use crate::cli::CreateArgs;
use crate::config::Config;
use crate::exit_code::ExitCode;
use crate::modelfile::{parse, Blobs, Modelfile};
use crate::models::Progress;
use crate::term::Term;

const CHUNK: usize = 1 << 20;

pub fn run(
    rt: &Runtime,
    client: &Backend,
    config: &Config,
    term: &Term,
    args: &CreateArgs,
) -> anyhow::Result<ExitCode> {
    let shown = args.file.display().to_string();
    let text = crate::paths::read_regular(&args.file, 1 << 20)
        .and_then(|b| {
            String::from_utf8(b).map_err(|_| {
                std::io::Error::new(std::io::ErrorKind::InvalidData, "is not UTF-8 text")
            })
        })
        .map_err(|e| CommandError::Usage(format!("cannot read the Modelfile {shown}: {e}")))?;
    let modelfile = parse(&text).map_err(|error| CommandError::Modelfile {
        path: shown.clone(),
        error,
    })?;
    let base = match args.file.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let home = std::env::var_os("HOME").map(PathBuf::from);
    let local = LocalFiles::resolve(&modelfile, &base, home.as_deref())?;

    let mut view = ProgressView::stderr(term);
    let what = format!("creating '{}'", args.name);
    let work = async {
        let blobs = local.upload(client, &mut view).await?;
        let request = modelfile.create_request(&args.name, &blobs);
        let stream = client.create(&request).await?;
        follow(stream, &mut view, &what, config.load_timeout).await
    };
    let result = rt.block_on(unless_interrupted(work));
    view.stop();
    match result {
        Some(Ok(())) => {
            crate::render::style::notice(format_args!(
                "created '{}'; chat with it: ollama-chat -m {}",
                args.name, args.name
            ));
            Ok(ExitCode::Success)
        }
        Some(Err(e)) => Err(e),
        None => {
            crate::render::style::notice(format_args!("create of '{}' cancelled", args.name));
            Ok(ExitCode::Interrupted)
        }
    }
}

/// The local files a Modelfile names, found on disk before anything is sent.
struct LocalFiles {
    model: Option<PathBuf>,
    adapters: Vec<PathBuf>,
}

impl LocalFiles {
    fn resolve(m: &Modelfile, base: &Path, home: Option<&Path>) -> Result<Self, CommandError> {
        let model = match std::fs::metadata(expand(&m.from, base, home)) {
            Ok(meta) => match crate::paths::not_regular(&meta) {
                None => Some(expand(&m.from, base, home)),
                Some(_) if meta.is_dir() => {
                    return Err(CommandError::Usage(format!(
                        "FROM {}: that is a folder; ollama-chat imports a single GGUF file (use `ollama create` for a safetensors folder)",
                        m.from
                    )))
                }
                // A FIFO or a device would be read forever (hashed, then uploaded).
                Some(what) => return Err(CommandError::Usage(format!("FROM {}: {what}", m.from))),
            },
            Err(e) if looks_like_path(&m.from) => {
                return Err(CommandError::Usage(format!(
                    "FROM {}: {e} ({})",
                    m.from,
                    expand(&m.from, base, home).display()
                )))
            }
            Err(_) => None, // a model name
        };
        let adapters = m
            .adapters
            .iter()
            .map(|a| {
                let path = expand(a, base, home);
                match std::fs::metadata(&path) {
                    Ok(meta) => match crate::paths::not_regular(&meta) {
                        None => Ok(path),
                        Some(what) => Err(format!("ADAPTER {a}: {what}")),
                    },
                    Err(e) => Err(format!("ADAPTER {a}: {e} ({})", path.display())),
                }
                .map_err(CommandError::Usage)
            })
            .collect::<Result<_, _>>()?;
        Ok(LocalFiles { model, adapters })
    }

    /// Makes sure the server has every file, and names them by digest.
    async fn upload(&self, client: &Backend, view: &mut ProgressView) -> anyhow::Result<Blobs> {
        let mut blobs = Blobs::default();
        if let Some(path) = &self.model {
            let digest = ensure_blob(client, path, view).await?;
            blobs.files.insert(file_name(path), digest);
        }
        for path in &self.adapters {
            let digest = ensure_blob(client, path, view).await?;
            blobs.adapters.insert(file_name(path), digest);
        }
        Ok(blobs)
    }
}

/// `~/x`, `/abs/x` or `rel/x` (relative to the Modelfile's folder, as Ollama resolves it).
pub fn expand(value: &str, base: &Path, home: Option<&Path>) -> PathBuf {
    if let (Some(rest), Some(home)) = (value.strip_prefix("~/"), home) {
        return home.join(rest);
    }
    if value == "~" {
        if let Some(home) = home {
            return home.to_path_buf();
        }
    }
    let path = Path::new(value);
    if path.is_absolute() {
        path.to_path_buf()
    } else {
        base.join(path)
    }
}

/// A FROM that can only mean a file, so a missing file is an error rather than a model name.
pub fn looks_like_path(value: &str) -> bool {
    let lower = value.to_ascii_lowercase();
    ["./", "../", "/", "~", ".\\", "..\\"]
        .iter()
        .any(|p| value.starts_with(p))
        || lower.ends_with(".gguf")
        || lower.ends_with(".bin")
}

fn file_name(path: &Path) -> String {
    path.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| path.display().to_string())
}

/// A local step shown like a layer: a bar of bytes, keyed so it gets its own line.
fn step(status: &str, key: &str, done: u64, total: u64) -> Progress {
    Progress {
        status: status.into(),
        digest: Some(key.into()),
        total: Some(total),
        completed: Some(done),
        error: None,
    }
}

async fn ensure_blob(
    client: &Backend,
    path: &Path,
    view: &mut ProgressView,
) -> anyhow::Result<String> {
    let name = file_name(path);
    let digest = hash_file(path, &name, view)
        .await
        .with_context(|| format!("cannot read {}", path.display()))?;
    if client.blob_exists(&digest).await? {
        view.update(&Progress {
            status: format!("using existing blob {digest}").into(),
            ..Progress::default()
        });
        return Ok(digest);
    }
    let size = tokio::fs::metadata(path).await?.len();
    let sent = Arc::new(AtomicU64::new(0));
    let label = format!("uploading {name}");
    let key = format!("upload {digest}");
    {
        let upload = client.upload_blob(&digest, path, Arc::clone(&sent));
        tokio::pin!(upload);
        loop {
            tokio::select! {
                r = &mut upload => { r?; break; }
                // Only redraws the bar; the upload itself is what the loop waits for.
                _ = tokio::time::sleep(Duration::from_millis(100)) => {
                    view.update(&step(&label, &key, sent.load(Ordering::Relaxed), size));
                }
            }
        }
    }
    view.update(&step(&label, &key, size, size));
    Ok(digest)
}

/// `sha256:<hex>` of a file, read in chunks with a bar for big files.
async fn hash_file(path: &Path, name: &str, view: &mut ProgressView) -> std::io::Result<String> {
    let mut file = tokio::fs::File::open(path).await?;
    let total = file.metadata().await?.len();
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; CHUNK];
    let (label, key) = (format!("hashing {name}"), format!("hash {name}"));
    let mut done = 0u64;
    loop {
        let n = file.read(&mut buf).await?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
        done += n as u64;
        view.update(&step(&label, &key, done, total.max(done)));
    }
    let hex: String = hasher
        .finalize()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    Ok(format!("sha256:{hex}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_fifo_or_a_folder_named_by_from_or_adapter_is_refused_for_what_it_is() {
        let dir = tempfile::tempdir().unwrap();
        let fifo = dir.path().join("model.gguf");
        let made = std::process::Command::new("mkfifo").arg(&fifo).status();
        assert!(made.is_ok_and(|s| s.success()), "mkfifo is needed");
        let refused = |from: &str, adapters: Vec<String>| {
            let mut m = crate::modelfile::parse(&format!("FROM {from}\n")).unwrap();
            m.adapters = adapters;
            match LocalFiles::resolve(&m, dir.path(), None) {
                Err(CommandError::Usage(msg)) => msg,
                other => panic!("{from}: {:?}", other.map(|l| l.model)),
            }
        };
        assert_eq!(
            refused("./model.gguf", vec![]),
            "FROM ./model.gguf: is a FIFO (a named pipe), not a file"
        );
        assert!(refused("./", vec![]).contains("that is a folder"));
        assert_eq!(
            refused("tiny", vec!["./model.gguf".into()]),
            "ADAPTER ./model.gguf: is a FIFO (a named pipe), not a file"
        );
    }

    #[test]
    fn paths_resolve_like_ollama() {
        let base = Path::new("/models");
        let home = Some(Path::new("/home/u"));
        assert_eq!(
            expand("./m.gguf", base, home),
            Path::new("/models/./m.gguf")
        );
        assert_eq!(expand("m.gguf", base, home), Path::new("/models/m.gguf"));
        assert_eq!(expand("/abs/m.gguf", base, home), Path::new("/abs/m.gguf"));
        assert_eq!(expand("~/m.gguf", base, home), Path::new("/home/u/m.gguf"));
        assert_eq!(
            expand("~/m.gguf", base, None),
            Path::new("/models/~/m.gguf")
        );
    }

    #[test]
    fn what_counts_as_a_path() {
        for p in [
            "./m.gguf",
            "../m",
            "/abs",
            "~/m",
            "model.GGUF",
            "weights.bin",
        ] {
            assert!(looks_like_path(p), "{p}");
        }
        for m in [
            "llama3.2",
            "llama3.2:latest",
            "hf.co/user/repo:Q4_K_M",
            "tiny",
        ] {
            assert!(!looks_like_path(m), "{m}");
        }
    }

    #[test]
    fn a_missing_local_file_is_refused_before_sending() {
        let dir = tempfile::tempdir().unwrap();
        let m = parse("FROM ./nope.gguf").unwrap();
        let err = LocalFiles::resolve(&m, dir.path(), None).err().unwrap();
        assert!(err.to_string().starts_with("FROM ./nope.gguf: "), "{err}");
        let m = parse("FROM llama3.2\nADAPTER ./lora.gguf").unwrap();
        let err = LocalFiles::resolve(&m, dir.path(), None).err().unwrap();
        assert!(
            err.to_string().starts_with("ADAPTER ./lora.gguf: "),
            "{err}"
        );
        let m = parse("FROM .").unwrap();
        let err = LocalFiles::resolve(&m, dir.path(), None).err().unwrap();
        assert!(err.to_string().contains("folder"), "{err}");
        let m = parse("FROM llama3.2").unwrap();
        let local = LocalFiles::resolve(&m, dir.path(), None).unwrap();
        assert!(local.model.is_none());
    }
}
