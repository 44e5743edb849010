//! The authorizer's configuration, parsed once at INIT from the environment.

use origin_verify_extension::CacheConfig;
use origin_verify_shared::{is_header_name, ConfigError, Env};

/// What a payload 2.0 event gets back.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResponseMode {
    /// `{"isAuthorized": bool}` (the HTTP API authorizer has `EnableSimpleResponses: true`).
    Simple,
    /// An IAM policy.
    Iam,
}

/// Everything the authorizer reads from its environment (README, "Configuration").
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// `ORIGIN_VERIFY_HEADER`, lower-cased: the header CloudFront adds.
    pub header: String,
    /// `ORIGIN_VERIFY_RESPONSE`: the answer shape for payload 2.0.
    pub response: ResponseMode,
    /// The cache's settings (`ORIGIN_VERIFY_SECRET_ID` and the rest).
    pub cache: CacheConfig,
}

impl Config {
    /// Reads the variables through `env` (`Env::PROCESS` in production).
    pub fn from_env(env: &Env<'_>) -> Result<Self, ConfigError> {
        let header = env
            .string("ORIGIN_VERIFY_HEADER", "x-origin-verify")
            .to_ascii_lowercase();
        if !is_header_name(&header) {
            return Err(ConfigError::new(
                "ORIGIN_VERIFY_HEADER",
                "is not a valid HTTP header name",
                "use letters, digits and '-' only, e.g. x-origin-verify",
            ));
        }
        let response = match env
            .string("ORIGIN_VERIFY_RESPONSE", "simple")
            .to_ascii_lowercase()
            .as_str()
        {
            "simple" => ResponseMode::Simple,
            "iam" => ResponseMode::Iam,
            _ => {
                return Err(ConfigError::new(
                    "ORIGIN_VERIFY_RESPONSE",
                    "is neither 'simple' nor 'iam'",
                    "use 'simple' when the HTTP API authorizer enables simple responses, else 'iam'",
                ))
            }
        };
        Ok(Self {
            header,
            response,
            cache: CacheConfig::from_env(env)?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(vars: &[(&str, &str)]) -> Result<Config, ConfigError> {
        Config::from_env(&Env(&origin_verify_shared::table(vars)))
    }

    #[test]
    fn defaults_and_values() {
        let c = parse(&[("ORIGIN_VERIFY_SECRET_ID", "s")]).unwrap();
        assert_eq!(
            (c.header.as_str(), c.response),
            ("x-origin-verify", ResponseMode::Simple)
        );
        let c = parse(&[
            ("ORIGIN_VERIFY_SECRET_ID", "s"),
            ("ORIGIN_VERIFY_HEADER", "X-Edge-Secret"),
            ("ORIGIN_VERIFY_RESPONSE", "IAM"),
        ])
        .unwrap();
        assert_eq!(
            (c.header.as_str(), c.response),
            ("x-edge-secret", ResponseMode::Iam)
        );
    }

    #[test]
    fn bad_values_name_the_variable() {
        for (var, value) in [
            ("ORIGIN_VERIFY_HEADER", "x origin"),
            ("ORIGIN_VERIFY_RESPONSE", "policy"),
        ] {
            let err = parse(&[("ORIGIN_VERIFY_SECRET_ID", "s"), (var, value)])
                .unwrap_err()
                .to_string();
            assert!(err.contains(var), "{err}");
        }
        assert!(parse(&[])
            .unwrap_err()
            .to_string()
            .contains("ORIGIN_VERIFY_SECRET_ID"));
    }
}
