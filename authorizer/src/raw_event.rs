//! Hands the handler the invocation's bytes as Lambda delivered them, instead of a value the runtime
//! parsed first.
//!
//! Why: `lambda_runtime` deserialises every event into the handler's payload type before the handler
//! runs. The cheapest type it offers (`Box<RawValue>`) still walks the whole event to validate it and
//! copies it, which cost more than our own parse of the event (BENCHMARKS.md, "Full handler"). The
//! runtime's layers see the raw body first: [`RawEventLayer`] takes it (a reference-counted `Bytes`, no
//! copy), keeps it for the handler under the invocation's request id, and gives the runtime `null` to
//! deserialise into `()`. The handler then parses the event once, with [`crate::Authorizer::handle_bytes`].
//! Invocations are processed one at a time (`Runtime::run`), so one slot is enough; the request id makes
//! a mix-up impossible rather than unlikely.

use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use lambda_runtime::tower::{Layer, Service};
use lambda_runtime::LambdaInvocation;

/// What the runtime deserialises in place of the event: `()` reads `null`.
const PLACEHOLDER: &[u8] = b"null";

#[derive(Default)]
struct Slot {
    request_id: String,
    body: bytes::Bytes,
}

/// Never shows the body: it carries the header, which may be the secret.
impl std::fmt::Debug for Slot {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Slot")
            .field("request_id", &self.request_id)
            .field("body_len", &self.body.len())
            .finish()
    }
}

/// The shared slot between [`RawEventLayer`] and the handler.
#[derive(Debug, Clone, Default)]
pub struct RawEvents {
    slot: Arc<Mutex<Option<Slot>>>,
}

impl RawEvents {
    /// The layer that fills this slot; add it last (outermost) to the `Runtime`.
    pub fn layer(&self) -> RawEventLayer {
        RawEventLayer { events: self.clone() }
    }

    /// The bytes of the invocation `request_id`, once. `None` if the layer did not keep them (it always
    /// does when installed; the caller denies then).
    pub fn take(&self, request_id: &str) -> Option<bytes::Bytes> {
        let mut slot = self.slot.lock().unwrap_or_else(|e| e.into_inner());
        match slot.take() {
            Some(s) if s.request_id == request_id => Some(s.body),
            _ => None,
        }
    }

    fn keep(&self, request_id: &str, body: bytes::Bytes) {
        let mut slot = self.slot.lock().unwrap_or_else(|e| e.into_inner());
        *slot = Some(Slot {
            request_id: request_id.to_owned(),
            body,
        });
    }
}

/// A `lambda_runtime` layer that moves each invocation's body into [`RawEvents`].
#[derive(Debug, Clone)]
pub struct RawEventLayer {
    events: RawEvents,
}

impl<S> Layer<S> for RawEventLayer {
    type Service = RawEventService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        RawEventService {
            inner,
            events: self.events.clone(),
        }
    }
}

/// The service [`RawEventLayer`] builds.
#[derive(Debug, Clone)]
pub struct RawEventService<S> {
    inner: S,
    events: RawEvents,
}

impl<S> Service<LambdaInvocation> for RawEventService<S>
where
    S: Service<LambdaInvocation>,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = S::Future;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut invocation: LambdaInvocation) -> Self::Future {
        let body = std::mem::replace(&mut invocation.body, bytes::Bytes::from_static(PLACEHOLDER));
        self.events.keep(&invocation.context.request_id, body);
        self.inner.call(invocation)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bytes_are_taken_once_and_only_by_their_request() {
        let events = RawEvents::default();
        events.keep("a", bytes::Bytes::from_static(b"{}"));
        assert_eq!(
            events.take("b"),
            None,
            "another request's bytes are never handed out"
        );
        events.keep("a", bytes::Bytes::from_static(b"{}"));
        assert_eq!(events.take("a").as_deref(), Some(&b"{}"[..]));
        assert_eq!(events.take("a"), None, "taken once");
    }

    #[test]
    fn debug_output_never_shows_the_event() {
        let events = RawEvents::default();
        events.keep(
            "a",
            bytes::Bytes::from_static(br#"{"headers":{"x-origin-verify":"hunter2"}}"#),
        );
        let shown = format!("{events:?} {:?}", events.layer());
        assert!(!shown.contains("hunter2"), "{shown}");
        assert!(shown.contains("body_len"), "{shown}");
    }
}
