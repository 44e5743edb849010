//! Rotations driven step by step the way Secrets Manager calls them, against moto (Secrets Manager and
//! CloudFront) and a local origin that accepts only the values the secret holds.

mod common;

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use aws_sdk_secretsmanager::primitives::DateTime;
use common::*;
use origin_verify_rotator::{Error, Outcome};
use origin_verify_testkit::{current_version, put_pending, set_origin_header, stage_value, Accepts};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_rotation_moves_every_matching_origin_and_then_the_secret() {
    let f = Fixture::new(Accepts::CurrentAndPending).await;
    let old_version = current_version(&f.sm, &f.secret).await;
    let token = f.stage().await;
    let rotator = f.rotator(&[]);

    assert_eq!(
        rotator.run("createSecret", &f.secret, &token).await.unwrap(),
        Outcome::Done
    );
    println!("createSecret calls: {:?}", rotator.take_calls());
    assert_eq!(f.labels(&token).await, ["AWSPENDING"]);
    assert_eq!(f.labels(&old_version).await, ["AWSCURRENT"]);
    let pending = stage_value(&f.sm, &f.secret, "AWSPENDING")
        .await
        .expect("pending value in JSON");
    assert_ne!(pending, OLD);
    assert_eq!(pending.len(), 32);
    assert!(
        pending.chars().all(|c| c.is_ascii_alphanumeric()),
        "no punctuation"
    );

    assert_eq!(
        rotator.run("setSecret", &f.secret, &token).await.unwrap(),
        Outcome::Done
    );
    println!("setSecret calls: {:?}", rotator.take_calls());
    let d1_api = origin_verify_testkit::origin_headers(&f.cf, &f.d1, "api").await;
    assert_eq!(
        d1_api,
        vec![
            (HEADER.to_owned(), pending.clone()),
            ("x-other".to_owned(), "keep".to_owned())
        ],
        "value replaced, name and other headers kept"
    );
    assert_eq!(
        f.header_on(&f.d1, "s3").await,
        None,
        "an origin without the header is untouched"
    );
    let d2 = origin_verify_testkit::origin_headers(&f.cf, &f.d2, D2_ORIGIN).await;
    assert_eq!(d2, vec![("X-Origin-Verify".to_owned(), pending.clone())]);
    assert_eq!(
        f.labels(&old_version).await,
        ["AWSCURRENT"],
        "the secret is not moved before finishSecret"
    );

    assert_eq!(
        rotator.run("testSecret", &f.secret, &token).await.unwrap(),
        Outcome::Done
    );
    println!("testSecret calls: {:?}", rotator.take_calls());

    assert_eq!(
        rotator.run("finishSecret", &f.secret, &token).await.unwrap(),
        Outcome::Done
    );
    println!("finishSecret calls: {:?}", rotator.take_calls());
    assert_eq!(f.labels(&token).await, ["AWSCURRENT"]);
    assert_eq!(f.labels(&old_version).await, ["AWSPREVIOUS"]);
    assert_eq!(
        stage_value(&f.sm, &f.secret, "AWSCURRENT").await.as_deref(),
        Some(pending.as_str())
    );
    assert_eq!(f.origin_status(&pending).await, 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_step_run_three_times_reaches_the_same_state_without_extra_writes() {
    let f = Fixture::new(Accepts::CurrentAndPending).await;
    let token = f.stage().await;
    let rotator = f.rotator(&[]);
    for step in ["createSecret", "setSecret", "testSecret", "finishSecret"] {
        rotator
            .run(step, &f.secret, &token)
            .await
            .unwrap_or_else(|e| panic!("{step}: {e}"));
        rotator.take_calls();
        let state = (
            stages_sorted(&f).await,
            f.header_on(&f.d1, "api").await,
            f.header_on(&f.d2, D2_ORIGIN).await,
        );
        for run in 2..=3 {
            rotator
                .run(step, &f.secret, &token)
                .await
                .unwrap_or_else(|e| panic!("{step} run {run}: {e}"));
            let calls = rotator.take_calls();
            assert_eq!(
                writes(&calls),
                Vec::<&str>::new(),
                "{step} run {run} wrote: {calls:?}"
            );
            let again = (
                stages_sorted(&f).await,
                f.header_on(&f.d1, "api").await,
                f.header_on(&f.d2, D2_ORIGIN).await,
            );
            assert_eq!(again, state, "{step} run {run} changed the state");
        }
    }
}

async fn stages_sorted(f: &Fixture) -> Vec<(String, Vec<String>)> {
    let mut all: Vec<_> = origin_verify_testkit::stages(&f.sm, &f.secret)
        .await
        .into_iter()
        .collect();
    all.sort();
    all
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_preamble_refuses_what_the_contract_refuses() {
    let f = Fixture::new(Accepts::CurrentAndPending).await;
    let rotator = f.rotator(&[]);
    let refused = |r: Result<Outcome, Error>| match r {
        Err(Error::Preamble { problem, .. }) => problem,
        other => panic!("expected a refusal, got {other:?}"),
    };

    // Rotation never enabled: a pending version exists, but this secret is not being rotated.
    let pending = put_pending(&f.sm, &f.secret, "PendingWithoutRotation0123456789").await;
    let problem = refused(rotator.run("createSecret", &f.secret, &pending).await);
    assert!(problem.contains("not enabled"), "{problem}");

    let token = f.stage().await;
    let problem = refused(
        rotator
            .run("createSecret", &f.secret, &origin_verify_testkit::new_token())
            .await,
    );
    assert!(problem.contains("no version"), "{problem}");

    // A version that carries neither label (the first pending one lost AWSPENDING to the staged one).
    let problem = refused(rotator.run("setSecret", &f.secret, &pending).await);
    assert!(problem.contains("AWSPENDING"), "{problem}");

    let current = current_version(&f.sm, &f.secret).await;
    let skipped = rotator.run("finishSecret", &f.secret, &current).await.unwrap();
    assert_eq!(skipped, Outcome::Skipped("the version is already AWSCURRENT"));

    assert!(matches!(
        rotator.run("bogusStep", &f.secret, &token).await,
        Err(Error::UnknownStep(_))
    ));
    assert_eq!(writes(&rotator.take_calls()), Vec::<&str>::new());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_origin_that_refuses_the_pending_value_stops_set_secret_before_cloudfront() {
    let f = Fixture::new(Accepts::CurrentOnly).await;
    let token = f.stage().await;
    let rotator = f.rotator(&[]);
    rotator.run("createSecret", &f.secret, &token).await.unwrap();
    rotator.take_calls();

    let err = rotator.run("setSecret", &f.secret, &token).await.unwrap_err();
    assert!(
        matches!(
            err,
            Error::Probe {
                presented: "AWSPENDING",
                ..
            }
        ),
        "{err}"
    );
    // setSecret reads the distributions (does an origin send the value already?), but writes nothing.
    let calls = rotator.take_calls();
    assert!(writes(&calls).is_empty(), "{calls:?}");
    assert_eq!(f.header_on(&f.d1, "api").await.as_deref(), Some(OLD));
    assert_eq!(f.header_on(&f.d2, D2_ORIGIN).await.as_deref(), Some(OLD));
    let pending = stage_value(&f.sm, &f.secret, "AWSPENDING").await.unwrap();
    assert!(
        !err.to_string().contains(&pending),
        "the error must not carry the value: {err}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_test_secret_keeps_current_and_leaves_cloudfront_on_an_accepted_value() {
    let f = Fixture::new(Accepts::CurrentAndPending).await;
    let token = f.stage().await;
    // Through "CloudFront" here is the origin without the header: it answers 401, so testSecret fails last.
    let url = f.origin.url.clone();
    let rotator = f.rotator(&[("CLOUDFRONT_TEST_URLS", url.as_str())]);
    let current_before = current_version(&f.sm, &f.secret).await;
    for step in ["createSecret", "setSecret"] {
        rotator.run(step, &f.secret, &token).await.unwrap();
    }
    let err = rotator.run("testSecret", &f.secret, &token).await.unwrap_err();
    assert!(
        matches!(
            err,
            Error::Probe {
                presented: "no header (through CloudFront)",
                ..
            }
        ),
        "{err}"
    );

    assert_eq!(
        current_version(&f.sm, &f.secret).await,
        current_before,
        "AWSCURRENT did not move"
    );
    let on_edge = f.header_on(&f.d1, "api").await.unwrap();
    assert_eq!(
        f.origin_status(&on_edge).await,
        200,
        "CloudFront sends a value the origin accepts"
    );
    assert_eq!(f.origin_status(OLD).await, 200, "and the old value still works");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_propagation_wait_counts_from_reading_the_value_and_a_retry_after_the_update_does_not_wait() {
    let f = Fixture::new(Accepts::CurrentAndPending).await;
    let token = f.stage().await;
    let propagation = Duration::from_secs(3);
    let rotator = f.rotator(&[("ROTATION_PROPAGATION_SECONDS", "3")]);
    rotator.run("createSecret", &f.secret, &token).await.unwrap();
    let created = Instant::now();

    rotator.run("setSecret", &f.secret, &token).await.unwrap();
    let first_done = created.elapsed();
    assert!(
        first_done >= propagation,
        "setSecret returned after {first_done:?}"
    );

    // An origin sends the value: the run that put it there had waited.
    let retry_started = Instant::now();
    assert_eq!(
        rotator.run("setSecret", &f.secret, &token).await.unwrap(),
        Outcome::Skipped("every distribution already sends the value")
    );
    assert!(
        retry_started.elapsed() < propagation / 2,
        "a retried setSecret waited again"
    );
}

// Issue 12, item 5. Real Secrets Manager may keep the CreatedDate RotateSecret gave the empty version; when
// createSecret succeeds only on a retry minutes later, counting from that date skips the wait.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_late_create_secret_still_gets_the_whole_propagation_wait_mocked_created_date() {
    let f = Fixture::new(Accepts::CurrentAndPending).await;
    let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap();
    let staged_at = DateTime::from_secs(now.as_secs() as i64);
    let token = f.stage().await;
    let propagation = Duration::from_secs(3);
    // The version stays empty for longer than the interval (createSecret failing, say) before its value
    // is stored: time passing is the scenario here, not a synchronisation.
    tokio::time::sleep(propagation + Duration::from_secs(1)).await;
    let sm = CreatedDateAt(staged_at).sm(&f.sm);
    let rotator = f.rotator_with_clients(&[("ROTATION_PROPAGATION_SECONDS", "3")], sm, f.cf.clone());
    rotator.run("createSecret", &f.secret, &token).await.unwrap();
    let readable = Instant::now();

    assert_eq!(
        rotator.run("setSecret", &f.secret, &token).await.unwrap(),
        Outcome::Done
    );
    let waited = readable.elapsed();
    assert!(
        waited >= propagation,
        "CloudFront got the value {waited:?} after it became readable; authorizers need {propagation:?}"
    );
}

// Issue 12, item 5: a setSecret stopped during its wait (Lambda timeout, a kill) leaves nothing that could
// shorten the next one's.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_set_secret_stopped_during_the_wait_waits_the_whole_interval_again() {
    let f = Fixture::new(Accepts::CurrentAndPending).await;
    let token = f.stage().await;
    let propagation = Duration::from_secs(3);
    let rotator = f.rotator(&[("ROTATION_PROPAGATION_SECONDS", "3")]);
    rotator.run("createSecret", &f.secret, &token).await.unwrap();

    let stopped = tokio::time::timeout(
        Duration::from_millis(1500),
        rotator.run("setSecret", &f.secret, &token),
    )
    .await;
    assert!(stopped.is_err(), "setSecret finished inside the wait");
    assert_eq!(
        f.header_on(&f.d1, D1_ORIGIN).await.as_deref(),
        Some(OLD),
        "nothing reached CloudFront"
    );

    let retry = Instant::now();
    assert_eq!(
        rotator.run("setSecret", &f.secret, &token).await.unwrap(),
        Outcome::Done
    );
    assert!(
        retry.elapsed() >= propagation,
        "the retried setSecret waited only {:?}",
        retry.elapsed()
    );
}

// Issue 12, item 6: a stack update that touches the distribution re-resolves `{{resolve:secretsmanager:...}}`
// to AWSCURRENT in the middle of a rotation (a person editing the distribution can do the same).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_header_put_back_after_set_secret_stops_test_and_finish_until_set_secret_runs_again() {
    let f = Fixture::new(Accepts::CurrentAndPending).await;
    let old_version = current_version(&f.sm, &f.secret).await;
    let token = f.stage().await;
    let rotator = f.rotator(&[]);
    for step in ["createSecret", "setSecret"] {
        rotator.run(step, &f.secret, &token).await.unwrap();
    }
    let pending = stage_value(&f.sm, &f.secret, PENDING).await.unwrap();
    set_origin_header(&f.cf, &f.d1, D1_ORIGIN, HEADER, OLD).await;

    for step in ["testSecret", "finishSecret"] {
        let err = rotator
            .run(step, &f.secret, &token)
            .await
            .expect_err("passed although an origin sends AWSCURRENT, not AWSPENDING");
        let message = err.to_string();
        assert!(
            message.contains(&f.d1) && message.contains(D1_ORIGIN),
            "{step}: the error names the distribution and the origin: {message}"
        );
        assert!(
            !message.contains(&pending) && !message.contains(OLD),
            "{step}: the error carries a value"
        );
        assert_eq!(f.labels(&old_version).await, [CURRENT], "{step} moved AWSCURRENT");
        assert_eq!(f.labels(&token).await, [PENDING]);
    }

    // Secrets Manager retries the failed rotation from the start: setSecret puts the value back.
    for step in STEPS {
        rotator
            .run(step, &f.secret, &token)
            .await
            .unwrap_or_else(|e| panic!("{step}: {e}"));
    }
    assert_eq!(f.labels(&token).await, [CURRENT]);
    for (distribution, origin) in f.header_senders() {
        assert!(
            f.header_on(distribution, origin).await.as_deref() == Some(pending.as_str()),
            "{origin} does not send the new value"
        );
    }
}

// Issue 12, item 9. With RotateImmediately=false (and with RotateImmediatelyOnUpdate: false in a template),
// Secrets Manager tests the configuration: it attaches AWSPENDING to a temporary version, here without a
// value, runs only testSecret, and removes the version again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn test_secret_alone_on_an_empty_pending_version_checks_and_changes_nothing() {
    let f = Fixture::new(Accepts::CurrentAndPending).await;
    let old_version = current_version(&f.sm, &f.secret).await;
    let temporary = f.stage().await;
    let rotator = f.rotator(&[]);

    let outcome = rotator
        .run("testSecret", &f.secret, &temporary)
        .await
        .expect("testSecret on an empty AWSPENDING version");
    assert_eq!(outcome, Outcome::ConfigurationChecked);
    let calls = rotator.take_calls();
    assert_eq!(writes(&calls), Vec::<&str>::new(), "{calls:?}");
    assert!(
        calls.contains(&HTTP_GET) && calls.contains(&"GetDistribution"),
        "checked the origin and CloudFront: {calls:?}"
    );
    for (distribution, origin) in f.header_senders() {
        assert_eq!(f.header_on(distribution, origin).await.as_deref(), Some(OLD));
    }
    assert_eq!(f.labels(&old_version).await, [CURRENT]);

    // Secrets Manager removes the temporary version; the next rotation runs as if nothing happened.
    f.sm.update_secret_version_stage()
        .secret_id(&f.secret)
        .version_stage(PENDING)
        .remove_from_version_id(&temporary)
        .send()
        .await
        .expect("UpdateSecretVersionStage");
    let token = f.stage().await;
    for step in STEPS {
        rotator
            .run(step, &f.secret, &token)
            .await
            .unwrap_or_else(|e| panic!("{step}: {e}"));
    }
    assert_eq!(f.labels(&token).await, [CURRENT]);
    assert_eq!(f.labels(&old_version).await, [PREVIOUS]);
}

// Issue 12, item 7, on moto: a listed origin that does not send the header yet (the API origin of
// `templates/protect-existing.yaml` before its first rotation) gets it added in the document CloudFront
// returned (elements inserted), and CloudFront takes the result; the origin not listed is untouched.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_listed_origin_without_the_header_gets_it_added_in_the_returned_document() {
    let f = Fixture::new(Accepts::CurrentAndPending).await;
    let d3 = origin_verify_testkit::create_distribution_with(
        &f.cf,
        &[
            api_origin(D1_ORIGIN, &[("x-other", "keep")]),
            origin_verify_testkit::OriginSpec {
                id: D1_BARE_ORIGIN,
                domain: "bucket.s3.example.com",
                port: 443,
                protocol: "https-only",
                headers: &[],
            },
        ],
    )
    .await;
    let token = f.stage().await;
    let rotator = f.rotator(&[("CLOUDFRONT_DISTRIBUTION_IDS", d3.as_str())]);
    for step in STEPS {
        rotator
            .run(step, &f.secret, &token)
            .await
            .unwrap_or_else(|e| panic!("{step}: {e}"));
    }
    let new = stage_value(&f.sm, &f.secret, CURRENT).await.unwrap();
    let api = origin_verify_testkit::origin_headers(&f.cf, &d3, D1_ORIGIN).await;
    assert!(
        api == [
            ("x-other".to_owned(), "keep".to_owned()),
            (HEADER.to_owned(), new)
        ],
        "{D1_ORIGIN}: header added after the other one"
    );
    let bare = origin_verify_testkit::origin_headers(&f.cf, &d3, D1_BARE_ORIGIN).await;
    assert!(bare.is_empty(), "{D1_BARE_ORIGIN}: untouched");
}
