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

use std::sync::Arc;

use origin_verify_extension::{Decision, SecretCache};

pub use config::{Config, ResponseMode};
pub use error::Error;
use event::{Event, EventKind, Presented};
pub use response::{policy_resource, Response};

/// Decides on authorizer events using a shared [`SecretCache`].
#[derive(Debug, Clone)]
pub struct Authorizer {
    config: Arc<Config>,
    cache: Arc<SecretCache>,
}

impl Authorizer {
    /// An authorizer reading its values from `cache`.
    pub fn new(config: Config, cache: Arc<SecretCache>) -> Self {
        Self {
            config: Arc::new(config),
            cache,
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
                return Ok(Response::DenyAnyShape);
            }
        };
        let allow = match &event.header {
            Presented::One(value) => match self.cache.decide(value.as_bytes()).await {
                Ok(Decision::Allow(stage)) => {
                    tracing::debug!(stage = stage.label(), kind = ?event.kind, "allowed");
                    true
                }
                Ok(Decision::Deny(reason)) => {
                    tracing::debug!(?reason, kind = ?event.kind, "denied");
                    false
                }
                Err(err) => {
                    tracing::warn!(error = %err, "cannot decide; failing the invocation");
                    return Err(err.into());
                }
            },
            Presented::Missing if matches!(event.kind, EventKind::RestRequest | EventKind::RestToken) => {
                return Err(Error::Unauthorized);
            }
            Presented::Missing | Presented::Duplicate => {
                tracing::debug!(header = ?event.header, kind = ?event.kind, "denied: header missing or repeated");
                false
            }
        };
        Ok(self.respond(&event, allow))
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
