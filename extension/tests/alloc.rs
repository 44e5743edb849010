//! The decision path allocates nothing: counted by a global allocator wrapper in this test binary.

use std::time::Instant;

use origin_verify_extension::{
    CacheConfig, Decision, HeldVersion, Loader, Presented, SecretCache, Snapshot, Stage,
};
use origin_verify_testkit::{allocations_during, poll_ready, sm_client, CountingAllocator};

#[global_allocator]
static GLOBAL: CountingAllocator = CountingAllocator;

fn snapshot() -> Snapshot {
    Snapshot {
        current: HeldVersion::new("v2", "current-0123456789abcdef0123456789"),
        pending: Some(HeldVersion::new("v3", "pending-0123456789abcdef0123456789")),
        previous: None,
        fetched_at: Instant::now(),
    }
}

// One test function: the counter is process-wide, so nothing may run beside it.
#[test]
fn the_decision_allocates_nothing() {
    let snap = snapshot();
    let now = Instant::now();
    let presented_current = b"current-0123456789abcdef0123456789";
    let near_miss = b"current-0123456789abcdef012345678X";

    let ((), n) = allocations_during(|| {
        for _ in 0..1000 {
            let p = Presented::new(presented_current).unwrap();
            assert_eq!(snap.check(&p, now), Some(Stage::Current));
            let p = Presented::new(near_miss).unwrap();
            assert_eq!(snap.check(&p, now), None);
        }
    });
    assert_eq!(n, 0, "Presented::new + Snapshot::check allocated");

    // The cache's hot path: snapshot load from arc-swap, freshness check, constant-time check.
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let _guard = runtime.enter();
    let loader = Loader::new(sm_client("http://127.0.0.1:9"), CacheConfig::new("unused"));
    let cache = SecretCache::with_snapshot(loader, snapshot());
    // Warm-up: arc-swap registers this thread's debt slots on first use.
    assert_eq!(
        poll_ready(cache.decide(presented_current)).unwrap(),
        Decision::Allow(Stage::Current)
    );
    let ((), n) = allocations_during(|| {
        for _ in 0..1000 {
            let d = poll_ready(cache.decide(presented_current)).unwrap();
            assert_eq!(d, Decision::Allow(Stage::Current));
            let d = poll_ready(cache.decide(b"pending-0123456789abcdef0123456789")).unwrap();
            assert_eq!(d, Decision::Allow(Stage::Pending));
        }
    });
    assert_eq!(n, 0, "SecretCache::decide allocated on the match path");
}
