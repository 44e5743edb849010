//! Conventions shared by the authorizer and the rotator, so that the two can never disagree:
//! how configuration is read from the environment, how the header value sits inside the secret, and how
//! metrics are printed (CloudWatch Embedded Metric Format, [`emf`]).
#![deny(missing_docs)]
#![warn(clippy::all, rust_2018_idioms)]
#![forbid(unsafe_code)]

pub mod emf;
mod env;
mod secret_format;

pub use env::{is_header_name, table, ConfigError, Env};
pub use secret_format::{HeaderSecret, SecretFormat, Sensitive};
