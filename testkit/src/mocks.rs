//! CloudFront clients answered by `aws-smithy-mocks` rules, for what moto cannot show (ETag conflicts, a
//! distribution that stays `InProgress`, a configuration holding settings the SDK does not model).

use std::sync::{Arc, Mutex};

use aws_sdk_cloudfront::config::interceptors::BeforeTransmitInterceptorContextRef;
use aws_sdk_cloudfront::config::{
    BehaviorVersion, ConfigBag, Credentials, Intercept, Region, RuntimeComponents,
};
use aws_sdk_cloudfront::error::BoxError;
use aws_smithy_mocks::{create_mock_http_client, MockResponseInterceptor, Rule, RuleMode};
use aws_smithy_runtime_api::client::orchestrator::HttpResponse;
use aws_smithy_runtime_api::http::StatusCode;
use aws_smithy_types::body::SdkBody;

use crate::REGION;

/// A CloudFront client whose calls are answered by `rules`, in `mode`.
pub fn mocked_cf_client(mode: RuleMode, rules: &[&Rule]) -> aws_sdk_cloudfront::Client {
    recording_mocked_cf_client(mode, rules).0
}

/// A CloudFront client like [`mocked_cf_client`] that also records every request it sends, as sent (after
/// serialisation and any change the caller made to it): what a test checks the rotator sent back.
pub fn recording_mocked_cf_client(
    mode: RuleMode,
    rules: &[&Rule],
) -> (aws_sdk_cloudfront::Client, SentRequests) {
    let sent = SentRequests::default();
    let interceptor = rules
        .iter()
        .fold(MockResponseInterceptor::new().rule_mode(mode), |i, r| {
            i.with_rule(r)
        });
    let config = aws_sdk_cloudfront::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new(REGION))
        .credentials_provider(Credentials::new("testing", "testing", None, None, "testkit"))
        .http_client(create_mock_http_client())
        .interceptor(interceptor)
        .interceptor(sent.clone())
        .build();
    (aws_sdk_cloudfront::Client::from_conf(config), sent)
}

/// One request as the client sent it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SentRequest {
    /// `GET`, `PUT`, ...
    pub method: String,
    /// The URI, path and query.
    pub uri: String,
    /// The body (empty when it is not in memory).
    pub body: String,
}

/// The requests a [`recording_mocked_cf_client`] sent, in order.
#[derive(Debug, Clone, Default)]
pub struct SentRequests(Arc<Mutex<Vec<SentRequest>>>);

impl SentRequests {
    /// Every request sent so far.
    pub fn all(&self) -> Vec<SentRequest> {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// The bodies of the `PUT` requests (UpdateDistribution) sent so far.
    pub fn put_bodies(&self) -> Vec<String> {
        self.all()
            .into_iter()
            .filter(|r| r.method == "PUT")
            .map(|r| r.body)
            .collect()
    }
}

impl Intercept for SentRequests {
    fn name(&self) -> &'static str {
        "SentRequests"
    }

    fn read_before_transmit(
        &self,
        context: &BeforeTransmitInterceptorContextRef<'_>,
        _runtime_components: &RuntimeComponents,
        _cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let request = context.request();
        let body = request
            .body()
            .bytes()
            .map(|b| String::from_utf8_lossy(b).into_owned())
            .unwrap_or_default();
        self.0
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(SentRequest {
                method: request.method().to_owned(),
                uri: request.uri().to_owned(),
                body,
            });
        Ok(())
    }
}

/// A raw HTTP answer with an XML body and, when given, an ETag: what CloudFront sends, for rules built with
/// `http_response` (the SDK then parses it as it would a real answer).
pub fn xml_response(status: u16, etag: Option<&str>, body: &str) -> HttpResponse {
    let mut response = HttpResponse::new(
        StatusCode::try_from(status).expect("an HTTP status"),
        SdkBody::from(body.to_owned()),
    );
    response.headers_mut().insert("Content-Type", "text/xml");
    if let Some(etag) = etag {
        response.headers_mut().insert("ETag", etag.to_owned());
    }
    response
}
