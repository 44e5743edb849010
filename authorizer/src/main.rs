//! The `authorizer` Lambda function: the cache's extension registered in this process, then the runtime.

use std::sync::Arc;
use std::time::{Duration, Instant};

use lambda_runtime::{service_fn, Diagnostic, LambdaEvent, Runtime};
use origin_verify_authorizer::raw_event::RawEvents;
use origin_verify_authorizer::{Authorizer, Config, Response};
use origin_verify_extension::{default_client, register, Handled, Loader, SecretCache};
use origin_verify_shared::Env;

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_runtime::Error> {
    let started = Instant::now();
    lambda_runtime::tracing::init_default_subscriber();
    let config =
        Config::from_env(&Env::PROCESS).inspect_err(|err| tracing::error!(error = %err, "not starting"))?;

    let client = default_client(config.cache.trust).await;
    let client_ready = started.elapsed();
    let cache = SecretCache::new(Loader::new(client, config.cache.clone()));
    // Registration (before `lambda_runtime::run`, which ends INIT) and the first load at once: neither
    // needs the other, and both are round trips. A failed load is not fatal: invocations retry, and fail
    // closed until loaded.
    let handled = Handled::new();
    let (registered, loaded) = tokio::join!(
        async {
            let extension = register(Arc::clone(&cache), handled.clone()).await;
            (extension, started.elapsed() - client_ready)
        },
        async { (cache.ensure_loaded().await, started.elapsed() - client_ready) }
    );
    let (extension, extension_took) = registered;
    let extension = extension?;
    if let (Err(err), _) = &loaded {
        tracing::warn!(error = %err, "secret not loaded during INIT; invocations will retry");
    }
    // Where INIT's time went, once per sandbox (scripts/measure-lambda reads it). The last two overlap.
    let ms = |d: Duration| d.as_secs_f64() * 1e3;
    tracing::info!(
        sdk_client_ms = ms(client_ready),
        extension_ms = ms(extension_took),
        secret_ms = ms(loaded.1),
        trust = ?config.cache.trust,
        "initialised"
    );

    let authorizer = Authorizer::new(config, cache);
    // The handler reads the event's bytes itself (one parse, no copy): see `raw_event`.
    let raw_events = RawEvents::default();
    let handler = service_fn({
        let raw_events = raw_events.clone();
        move |event: LambdaEvent<()>| {
            let authorizer = authorizer.clone();
            let handled = handled.clone();
            let raw = raw_events.take(&event.context.request_id);
            async move {
                let response = match raw {
                    Some(raw) => authorizer.handle_bytes(&raw).await.map_err(Diagnostic::from),
                    None => {
                        tracing::error!("the event bytes were not kept for this invocation; denying");
                        Ok(Response::DenyAnyShape)
                    }
                };
                // The extension now waits for any refresh this invocation started, before the freeze.
                handled.finished(&event.context.request_id);
                response
            }
        }
    });
    let runtime = Runtime::new(handler)
        .layer(lambda_runtime::layers::TracingLayer::new())
        .layer(raw_events.layer());
    tokio::try_join!(runtime.run(), async { Ok(extension.await?) })?;
    Ok(())
}
