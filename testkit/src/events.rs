//! The documented API Gateway authorizer events (in `authorizer/tests/events/`), with the origin-verify
//! header set or removed: shared by the authorizer's tests, the benchmarks and the fuzz seeds.

use serde_json::{json, Value};

/// The four authorizer payloads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventKind {
    /// HTTP API, payload 2.0.
    HttpV2,
    /// HTTP API, payload 1.0.
    HttpV1,
    /// REST API, REQUEST authorizer.
    RestRequest,
    /// REST API, TOKEN authorizer.
    RestToken,
}

/// Every kind.
pub const EVENT_KINDS: [EventKind; 4] = [
    EventKind::HttpV2,
    EventKind::HttpV1,
    EventKind::RestRequest,
    EventKind::RestToken,
];

impl EventKind {
    /// The documented event, as AWS shows it.
    pub fn fixture(self) -> &'static str {
        match self {
            EventKind::HttpV2 => include_str!("../../authorizer/tests/events/http-v2.json"),
            EventKind::HttpV1 => include_str!("../../authorizer/tests/events/http-v1.json"),
            EventKind::RestRequest => include_str!("../../authorizer/tests/events/rest-request.json"),
            EventKind::RestToken => include_str!("../../authorizer/tests/events/rest-token.json"),
        }
    }

    /// REST APIs answer a missing header with 401 through the function error `Unauthorized`.
    pub fn is_rest(self) -> bool {
        matches!(self, EventKind::RestRequest | EventKind::RestToken)
    }

    /// A short name, for benchmark ids.
    pub fn name(self) -> &'static str {
        match self {
            EventKind::HttpV2 => "http-v2",
            EventKind::HttpV1 => "http-v1",
            EventKind::RestRequest => "rest-request",
            EventKind::RestToken => "rest-token",
        }
    }
}

/// The documented event of `kind` carrying `value` under the header `name` (`None`: no header). For TOKEN
/// events the value is the `authorizationToken`. HTTP API events get the `identitySource` API Gateway sends
/// when that header is the authorizer's only identity source (`$request.header.<name>`): `[value]` in
/// payload 2.0, `value` in 1.0; without the header, none.
pub fn event_with_header(kind: EventKind, name: &str, value: Option<&str>) -> String {
    let mut event: Value = serde_json::from_str(kind.fixture()).expect("fixture is JSON");
    let obj = event.as_object_mut().expect("fixture is an object");
    match (kind, value) {
        (EventKind::RestToken, Some(v)) => {
            obj.insert("authorizationToken".into(), json!(v));
        }
        (EventKind::RestToken, None) => {
            obj.remove("authorizationToken");
        }
        (_, Some(v)) => {
            obj["headers"][name] = json!(v);
            match kind {
                EventKind::HttpV2 => obj["identitySource"] = json!([v]),
                EventKind::HttpV1 => obj["identitySource"] = json!(v),
                _ => obj["multiValueHeaders"][name] = json!([v]),
            }
        }
        (_, None) => {
            obj.remove("identitySource");
        }
    }
    event.to_string()
}
