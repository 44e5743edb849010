//! Per-target accumulation of outcomes into counts and HDR histograms while the run goes on.

use std::collections::BTreeMap;
use std::time::Duration;

use hdrhistogram::Histogram;

use crate::report::{Latency, Second, StatusKey, TargetReport};
use crate::{Expect, Target};

/// What one request came to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Outcome {
    /// A response with this status, body read to the end.
    Status(u16),
    /// No (complete) response; the kind of failure.
    Failed(&'static str),
}

/// Counts and histograms of one target.
pub(crate) struct Recorder {
    expect: Expect,
    overall: Histogram<u64>,
    seconds: Vec<SecondRecorder>,
    statuses: BTreeMap<StatusKey, u64>,
    errors: BTreeMap<&'static str, u64>,
    violations: u64,
    unsent: u64,
}

#[derive(Default)]
struct SecondRecorder {
    // Two significant digits and u32 counts: a chart needs no more, and there is one per second per
    // target. Created on first use so seconds without responses cost nothing.
    latency: Option<Histogram<u32>>,
    statuses: BTreeMap<StatusKey, u64>,
    violations: u64,
}

/// Snapshot for the progress line.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Progress {
    pub(crate) total: u64,
    pub(crate) non_2xx: u64,
    pub(crate) violations: u64,
}

impl Recorder {
    pub(crate) fn new(expect: Expect, seconds: usize) -> Self {
        Recorder {
            expect,
            // Auto-resizing: grows to the largest latency actually seen instead of reserving for the
            // largest possible one.
            overall: Histogram::new(3).expect("3 significant figures is a valid histogram precision"),
            seconds: (0..seconds.max(1)).map(|_| SecondRecorder::default()).collect(),
            statuses: BTreeMap::new(),
            errors: BTreeMap::new(),
            violations: 0,
            unsent: 0,
        }
    }

    /// Records one request scheduled during `second` (counted from the start of the run).
    pub(crate) fn record(&mut self, second: usize, outcome: Outcome, latency: Duration) {
        let slot = second.min(self.seconds.len() - 1);
        let bucket = &mut self.seconds[slot];
        let (key, status) = match outcome {
            Outcome::Status(code) => (StatusKey::Code(code), Some(code)),
            Outcome::Failed(kind) => {
                *self.errors.entry(kind).or_default() += 1;
                (StatusKey::Error, None)
            }
        };
        *self.statuses.entry(key).or_default() += 1;
        *bucket.statuses.entry(key).or_default() += 1;
        if !self.expect.accepts(status) {
            self.violations += 1;
            bucket.violations += 1;
        }
        if status.is_some() {
            let us = u64::try_from(latency.as_micros()).unwrap_or(u64::MAX);
            // Only values beyond i64::MAX / 2 µs could fail; clamp rather than lose the sample.
            if self.overall.record(us).is_err() {
                self.overall.saturating_record(us);
            }
            let hist = bucket.latency.get_or_insert_with(|| {
                Histogram::new(2).expect("2 significant figures is a valid histogram precision")
            });
            if hist.record(us).is_err() {
                hist.saturating_record(us);
            }
        }
    }

    /// Counts a request that was due but never got an in-flight slot before the run ended.
    pub(crate) fn unsent(&mut self) {
        self.unsent += 1;
    }

    pub(crate) fn progress(&self) -> Progress {
        let total = self.statuses.values().sum();
        let ok: u64 = self
            .statuses
            .iter()
            .filter(|(k, _)| matches!(k, StatusKey::Code(200..=299)))
            .map(|(_, n)| n)
            .sum();
        Progress {
            total,
            non_2xx: total - ok,
            violations: self.violations,
        }
    }

    pub(crate) fn report(&self, target: &Target) -> TargetReport {
        let latency = if self.overall.is_empty() {
            Latency::default()
        } else {
            let h = &self.overall;
            Latency {
                samples: h.len(),
                p50_us: h.value_at_quantile(0.50),
                p90_us: h.value_at_quantile(0.90),
                p99_us: h.value_at_quantile(0.99),
                p999_us: h.value_at_quantile(0.999),
                max_us: h.max(),
                mean_us: h.mean().round() as u64,
            }
        };
        let seconds = self
            .seconds
            .iter()
            .enumerate()
            .map(|(i, s)| Second {
                second: u32::try_from(i).unwrap_or(u32::MAX),
                statuses: s.statuses.clone(),
                violations: s.violations,
                p50_us: s.latency.as_ref().map(|h| h.value_at_quantile(0.50)),
                p99_us: s.latency.as_ref().map(|h| h.value_at_quantile(0.99)),
                max_us: s.latency.as_ref().map(Histogram::max),
            })
            .collect();
        TargetReport {
            name: target.name.clone(),
            url: target.url.clone(),
            expect: target.expect,
            header_names: target.headers.iter().map(|(name, _)| name.clone()).collect(),
            total: self.statuses.values().sum(),
            statuses: self.statuses.clone(),
            errors: self.errors.iter().map(|(k, v)| ((*k).to_string(), *v)).collect(),
            violations: self.violations,
            unsent: self.unsent,
            latency,
            seconds,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_and_violations() {
        let mut r = Recorder::new(Expect::Success, 2);
        r.record(0, Outcome::Status(200), Duration::from_millis(2));
        r.record(1, Outcome::Status(403), Duration::from_millis(3));
        r.record(7, Outcome::Failed("timeout"), Duration::from_secs(5));
        let t = r.report(&Target::new("t", "http://127.0.0.1/", Expect::Success));
        assert_eq!(t.total, 3);
        assert_eq!(t.violations, 2);
        assert_eq!(t.latency.samples, 2, "transport errors carry no latency");
        assert_eq!(t.seconds.len(), 2);
        assert_eq!(t.seconds[1].total(), 2, "late samples land in the last second");
        assert_eq!(t.errors.get("timeout"), Some(&1));
        let p = r.progress();
        assert_eq!((p.total, p.non_2xx, p.violations), (3, 2, 2));
    }
}
