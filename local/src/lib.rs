//! The whole system on emulated AWS, for people without an AWS account at hand and for the end-to-end
//! test: moto holds the secret and a CloudFront distribution, the real `authorizer` and `rotator` run
//! under cargo-lambda's emulator, and small stand-ins play the parts that cannot run here:
//!
//! - [`edge`]: CloudFront (reads the origin header from the distribution, applies changes after a delay
//!   per simulated edge location, sets the header — overwriting any copy the viewer sent — forwards);
//! - [`gateway`]: an HTTP API with a Lambda authorizer (401 without invoking, bounded authorizer cache,
//!   403; an allow invokes the real `backend` function, with the header removed as the template's
//!   integration does);
//! - [`driver`]: Secrets Manager's rotation (the four steps, in order, retried).
//!
//! The gateway's second route, `/python/`, is protected by the blog's authorizer design in Python reading
//! the secret from `origin-verify-layer`, run as Lambda runs a function with a layer ([`python`]).
//!
//! Both servers are [`serve`]'s: loopback only, a timeout on slow header sections, bounded header size and
//! connection count. Every client, the AWS SDK's included, goes straight to its loopback server, never
//! through a proxy ([`direct`]). [`stack`] starts everything and runs the seed's story under load, then
//! reads the functions' metrics back from their EMF lines ([`metrics`]) and looks for every value the
//! secret held in every log and report ([`scan`]).
#![deny(missing_docs)]
#![warn(clippy::all, rust_2018_idioms)]
#![forbid(unsafe_code)]

pub mod direct;
pub mod driver;
pub mod edge;
/// The CloudWatch EMF format and metric names, shared with the functions that print them.
pub use origin_verify_shared::emf;
pub mod gateway;
pub mod metrics;
pub mod python;
pub mod scan;
pub mod serve;
pub mod stack;

/// Why the local stack could not do its job.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A part could not be set up.
    #[error("setting up the local stack: {0}")]
    Setup(String),
    /// An HTTP client could not be built.
    #[error("HTTP client: {0}")]
    Http(String),
    /// The load test refused the plan.
    #[error(transparent)]
    Load(#[from] origin_verify_loadtest::Error),
    /// Writing the report failed.
    #[error("writing {path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// The cause.
        source: std::io::Error,
    },
    /// The options cannot work together.
    #[error("{0}")]
    Options(String),
}

impl Error {
    pub(crate) fn http(err: reqwest::Error) -> Self {
        Error::Http(err.to_string())
    }
}
