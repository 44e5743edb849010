//! Shared by the rotator's tests: a secret, two distributions and an origin that checks the secret.
#![allow(dead_code)]

use origin_verify_rotator::{Rotator, RotatorConfig};
use origin_verify_shared::{table, Env};
use origin_verify_testkit::*;

/// The header CloudFront adds.
pub const HEADER: &str = "x-origin-verify";
/// The value the secret starts with.
pub const OLD: &str = "OldValue0123456789abcdefghijABCD";
/// Calls that change state somewhere.
pub const WRITES: [&str; 3] = ["PutSecretValue", "UpdateDistribution", "UpdateSecretVersionStage"];

/// A secret holding OLD, distribution `d1` (origin `api` sends the header beside another, origin `s3`
/// sends none) and `d2` (origin `api2` sends it under another spelling), and an origin checking the secret.
pub struct Fixture {
    pub sm: aws_sdk_secretsmanager::Client,
    pub cf: aws_sdk_cloudfront::Client,
    pub secret: String,
    pub d1: String,
    pub d2: String,
    pub origin: SecretOrigin,
}

impl Fixture {
    pub async fn new(accepts: Accepts) -> Self {
        let url = shared_moto_url();
        let sm = sm_client(&url);
        let cf = cf_client(&url);
        let secret = unique_name("rotation");
        create_secret(&sm, &secret, OLD).await;
        let d1 = create_distribution(
            &cf,
            &[
                TestOrigin {
                    id: "api",
                    headers: &[(HEADER, OLD), ("x-other", "keep")],
                },
                TestOrigin {
                    id: "s3",
                    headers: &[],
                },
            ],
        )
        .await;
        let d2 = create_distribution(
            &cf,
            &[TestOrigin {
                id: "api2",
                headers: &[("X-Origin-Verify", OLD)],
            }],
        )
        .await;
        let origin = SecretOrigin::spawn(sm.clone(), &secret, HEADER, accepts).await;
        Self {
            sm,
            cf,
            secret,
            d1,
            d2,
            origin,
        }
    }

    /// The environment the rotator gets here: fast retries and a short propagation wait.
    pub fn env(&self) -> Vec<(String, String)> {
        vec![
            (
                "CLOUDFRONT_DISTRIBUTION_IDS".into(),
                format!("{},{}", self.d1, self.d2),
            ),
            ("ORIGIN_TEST_URLS".into(), self.origin.url.clone()),
            ("ORIGIN_VERIFY_REFRESH_SECONDS".into(), "1".into()),
            ("ROTATION_PROPAGATION_SECONDS".into(), "1".into()),
            ("ROTATION_PROBE_ATTEMPTS".into(), "2".into()),
            ("ROTATION_DEPLOY_POLL_SECONDS".into(), "1".into()),
            ("ROTATION_DEPLOY_WAIT_SECONDS".into(), "3".into()),
            ("ROTATION_HTTP_TIMEOUT_SECONDS".into(), "2".into()),
        ]
    }

    /// A rotator with `overrides` on top of [`Fixture::env`], and the given CloudFront client.
    pub fn rotator_with(&self, overrides: &[(&str, &str)], cf: aws_sdk_cloudfront::Client) -> Rotator {
        let base = self.env();
        let vars: Vec<(&str, &str)> = overrides
            .iter()
            .copied()
            .chain(base.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .collect();
        let config = RotatorConfig::from_env(&Env(&table(&vars))).expect("config");
        Rotator::new(self.sm.clone(), cf, config).expect("rotator")
    }

    pub fn rotator(&self, overrides: &[(&str, &str)]) -> Rotator {
        self.rotator_with(overrides, self.cf.clone())
    }

    /// The value the header has on `origin` of `distribution` (any spelling of the name).
    pub async fn header_on(&self, distribution: &str, origin: &str) -> Option<String> {
        origin_headers(&self.cf, distribution, origin)
            .await
            .into_iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(HEADER))
            .map(|(_, v)| v)
    }

    /// Starts a rotation as Secrets Manager would; returns its token.
    pub async fn stage(&self) -> String {
        let token = new_token();
        stage_rotation(&self.sm, &self.secret, &token).await;
        token
    }

    /// The staging labels of `version`.
    pub async fn labels(&self, version: &str) -> Vec<String> {
        let mut labels = stages(&self.sm, &self.secret)
            .await
            .remove(version)
            .unwrap_or_default();
        labels.sort();
        labels
    }

    /// Status of a GET on the origin with the header set to `value`.
    pub async fn origin_status(&self, value: &str) -> u16 {
        let client = reqwest::Client::new();
        client
            .get(&self.origin.url)
            .header(HEADER, value)
            .send()
            .await
            .expect("origin")
            .status()
            .as_u16()
    }
}

pub fn writes(calls: &[&'static str]) -> Vec<&'static str> {
    calls.iter().copied().filter(|c| WRITES.contains(c)).collect()
}
