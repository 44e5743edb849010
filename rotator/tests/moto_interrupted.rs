//! The rotator killed at every point of every step, against moto and a local origin that accepts only what
//! the secret holds (AWSCURRENT or AWSPENDING): whatever a kill leaves behind, AWSCURRENT still works and
//! CloudFront sends only values the origin accepts; and running the steps again from the interrupted one,
//! as Secrets Manager does (it retries the failed step, then goes on), ends exactly like a clean rotation.
//!
//! The rotator keeps no state between calls: everything lives in Secrets Manager and CloudFront. So a
//! process killed right after its k-th AWS call leaves AWS exactly as a rotator whose calls fail from the
//! (k+1)-th on, before anything is sent ([`KillSwitch`]). HTTP test requests change nothing, so a kill
//! between them and the next AWS call is the same as a kill after the AWS call before them.

mod common;

use common::*;
use origin_verify_rotator::Outcome;
use origin_verify_testkit::{current_version, stage_value, stages, Accepts};

/// More AWS calls than any step makes: bounds the search for a step's length if a step ever loops.
const MAX_STEP_CALLS: usize = 20;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn create_secret_killed_after_every_call_then_rerun_completes() {
    kill_after_every_call_of(0).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn set_secret_killed_after_every_call_then_rerun_completes() {
    kill_after_every_call_of(1).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn test_secret_killed_after_every_call_then_rerun_completes() {
    kill_after_every_call_of(2).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn finish_secret_killed_after_every_call_then_rerun_completes() {
    kill_after_every_call_of(3).await;
}

/// For k = 0, 1, ... on a fresh rotation each time: runs the steps before `STEPS[step]`, then that step
/// dying after k AWS calls; checks nothing is locked out; reruns the rest; checks the rotation is complete.
/// Stops at the first k the step survives: that k is the number of calls it makes uninterrupted.
async fn kill_after_every_call_of(step: usize) {
    let name = STEPS[step];
    for k in 0..=MAX_STEP_CALLS {
        let f = Fixture::new(Accepts::CurrentAndPending).await;
        let old_version = current_version(&f.sm, &f.secret).await;
        let token = f.stage().await;
        run_steps(&f, &token, &STEPS[..step], "before the kill").await;

        let kill = KillSwitch::after(k);
        let dying = f.rotator_with_clients(&[], kill.sm(&f.sm), kill.cf(&f.cf));
        let result = dying.run(name, &f.secret, &token).await;
        // The rotator records a call before sending it, so the refused one is in the list too.
        let aws_calls: Vec<&str> = dying
            .take_calls()
            .into_iter()
            .filter(|c| *c != HTTP_GET)
            .collect();
        let refused = kill.started() > k;
        let at = format!("{name} killed after {k} calls");
        let completed = match (&result, refused) {
            (Err(_), true) => false,
            (Ok(_), false) => true,
            // A step that reports success although a call failed would let Secrets Manager move on over
            // work that was never done.
            (Ok(outcome), true) => panic!("{at}: reported {outcome:?} although call {} failed", k + 1),
            (Err(e), false) => panic!("{at}: failed with every call let through: {e}"),
        };
        assert_eq!(
            aws_calls.len(),
            kill.started(),
            "{at}: the switch saw other calls than the rotator made: {aws_calls:?}"
        );

        let senders = assert_nothing_locked_out(&f, &at).await;

        // Secrets Manager retries a failed step; after a successful one it goes on with the next.
        let rerun_from = if completed { step + 1 } else { step };
        let rerun = run_steps(&f, &token, &STEPS[rerun_from..], &at).await;
        assert_rotated(&f, &token, &old_version, &at).await;

        let stopped = match &result {
            Ok(outcome) => format!("{outcome:?}"),
            Err(_) => format!("Err, killed at {}", aws_calls[k]),
        };
        println!(
            "{name} k={k}: {stopped}; passed {:?}; CloudFront sends {senders:?}; rerun {rerun:?}; rotation complete",
            &aws_calls[..k.min(aws_calls.len())]
        );
        if completed {
            println!(
                "{name}: {k} AWS calls uninterrupted; killed after each of 0..{k}, every rerun completed"
            );
            return;
        }
    }
    panic!("{name} did not complete within {MAX_STEP_CALLS} AWS calls");
}

/// Runs `steps` in order with a fresh, uninterrupted rotator (a new process); each must succeed.
async fn run_steps(f: &Fixture, token: &str, steps: &[&str], at: &str) -> Vec<Outcome> {
    let rotator = f.rotator(&[]);
    let mut outcomes = Vec::with_capacity(steps.len());
    for step in steps {
        let outcome = rotator
            .run(step, &f.secret, token)
            .await
            .unwrap_or_else(|e| panic!("{at}: {step} failed: {e}"));
        outcomes.push(outcome);
    }
    outcomes
}

/// What must hold wherever the rotator stopped: AWSCURRENT has a value the origin accepts, and every
/// origin that sends the header sends the AWSCURRENT or AWSPENDING value, which the origin accepts.
/// Returns which label each of them sends. Values never appear in messages (they are the secret).
async fn assert_nothing_locked_out(f: &Fixture, at: &str) -> Vec<(&'static str, &'static str)> {
    let current = stage_value(&f.sm, &f.secret, CURRENT)
        .await
        .unwrap_or_else(|| panic!("{at}: the secret has no {CURRENT} value"));
    assert_eq!(
        f.origin_status(&current).await,
        200,
        "{at}: the origin refuses {CURRENT}"
    );
    let pending = stage_value(&f.sm, &f.secret, PENDING).await;
    let mut senders = Vec::new();
    for (distribution, origin) in f.header_senders() {
        let sent = f
            .header_on(distribution, origin)
            .await
            .unwrap_or_else(|| panic!("{at}: origin {origin} no longer sends the header"));
        let label = if sent == current {
            CURRENT
        } else if pending.as_deref() == Some(sent.as_str()) {
            PENDING
        } else {
            panic!(
                "{at}: origin {origin} sends a value (length {}) that is neither {CURRENT} nor {PENDING}",
                sent.len()
            )
        };
        assert_eq!(
            f.origin_status(&sent).await,
            200,
            "{at}: the origin refuses what {origin} sends ({label})"
        );
        senders.push((origin, label));
    }
    assert!(
        f.header_on(&f.d1, D1_BARE_ORIGIN).await.is_none(),
        "{at}: the header was added to {D1_BARE_ORIGIN}, which never sent it"
    );
    senders
}

/// The end state of a clean rotation: the token's version is AWSCURRENT, the old one AWSPREVIOUS, no
/// AWSPENDING anywhere, and every origin that sends the header sends the new value, which the origin accepts.
async fn assert_rotated(f: &Fixture, token: &str, old_version: &str, at: &str) {
    assert_eq!(
        f.labels(token).await,
        [CURRENT],
        "{at}: labels of the new version"
    );
    assert_eq!(
        f.labels(old_version).await,
        [PREVIOUS],
        "{at}: labels of the old version"
    );
    // Version ids and labels only: no values.
    let all = stages(&f.sm, &f.secret).await;
    assert!(
        !all.values().flatten().any(|label| label == PENDING),
        "{at}: {PENDING} left behind: {all:?}"
    );
    let new = stage_value(&f.sm, &f.secret, CURRENT)
        .await
        .unwrap_or_else(|| panic!("{at}: the secret has no {CURRENT} value"));
    assert!(new != OLD, "{at}: {CURRENT} still holds the old value");
    for (distribution, origin) in f.header_senders() {
        let sent = f.header_on(distribution, origin).await;
        assert!(
            sent.as_deref() == Some(new.as_str()),
            "{at}: origin {origin} does not send the new {CURRENT} value"
        );
    }
    assert_eq!(
        f.origin_status(&new).await,
        200,
        "{at}: the origin refuses the new {CURRENT}"
    );
}
