//! The secret cache: a lock-free snapshot for readers, refreshed off the hot path, single-flight.
//!
//! The rules it keeps (README, "How the cache decides"):
//! - a request whose value matches a held value never waits;
//! - a snapshot older than the refresh interval never decides a deny: a miss waits (bounded) for the
//!   refresh that is due anyway, then is checked again; if the refresh has not landed by then (slow,
//!   failing, backing off), the miss fails the invocation instead (not cached by API Gateway);
//! - a miss on a fresh snapshot may cause one extra refresh, at most one per configured interval;
//! - failures keep the last snapshot and back off exponentially with jitter; nothing loaded → error.

use std::sync::Arc;
use std::time::{Duration, Instant};

use arc_swap::ArcSwapOption;

use crate::loader::{CallCounts, Loader};
use crate::metrics::{Counter, Metrics};
use crate::refresh::{Attempt, Refresher, Start};
use crate::secret::Presented;
use crate::snapshot::{Snapshot, Stage};
use crate::Error;
/// Longest the extension waits for the handler to finish an invocation before it stops waiting for the
/// refreshes that invocation started: API Gateway gives an authorizer 10 s, so no useful invocation
/// takes longer.
pub const HANDLER_WAIT_MAX: Duration = Duration::from_secs(10);
/// Longest the extension waits for a running refresh before it lets the sandbox freeze. A refresh is two
/// sequential calls at most, each ended by the client's 4 s operation timeout ([`crate::client_settings`]),
/// so it normally ends by itself well before this.
pub const REFRESH_WAIT_MAX: Duration = Duration::from_secs(10);

/// The outcome for one presented header value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    /// The value matches the held version with this stage.
    Allow(Stage),
    /// The value matches nothing that may be accepted.
    Deny(DenyReason),
}

/// Why a value was denied.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DenyReason {
    /// It matches no held value (after any refresh the rules call for).
    NoMatch,
    /// Empty or longer than [`crate::MAX_VALUE_LEN`]: denied without comparing.
    Unmatchable,
}

/// Counters of the cache's work, for logs and tests.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CacheStats {
    /// DescribeSecret calls.
    pub describe_calls: u64,
    /// GetSecretValue calls.
    pub get_value_calls: u64,
    /// Refreshes that produced a snapshot.
    pub refreshes_ok: u64,
    /// Refreshes that failed.
    pub refreshes_failed: u64,
    /// How long the backoff still forbids a refresh attempt (zero when not backing off).
    pub next_attempt_in: Duration,
    /// Whether a refresh attempt is running now.
    pub refreshing: bool,
}

/// The in-memory secret cache shared by the authorizer handler and the extension.
#[derive(Debug)]
pub struct SecretCache {
    loader: Loader,
    snapshot: ArcSwapOption<Snapshot>,
    /// Single-flight and backoff of the refreshes.
    refresher: Arc<Refresher>,
    metrics: Metrics,
}

impl SecretCache {
    /// An empty cache that will load through `loader`.
    pub fn new(loader: Loader) -> Arc<Self> {
        let metrics = Metrics::new(loader.config().metrics_interval, &loader.config().function_name);
        Arc::new(Self {
            loader,
            snapshot: ArcSwapOption::empty(),
            refresher: Refresher::new(),
            metrics,
        })
    }

    /// What this process counted since its last metrics line (the authorizer adds its own deny reasons).
    pub fn metrics(&self) -> &Metrics {
        &self.metrics
    }

    /// A cache that starts out holding `snapshot` (benchmarks, and tests that need no Secrets Manager).
    pub fn with_snapshot(loader: Loader, snapshot: Snapshot) -> Arc<Self> {
        let cache = Self::new(loader);
        cache.snapshot.store(Some(Arc::new(snapshot)));
        cache
    }

    /// The snapshot held now, if any. Lock-free; does not allocate.
    pub fn snapshot(&self) -> arc_swap::Guard<Option<Arc<Snapshot>>> {
        self.snapshot.load()
    }

    /// Counters of Secrets Manager calls and refreshes so far.
    pub fn stats(&self) -> CacheStats {
        let calls: &CallCounts = self.loader.calls();
        let (refreshes_ok, refreshes_failed) = self.refresher.outcomes();
        CacheStats {
            describe_calls: calls.describe(),
            get_value_calls: calls.get_value(),
            refreshes_ok,
            refreshes_failed,
            next_attempt_in: self
                .refresher
                .next_attempt_at()
                .saturating_duration_since(Instant::now()),
            refreshing: self.refresher.is_running(),
        }
    }

    /// Decides on a presented header value, following the rules in the module docs.
    ///
    /// Errors only when nothing is loaded (or the snapshot is past the configured maximum staleness):
    /// the caller then fails the invocation, which API Gateway does not cache.
    pub async fn decide(self: &Arc<Self>, value: &[u8]) -> Result<Decision, Error> {
        let outcome = self.decide_uncounted(value).await;
        self.metrics.count(match &outcome {
            Ok(Decision::Allow(Stage::Current)) => Counter::AllowsCurrent,
            Ok(Decision::Allow(Stage::Pending)) => Counter::AllowsPending,
            Ok(Decision::Allow(Stage::Previous)) => Counter::AllowsPrevious,
            Ok(Decision::Deny(DenyReason::NoMatch)) => Counter::DeniesNoMatch,
            Ok(Decision::Deny(DenyReason::Unmatchable)) => Counter::DeniesEmptyOrOversized,
            Err(_) => Counter::FailedClosed,
        });
        outcome
    }

    #[inline]
    async fn decide_uncounted(self: &Arc<Self>, value: &[u8]) -> Result<Decision, Error> {
        let Some(presented) = Presented::new(value) else {
            return Ok(Decision::Deny(DenyReason::Unmatchable));
        };
        let now = Instant::now();
        {
            let guard = self.snapshot.load();
            if let Some(snap) = guard.as_deref() {
                let age = snap.age(now);
                self.metrics.snapshot_age(age);
                if age >= self.config().refresh_interval {
                    self.start_refresh(now);
                }
                if !self.too_stale(age) {
                    if let Some(stage) = snap.check(&presented, now) {
                        return Ok(Decision::Allow(stage));
                    }
                }
            }
        }
        self.decide_slow(&presented).await
    }

    /// A miss, or nothing loaded: wait for the refresh the rules call for, then check again.
    async fn decide_slow(self: &Arc<Self>, presented: &Presented) -> Result<Decision, Error> {
        let now = Instant::now();
        let seen = self.snapshot.load_full();
        let Some(snap) = seen.as_deref() else {
            return self.decide_after_first_load(presented).await;
        };
        let age = snap.age(now);
        let stale = age >= self.config().refresh_interval;
        // Stale: the refresh is due anyway, so waiting for it costs no extra call, whoever asks.
        // Fresh, yet no match: maybe a value newer than this snapshot (a rotation that did not wait). One
        // extra refresh, but only once the snapshot is older than the miss-refresh interval: any refresh
        // makes it young again, so misses can cause at most one call per interval however many arrive.
        let refreshing = (stale || age >= self.config().miss_refresh_min_interval) && self.start_refresh(now);
        if refreshing {
            self.wait_for_refresh(&seen, now + self.config().miss_wait).await;
            self.metrics.miss_waited(now.elapsed());
        }
        let now = Instant::now();
        let guard = self.snapshot.load();
        let snap = guard.as_deref().unwrap_or(snap);
        let age = snap.age(now);
        if self.too_stale(age) {
            return Err(Error::TooStale {
                age_secs: age.as_secs(),
            });
        }
        match snap.check(presented, now) {
            Some(stage) => Ok(Decision::Allow(stage)),
            // The due refresh did not land within the wait (slow, failing, or the backoff forbids an
            // attempt): this snapshot may lack a value CloudFront already sends. A deny would be cached
            // by API Gateway for the authorizer's TTL; a failed invocation is not, so the next request
            // decides on fresh data.
            None if age >= self.config().refresh_interval => Err(Error::RefreshPending {
                age_secs: age.as_secs(),
            }),
            None => Ok(Decision::Deny(DenyReason::NoMatch)),
        }
    }

    async fn decide_after_first_load(self: &Arc<Self>, presented: &Presented) -> Result<Decision, Error> {
        self.ensure_loaded().await?;
        let guard = self.snapshot.load();
        let snap = guard.as_deref().ok_or(Error::NotLoaded)?;
        Ok(match snap.check(presented, Instant::now()) {
            Some(stage) => Decision::Allow(stage),
            None => Decision::Deny(DenyReason::NoMatch),
        })
    }

    /// Waits (up to `ORIGIN_VERIFY_LOAD_WAIT_MS`) until a snapshot is held. Used at INIT and by the first
    /// invocations of a sandbox; never allows anything by itself.
    pub async fn ensure_loaded(self: &Arc<Self>) -> Result<(), Error> {
        let deadline = Instant::now() + self.config().load_wait;
        let mut rx = self.refresher.subscribe();
        loop {
            if self.snapshot.load().is_some() {
                return Ok(());
            }
            let now = Instant::now();
            if now >= deadline {
                return Err(Error::NotLoaded);
            }
            let wake = if self.start_refresh(now) {
                deadline
            } else {
                // Backing off: sleep until the next attempt may start (or the deadline).
                deadline.min(self.refresher.next_attempt_at())
            };
            let _ = tokio::time::timeout_at(wake.into(), rx.changed()).await;
        }
    }

    /// Called when an invocation arrives (the extension's INVOKE event): starts the refresh if one is due
    /// and waits, bounded, for a running refresh to end, so it completes before the sandbox is frozen.
    pub async fn on_invoke(self: &Arc<Self>) {
        self.on_invoke_until(std::future::ready(())).await
    }

    /// [`SecretCache::on_invoke`] for an invocation whose handler may still start a refresh (a miss):
    /// starts a due refresh at once, then waits for `handled` (the handler has finished this invocation,
    /// at most [`HANDLER_WAIT_MAX`]) and only then for whatever refresh is running (it ends by its own
    /// timeouts; at most [`REFRESH_WAIT_MAX`] more). Lambda freezes the sandbox once the runtime and every extension
    /// ask for their next event, so a refresh the handler started after INVOKE arrived lands before the
    /// freeze instead of being frozen half-way (and failing on a dead connection after an idle hour).
    pub async fn on_invoke_until(self: &Arc<Self>, handled: impl std::future::Future<Output = ()>) {
        let now = Instant::now();
        let due = match self.snapshot.load().as_deref() {
            Some(snap) => snap.age(now) >= self.config().refresh_interval,
            None => true,
        };
        if due {
            self.start_refresh(now);
        }
        let _ = tokio::time::timeout(HANDLER_WAIT_MAX, handled).await;
        self.refresher.wait_idle(Instant::now() + REFRESH_WAIT_MAX).await;
        // Off the request path: the response has gone out, the sandbox is not frozen yet.
        let since_rotation = self
            .loader
            .rotated_at()
            .and_then(|at| std::time::SystemTime::now().duration_since(at).ok());
        self.metrics.flush_if_due(Instant::now(), since_rotation);
    }

    fn config(&self) -> &crate::CacheConfig {
        self.loader.config()
    }

    fn too_stale(&self, age: Duration) -> bool {
        self.config().max_staleness.is_some_and(|max| age > max)
    }

    /// Starts a refresh unless one runs or the backoff forbids it. Returns whether one is running now.
    fn start_refresh(self: &Arc<Self>, now: Instant) -> bool {
        match self.refresher.try_start(now) {
            Start::Started(attempt) => {
                let this = Arc::clone(self);
                tokio::spawn(async move { this.refresh(attempt).await });
                true
            }
            Start::Running => true,
            Start::BackingOff => false,
        }
    }

    /// Waits until the snapshot changes from `seen` or the running refresh ends, at most until `deadline`.
    async fn wait_for_refresh(&self, seen: &Option<Arc<Snapshot>>, deadline: Instant) {
        let mut rx = self.refresher.subscribe();
        let changed = |cache: &Self| {
            let now_held = cache.snapshot.load();
            match (now_held.as_ref(), seen) {
                (Some(a), Some(b)) => !Arc::ptr_eq(a, b),
                (a, b) => a.is_some() != b.is_some(),
            }
        };
        if changed(self) || !self.refresher.is_running() {
            return;
        }
        let _ = tokio::time::timeout_at(deadline.into(), rx.changed()).await;
    }

    /// One refresh attempt; runs in its own task. `attempt` ends it however the task ends.
    async fn refresh(self: Arc<Self>, attempt: Attempt) {
        let held = self.snapshot.load_full();
        let calls_before = self.loader.calls().total();
        let loaded = self.loader.load(held.as_deref()).await;
        self.metrics.add(
            Counter::SecretsManagerCalls,
            self.loader.calls().total() - calls_before,
        );
        match loaded {
            Ok(snap) => {
                self.metrics.count(Counter::Refreshes);
                self.log_loaded(held.as_deref(), &snap);
                self.snapshot.store(Some(Arc::new(snap)));
                attempt.succeeded();
            }
            Err(err) => {
                self.metrics.count(Counter::RefreshFailures);
                let delay = attempt.failed();
                let holding = if held.is_some() {
                    "keeping the last snapshot"
                } else {
                    "nothing loaded yet"
                };
                if err.is_transient() {
                    tracing::warn!(error = %err, retry_in_ms = delay.as_millis() as u64, holding, "secret refresh failed");
                } else {
                    tracing::error!(error = %err, retry_in_ms = delay.as_millis() as u64, holding, "secret refresh failed");
                }
            }
        }
    }

    /// One INFO line per refresh (once per refresh interval at most, never per request): which versions
    /// are held and how many Secrets Manager calls this process has made, so the call rate can be read
    /// off the logs. `changed` tells whether the versions differ from the last snapshot.
    fn log_loaded(&self, old: Option<&Snapshot>, new: &Snapshot) {
        let (current, pending, previous) = new.version_ids();
        let stats = self.stats();
        tracing::info!(
            current,
            pending = pending.unwrap_or("-"),
            previous = previous.unwrap_or("-"),
            changed = old.map(Snapshot::version_ids) != Some((current, pending, previous)),
            sm_calls = stats.describe_calls + stats.get_value_calls,
            pid = std::process::id(),
            "secret refreshed"
        );
    }
}
