//! The cache's settings, parsed once from the environment into a typed struct.

use std::time::Duration;

use origin_verify_shared::{ConfigError, Env};

use crate::Trust;

/// Settings of the secret cache. Every field comes from one `ORIGIN_VERIFY_*` variable (see README).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CacheConfig {
    /// `ORIGIN_VERIFY_SECRET_ID`: name or ARN of the secret (required).
    pub secret_id: String,
    /// `ORIGIN_VERIFY_SECRET_KEY`: key of the header value in a JSON secret.
    pub secret_key: String,
    /// `ORIGIN_VERIFY_REFRESH_SECONDS`: a snapshot older than this is refreshed (and cannot decide a deny).
    pub refresh_interval: Duration,
    /// `ORIGIN_VERIFY_PREVIOUS_GRACE_SECONDS`: how long `AWSPREVIOUS` is accepted after it stopped being
    /// current. Zero disables it.
    pub previous_grace: Duration,
    /// `ORIGIN_VERIFY_MISS_WAIT_MS`: how long a non-matching request may wait for a refresh. 1 s by
    /// default: a refresh on a new TLS connection with a small share of a CPU can take hundreds of ms, and
    /// a miss whose refresh does not land in time fails the invocation instead of being denied.
    pub miss_wait: Duration,
    /// `ORIGIN_VERIFY_MISS_REFRESH_MIN_SECONDS`: at most one refresh caused by a miss on a fresh snapshot
    /// per this interval (at least 1 s: it is what bounds the Secrets Manager calls a flood of wrong
    /// headers can cause in one sandbox).
    pub miss_refresh_min_interval: Duration,
    /// `ORIGIN_VERIFY_LOAD_WAIT_MS`: how long an invocation waits for the first load before failing.
    pub load_wait: Duration,
    /// `ORIGIN_VERIFY_MAX_STALENESS_SECONDS`: a snapshot older than this fails closed, so a revoked value
    /// cannot outlive its revocation by more than this even while Secrets Manager is unreachable.
    /// [`DEFAULT_MAX_STALENESS`] unless set; `0` turns it off (`None`).
    pub max_staleness: Option<Duration>,
    /// `ORIGIN_VERIFY_METRICS_SECONDS`: at most one metrics line (CloudWatch EMF) per this interval;
    /// `0` turns metrics off (`None`).
    pub metrics_interval: Option<Duration>,
    /// `AWS_LAMBDA_FUNCTION_NAME` (set by Lambda): the metrics' `FunctionName` dimension.
    pub function_name: String,
    /// The roots the Secrets Manager client trusts (`ORIGIN_VERIFY_TRUST_STORE`, and the variables
    /// [`Trust::from_env`] reads).
    pub trust: Trust,
}

/// The default of `ORIGIN_VERIFY_MAX_STALENESS_SECONDS`: 15 minutes, or twice the refresh interval if
/// that is longer. Long enough to ride out a Secrets Manager blip (the refresh backoff retries every 30 s
/// at most, so dozens of attempts), short enough that a leaked value cannot outlive an emergency rotation
/// by more than a quarter of an hour in a sandbox that cannot refresh (README, "Revocation").
pub const DEFAULT_MAX_STALENESS: Duration = Duration::from_secs(900);

impl CacheConfig {
    /// Defaults for everything but the secret id.
    pub fn new(secret_id: impl Into<String>) -> Self {
        Self {
            secret_id: secret_id.into(),
            secret_key: "HEADERVALUE".to_owned(),
            refresh_interval: Duration::from_secs(60),
            previous_grace: Duration::from_secs(300),
            miss_wait: Duration::from_millis(1000),
            miss_refresh_min_interval: Duration::from_secs(5),
            load_wait: Duration::from_millis(2000),
            max_staleness: Some(DEFAULT_MAX_STALENESS),
            metrics_interval: Some(Duration::from_secs(60)),
            function_name: "origin-verify-authorizer".to_owned(),
            trust: Trust::AmazonRoots,
        }
    }

    /// Reads the `ORIGIN_VERIFY_*` variables through `lookup` (`std::env::var` in production).
    pub fn from_env(env: &Env<'_>) -> Result<Self, ConfigError> {
        let secret_id = env.required("ORIGIN_VERIFY_SECRET_ID", "set it to the secret's name or ARN")?;
        let defaults = Self::new(secret_id);
        let refresh_interval = env.seconds("ORIGIN_VERIFY_REFRESH_SECONDS", defaults.refresh_interval)?;
        let max_staleness = env.seconds(
            "ORIGIN_VERIFY_MAX_STALENESS_SECONDS",
            DEFAULT_MAX_STALENESS.max(2 * refresh_interval),
        )?;
        let config = Self {
            secret_key: env.string("ORIGIN_VERIFY_SECRET_KEY", &defaults.secret_key),
            refresh_interval,
            previous_grace: env.seconds("ORIGIN_VERIFY_PREVIOUS_GRACE_SECONDS", defaults.previous_grace)?,
            miss_wait: env.millis("ORIGIN_VERIFY_MISS_WAIT_MS", defaults.miss_wait)?,
            miss_refresh_min_interval: env.seconds(
                "ORIGIN_VERIFY_MISS_REFRESH_MIN_SECONDS",
                defaults.miss_refresh_min_interval,
            )?,
            load_wait: env.millis("ORIGIN_VERIFY_LOAD_WAIT_MS", defaults.load_wait)?,
            max_staleness: (!max_staleness.is_zero()).then_some(max_staleness),
            metrics_interval: Some(env.seconds(
                "ORIGIN_VERIFY_METRICS_SECONDS",
                defaults.metrics_interval.unwrap_or_default(),
            )?)
            .filter(|d| !d.is_zero()),
            function_name: env.string("AWS_LAMBDA_FUNCTION_NAME", &defaults.function_name),
            trust: Trust::from_env(env)?,
            secret_id: defaults.secret_id,
        };
        if config.refresh_interval.is_zero() {
            return Err(ConfigError::new(
                "ORIGIN_VERIFY_REFRESH_SECONDS",
                "is 0",
                "use at least 1 (seconds); the rotator's propagation wait is derived from it",
            ));
        }
        if config.miss_refresh_min_interval.is_zero() {
            return Err(ConfigError::new(
                "ORIGIN_VERIFY_MISS_REFRESH_MIN_SECONDS",
                "is 0",
                "use at least 1 (seconds): it bounds the Secrets Manager calls that wrong headers can cause",
            ));
        }
        if let Some(max) = config.max_staleness {
            if max < config.refresh_interval {
                return Err(ConfigError::new(
                    "ORIGIN_VERIFY_MAX_STALENESS_SECONDS",
                    "is shorter than ORIGIN_VERIFY_REFRESH_SECONDS",
                    "set it to 0 (off) or to at least the refresh interval",
                ));
            }
        }
        Ok(config)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(vars: &[(&str, &str)]) -> Result<CacheConfig, ConfigError> {
        CacheConfig::from_env(&Env(&origin_verify_shared::table(vars)))
    }

    #[test]
    fn defaults_apply_when_only_the_secret_is_set() {
        assert_eq!(
            parse(&[("ORIGIN_VERIFY_SECRET_ID", "s")]).unwrap(),
            CacheConfig::new("s")
        );
    }

    #[test]
    fn errors_name_the_variable() {
        let missing = parse(&[]).unwrap_err().to_string();
        assert!(missing.contains("ORIGIN_VERIFY_SECRET_ID"), "{missing}");
        let bad = parse(&[
            ("ORIGIN_VERIFY_SECRET_ID", "s"),
            ("ORIGIN_VERIFY_REFRESH_SECONDS", "1m"),
        ]);
        assert!(bad
            .unwrap_err()
            .to_string()
            .contains("ORIGIN_VERIFY_REFRESH_SECONDS"));
        let zero = parse(&[
            ("ORIGIN_VERIFY_SECRET_ID", "s"),
            ("ORIGIN_VERIFY_REFRESH_SECONDS", "0"),
        ]);
        assert!(zero
            .unwrap_err()
            .to_string()
            .contains("ORIGIN_VERIFY_REFRESH_SECONDS"));
        let no_bound = parse(&[
            ("ORIGIN_VERIFY_SECRET_ID", "s"),
            ("ORIGIN_VERIFY_MISS_REFRESH_MIN_SECONDS", "0"),
        ]);
        assert!(no_bound
            .unwrap_err()
            .to_string()
            .contains("ORIGIN_VERIFY_MISS_REFRESH_MIN_SECONDS"));
        let stale = parse(&[
            ("ORIGIN_VERIFY_SECRET_ID", "s"),
            ("ORIGIN_VERIFY_MAX_STALENESS_SECONDS", "5"),
        ]);
        assert!(stale
            .unwrap_err()
            .to_string()
            .contains("ORIGIN_VERIFY_MAX_STALENESS_SECONDS"));
    }

    #[test]
    fn staleness_is_bounded_unless_turned_off() {
        let default = parse(&[("ORIGIN_VERIFY_SECRET_ID", "s")]).unwrap();
        assert_eq!(default.max_staleness, Some(DEFAULT_MAX_STALENESS));
        let long_refresh = parse(&[
            ("ORIGIN_VERIFY_SECRET_ID", "s"),
            ("ORIGIN_VERIFY_REFRESH_SECONDS", "600"),
        ])
        .unwrap();
        assert_eq!(long_refresh.max_staleness, Some(Duration::from_secs(1200)));
        let off = parse(&[
            ("ORIGIN_VERIFY_SECRET_ID", "s"),
            ("ORIGIN_VERIFY_MAX_STALENESS_SECONDS", "0"),
        ])
        .unwrap();
        assert_eq!(off.max_staleness, None);
    }

    #[test]
    fn metrics_are_on_every_minute_unless_turned_off() {
        let default = parse(&[
            ("ORIGIN_VERIFY_SECRET_ID", "s"),
            ("AWS_LAMBDA_FUNCTION_NAME", "fn-1"),
        ])
        .unwrap();
        assert_eq!(default.metrics_interval, Some(Duration::from_secs(60)));
        assert_eq!(default.function_name, "fn-1");
        let off = parse(&[
            ("ORIGIN_VERIFY_SECRET_ID", "s"),
            ("ORIGIN_VERIFY_METRICS_SECONDS", "0"),
        ])
        .unwrap();
        assert_eq!(off.metrics_interval, None);
    }

    #[test]
    fn values_are_read() {
        let c = parse(&[
            ("ORIGIN_VERIFY_SECRET_ID", "arn:x"),
            ("ORIGIN_VERIFY_SECRET_KEY", "K"),
            ("ORIGIN_VERIFY_REFRESH_SECONDS", "7"),
            ("ORIGIN_VERIFY_PREVIOUS_GRACE_SECONDS", "0"),
            ("ORIGIN_VERIFY_MISS_WAIT_MS", "50"),
            ("ORIGIN_VERIFY_MAX_STALENESS_SECONDS", "600"),
        ])
        .unwrap();
        assert_eq!(c.secret_key, "K");
        assert_eq!(c.refresh_interval, Duration::from_secs(7));
        assert_eq!(c.previous_grace, Duration::ZERO);
        assert_eq!(c.miss_wait, Duration::from_millis(50));
        assert_eq!(c.max_staleness, Some(Duration::from_secs(600)));
    }
}
