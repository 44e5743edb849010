//! The `authorizer` Lambda function: the cache's extension registered in this process, then the runtime.

use std::sync::Arc;

use lambda_runtime::{service_fn, Diagnostic, LambdaEvent};
use origin_verify_authorizer::{Authorizer, Config};
use origin_verify_extension::{default_client, register, Loader, SecretCache};
use origin_verify_shared::Env;
use serde_json::value::RawValue;

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_runtime::Error> {
    lambda_runtime::tracing::init_default_subscriber();
    let config =
        Config::from_env(&Env::PROCESS).inspect_err(|err| tracing::error!(error = %err, "not starting"))?;

    let cache = SecretCache::new(Loader::new(default_client().await, config.cache.clone()));
    // Register before `lambda_runtime::run`, which ends INIT.
    let extension = register(Arc::clone(&cache)).await?;
    // Prefetch during INIT. A failure is not fatal: invocations retry, and fail closed until loaded.
    if let Err(err) = cache.ensure_loaded().await {
        tracing::warn!(error = %err, "secret not loaded during INIT; invocations will retry");
    }

    let authorizer = Authorizer::new(config, cache);
    let handler = service_fn(move |event: LambdaEvent<Box<RawValue>>| {
        let authorizer = authorizer.clone();
        async move {
            authorizer
                .handle(event.payload.get())
                .await
                .map_err(Diagnostic::from)
        }
    });
    tokio::try_join!(lambda_runtime::run(handler), async { Ok(extension.await?) })?;
    Ok(())
}
