//! Every answer is counted once, under its reason: the authorizer's metrics (CloudWatch EMF, printed by
//! the extension) count what was decided, not what was sent.

mod common;

use std::time::Instant;

use common::*;
use origin_verify_authorizer::Authorizer;
use origin_verify_extension::metrics::Counter;
use origin_verify_extension::{HeldVersion, Snapshot};
use serde_json::{json, Value};

fn authorizer() -> Authorizer {
    let snapshot = Snapshot {
        current: HeldVersion::new("v2", CURRENT),
        pending: Some(HeldVersion::new("v3", PENDING)),
        previous: None,
        fetched_at: Instant::now(),
    };
    authorizer_holding(snapshot)
}

/// A payload 2.0 event whose identitySource says `identity` while the header holds `value`.
fn with_identity(value: &str, identity: &str) -> String {
    let mut event: Value = serde_json::from_str(&event(Kind::HttpV2, Some(value))).unwrap();
    event["identitySource"] = json!([identity]);
    event.to_string()
}

/// The header twice, under two spellings (API Gateway would comma-join one name; two names differ).
fn repeated() -> String {
    let mut event: Value = serde_json::from_str(&event(Kind::HttpV2, Some(CURRENT))).unwrap();
    event["headers"]["X-Origin-Verify"] = json!(CURRENT);
    event.to_string()
}

#[tokio::test]
async fn each_answer_is_counted_once_under_its_reason() {
    let a = authorizer();
    let requests = [
        event(Kind::HttpV2, Some(CURRENT)),
        event(Kind::HttpV1, Some(CURRENT)),
        event(Kind::HttpV2, Some(PENDING)),
        event(Kind::HttpV2, Some(NEAR_MISS)),
        event(Kind::HttpV2, Some("")),
        event(Kind::HttpV2, None),
        event(Kind::RestRequest, None),
        repeated(),
        "not json".to_owned(),
        with_identity(CURRENT, "example.com"),
    ];
    for raw in &requests {
        // Allows, denies and the REST 401 alike: the answer itself is checked by the decision table.
        let _ = a.handle(raw).await;
    }
    let m = a.cache().metrics();
    let counted = [
        (Counter::AllowsCurrent, 2),
        (Counter::AllowsPending, 1),
        (Counter::AllowsPrevious, 0),
        (Counter::DeniesNoMatch, 1),
        (Counter::DeniesEmptyOrOversized, 1),
        (Counter::DeniesMissing, 2),
        (Counter::DeniesRepeated, 1),
        (Counter::DeniesMalformed, 1),
        (Counter::DeniesIdentitySource, 1),
        (Counter::FailedClosed, 0),
    ];
    for (counter, expected) in counted {
        assert_eq!(m.get(counter), expected, "{}", counter.name());
    }
    let total: u64 = Counter::ALL.iter().take(10).map(|c| m.get(*c)).sum();
    assert_eq!(total, requests.len() as u64, "every request counted exactly once");
}
