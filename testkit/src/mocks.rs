//! CloudFront clients answered by `aws-smithy-mocks` rules, for what moto cannot show (ETag conflicts, a
//! distribution that stays `InProgress`).

use aws_sdk_cloudfront::config::{BehaviorVersion, Credentials, Region};
use aws_smithy_mocks::{create_mock_http_client, MockResponseInterceptor, Rule, RuleMode};

use crate::REGION;

/// A CloudFront client whose calls are answered by `rules`, in `mode`.
pub fn mocked_cf_client(mode: RuleMode, rules: &[&Rule]) -> aws_sdk_cloudfront::Client {
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
        .build();
    aws_sdk_cloudfront::Client::from_conf(config)
}
