//! Loading the secret's stages from Secrets Manager: DescribeSecret, then GetSecretValue only for the
//! versions not already held.
//!
//! Round trips, not just calls, are what a load costs in wall time (the INIT prefetch is on the cold
//! start's path): the first load asks for `AWSCURRENT` beside DescribeSecret, and the pending and
//! previous versions are fetched together.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime};

use aws_sdk_secretsmanager::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use aws_sdk_secretsmanager::Client;
use origin_verify_shared::HeaderSecret;
use zeroize::Zeroizing;

use crate::error::{ErrorKind, ServiceReply};
use crate::secret::SecretValue;
use crate::snapshot::{HeldVersion, PreviousVersion, Snapshot};
use crate::{CacheConfig, Error, Trust};

const CURRENT: &str = "AWSCURRENT";
const PENDING: &str = "AWSPENDING";
const PREVIOUS: &str = "AWSPREVIOUS";

/// Counts of Secrets Manager calls made by one loader, for tests, logs and the load-test summary.
#[derive(Debug, Default)]
pub struct CallCounts {
    describe: AtomicU64,
    get_value: AtomicU64,
}

impl CallCounts {
    /// DescribeSecret calls so far.
    pub fn describe(&self) -> u64 {
        self.describe.load(Ordering::Relaxed)
    }

    /// GetSecretValue calls so far.
    pub fn get_value(&self) -> u64 {
        self.get_value.load(Ordering::Relaxed)
    }

    /// All Secrets Manager calls so far.
    pub fn total(&self) -> u64 {
        self.describe() + self.get_value()
    }

    pub(crate) fn count_describe(&self) {
        self.describe.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn count_get_value(&self) {
        self.get_value.fetch_add(1, Ordering::Relaxed);
    }
}

/// Which version ids carry which stage, as DescribeSecret reports them.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Stages {
    current: String,
    pending: Option<String>,
    previous: Option<String>,
    last_rotated: Option<SystemTime>,
}

impl Stages {
    fn from_describe(
        secret_id: &str,
        versions: Option<&HashMap<String, Vec<String>>>,
        last_rotated: Option<SystemTime>,
    ) -> Result<Self, Error> {
        let find = |stage: &str| {
            versions.and_then(|v| {
                v.iter()
                    .find(|(_, stages)| stages.iter().any(|s| s == stage))
                    .map(|(id, _)| id.clone())
            })
        };
        let current = find(CURRENT).ok_or_else(|| Error::NoCurrentVersion {
            secret_id: secret_id.to_owned(),
        })?;
        // A version carrying both AWSPENDING and AWSCURRENT (a finished rotation whose label was not yet
        // removed) is simply the current one.
        let pending = find(PENDING).filter(|p| *p != current);
        let previous = find(PREVIOUS).filter(|p| *p != current);
        Ok(Self {
            current,
            pending,
            previous,
            last_rotated,
        })
    }
}

/// Reads the secret from Secrets Manager and builds snapshots.
#[derive(Debug)]
pub struct Loader {
    client: Client,
    config: CacheConfig,
    calls: CallCounts,
    /// The secret's last rotation (or creation) as DescribeSecret last said, in epoch seconds; 0 = unknown.
    rotated_at: AtomicU64,
}

impl Loader {
    /// A loader for `config.secret_id` using `client`.
    pub fn new(client: Client, config: CacheConfig) -> Self {
        Self {
            client,
            config,
            calls: CallCounts::default(),
            rotated_at: AtomicU64::new(0),
        }
    }

    /// The settings it was built with.
    pub fn config(&self) -> &CacheConfig {
        &self.config
    }

    /// Secrets Manager calls made so far.
    pub fn calls(&self) -> &CallCounts {
        &self.calls
    }

    /// When the secret last rotated (when it was created, if it never has), as the last DescribeSecret
    /// said: for the "no rotation for too long" metric.
    pub fn rotated_at(&self) -> Option<SystemTime> {
        match self.rotated_at.load(Ordering::Relaxed) {
            0 => None,
            secs => Some(SystemTime::UNIX_EPOCH + Duration::from_secs(secs)),
        }
    }

    /// Loads a new snapshot, reusing every version `held` already has.
    pub async fn load(&self, held: Option<&Snapshot>) -> Result<Snapshot, Error> {
        // Both clocks read once, together: wall time to compare with Secrets Manager's dates, monotonic
        // time for the deadlines the hot path compares against.
        let (now_wall, now) = (SystemTime::now(), Instant::now());
        let (stages, early_current) = match held {
            Some(_) => (self.describe().await?, None),
            // Nothing held, so AWSCURRENT must be fetched anyway: ask for it by stage beside DescribeSecret
            // (one round trip instead of two). Used only if it is the version DescribeSecret names as
            // current (a rotation may finish between the two). A failed DescribeSecret cancels it, so a
            // failing cold start costs no more calls than before.
            None => {
                let early = async { Ok(Some(self.fetch(GetBy::Stage(CURRENT), now_wall).await)) };
                tokio::try_join!(self.describe(), early)?
            }
        };
        let current = match early_current {
            Some(Ok(v)) if v.version_id == stages.current => v,
            // The by-id fetch would meet the same outage: let the cache's backoff retry the whole load.
            Some(Err(err)) if err.is_transient() => return Err(err),
            other => {
                if let Some(Err(err)) = other {
                    tracing::debug!(error = %err, "GetSecretValue by stage failed; fetching by version id");
                }
                self.version(held, &stages.current, now_wall).await?
            }
        };
        // Only AWSCURRENT may fail the load. RotateSecret labels a new version AWSPENDING before
        // createSecret stores its value (and leaves it so while createSecret keeps failing): that version
        // and any other unreadable or malformed pending/previous one is absent until the next refresh.
        let (pending, previous) = tokio::join!(
            async {
                match &stages.pending {
                    Some(id) => self.version(held, id, now_wall).await.map(Some),
                    None => Ok(None),
                }
            },
            async {
                match &stages.previous {
                    Some(id) => self.previous(held, id, &stages, &current, now_wall, now).await,
                    None => Ok(None),
                }
            }
        );
        let pending = optional(PENDING, stages.pending.as_deref(), pending)?;
        let previous = optional(PREVIOUS, stages.previous.as_deref(), previous)?;
        Ok(Snapshot {
            current,
            pending,
            previous,
            fetched_at: Instant::now(),
        })
    }

    /// The `AWSPREVIOUS` version if its grace window is still open; fetched only then.
    async fn previous(
        &self,
        held: Option<&Snapshot>,
        id: &str,
        stages: &Stages,
        current: &HeldVersion,
        now_wall: SystemTime,
        now: Instant,
    ) -> Result<Option<PreviousVersion>, Error> {
        let grace = self.config.previous_grace;
        if grace.is_zero() {
            return Ok(None);
        }
        let since = previous_since(held, id, stages.last_rotated, current.created, now_wall);
        let Some(remaining) = (since + grace)
            .duration_since(now_wall)
            .ok()
            .filter(|d| !d.is_zero())
        else {
            return Ok(None);
        };
        let held_version = self.version(held, id, now_wall).await?;
        Ok(Some(PreviousVersion {
            held: held_version,
            since,
            accept_until: now + remaining,
        }))
    }

    async fn describe(&self) -> Result<Stages, Error> {
        self.calls.count_describe();
        let out = self
            .client
            .describe_secret()
            .secret_id(&self.config.secret_id)
            .send()
            .await
            .map_err(|e| self.sdk_error("DescribeSecret", e))?;
        let last_rotated = out.last_rotated_date.and_then(|d| SystemTime::try_from(d).ok());
        let rotated_or_created =
            last_rotated.or_else(|| out.created_date.and_then(|d| SystemTime::try_from(d).ok()));
        if let Some(at) = rotated_or_created.and_then(|t| t.duration_since(SystemTime::UNIX_EPOCH).ok()) {
            self.rotated_at.store(at.as_secs(), Ordering::Relaxed);
        }
        Stages::from_describe(
            &self.config.secret_id,
            out.version_ids_to_stages.as_ref(),
            last_rotated,
        )
    }

    /// The held copy of `version_id`, or GetSecretValue naming exactly that version.
    async fn version(
        &self,
        held: Option<&Snapshot>,
        version_id: &str,
        now_wall: SystemTime,
    ) -> Result<HeldVersion, Error> {
        match held.and_then(|s| s.find(version_id)) {
            Some(v) => Ok(v.clone()),
            None => self.fetch(GetBy::Id(version_id), now_wall).await,
        }
    }

    /// GetSecretValue for one version, named by id or by stage.
    async fn fetch(&self, by: GetBy<'_>, now_wall: SystemTime) -> Result<HeldVersion, Error> {
        self.calls.count_get_value();
        let request = self.client.get_secret_value().secret_id(&self.config.secret_id);
        let request = match by {
            GetBy::Id(id) => request.version_id(id),
            GetBy::Stage(stage) => request.version_stage(stage),
        };
        let out = request
            .send()
            .await
            .map_err(|e| self.sdk_error("GetSecretValue", e))?;
        let version_id = match (by, out.version_id) {
            (GetBy::Id(id), _) => id.to_owned(),
            (GetBy::Stage(_), Some(id)) => id,
            (GetBy::Stage(stage), None) => {
                return Err(Error::Format {
                    secret_id: self.config.secret_id.clone(),
                    version_id: stage.to_owned(),
                    problem: "GetSecretValue named no version".to_owned(),
                })
            }
        };
        let created = out.created_date.and_then(|d| SystemTime::try_from(d).ok());
        let secret = Zeroizing::new(out.secret_string.unwrap_or_default());
        let value = extract_value(&secret, &self.config.secret_key).map_err(|problem| Error::Format {
            secret_id: self.config.secret_id.clone(),
            version_id: version_id.clone(),
            problem,
        })?;
        if !value.is_matchable() {
            tracing::warn!(
                version_id,
                max_len = crate::MAX_VALUE_LEN,
                "secret value is empty or longer than the maximum; it will never match"
            );
        }
        Ok(HeldVersion {
            version_id,
            value,
            created,
            seen_at: now_wall,
        })
    }

    fn sdk_error<E, R>(&self, operation: &'static str, err: SdkError<E, R>) -> Error
    where
        E: ProvideErrorMetadata + std::error::Error + 'static,
        R: std::fmt::Debug + HasStatus,
    {
        sm_error(operation, &self.config.secret_id, err)
    }
}

/// Our error for a failed Secrets Manager call: transient or permanent ([`is_transient_error`]), with the
/// service's own answer when there was one.
pub(crate) fn sm_error<E, R>(operation: &'static str, secret_id: &str, err: SdkError<E, R>) -> Error
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug + HasStatus,
{
    let reply = match &err {
        SdkError::ServiceError(service) => Some(Box::new(ServiceReply {
            status: service.raw().status_code(),
            code: service.err().code().unwrap_or("UnknownError").to_owned(),
            message: service.err().message().unwrap_or_default().to_owned(),
        })),
        _ => None,
    };
    Error::SecretsManager {
        operation,
        secret_id: secret_id.to_owned(),
        kind: if is_transient_error(&err) {
            ErrorKind::Transient
        } else {
            ErrorKind::Permanent
        },
        message: DisplayErrorContext(&err).to_string(),
        reply,
    }
}

/// The outcome of reading an optional stage (AWSPENDING, AWSPREVIOUS): a value that cannot be used is
/// logged (version id and reason, never a value) and treated as absent.
///
/// A transient failure (throttling, timeout, 5xx) still fails the load, as it would for AWSCURRENT: the
/// version may well hold a value CloudFront is about to send, and a snapshot that silently lacks it would
/// be fresh enough to deny that value. Failing the load keeps the last snapshot, which ages into "stale"
/// and then fails closed on a miss instead of denying (README, "How the cache decides").
fn optional<T>(
    stage: &'static str,
    version_id: Option<&str>,
    read: Result<Option<T>, Error>,
) -> Result<Option<T>, Error> {
    match read {
        Err(err) if !err.is_transient() => {
            tracing::warn!(
                stage,
                version_id = version_id.unwrap_or("-"),
                error = %err,
                "version cannot be used; treated as absent until the next refresh"
            );
            Ok(None)
        }
        other => other,
    }
}

/// How GetSecretValue names the version it wants.
#[derive(Debug, Clone, Copy)]
enum GetBy<'a> {
    Id(&'a str),
    Stage(&'static str),
}

/// When `AWSPREVIOUS` (version `id`) stopped being current, as far as this process can tell:
/// - it held the version as current in the last snapshot: now (the change happened since that refresh);
/// - it already held it as previous: the moment it recorded then;
/// - otherwise (a sandbox started after the rotation): the later of the secret's `LastRotatedDate` and the
///   current version's creation, which are never after the real moment, so the window is never longer
///   than configured.
fn previous_since(
    held: Option<&Snapshot>,
    id: &str,
    last_rotated: Option<SystemTime>,
    current_created: Option<SystemTime>,
    now_wall: SystemTime,
) -> SystemTime {
    if let Some(held) = held {
        if held.current.version_id == id {
            return now_wall;
        }
        if let Some(p) = held.previous.as_ref().filter(|p| p.held.version_id == id) {
            return p.since;
        }
    }
    last_rotated
        .max(current_created)
        .unwrap_or(SystemTime::UNIX_EPOCH)
}

/// The header value inside a SecretString (format shared with the rotator: see `origin_verify_shared`).
pub fn extract_value(secret: &str, key: &str) -> Result<SecretValue, String> {
    HeaderSecret::parse(secret, key).map(|parsed| SecretValue::new(parsed.value.expose()))
}

/// Whether retrying soon may succeed: timeouts, connection failures, throttling and server errors.
pub fn is_transient_error<E, R>(err: &SdkError<E, R>) -> bool
where
    E: ProvideErrorMetadata,
    R: HasStatus,
{
    match err {
        SdkError::TimeoutError(_) | SdkError::DispatchFailure(_) | SdkError::ResponseError(_) => true,
        SdkError::ServiceError(service) => {
            let status = service.raw().status_code();
            status >= 500
                || status == 429
                || matches!(
                    service.err().code(),
                    Some("ThrottlingException" | "InternalServiceError" | "RequestTimeout")
                )
        }
        _ => false,
    }
}

/// An HTTP status, abstracted so [`is_transient_error`] can be tested without a real response.
pub trait HasStatus {
    /// The HTTP status code.
    fn status_code(&self) -> u16;
}

impl HasStatus for aws_sdk_secretsmanager::config::http::HttpResponse {
    fn status_code(&self) -> u16 {
        self.status().as_u16()
    }
}

/// The SDK client the authorizer and the layer use: the default credential chain and region,
/// `AWS_ENDPOINT_URL` honoured, [`client_settings`], and the roots `trust` names (see [`Trust`]).
pub async fn default_client(trust: Trust) -> Client {
    let mut loader = aws_config::defaults(aws_config::BehaviorVersion::latest());
    if let Some(http) = trust.http_client() {
        loader = loader.http_client(http);
    }
    let shared = loader.load().await;
    Client::from_conf(client_settings(aws_sdk_secretsmanager::config::Builder::from(&shared)).build())
}

/// The timeouts and retries of the authorizer's client, applied to `builder`: short enough that a refresh
/// never outlives the wait of a request. Public so fault tests run the production settings.
pub fn client_settings(
    builder: aws_sdk_secretsmanager::config::Builder,
) -> aws_sdk_secretsmanager::config::Builder {
    let timeouts = aws_config::timeout::TimeoutConfig::builder()
        .connect_timeout(Duration::from_millis(1000))
        .operation_attempt_timeout(Duration::from_millis(1500))
        .operation_timeout(Duration::from_millis(4000))
        .build();
    builder
        .timeout_config(timeouts)
        // Two attempts: the cache has its own backoff and keeps serving the last snapshot meanwhile.
        .retry_config(aws_config::retry::RetryConfig::standard().with_max_attempts(2))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn expose(v: &SecretValue, s: &str) -> bool {
        bool::from(v.ct_matches(&crate::Presented::new(s.as_bytes()).unwrap()))
    }

    #[test]
    fn json_and_plain_values_are_extracted() {
        assert!(expose(
            &extract_value(r#"{"HEADERVALUE":"abc"}"#, "HEADERVALUE").unwrap(),
            "abc"
        ));
        assert!(expose(&extract_value(r#"{"K":"a\"b"}"#, "K").unwrap(), "a\"b"));
        assert!(expose(
            &extract_value("plain-value", "HEADERVALUE").unwrap(),
            "plain-value"
        ));
        assert!(expose(&extract_value("12345", "HEADERVALUE").unwrap(), "12345"));
    }

    #[test]
    fn json_errors_do_not_quote_the_value() {
        let missing = extract_value(r#"{"OTHER":"topsecret"}"#, "HEADERVALUE").unwrap_err();
        assert!(missing.contains("HEADERVALUE") && !missing.contains("topsecret"));
        let wrong_type = extract_value(r#"{"HEADERVALUE":12345678}"#, "HEADERVALUE").unwrap_err();
        assert!(wrong_type.contains("not a string") && !wrong_type.contains("12345678"));
    }

    #[test]
    fn stages_are_read_from_describe() {
        let map: HashMap<String, Vec<String>> = [
            ("v1".to_owned(), vec![PREVIOUS.to_owned()]),
            ("v2".to_owned(), vec![CURRENT.to_owned()]),
            ("v3".to_owned(), vec![PENDING.to_owned()]),
            ("v0".to_owned(), vec![]),
        ]
        .into();
        let s = Stages::from_describe("s", Some(&map), None).unwrap();
        assert_eq!(s.current, "v2");
        assert_eq!(s.pending.as_deref(), Some("v3"));
        assert_eq!(s.previous.as_deref(), Some("v1"));

        let both: HashMap<String, Vec<String>> =
            [("v2".to_owned(), vec![CURRENT.to_owned(), PENDING.to_owned()])].into();
        let s = Stages::from_describe("s", Some(&both), None).unwrap();
        assert_eq!((s.current.as_str(), s.pending), ("v2", None));

        let err = Stages::from_describe("s", None, None).unwrap_err();
        assert!(matches!(err, Error::NoCurrentVersion { .. }));
    }

    struct Status(u16);

    impl HasStatus for Status {
        fn status_code(&self) -> u16 {
            self.0
        }
    }

    fn service(
        code: &str,
        status: u16,
    ) -> SdkError<aws_sdk_secretsmanager::operation::describe_secret::DescribeSecretError, Status> {
        let meta = aws_sdk_secretsmanager::error::ErrorMetadata::builder()
            .code(code)
            .build();
        let err = aws_sdk_secretsmanager::operation::describe_secret::DescribeSecretError::generic(meta);
        SdkError::service_error(err, Status(status))
    }

    #[test]
    fn transient_errors_are_told_from_permanent_ones() {
        assert!(is_transient_error(&service("ThrottlingException", 400)));
        assert!(is_transient_error(&service("InternalServiceError", 500)));
        assert!(is_transient_error(&service("Whatever", 503)));
        assert!(is_transient_error(&service("Whatever", 429)));
        assert!(!is_transient_error(&service("AccessDeniedException", 400)));
        assert!(!is_transient_error(&service("ResourceNotFoundException", 400)));
        assert!(!is_transient_error(&service("DecryptionFailure", 400)));
    }

    #[test]
    fn previous_window_starts_at_the_best_known_moment() {
        let t = |s: u64| SystemTime::UNIX_EPOCH + Duration::from_secs(s);
        // A sandbox that never saw the version as current: the later of the two Secrets Manager dates.
        assert_eq!(
            previous_since(None, "old", Some(t(100)), Some(t(50)), t(1000)),
            t(100)
        );
        assert_eq!(previous_since(None, "old", None, Some(t(50)), t(1000)), t(50));
        assert_eq!(
            previous_since(None, "old", None, None, t(1000)),
            SystemTime::UNIX_EPOCH
        );
    }
}
