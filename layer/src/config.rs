//! The layer's settings, read once at INIT: the AWS Parameters and Secrets Lambda Extension's variables
//! (same names, same defaults; README "Use it from any language" lists every difference) and ours.

use std::time::Duration;

use origin_verify_extension::{StoreConfig, Trust, DEFAULT_MAX_STALENESS};
use origin_verify_shared::{ConfigError, Env};

use crate::token::Token;

/// Everything the layer is configured with.
#[derive(Debug, Clone)]
pub struct LayerConfig {
    /// `PARAMETERS_SECRETS_EXTENSION_HTTP_PORT` (2773): the port on 127.0.0.1.
    pub port: u16,
    /// `PARAMETERS_SECRETS_EXTENSION_MAX_CONNECTIONS` (3): connections served at once.
    pub max_connections: usize,
    /// The token a request must present (from `AWS_TOKEN`, else `AWS_SESSION_TOKEN`, as AWS's agent).
    pub token: Token,
    /// Secrets whose `AWSCURRENT` is loaded during INIT (`ORIGIN_VERIFY_PREFETCH_SECRET_IDS`).
    pub prefetch: Vec<String>,
    /// The cache's settings.
    pub store: StoreConfig,
    /// The roots the Secrets Manager client trusts.
    pub trust: Trust,
}

/// Where the expected token comes from, first set first (AWS's agent reads the same variables).
pub const TOKEN_VARIABLES: [&str; 3] = [
    "AWS_TOKEN",
    "AWS_SESSION_TOKEN",
    "AWS_CONTAINER_AUTHORIZATION_TOKEN",
];

/// The expected token: the first of [`TOKEN_VARIABLES`] that is set; `file://<path>` reads it from a
/// file (trimmed), as AWS's agent does.
fn read_token(env: &Env<'_>) -> Result<Token, ConfigError> {
    let value = env.get_first(&TOKEN_VARIABLES).ok_or_else(|| {
        ConfigError::new(
            "AWS_SESSION_TOKEN",
            "is not set (nor AWS_TOKEN, nor AWS_CONTAINER_AUTHORIZATION_TOKEN)",
            "Lambda sets it; elsewhere set AWS_TOKEN to the token callers send in X-Aws-Parameters-Secrets-Token",
        )
    })?;
    match value.strip_prefix("file://") {
        None => Ok(Token::new(value)),
        Some(path) => std::fs::read_to_string(path)
            .map(|t| Token::new(t.trim().to_owned()))
            .ok()
            .filter(|t| !t.is_empty())
            .ok_or_else(|| {
                ConfigError::new(
                    "AWS_TOKEN",
                    "names a file (file://...) that cannot be read or is empty",
                    "point it at a readable file holding the token",
                )
            }),
    }
}

/// Largest `SECRETS_MANAGER_TTL` accepted, in seconds (AWS's extension accepts at most 300; we allow an
/// hour, as AWS's agent does, because a refresh here is a DescribeSecret and nothing is served past a
/// label change for longer than this).
pub const MAX_TTL_SECONDS: u64 = 3600;
/// Largest `PARAMETERS_SECRETS_EXTENSION_CACHE_SIZE` (AWS's limit).
pub const MAX_CACHE_SIZE: u64 = 1000;

impl LayerConfig {
    /// Reads the variables through `env`.
    pub fn from_env(env: &Env<'_>) -> Result<Self, ConfigError> {
        let port = env.number("PARAMETERS_SECRETS_EXTENSION_HTTP_PORT", 2773)?;
        let port = u16::try_from(port).ok().filter(|p| *p >= 1024).ok_or_else(|| {
            ConfigError::new(
                "PARAMETERS_SECRETS_EXTENSION_HTTP_PORT",
                "is not a port from 1024 to 65535",
                "use a free unprivileged port, e.g. 2773 (the default)",
            )
        })?;
        let max_connections = env.number("PARAMETERS_SECRETS_EXTENSION_MAX_CONNECTIONS", 3)?;
        if max_connections == 0 {
            return Err(ConfigError::new(
                "PARAMETERS_SECRETS_EXTENSION_MAX_CONNECTIONS",
                "is 0",
                "use 1 or more (3 is the default)",
            ));
        }
        let cache_enabled = match env
            .string("PARAMETERS_SECRETS_EXTENSION_CACHE_ENABLED", "true")
            .to_ascii_lowercase()
            .as_str()
        {
            "true" => true,
            "false" => false,
            _ => {
                return Err(ConfigError::new(
                    "PARAMETERS_SECRETS_EXTENSION_CACHE_ENABLED",
                    "is neither true nor false",
                    "use true (the default) or false",
                ))
            }
        };
        let ttl = env.seconds("SECRETS_MANAGER_TTL", Duration::from_secs(300))?;
        if ttl.as_secs() > MAX_TTL_SECONDS {
            return Err(ConfigError::new(
                "SECRETS_MANAGER_TTL",
                "is more than 3600 seconds",
                "use 0 to 3600 (300 is the default)",
            ));
        }
        let cache_size = env.number("PARAMETERS_SECRETS_EXTENSION_CACHE_SIZE", MAX_CACHE_SIZE)?;
        if cache_size > MAX_CACHE_SIZE {
            return Err(ConfigError::new(
                "PARAMETERS_SECRETS_EXTENSION_CACHE_SIZE",
                "is more than 1000",
                "use 0 to 1000 (1000 is the default)",
            ));
        }
        // AWS's extension turns caching off with CACHE_ENABLED=false, a TTL of 0 or a size of 0: every
        // request then asks Secrets Manager. Here it asks for the labels (one DescribeSecret, single-flight),
        // and a version it already holds is still not fetched again (a version's value never changes).
        let refresh_interval = if !cache_enabled || cache_size == 0 {
            Duration::ZERO
        } else {
            ttl
        };
        let wait = env.millis("SECRETS_MANAGER_TIMEOUT_MILLIS", Duration::ZERO)?;
        let defaults = StoreConfig::default();
        let max_staleness = env.seconds(
            "ORIGIN_VERIFY_MAX_STALENESS_SECONDS",
            DEFAULT_MAX_STALENESS.max(2 * refresh_interval),
        )?;
        let token = read_token(env)?;
        Ok(Self {
            port,
            max_connections: max_connections as usize,
            token,
            prefetch: env.list("ORIGIN_VERIFY_PREFETCH_SECRET_IDS"),
            trust: Trust::from_env(env)?,
            store: StoreConfig {
                refresh_interval,
                max_secrets: cache_size.max(1) as usize,
                wait: if wait.is_zero() { defaults.wait } else { wait },
                refresh_now_min_interval: env.millis(
                    "ORIGIN_VERIFY_REFRESH_NOW_MIN_MS",
                    defaults.refresh_now_min_interval,
                )?,
                max_staleness: Some(max_staleness).filter(|d| !d.is_zero()),
            },
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use origin_verify_shared::table;

    fn config(pairs: &[(&str, &str)]) -> Result<LayerConfig, ConfigError> {
        let mut all = vec![("AWS_SESSION_TOKEN", "session-token")];
        all.extend_from_slice(pairs);
        LayerConfig::from_env(&Env(&table(&all)))
    }

    #[test]
    fn defaults_are_those_of_the_aws_extension() {
        let c = config(&[]).unwrap();
        assert_eq!(c.port, 2773);
        assert_eq!(c.max_connections, 3);
        assert_eq!(c.store.refresh_interval, Duration::from_secs(300));
        assert_eq!(c.store.max_secrets, 1000);
        assert!(c.prefetch.is_empty());
    }

    #[test]
    fn caching_off_means_labels_asked_every_time() {
        for off in [
            ("PARAMETERS_SECRETS_EXTENSION_CACHE_ENABLED", "false"),
            ("SECRETS_MANAGER_TTL", "0"),
            ("PARAMETERS_SECRETS_EXTENSION_CACHE_SIZE", "0"),
        ] {
            assert_eq!(
                config(&[off]).unwrap().store.refresh_interval,
                Duration::ZERO,
                "{off:?}"
            );
        }
    }

    #[test]
    fn errors_name_the_variable() {
        for (var, value) in [
            ("PARAMETERS_SECRETS_EXTENSION_HTTP_PORT", "80"),
            ("PARAMETERS_SECRETS_EXTENSION_HTTP_PORT", "70000"),
            ("PARAMETERS_SECRETS_EXTENSION_MAX_CONNECTIONS", "0"),
            ("PARAMETERS_SECRETS_EXTENSION_CACHE_ENABLED", "yes"),
            ("SECRETS_MANAGER_TTL", "3601"),
            ("PARAMETERS_SECRETS_EXTENSION_CACHE_SIZE", "1001"),
        ] {
            assert_eq!(config(&[(var, value)]).unwrap_err().var, var, "{var}={value}");
        }
        let no_token = LayerConfig::from_env(&Env(&table(&[]))).unwrap_err();
        assert_eq!(no_token.var, "AWS_SESSION_TOKEN");
    }

    #[test]
    fn aws_token_comes_first_and_neither_is_shown() {
        let c = config(&[("AWS_TOKEN", "explicit-token")]).unwrap();
        assert!(c.token.matches(b"explicit-token"));
        assert!(!format!("{c:?}").contains("explicit-token"));
        assert!(!format!("{c:?}").contains("session-token"));
    }
}
