//! The crate's one error type. Its messages are the user-facing text; none ever contains a secret value.

/// Everything that can go wrong while configuring, loading or serving the secret.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A configuration variable is missing or malformed.
    #[error(transparent)]
    Config(#[from] origin_verify_shared::ConfigError),
    /// A Secrets Manager call failed.
    #[error("Secrets Manager {operation} for secret {secret_id} failed ({kind}): {message}")]
    SecretsManager {
        /// The API operation.
        operation: &'static str,
        /// The secret id as configured.
        secret_id: String,
        /// `transient` (retried with backoff) or `permanent` (needs an operator).
        kind: ErrorKind,
        /// The service's or the transport's message.
        message: String,
        /// What Secrets Manager itself answered, when it answered (the layer passes it on).
        reply: Option<Box<ServiceReply>>,
    },
    /// The secret has no `AWSCURRENT` version.
    #[error("secret {secret_id} has no version labelled AWSCURRENT")]
    NoCurrentVersion {
        /// The secret id as configured.
        secret_id: String,
    },
    /// A version's value is not in a usable format. Says which version and why, never the value.
    #[error("secret {secret_id} version {version_id}: {problem}")]
    Format {
        /// The secret id as configured.
        secret_id: String,
        /// The version id.
        version_id: String,
        /// What is wrong.
        problem: String,
    },
    /// No snapshot has been loaded yet (cold start while Secrets Manager is unreachable).
    #[error(
        "the origin-verify secret is not loaded yet; failing closed so API Gateway does not cache a deny"
    )]
    NotLoaded,
    /// The snapshot is older than `ORIGIN_VERIFY_MAX_STALENESS_SECONDS`.
    #[error("the origin-verify secret was last refreshed {age_secs}s ago, beyond the configured maximum; failing closed")]
    TooStale {
        /// Age of the snapshot.
        age_secs: u64,
    },
    /// A value matched nothing held, but the snapshot is older than the refresh interval and the due
    /// refresh did not complete within the miss wait: no deny is decided on stale data.
    #[error("no match on a secret snapshot {age_secs}s old whose refresh has not completed (slow or failing Secrets Manager); failing the invocation rather than denying on stale data")]
    RefreshPending {
        /// Age of the snapshot.
        age_secs: u64,
    },
    /// The secret has no version with this staging label (what Secrets Manager would answer; the layer
    /// caches the absence until the next refresh instead of asking again).
    #[error("Secrets Manager can't find the specified secret value for staging label: {label}")]
    StageNotFound {
        /// The staging label asked for.
        label: String,
    },
    /// Nothing of the secret is held, and this is why its last load failed.
    #[error("{0}")]
    Loading(std::sync::Arc<Error>),
    /// The Lambda Extensions API refused or failed.
    #[error("Lambda extension: {0}")]
    Extension(String),
}

/// An error answer from Secrets Manager: its HTTP status, error code and message (never a secret value).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceReply {
    /// HTTP status, such as 400.
    pub status: u16,
    /// The error code, such as `ResourceNotFoundException`.
    pub code: String,
    /// The service's message.
    pub message: String,
}

/// Whether a Secrets Manager failure is worth retrying soon.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// Throttling, timeouts, 5xx, connection problems.
    Transient,
    /// Access denied, not found, decryption failure, bad request: retrying soon will not help.
    Permanent,
}

impl std::fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            ErrorKind::Transient => "transient",
            ErrorKind::Permanent => "permanent",
        })
    }
}

impl Error {
    /// Whether the error is a transient Secrets Manager failure.
    pub fn is_transient(&self) -> bool {
        matches!(
            self,
            Error::SecretsManager {
                kind: ErrorKind::Transient,
                ..
            }
        )
    }
}
