//! The rotator's metrics, printed as CloudWatch EMF lines (names in `origin_verify_shared::emf::names`):
//! one line per step run (its duration and outcome, dimensions function and step) and one per completed
//! rotation (total time, the propagation wait, CloudFront's deployment wait; dimension function).
//!
//! Secrets Manager runs a rotation's steps one after the other, so one warm sandbox normally sees all
//! four: it remembers, per rotation token, when it first saw the rotation and how long its waits took.
//! A rotation whose steps ran in different sandboxes (a retry after a failure, a sandbox recycled in
//! between) reports only what the finishing sandbox saw; nothing is stored outside the process.

use std::collections::VecDeque;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use origin_verify_shared::emf::{names, Emf, Unit};

use crate::Step;

/// Rotations remembered at once: one runs at a time per secret; a few more cover abandoned ones.
const REMEMBERED: usize = 8;

/// What one sandbox saw of one rotation.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RotationTimes {
    /// Since the first step of this rotation this process ran, when it finished.
    pub total: Option<Duration>,
    /// setSecret's propagation wait (zero when an earlier run had waited).
    pub propagation_wait: Option<Duration>,
    /// The wait for every distribution to be `Deployed` and send the new value (testSecret's, plus
    /// finishSecret's check).
    pub deploy_wait: Option<Duration>,
}

#[derive(Debug)]
struct Seen {
    token: String,
    first: Instant,
    times: RotationTimes,
}

/// Per-rotation timings of this process, by ClientRequestToken.
#[derive(Debug, Default)]
pub struct Timings(Mutex<VecDeque<Seen>>);

impl Timings {
    fn with<R>(&self, token: &str, f: impl FnOnce(&mut Seen) -> R) -> R {
        let mut seen = self.0.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(i) = seen.iter().position(|s| s.token == token) {
            return f(&mut seen[i]);
        }
        if seen.len() == REMEMBERED {
            seen.pop_front();
        }
        seen.push_back(Seen {
            token: token.to_owned(),
            first: Instant::now(),
            times: RotationTimes::default(),
        });
        let last = seen.len() - 1;
        f(&mut seen[last])
    }

    /// A step of rotation `token` starts (the first one seen starts the rotation's clock).
    pub fn step_started(&self, token: &str) {
        self.with(token, |_| ());
    }

    /// setSecret's propagation wait took `waited`.
    pub fn propagation_waited(&self, token: &str, waited: Duration) {
        self.with(token, |s| s.times.propagation_wait = Some(waited));
    }

    /// A wait for deployment took `waited` (added up over the steps that wait).
    pub fn deploy_waited(&self, token: &str, waited: Duration) {
        self.with(token, |s| {
            s.times.deploy_wait = Some(s.times.deploy_wait.unwrap_or_default() + waited)
        });
    }

    /// The rotation `token` completed: what this process saw of it, forgotten afterwards.
    pub fn completed(&self, token: &str) -> RotationTimes {
        let mut seen = self.0.lock().unwrap_or_else(|e| e.into_inner());
        match seen.iter().position(|s| s.token == token) {
            Some(i) => {
                let s = seen.remove(i).expect("present");
                RotationTimes {
                    total: Some(s.first.elapsed()),
                    ..s.times
                }
            }
            None => RotationTimes::default(),
        }
    }
}

/// The line for one step run.
pub fn step_line(function: &str, step: Step, took: Duration, ok: bool) -> Emf {
    Emf::new(
        names::NAMESPACE,
        &[(names::FUNCTION, function), (names::STEP, step.name())],
    )
    .metric(names::STEP_DURATION, Unit::Milliseconds, took.as_secs_f64() * 1e3)
    .metric(names::STEP_SUCCEEDED, Unit::Count, if ok { 1.0 } else { 0.0 })
    .metric(names::STEP_FAILED, Unit::Count, if ok { 0.0 } else { 1.0 })
}

/// The line for one completed rotation; the waits this process did not see are left out.
pub fn rotation_line(function: &str, times: &RotationTimes) -> Emf {
    let mut emf = Emf::new(names::NAMESPACE, &[(names::FUNCTION, function)]).metric(
        names::ROTATIONS_COMPLETED,
        Unit::Count,
        1.0,
    );
    for (name, value) in [
        (names::ROTATION_SECONDS, times.total),
        (names::PROPAGATION_WAIT_SECONDS, times.propagation_wait),
        (names::DEPLOY_WAIT_SECONDS, times.deploy_wait),
    ] {
        if let Some(v) = value {
            emf = emf.metric(name, Unit::Seconds, v.as_secs_f64());
        }
    }
    emf
}

#[cfg(test)]
mod tests {
    use super::*;
    use origin_verify_shared::emf::validate;
    use std::time::SystemTime;

    #[test]
    fn step_lines_carry_function_and_step() {
        let line = step_line("rot", Step::Set, Duration::from_millis(1500), false).line(SystemTime::now());
        let values = validate(&line).unwrap();
        let dims = vec![
            ("FunctionName".to_owned(), "rot".to_owned()),
            ("Step".to_owned(), "setSecret".to_owned()),
        ];
        assert!(values.iter().all(|v| v.dimensions == dims), "{values:?}");
        let value = |n: &str| values.iter().find(|v| v.name == n).unwrap().value;
        assert_eq!(value("StepDuration"), 1500.0);
        assert_eq!((value("StepSucceeded"), value("StepFailed")), (0.0, 1.0));
    }

    #[test]
    fn a_rotation_line_has_what_this_process_saw() {
        let t = Timings::default();
        t.step_started("tok");
        t.propagation_waited("tok", Duration::from_secs(75));
        t.deploy_waited("tok", Duration::from_secs(100));
        t.deploy_waited("tok", Duration::from_secs(5));
        let times = t.completed("tok");
        assert_eq!(times.propagation_wait, Some(Duration::from_secs(75)));
        assert_eq!(times.deploy_wait, Some(Duration::from_secs(105)));
        assert!(times.total.is_some());
        let values = validate(&rotation_line("rot", &times).line(SystemTime::now())).unwrap();
        let names: Vec<&str> = values.iter().map(|v| v.name.as_str()).collect();
        assert_eq!(
            names,
            [
                "RotationsCompleted",
                "RotationSeconds",
                "PropagationWaitSeconds",
                "DeployWaitSeconds"
            ]
        );
        // Forgotten once completed; an unknown rotation reports only its completion.
        assert_eq!(t.completed("tok"), RotationTimes::default());
        let values =
            validate(&rotation_line("rot", &RotationTimes::default()).line(SystemTime::now())).unwrap();
        assert_eq!(values.len(), 1);
    }

    #[test]
    fn at_most_a_few_rotations_are_remembered() {
        let t = Timings::default();
        for i in 0..(REMEMBERED + 3) {
            t.step_started(&format!("tok-{i}"));
        }
        assert_eq!(t.0.lock().unwrap().len(), REMEMBERED);
    }
}
