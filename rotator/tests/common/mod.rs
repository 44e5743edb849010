//! Shared by the rotator's tests: a secret, two distributions and an origin that checks the secret.
#![allow(dead_code)]

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use aws_sdk_secretsmanager::config::interceptors::{
    BeforeSerializationInterceptorContextRef, FinalizerInterceptorContextMut,
};
use aws_sdk_secretsmanager::config::{ConfigBag, Intercept, RuntimeComponents};
use aws_sdk_secretsmanager::error::BoxError;
use aws_sdk_secretsmanager::operation::get_secret_value::GetSecretValueOutput;
use aws_sdk_secretsmanager::primitives::DateTime;
use origin_verify_rotator::{Rotator, RotatorConfig};
use origin_verify_shared::{table, Env};
use origin_verify_testkit::*;

/// The header CloudFront adds.
pub const HEADER: &str = "x-origin-verify";
/// The value the secret starts with.
pub const OLD: &str = "OldValue0123456789abcdefghijABCD";
/// Calls that change state somewhere.
pub const WRITES: [&str; 3] = ["PutSecretValue", "UpdateDistribution", "UpdateSecretVersionStage"];
/// The rotation steps, in the order Secrets Manager runs them.
pub const STEPS: [&str; 4] = ["createSecret", "setSecret", "testSecret", "finishSecret"];
/// Staging labels.
pub const CURRENT: &str = "AWSCURRENT";
pub const PENDING: &str = "AWSPENDING";
pub const PREVIOUS: &str = "AWSPREVIOUS";
/// What [`Rotator::take_calls`] records for a test request (not an AWS call).
pub const HTTP_GET: &str = "HTTP GET";
/// The origin of `d1` that sends the header (beside `x-other`): the API, listed in `CLOUDFRONT_ORIGIN_IDS`.
pub const D1_ORIGIN: &str = "api";
/// The origin of `d1` that sends no header at all (not the API, not listed).
pub const D1_BARE_ORIGIN: &str = "s3";
/// The origin of `d2`, which sends the header under another spelling. Same id as on `d1`:
/// `CLOUDFRONT_ORIGIN_IDS` names the origins of every distribution.
pub const D2_ORIGIN: &str = "api";
/// Where the API origins point: the host of the local origin's URL (`ORIGIN_TEST_URLS`), as CloudFront
/// must point at the API's own host. CloudFront never connects in these tests.
pub const API_HOST: &str = "127.0.0.1";

/// The API origin `id` with these headers: `https-only`, at [`API_HOST`].
pub fn api_origin<'a>(id: &'a str, headers: &'a [(&'a str, &'a str)]) -> OriginSpec<'a> {
    OriginSpec {
        id,
        domain: API_HOST,
        port: 443,
        protocol: "https-only",
        headers,
    }
}

/// A secret holding OLD, distribution `d1` (origin `api` sends the header beside another, origin `s3`
/// sends none) and `d2` (origin `api` sends it under another spelling), and an origin checking the secret.
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
        let d1 = create_distribution_with(
            &cf,
            &[
                api_origin(D1_ORIGIN, &[(HEADER, OLD), ("x-other", "keep")]),
                OriginSpec {
                    id: D1_BARE_ORIGIN,
                    domain: "bucket.s3.example.com",
                    port: 443,
                    protocol: "https-only",
                    headers: &[],
                },
            ],
        )
        .await;
        let d2 = create_distribution_with(&cf, &[api_origin(D2_ORIGIN, &[("X-Origin-Verify", OLD)])]).await;
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
            ("CLOUDFRONT_ORIGIN_IDS".into(), D1_ORIGIN.into()),
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
        self.rotator_with_clients(overrides, self.sm.clone(), cf)
    }

    /// A rotator with `overrides` on top of [`Fixture::env`], and the given clients.
    pub fn rotator_with_clients(
        &self,
        overrides: &[(&str, &str)],
        sm: aws_sdk_secretsmanager::Client,
        cf: aws_sdk_cloudfront::Client,
    ) -> Rotator {
        let base = self.env();
        let vars: Vec<(&str, &str)> = overrides
            .iter()
            .copied()
            .chain(base.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .collect();
        let config = RotatorConfig::from_env(&Env(&table(&vars))).expect("config");
        Rotator::new(sm, cf, config).expect("rotator")
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

    /// Every (distribution, origin) that sends the header: what the rotator must keep on accepted values.
    pub fn header_senders(&self) -> [(&str, &'static str); 2] {
        [(self.d1.as_str(), D1_ORIGIN), (self.d2.as_str(), D2_ORIGIN)]
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

/// A rotator process that dies after its `k`-th AWS call, as seen from AWS: clients that let the first `k`
/// calls through and fail every later one before anything is sent. The rotator keeps no state of its own
/// (everything is in Secrets Manager and CloudFront), so this is all a kill can leave behind. One counter
/// spans both clients, because the kill point is a place in the step's whole sequence of calls.
#[derive(Debug, Clone)]
pub struct KillSwitch {
    started: Arc<AtomicUsize>,
    survives: usize,
}

impl KillSwitch {
    /// Dies when call `k + 1` starts.
    pub fn after(k: usize) -> Self {
        Self {
            started: Arc::new(AtomicUsize::new(0)),
            survives: k,
        }
    }

    /// AWS calls started so far, the refused ones included.
    pub fn started(&self) -> usize {
        self.started.load(Ordering::SeqCst)
    }

    /// `base`, with this switch on every call.
    pub fn sm(&self, base: &aws_sdk_secretsmanager::Client) -> aws_sdk_secretsmanager::Client {
        let config = base.config().to_builder().interceptor(self.clone()).build();
        aws_sdk_secretsmanager::Client::from_conf(config)
    }

    /// `base`, with this switch on every call.
    pub fn cf(&self, base: &aws_sdk_cloudfront::Client) -> aws_sdk_cloudfront::Client {
        let config = base.config().to_builder().interceptor(self.clone()).build();
        aws_sdk_cloudfront::Client::from_conf(config)
    }
}

impl Intercept for KillSwitch {
    fn name(&self) -> &'static str {
        "KillSwitch"
    }

    // Before serialization, once per operation (not per retry attempt): the refused call never reaches the
    // network, and the SDK does not retry an interceptor's error.
    fn read_before_execution(
        &self,
        _context: &BeforeSerializationInterceptorContextRef<'_>,
        _cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let n = self.started.fetch_add(1, Ordering::SeqCst);
        if n < self.survives {
            Ok(())
        } else {
            Err(format!("killed: the process died after {} AWS calls", self.survives).into())
        }
    }
}

/// Gives every GetSecretValue answer the CreatedDate `0`: plays real Secrets Manager, where a version keeps
/// the date RotateSecret created it (empty) with, however much later createSecret stores its value. moto
/// reports the moment of the PutSecretValue instead. Tests that use it say `mocked` in their names.
#[derive(Debug, Clone, Copy)]
pub struct CreatedDateAt(pub DateTime);

impl CreatedDateAt {
    /// `base`, with every GetSecretValue answer carrying this date.
    pub fn sm(self, base: &aws_sdk_secretsmanager::Client) -> aws_sdk_secretsmanager::Client {
        let config = base.config().to_builder().interceptor(self).build();
        aws_sdk_secretsmanager::Client::from_conf(config)
    }
}

impl Intercept for CreatedDateAt {
    fn name(&self) -> &'static str {
        "CreatedDateAt"
    }

    fn modify_before_completion(
        &self,
        context: &mut FinalizerInterceptorContextMut<'_>,
        _runtime_components: &RuntimeComponents,
        _cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        if let Some(Ok(output)) = context.output_or_error_mut() {
            if let Some(out) = output.downcast_mut::<GetSecretValueOutput>() {
                out.created_date = Some(self.0);
            }
        }
        Ok(())
    }
}
