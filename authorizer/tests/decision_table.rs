//! The decision table: every kind of presented value, for every authorizer payload.

mod common;

use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use common::*;
use origin_verify_authorizer::{Authorizer, Config, Error};
use origin_verify_extension::{
    CacheConfig, HeldVersion, Loader, PreviousVersion, SecretCache, Snapshot, MAX_VALUE_LEN,
};
use origin_verify_shared::{table, Env};
use origin_verify_testkit::sm_client;

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
    let config = Config::from_env(&Env(&table(&[("ORIGIN_VERIFY_SECRET_ID", "unused")]))).expect("config");
    // Refreshes never run here: the snapshot is fresh and misses on a fresh snapshot wait for nothing.
    let mut cache_config = CacheConfig::new("unused");
    cache_config.miss_refresh_min_interval = Duration::from_secs(3600);
    let cache: Arc<SecretCache> = SecretCache::with_snapshot(
        Loader::new(sm_client("http://127.0.0.1:9"), cache_config),
        snapshot,
    );
    Authorizer::new(config, cache)
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
