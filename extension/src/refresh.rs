//! When a refresh may run: single-flight, exponential backoff with jitter after failures, and a signal
//! for the callers waiting on it. The one implementation behind both front ends: the authorizer's
//! [`crate::SecretCache`] and the layer's [`crate::SecretStore`].

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use backon::{BackoffBuilder, ExponentialBackoff, ExponentialBuilder};
use tokio::sync::watch;

/// First delay after a failed refresh; doubles (with jitter) up to [`BACKOFF_MAX`].
const BACKOFF_MIN: Duration = Duration::from_millis(250);
/// Longest pause between refresh attempts while Secrets Manager keeps failing: short enough that recovery
/// is prompt, long enough that an outage does not turn into a call storm.
pub const BACKOFF_MAX: Duration = Duration::from_secs(30);

/// The refresh state of one cached secret.
#[derive(Debug)]
pub struct Refresher {
    /// Set while an attempt runs: at most one at a time.
    in_flight: AtomicBool,
    /// Incremented when an attempt ends, successful or not; waiters watch it.
    finished: watch::Sender<u64>,
    /// Origin of the nanosecond timestamps kept in atomics below.
    origin: Instant,
    /// No attempt starts before this (nanoseconds since `origin`): the backoff after failures.
    not_before: AtomicU64,
    backoff: Mutex<Option<ExponentialBackoff>>,
    succeeded: AtomicU64,
    failed: AtomicU64,
}

/// What [`Refresher::try_start`] found.
#[derive(Debug)]
pub enum Start {
    /// The caller holds the one attempt: run it (usually in its own task) and end it.
    Started(Attempt),
    /// Another attempt is running; wait for it.
    Running,
    /// The backoff forbids an attempt until [`Refresher::next_attempt_at`].
    BackingOff,
}

impl Refresher {
    /// No attempt yet, no backoff.
    pub fn new() -> Arc<Self> {
        Arc::new(Self {
            in_flight: AtomicBool::new(false),
            finished: watch::Sender::new(0),
            origin: Instant::now(),
            not_before: AtomicU64::new(0),
            backoff: Mutex::new(None),
            succeeded: AtomicU64::new(0),
            failed: AtomicU64::new(0),
        })
    }

    /// Claims the attempt unless one runs or the backoff forbids it.
    pub fn try_start(self: &Arc<Self>, now: Instant) -> Start {
        if self.in_flight.load(Ordering::Acquire) {
            return Start::Running;
        }
        if self.nanos(now) < self.not_before.load(Ordering::Acquire) {
            return Start::BackingOff;
        }
        match self
            .in_flight
            .compare_exchange(false, true, Ordering::AcqRel, Ordering::Acquire)
        {
            Ok(_) => Start::Started(Attempt(Some(Arc::clone(self)))),
            Err(_) => Start::Running,
        }
    }

    /// Whether an attempt is running now.
    pub fn is_running(&self) -> bool {
        self.in_flight.load(Ordering::Acquire)
    }

    /// A receiver that changes whenever an attempt ends.
    pub fn subscribe(&self) -> watch::Receiver<u64> {
        self.finished.subscribe()
    }

    /// The earliest moment the backoff lets an attempt start (in the past when not backing off).
    pub fn next_attempt_at(&self) -> Instant {
        self.origin + Duration::from_nanos(self.not_before.load(Ordering::Acquire))
    }

    /// Attempts that succeeded and failed so far.
    pub fn outcomes(&self) -> (u64, u64) {
        (
            self.succeeded.load(Ordering::Relaxed),
            self.failed.load(Ordering::Relaxed),
        )
    }

    /// Waits until no attempt is running, at most until `deadline`.
    pub async fn wait_idle(&self, deadline: Instant) {
        let mut rx = self.subscribe();
        while self.is_running() {
            if tokio::time::timeout_at(deadline.into(), rx.changed())
                .await
                .is_err()
            {
                break;
            }
        }
    }

    fn nanos(&self, at: Instant) -> u64 {
        at.saturating_duration_since(self.origin).as_nanos() as u64
    }
}

/// The one running refresh attempt. Dropping it (however the attempt ends, even by a panic in a
/// dependency) lets the next attempt start and wakes the waiters: otherwise one bad answer would freeze
/// the cache for good. Store the new data *before* ending the attempt, so waiters woken see it.
#[derive(Debug)]
pub struct Attempt(Option<Arc<Refresher>>);

impl Attempt {
    /// The attempt produced fresh data: the backoff resets.
    pub fn succeeded(self) {
        if let Some(r) = &self.0 {
            r.succeeded.fetch_add(1, Ordering::Relaxed);
            *r.backoff.lock().unwrap_or_else(|e| e.into_inner()) = None;
            r.not_before.store(0, Ordering::Release);
        }
    }

    /// The attempt failed: no attempt starts again before the returned delay has passed.
    pub fn failed(self) -> Duration {
        let Some(r) = &self.0 else {
            return Duration::ZERO;
        };
        r.failed.fetch_add(1, Ordering::Relaxed);
        let delay = r
            .backoff
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get_or_insert_with(new_backoff)
            .next()
            .unwrap_or(BACKOFF_MAX);
        r.not_before
            .store(r.nanos(Instant::now() + delay), Ordering::Release);
        delay
    }
}

impl Drop for Attempt {
    fn drop(&mut self) {
        if let Some(r) = self.0.take() {
            r.in_flight.store(false, Ordering::Release);
            r.finished.send_modify(|n| *n = n.wrapping_add(1));
        }
    }
}

fn new_backoff() -> ExponentialBackoff {
    ExponentialBuilder::new()
        .with_min_delay(BACKOFF_MIN)
        .with_max_delay(BACKOFF_MAX)
        .with_jitter()
        .without_max_times()
        .build()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_attempt_at_a_time_and_a_backoff_after_failure() {
        let r = Refresher::new();
        let now = Instant::now();
        let Start::Started(first) = r.try_start(now) else {
            panic!("the first attempt starts")
        };
        assert!(matches!(r.try_start(now), Start::Running));
        let delay = first.failed();
        assert!(delay >= BACKOFF_MIN / 2 && delay <= BACKOFF_MAX, "{delay:?}");
        assert!(!r.is_running());
        assert!(matches!(r.try_start(Instant::now()), Start::BackingOff));
        let Start::Started(second) = r.try_start(r.next_attempt_at() + Duration::from_millis(1)) else {
            panic!("starts once the backoff has passed")
        };
        second.succeeded();
        assert!(matches!(r.try_start(Instant::now()), Start::Started(_)));
        assert_eq!(r.outcomes(), (1, 1));
    }

    #[tokio::test]
    async fn waiters_wake_when_an_attempt_is_dropped() {
        let r = Refresher::new();
        let Start::Started(attempt) = r.try_start(Instant::now()) else {
            panic!("starts")
        };
        let waiter = tokio::spawn({
            let r = Arc::clone(&r);
            async move { r.wait_idle(Instant::now() + Duration::from_secs(10)).await }
        });
        tokio::task::yield_now().await;
        assert!(!waiter.is_finished());
        drop(attempt);
        tokio::time::timeout(Duration::from_secs(5), waiter)
            .await
            .expect("woken")
            .expect("joined");
        assert_eq!(r.outcomes(), (0, 0), "a dropped attempt is neither");
    }
}
