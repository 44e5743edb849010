//! The origin-verify secret cache as an external Lambda extension: a layer any function, in any
//! language, reads its secrets from over HTTP on `127.0.0.1:2773`, with the requests, answers and
//! settings of AWS's Parameters and Secrets Lambda Extension and Secrets Manager Agent — and the
//! rotation-aware cache of [`origin_verify_extension::SecretStore`] behind them.
#![deny(missing_docs)]
#![warn(clippy::all, rust_2018_idioms)]
#![forbid(unsafe_code)]

pub mod config;
mod error;
pub mod request;
pub mod response;
pub mod server;
pub mod text;
pub mod token;

pub use config::LayerConfig;
pub use error::Error;
pub use server::Server;
