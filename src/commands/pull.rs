//! `pull MODEL` with progress, and the REPL's offer to pull a model that is not installed.

use tokio::runtime::Runtime;

use super::progress::ProgressView;
use super::{confirm, follow, unless_interrupted, CommandError};
use crate::backend::Backend;
use crate::config::Config;
use crate::error::ApiError;
use crate::exit_code::ExitCode;
use crate::models::ModelInfo;
use crate::term::Term;

/// Pulls `model`, showing progress on stderr. Ctrl-C closes the connection (Ollama stops; the
/// next pull resumes) and gives [`ExitCode::Interrupted`].
pub fn run(
    rt: &Runtime,
    client: &Backend,
    config: &Config,
    term: &Term,
    model: &str,
) -> anyhow::Result<ExitCode> {
    let mut view = ProgressView::stderr(term);
    let what = format!("pulling '{model}'");
    let work = async {
        let stream = client.pull(model).await?;
        follow(stream, &mut view, &what, config.load_timeout).await
    };
    let result = rt.block_on(unless_interrupted(work));
    view.stop();
    match result {
        Some(Ok(())) => Ok(ExitCode::Success),
        Some(Err(e)) => Err(e),
        None => {
            crate::render::style::notice(format_args!(
                "pull of '{model}' cancelled (pull again to resume)"
            ));
            Ok(ExitCode::Interrupted)
        }
    }
}

/// Before a chat: if `model` is not installed, offers to pull it. `Ok(Ok(info))` means chat on,
/// with what `/api/show` said of the model when it was installed (the chat's facts need not be
/// asked again); `Ok(Err(code))` means stop with that code (the pull was interrupted).
///
/// Only a clear "not found" leads to the question; any other failure (no server) is left for the
/// first turn to report, as it would be without this check.
pub fn offer_pull(
    rt: &Runtime,
    client: &Backend,
    config: &Config,
    term: &Term,
    model: &str,
) -> anyhow::Result<Result<Option<ModelInfo>, ExitCode>> {
    match rt.block_on(client.model_info(model)) {
        Err(ApiError::ModelNotFound { .. }) => {}
        Ok(info) => return Ok(Ok(Some(info))),
        Err(e) => {
            tracing::debug!("could not check whether {model} is installed: {e}");
            return Ok(Ok(None));
        }
    }
    if !confirm(&format!("Model '{model}' is not installed. Pull it now?"))? {
        return Err(CommandError::NotInstalled(model.to_string()).into());
    }
    match run(rt, client, config, term, model)? {
        ExitCode::Success => Ok(Ok(None)),
        code => Ok(Err(code)),
    }
}
