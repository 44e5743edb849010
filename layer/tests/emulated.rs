//! The layer's binary as Lambda runs it: an external extension beside a function, under the Lambda
//! emulator (`cargo lambda watch`), reading moto through a counting proxy. The test acts as the function
//! (its runtime loop and its HTTP calls to the layer), as a Python or Node.js function would.

mod common;

use common::{create_secret, from_secrets_manager, layer_binary, Running, TOKEN, TOKEN_HEADER};

use std::time::{Duration, Instant};

use aws_sdk_secretsmanager::primitives::Blob;
use origin_verify_layer::text;
use origin_verify_testkit::{free_port, serve, shared_moto_url, sm_client, unique_name, Sandbox, REGION};
use serde_json::Value;

#[tokio::test]
async fn answers_from_registration_on_every_request_shape_as_secrets_manager_would() {
    let (name, arn) = create_secret(r#"{"HEADERVALUE":"layer-test-value-1"}"#).await;
    let binary_name = unique_name("layer-bin");
    sm_client(&shared_moto_url())
        .create_secret()
        .name(&binary_name)
        .secret_binary(Blob::new(vec![0u8, 1, 2, 250, 255]))
        .send()
        .await
        .unwrap();
    let log = std::env::temp_dir().join(format!("{name}.log"));
    let layer = Running::start_logged(
        &[
            ("ORIGIN_VERIFY_PREFETCH_SECRET_IDS", &name),
            ("AWS_LAMBDA_LOG_LEVEL", "trace"),
        ],
        Some(&log),
    )
    .await;
    // Listening before it registered: the first request, straight after, is answered.
    assert_eq!(layer.request("/ping", &[]).await, (200, text::HEALTHY.to_owned()));
    assert!(layer.proxy.received() >= 1, "the prefetch ran during INIT");

    let want = from_secrets_manager(&name, None).await;
    let by_default = layer.json(&format!("/secretsmanager/get?secretId={name}")).await;
    assert_eq!(by_default, want, "field by field, GetSecretValue's answer");
    let version_id = want["VersionId"].as_str().unwrap();
    for shape in [
        format!("/secretsmanager/get?secretId={name}&versionStage=AWSCURRENT"),
        format!("/secretsmanager/get?secretId={name}&versionId={version_id}"),
        format!("/secretsmanager/get?secretId={name}&versionId={version_id}&versionStage=AWSCURRENT"),
        format!("/secretsmanager/get?secretId={}", urlencode(&arn)),
        format!("/v1/{name}"),
        format!("/v1/{name}?versionStage=AWSCURRENT&refreshNow=false"),
    ] {
        assert_eq!(layer.json(&shape).await, want, "{shape}");
    }
    let binary = layer
        .json(&format!("/secretsmanager/get?secretId={binary_name}"))
        .await;
    assert_eq!(binary, from_secrets_manager(&binary_name, None).await);
    assert_eq!(binary["SecretBinary"], "AAEC+v8=");

    // Refusals, before any secret is looked at.
    let get = format!("/secretsmanager/get?secretId={name}");
    assert_eq!(layer.request(&get, &[]).await, (403, text::BAD_TOKEN.to_owned()));
    assert_eq!(
        layer.request(&get, &[(TOKEN_HEADER, "another-token")]).await.0,
        403
    );
    assert_eq!(
        layer.request(&get, &[("X-Vault-Token", TOKEN)]).await.0,
        200,
        "the agent's second header"
    );
    let forwarded = layer
        .request(&get, &[(TOKEN_HEADER, TOKEN), ("X-Forwarded-For", "203.0.113.9")])
        .await;
    assert_eq!(forwarded, (400, text::FORWARDED.to_owned()));
    let (status, body) = layer.get(&format!("{get}&versionstage=AWSPENDING")).await;
    assert_eq!((status, body.as_str()), (400, "unknown parameter: versionstage"));
    assert_eq!(
        layer.get("/secretsmanager/get").await,
        (400, text::MISSING_SECRET_ID.to_owned())
    );
    assert_eq!(
        layer.get("/systemsmanager/parameters/get?name=p").await,
        (404, text::NOT_FOUND.to_owned())
    );
    let post = layer
        .http
        .post(format!("{}{get}", layer.url))
        .header(TOKEN_HEADER, TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(post.status().as_u16(), 405);

    // Secrets Manager's own errors, passed on with the status it answered.
    let (status, body) = layer
        .get("/secretsmanager/get?secretId=no-such-secret-anywhere")
        .await;
    assert_eq!(status, moto_status_of_a_missing_secret().await, "{body}");
    let err: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(err["__type"], "ResourceNotFoundException");

    // No AWSPENDING: answered as Secrets Manager would, from the labels already held: no call per request.
    let calls = layer.proxy.received();
    for _ in 0..50 {
        let (status, body) = layer.get(&format!("{get}&versionStage=AWSPENDING")).await;
        assert_eq!(status, 400);
        let err: Value = serde_json::from_str(&body).unwrap();
        assert_eq!(err["__type"], "ResourceNotFoundException");
        assert_eq!(
            err["message"],
            "Secrets Manager can't find the specified secret value for staging label: AWSPENDING"
        );
    }
    for _ in 0..50 {
        layer.json(&get).await;
    }
    assert_eq!(
        layer.proxy.received(),
        calls,
        "100 requests for held or absent labels cost no call"
    );

    // Everything above, logged at TRACE: neither a value nor the token.
    let logged = std::fs::read_to_string(&log).expect("the layer's output");
    assert!(logged.contains("listening"), "the log was captured");
    for secret in ["layer-test-value-1", TOKEN, "AAEC+v8="] {
        assert!(!logged.contains(secret), "the layer logged a secret");
    }

    // refreshNow from many callers at once (a common way to use AWS's agent): one refresh serves them
    // all, and it started after they asked.
    let calls = layer.proxy.received();
    let mut asks = tokio::task::JoinSet::new();
    for _ in 0..20 {
        let (http, url) = (layer.http.clone(), format!("{}{get}&refreshNow=true", layer.url));
        asks.spawn(async move {
            let res = http.get(url).header(TOKEN_HEADER, TOKEN).send().await.unwrap();
            (res.status().as_u16(), res.text().await.unwrap())
        });
    }
    while let Some(answer) = asks.join_next().await {
        let (status, body) = answer.unwrap();
        assert_eq!(status, 200, "{body}");
    }
    let spent = layer.proxy.received() - calls;
    assert!(
        (1..=2).contains(&spent),
        "{spent} calls for 20 concurrent refreshNow requests"
    );
    // And in a row, within the second after that refresh: answered at once from it, no call.
    let calls = layer.proxy.received();
    for _ in 0..20 {
        layer.json(&format!("{get}&refreshNow=true")).await;
    }
    assert!(
        layer.proxy.received() - calls <= 1,
        "refreshNow in a row costs at most one call a second"
    );
}

/// The status moto answers DescribeSecret (the layer's first call) for a secret that does not exist, read
/// off the wire: 404, where real Secrets Manager answers 400 (AWS's agent's tests expect 400). The layer
/// passes on whichever it gets.
async fn moto_status_of_a_missing_secret() -> u16 {
    reqwest::Client::builder()
        .no_proxy()
        .build()
        .unwrap()
        .post(shared_moto_url())
        .header("X-Amz-Target", "secretsmanager.DescribeSecret")
        .header("Content-Type", "application/x-amz-json-1.1")
        .header(
            "Authorization",
            "AWS4-HMAC-SHA256 Credential=testing/20260101/us-east-1/secretsmanager/aws4_request, SignedHeaders=host, Signature=0",
        )
        .body(r#"{"SecretId":"no-such-secret-anywhere"}"#)
        .send()
        .await
        .expect("moto answers")
        .status()
        .as_u16()
}

#[tokio::test]
async fn a_new_value_is_served_after_the_refresh_and_each_version_is_fetched_once() {
    let (name, _) = create_secret("first-value").await;
    // refreshNow at any moment: the put below follows the first read within milliseconds.
    let layer = Running::start(&[
        ("SECRETS_MANAGER_TTL", "1"),
        ("ORIGIN_VERIFY_REFRESH_NOW_MIN_MS", "0"),
    ])
    .await;
    let get = format!("/secretsmanager/get?secretId={name}");
    assert_eq!(layer.json(&get).await["SecretString"], "first-value");
    let client = sm_client(&shared_moto_url());
    let pending = client
        .put_secret_value()
        .secret_id(&name)
        .secret_string("second-value")
        .version_stages("AWSPENDING")
        .send()
        .await
        .unwrap()
        .version_id
        .unwrap();
    // refreshNow: asked at once.
    let fresh = layer
        .json(&format!("{get}&versionStage=AWSPENDING&refreshNow=true"))
        .await;
    assert_eq!(
        (fresh["SecretString"].as_str(), fresh["VersionId"].as_str()),
        (Some("second-value"), Some(pending.as_str()))
    );
    // The rotation finishes: AWSCURRENT moves to the version already held.
    let current = from_secrets_manager(&name, None).await["VersionId"]
        .as_str()
        .unwrap()
        .to_owned();
    client
        .update_secret_version_stage()
        .secret_id(&name)
        .version_stage("AWSCURRENT")
        .move_to_version_id(&pending)
        .remove_from_version_id(&current)
        .send()
        .await
        .unwrap();
    let before = layer.proxy.received();
    // Within the TTL the old answer may stand; after it, the new one. Bounded: at most 5 s.
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let body = layer.json(&get).await;
        if body["SecretString"] == "second-value" {
            break;
        }
        assert!(Instant::now() < deadline, "the new AWSCURRENT was never served");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let previous = layer.json(&format!("{get}&versionStage=AWSPREVIOUS")).await;
    assert_eq!(previous["SecretString"], "first-value");
    let spent = layer.proxy.received() - before;
    // DescribeSecret per refresh (one per TTL), and no GetSecretValue: both versions were already held.
    assert!(spent <= 8, "{spent} calls for a label move within ~1-2 TTLs");
}

#[tokio::test]
async fn secrets_manager_down_serves_the_last_values_and_never_makes_one_up() {
    let (name, _) = create_secret("kept-value").await;
    let layer = Running::start(&[
        ("SECRETS_MANAGER_TTL", "1"),
        ("SECRETS_MANAGER_TIMEOUT_MILLIS", "300"),
    ])
    .await;
    let get = format!("/secretsmanager/get?secretId={name}");
    assert_eq!(layer.json(&get).await["SecretString"], "kept-value");
    // Secrets Manager stops answering: every call is held far beyond the client's timeouts.
    layer.proxy.set_delay(Duration::from_secs(60));
    let seen = layer.proxy.received();
    let deadline = Instant::now() + Duration::from_secs(10);
    // Past the TTL a request tries a refresh, which cannot land: it is answered from what is held.
    while layer.proxy.received() == seen {
        assert!(Instant::now() < deadline, "no refresh was attempted past the TTL");
        assert_eq!(layer.json(&get).await["SecretString"], "kept-value");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert_eq!(
        layer.json(&get).await["SecretString"],
        "kept-value",
        "stale, served"
    );
    // A secret never loaded: an error, never a value.
    let (other, _) = create_secret("never-seen-value").await;
    let (status, body) = layer.get(&format!("/secretsmanager/get?secretId={other}")).await;
    assert!(status >= 500, "{status} {body}");
    assert!(!body.contains("never-seen-value"));
}

#[tokio::test]
async fn an_invocation_reaches_the_layer_and_the_function_reads_through_it() {
    let (name, _) = create_secret("invoked-value").await;
    let layer = Running::start(&[]).await;
    let nexts = || {
        layer
            .recorder
            .calls()
            .iter()
            .filter(|c| c.is_extension_next())
            .count()
    };
    let before = nexts();
    let invoke = tokio::spawn({
        let url = layer.sandbox.url.clone();
        async move {
            reqwest::Client::new()
                .post(format!("{url}/2015-03-31/functions/_/invocations"))
                .body("{}")
                .send()
                .await
                .unwrap()
                .text()
                .await
                .unwrap()
        }
    });
    let invocation = layer.sandbox.next_invocation().await;
    let value = layer.json(&format!("/secretsmanager/get?secretId={name}")).await;
    layer
        .sandbox
        .respond(&invocation.request_id, &value["VersionId"].to_string())
        .await;
    assert_eq!(invoke.await.unwrap(), value["VersionId"].to_string());
    // INVOKE reached the extension, which settled and asked for the next event.
    let deadline = Instant::now() + Duration::from_secs(15);
    while nexts() <= before {
        assert!(
            Instant::now() < deadline,
            "the layer never finished the INVOKE event"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let _ = layer.index;
}

/// The emulator never sends SHUTDOWN to external extensions; Lambda does. A stand-in Extensions API
/// that answers the first `event/next` with SHUTDOWN shows the layer exits cleanly on it.
#[tokio::test]
async fn shutdown_ends_the_process() {
    let (addr, _task) = serve(|req: hyper::Request<hyper::body::Incoming>| async move {
        let mut reply = if req.uri().path().ends_with("/extension/register") {
            origin_verify_testkit::reply(
                200,
                r#"{"functionName":"_","functionVersion":"$LATEST","handler":"h"}"#,
            )
        } else {
            origin_verify_testkit::reply(
                200,
                r#"{"eventType":"SHUTDOWN","shutdownReason":"spindown","deadlineMs":0}"#,
            )
        };
        reply.headers_mut().insert(
            "lambda-extension-identifier",
            "00000000-0000-0000-0000-000000000001".parse().unwrap(),
        );
        reply
    })
    .await;
    let mut sandbox = Sandbox::spawn().await;
    let port = free_port().to_string();
    let api = addr.to_string();
    let index = sandbox.start(
        &layer_binary(),
        &[],
        &[
            ("AWS_SESSION_TOKEN", TOKEN),
            ("PARAMETERS_SECRETS_EXTENSION_HTTP_PORT", &port),
            ("AWS_ENDPOINT_URL", "http://127.0.0.1:9"),
            ("AWS_REGION", REGION),
        ],
        Some(&api),
        None,
    );
    assert_eq!(sandbox.wait_exit(index, Duration::from_secs(20)).await, Some(0));
}

fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}
