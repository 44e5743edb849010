//! The rotator's configuration, parsed once at INIT from the environment.

use std::time::Duration;

use origin_verify_shared::{is_header_name, ConfigError, Env};

/// Margin added to the authorizer's refresh interval for the default propagation wait.
pub const PROPAGATION_MARGIN: Duration = Duration::from_secs(15);

/// Everything the rotator reads from its environment (README, "Rotation").
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RotatorConfig {
    /// `ORIGIN_VERIFY_HEADER`: the header CloudFront adds (matched ignoring ASCII case).
    pub header: String,
    /// `ORIGIN_VERIFY_SECRET_KEY`: key of the value in a JSON secret.
    pub secret_key: String,
    /// `CLOUDFRONT_DISTRIBUTION_IDS`: every distribution that sends the header (required).
    pub distribution_ids: Vec<String>,
    /// `CLOUDFRONT_ORIGIN_IDS`: only these origins get the header; empty = every origin that has it.
    pub origin_ids: Vec<String>,
    /// `ORIGIN_TEST_URLS`: requested with the header to prove the origin accepts a value (required).
    pub origin_test_urls: Vec<String>,
    /// `CLOUDFRONT_TEST_URLS`: requested without the header after deployment (CloudFront adds it).
    pub cloudfront_test_urls: Vec<String>,
    /// `ROTATION_SECRET_LENGTH`: length of a new value.
    pub secret_length: i64,
    /// `ROTATION_EXCLUDE_CHARACTERS`: characters a new value never contains (punctuation never does).
    pub exclude_characters: String,
    /// `ROTATION_PROPAGATION_SECONDS`: how long after reading the pending value setSecret waits
    /// before any edge may send it. Default: `ORIGIN_VERIFY_REFRESH_SECONDS` (60) + 15.
    pub propagation: Duration,
    /// `ROTATION_DEPLOY_WAIT_SECONDS`: how long testSecret waits for every distribution to be `Deployed`.
    pub deploy_wait: Duration,
    /// `ROTATION_DEPLOY_POLL_SECONDS`: pause between distribution status checks.
    pub deploy_poll: Duration,
    /// `ROTATION_HTTP_TIMEOUT_SECONDS`: timeout of each test request.
    pub http_timeout: Duration,
    /// `ROTATION_PROBE_ATTEMPTS`: attempts per test request before a step fails (backoff in between).
    pub probe_attempts: usize,
}

impl RotatorConfig {
    /// Reads the variables through `env` (`Env::PROCESS` in production).
    pub fn from_env(env: &Env<'_>) -> Result<Self, ConfigError> {
        let header = env.string("ORIGIN_VERIFY_HEADER", "x-origin-verify");
        if !is_header_name(&header) {
            return Err(ConfigError::new(
                "ORIGIN_VERIFY_HEADER",
                "is not a valid HTTP header name",
                "use letters, digits and '-' only, e.g. x-origin-verify",
            ));
        }
        let distribution_ids = env.list("CLOUDFRONT_DISTRIBUTION_IDS");
        if distribution_ids.is_empty() {
            return Err(ConfigError::new(
                "CLOUDFRONT_DISTRIBUTION_IDS",
                "is not set",
                "list the ids of every distribution that sends the header, comma-separated",
            ));
        }
        let origin_test_urls = urls(env, "ORIGIN_TEST_URLS")?;
        if origin_test_urls.is_empty() {
            return Err(ConfigError::new(
                "ORIGIN_TEST_URLS",
                "is not set",
                "list at least one URL of the protected API (direct, not through CloudFront)",
            ));
        }
        let secret_length = env.number("ROTATION_SECRET_LENGTH", 32)?;
        if !(16..=64).contains(&secret_length) {
            return Err(ConfigError::new(
                "ROTATION_SECRET_LENGTH",
                "is outside 16..=64",
                "use 32 (the authorizer compares values up to 64 bytes)",
            ));
        }
        let refresh = env.seconds("ORIGIN_VERIFY_REFRESH_SECONDS", Duration::from_secs(60))?;
        let propagation = env.seconds("ROTATION_PROPAGATION_SECONDS", refresh + PROPAGATION_MARGIN)?;
        if propagation < refresh {
            return Err(ConfigError::new(
                "ROTATION_PROPAGATION_SECONDS",
                "is shorter than ORIGIN_VERIFY_REFRESH_SECONDS",
                "leave it unset (refresh + 15 s) or make it at least the authorizer's refresh interval",
            ));
        }
        let probe_attempts = env.number("ROTATION_PROBE_ATTEMPTS", 5)?;
        if probe_attempts == 0 {
            return Err(ConfigError::new(
                "ROTATION_PROBE_ATTEMPTS",
                "is 0",
                "use at least 1, e.g. 5",
            ));
        }
        Ok(Self {
            header,
            secret_key: env.string("ORIGIN_VERIFY_SECRET_KEY", "HEADERVALUE"),
            distribution_ids,
            origin_ids: env.list("CLOUDFRONT_ORIGIN_IDS"),
            origin_test_urls,
            cloudfront_test_urls: urls(env, "CLOUDFRONT_TEST_URLS")?,
            secret_length: secret_length as i64,
            exclude_characters: env.string("ROTATION_EXCLUDE_CHARACTERS", ""),
            propagation,
            // Fits a 900 s Lambda timeout with room for the probes around it.
            deploy_wait: env.seconds("ROTATION_DEPLOY_WAIT_SECONDS", Duration::from_secs(780))?,
            deploy_poll: env.seconds("ROTATION_DEPLOY_POLL_SECONDS", Duration::from_secs(15))?,
            http_timeout: env.seconds("ROTATION_HTTP_TIMEOUT_SECONDS", Duration::from_secs(5))?,
            probe_attempts: probe_attempts as usize,
        })
    }
}

fn urls(env: &Env<'_>, var: &'static str) -> Result<Vec<String>, ConfigError> {
    let urls = env.list(var);
    if urls
        .iter()
        .any(|u| !(u.starts_with("https://") || u.starts_with("http://")))
    {
        return Err(ConfigError::new(
            var,
            "has an entry that is not an http(s) URL",
            "use full URLs, comma-separated",
        ));
    }
    Ok(urls)
}

#[cfg(test)]
mod tests {
    use super::*;
    use origin_verify_shared::table;

    const REQUIRED: [(&str, &str); 2] = [
        ("CLOUDFRONT_DISTRIBUTION_IDS", "E1, E2"),
        ("ORIGIN_TEST_URLS", "https://api.example/"),
    ];

    fn parse(extra: &[(&str, &str)]) -> Result<RotatorConfig, ConfigError> {
        // The first pair with a name wins: extras override the required defaults.
        let vars: Vec<(&str, &str)> = extra.iter().copied().chain(REQUIRED.iter().copied()).collect();
        RotatorConfig::from_env(&Env(&table(&vars)))
    }

    #[test]
    fn defaults() {
        let c = parse(&[]).unwrap();
        assert_eq!(c.distribution_ids, vec!["E1", "E2"]);
        assert_eq!(c.propagation, Duration::from_secs(75));
        assert_eq!(c.secret_length, 32);
        assert_eq!(c.header, "x-origin-verify");
        assert!(c.deploy_wait + c.propagation < Duration::from_secs(900));
    }

    #[test]
    fn propagation_follows_the_refresh_interval() {
        assert_eq!(
            parse(&[("ORIGIN_VERIFY_REFRESH_SECONDS", "30")])
                .unwrap()
                .propagation,
            Duration::from_secs(45)
        );
        let err = parse(&[
            ("ORIGIN_VERIFY_REFRESH_SECONDS", "30"),
            ("ROTATION_PROPAGATION_SECONDS", "10"),
        ]);
        assert_eq!(err.unwrap_err().var, "ROTATION_PROPAGATION_SECONDS");
    }

    #[test]
    fn bad_values_name_the_variable() {
        for (var, value) in [
            ("ROTATION_SECRET_LENGTH", "8"),
            ("ROTATION_SECRET_LENGTH", "x"),
            ("ORIGIN_TEST_URLS", "api.example"),
            ("CLOUDFRONT_TEST_URLS", "ftp://x"),
            ("ORIGIN_VERIFY_HEADER", "bad header"),
            ("ROTATION_PROBE_ATTEMPTS", "0"),
        ] {
            assert_eq!(parse(&[(var, value)]).unwrap_err().var, var, "{var}={value}");
        }
        let none = RotatorConfig::from_env(&Env(&table(&[]))).unwrap_err();
        assert_eq!(none.var, "CLOUDFRONT_DISTRIBUTION_IDS");
    }
}
