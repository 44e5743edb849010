//! `origin-verify-layer`: the external extension. Listens first, registers (INVOKE and SHUTDOWN),
//! loads the prefetched secrets during INIT, then on every invocation refreshes what is due and holds the
//! freeze until no refresh or request is in progress.

use std::sync::Arc;
use std::time::{Duration, Instant};

use lambda_extension::{service_fn, Extension, LambdaEvent, NextEvent};
use origin_verify_extension::{default_client, time_left, SecretStore, REFRESH_WAIT_MAX};
use origin_verify_layer::{Error, LayerConfig, Server};
use origin_verify_shared::Env;
use tokio::sync::watch;

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    let started = Instant::now();
    lambda_extension::tracing::init_default_subscriber();
    let config = LayerConfig::from_env(&Env::PROCESS)
        .inspect_err(|err| tracing::error!(error = %err, "not starting"))?;

    let store = SecretStore::new(default_client(config.trust).await, config.store.clone());
    let server = Server::new(Arc::clone(&store), config.token.clone());
    let addr = server.bind_and_serve(config.port).await?;

    let (shutdown_tx, mut shutdown_rx) = watch::channel(false);
    let processor = service_fn({
        let server = Arc::clone(&server);
        move |event: LambdaEvent| {
            let server = Arc::clone(&server);
            let shutdown_tx = shutdown_tx.clone();
            async move {
                match event.next {
                    NextEvent::Invoke(invoke) => {
                        let left = time_left(invoke.deadline_ms)
                            .unwrap_or(REFRESH_WAIT_MAX)
                            .min(REFRESH_WAIT_MAX);
                        let deadline = Instant::now() + left;
                        // Refreshes start as the function starts: done, or nearly, when it asks.
                        server.store().on_invoke(deadline).await;
                        // Then wait for the function's requests (and any refresh they started) to end, so no
                        // refresh is frozen half-way. Lambda does not tell an external extension when the
                        // function has returned (only the Telemetry API does), so a request that starts
                        // after this point is not waited for; README says so.
                        server.wait_idle(deadline).await;
                        server.store().on_invoke(deadline).await;
                    }
                    NextEvent::Shutdown(shutdown) => {
                        let calls = server.store().calls();
                        tracing::info!(
                            reason = ?shutdown.shutdown_reason,
                            describe_calls = calls.describe(),
                            get_value_calls = calls.get_value(),
                            "shutting down"
                        );
                        let _ = shutdown_tx.send(true);
                    }
                }
                Ok::<(), lambda_extension::Error>(())
            }
        }
    });
    let registered = Extension::new()
        .with_events(&["INVOKE", "SHUTDOWN"])
        .with_events_processor(processor)
        .register()
        .await
        .map_err(|e| Error::Extension(e.to_string()))?;
    let failures = store.prefetch(&config.prefetch).await;
    for (secret_id, error) in &failures {
        tracing::warn!(secret_id, error = %error, "not prefetched; the first request will load it");
    }
    let ms = |d: Duration| d.as_secs_f64() * 1e3;
    tracing::info!(
        %addr,
        prefetched = config.prefetch.len() - failures.len(),
        init_ms = ms(started.elapsed()),
        "listening"
    );
    tokio::select! {
        run = registered.run() => run.map_err(|e| Error::Extension(e.to_string())),
        _ = shutdown_rx.wait_for(|down| *down) => Ok(()),
    }
}
