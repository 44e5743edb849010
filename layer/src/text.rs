//! Every text a caller of the layer can read, in one place. The refusals are those of AWS's Secrets
//! Manager Agent, word for word, so code written against it reads the same answers here.

/// `/ping`'s answer.
pub const HEALTHY: &str = "healthy";
/// A request carrying `X-Forwarded-For`: it came through a proxy, not from the function.
pub const FORWARDED: &str = "Forwarded";
/// No token, or not the function's.
pub const BAD_TOKEN: &str = "Bad Token";
/// Anything but GET.
pub const NOT_ALLOWED: &str = "Not allowed";
/// Any other path.
pub const NOT_FOUND: &str = "Not found";
/// `secretId` missing or empty.
pub const MISSING_SECRET_ID: &str = "missing parameter secretId";
/// `/v1/` with nothing after it.
pub const MISSING_PATH_SECRET_ID: &str = "missing secret ID";
/// `refreshNow` not one of true, false, 1, 0.
pub const INVALID_REFRESH_NOW: &str = "invalid refreshNow value";
/// A parameter the contract does not know (the name follows).
pub const UNKNOWN_PARAMETER: &str = "unknown parameter: ";
/// A parameter given twice (the name follows). AWS's agent takes the last one; which one the caller
/// meant is ambiguous, so we refuse.
pub const DUPLICATE_PARAMETER: &str = "duplicate parameter: ";
/// More connections than the layer serves at once.
pub const CONNECTION_LIMIT: &str = "Connection limit exceeded";

/// `__type` of an answer that is not Secrets Manager's own: nothing loaded, past the maximum staleness,
/// or a failure inside the layer.
pub const INTERNAL_FAILURE: &str = "InternalFailure";
/// `__type` when Secrets Manager did not answer in time.
pub const TIMEOUT: &str = "TimeoutError";
/// `__type` when Secrets Manager could not be reached.
pub const CONNECTION_ERROR: &str = "ConnectionError";
/// `__type` for a label or version the secret does not have (Secrets Manager's own code).
pub const RESOURCE_NOT_FOUND: &str = "ResourceNotFoundException";
/// The message when both `versionId` and `versionStage` are given and name different versions.
pub const ID_AND_STAGE_DIFFER: &str = "versionId and versionStage name different versions";
