//! The rotator's one error type. Every message says which step, which resource and why; none contains a
//! secret value.

use std::fmt;

use lambda_runtime::Diagnostic;

/// A rotation step, as Secrets Manager names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    /// `createSecret`: generate and store the AWSPENDING value.
    Create,
    /// `setSecret`: make sure the origin accepts it, then give it to CloudFront.
    Set,
    /// `testSecret`: check both values at the origin, wait for CloudFront to deploy, check through it.
    Test,
    /// `finishSecret`: move AWSCURRENT to the new version.
    Finish,
}

impl Step {
    /// Parses Secrets Manager's step name.
    pub fn parse(name: &str) -> Option<Self> {
        match name {
            "createSecret" => Some(Step::Create),
            "setSecret" => Some(Step::Set),
            "testSecret" => Some(Step::Test),
            "finishSecret" => Some(Step::Finish),
            _ => None,
        }
    }

    /// Secrets Manager's name for it.
    pub fn name(self) -> &'static str {
        match self {
            Step::Create => "createSecret",
            Step::Set => "setSecret",
            Step::Test => "testSecret",
            Step::Finish => "finishSecret",
        }
    }
}

impl fmt::Display for Step {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Why a rotation step failed.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A configuration variable is missing or malformed.
    #[error(transparent)]
    Config(#[from] origin_verify_shared::ConfigError),
    /// The event names no known step.
    #[error("unknown rotation step {0:?} (expected createSecret, setSecret, testSecret or finishSecret)")]
    UnknownStep(String),
    /// The rotation contract's preamble refused the request.
    #[error("{step}: secret {secret}, version {token}: {problem}")]
    Preamble {
        /// The step.
        step: Step,
        /// The secret id from the event.
        secret: String,
        /// The ClientRequestToken.
        token: String,
        /// Why.
        problem: &'static str,
    },
    /// A Secrets Manager call failed.
    #[error("{step}: Secrets Manager {operation} on {secret} failed: {message}")]
    SecretsManager {
        /// The step.
        step: Step,
        /// The API operation.
        operation: &'static str,
        /// The secret id.
        secret: String,
        /// The service's or the transport's message.
        message: String,
    },
    /// A secret version's value is unusable. Never quotes the value.
    #[error("{step}: secret {secret}, version {version}: {problem}")]
    Format {
        /// The step.
        step: Step,
        /// The secret id.
        secret: String,
        /// The version id or stage.
        version: String,
        /// Why.
        problem: String,
    },
    /// A CloudFront call failed.
    #[error("{step}: CloudFront {operation} on distribution {distribution} failed: {message}")]
    CloudFront {
        /// The step.
        step: Step,
        /// The API operation.
        operation: &'static str,
        /// The distribution id.
        distribution: String,
        /// The service's or the transport's message.
        message: String,
    },
    /// An origin listed in `CLOUDFRONT_ORIGIN_IDS` does not exist on the distribution.
    #[error("{step}: distribution {distribution}: {problem}")]
    NoMatchingOrigin {
        /// The step.
        step: Step,
        /// The distribution id.
        distribution: String,
        /// What is missing.
        problem: String,
    },
    /// An origin listed in `CLOUDFRONT_ORIGIN_IDS` may not get the header: its protocol policy is not
    /// `https-only`, or its domain is not one of the API's (the hosts of `ORIGIN_TEST_URLS`). Refused
    /// before any value is sent anywhere; nothing was written.
    #[error(
        "{step}: distribution {distribution}, origin {origin:?}: refused: {problem}; nothing was written"
    )]
    OriginRefused {
        /// The step.
        step: Step,
        /// The distribution id.
        distribution: String,
        /// The origin id.
        origin: String,
        /// Why, naming the policy or the domain.
        problem: String,
    },
    /// The configuration document CloudFront returned cannot be edited safely (malformed, not a
    /// `DistributionConfig`, or read differently by the SDK); nothing was changed. Never quotes the document.
    #[error("{step}: distribution {distribution}: the configuration CloudFront returned cannot be edited in place ({problem}); nothing was changed")]
    ConfigDocument {
        /// The step.
        step: Step,
        /// The distribution id.
        distribution: String,
        /// What is wrong, by position and element name.
        problem: String,
    },
    /// UpdateDistribution kept losing to concurrent changes.
    #[error("{step}: distribution {distribution}: the configuration changed under every one of {attempts} updates (ETag conflict); nothing was lost, retry later")]
    EtagConflict {
        /// The step.
        step: Step,
        /// The distribution id.
        distribution: String,
        /// Attempts made.
        attempts: usize,
    },
    /// An origin that must send the AWSPENDING value does not (any more): something put another value back
    /// after setSecret, such as a stack update re-resolving `{{resolve:secretsmanager:...}}` to AWSCURRENT
    /// or a person editing the distribution. testSecret and finishSecret then fail rather than let
    /// AWSCURRENT move while an edge still sends the value about to be demoted.
    #[error("{step}: distribution {distribution}: origin(s) {origins:?} do not send the AWSPENDING value (a stack update or an edit put another value back); AWSCURRENT stays where it is, and the retried rotation's setSecret sets the value again")]
    NotCarried {
        /// The step.
        step: Step,
        /// The distribution id.
        distribution: String,
        /// Ids of the origins that send another value, or none.
        origins: Vec<String>,
    },
    /// A distribution did not finish deploying within the budget.
    #[error("{step}: distribution {distribution} is still {status} after {waited_secs}s (ROTATION_DEPLOY_WAIT_SECONDS); both values stay accepted and Secrets Manager will retry")]
    NotDeployed {
        /// The step.
        step: Step,
        /// The distribution id.
        distribution: String,
        /// Its last status.
        status: String,
        /// How long the step waited.
        waited_secs: u64,
    },
    /// An origin test URL admitted a random wrong value: it does not check the header, so its answer to
    /// a real value proves nothing. The real value was not sent to it.
    #[error("{step}: {url} answered {status} to a wrong value: the URL is not protected by the authorizer (a route without it, or a URL through CloudFront, which overwrites the header); use a route that answers 401 or 403 to a wrong value")]
    Unprotected {
        /// The step.
        step: Step,
        /// The URL requested.
        url: String,
        /// The status it answered.
        status: u16,
    },
    /// A test request failed: no 2xx to the value (or, through CloudFront, without it), a wrong value
    /// admitted, or a redirect (never followed).
    #[error("{step}: {url} with {presented} failed the test after {attempts} attempt(s): {problem}")]
    Probe {
        /// The step.
        step: Step,
        /// The URL requested.
        url: String,
        /// Which value was sent: "AWSPENDING", "AWSCURRENT", or "no header (through CloudFront)".
        presented: &'static str,
        /// Attempts made.
        attempts: usize,
        /// The last status or transport error.
        problem: String,
    },
}

impl Error {
    /// Whether this is a test URL that admitted a wrong value ([`Error::Unprotected`]).
    pub fn is_unprotected(&self) -> bool {
        matches!(self, Error::Unprotected { .. })
    }
}

impl From<Error> for Diagnostic {
    fn from(err: Error) -> Self {
        let error_type = match &err {
            Error::Config(_) => "RotatorConfig",
            Error::UnknownStep(_) | Error::Preamble { .. } => "RotationRefused",
            Error::SecretsManager { .. } | Error::Format { .. } => "SecretsManager",
            Error::CloudFront { .. }
            | Error::NoMatchingOrigin { .. }
            | Error::OriginRefused { .. }
            | Error::EtagConflict { .. }
            | Error::ConfigDocument { .. } => "CloudFront",
            Error::NotDeployed { .. } => "CloudFrontNotDeployed",
            Error::NotCarried { .. } => "CloudFrontNotSendingPending",
            Error::Probe { .. } | Error::Unprotected { .. } => "OriginTestFailed",
        };
        Diagnostic {
            error_type: error_type.to_owned(),
            error_message: err.to_string(),
        }
    }
}
