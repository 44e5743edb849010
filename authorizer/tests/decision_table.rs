//! The decision table: every kind of presented value, for every authorizer payload.

mod common;

use std::time::{Duration, Instant, SystemTime};

use common::*;
use origin_verify_authorizer::{Authorizer, Error};
use origin_verify_extension::{HeldVersion, PreviousVersion, Snapshot, MAX_VALUE_LEN};

/// An authorizer whose cache holds CURRENT, PENDING and PREVIOUS (its window open or closed), fresh.
fn authorizer(previous_open: bool) -> Authorizer {
    let now = Instant::now();
    let accept_until = if previous_open {
        now + Duration::from_secs(300)
    } else {
        now - Duration::from_millis(1)
    };
    let snapshot = Snapshot {
        current: HeldVersion::new("v2", CURRENT),
        pending: Some(HeldVersion::new("v3", PENDING)),
        previous: Some(PreviousVersion {
            held: HeldVersion::new("v1", PREVIOUS),
            since: SystemTime::now(),
            accept_until,
        }),
        fetched_at: now,
    };
    authorizer_holding(snapshot)
}

async fn check(authorizer: &Authorizer, kind: Kind, raw: &str, expect: Expect, row: &str) {
    let context = format!("{row} / {kind:?}");
    match authorizer.handle(raw).await {
        Ok(response) => {
            let value = serde_json::to_value(&response).unwrap();
            assert_ne!(
                expect,
                Expect::Unauthorized,
                "{context}: expected Unauthorized, got {value}"
            );
            assert_response(kind, &value, expect == Expect::Allow, &context);
        }
        Err(Error::Unauthorized) => assert_eq!(expect, Expect::Unauthorized, "{context}"),
        Err(other) => panic!("{context}: unexpected error {other}"),
    }
}

#[tokio::test]
async fn every_presented_value_gets_the_right_answer_for_every_payload() {
    let open = authorizer(true);
    let closed = authorizer(false);
    let over_long = "A".repeat(MAX_VALUE_LEN + 1);
    let joined = format!("{CURRENT},{CURRENT}");
    let non_ascii = format!("{}é", &CURRENT[..CURRENT.len() - 2]);
    let rows: &[(&str, &Authorizer, Option<&str>, Expect)] = &[
        ("current", &open, Some(CURRENT), Expect::Allow),
        ("pending", &open, Some(PENDING), Expect::Allow),
        ("previous inside grace", &open, Some(PREVIOUS), Expect::Allow),
        ("previous outside grace", &closed, Some(PREVIOUS), Expect::Deny),
        (
            "current, previous window closed",
            &closed,
            Some(CURRENT),
            Expect::Allow,
        ),
        ("near miss", &open, Some(NEAR_MISS), Expect::Deny),
        ("far miss", &open, Some(FAR_MISS), Expect::Deny),
        ("empty", &open, Some(""), Expect::Deny),
        ("over-long", &open, Some(&over_long), Expect::Deny),
        (
            "duplicate header joined by comma",
            &open,
            Some(&joined),
            Expect::Deny,
        ),
        ("non-ASCII", &open, Some(&non_ascii), Expect::Deny),
    ];
    for kind in KINDS {
        for (row, authorizer, value, expect) in rows {
            check(authorizer, kind, &event(kind, *value), *expect, row).await;
        }
        let missing = if kind.is_rest() {
            Expect::Unauthorized
        } else {
            Expect::Deny
        };
        check(&open, kind, &event(kind, None), missing, "missing header").await;
    }
}

/// A row of the identity-source table: its name, the header's value, the identity source's values
/// (`None`: the field removed), the answer.
type IdentityRow<'a> = (&'a str, Option<&'a str>, Option<&'a [&'a str]>, Expect);

/// `identitySource` (HTTP API payloads) must be exactly the header value checked, or absent: API Gateway
/// caches the answer under it. Payload 1.0 gets the values comma-joined, as API Gateway joins several
/// identity sources.
#[tokio::test]
async fn identity_source_must_be_exactly_the_header_value() {
    let open = authorizer(true);
    let lower = CURRENT.to_ascii_lowercase();
    let padded = format!(" {CURRENT}");
    let rows: &[IdentityRow<'_>] = &[
        (
            "the header alone, as API Gateway sends it",
            Some(CURRENT),
            Some(&[CURRENT]),
            Expect::Allow,
        ),
        (
            "pending, the header alone",
            Some(PENDING),
            Some(&[PENDING]),
            Expect::Allow,
        ),
        (
            "no identity source (field absent)",
            Some(CURRENT),
            None,
            Expect::Allow,
        ),
        (
            "the value in the identity source, a wrong one in the header",
            Some(NEAR_MISS),
            Some(&[CURRENT]),
            Expect::Deny,
        ),
        (
            "the value in the header, a wrong one in the identity source",
            Some(CURRENT),
            Some(&[NEAR_MISS]),
            Expect::Deny,
        ),
        (
            "the value in the header, another held value in the identity source",
            Some(CURRENT),
            Some(&[PENDING]),
            Expect::Deny,
        ),
        (
            "Host as the identity source",
            Some(CURRENT),
            Some(&[HOST]),
            Expect::Deny,
        ),
        (
            "the header, then Host",
            Some(CURRENT),
            Some(&[CURRENT, HOST]),
            Expect::Deny,
        ),
        (
            "Host, then the header",
            Some(CURRENT),
            Some(&[HOST, CURRENT]),
            Expect::Deny,
        ),
        (
            "the value twice",
            Some(CURRENT),
            Some(&[CURRENT, CURRENT]),
            Expect::Deny,
        ),
        (
            "no element (2.0) or an empty string (1.0)",
            Some(CURRENT),
            Some(&[]),
            Expect::Deny,
        ),
        ("an empty value", Some(CURRENT), Some(&[""]), Expect::Deny),
        (
            "the value in another case",
            Some(CURRENT),
            Some(&[&lower]),
            Expect::Deny,
        ),
        (
            "the value with a leading space",
            Some(CURRENT),
            Some(&[&padded]),
            Expect::Deny,
        ),
        (
            "Host as the identity source, no header",
            None,
            Some(&[HOST]),
            Expect::Deny,
        ),
    ];
    for kind in [Kind::HttpV2, Kind::HttpV1] {
        for (row, value, identity, expect) in rows {
            let identity = identity.map(|values| identity_values(kind, values));
            check(
                &open,
                kind,
                &event_with_identity(kind, *value, identity),
                *expect,
                row,
            )
            .await;
        }
        let null = event_with_identity(kind, Some(CURRENT), Some(serde_json::Value::Null));
        check(&open, kind, &null, Expect::Allow, "no identity source (null)").await;
    }
    // REST events carry no identitySource: one in the event changes nothing (the identity source must be
    // the header alone or the TTL 0, which the authorizer cannot see).
    for kind in [Kind::RestRequest, Kind::RestToken] {
        for identity in [
            None,
            Some(serde_json::json!(HOST)),
            Some(serde_json::json!([HOST, CURRENT])),
        ] {
            let row = format!("REST, identitySource {identity:?}");
            check(
                &open,
                kind,
                &event_with_identity(kind, Some(CURRENT), identity.clone()),
                Expect::Allow,
                &row,
            )
            .await;
            check(
                &open,
                kind,
                &event_with_identity(kind, Some(NEAR_MISS), identity.clone()),
                Expect::Deny,
                &row,
            )
            .await;
            check(
                &open,
                kind,
                &event_with_identity(kind, None, identity),
                Expect::Unauthorized,
                &row,
            )
            .await;
        }
    }
}

#[tokio::test]
async fn header_names_match_ignoring_ascii_case() {
    let open = authorizer(true);
    for kind in [Kind::HttpV2, Kind::HttpV1, Kind::RestRequest] {
        for name in ["X-Origin-Verify", "X-ORIGIN-VERIFY", "x-origin-verify"] {
            check(
                &open,
                kind,
                &event_named(kind, name, Some(CURRENT)),
                Expect::Allow,
                name,
            )
            .await;
        }
        // A near name is another header: the origin-verify header is then missing.
        let missing = if kind.is_rest() {
            Expect::Unauthorized
        } else {
            Expect::Deny
        };
        check(
            &open,
            kind,
            &event_named(kind, "x-origin-verify2", Some(CURRENT)),
            missing,
            "near name",
        )
        .await;
    }
}

#[tokio::test]
async fn repeated_headers_are_refused() {
    let open = authorizer(true);
    // Two keys differing in case (payload 2.0 carries them as given).
    let mut v2: serde_json::Value = serde_json::from_str(&event(Kind::HttpV2, Some(CURRENT))).unwrap();
    v2["headers"]["X-Origin-Verify"] = CURRENT.into();
    check(&open, Kind::HttpV2, &v2.to_string(), Expect::Deny, "two keys").await;
    // Two values in multiValueHeaders (payload 1.0 style and REST).
    let mut rest: serde_json::Value = serde_json::from_str(&event(Kind::RestRequest, Some(CURRENT))).unwrap();
    rest["multiValueHeaders"][HEADER] = serde_json::json!([CURRENT, CURRENT]);
    check(
        &open,
        Kind::RestRequest,
        &rest.to_string(),
        Expect::Deny,
        "multi-value",
    )
    .await;
}

#[tokio::test]
async fn malformed_and_unknown_events_are_denied_never_errors() {
    let open = authorizer(true);
    let cases = [
        "",
        "not json",
        "[]",
        "{}",
        "null",
        r#"{"version":"3.0","type":"REQUEST","headers":{"x-origin-verify":"CurrentValue0123456789abcdefABCD"}}"#,
        r#"{"version":2,"headers":{}}"#,
        r#"{"version":"2.0","headers":{"x-origin-verify":5}}"#,
        r#"{"version":"2.0","headers":["x-origin-verify"]}"#,
        r#"{"type":"TOKEN","authorizationToken":null}"#,
        // identitySource: the other payload's shape, a wrong type, given twice.
        r#"{"version":"2.0","identitySource":"CurrentValue0123456789abcdefABCD","headers":{"x-origin-verify":"CurrentValue0123456789abcdefABCD"}}"#,
        r#"{"version":"1.0","identitySource":["CurrentValue0123456789abcdefABCD"],"headers":{"x-origin-verify":"CurrentValue0123456789abcdefABCD"}}"#,
        r#"{"version":"2.0","identitySource":[5],"headers":{"x-origin-verify":"CurrentValue0123456789abcdefABCD"}}"#,
        r#"{"version":"2.0","identitySource":["CurrentValue0123456789abcdefABCD",null],"headers":{"x-origin-verify":"CurrentValue0123456789abcdefABCD"}}"#,
        r#"{"version":"1.0","identitySource":{},"headers":{"x-origin-verify":"CurrentValue0123456789abcdefABCD"}}"#,
        r#"{"version":"2.0","identitySource":["CurrentValue0123456789abcdefABCD"],"identitySource":["CurrentValue0123456789abcdefABCD"],"headers":{"x-origin-verify":"CurrentValue0123456789abcdefABCD"}}"#,
        r#"{"type":"REQUEST","identitySource":true,"headers":{"x-origin-verify":"CurrentValue0123456789abcdefABCD"}}"#,
    ];
    for raw in cases {
        let response = open.handle(raw).await;
        let value = match response {
            Ok(r) => serde_json::to_value(&r).unwrap(),
            Err(e) if raw.contains("TOKEN") => {
                assert!(matches!(e, Error::Unauthorized), "{raw}: {e}");
                continue;
            }
            Err(e) => panic!("{raw}: error {e}"),
        };
        assert_eq!(value["isAuthorized"], false, "{raw}: {value}");
        assert_eq!(
            value["policyDocument"]["Statement"][0]["Effect"], "Deny",
            "{raw}: {value}"
        );
    }
}
