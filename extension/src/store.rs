//! Any number of secrets, any staging label or version: the cache behind the layer's HTTP front end
//! (`origin-verify-layer`), with the same refresh rules as the authorizer's [`crate::SecretCache`].
//!
//! Per secret it keeps what DescribeSecret last said (ARN, name, which version carries which label) and
//! the versions asked for so far. A version's contents never change in Secrets Manager, so a version
//! once fetched is never fetched again; only the labels move. So:
//! - a refresh is one DescribeSecret, plus one GetSecretValue for each asked-for label that now points at
//!   a version not held (a rotation costs one call per label, not one per request);
//! - a label the secret does not carry (no `AWSPENDING` outside a rotation) is answered as Secrets Manager
//!   would, from the last DescribeSecret: no call per request;
//! - single-flight, backoff and stale-on-error come from [`crate::refresh`]: while Secrets Manager fails,
//!   the last values are served (up to the maximum staleness); a secret never loaded answers an error,
//!   never a made-up value.

use std::collections::{BTreeSet, HashMap};
use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use arc_swap::ArcSwapOption;
use aws_sdk_secretsmanager::Client;
use zeroize::Zeroizing;

use crate::loader::{sm_error, CallCounts};
use crate::refresh::{Attempt, Refresher, Start};
use crate::Error;

/// The label a request names when it names neither a label nor a version.
pub const DEFAULT_STAGE: &str = "AWSCURRENT";

/// Versions held per secret beyond the labelled ones (versions asked for by id): older ones are dropped
/// at the next refresh.
const MAX_UNLABELLED_VERSIONS: usize = 16;

/// Settings of a [`SecretStore`] (the layer reads them from its environment).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoreConfig {
    /// A secret's labels older than this are refreshed before they answer (`SECRETS_MANAGER_TTL`).
    pub refresh_interval: Duration,
    /// Most secrets held; the least recently used one is dropped for a new one
    /// (`PARAMETERS_SECRETS_EXTENSION_CACHE_SIZE`).
    pub max_secrets: usize,
    /// Longest a request waits for a due refresh or a first load before it is answered from what is
    /// held (or, with nothing held, with the last error).
    pub wait: Duration,
    /// A secret is refreshed for `refreshNow=true` at most once per this interval; a request within it
    /// is answered from the last refresh at once (`ORIGIN_VERIFY_REFRESH_NOW_MIN_MS`).
    pub refresh_now_min_interval: Duration,
    /// Labels older than this are not served at all while Secrets Manager cannot be reached (`None`: no
    /// limit).
    pub max_staleness: Option<Duration>,
}

impl Default for StoreConfig {
    fn default() -> Self {
        Self {
            refresh_interval: Duration::from_secs(300),
            max_secrets: 1000,
            wait: Duration::from_millis(4000),
            refresh_now_min_interval: Duration::from_millis(1000),
            max_staleness: Some(crate::DEFAULT_MAX_STALENESS),
        }
    }
}

/// Which version a request wants.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Wanted<'a> {
    /// The version carrying this staging label.
    Stage(&'a str),
    /// This version id.
    Id(&'a str),
}

/// One version of a secret, as GetSecretValue returned it. Its `Debug` never shows the value.
pub struct Version {
    /// The version id.
    pub version_id: String,
    /// `SecretString`, if the version has one.
    pub string: Option<Zeroizing<String>>,
    /// `SecretBinary`, if the version has one.
    pub binary: Option<Zeroizing<Vec<u8>>>,
    /// `CreatedDate`.
    pub created: Option<SystemTime>,
}

impl fmt::Debug for Version {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Version")
            .field("version_id", &self.version_id)
            .field("string", &self.string.as_ref().map(|_| "<redacted>"))
            .field("binary", &self.binary.as_ref().map(|_| "<redacted>"))
            .field("created", &self.created)
            .finish()
    }
}

/// The answer to a request: the version and what the secret's last DescribeSecret said about it.
#[derive(Debug, Clone)]
pub struct Found {
    /// The secret's ARN.
    pub arn: String,
    /// The secret's name.
    pub name: String,
    /// The version.
    pub version: Arc<Version>,
    /// The labels the version carries.
    pub stages: Vec<String>,
}

/// What DescribeSecret said, when.
#[derive(Debug)]
struct View {
    arn: String,
    name: String,
    /// Label → version id.
    stages: HashMap<String, String>,
    /// When the refresh that made it started (before its DescribeSecret was sent).
    started_at: Instant,
    fetched_at: Instant,
}

impl View {
    fn stages_of(&self, version_id: &str) -> Vec<String> {
        let mut stages: Vec<String> = self
            .stages
            .iter()
            .filter(|(_, id)| id.as_str() == version_id)
            .map(|(label, _)| label.clone())
            .collect();
        stages.sort();
        stages
    }
}

/// One secret's cache.
#[derive(Debug)]
struct Entry {
    secret_id: String,
    view: ArcSwapOption<View>,
    refresher: Arc<Refresher>,
    /// Version id → contents; filled before a view naming the version is stored.
    versions: Mutex<HashMap<String, Arc<Version>>>,
    /// Labels asked for so far: each refresh keeps their versions loaded.
    wanted: Mutex<BTreeSet<String>>,
    /// Why the last refresh failed (answered while nothing is held).
    last_error: Mutex<Option<Arc<Error>>>,
    /// One by-id fetch at a time, so concurrent requests for a new version cost one call.
    fetching: tokio::sync::Mutex<()>,
    /// Last request, in milliseconds since the store's origin (for eviction).
    last_used: AtomicU64,
}

/// The layer's cache of many secrets.
#[derive(Debug)]
pub struct SecretStore {
    client: Client,
    config: StoreConfig,
    entries: Mutex<HashMap<String, Arc<Entry>>>,
    calls: CallCounts,
    origin: Instant,
}

impl SecretStore {
    /// An empty store that reads through `client`.
    pub fn new(client: Client, config: StoreConfig) -> Arc<Self> {
        Arc::new(Self {
            client,
            config,
            entries: Mutex::new(HashMap::new()),
            calls: CallCounts::default(),
            origin: Instant::now(),
        })
    }

    /// Its settings.
    pub fn config(&self) -> &StoreConfig {
        &self.config
    }

    /// Secrets Manager calls made so far.
    pub fn calls(&self) -> &CallCounts {
        &self.calls
    }

    /// Secrets held now.
    pub fn len(&self) -> usize {
        self.lock_entries().len()
    }

    /// Whether no secret is held.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The version `wanted` of `secret_id`, following the rules in the module docs. `refresh_now` asks
    /// Secrets Manager first (at most once per [`StoreConfig::refresh_now_min_interval`]).
    pub async fn get(
        self: &Arc<Self>,
        secret_id: &str,
        wanted: Wanted<'_>,
        refresh_now: bool,
    ) -> Result<Found, Error> {
        let entry = self.entry(secret_id);
        if let Wanted::Stage(label) = wanted {
            let mut labels = entry.wanted.lock().unwrap_or_else(|e| e.into_inner());
            if !labels.contains(label) {
                labels.insert(label.to_owned());
            }
        }
        let view = self.current_view(&entry, refresh_now).await?;
        let version_id = match wanted {
            Wanted::Stage(label) => view
                .stages
                .get(label)
                .cloned()
                .ok_or_else(|| Error::StageNotFound {
                    label: label.to_owned(),
                })?,
            Wanted::Id(id) => id.to_owned(),
        };
        let version = match entry.held(&version_id) {
            Some(v) => v,
            None => self.fetch_once(&entry, &version_id).await?,
        };
        Ok(Found {
            arn: view.arn.clone(),
            name: view.name.clone(),
            stages: view.stages_of(&version_id),
            version,
        })
    }

    /// Loads `AWSCURRENT` of each secret (INIT's prefetch), each at most [`StoreConfig::wait`]; returns
    /// the failures by secret id.
    pub async fn prefetch(self: &Arc<Self>, secret_ids: &[String]) -> Vec<(String, Error)> {
        let mut failures = Vec::new();
        let tasks: Vec<_> = secret_ids
            .iter()
            .map(|id| {
                let store = Arc::clone(self);
                let id = id.clone();
                tokio::spawn(async move {
                    let outcome = store.get(&id, Wanted::Stage(DEFAULT_STAGE), false).await;
                    (id, outcome.err())
                })
            })
            .collect();
        for task in tasks {
            if let Ok((id, Some(err))) = task.await {
                failures.push((id, err));
            }
        }
        failures
    }

    /// An invocation has started: starts every due refresh now (so it is done, or nearly, when the
    /// function asks), then waits until none runs, at most until `deadline`, so none is frozen half-way.
    pub async fn on_invoke(self: &Arc<Self>, deadline: Instant) {
        let now = Instant::now();
        let entries: Vec<Arc<Entry>> = self.lock_entries().values().cloned().collect();
        for entry in &entries {
            let due =
                entry.view.load().as_deref().is_none_or(|v| {
                    now.saturating_duration_since(v.fetched_at) >= self.config.refresh_interval
                });
            if due {
                self.start_refresh(entry, now);
            }
        }
        for entry in &entries {
            entry.refresher.wait_idle(deadline).await;
        }
    }

    /// The view to answer from: refreshed first when due, asked for (`refresh_now`), or missing.
    async fn current_view(
        self: &Arc<Self>,
        entry: &Arc<Entry>,
        refresh_now: bool,
    ) -> Result<Arc<View>, Error> {
        let now = Instant::now();
        let held = entry.view.load_full();
        match held.as_deref() {
            Some(_) if refresh_now => self.refresh_since(entry, now).await,
            Some(v) if now.saturating_duration_since(v.fetched_at) < self.config.refresh_interval => {}
            _ => self.refresh_from(entry, held, now + self.config.wait).await,
        }
        let Some(view) = entry.view.load_full() else {
            let last = entry.last_error.lock().unwrap_or_else(|e| e.into_inner()).clone();
            return Err(match last {
                Some(err) => Error::Loading(err),
                None => Error::NotLoaded,
            });
        };
        let age = Instant::now().saturating_duration_since(view.fetched_at);
        if self.config.max_staleness.is_some_and(|max| age > max) {
            return Err(Error::TooStale {
                age_secs: age.as_secs(),
            });
        }
        Ok(view)
    }

    /// Waits (until `deadline`) for a view other than `held`: a refresh that lands, or, with nothing held,
    /// the first load (retried as the backoff allows). With something held, a failed attempt ends the wait:
    /// what is held is served (stale-on-error, up to the maximum staleness).
    async fn refresh_from(self: &Arc<Self>, entry: &Arc<Entry>, held: Option<Arc<View>>, deadline: Instant) {
        let mut rx = entry.refresher.subscribe();
        loop {
            let latest = entry.view.load_full();
            let changed = match (&latest, &held) {
                (Some(a), Some(b)) => !Arc::ptr_eq(a, b),
                (a, b) => a.is_some() != b.is_some(),
            };
            let running = !changed && self.start_refresh(entry, Instant::now());
            if changed || (!running && held.is_some()) || Instant::now() >= deadline {
                return;
            }
            // Nothing held and backing off: sleep until the next attempt may start.
            let wake = if running {
                deadline
            } else {
                deadline.min(entry.refresher.next_attempt_at())
            };
            let _ = tokio::time::timeout_at(wake.into(), rx.changed()).await;
        }
    }

    /// `refreshNow`: asks Secrets Manager first, unless a refresh of this secret started less than
    /// [`StoreConfig::refresh_now_min_interval`] before `arrival`: then the held answer (once that refresh
    /// has landed, if it is still running). Concurrent requests share one refresh. However often it is
    /// asked, a secret is refreshed this way at most once per interval, and no request waits for the
    /// interval to pass: a flood of misses costs neither calls nor time. A failed attempt ends the wait
    /// (what is held is served).
    async fn refresh_since(self: &Arc<Self>, entry: &Arc<Entry>, arrival: Instant) {
        let Some(view) = entry.view.load_full() else {
            return;
        };
        let deadline = arrival + self.config.wait;
        if entry.refresher.is_running() {
            entry.refresher.wait_idle(deadline).await;
            return;
        }
        if arrival < view.started_at + self.config.refresh_now_min_interval {
            return;
        }
        self.refresh_from(entry, Some(view), deadline).await;
    }

    /// Starts a refresh of `entry` unless one runs or it backs off; whether one runs now.
    fn start_refresh(self: &Arc<Self>, entry: &Arc<Entry>, now: Instant) -> bool {
        match entry.refresher.try_start(now) {
            Start::Started(attempt) => {
                let store = Arc::clone(self);
                let entry = Arc::clone(entry);
                tokio::spawn(async move { store.refresh(&entry, attempt).await });
                true
            }
            Start::Running => true,
            Start::BackingOff => false,
        }
    }

    /// One refresh attempt of `entry`: DescribeSecret, then the asked-for labels' new versions.
    async fn refresh(&self, entry: &Entry, attempt: Attempt) {
        match self.load(entry).await {
            Ok(view) => {
                let changed = entry
                    .view
                    .load()
                    .as_deref()
                    .is_none_or(|old| old.stages != view.stages);
                if changed {
                    tracing::info!(
                        secret_id = entry.secret_id,
                        labels = view.stages.len(),
                        "secret labels loaded"
                    );
                }
                entry.view.store(Some(Arc::new(view)));
                *entry.last_error.lock().unwrap_or_else(|e| e.into_inner()) = None;
                attempt.succeeded();
            }
            Err(err) => {
                let delay = attempt.failed();
                tracing::warn!(secret_id = entry.secret_id, error = %err, retry_in_ms = delay.as_millis() as u64, "secret refresh failed");
                *entry.last_error.lock().unwrap_or_else(|e| e.into_inner()) = Some(Arc::new(err));
            }
        }
    }

    async fn load(&self, entry: &Entry) -> Result<View, Error> {
        let started_at = Instant::now();
        self.calls.count_describe();
        let out = self
            .client
            .describe_secret()
            .secret_id(&entry.secret_id)
            .send()
            .await
            .map_err(|e| sm_error("DescribeSecret", &entry.secret_id, e))?;
        let mut stages = HashMap::new();
        for (id, labels) in out.version_ids_to_stages.unwrap_or_default() {
            for label in labels {
                stages.insert(label, id.clone());
            }
        }
        let wanted: Vec<String> = entry
            .wanted
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
            .cloned()
            .collect();
        for label in wanted {
            let Some(id) = stages.get(&label) else {
                continue;
            };
            if entry.held(id).is_some() {
                continue;
            }
            match self.fetch(&entry.secret_id, id).await {
                Ok(version) => {
                    entry.insert(version);
                }
                // A transient failure fails the refresh (the held labels stay, and are retried); any other
                // is answered to whoever asks for that version, by a direct fetch.
                Err(err) if err.is_transient() => return Err(err),
                Err(err) => {
                    tracing::warn!(secret_id = entry.secret_id, label, error = %err, "version cannot be read")
                }
            }
        }
        entry.prune(&stages);
        Ok(View {
            arn: out.arn.unwrap_or_default(),
            name: out.name.unwrap_or_default(),
            stages,
            started_at,
            fetched_at: Instant::now(),
        })
    }

    /// A version not held: fetched once by id, however many requests want it at the same time.
    async fn fetch_once(&self, entry: &Entry, version_id: &str) -> Result<Arc<Version>, Error> {
        let _one = entry.fetching.lock().await;
        if let Some(v) = entry.held(version_id) {
            return Ok(v);
        }
        let version = self.fetch(&entry.secret_id, version_id).await?;
        Ok(entry.insert(version))
    }

    async fn fetch(&self, secret_id: &str, version_id: &str) -> Result<Version, Error> {
        self.calls.count_get_value();
        let out = self
            .client
            .get_secret_value()
            .secret_id(secret_id)
            .version_id(version_id)
            .send()
            .await
            .map_err(|e| sm_error("GetSecretValue", secret_id, e))?;
        Ok(Version {
            version_id: out.version_id.unwrap_or_else(|| version_id.to_owned()),
            string: out.secret_string.map(Zeroizing::new),
            binary: out.secret_binary.map(|b| Zeroizing::new(b.into_inner())),
            created: out.created_date.and_then(|d| SystemTime::try_from(d).ok()),
        })
    }

    /// The entry of `secret_id`, made (and the least recently used one dropped, when full) if new.
    fn entry(&self, secret_id: &str) -> Arc<Entry> {
        let now_ms = self.origin.elapsed().as_millis() as u64;
        let mut entries = self.lock_entries();
        if let Some(entry) = entries.get(secret_id) {
            entry.last_used.store(now_ms, Ordering::Relaxed);
            return Arc::clone(entry);
        }
        if entries.len() >= self.config.max_secrets.max(1) {
            let oldest = entries
                .iter()
                .min_by_key(|(_, e)| e.last_used.load(Ordering::Relaxed))
                .map(|(id, _)| id.clone());
            if let Some(id) = oldest {
                entries.remove(&id);
            }
        }
        let entry = Arc::new(Entry {
            secret_id: secret_id.to_owned(),
            view: ArcSwapOption::empty(),
            refresher: Refresher::new(),
            versions: Mutex::new(HashMap::new()),
            wanted: Mutex::new(BTreeSet::new()),
            last_error: Mutex::new(None),
            fetching: tokio::sync::Mutex::new(()),
            last_used: AtomicU64::new(now_ms),
        });
        entries.insert(secret_id.to_owned(), Arc::clone(&entry));
        entry
    }

    fn lock_entries(&self) -> std::sync::MutexGuard<'_, HashMap<String, Arc<Entry>>> {
        self.entries.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl Entry {
    fn held(&self, version_id: &str) -> Option<Arc<Version>> {
        self.versions
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(version_id)
            .cloned()
    }

    fn insert(&self, version: Version) -> Arc<Version> {
        let version = Arc::new(version);
        self.versions
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(version.version_id.clone(), Arc::clone(&version));
        version
    }

    /// Keeps the labelled versions, and the others only while there are few.
    fn prune(&self, stages: &HashMap<String, String>) {
        let mut versions = self.versions.lock().unwrap_or_else(|e| e.into_inner());
        let unlabelled = versions
            .keys()
            .filter(|id| !stages.values().any(|v| v == *id))
            .count();
        if unlabelled > MAX_UNLABELLED_VERSIONS {
            versions.retain(|id, _| stages.values().any(|v| v == id));
        }
    }
}
