//! End to end: the real `authorizer` binary under `cargo lambda watch` (Runtime and Extensions APIs),
//! reading its secret from moto, invoked with the documented events.

mod common;

use common::*;
use origin_verify_testkit::{
    create_secret, put_pending, shared_moto_url, sm_client, unique_name, CargoLambda,
};
use serde_json::Value;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_binary_answers_every_payload_under_the_emulator() {
    let moto = shared_moto_url();
    let sm = sm_client(&moto);
    let secret = unique_name("e2e-authorizer");
    create_secret(&sm, &secret, CURRENT).await;
    put_pending(&sm, &secret, PENDING).await;

    let emulator = CargoLambda::spawn(
        "authorizer",
        &[
            ("AWS_ENDPOINT_URL", moto.as_str()),
            ("AWS_REGION", origin_verify_testkit::REGION),
            ("AWS_ACCESS_KEY_ID", "testing"),
            ("AWS_SECRET_ACCESS_KEY", "testing"),
            ("ORIGIN_VERIFY_SECRET_ID", secret.as_str()),
        ],
    )
    .await;

    let cases = [
        ("current", Some(CURRENT), Expect::Allow),
        ("pending", Some(PENDING), Expect::Allow),
        ("wrong", Some(NEAR_MISS), Expect::Deny),
        ("missing", None, Expect::Deny),
    ];
    for kind in KINDS {
        for (name, value, expect) in cases {
            let expect = if value.is_none() && kind.is_rest() {
                Expect::Unauthorized
            } else {
                expect
            };
            let context = format!("{name} / {kind:?}");
            let (status, body) = emulator.invoke("authorizer", &event(kind, value)).await;
            let body: Value =
                serde_json::from_str(&body).unwrap_or_else(|e| panic!("{context}: {e}: {body}"));
            match expect {
                Expect::Unauthorized => {
                    assert_eq!(body["errorMessage"], "Unauthorized", "{context}: {status} {body}");
                    assert_eq!(body["errorType"], "Unauthorized", "{context}: {body}");
                }
                _ => {
                    assert_eq!(status, 200, "{context}: {body}");
                    assert_response(kind, &body, expect == Expect::Allow, &context);
                }
            }
        }
    }

    // What no API Gateway sends: still an answer (a deny in both shapes), never a function error. The
    // binary reads the bytes itself (raw_event), so the runtime's own deserialisation cannot fail first.
    for payload in [r#"[1,2,3]"#, r#""a string""#, r#"{"version":"9.9"}"#, "{}"] {
        let (status, body) = emulator.invoke("authorizer", payload).await;
        let body: Value = serde_json::from_str(&body).unwrap_or_else(|e| panic!("{payload}: {e}: {body}"));
        assert_eq!(status, 200, "{payload}: {body}");
        assert_eq!(body["isAuthorized"], false, "{payload}: {body}");
        assert_eq!(
            body["policyDocument"]["Statement"][0]["Effect"], "Deny",
            "{payload}: {body}"
        );
    }
}
