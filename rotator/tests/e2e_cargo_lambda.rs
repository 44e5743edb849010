//! End to end: the real `rotator` binary under `cargo lambda watch`, all four steps invoked as Secrets
//! Manager invokes them, against moto and a local origin.

mod common;

use common::*;
use origin_verify_testkit::{current_version, shared_moto_url, stage_value, Accepts, CargoLambda};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_binary_rotates_under_the_emulator() {
    let f = Fixture::new(Accepts::CurrentAndPending).await;
    let moto = shared_moto_url();
    let mut env: Vec<(String, String)> = f.env();
    env.extend([
        ("AWS_ENDPOINT_URL".to_owned(), moto),
        ("AWS_REGION".to_owned(), origin_verify_testkit::REGION.to_owned()),
        ("AWS_ACCESS_KEY_ID".to_owned(), "testing".to_owned()),
        ("AWS_SECRET_ACCESS_KEY".to_owned(), "testing".to_owned()),
    ]);
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let emulator = CargoLambda::spawn("rotator", &env).await;
    let old_version = current_version(&f.sm, &f.secret).await;
    let token = f.stage().await;

    for step in ["createSecret", "setSecret", "testSecret", "finishSecret"] {
        let event = serde_json::json!({ "Step": step, "SecretId": f.secret, "ClientRequestToken": token });
        let (status, body) = emulator.invoke("rotator", &event.to_string()).await;
        assert_eq!(status, 200, "{step}: {body}");
        assert!(!body.contains("errorType"), "{step} failed: {body}");
    }
    assert_eq!(f.labels(&token).await, ["AWSCURRENT"]);
    assert_eq!(f.labels(&old_version).await, ["AWSPREVIOUS"]);
    let current = stage_value(&f.sm, &f.secret, "AWSCURRENT").await.unwrap();
    assert_eq!(f.header_on(&f.d1, "api").await.as_deref(), Some(current.as_str()));
    assert_eq!(
        f.header_on(&f.d2, D2_ORIGIN).await.as_deref(),
        Some(current.as_str())
    );

    // A refused step comes back as a function error that names the step and the secret.
    let event = serde_json::json!({ "Step": "setSecret", "SecretId": f.secret, "ClientRequestToken": "no-such-version-000000000000000000" });
    let (_, body) = emulator.invoke("rotator", &event.to_string()).await;
    let body: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(body["errorType"], "RotationRefused", "{body}");
    let message = body["errorMessage"].as_str().unwrap();
    assert!(
        message.contains("setSecret") && message.contains(&f.secret),
        "{message}"
    );
}
