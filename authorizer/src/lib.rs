//! The origin-verify authorizer: admits an API Gateway request only when it carries the secret header
//! that CloudFront adds, compared in constant time against the cached `AWSCURRENT`, `AWSPENDING` and
//! (within its grace window) `AWSPREVIOUS` values.
//!
//! [`Authorizer::handle`] takes the raw event and returns the response; the binary wires it into
//! `lambda_runtime` beside the cache's extension.
#![deny(missing_docs)]
#![warn(clippy::all, rust_2018_idioms)]
#![forbid(unsafe_code)]

pub mod config;
mod error;
pub mod event;
pub mod raw_event;
pub mod response;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use origin_verify_extension::metrics::Counter;
use origin_verify_extension::{Decision, DenyReason, SecretCache, Stage};

pub use config::{Config, ResponseMode};
pub use error::Error;
use event::{Event, EventKind, Presented};
pub use response::{policy_resource, Response};

/// Decides on authorizer events using a shared [`SecretCache`].
#[derive(Debug, Clone)]
pub struct Authorizer {
    config: Arc<Config>,
    cache: Arc<SecretCache>,
    /// Whether an identity-source mismatch was logged: it is a misconfiguration that holds for every
    /// request, so it is logged once per authorizer and its clones (the binary builds one per sandbox).
    identity_mismatch_logged: Arc<AtomicBool>,
}

/// The answer about an event that could be read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Admitted: the header holds the value of this stage.
    Allow(Stage),
    /// Refused, for this reason.
    Deny(Denial),
}

/// Why a readable event was denied: one name per cause, for logs and for counting them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Denial {
    /// No header (HTTP API payloads: a REST request without it is [`Error::Unauthorized`] instead).
    HeaderMissing,
    /// The header more than once.
    HeaderRepeated,
    /// `identitySource` is present but not exactly the header value that was checked: the authorizer is
    /// configured with another identity source than the header alone, and an answer cached under it could
    /// be served to requests that never carried the value ([`event::IdentitySource::admits`]).
    IdentitySourceMismatch,
    /// The value itself (the cache's reason: it matches nothing, or it cannot match anything).
    Value(DenyReason),
}

impl Authorizer {
    /// An authorizer reading its values from `cache`.
    pub fn new(config: Config, cache: Arc<SecretCache>) -> Self {
        Self {
            config: Arc::new(config),
            cache,
            identity_mismatch_logged: Arc::new(AtomicBool::new(false)),
        }
    }

    /// The cache it reads.
    pub fn cache(&self) -> &Arc<SecretCache> {
        &self.cache
    }

    /// Answers one authorizer event given as the bytes Lambda delivered ([`raw_event`]). Lambda only
    /// delivers JSON, which is UTF-8; anything else is denied like any malformed event.
    ///
    /// Errors only for a REST request without the header (`Unauthorized`, a 401) and when the cache
    /// cannot decide (nothing loaded yet): every malformed or unknown event is a deny.
    pub async fn handle_bytes(&self, raw: &[u8]) -> Result<Response, Error> {
        let event = match Event::parse(raw, &self.config.header) {
            Ok(event) => event,
            Err(why) => {
                tracing::debug!(?why, "unrecognised event denied");
                self.cache.metrics().count(Counter::DeniesMalformed);
                return Ok(Response::DenyAnyShape);
            }
        };
        let allow = match self.decide(&event).await? {
            Verdict::Allow(stage) => {
                tracing::debug!(stage = stage.label(), kind = ?event.kind, "allowed");
                true
            }
            Verdict::Deny(reason) => {
                tracing::debug!(?reason, kind = ?event.kind, "denied");
                false
            }
        };
        Ok(self.respond(&event, allow))
    }

    /// The answer about an event already read, and why.
    ///
    /// Errors only for a REST request without the header (`Unauthorized`, a 401) and when the cache
    /// cannot decide.
    /// The header-level denials are counted here (metrics); the cache counts its own outcomes.
    pub async fn decide(&self, event: &Event<'_>) -> Result<Verdict, Error> {
        let metrics = self.cache.metrics();
        let value = match &event.header {
            Presented::One(value) => value,
            Presented::Missing if matches!(event.kind, EventKind::RestRequest | EventKind::RestToken) => {
                metrics.count(Counter::DeniesMissing);
                return Err(Error::Unauthorized);
            }
            Presented::Missing => {
                metrics.count(Counter::DeniesMissing);
                return Ok(Verdict::Deny(Denial::HeaderMissing));
            }
            Presented::Duplicate => {
                metrics.count(Counter::DeniesRepeated);
                return Ok(Verdict::Deny(Denial::HeaderRepeated));
            }
        };
        // Before the cache: the answer would be cached under a key that is not the value, so no value can
        // make it safe, and a mismatch must not start refreshes either.
        if !event.identity.admits(value) {
            if !self.identity_mismatch_logged.swap(true, Ordering::Relaxed) {
                tracing::warn!(
                    kind = ?event.kind,
                    identity_source = ?event.identity,
                    header = %self.config.header,
                    "identity-source mismatch: identitySource is not exactly the header's value, so the \
                     request is denied, as is every request while the authorizer's identity sources are \
                     not that header alone; configure $request.header.<header> as its only identity \
                     source, or none with caching off (logged once per sandbox)"
                );
            }
            metrics.count(Counter::DeniesIdentitySource);
            return Ok(Verdict::Deny(Denial::IdentitySourceMismatch));
        }
        match self.cache.decide(value.as_bytes()).await {
            Ok(Decision::Allow(stage)) => Ok(Verdict::Allow(stage)),
            Ok(Decision::Deny(reason)) => Ok(Verdict::Deny(Denial::Value(reason))),
            Err(err) => {
                tracing::warn!(error = %err, "cannot decide; failing the invocation");
                Err(err.into())
            }
        }
    }

    /// Answers one raw authorizer event given as text: [`Authorizer::handle_bytes`].
    pub async fn handle(&self, raw: &str) -> Result<Response, Error> {
        self.handle_bytes(raw.as_bytes()).await
    }

    fn respond(&self, event: &Event<'_>, allow: bool) -> Response {
        match (event.kind, self.config.response) {
            (EventKind::HttpV2, ResponseMode::Simple) => Response::Simple { authorized: allow },
            _ => Response::Policy {
                allow,
                resource: policy_resource(event.arn.as_deref()),
            },
        }
    }
}
