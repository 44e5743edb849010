//! The layer from Python, as users of AWS's extension read it: a standard-library client compared field
//! by field with boto3, and the blog's authorizer design in Python, run by AWS's runtime interface client
//! (`awslambdaric`) under the Lambda emulator with the layer beside it.

mod common;

use std::path::PathBuf;
use std::time::Duration;

use aws_sdk_secretsmanager::primitives::Blob;
use common::{create_secret, from_secrets_manager, Running, TOKEN};
use origin_verify_testkit::{
    event_with_header, shared_moto_url, sm_client, tool, unique_name, workspace_root, EventKind,
};

const HEADER: &str = "x-origin-verify";

fn python() -> PathBuf {
    tool("python")
}

#[tokio::test]
async fn a_standard_library_python_client_reads_the_same_fields_as_boto3_on_moto() {
    let (json_secret, _) = create_secret(r#"{"HEADERVALUE":"python-compare-1"}"#).await;
    let (plain_secret, plain_arn) = create_secret("plain text value").await;
    let binary_secret = unique_name("layer-py-bin");
    sm_client(&shared_moto_url())
        .create_secret()
        .name(&binary_secret)
        .secret_binary(Blob::new(vec![9u8, 0, 255, 128]))
        .send()
        .await
        .unwrap();
    let layer = Running::start(&[]).await;
    let output = tokio::process::Command::new(python())
        .arg(workspace_root().join("layer/tests/python/compare_with_boto3.py"))
        .env("LAYER_URL", &layer.url)
        .env("AWS_SESSION_TOKEN", TOKEN)
        .env("MOTO_URL", shared_moto_url())
        .env("SECRET_IDS", format!("{json_secret},{plain_arn},{binary_secret}"))
        .output()
        .await
        .expect("run the Python comparison");
    let (stdout, stderr) = (
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr),
    );
    assert!(output.status.success(), "{stdout}\n{stderr}");
    // 3 secrets x 3 request shapes x 7 fields.
    assert!(stdout.contains("63 fields compared, 0 differences"), "{stdout}");
    let _ = plain_secret;
}

#[tokio::test]
async fn the_blog_s_python_authorizer_decides_through_the_layer_under_awslambdaric() {
    let (secret, _) = create_secret(r#"{"HEADERVALUE":"python-current-value"}"#).await;
    let client = sm_client(&shared_moto_url());
    // refreshNow at any moment (not at most once a second): the test's steps follow each other within
    // milliseconds. The rate limit is shown in emulated.rs.
    let mut layer = Running::start(&[
        ("ORIGIN_VERIFY_PREFETCH_SECRET_IDS", &secret),
        ("ORIGIN_VERIFY_REFRESH_NOW_MIN_MS", "0"),
    ])
    .await;
    let app = workspace_root().join("examples/python-authorizer");
    let env = [
        ("PYTHONPATH", app.to_str().unwrap()),
        ("AWS_SESSION_TOKEN", TOKEN),
        ("PARAMETERS_SECRETS_EXTENSION_HTTP_PORT", layer.port.as_str()),
        ("ORIGIN_VERIFY_SECRET_ID", secret.as_str()),
    ];
    layer
        .sandbox
        .start_runtime(&python(), &["-m", "awslambdaric", "app.handler"], &env, None)
        .await;
    let decide = |value: Option<&'static str>| {
        let sandbox = &layer.sandbox;
        async move {
            let (status, body) = tokio::time::timeout(
                Duration::from_secs(60),
                sandbox.invoke(&event_with_header(EventKind::HttpV2, HEADER, value)),
            )
            .await
            .expect("the Python function answers");
            assert_eq!(status, 200, "{body}");
            let json: serde_json::Value = serde_json::from_str(&body).expect("JSON");
            json["isAuthorized"].as_bool().expect("a simple response")
        }
    };
    assert!(decide(Some("python-current-value")).await, "AWSCURRENT");
    assert!(!decide(Some("a-wrong-value")).await, "wrong");
    assert!(
        !decide(None).await,
        "missing (API Gateway answers 401 before invoking)"
    );
    // A rotation begins: AWSPENDING is allowed at once (the miss asks again with refreshNow), although the
    // layer's TTL (300 s) is far from over.
    client
        .put_secret_value()
        .secret_id(&secret)
        .secret_string(r#"{"HEADERVALUE":"python-pending-value"}"#)
        .version_stages("AWSPENDING")
        .send()
        .await
        .unwrap();
    assert!(decide(Some("python-pending-value")).await, "AWSPENDING, at once");
    assert!(decide(Some("python-current-value")).await, "AWSCURRENT still");
    // The rotation finishes: AWSCURRENT moves to the new version. Once the layer has seen it (the next
    // miss refreshes), the old value is AWSPREVIOUS, accepted inside the grace window: edge locations
    // still sending it are not refused (the blog's design refuses them).
    let old = from_secrets_manager(&secret, None).await["VersionId"]
        .as_str()
        .unwrap()
        .to_owned();
    let new = from_secrets_manager(&secret, Some("AWSPENDING")).await["VersionId"]
        .as_str()
        .unwrap()
        .to_owned();
    client
        .update_secret_version_stage()
        .secret_id(&secret)
        .version_stage("AWSCURRENT")
        .move_to_version_id(&new)
        .remove_from_version_id(&old)
        .send()
        .await
        .unwrap();
    assert!(!decide(Some("a-third-wrong-value")).await);
    assert!(
        decide(Some("python-current-value")).await,
        "AWSPREVIOUS, in the grace window"
    );
    assert!(decide(Some("python-pending-value")).await, "the new AWSCURRENT");
    // A wrong value asks once more with refreshNow: one refresh per wrong value at most, however many
    // labels it reads (and at most one a second: API Gateway caches the denies).
    let calls = layer.proxy.received();
    for _ in 0..3 {
        assert!(!decide(Some("another-wrong-value")).await);
    }
    let spent = layer.proxy.received() - calls;
    assert!(spent <= 3, "{spent} Secrets Manager calls for 3 wrong values");
}
