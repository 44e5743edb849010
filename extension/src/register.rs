//! Registration with the Lambda Extensions API, inside the authorizer's own process.
//!
//! Why an extension at all: Lambda does not freeze the sandbox until every registered extension has asked
//! for its next event. Waiting there for a running refresh lets the refresh finish after the response has
//! gone out (off the hot path) but before the freeze, instead of being frozen half-way.

use std::future::Future;
use std::sync::Arc;

use lambda_extension::{service_fn, Extension, LambdaEvent, NextEvent};

use crate::{Error, SecretCache};

/// The name the extension registers under.
pub const EXTENSION_NAME: &str = "origin-verify-cache";

/// Registers the internal extension (INVOKE events only: internal extensions never get SHUTDOWN).
///
/// Must be called before `lambda_runtime::run`, which ends INIT. Returns the future that serves the
/// extension's events; run it beside the runtime.
pub async fn register(
    cache: Arc<SecretCache>,
) -> Result<impl Future<Output = Result<(), Error>> + Send, Error> {
    let processor = service_fn(move |event: LambdaEvent| {
        let cache = Arc::clone(&cache);
        async move {
            if let NextEvent::Invoke(_) = event.next {
                cache.on_invoke().await;
            }
            Ok::<(), lambda_extension::Error>(())
        }
    });
    let registered = Extension::new()
        .with_extension_name(EXTENSION_NAME)
        .with_events(&["INVOKE"])
        .with_events_processor(processor)
        .register()
        .await
        .map_err(|e| Error::Extension(e.to_string()))?;
    Ok(async move {
        registered
            .run()
            .await
            .map_err(|e| Error::Extension(e.to_string()))
    })
}
