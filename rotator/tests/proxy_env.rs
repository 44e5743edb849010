//! reqwest sends through the proxy the environment names (`HTTP_PROXY`, `HTTPS_PROXY`, `ALL_PROXY`) unless
//! told not to: a proxy variable in the function's environment would receive every test request, header
//! and value included (issue 13, item 1). In a test binary of its own: it changes the process environment.

mod common;

use common::*;
use origin_verify_testkit::{Accepts, CannedOrigin, PROXY_VARIABLES as PROXY_VARS};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_proxy_named_in_the_environment_receives_nothing() {
    let f = Fixture::new(Accepts::CurrentAndPending).await;
    // Answers 200 to everything: were it used as a proxy, every test request would pass through it.
    let proxy = CannedOrigin::spawn(200).await;
    let proxy_url = format!("http://{}", proxy.authority);
    // Only while the rotator's HTTP client is built (that is when reqwest reads the variables): the SDK
    // clients were built before, and nothing else in this binary runs meanwhile.
    for var in PROXY_VARS {
        std::env::set_var(var, &proxy_url);
    }
    std::env::remove_var("NO_PROXY");
    std::env::remove_var("no_proxy");
    let rotator = f.rotator(&[]);
    for var in PROXY_VARS {
        std::env::remove_var(var);
    }

    let token = f.stage().await;
    for step in STEPS {
        rotator
            .run(step, &f.secret, &token)
            .await
            .unwrap_or_else(|e| panic!("{step}: {e}"));
    }
    assert!(
        rotator.take_calls().contains(&HTTP_GET),
        "test requests were made"
    );
    assert_eq!(proxy.requests(), 0, "the proxy received test requests");
}
