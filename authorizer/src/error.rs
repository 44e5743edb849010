//! The authorizer's one error type, and how each error reaches API Gateway.

use lambda_runtime::Diagnostic;

/// Why an invocation fails instead of answering allow or deny.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A REST API request without the header: API Gateway answers 401 for exactly this message.
    #[error("Unauthorized")]
    Unauthorized,
    /// A configuration variable is missing or malformed (stops the function at INIT).
    #[error(transparent)]
    Config(#[from] origin_verify_shared::ConfigError),
    /// The secret cache cannot decide (nothing loaded yet, or too stale): fail closed, uncached.
    #[error(transparent)]
    Cache(#[from] origin_verify_extension::Error),
}

impl From<Error> for Diagnostic {
    fn from(err: Error) -> Self {
        let error_type = match &err {
            Error::Unauthorized => "Unauthorized",
            Error::Config(_) => "OriginVerifyConfig",
            Error::Cache(_) => "OriginVerifySecretUnavailable",
        };
        Diagnostic {
            error_type: error_type.to_owned(),
            error_message: err.to_string(),
        }
    }
}
