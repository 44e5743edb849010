//! Test requests: prove that an origin (or CloudFront) answers 2xx, with bounded retries and backoff.

use std::time::Duration;

use backon::{ExponentialBuilder, Retryable};
use origin_verify_shared::Sensitive;
use reqwest::header::HeaderValue;

use crate::rotation::{Ctx, Rotator};
use crate::Error;

impl Rotator {
    /// GETs `url`, with the header set to `value` when given, until it answers 2xx or the attempts run out.
    /// `presented` names the value in the error ("AWSPENDING", ...), never the value itself.
    pub(crate) async fn probe(
        &self,
        ctx: &Ctx<'_>,
        url: &str,
        value: Option<&Sensitive>,
        presented: &'static str,
    ) -> Result<(), Error> {
        let attempts = self.config.probe_attempts;
        let header = match value {
            Some(v) => {
                let mut h = HeaderValue::from_str(v.expose()).map_err(|_| Error::Format {
                    step: ctx.step,
                    secret: ctx.secret.to_owned(),
                    version: presented.to_owned(),
                    problem: "the value is not a valid HTTP header value".into(),
                })?;
                // Keeps it out of the HTTP client's Debug output.
                h.set_sensitive(true);
                Some(h)
            }
            None => None,
        };
        let once = || async {
            self.record("HTTP GET");
            let mut request = self.http.get(url);
            if let Some(h) = &header {
                request = request.header(self.config.header.as_str(), h.clone());
            }
            match request.send().await {
                Ok(res) if res.status().is_success() => Ok(()),
                Ok(res) => Err(format!("HTTP {}", res.status())),
                Err(e) => Err(e.without_url().to_string()),
            }
        };
        let backoff = ExponentialBuilder::new()
            .with_min_delay(Duration::from_millis(500))
            .with_max_delay(Duration::from_secs(10))
            .with_max_times(attempts - 1)
            .with_jitter();
        once.retry(backoff)
            .sleep(tokio::time::sleep)
            .notify(|problem, delay| {
                tracing::info!(
                    url,
                    presented,
                    problem,
                    retry_in_ms = delay.as_millis() as u64,
                    "test request not yet 2xx"
                )
            })
            .await
            .map_err(|problem| Error::Probe {
                step: ctx.step,
                url: url.to_owned(),
                presented,
                attempts,
                problem,
            })
    }
}
