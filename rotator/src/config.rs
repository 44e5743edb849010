//! The rotator's configuration, parsed once at INIT from the environment.

use std::time::Duration;

use origin_verify_shared::{is_header_name, ConfigError, Env};
use reqwest::Url;

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
    /// `CLOUDFRONT_ORIGIN_IDS`: the origins that get the header, on every distribution (required: any
    /// other origin may be another stack's API or a third party, whatever header it sends).
    pub origin_ids: Vec<String>,
    /// `ORIGIN_TEST_URLS`: requested with the header to prove the origin accepts a value, and with a wrong
    /// value to prove it checks (required). Each is `https://` (`http://` only on loopback) to the API's
    /// own host: an `execute-api` domain, a host in `ORIGIN_TEST_ALLOWED_HOSTS`, or loopback.
    pub origin_test_urls: Vec<Url>,
    /// The hosts of `ORIGIN_TEST_URLS`, lower case: the API's domains. An origin gets the header only if
    /// its `DomainName` is one of them, so the value reaches no server the test requests did not prove.
    pub api_hosts: Vec<String>,
    /// `CLOUDFRONT_TEST_URLS`: requested without the header after deployment (CloudFront adds it).
    pub cloudfront_test_urls: Vec<Url>,
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
    /// `AWS_LAMBDA_FUNCTION_NAME` (set by Lambda): the metrics' `FunctionName` dimension.
    pub function_name: String,
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
        let origin_ids = env.list("CLOUDFRONT_ORIGIN_IDS");
        if origin_ids.is_empty() {
            return Err(ConfigError::new(
                "CLOUDFRONT_ORIGIN_IDS",
                "is not set",
                "list the ids of the origins that are the protected API (template.yaml: HttpApi); no other origin gets the header",
            ));
        }
        let allowed_hosts = allowed_hosts(env)?;
        let origin_test_urls = origin_test_urls(env, &allowed_hosts)?;
        let mut api_hosts: Vec<String> = origin_test_urls
            .iter()
            .filter_map(|u| u.host_str().map(str::to_ascii_lowercase))
            .collect();
        api_hosts.sort_unstable();
        api_hosts.dedup();
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
            origin_ids,
            origin_test_urls,
            api_hosts,
            cloudfront_test_urls: urls(env, "CLOUDFRONT_TEST_URLS")?,
            secret_length: secret_length as i64,
            exclude_characters: env.string("ROTATION_EXCLUDE_CHARACTERS", ""),
            propagation,
            // Fits a 900 s Lambda timeout with room for the probes around it.
            deploy_wait: env.seconds("ROTATION_DEPLOY_WAIT_SECONDS", Duration::from_secs(780))?,
            deploy_poll: env.seconds("ROTATION_DEPLOY_POLL_SECONDS", Duration::from_secs(15))?,
            http_timeout: env.seconds("ROTATION_HTTP_TIMEOUT_SECONDS", Duration::from_secs(5))?,
            probe_attempts: probe_attempts as usize,
            function_name: env.string("AWS_LAMBDA_FUNCTION_NAME", "origin-verify-rotator"),
        })
    }
}

/// URLs requested without the header (through CloudFront, which adds it): they carry no secret, so any
/// http(s) URL will do.
fn urls(env: &Env<'_>, var: &'static str) -> Result<Vec<Url>, ConfigError> {
    env.list(var)
        .iter()
        .map(|u| {
            Url::parse(u)
                .ok()
                .filter(|u| matches!(u.scheme(), "https" | "http") && u.has_host())
                .ok_or_else(|| {
                    ConfigError::new(
                        var,
                        "has an entry that is not an http(s) URL",
                        "use full URLs, comma-separated",
                    )
                })
        })
        .collect()
}

/// `ORIGIN_TEST_ALLOWED_HOSTS`: custom domains of the API, lower case. Bare host names only: no scheme,
/// port, path or wildcard, so that an entry can only ever match one host exactly.
fn allowed_hosts(env: &Env<'_>) -> Result<Vec<String>, ConfigError> {
    let hosts = env.list("ORIGIN_TEST_ALLOWED_HOSTS");
    let is_host = |h: &str| {
        h.split('.').count() >= 2
            && h.split('.').all(|label| {
                !label.is_empty()
                    && label.len() <= 63
                    && !label.starts_with('-')
                    && !label.ends_with('-')
                    && label.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
            })
    };
    if let Some(_bad) = hosts.iter().find(|h| !is_host(h)) {
        return Err(ConfigError::new(
            "ORIGIN_TEST_ALLOWED_HOSTS",
            "has an entry that is not a bare host name",
            "list the API's custom domains exactly (api.example.com), comma-separated: no scheme, port, path or wildcard",
        ));
    }
    Ok(hosts.iter().map(|h| h.to_ascii_lowercase()).collect())
}

/// Whether `host` (lower case) is an API Gateway default endpoint: `<api-id>.execute-api.<region>.amazonaws.com`,
/// or `.amazonaws.com.cn` in the China partition.
fn is_execute_api_host(host: &str) -> bool {
    let labels: Vec<&str> = host.split('.').collect();
    let (id, region) = match labels.as_slice() {
        [id, "execute-api", region, "amazonaws", "com"] => (*id, *region),
        [id, "execute-api", region, "amazonaws", "com", "cn"] => (*id, *region),
        _ => return false,
    };
    id.len() == 10
        && id.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
        && region.starts_with(|c: char| c.is_ascii_lowercase())
        && region
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
}

/// Whether the URL's host is loopback: 127.0.0.0/8, ::1 or `localhost`. Only the tests and the local stack
/// use such URLs; nothing sent there leaves the machine.
fn is_loopback(url: &Url) -> bool {
    let host = url.host_str().unwrap_or_default();
    // The URL parser has already normalised addresses (`127.1` is `127.0.0.1`, IPv6 is bracketed).
    if let Ok(ip) = host.parse::<std::net::Ipv4Addr>() {
        return ip.is_loopback();
    }
    if let Some(ip) = host.strip_prefix('[').and_then(|h| h.strip_suffix(']')) {
        return ip.parse::<std::net::Ipv6Addr>().is_ok_and(|ip| ip.is_loopback());
    }
    host.eq_ignore_ascii_case("localhost")
}

/// `ORIGIN_TEST_URLS`: the URLs that receive the secret. Checked here, once, so that a mistyped or
/// redirected URL can never be where a value goes (README, "Rotation": where the secret may go).
fn origin_test_urls(env: &Env<'_>, allowed_hosts: &[String]) -> Result<Vec<Url>, ConfigError> {
    const VAR: &str = "ORIGIN_TEST_URLS";
    let entries = env.list(VAR);
    if entries.is_empty() {
        return Err(ConfigError::new(
            VAR,
            "is not set",
            "list at least one URL of the protected API (direct, not through CloudFront)",
        ));
    }
    entries
        .iter()
        .map(|entry| {
            let url = Url::parse(entry).map_err(|_| {
                ConfigError::new(VAR, "has an entry that is not a URL", "use full https:// URLs, comma-separated")
            })?;
            if !url.username().is_empty() || url.password().is_some() {
                return Err(ConfigError::new(
                    VAR,
                    "has a URL with user information",
                    "remove the user:password@ part; the header is the only credential",
                ));
            }
            let loopback = is_loopback(&url);
            match url.scheme() {
                "https" => {}
                "http" if loopback => {}
                "http" => {
                    return Err(ConfigError::new(
                        VAR,
                        "has an http:// URL to a host that is not loopback (the value would cross the network in clear text)",
                        "use https:// (http:// is accepted only for 127.0.0.0/8, ::1 and localhost)",
                    ))
                }
                _ => {
                    return Err(ConfigError::new(
                        VAR,
                        "has an entry that is not an https:// URL",
                        "use full https:// URLs, comma-separated",
                    ))
                }
            }
            let host = url.host_str().unwrap_or_default().to_ascii_lowercase();
            if !(loopback || is_execute_api_host(&host) || allowed_hosts.contains(&host)) {
                return Err(ConfigError::new(
                    VAR,
                    "has a URL whose host is not the API's: neither <api-id>.execute-api.<region>.amazonaws.com nor listed in ORIGIN_TEST_ALLOWED_HOSTS",
                    "use the API's own URL, or list its custom domain in ORIGIN_TEST_ALLOWED_HOSTS (never a CloudFront or third-party host)",
                ));
            }
            Ok(url)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use origin_verify_shared::table;

    const API_URL: &str = "https://abc1234567.execute-api.us-east-1.amazonaws.com/";

    const REQUIRED: [(&str, &str); 3] = [
        ("CLOUDFRONT_DISTRIBUTION_IDS", "E1, E2"),
        ("CLOUDFRONT_ORIGIN_IDS", "HttpApi"),
        ("ORIGIN_TEST_URLS", API_URL),
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

    // Issue 13, item 1: the value crosses the network only over TLS.
    #[test]
    fn an_http_url_to_a_host_that_is_not_loopback_is_refused_at_init() {
        for url in [
            "http://abc1234567.execute-api.us-east-1.amazonaws.com/",
            "http://10.0.0.1/",
            "http://127.0.0.1.example.com/",
        ] {
            let err = parse(&[("ORIGIN_TEST_URLS", url)]).unwrap_err();
            assert_eq!(err.var, "ORIGIN_TEST_URLS", "{url}");
        }
        for url in [
            "http://127.0.0.1:8080/",
            "http://127.1.2.3/",
            "http://[::1]:80/",
            "http://localhost:9/",
        ] {
            assert!(parse(&[("ORIGIN_TEST_URLS", url)]).is_ok(), "{url}");
        }
    }

    // Issue 13, item 1: the value goes to the API's own host, or to one the operator listed.
    #[test]
    fn a_host_that_is_not_the_api_is_refused_unless_allowlisted() {
        for url in [
            "https://api.example.com/",
            "https://d111111abcdef8.cloudfront.net/",
            "https://abc1234567.execute-api.us-east-1.amazonaws.com.evil.example/",
            "https://execute-api.us-east-1.amazonaws.com/",
            "https://user:pass@abc1234567.execute-api.us-east-1.amazonaws.com/",
        ] {
            let err = parse(&[("ORIGIN_TEST_URLS", url)]).unwrap_err();
            assert_eq!(err.var, "ORIGIN_TEST_URLS", "{url}");
        }
        for url in [
            API_URL,
            "https://ABC1234567.execute-api.eu-west-3.amazonaws.com/health",
            "https://abc1234567.execute-api.cn-north-1.amazonaws.com.cn/",
        ] {
            assert!(parse(&[("ORIGIN_TEST_URLS", url)]).is_ok(), "{url}");
        }
        let allowed = parse(&[
            ("ORIGIN_TEST_URLS", "https://API.example.com/health"),
            ("ORIGIN_TEST_ALLOWED_HOSTS", "other.example.org, api.example.com"),
        ]);
        assert!(allowed.is_ok(), "{allowed:?}");
        for bad in [
            "https://api.example.com",
            "*.example.com",
            "api.example.com:443",
            "api example",
        ] {
            let err = parse(&[("ORIGIN_TEST_ALLOWED_HOSTS", bad)]).unwrap_err();
            assert_eq!(err.var, "ORIGIN_TEST_ALLOWED_HOSTS", "{bad}");
        }
    }

    // Issue 13, item 3: without the list, every origin that sent a header of that name got the value.
    #[test]
    fn cloudfront_origin_ids_are_required() {
        let err = parse(&[("CLOUDFRONT_ORIGIN_IDS", " ")]).unwrap_err();
        assert_eq!(err.var, "CLOUDFRONT_ORIGIN_IDS");
    }
}
