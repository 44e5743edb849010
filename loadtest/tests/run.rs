//! The library against a local origin: counts, expectations, markers, the local-mode guard, reports.

mod common;

use std::time::{Duration, Instant};

use common::{Origin, SECRET};
use origin_verify_loadtest::{
    run, run_rotations, run_with_progress, Error, Expect, Mode, Plan, Progress, Report, RotationAction,
    RotationSchedule, StatusKey, Target, Timeline,
};

fn plan(targets: Vec<Target>, duration_ms: u64, rate: u32) -> Plan {
    Plan {
        targets,
        duration: Duration::from_millis(duration_ms),
        rate_per_target: rate,
        max_in_flight: 16,
        mode: Mode::Local,
        request_timeout: Duration::from_secs(2),
    }
}

fn count(report: &Report, target: &str, key: StatusKey) -> u64 {
    report
        .target(target)
        .and_then(|t| t.statuses.get(&key).copied())
        .unwrap_or(0)
}

/// Open loop at 50/s for 1.5 s is 75 requests; allow for timer granularity either way.
fn assert_about(actual: u64, expected: u64, what: &str) {
    let slack = expected / 10 + 2;
    assert!(
        actual.abs_diff(expected) <= slack,
        "{what}: {actual} requests, expected about {expected}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn correct_expectations_give_counts_and_no_violations() {
    let origin = Origin::start().await;
    let targets = vec![
        Target::new("through", origin.url("/ok"), Expect::Success),
        Target::new("direct", origin.url("/refused"), Expect::Refused),
        Target::new("guarded", origin.url("/guarded"), Expect::Success)
            .with_header("x-origin-verify", SECRET),
        Target::new("whatever", origin.url("/nowhere"), Expect::Any),
    ];
    // Through `run`, so the progress line is exercised too.
    let report = run(&plan(targets, 1500, 50), Timeline::new()).await.expect("run");

    assert_eq!(report.violations(), 0, "{}", report.summary());
    for name in ["through", "direct", "guarded", "whatever"] {
        let t = report.target(name).expect("target in report");
        assert_about(t.total, 75, name);
        assert_eq!(t.latency.samples, t.total, "every request answered and timed");
        assert!(
            t.latency.p50_us > 0
                && t.latency.p50_us <= t.latency.p99_us
                && t.latency.p99_us <= t.latency.max_us
        );
        assert_eq!(t.seconds.len(), 2, "1.5 s makes two buckets");
        assert_eq!(t.seconds.iter().map(|s| s.total()).sum::<u64>(), t.total);
        assert_eq!(t.unsent, 0);
    }
    assert_eq!(
        count(&report, "through", StatusKey::Code(200)),
        report.target("through").unwrap().total
    );
    assert_eq!(
        count(&report, "direct", StatusKey::Code(403)),
        report.target("direct").unwrap().total
    );
    assert_eq!(
        count(&report, "guarded", StatusKey::Code(200)),
        report.target("guarded").unwrap().total
    );
    assert_eq!(
        count(&report, "whatever", StatusKey::Code(404)),
        report.target("whatever").unwrap().total
    );
    let sent: u64 = report.targets.iter().map(|t| t.total).sum();
    assert_eq!(
        origin.hits(),
        sent,
        "the origin saw exactly what the report counts"
    );
    assert!(
        report.elapsed_ms >= 1500 && report.elapsed_ms < 3500,
        "bounded: {} ms",
        report.elapsed_ms
    );

    let summary = report.summary();
    assert!(
        summary.contains("through") && summary.contains("PASS"),
        "{summary}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_expectations_and_errors_are_violations() {
    let origin = Origin::start().await;
    let targets = vec![
        Target::new("should-refuse", origin.url("/ok"), Expect::Refused),
        Target::new("should-pass", origin.url("/refused"), Expect::Success),
        Target::new("no-secret", origin.url("/guarded"), Expect::Success),
        Target::new("too-slow", origin.url("/slow"), Expect::Any),
    ];
    let mut plan = plan(targets, 1000, 20);
    plan.request_timeout = Duration::from_millis(100);
    let report = run_with_progress(&plan, Timeline::new(), Progress::Off)
        .await
        .expect("run");

    for t in &report.targets {
        assert!(t.total >= 15, "{}: {} requests", t.name, t.total);
        assert_eq!(
            t.violations, t.total,
            "{}: every outcome misses the expectation",
            t.name
        );
    }
    let slow = report.target("too-slow").unwrap();
    assert_eq!(
        slow.statuses.get(&StatusKey::Error),
        Some(&slow.total),
        "timeouts are transport errors"
    );
    assert_eq!(slow.errors.get("timeout"), Some(&slow.total));
    assert_eq!(slow.latency.samples, 0, "transport errors carry no latency");
    assert_eq!(
        report.violations(),
        report.targets.iter().map(|t| t.total).sum::<u64>()
    );
    assert!(report.summary().contains("FAIL"));
    // Past the run, requests in flight got their timeout and no more.
    assert!(
        report.elapsed_ms < 1000 + 100 + 600,
        "bounded: {} ms",
        report.elapsed_ms
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn markers_are_recorded_in_order_on_the_run_clock() {
    let origin = Origin::start().await;
    let dir = scratch_dir("markers");
    let timeline = Timeline::new();
    let marks = timeline.clone();
    let marker_task = tokio::spawn(async move {
        marks.sleep_until_elapsed(Duration::from_millis(200)).await;
        marks.mark("first");
        marks.sleep_until_elapsed(Duration::from_millis(400)).await;
        marks.mark("second");
    });
    let rotations = tokio::spawn(run_rotations(
        RotationSchedule {
            at: vec![Duration::from_millis(600)],
            action: RotationAction::Command {
                command: "echo rotating number $ORIGIN_VERIFY_ROTATION; sleep 0.2".into(),
                log_dir: dir.clone(),
            },
            until: Duration::from_millis(1200),
        },
        timeline.clone(),
    ));
    let plan = plan(
        vec![Target::new("through", origin.url("/ok"), Expect::Success)],
        1200,
        50,
    );
    let report = run_with_progress(&plan, timeline, Progress::Off)
        .await
        .expect("run");
    marker_task.await.unwrap();
    let outcomes = rotations.await.unwrap();

    let labels: Vec<&str> = report.markers.iter().map(|m| m.label.as_str()).collect();
    assert_eq!(labels.len(), 4, "{labels:?}");
    assert_eq!(&labels[..3], ["first", "second", "rotation 1 started"]);
    assert!(labels[3].starts_with("rotation 1 done (exit 0, "), "{labels:?}");
    let at: Vec<u64> = report.markers.iter().map(|m| m.at_ms).collect();
    assert!(at.windows(2).all(|w| w[0] <= w[1]), "{at:?}");
    for (got, want) in at.iter().zip([200, 400, 600, 800]) {
        assert!(
            got.abs_diff(want) < 150,
            "marker at {got} ms, expected about {want} ({at:?})"
        );
    }
    assert_eq!(outcomes.len(), 1);
    assert!(outcomes[0].ok, "{outcomes:?}");
    let log = std::fs::read_to_string(dir.join("rotation-1.log")).expect("rotation log");
    assert_eq!(log.trim(), "rotating number 1");
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn local_mode_refuses_remote_hosts_before_sending_anything() {
    let origin = Origin::start().await;
    for remote in [
        "http://10.0.0.1/",
        "http://example.com/",
        "http://[::2]/",
        "http://127.0.0.1.example.com/",
    ] {
        let targets = vec![
            Target::new("local", origin.url("/ok"), Expect::Success),
            Target::new("remote", remote, Expect::Success),
        ];
        let plan = plan(targets, 1000, 50);
        let began = Instant::now();
        let result = run_with_progress(&plan, Timeline::new(), Progress::Off).await;
        match result {
            Err(Error::NotLoopback { target, url }) => {
                assert_eq!((target.as_str(), url.as_str()), ("remote", remote));
            }
            other => panic!("{remote}: expected NotLoopback, got {other:?}"),
        }
        assert!(
            began.elapsed() < Duration::from_millis(200),
            "refused up front, not after a run"
        );
        let mut remote_plan = plan.clone();
        remote_plan.mode = Mode::Remote;
        assert!(remote_plan.validate().is_ok(), "remote mode accepts {remote}");
    }
    assert_eq!(origin.hits(), 0, "nothing was sent, not even to the local target");

    let message = Plan::new(vec![Target::new("x", "http://10.0.0.1/", Expect::Any)])
        .validate()
        .unwrap_err();
    assert!(message.to_string().contains("--remote"), "{message}");
    assert!(matches!(
        Plan::new(vec![Target::new("x", "ftp://127.0.0.1/", Expect::Any)]).validate(),
        Err(Error::BadUrl { .. })
    ));
    assert!(matches!(Plan::new(vec![]).validate(), Err(Error::NoTargets)));
    let twice = vec![
        Target::new("x", origin.url("/ok"), Expect::Any),
        Target::new("x", origin.url("/ok"), Expect::Any),
    ];
    assert!(matches!(
        Plan::new(twice).validate(),
        Err(Error::DuplicateTarget(_))
    ));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn saturation_shows_as_latency_not_as_a_lower_rate() {
    // One request in flight, 300 ms each, 20 due per second: most have to wait. Their latency counts
    // from when they were due, and those still waiting at the end are reported as unsent.
    let origin = Origin::start().await;
    let mut plan = plan(
        vec![Target::new("slow", origin.url("/slow"), Expect::Success)],
        1000,
        20,
    );
    plan.max_in_flight = 1;
    let report = run_with_progress(&plan, Timeline::new(), Progress::Off)
        .await
        .expect("run");
    let t = report.target("slow").unwrap();
    assert!((3..=5).contains(&t.total), "{} sent", t.total);
    assert_about(t.total + t.unsent, 20, "due");
    assert!(
        t.latency.max_us > 600_000,
        "queueing counted: max {} µs",
        t.latency.max_us
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reports_are_written_and_json_round_trips() {
    let origin = Origin::start().await;
    let dir = scratch_dir("reports");
    let timeline = Timeline::new();
    let marks = timeline.clone();
    tokio::spawn(async move {
        marks.sleep_until_elapsed(Duration::from_millis(300)).await;
        marks.mark("rotation <1> & \"friends\"");
    });
    let targets = vec![
        Target::new("through", origin.url("/guarded"), Expect::Success)
            .with_header("x-origin-verify", SECRET),
        Target::new("direct", origin.url("/refused"), Expect::Refused),
    ];
    let report = run_with_progress(&plan(targets, 1000, 30), timeline, Progress::Off)
        .await
        .expect("run");

    let json = dir.join("report.json");
    let html = dir.join("report.html");
    report.write_json(&json).expect("write json");
    report.write_html(&html).expect("write html");

    let text = std::fs::read_to_string(&json).unwrap();
    let back: Report = serde_json::from_str(&text).expect("parse json");
    assert_eq!(back, report);
    assert!(text.contains("\"403\"") && text.contains("x-origin-verify"));

    let page = std::fs::read_to_string(&html).unwrap();
    assert!(page.starts_with("<!doctype html>"));
    assert_eq!(page.matches("<svg").count(), 4, "two charts per target");
    assert!(!page.contains("<script") && !page.contains("src=") && !page.contains("href="));
    assert!(
        page.contains("rotation &lt;1&gt; &amp; &quot;friends&quot;"),
        "labels are escaped"
    );
    for file in [&text, &page] {
        assert!(!file.contains(SECRET), "header values never reach a report");
    }
    let _ = std::fs::remove_dir_all(&dir);
}

fn scratch_dir(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("origin-verify-load-{name}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("scratch dir");
    dir
}
