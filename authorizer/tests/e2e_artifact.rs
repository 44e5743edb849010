//! The artifact we deploy, end to end: the authorizer `bootstrap` that `sam build` made, run under
//! `cargo lambda watch` (through qemu-user when it is the arm64 build), reading its secret from moto.
//!
//! `scripts/check-artifacts` builds the bootstraps and runs this test with `ORIGIN_VERIFY_TEST_ARTIFACT`
//! (the bootstrap) and `ORIGIN_VERIFY_TEST_ARTIFACT_RUNNER` (e.g. `qemu-aarch64 -L /usr/aarch64-linux-gnu`)
//! set. Without them it has nothing to run and passes with a note: the debug build's end-to-end test is
//! `e2e_cargo_lambda.rs`.

mod common;

use common::*;
use origin_verify_testkit::{
    create_secret, put_pending, shared_moto_url, sm_client, unique_name, Artifact, CargoLambda, ARTIFACT_VAR,
};
use serde_json::Value;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_built_bootstrap_answers_under_the_emulator() {
    let Some(artifact) = Artifact::from_env() else {
        eprintln!("skipped: {ARTIFACT_VAR} is not set (scripts/check-artifacts sets it)");
        return;
    };
    let moto = shared_moto_url();
    let sm = sm_client(&moto);
    let secret = unique_name("e2e-artifact");
    create_secret(&sm, &secret, CURRENT).await;
    put_pending(&sm, &secret, PENDING).await;

    let log = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("{secret}.log"));
    let mut emulator = CargoLambda::spawn_artifact(
        "authorizer",
        &artifact,
        &[
            ("AWS_ENDPOINT_URL", moto.as_str()),
            ("AWS_REGION", origin_verify_testkit::REGION),
            ("AWS_ACCESS_KEY_ID", "testing"),
            ("AWS_SECRET_ACCESS_KEY", "testing"),
            ("ORIGIN_VERIFY_SECRET_ID", secret.as_str()),
            ("AWS_LAMBDA_LOG_FORMAT", "JSON"),
            ("AWS_LAMBDA_LOG_LEVEL", "info"),
        ],
        &log,
    )
    .await;

    let cases = [
        ("current", Some(CURRENT), Expect::Allow),
        ("pending", Some(PENDING), Expect::Allow),
        ("wrong", Some(NEAR_MISS), Expect::Deny),
        ("missing", None, Expect::Deny),
    ];
    // Payload 2.0 first: it is what template.yaml's HTTP API sends.
    for kind in KINDS {
        for (name, value, expect) in cases {
            let expect = if value.is_none() && kind.is_rest() {
                Expect::Unauthorized
            } else {
                expect
            };
            let context = format!("{} / {name} / {kind:?}", artifact.command_line());
            let (status, body) = emulator
                .invoke_watched("authorizer", &event(kind, value), &log)
                .await;
            let body: Value =
                serde_json::from_str(&body).unwrap_or_else(|e| panic!("{context}: {e}: {body}"));
            match expect {
                Expect::Unauthorized => {
                    assert_eq!(body["errorMessage"], "Unauthorized", "{context}: {status} {body}");
                }
                _ => {
                    assert_eq!(status, 200, "{context}: {body}");
                    assert_response(kind, &body, expect == Expect::Allow, &context);
                }
            }
        }
    }

    // The binary ran its INIT (extension registered, secret loaded) and logged it as it does in Lambda.
    let output = std::fs::read_to_string(&log).unwrap_or_default();
    assert!(
        output.contains("initialised"),
        "{}: no \"initialised\" line in its output:\n{output}",
        artifact.command_line()
    );
    eprintln!("{}: every answer as expected", artifact.command_line());
}
