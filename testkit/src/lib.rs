//! Test support shared by the crates' integration tests: moto (Secrets Manager) and cargo-lambda
//! processes, SDK clients pointed at them, and secret fixtures.
//!
//! The test command (`scripts/test`) installs the pinned tools and starts one shared moto server; its
//! address reaches tests as [`MOTO_URL_VAR`]. Tests that must stop moto start their own with
//! [`Moto::spawn`]. What moto cannot show is mocked with `aws-smithy-mocks` ([`mocked_cf_client`]).
#![warn(missing_docs, clippy::all)]

pub use aws_smithy_mocks;

mod alloc;
mod cloudfront;
mod events;
mod fake_sm;
mod fixtures;
mod mocks;
mod origin;
mod process;
mod runtime_api;
mod sandbox;
mod serve;

pub use alloc::*;
pub use cloudfront::*;
pub use events::*;
pub use fake_sm::*;
pub use fixtures::*;
pub use mocks::*;
pub use origin::*;
pub use process::*;
pub use runtime_api::*;
pub use sandbox::*;
pub use serve::*;

/// Environment variable holding the shared moto server's URL (set by `scripts/test`).
pub const MOTO_URL_VAR: &str = "ORIGIN_VERIFY_TEST_MOTO_URL";
/// Environment variable holding the directory of the pinned tools (`moto_server`, `cargo-lambda`).
pub const TOOLS_BIN_VAR: &str = "ORIGIN_VERIFY_TEST_TOOLS_BIN";
/// The region every test uses (moto is region-scoped).
pub const REGION: &str = "us-east-1";
