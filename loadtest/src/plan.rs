//! What to load: targets, their expectations, rate, duration, and the local/remote guard.

use std::collections::HashSet;
use std::fmt;
use std::net::IpAddr;
use std::str::FromStr;
use std::time::Duration;

use reqwest::header::{HeaderMap, HeaderName, HeaderValue};
use reqwest::Url;
use serde::{Deserialize, Serialize};

use crate::Error;

/// What a target's responses must be. Anything else counts as a violation.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Expect {
    /// Any 2xx status: the request went through.
    #[serde(rename = "2xx")]
    Success,
    /// 401 or 403: the request was turned away (what a direct call to the API must get).
    #[serde(rename = "refused")]
    Refused,
    /// Any HTTP response. A transport error (no response at all) is still a violation: a target that
    /// cannot be reached is not being measured.
    #[serde(rename = "any")]
    Any,
}

impl Expect {
    /// Whether an outcome (`Some(status)`, or `None` for a transport error) meets the expectation.
    pub fn accepts(self, status: Option<u16>) -> bool {
        match (self, status) {
            (_, None) => false,
            (Expect::Success, Some(s)) => (200..300).contains(&s),
            (Expect::Refused, Some(s)) => s == 401 || s == 403,
            (Expect::Any, Some(_)) => true,
        }
    }
}

impl fmt::Display for Expect {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Expect::Success => "2xx",
            Expect::Refused => "401/403",
            Expect::Any => "any",
        })
    }
}

impl FromStr for Expect {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.to_ascii_lowercase().as_str() {
            "2xx" | "success" | "ok" => Ok(Expect::Success),
            "refused" | "401/403" | "denied" => Ok(Expect::Refused),
            "any" => Ok(Expect::Any),
            other => Err(format!(
                "unknown expectation {other:?} (want 2xx, refused or any)"
            )),
        }
    }
}

/// One URL to load, with what its responses must be.
#[derive(Clone, PartialEq, Eq)]
pub struct Target {
    /// Name in the report and the progress line; unique within a plan.
    pub name: String,
    /// `http://` or `https://` URL, requested with GET.
    pub url: String,
    /// What every response must be.
    pub expect: Expect,
    /// Extra request headers. Their values never appear in reports or `Debug` output: one of them may
    /// well be the origin secret.
    pub headers: Vec<(String, String)>,
}

impl Target {
    /// A target without extra headers.
    pub fn new(name: impl Into<String>, url: impl Into<String>, expect: Expect) -> Self {
        Target {
            name: name.into(),
            url: url.into(),
            expect,
            headers: Vec::new(),
        }
    }

    /// Adds a request header.
    pub fn with_header(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.headers.push((name.into(), value.into()));
        self
    }
}

impl fmt::Debug for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let headers: Vec<String> = self
            .headers
            .iter()
            .map(|(n, _)| format!("{n}: <redacted>"))
            .collect();
        f.debug_struct("Target")
            .field("name", &self.name)
            .field("url", &self.url)
            .field("expect", &self.expect)
            .field("headers", &headers)
            .finish()
    }
}

/// Which hosts a plan may load.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    /// Loopback hosts only (127.0.0.0/8, ::1, `localhost`): a load test pointed at the wrong URL
    /// must not hammer somebody else's server.
    #[default]
    Local,
    /// Any host.
    Remote,
}

/// A whole load run.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Plan {
    /// The URLs to load, all at once.
    pub targets: Vec<Target>,
    /// How long requests are started for. In-flight requests then get up to `request_timeout`.
    pub duration: Duration,
    /// Requests started per second, per target, whatever the responses do (open loop).
    pub rate_per_target: u32,
    /// Requests in flight at once, per target. Requests due while the cap is reached wait, and that
    /// wait counts in their latency.
    pub max_in_flight: usize,
    /// Whether non-loopback hosts are allowed.
    pub mode: Mode,
    /// Bound on each request, connecting and reading the body included.
    pub request_timeout: Duration,
}

impl Plan {
    /// A plan with the CLI's defaults: 30 s at 50 requests/s per target, 64 in flight, 5 s timeout,
    /// local mode.
    pub fn new(targets: Vec<Target>) -> Self {
        Plan {
            targets,
            duration: Duration::from_secs(30),
            rate_per_target: 50,
            max_in_flight: 64,
            mode: Mode::Local,
            request_timeout: Duration::from_secs(5),
        }
    }

    /// Checks the plan without sending anything: parameters in range, unique names, URLs that parse,
    /// valid headers, and (in local mode) loopback hosts only.
    pub fn validate(&self) -> Result<(), Error> {
        self.prepare().map(drop)
    }

    pub(crate) fn prepare(&self) -> Result<Vec<Prepared>, Error> {
        if self.targets.is_empty() {
            return Err(Error::NoTargets);
        }
        if self.rate_per_target == 0 {
            return Err(Error::InvalidPlan(
                "the rate must be at least 1 request per second".into(),
            ));
        }
        // Beyond this one process cannot start requests on time anyway, and the pacing period would
        // round to nothing.
        if self.rate_per_target > 100_000 {
            return Err(Error::InvalidPlan(
                "the rate must be at most 100000 requests per second".into(),
            ));
        }
        if self.max_in_flight == 0 {
            return Err(Error::InvalidPlan("max in flight must be at least 1".into()));
        }
        if self.duration.is_zero() {
            return Err(Error::InvalidPlan("the duration must be more than zero".into()));
        }
        // The report keeps one bucket per second; a day is far beyond any sensible load test.
        if self.duration > Duration::from_secs(24 * 3600) {
            return Err(Error::InvalidPlan("the duration must be at most 24h".into()));
        }
        if self.request_timeout.is_zero() {
            return Err(Error::InvalidPlan(
                "the request timeout must be more than zero".into(),
            ));
        }
        let mut names = HashSet::new();
        let mut prepared = Vec::with_capacity(self.targets.len());
        for target in &self.targets {
            if target.name.is_empty() {
                return Err(Error::InvalidPlan(format!(
                    "the target for {} has an empty name",
                    target.url
                )));
            }
            if !names.insert(target.name.as_str()) {
                return Err(Error::DuplicateTarget(target.name.clone()));
            }
            prepared.push(Prepared::new(target, self.mode)?);
        }
        Ok(prepared)
    }
}

/// A target checked and converted for the HTTP client.
#[derive(Debug)]
pub(crate) struct Prepared {
    pub(crate) url: Url,
    pub(crate) headers: HeaderMap,
}

impl Prepared {
    fn new(target: &Target, mode: Mode) -> Result<Self, Error> {
        let bad_url = |reason: String| Error::BadUrl {
            target: target.name.clone(),
            url: target.url.clone(),
            reason,
        };
        let url = Url::parse(&target.url).map_err(|e| bad_url(e.to_string()))?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err(bad_url(format!("scheme {:?} is not http or https", url.scheme())));
        }
        let host = url.host_str().ok_or_else(|| bad_url("no host".into()))?;
        if mode == Mode::Local && !is_loopback_host(host) {
            return Err(Error::NotLoopback {
                target: target.name.clone(),
                url: target.url.clone(),
            });
        }
        let mut headers = HeaderMap::new();
        for (name, value) in &target.headers {
            let bad_header = |reason: String| Error::BadHeader {
                target: target.name.clone(),
                name: name.clone(),
                reason,
            };
            let header_name = HeaderName::from_bytes(name.trim().as_bytes())
                .map_err(|_| bad_header("invalid name".into()))?;
            let mut header_value = HeaderValue::from_str(value.trim())
                .map_err(|_| bad_header("invalid value (not shown)".into()))?;
            // Keeps the value out of the client's own Debug output.
            header_value.set_sensitive(true);
            headers.append(header_name, header_value);
        }
        Ok(Prepared { url, headers })
    }
}

/// Whether a URL host (as `Url::host_str` gives it: IPv6 in brackets) is a loopback address.
///
/// Names other than `localhost` are refused rather than resolved: what a name resolves to can change
/// between the check and the requests.
pub(crate) fn is_loopback_host(host: &str) -> bool {
    let host = host.strip_suffix('.').unwrap_or(host);
    if host.eq_ignore_ascii_case("localhost") {
        return true;
    }
    let bare = host
        .strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .unwrap_or(host);
    match bare.parse::<IpAddr>() {
        Ok(IpAddr::V4(ip)) => ip.is_loopback(),
        Ok(IpAddr::V6(ip)) => ip.is_loopback() || ip.to_ipv4_mapped().is_some_and(|v4| v4.is_loopback()),
        Err(_) => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_hosts() {
        for host in [
            "127.0.0.1",
            "127.1.2.3",
            "[::1]",
            "localhost",
            "LOCALHOST",
            "localhost.",
            "[::ffff:127.0.0.1]",
        ] {
            assert!(is_loopback_host(host), "{host}");
        }
        for host in [
            "10.0.0.1",
            "example.com",
            "[::2]",
            "128.0.0.1",
            "localhost.example.com",
            "0.0.0.0",
        ] {
            assert!(!is_loopback_host(host), "{host}");
        }
    }

    #[test]
    fn url_forms_are_normalised_before_the_check() {
        // The URL parser turns these into dotted IPv4, so they cannot slip past the check.
        let plan = |url: &str| Plan::new(vec![Target::new("t", url, Expect::Any)]);
        assert!(plan("http://2130706433:8080/").validate().is_ok());
        assert!(plan("http://0x7f.1/").validate().is_ok());
        assert!(matches!(
            plan("http://167772161/").validate(),
            Err(Error::NotLoopback { .. })
        ));
    }

    #[test]
    fn expectations() {
        assert!(Expect::Success.accepts(Some(204)));
        assert!(!Expect::Success.accepts(Some(403)));
        assert!(Expect::Refused.accepts(Some(401)) && Expect::Refused.accepts(Some(403)));
        assert!(!Expect::Refused.accepts(Some(404)));
        assert!(Expect::Any.accepts(Some(500)));
        assert!(!Expect::Any.accepts(None));
    }

    #[test]
    fn debug_hides_header_values() {
        let t =
            Target::new("t", "http://127.0.0.1/", Expect::Success).with_header("x-origin-verify", "s3cret");
        assert!(!format!("{t:?}").contains("s3cret"));
    }
}
