//! End to end: the local stack (moto, the authorizer, rotator and backend under cargo lambda, edge and
//! gateway stand-ins, and on the gateway's `/python/` route the blog's authorizer design in Python under
//! awslambdaric with `origin-verify-layer` beside it) with an edge propagation delay of at least 2 s and
//! authorizer caching on; three rotations under steady load on both routes. Then: the functions' EMF
//! lines, every one valid and counting what the gateway asked; and every value the secret held, in no log
//! (the Python function's and the layer's included) or report.

use std::time::Duration;

use origin_verify_loadtest::{StatusKey, TargetReport};
use origin_verify_local::emf::{looks_like_emf, names, validate};
use origin_verify_local::stack::{
    LocalStack, Outcome, Scenario, StackOptions, DIRECT_NO_HEADER, DIRECT_WRONG_VALUE,
    PYTHON_DIRECT_NO_HEADER, PYTHON_DIRECT_WRONG_VALUE, PYTHON_ROUTE, PYTHON_THROUGH_EDGE, THROUGH_EDGE,
};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_rotations_under_load_refuse_no_legitimate_request() {
    let out_dir = std::env::temp_dir().join(format!("origin-verify-e2e-{}", std::process::id()));
    let options = StackOptions {
        refresh_seconds: 3,
        // Both routes' authorizers: the default.
        previous_grace_seconds: 300,
        propagation_margin_seconds: 2,
        edge_delays: vec![Duration::from_secs(2), Duration::from_secs(3)],
        authorizer_cache_ttl: Duration::from_secs(5),
        out_dir: out_dir.clone(),
        // Everything the runtime, the SDK and our code log, so that the scan below sees it all (the
        // backend runs at TRACE).
        log_level: "debug".to_owned(),
        // A line a second: the counts printed while the load runs, and the last ones soon after.
        metrics_seconds: 1,
    };
    let stack = LocalStack::start(options).await.expect("local stack");
    let scenario = Scenario {
        duration: Duration::from_secs(50),
        rate: 15,
        rotations: 3,
    };
    // Writes the reports into out_dir and scans them and the logs.
    let outcome = stack.run(&scenario).await.expect("scenario");
    println!("{}", outcome.summary());

    assert!(outcome.seed.as_expected(), "{:?}", outcome.seed);
    // The blog's three checks on the Python authorizer with the layer, through the same edge and gateway.
    assert_eq!(
        (
            outcome.python_seed.through_edge,
            outcome.python_seed.direct_without_header,
            outcome.python_seed.direct_wrong_value
        ),
        (200, 401, 403),
        "Python route: {:?}",
        outcome.python_seed
    );
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
    assert_python_route(&outcome);
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

    assert_backend_got_no_secret(&outcome);
    assert_metrics_count_what_the_gateway_asked(&outcome, &out_dir);
}

/// The Python route under the same load and rotations, held to the default route's bar: every request
/// through the edge admitted, every direct request without the header 401, every one with a wrong value
/// 403; its authorizer asked (its own cache, allows and denies), its runtime and layer still running.
fn assert_python_route(outcome: &Outcome) {
    let through = outcome
        .report
        .target(PYTHON_THROUGH_EDGE)
        .expect("python-through-edge target");
    assert!(
        through.total > 500,
        "steady load through the edge: {}",
        through.total
    );
    assert_eq!(
        through.violations, 0,
        "a request through the edge to the Python route was not 2xx: {:?}",
        through.statuses
    );
    for (name, status) in [(PYTHON_DIRECT_NO_HEADER, 401), (PYTHON_DIRECT_WRONG_VALUE, 403)] {
        let direct = outcome.report.target(name).expect("direct target");
        assert!(direct.total > 100, "{name}: {}", direct.total);
        assert_eq!(direct.violations, 0, "{name}: {:?}", direct.statuses);
        assert_all(direct, status);
    }
    assert!(
        outcome.python_processes.running(),
        "{}",
        outcome.python_processes.summary()
    );
    let route = outcome
        .gateway
        .routes
        .iter()
        .find(|r| r.path_prefix == PYTHON_ROUTE)
        .expect("the Python route's counters");
    assert!(
        route.authorizer_allows > 0 && route.authorizer_denies > 0,
        "{route:?}"
    );
    assert_eq!(route.authorizer_errors, 0, "{route:?}");
    assert!(route.missing_header > 100, "{route:?}");
    assert_eq!(route.backend_errors, 0, "{route:?}");
}

/// Every request of `target` was answered `status`.
fn assert_all(target: &TargetReport, status: u16) {
    assert_eq!(
        target.statuses.get(&StatusKey::Code(status)).copied(),
        Some(target.total),
        "{}: every request {status}: {:?}",
        target.name,
        target.statuses
    );
}

/// The backend ran behind every admitted request, logged every event whole (TRACE), and no value the
/// secret ever held appears in any log (authorizer, rotator, backend) or report (load, outcome).
fn assert_backend_got_no_secret(outcome: &Outcome) {
    let g = &outcome.gateway;
    assert!(
        g.backend_invocations > 500,
        "the backend answered the admitted requests: {g:?}"
    );
    assert_eq!(g.backend_errors, 0, "{g:?}");
    assert_eq!(
        outcome.backend_events_logged, g.backend_invocations,
        "the backend's log holds every event it received, whole"
    );
    let scan = &outcome.secret_scan;
    assert_eq!(
        scan.values,
        outcome.rotations.len() + 1,
        "the first value and one per rotation were looked for: {}",
        scan.summary()
    );
    for file in [
        "authorizer.log",
        "rotator.log",
        "backend.log",
        // The Python function's (with its emulator's) and the layer's output (the layer at DEBUG).
        "python-authorizer.log",
        "layer.log",
        "report.html",
        "report.json",
        "outcome.json",
    ] {
        assert!(
            scan.files.iter().any(|f| f.name == file && f.bytes > 0),
            "{file} scanned: {}",
            scan.summary()
        );
    }
    assert!(scan.clean(), "{}", scan.summary());
}

/// Every EMF line the authorizer and the rotator printed follows the format and origin-verify's names; the
/// authorizer's allows, denies and failures add up to the gateway's authorizer invocations by answer (the
/// run's last invocation included: the stack makes the last line come out); the rotator, once it prints
/// metrics, counted every rotation and every step.
fn assert_metrics_count_what_the_gateway_asked(outcome: &Outcome, out_dir: &std::path::Path) {
    // Parsed here too, line by line, not only through the stack's reader.
    let mut lines = 0;
    for log in ["authorizer.log", "rotator.log"] {
        let text = std::fs::read_to_string(out_dir.join(log)).expect("log");
        for (n, line) in text.lines().enumerate().filter(|(_, l)| looks_like_emf(l)) {
            let values = validate(line).unwrap_or_else(|e| panic!("{log}:{}: {e}", n + 1));
            for v in values {
                assert!(
                    names::all().any(|name| name == v.name),
                    "{log}:{}: {} is not in shared::emf::names",
                    n + 1,
                    v.name
                );
            }
            lines += 1;
        }
    }
    let metrics = &outcome.metrics;
    assert!(metrics.invalid.is_empty(), "{:?}", metrics.invalid);
    assert_eq!(metrics.lines(), lines, "the stack read every line");
    assert!(
        outcome.metrics_flushed,
        "the authorizer printed a line after the last invocation"
    );

    let authorizer = metrics
        .function("authorizer")
        .expect("the authorizer printed metrics");
    assert!(authorizer.lines >= 2, "{authorizer:?}");
    for name in names::AUTHORIZER {
        assert!(
            authorizer.totals.iter().any(|t| t.name == *name),
            "the authorizer printed {name}"
        );
    }
    let g = &outcome.gateway;
    assert_eq!(
        g.invocations,
        g.authorizer_allows + g.authorizer_denies + g.authorizer_errors,
        "{g:?}"
    );
    assert_eq!(
        authorizer.sum_prefixed("Allows"),
        g.authorizer_allows as f64,
        "allows counted by the authorizer vs answered to the gateway"
    );
    assert_eq!(
        authorizer.sum_prefixed("Denies"),
        g.authorizer_denies as f64,
        "denies counted by the authorizer vs answered to the gateway"
    );
    assert_eq!(
        authorizer.value("FailedClosed"),
        g.authorizer_errors as f64,
        "failures"
    );
    assert!(authorizer.value("AllowsCurrent") > 0.0);
    assert!(
        authorizer.value("AllowsPending") > 0.0,
        "each setSecret probe is an allow of AWSPENDING"
    );
    assert!(authorizer.value("DeniesNoMatch") > 0.0);

    match metrics.function("rotator") {
        Some(rotator) => {
            let completed = outcome.rotations.iter().filter(|(_, r)| r.ok).count();
            assert_eq!(
                rotator.value(names::ROTATIONS_COMPLETED),
                completed as f64,
                "rotations completed"
            );
            for step in origin_verify_local::driver::STEPS {
                assert!(
                    rotator.value_with(names::STEP_SUCCEEDED, &[(names::STEP, step)]) >= 1.0,
                    "{step} succeeded at least once: {rotator:?}"
                );
            }
        }
        None => println!("NOTE: the rotator printed no metric lines (not yet implemented): not checked"),
    }
}
