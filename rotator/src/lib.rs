//! The origin-verify rotator: a Secrets Manager rotation function that rotates the header value and
//! every CloudFront origin that sends it, without a moment in which CloudFront sends a value the
//! authorizer refuses.
//!
//! The order is what makes it safe (README, "Rotation"): createSecret stores AWSPENDING; setSecret waits
//! one authorizer refresh interval from the moment it reads the value, proves the origin accepts it, and
//! only then writes it into CloudFront; testSecret checks both values, waits for CloudFront to deploy and
//! checks through it; finishSecret checks again that every origin sends the new value and moves AWSCURRENT.
#![deny(missing_docs)]
#![warn(clippy::all, rust_2018_idioms)]
#![forbid(unsafe_code)]

pub mod cloudfront;
mod config;
mod config_document;
mod error;
pub mod metrics;
mod probe;
mod rotation;
mod secrets;
mod xml;

pub use config::{RotatorConfig, PROPAGATION_MARGIN};
pub use error::{Error, Step};
pub use rotation::{Outcome, Rotator};
