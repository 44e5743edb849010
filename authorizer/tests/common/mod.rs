//! Shared by the authorizer's tests: the documented events with the origin-verify header set or removed,
//! and the checks of a response.
#![allow(dead_code, unused_imports)]

use serde_json::{json, Value};

/// The header CloudFront adds (the default of `ORIGIN_VERIFY_HEADER`).
pub const HEADER: &str = "x-origin-verify";
/// Values held by the secret in these tests (32 alphanumerics, as the rotator generates).
pub const CURRENT: &str = "CurrentValue0123456789abcdefABCD";
pub const PENDING: &str = "PendingValue0123456789abcdefABCD";
pub const PREVIOUS: &str = "PreviousValu0123456789abcdefABCD";
/// Same length as CURRENT, last byte differs.
pub const NEAR_MISS: &str = "CurrentValue0123456789abcdefABCE";
pub const FAR_MISS: &str = "x";

pub use origin_verify_testkit::{EventKind as Kind, EVENT_KINDS as KINDS};

/// An authorizer (default configuration) whose cache holds `snapshot` and never refreshes during a test:
/// no Secrets Manager is reachable, and misses on the fresh snapshot wait for nothing.
pub fn authorizer_holding(
    snapshot: origin_verify_extension::Snapshot,
) -> origin_verify_authorizer::Authorizer {
    use origin_verify_extension::{CacheConfig, Loader, SecretCache};
    use origin_verify_shared::{table, Env};
    let config =
        origin_verify_authorizer::Config::from_env(&Env(&table(&[("ORIGIN_VERIFY_SECRET_ID", "unused")])))
            .expect("config");
    let mut cache_config = CacheConfig::new("unused");
    cache_config.miss_refresh_min_interval = std::time::Duration::from_secs(3600);
    let loader = Loader::new(
        origin_verify_testkit::sm_client("http://127.0.0.1:9"),
        cache_config,
    );
    origin_verify_authorizer::Authorizer::new(config, SecretCache::with_snapshot(loader, snapshot))
}

/// The documented event of `kind` carrying `value` under the header name `name` (`None`: no header).
pub fn event_named(kind: Kind, name: &str, value: Option<&str>) -> String {
    origin_verify_testkit::event_with_header(kind, name, value)
}

/// The documented event of `kind` with the header under its usual name.
pub fn event(kind: Kind, value: Option<&str>) -> String {
    event_named(kind, HEADER, value)
}

/// A host name, for identity sources other than the header.
pub const HOST: &str = "d111111abcdef8.cloudfront.net";

/// `identitySource` as the payload of `kind` carries these values: payload 2.0 a list, 1.0 one string
/// (several sources comma-joined).
pub fn identity_values(kind: Kind, values: &[&str]) -> Value {
    match kind {
        Kind::HttpV2 => json!(values),
        _ => json!(values.join(",")),
    }
}

/// The documented event of `kind` carrying `value` in the header, with `identitySource` set to `identity`
/// (`None`: removed) instead of the header's value.
pub fn event_with_identity(kind: Kind, value: Option<&str>, identity: Option<Value>) -> String {
    let mut event: Value = serde_json::from_str(&event(kind, value)).expect("JSON");
    let obj = event.as_object_mut().expect("an object");
    match identity {
        Some(identity) => obj.insert("identitySource".into(), identity),
        None => obj.remove("identitySource"),
    };
    event.to_string()
}

/// What the authorizer should answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Expect {
    Allow,
    Deny,
    Unauthorized,
}

/// Checks a successful response field by field for `kind` (payload 2.0 in simple-response mode).
pub fn assert_response(kind: Kind, response: &Value, allow: bool, context: &str) {
    match kind {
        Kind::HttpV2 => assert_eq!(response, &json!({ "isAuthorized": allow }), "{context}"),
        _ => {
            let fixture: Value = serde_json::from_str(kind.fixture()).unwrap();
            let arn = fixture["methodArn"].as_str().unwrap();
            // The policy names the whole stage: api-id/stage/*.
            let stage_prefix: String = arn.splitn(3, '/').take(2).collect::<Vec<_>>().join("/");
            let expected = json!({
                "principalId": "cloudfront-origin",
                "policyDocument": {
                    "Version": "2012-10-17",
                    "Statement": [{
                        "Action": "execute-api:Invoke",
                        "Effect": if allow { "Allow" } else { "Deny" },
                        "Resource": format!("{stage_prefix}/*"),
                    }]
                }
            });
            assert_eq!(response, &expected, "{context}");
        }
    }
}
