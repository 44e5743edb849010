//! What the authorizer did, counted in the process and printed as at most one CloudWatch EMF line per
//! interval, by the extension after an invocation (off the request path).
//!
//! Counting is a relaxed load and store of an atomic per decision (and a load, compare and maybe store for
//! the snapshot's age): no lock, no allocation, nothing that waits, and no locked read-modify-write either.
//! A `fetch_add` and a `fetch_max` (locked instructions) measured about 40 ns per decision on this VM, as
//! much as the decision itself; plain loads and stores cost what the instructions cost. The price: two
//! threads counting at the same instant can lose a count. The authorizer decides one invocation at a time
//! on one thread (Lambda sends a sandbox one request at a time; the runtime is current-thread), so its
//! counts are exact; tests that decide from several threads at once may see fewer.
//!
//! What was counted since the last line is lost when Lambda shuts the sandbox down: internal extensions
//! get no SHUTDOWN event (README, "Operating it").

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use origin_verify_shared::emf::{names, Emf, Unit};

/// Everything counted. The metric names are the variants' [`Counter::name`]s.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(usize)]
pub enum Counter {
    /// The value matched AWSCURRENT.
    AllowsCurrent,
    /// The value matched AWSPENDING.
    AllowsPending,
    /// The value matched AWSPREVIOUS inside its grace window.
    AllowsPrevious,
    /// A value that matches nothing held (after any refresh the rules call for).
    DeniesNoMatch,
    /// A value that is empty or longer than any secret can be: denied without comparing.
    DeniesEmptyOrOversized,
    /// No header (HTTP APIs: only when invoked anyway; API Gateway answers 401 itself).
    DeniesMissing,
    /// The header more than once.
    DeniesRepeated,
    /// An event that is not JSON, has a field of the wrong type, or is no known payload.
    DeniesMalformed,
    /// `identitySource` is not exactly the header value that was checked.
    DeniesIdentitySource,
    /// Invocations failed instead of deciding: nothing loaded, a snapshot past its maximum staleness, or
    /// a miss on a stale snapshot whose refresh did not land (API Gateway answers 500, not cached).
    FailedClosed,
    /// Refreshes that produced a snapshot.
    Refreshes,
    /// Refreshes that failed (the last snapshot kept serving).
    RefreshFailures,
    /// DescribeSecret and GetSecretValue calls.
    SecretsManagerCalls,
    /// Misses that waited for a refresh.
    MissWaits,
}

// The enum's order is the names list's order: one list of user-facing names.
const _: () = assert!(Counter::ALL.len() + 3 == names::AUTHORIZER.len());

impl Counter {
    /// Every counter, in a fixed order.
    pub const ALL: [Counter; 14] = [
        Counter::AllowsCurrent,
        Counter::AllowsPending,
        Counter::AllowsPrevious,
        Counter::DeniesNoMatch,
        Counter::DeniesEmptyOrOversized,
        Counter::DeniesMissing,
        Counter::DeniesRepeated,
        Counter::DeniesMalformed,
        Counter::DeniesIdentitySource,
        Counter::FailedClosed,
        Counter::Refreshes,
        Counter::RefreshFailures,
        Counter::SecretsManagerCalls,
        Counter::MissWaits,
    ];

    /// The metric's name in CloudWatch (the list in `origin_verify_shared::emf::names`).
    pub fn name(self) -> &'static str {
        names::AUTHORIZER[self as usize]
    }
}

use names::{MISS_WAIT_MAX, SECONDS_SINCE_ROTATION, SNAPSHOT_AGE_MAX};

/// The counters of one process.
#[derive(Debug)]
pub struct Metrics {
    counts: [AtomicU64; Counter::ALL.len()],
    snapshot_age_max_ms: AtomicU64,
    miss_wait_max_ms: AtomicU64,
    /// When the last line was printed (or the process started); `None` interval = never print.
    last_line: Mutex<Instant>,
    interval: Option<Duration>,
    function: String,
}

impl Metrics {
    /// Counters printed at most every `interval` (`None`: never), with the function's name as dimension.
    pub fn new(interval: Option<Duration>, function: &str) -> Self {
        Self {
            counts: std::array::from_fn(|_| AtomicU64::new(0)),
            snapshot_age_max_ms: AtomicU64::new(0),
            miss_wait_max_ms: AtomicU64::new(0),
            last_line: Mutex::new(Instant::now()),
            interval,
            function: function.to_owned(),
        }
    }

    /// Whether anything is counted (metrics turned on).
    #[inline]
    pub fn enabled(&self) -> bool {
        self.interval.is_some()
    }

    /// Counts one event.
    #[inline]
    pub fn count(&self, counter: Counter) {
        self.add(counter, 1);
    }

    /// Counts `n` events.
    #[inline]
    pub fn add(&self, counter: Counter, n: u64) {
        if self.enabled() {
            let count = &self.counts[counter as usize];
            count.store(count.load(Ordering::Relaxed).wrapping_add(n), Ordering::Relaxed);
        }
    }

    /// Records the snapshot's age at a decision.
    #[inline]
    pub fn snapshot_age(&self, age: Duration) {
        if self.enabled() {
            let ms = age.as_millis() as u64;
            if ms > self.snapshot_age_max_ms.load(Ordering::Relaxed) {
                self.snapshot_age_max_ms.store(ms, Ordering::Relaxed);
            }
        }
    }

    /// Records a miss that waited `waited` for a refresh.
    pub fn miss_waited(&self, waited: Duration) {
        if self.enabled() {
            self.count(Counter::MissWaits);
            self.miss_wait_max_ms
                .fetch_max(waited.as_millis() as u64, Ordering::Relaxed);
        }
    }

    /// The count so far (since the last line), for tests and logs.
    pub fn get(&self, counter: Counter) -> u64 {
        self.counts[counter as usize].load(Ordering::Relaxed)
    }

    /// The EMF document of everything counted since the last one, resetting the counters, if the
    /// interval has passed since the last line (or `force`). `None` when not due or turned off.
    ///
    /// `since_rotation`: the secret's age since its last rotation, as last described (a gauge, not reset).
    pub fn take_if_due(&self, now: Instant, force: bool, since_rotation: Option<Duration>) -> Option<Emf> {
        let interval = self.interval?;
        {
            let mut last = self.last_line.lock().unwrap_or_else(|e| e.into_inner());
            if !force && now.saturating_duration_since(*last) < interval {
                return None;
            }
            *last = now;
        }
        let mut emf = Emf::new(names::NAMESPACE, &[(names::FUNCTION, &self.function)]);
        for c in Counter::ALL {
            let n = self.counts[c as usize].swap(0, Ordering::Relaxed);
            emf = emf.metric(c.name(), Unit::Count, n as f64);
        }
        let age_ms = self.snapshot_age_max_ms.swap(0, Ordering::Relaxed);
        let wait_ms = self.miss_wait_max_ms.swap(0, Ordering::Relaxed);
        emf = emf
            .metric(SNAPSHOT_AGE_MAX, Unit::Seconds, age_ms as f64 / 1000.0)
            .metric(MISS_WAIT_MAX, Unit::Milliseconds, wait_ms as f64);
        if let Some(age) = since_rotation {
            emf = emf.metric(SECONDS_SINCE_ROTATION, Unit::Seconds, age.as_secs() as f64);
        }
        Some(emf)
    }

    /// Prints the line if due (the extension calls it after each invocation).
    pub fn flush_if_due(&self, now: Instant, since_rotation: Option<Duration>) {
        if let Some(emf) = self.take_if_due(now, false, since_rotation) {
            emf.print();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use origin_verify_shared::emf::validate;

    #[test]
    fn one_line_per_interval_with_the_counts_since_the_last() {
        let m = Metrics::new(Some(Duration::from_secs(60)), "auth");
        let start = Instant::now();
        m.count(Counter::AllowsCurrent);
        m.count(Counter::AllowsCurrent);
        m.count(Counter::DeniesNoMatch);
        m.snapshot_age(Duration::from_millis(1500));
        m.snapshot_age(Duration::from_millis(500));
        m.miss_waited(Duration::from_millis(40));
        assert!(m.take_if_due(start, false, None).is_none(), "not due yet");
        let line = m
            .take_if_due(
                start + Duration::from_secs(61),
                false,
                Some(Duration::from_secs(7)),
            )
            .expect("due")
            .line(std::time::SystemTime::now());
        let values = validate(&line).expect("valid EMF");
        let value = |name: &str| values.iter().find(|v| v.name == name).map(|v| v.value);
        assert_eq!(value("AllowsCurrent"), Some(2.0));
        assert_eq!(value("DeniesNoMatch"), Some(1.0));
        assert_eq!(value("AllowsPending"), Some(0.0));
        assert_eq!(value(SNAPSHOT_AGE_MAX), Some(1.5));
        assert_eq!(value(MISS_WAIT_MAX), Some(40.0));
        assert_eq!(value("MissWaits"), Some(1.0));
        assert_eq!(value(SECONDS_SINCE_ROTATION), Some(7.0));
        assert_eq!(
            values.len(),
            names::AUTHORIZER.len(),
            "every authorizer metric, once"
        );
        assert!(values
            .iter()
            .all(|v| v.dimensions == [("FunctionName".to_owned(), "auth".to_owned())]));
        // Reset: the next line counts from zero, and not before another interval.
        assert!(m
            .take_if_due(start + Duration::from_secs(62), false, None)
            .is_none());
        assert_eq!(m.get(Counter::AllowsCurrent), 0);
    }

    #[test]
    fn counters_carry_their_own_names() {
        assert_eq!(Counter::AllowsCurrent.name(), "AllowsCurrent");
        assert_eq!(Counter::DeniesIdentitySource.name(), "DeniesIdentitySource");
        assert_eq!(Counter::MissWaits.name(), "MissWaits");
    }

    #[test]
    fn turned_off_prints_nothing() {
        let m = Metrics::new(None, "auth");
        m.count(Counter::FailedClosed);
        assert!(m
            .take_if_due(Instant::now() + Duration::from_secs(3600), true, None)
            .is_none());
    }
}
