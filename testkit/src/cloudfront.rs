//! CloudFront fixtures on moto, and rotation staging the way Secrets Manager does it.

use aws_sdk_cloudfront::config::{BehaviorVersion, Credentials, Region};
use aws_sdk_cloudfront::types::{
    CustomHeaders, CustomOriginConfig, DefaultCacheBehavior, DistributionConfig, Origin, OriginCustomHeader,
    OriginProtocolPolicy, Origins, ViewerProtocolPolicy,
};
use aws_sdk_secretsmanager::types::RotationRulesType;

use crate::REGION;

/// A CloudFront client for the moto server at `url`, with dummy credentials.
pub fn cf_client(url: &str) -> aws_sdk_cloudfront::Client {
    let config = aws_sdk_cloudfront::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new(REGION))
        .credentials_provider(Credentials::new("testing", "testing", None, None, "testkit"))
        .endpoint_url(url)
        .build();
    aws_sdk_cloudfront::Client::from_conf(config)
}

/// One origin of a test distribution: its id and the custom headers it sends.
pub struct TestOrigin<'a> {
    /// Origin id.
    pub id: &'a str,
    /// (name, value) pairs.
    pub headers: &'a [(&'a str, &'a str)],
}

/// Where a distribution's origins point: `{id}.example.com`, or a local HTTP server.
///
/// Every origin is `https-only`: the rotator refuses to write the header to an origin with any other
/// protocol policy. The local edge stand-in has no TLS and connects to `HTTPPort` in plain HTTP whatever
/// the policy says; on loopback nothing crosses a network.
#[derive(Debug, Clone, Copy)]
pub enum OriginTarget {
    /// `{id}.example.com` (never contacted).
    Example,
    /// `127.0.0.1:port`: the local stack's gateway, or a test origin.
    Loopback(u16),
}

/// One origin of a test distribution, every property given.
#[derive(Debug, Clone, Copy)]
pub struct OriginSpec<'a> {
    /// Origin id.
    pub id: &'a str,
    /// Its `DomainName`.
    pub domain: &'a str,
    /// Its `HTTPPort` (and `HTTPSPort`).
    pub port: u16,
    /// Its `OriginProtocolPolicy`, as CloudFront writes it: `https-only`, `http-only`, `match-viewer`.
    pub protocol: &'a str,
    /// (name, value) pairs of its custom headers.
    pub headers: &'a [(&'a str, &'a str)],
}

/// Creates a distribution with these origins (the first is the default target); returns its id.
pub async fn create_distribution(cf: &aws_sdk_cloudfront::Client, origins: &[TestOrigin<'_>]) -> String {
    create_distribution_to(cf, origins, OriginTarget::Example).await
}

/// Creates a distribution whose origins point at `target`, `https-only`; returns its id.
pub async fn create_distribution_to(
    cf: &aws_sdk_cloudfront::Client,
    origins: &[TestOrigin<'_>],
    target: OriginTarget,
) -> String {
    let domains: Vec<String> = origins
        .iter()
        .map(|o| match target {
            OriginTarget::Example => format!("{}.example.com", o.id),
            OriginTarget::Loopback(_) => "127.0.0.1".to_owned(),
        })
        .collect();
    let port = match target {
        OriginTarget::Example => 443,
        OriginTarget::Loopback(port) => port,
    };
    let specs: Vec<OriginSpec<'_>> = origins
        .iter()
        .zip(&domains)
        .map(|(o, domain)| OriginSpec {
            id: o.id,
            domain,
            port,
            protocol: "https-only",
            headers: o.headers,
        })
        .collect();
    create_distribution_with(cf, &specs).await
}

/// Creates a distribution with exactly these origins (the first is the default target); returns its id.
pub async fn create_distribution_with(cf: &aws_sdk_cloudfront::Client, origins: &[OriginSpec<'_>]) -> String {
    let items: Vec<Origin> = origins
        .iter()
        .map(|o| {
            let headers: Vec<OriginCustomHeader> = o
                .headers
                .iter()
                .map(|(n, v)| {
                    OriginCustomHeader::builder()
                        .header_name(*n)
                        .header_value(*v)
                        .build()
                        .unwrap()
                })
                .collect();
            Origin::builder()
                .id(o.id)
                .domain_name(o.domain)
                .custom_headers(
                    CustomHeaders::builder()
                        .quantity(headers.len() as i32)
                        .set_items(Some(headers))
                        .build()
                        .unwrap(),
                )
                .custom_origin_config(
                    CustomOriginConfig::builder()
                        .http_port(o.port as i32)
                        .https_port(o.port as i32)
                        .origin_protocol_policy(OriginProtocolPolicy::from(o.protocol))
                        .build()
                        .unwrap(),
                )
                .build()
                .unwrap()
        })
        .collect();
    let config = DistributionConfig::builder()
        .caller_reference(crate::unique_name("dist"))
        .comment("origin-verify test")
        .enabled(true)
        .origins(
            Origins::builder()
                .quantity(items.len() as i32)
                .set_items(Some(items))
                .build()
                .unwrap(),
        )
        .default_cache_behavior(
            DefaultCacheBehavior::builder()
                .target_origin_id(origins[0].id)
                .viewer_protocol_policy(ViewerProtocolPolicy::AllowAll)
                .cache_policy_id("4135ea2d-6df8-44a3-9df3-4b5a84be39ad")
                .build()
                .unwrap(),
        )
        .build()
        .unwrap();
    let out = cf
        .create_distribution()
        .distribution_config(config)
        .send()
        .await
        .expect("CreateDistribution");
    out.distribution.expect("distribution").id
}

/// The custom headers an origin of a distribution sends now: (name, value) pairs.
pub async fn origin_headers(
    cf: &aws_sdk_cloudfront::Client,
    distribution: &str,
    origin: &str,
) -> Vec<(String, String)> {
    let out = cf
        .get_distribution_config()
        .id(distribution)
        .send()
        .await
        .expect("GetDistributionConfig");
    let config = out.distribution_config.expect("config");
    let origin = config
        .origins
        .expect("origins")
        .items
        .into_iter()
        .find(|o| o.id == origin)
        .expect("origin");
    origin
        .custom_headers
        .map(|h| {
            h.items
                .unwrap_or_default()
                .into_iter()
                .map(|h| (h.header_name, h.header_value))
                .collect()
        })
        .unwrap_or_default()
}

/// The rotation function ARN used when staging rotations on moto. No such function exists there.
pub const ROTATOR_ARN: &str = "arn:aws:lambda:us-east-1:123456789012:function:origin-verify-rotator";

/// Starts a rotation the way Secrets Manager's RotateSecret does: a new version with id `token`, labelled
/// AWSPENDING and without a value yet, and rotation enabled. The steps are then the caller's to run.
///
/// moto does exactly this before it tries to invoke the rotation function, which it cannot (it would
/// need Docker); the "function not found" error that follows is expected and checked.
pub async fn stage_rotation(sm: &aws_sdk_secretsmanager::Client, secret: &str, token: &str) {
    let result = sm
        .rotate_secret()
        .secret_id(secret)
        .client_request_token(token)
        .rotation_lambda_arn(ROTATOR_ARN)
        .rotation_rules(RotationRulesType::builder().automatically_after_days(7).build())
        .send()
        .await;
    match result {
        Ok(_) => {}
        Err(e)
            if e.as_service_error()
                .is_some_and(|s| s.is_resource_not_found_exception()) => {}
        Err(e) => panic!(
            "RotateSecret: {}",
            aws_sdk_secretsmanager::error::DisplayErrorContext(e)
        ),
    }
    let described = sm
        .describe_secret()
        .secret_id(secret)
        .send()
        .await
        .expect("DescribeSecret");
    let stages = described.version_ids_to_stages.unwrap_or_default();
    assert!(
        stages
            .get(token)
            .is_some_and(|s| s.iter().any(|l| l == "AWSPENDING")),
        "RotateSecret did not stage {token} as AWSPENDING: {stages:?}"
    );
}

/// Sets the header `name` (matched ignoring ASCII case) on `origin` of `distribution` to `value`, the way a
/// stack update that re-resolves `{{resolve:secretsmanager:...}}`, or a person editing the distribution,
/// would: read, change, UpdateDistribution with the ETag just read.
pub async fn set_origin_header(
    cf: &aws_sdk_cloudfront::Client,
    distribution: &str,
    origin: &str,
    name: &str,
    value: &str,
) {
    let out = cf
        .get_distribution_config()
        .id(distribution)
        .send()
        .await
        .expect("GetDistributionConfig");
    let mut config = out.distribution_config.expect("config");
    let target = config
        .origins
        .as_mut()
        .expect("origins")
        .items
        .iter_mut()
        .find(|o| o.id == origin)
        .expect("origin");
    let headers = target
        .custom_headers
        .as_mut()
        .and_then(|h| h.items.as_mut())
        .expect("the origin sends custom headers");
    let header = headers
        .iter_mut()
        .find(|h| h.header_name.eq_ignore_ascii_case(name))
        .expect("the origin sends the header");
    header.header_value = value.to_owned();
    cf.update_distribution()
        .id(distribution)
        .if_match(out.e_tag.expect("ETag"))
        .distribution_config(config)
        .send()
        .await
        .expect("UpdateDistribution");
}
