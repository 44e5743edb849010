//! Shared by the authorizer's tests: the documented events with the origin-verify header set or removed,
//! and the checks of a response.
#![allow(dead_code)]

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

/// The four authorizer payloads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    HttpV2,
    HttpV1,
    RestRequest,
    RestToken,
}

pub const KINDS: [Kind; 4] = [Kind::HttpV2, Kind::HttpV1, Kind::RestRequest, Kind::RestToken];

impl Kind {
    fn fixture(self) -> &'static str {
        match self {
            Kind::HttpV2 => include_str!("../events/http-v2.json"),
            Kind::HttpV1 => include_str!("../events/http-v1.json"),
            Kind::RestRequest => include_str!("../events/rest-request.json"),
            Kind::RestToken => include_str!("../events/rest-token.json"),
        }
    }

    /// REST APIs answer a missing header with 401 through the function error `Unauthorized`.
    pub fn is_rest(self) -> bool {
        matches!(self, Kind::RestRequest | Kind::RestToken)
    }
}

/// The documented event of `kind` carrying `value` under the header name `name` (`None`: no header).
pub fn event_named(kind: Kind, name: &str, value: Option<&str>) -> String {
    let mut event: Value = serde_json::from_str(kind.fixture()).expect("fixture is JSON");
    let obj = event.as_object_mut().expect("fixture is an object");
    match (kind, value) {
        (Kind::RestToken, Some(v)) => {
            obj.insert("authorizationToken".into(), json!(v));
        }
        (Kind::RestToken, None) => {
            obj.remove("authorizationToken");
        }
        (_, Some(v)) => {
            obj["headers"][name] = json!(v);
            match kind {
                Kind::HttpV2 => obj["identitySource"] = json!([v]),
                Kind::HttpV1 => obj["identitySource"] = json!(v),
                _ => obj["multiValueHeaders"][name] = json!([v]),
            }
        }
        (_, None) => {
            obj.remove("identitySource");
        }
    }
    event.to_string()
}

/// The documented event of `kind` with the header under its usual name.
pub fn event(kind: Kind, value: Option<&str>) -> String {
    event_named(kind, HEADER, value)
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
