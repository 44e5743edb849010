//! Registration with the Lambda Extensions API, inside the authorizer's own process.
//!
//! Why an extension at all: Lambda does not freeze the sandbox until every registered extension has asked
//! for its next event. Waiting there — until the handler has finished the invocation, then for whatever
//! refresh is running — lets a refresh finish after the response has gone out (off the hot path) but
//! before the freeze, instead of being frozen half-way. That includes a refresh the handler itself started
//! on a miss, after the INVOKE event had already reached the extension.

use std::future::Future;
use std::hash::{Hash, Hasher};
use std::sync::Arc;

use lambda_extension::{service_fn, Extension, LambdaEvent, NextEvent};
use tokio::sync::watch;

use crate::{Error, SecretCache};

/// The name the extension registers under.
pub const EXTENSION_NAME: &str = "origin-verify-cache";

/// The handler's side of the extension: tells it which invocation the function has finished.
///
/// Cheap to clone and to call (a hash of the request id and a channel store, no allocation).
#[derive(Debug, Clone)]
pub struct Handled(Arc<watch::Sender<u64>>);

impl Handled {
    /// A tracker no extension listens to yet.
    pub fn new() -> Self {
        Self(Arc::new(watch::Sender::new(0)))
    }

    /// Records that the handler has finished the invocation `request_id` (call it after the decision,
    /// before returning the response).
    pub fn finished(&self, request_id: &str) {
        self.0.send_replace(key(request_id));
    }

    /// Resolves once the invocation `request_id` is finished (at once if it already is).
    async fn wait(&self, request_id: &str) {
        let want = key(request_id);
        let mut rx = self.0.subscribe();
        // Lambda sends the next invocation only after every extension has asked for it, so the value can
        // only move on from `want` after this wait has returned.
        let _ = rx.wait_for(|finished| *finished == want).await;
    }
}

impl Default for Handled {
    fn default() -> Self {
        Self::new()
    }
}

/// Request ids are compared by a hash: the handler then stores a number, not a copy of the id.
fn key(request_id: &str) -> u64 {
    // `DefaultHasher::new()` hashes the same way every time within a process: handler and extension agree.
    let mut h = std::hash::DefaultHasher::new();
    request_id.hash(&mut h);
    h.finish()
}

/// Time left before an invocation deadline given in milliseconds since the epoch, less a margin for
/// asking for the next event; `None` when no deadline is given.
pub fn time_left(deadline_ms: u64) -> Option<std::time::Duration> {
    const MARGIN: std::time::Duration = std::time::Duration::from_millis(50);
    if deadline_ms == 0 {
        return None;
    }
    let deadline = std::time::UNIX_EPOCH + std::time::Duration::from_millis(deadline_ms);
    Some(
        deadline
            .duration_since(std::time::SystemTime::now())
            .unwrap_or_default()
            .saturating_sub(MARGIN),
    )
}

/// Registers the internal extension (INVOKE events only: internal extensions never get SHUTDOWN).
///
/// Must be called before `lambda_runtime::run`, which ends INIT. Returns the future that serves the
/// extension's events (run it beside the runtime). The handler calls `handled.finished(request_id)`
/// at the end of every invocation: the extension holds the freeze until then, and until the refresh
/// that invocation started (if any) has ended.
pub async fn register(
    cache: Arc<SecretCache>,
    handled: Handled,
) -> Result<impl Future<Output = Result<(), Error>> + Send, Error> {
    let processor = service_fn(move |event: LambdaEvent| {
        let cache = Arc::clone(&cache);
        let handled = handled.clone();
        async move {
            if let NextEvent::Invoke(invoke) = event.next {
                let settle = cache.on_invoke_until(handled.wait(&invoke.request_id));
                // Never past the invocation's own deadline: the response has gone out long before, and
                // Lambda would time the invocation out and reset the sandbox. (The emulator sends 0.)
                match time_left(invoke.deadline_ms) {
                    Some(left) => {
                        let _ = tokio::time::timeout(left, settle).await;
                    }
                    None => settle.await,
                }
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

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, SystemTime, UNIX_EPOCH};

    #[test]
    fn the_wait_ends_before_the_invocation_deadline() {
        assert_eq!(time_left(0), None, "no deadline given (the emulator)");
        let now_ms = SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_millis() as u64;
        let left = time_left(now_ms + 3000).expect("a deadline");
        assert!(
            left < Duration::from_millis(2960) && left > Duration::from_millis(2000),
            "{left:?}"
        );
        assert_eq!(time_left(now_ms - 1000), Some(Duration::ZERO), "already past");
    }

    #[tokio::test]
    async fn the_wait_ends_when_that_invocation_is_finished() {
        let handled = Handled::new();
        let waiting = tokio::spawn({
            let handled = handled.clone();
            async move { handled.wait("b").await }
        });
        handled.finished("a");
        tokio::task::yield_now().await;
        assert!(!waiting.is_finished(), "another invocation's end does not count");
        handled.finished("b");
        tokio::time::timeout(Duration::from_secs(5), waiting)
            .await
            .expect("woken")
            .expect("joined");
        // Already finished: no wait at all.
        tokio::time::timeout(Duration::from_secs(5), handled.wait("b"))
            .await
            .expect("immediate");
    }
}
