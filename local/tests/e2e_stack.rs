//! End to end: the local stack (moto, both functions under cargo lambda, edge and gateway stand-ins) with
//! an edge propagation delay of at least 2 s and authorizer caching on; three rotations under steady load.

use std::time::Duration;

use origin_verify_local::stack::{
    LocalStack, Scenario, StackOptions, DIRECT_NO_HEADER, DIRECT_WRONG_VALUE, THROUGH_EDGE,
};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_rotations_under_load_refuse_no_legitimate_request() {
    let out_dir = std::env::temp_dir().join(format!("origin-verify-e2e-{}", std::process::id()));
    let options = StackOptions {
        refresh_seconds: 3,
        propagation_margin_seconds: 2,
        edge_delays: vec![Duration::from_secs(2), Duration::from_secs(3)],
        authorizer_cache_ttl: Duration::from_secs(5),
        out_dir: out_dir.clone(),
        // Everything the runtime, the SDK and our code log, so that the scan below sees it all.
        log_level: "debug".to_owned(),
    };
    let stack = LocalStack::start(options).await.expect("local stack");
    let scenario = Scenario {
        duration: Duration::from_secs(50),
        rate: 15,
        rotations: 3,
    };
    let outcome = stack.run(&scenario).await.expect("scenario");
    outcome.write(&out_dir).expect("reports");
    println!("{}", outcome.summary());

    assert!(outcome.seed.as_expected(), "{:?}", outcome.seed);
    assert_eq!(outcome.rotations.len(), 3);
    for (_, rotation) in &outcome.rotations {
        assert!(rotation.ok, "{rotation:?}");
    }
    let through = outcome.report.target(THROUGH_EDGE).expect("through-edge target");
    assert!(
        through.total > 500,
        "steady load through the edge: {}",
        through.total
    );
    assert_eq!(
        through.violations, 0,
        "a request through the edge was not 2xx: {:?}",
        through.statuses
    );
    for direct in [DIRECT_NO_HEADER, DIRECT_WRONG_VALUE] {
        let t = outcome.report.target(direct).expect("direct target");
        assert!(t.total > 100, "{direct}: {}", t.total);
        assert_eq!(
            t.violations, 0,
            "{direct}: a direct request was not 401/403: {:?}",
            t.statuses
        );
    }
    assert!(
        outcome.edge_sends_current,
        "every edge location ends on the new AWSCURRENT"
    );
    assert!(
        !outcome.sm_calls.is_empty(),
        "the authorizer logged its Secrets Manager calls"
    );
    for (pid, calls) in &outcome.sm_calls {
        assert!(
            *calls <= outcome.sm_call_bound,
            "authorizer {pid}: {calls} calls > bound {}",
            outcome.sm_call_bound
        );
    }
}
