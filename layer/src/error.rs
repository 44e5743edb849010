//! The layer's one error type: what can stop it from starting or serving.

/// Why the layer cannot run.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A configuration variable is missing or malformed.
    #[error(transparent)]
    Config(#[from] origin_verify_shared::ConfigError),
    /// The port is taken (another extension, or AWS's own, on the same port).
    #[error("cannot listen on 127.0.0.1:{port} ({source}); another extension may hold it: set PARAMETERS_SECRETS_EXTENSION_HTTP_PORT to a free port, or remove the other layer")]
    Bind {
        /// The port.
        port: u16,
        /// Why.
        source: std::io::Error,
    },
    /// The Lambda Extensions API refused or failed.
    #[error("Lambda extension: {0}")]
    Extension(String),
}
