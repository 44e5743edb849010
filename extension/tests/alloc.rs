//! The decision path allocates nothing: counted by a global allocator wrapper in this test binary.

use std::alloc::{GlobalAlloc, Layout, System};
use std::future::Future;
use std::pin::pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::task::{Context, Poll, Waker};
use std::time::{Instant, SystemTime};

use origin_verify_extension::{
    CacheConfig, Decision, HeldVersion, Loader, Presented, SecretCache, SecretValue, Snapshot, Stage,
};
use origin_verify_testkit::sm_client;

struct Counting;

static ALLOCATIONS: AtomicUsize = AtomicUsize::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

fn allocations_during(f: impl FnOnce()) -> usize {
    let before = ALLOCATIONS.load(Ordering::SeqCst);
    f();
    ALLOCATIONS.load(Ordering::SeqCst) - before
}

fn held(id: &str, value: &str) -> HeldVersion {
    HeldVersion {
        version_id: id.into(),
        value: SecretValue::new(value),
        created: None,
        seen_at: SystemTime::now(),
    }
}

fn snapshot() -> Snapshot {
    Snapshot {
        current: held("v2", "current-0123456789abcdef0123456789"),
        pending: Some(held("v3", "pending-0123456789abcdef0123456789")),
        previous: None,
        fetched_at: Instant::now(),
    }
}

/// Polls a future that must complete without waiting (the match path) exactly once.
fn poll_once<F: Future>(fut: F) -> F::Output {
    let mut fut = pin!(fut);
    match fut.as_mut().poll(&mut Context::from_waker(Waker::noop())) {
        Poll::Ready(out) => out,
        Poll::Pending => panic!("the decision waited"),
    }
}

// One test function: the counter is process-wide, so nothing may run beside it.
#[test]
fn the_decision_allocates_nothing() {
    let snap = snapshot();
    let now = Instant::now();
    let presented_current = b"current-0123456789abcdef0123456789";
    let near_miss = b"current-0123456789abcdef012345678X";

    let n = allocations_during(|| {
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
        poll_once(cache.decide(presented_current)).unwrap(),
        Decision::Allow(Stage::Current)
    );
    let n = allocations_during(|| {
        for _ in 0..1000 {
            let d = poll_once(cache.decide(presented_current)).unwrap();
            assert_eq!(d, Decision::Allow(Stage::Current));
            let d = poll_once(cache.decide(b"pending-0123456789abcdef0123456789")).unwrap();
            assert_eq!(d, Decision::Allow(Stage::Pending));
        }
    });
    assert_eq!(n, 0, "SecretCache::decide allocated on the match path");
}
