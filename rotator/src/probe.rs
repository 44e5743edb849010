//! Test requests: prove that an origin admits a value and refuses a wrong one (or that CloudFront answers
//! 2xx), with bounded retries and backoff.
//!
//! Where the secret may go: the HTTP client follows no redirect and uses no proxy (see `Rotator::new`),
//! and `ORIGIN_TEST_URLS` was checked at INIT (https, the API's own host). A test with a value first sends
//! a random wrong value of the same length and requires 401 or 403: a URL that admits anything (a route
//! without the authorizer, a CloudFront URL, which overwrites the header with its own value) fails the
//! test before the real value is ever sent to it.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use backon::{ExponentialBuilder, Retryable};
use origin_verify_shared::Sensitive;
use rand::distr::Alphanumeric;
use rand::RngExt;
use reqwest::header::HeaderValue;
use reqwest::{StatusCode, Url};

use crate::rotation::{Ctx, Rotator};
use crate::Error;

/// Why one attempt failed.
enum Failure {
    /// Worth another attempt: the origin may not know the value yet, or the network failed.
    Retry(String),
    /// A property of the URL, not of the moment (a redirect, an invalid header value): retrying changes
    /// nothing and would only send more requests there.
    Final(String),
    /// The URL admitted a wrong value with this status: it does not check the header. Final too.
    Unprotected(u16),
}

impl Failure {
    fn message(&self) -> String {
        match self {
            Failure::Retry(m) | Failure::Final(m) => m.clone(),
            Failure::Unprotected(status) => format!("answered {status} to a wrong value"),
        }
    }
}

fn redirect(status: StatusCode) -> Failure {
    Failure::Final(format!(
        "HTTP {status}: a redirect; test requests follow none (the header would go wherever it points): use the API's own URL"
    ))
}

/// A random value the origin must refuse: as long as `real` and from the same alphabet, so that only its
/// value differs (an authorizer that refused on length alone would pass a shorter one), different from
/// `real`, and new for every request (never logged, never stored).
fn wrong_value(real: &str) -> Sensitive {
    let len = real.len();
    // Bounded: two draws are equal with probability 62^-len (len >= 16).
    for _ in 0..8 {
        let candidate: String = rand::rng()
            .sample_iter(Alphanumeric)
            .take(len)
            .map(char::from)
            .collect();
        if candidate != real {
            return Sensitive::new(candidate);
        }
    }
    // Unreachable in practice; still a value of the same length that is not `real`.
    Sensitive::new(real.chars().map(|c| if c == 'a' { 'b' } else { 'a' }).collect())
}

fn sensitive_header(value: &str) -> Option<HeaderValue> {
    let mut h = HeaderValue::from_str(value).ok()?;
    // Keeps it out of the HTTP client's Debug output.
    h.set_sensitive(true);
    Some(h)
}

impl Rotator {
    async fn get(&self, url: &Url, header: Option<HeaderValue>) -> Result<StatusCode, Failure> {
        self.record("HTTP GET");
        let mut request = self.http.get(url.clone());
        if let Some(h) = header {
            request = request.header(self.config.header.as_str(), h);
        }
        match request.send().await {
            Ok(res) => Ok(res.status()),
            Err(e) => Err(Failure::Retry(e.without_url().to_string())),
        }
    }

    /// One attempt: with a value, a wrong value first (401 or 403 required), then `value` (2xx required);
    /// without, a GET that must answer 2xx.
    async fn attempt(&self, url: &Url, value: Option<&Sensitive>) -> Result<(), Failure> {
        if let Some(real) = value {
            let wrong = wrong_value(real.expose());
            let header = sensitive_header(wrong.expose())
                .ok_or_else(|| Failure::Final("the wrong value is not a valid header value".into()))?;
            let status = self.get(url, Some(header)).await?;
            match status.as_u16() {
                401 | 403 => {}
                _ if status.is_success() => return Err(Failure::Unprotected(status.as_u16())),
                _ if status.is_redirection() => return Err(redirect(status)),
                _ => {
                    return Err(Failure::Retry(format!(
                        "HTTP {status} to a wrong value (expected 401 or 403)"
                    )))
                }
            }
        }
        let header = match value {
            Some(v) => Some(
                sensitive_header(v.expose())
                    .ok_or_else(|| Failure::Final("the value is not a valid HTTP header value".into()))?,
            ),
            None => None,
        };
        let status = self.get(url, header).await?;
        if status.is_success() {
            Ok(())
        } else if status.is_redirection() {
            Err(redirect(status))
        } else {
            Err(Failure::Retry(format!("HTTP {status} (expected 2xx)")))
        }
    }

    /// Tests `url`: with `value`, the origin must refuse a wrong value and admit this one; without, it
    /// must answer 2xx (a URL through CloudFront, which adds the header). Retries with backoff up to
    /// `ROTATION_PROBE_ATTEMPTS`, except on failures no retry can change. `presented` names the value in
    /// the error ("AWSPENDING", ...), never the value itself.
    pub(crate) async fn probe(
        &self,
        ctx: &Ctx<'_>,
        url: &Url,
        value: Option<&Sensitive>,
        presented: &'static str,
    ) -> Result<(), Error> {
        let made = AtomicUsize::new(0);
        let once = || async {
            made.fetch_add(1, Ordering::Relaxed);
            self.attempt(url, value).await
        };
        let backoff = ExponentialBuilder::new()
            .with_min_delay(Duration::from_millis(500))
            .with_max_delay(Duration::from_secs(10))
            .with_max_times(self.config.probe_attempts - 1)
            .with_jitter();
        once.retry(backoff)
            .sleep(tokio::time::sleep)
            .when(|failure| matches!(failure, Failure::Retry(_)))
            .notify(|failure, delay| {
                tracing::info!(
                    url = %url,
                    presented,
                    problem = failure.message(),
                    retry_in_ms = delay.as_millis() as u64,
                    "test request failed; trying again"
                )
            })
            .await
            .map_err(|failure| match failure {
                Failure::Unprotected(status) => Error::Unprotected {
                    step: ctx.step,
                    url: url.to_string(),
                    status,
                },
                other => Error::Probe {
                    step: ctx.step,
                    url: url.to_string(),
                    presented,
                    attempts: made.load(Ordering::Relaxed),
                    problem: other.message(),
                },
            })
    }
}
