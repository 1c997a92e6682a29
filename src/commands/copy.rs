//! `cp SOURCE DESTINATION`: copy a model under a new name (no bytes move; the layers are shared).

use tokio::runtime::Runtime;

use super::CommandError;
use crate::backend::Backend;
use crate::cli::CopyArgs;
use crate::error::ApiError;
use crate::exit_code::ExitCode;

pub fn run(rt: &Runtime, client: &Backend, args: &CopyArgs) -> anyhow::Result<ExitCode> {
    match rt.block_on(client.copy(&args.source, &args.destination)) {
        Ok(()) => {
            println!("copied '{}' to '{}'", args.source, args.destination);
            Ok(ExitCode::Success)
        }
        Err(ApiError::ModelNotFound { .. }) => {
            Err(CommandError::NotInstalled(args.source.clone()).into())
        }
        Err(e) => Err(e.into()),
    }
}
