//! Shared fixtures and bench bodies for the criterion suite (`cargo bench -p origin-verify-benches`).
//!
//! Every timing is compared with a baseline measured in the same run: these machines are noisy, so the
//! claims are ratios (see BENCHMARKS.md and `scripts/bench-guard`).
#![warn(missing_docs, clippy::all, rust_2018_idioms)]

pub mod baseline;

use std::hint::black_box;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use criterion::{BenchmarkId, Criterion, Throughput};
use origin_verify_authorizer::{Authorizer, Config};
use origin_verify_extension::{CacheConfig, HeldVersion, Loader, PreviousVersion, SecretCache, Snapshot};
use origin_verify_shared::{table, Env};
use origin_verify_testkit::{event_with_header, poll_ready, sm_client, EventKind, EVENT_KINDS};

/// The header.
pub const HEADER: &str = "x-origin-verify";
/// AWSCURRENT in the fixtures (32 alphanumerics, as generated).
pub const CURRENT: &str = "CurrentValue0123456789abcdefABCD";
/// AWSPENDING.
pub const PENDING: &str = "PendingValue0123456789abcdefABCD";
/// AWSPREVIOUS (inside its window).
pub const PREVIOUS: &str = "PreviousValu0123456789abcdefABCD";
/// Same length as CURRENT, last byte differs.
pub const NEAR_MISS: &str = "CurrentValue0123456789abcdefABCE";
/// Nothing like it.
pub const FAR_MISS: &str = "x";

/// A snapshot holding all three stages, fresh.
pub fn snapshot() -> Snapshot {
    snapshot_with(CURRENT)
}

/// [`snapshot`] with another AWSCURRENT value (the timing test varies the held length).
pub fn snapshot_with(current: &str) -> Snapshot {
    let now = Instant::now();
    Snapshot {
        current: HeldVersion::new("v2", current),
        pending: Some(HeldVersion::new("v3", PENDING)),
        previous: Some(PreviousVersion {
            held: HeldVersion::new("v1", PREVIOUS),
            since: SystemTime::now(),
            accept_until: now + Duration::from_secs(3600),
        }),
        fetched_at: now,
    }
}

/// A cache preloaded with [`snapshot`] that never refreshes during a benchmark (metrics counted, as in
/// production).
pub fn cache() -> Arc<SecretCache> {
    cache_with_metrics(true)
}

/// [`cache`] with metrics counted or not (`ORIGIN_VERIFY_METRICS_SECONDS=0`): what counting costs.
pub fn cache_with_metrics(counted: bool) -> Arc<SecretCache> {
    let mut config = CacheConfig::new("bench");
    config.refresh_interval = Duration::from_secs(24 * 3600);
    config.miss_refresh_min_interval = Duration::from_secs(24 * 3600);
    if !counted {
        config.metrics_interval = None;
    }
    SecretCache::with_snapshot(Loader::new(sm_client("http://127.0.0.1:9"), config), snapshot())
}

/// The authorizer over [`cache`].
pub fn authorizer() -> Authorizer {
    let config = Config::from_env(&Env(&table(&[("ORIGIN_VERIFY_SECRET_ID", "bench")]))).expect("config");
    Authorizer::new(config, cache())
}

/// The documented event of `kind` carrying CURRENT.
pub fn event(kind: EventKind) -> Vec<u8> {
    event_with_header(kind, HEADER, Some(CURRENT)).into_bytes()
}

/// What the `authorizer` binary does with one invocation: the handler on the bytes Lambda delivered
/// (`raw_event`: the runtime deserialises only a `null` placeholder), and the serialisation of the answer.
pub fn handle_bytes(authorizer: &Authorizer, bytes: &[u8]) -> Vec<u8> {
    let response = poll_ready(authorizer.handle_bytes(bytes)).expect("an answer");
    serde_json::to_vec(&response).expect("serialisable")
}

/// Whether response bytes say allow, in either shape.
pub fn allowed(response: &[u8]) -> bool {
    let v: serde_json::Value = serde_json::from_slice(response).unwrap_or_default();
    v["isAuthorized"] == true || v["policyDocument"]["Statement"][0]["Effect"] == "Allow"
}

/// The full-handler group: ours against the straightforward baseline, per documented event.
pub fn bench_handler(c: &mut Criterion, group: &str) {
    let authorizer = authorizer();
    let mut g = c.benchmark_group(group);
    g.throughput(Throughput::Elements(1));
    for kind in EVENT_KINDS {
        let bytes = event(kind);
        assert!(
            allowed(&handle_bytes(&authorizer, &bytes)),
            "ours allows {kind:?}"
        );
        assert!(
            allowed(&baseline::handle(kind, &bytes, CURRENT, PENDING)),
            "the baseline allows {kind:?}"
        );
        g.bench_with_input(BenchmarkId::new("ours", kind.name()), &bytes, |b, bytes| {
            b.iter(|| handle_bytes(&authorizer, black_box(bytes)))
        });
        g.bench_with_input(BenchmarkId::new("baseline", kind.name()), &bytes, |b, bytes| {
            b.iter(|| baseline::handle(kind, black_box(bytes), CURRENT, PENDING))
        });
    }
    g.finish();
}
