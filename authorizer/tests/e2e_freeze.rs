//! The real `authorizer` binary under `cargo lambda watch`, its Runtime and Extensions API requests
//! recorded by a proxy: a refresh that an invocation starts completes before the extension lets Lambda
//! freeze the sandbox.
//!
//! The emulator never freezes a process; Lambda does once the runtime has posted its response and every
//! extension has asked for its next event. So the test compares the moment the extension asks for its
//! next event with the moment Secrets Manager (moto behind a proxy that delays every answer) answered the
//! refresh's last call.

mod common;

use std::time::{Duration, Instant};

use common::*;
use origin_verify_testkit::{
    create_secret, put_pending, shared_moto_url, sm_client, unique_name, CargoLambda, RuntimeCall, SlowProxy,
};
use serde_json::Value;

/// How long Secrets Manager takes to answer each call of the refresh: far longer than the miss wait, so
/// the handler has answered (a deny, on a fresh snapshot) long before the refresh lands.
const SM_DELAY: Duration = Duration::from_millis(1200);
/// The miss wait the function runs with.
const MISS_WAIT_MS: &str = "100";

async fn invoke(emulator: &CargoLambda, value: &str) -> bool {
    let (status, body) = emulator
        .invoke("authorizer", &event(Kind::HttpV2, Some(value)))
        .await;
    assert_eq!(status, 200, "{body}");
    let body: Value = serde_json::from_str(&body).unwrap_or_else(|e| panic!("{e}: {body}"));
    body["isAuthorized"].as_bool().unwrap_or_else(|| panic!("{body}"))
}

/// The first extension `event/next` request that arrived after `after`, waiting (polling every 20 ms,
/// at most `budget`) for it.
async fn extension_ready_after(
    calls: impl Fn() -> Vec<RuntimeCall>,
    after: Instant,
    budget: Duration,
) -> Option<Instant> {
    let deadline = Instant::now() + budget;
    while Instant::now() < deadline {
        let found = calls()
            .into_iter()
            .find(|c| c.is_extension_next() && c.arrived > after)
            .map(|c| c.arrived);
        if found.is_some() {
            return found;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    None
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn emulator_a_miss_triggered_refresh_lands_before_the_extension_lets_the_sandbox_freeze() {
    let moto = shared_moto_url();
    let sm = sm_client(&moto);
    let secret = unique_name("e2e-freeze");
    create_secret(&sm, &secret, CURRENT).await;
    let proxy = SlowProxy::spawn(&moto).await;

    let (emulator, runtime_api) = CargoLambda::spawn_recorded(
        "authorizer",
        &[
            ("AWS_ENDPOINT_URL", proxy.url.as_str()),
            ("AWS_REGION", origin_verify_testkit::REGION),
            ("AWS_ACCESS_KEY_ID", "testing"),
            ("AWS_SECRET_ACCESS_KEY", "testing"),
            ("ORIGIN_VERIFY_SECRET_ID", secret.as_str()),
            // The snapshot never goes stale here: the only refresh is the one a miss causes.
            ("ORIGIN_VERIFY_REFRESH_SECONDS", "600"),
            ("ORIGIN_VERIFY_MISS_REFRESH_MIN_SECONDS", "1"),
            ("ORIGIN_VERIFY_MISS_WAIT_MS", MISS_WAIT_MS),
        ],
    )
    .await;

    // The emulator does not deliver a sandbox's first invocation to extensions: warm it up.
    assert!(invoke(&emulator, CURRENT).await, "current admitted");
    let loaded = proxy.received();

    // A rotation that did not wait: AWSPENDING is newer than the (fresh) snapshot. Once the snapshot is
    // older than the miss-refresh interval (the passing of time is the condition), a miss refreshes.
    put_pending(&sm, &secret, PENDING).await;
    tokio::time::sleep(Duration::from_millis(1100)).await;
    proxy.set_delay(SM_DELAY);
    let sent = Instant::now();
    assert!(
        !invoke(&emulator, PENDING).await,
        "denied: the snapshot is fresh and the refresh is slower than the miss wait"
    );
    let answered = sent.elapsed();
    assert!(
        answered < SM_DELAY,
        "the handler answered before the refresh landed ({answered:?})"
    );

    let ready = extension_ready_after(|| runtime_api.calls(), sent, Duration::from_secs(15))
        .await
        .expect("the extension asked for its next event");
    let refresh_calls = proxy.received() - loaded;
    assert!(
        refresh_calls >= 2,
        "DescribeSecret and GetSecretValue for the new version: {refresh_calls}"
    );
    assert_eq!(
        proxy.held(),
        0,
        "every call of the refresh answered before the sandbox could freeze"
    );
    let last_answer = proxy.last_answer_at().expect("answers");
    assert!(
        ready >= last_answer,
        "the extension let the sandbox freeze {:?} before Secrets Manager answered the refresh",
        last_answer - ready
    );
    println!(
        "handler answered after {answered:?}; extension ready {:?} after the invocation, {:?} after the last answer",
        ready - sent,
        ready - last_answer
    );

    // The refresh landed: the new value is admitted at once, with no further call.
    proxy.set_delay(Duration::ZERO);
    let before = proxy.received();
    assert!(invoke(&emulator, PENDING).await, "pending admitted");
    assert_eq!(
        proxy.received(),
        before,
        "admitted from the snapshot the refresh stored"
    );
}
