//! The origin-verify secret cache: keeps the `AWSCURRENT`, `AWSPENDING` and `AWSPREVIOUS` values of one
//! Secrets Manager secret hot in memory for the authorizer, behind `arc-swap`, refreshed off the hot path.
//!
//! The cache library ([`SecretCache`], [`Loader`], [`Snapshot`]) is independent of Lambda; [`register`]
//! wires it into the Lambda Extensions API of the process it runs in. [`SecretStore`] is the same
//! refresh machinery for any number of secrets and any version, behind the layer's HTTP front end
//! (`origin-verify-layer`).
#![deny(missing_docs)]
#![warn(clippy::all, rust_2018_idioms)]
#![forbid(unsafe_code)]

mod cache;
mod config;
mod error;
mod loader;
pub mod metrics;
mod refresh;
mod register;
mod secret;
mod snapshot;
mod store;
mod trust;

pub use cache::{CacheStats, Decision, DenyReason, SecretCache, HANDLER_WAIT_MAX, REFRESH_WAIT_MAX};
pub use config::{CacheConfig, DEFAULT_MAX_STALENESS};
pub use error::ServiceReply;
pub use error::{Error, ErrorKind};
pub use loader::{
    client_settings, default_client, extract_value, is_transient_error, CallCounts, HasStatus, Loader,
};
pub use register::{register, time_left, Handled, EXTENSION_NAME};
pub use secret::{Presented, SecretValue, MAX_VALUE_LEN};
pub use snapshot::{HeldVersion, PreviousVersion, Snapshot, Stage};
pub use store::{Found, SecretStore, StoreConfig, Version, Wanted, DEFAULT_STAGE};
pub use trust::{Trust, TRUST_STORE_VAR};
