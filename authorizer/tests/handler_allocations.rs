//! Allocations of one full handler call (raw event → response value), counted per payload kind.
//! The numbers are part of the public claims in README ("Performance").

mod common;

use std::alloc::{GlobalAlloc, Layout, System};
use std::future::Future;
use std::pin::pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::task::{Context, Poll, Waker};
use std::time::{Instant, SystemTime};

use common::*;
use origin_verify_authorizer::{Authorizer, Config};
use origin_verify_extension::{CacheConfig, HeldVersion, Loader, SecretCache, SecretValue, Snapshot};
use origin_verify_shared::{table, Env};
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

fn poll_once<F: Future>(fut: F) -> F::Output {
    let mut fut = pin!(fut);
    match fut.as_mut().poll(&mut Context::from_waker(Waker::noop())) {
        Poll::Ready(out) => out,
        Poll::Pending => panic!("the handler waited"),
    }
}

fn held(id: &str, value: &str) -> HeldVersion {
    HeldVersion {
        version_id: id.into(),
        value: SecretValue::new(value),
        created: None,
        seen_at: SystemTime::now(),
    }
}

#[test]
fn allocations_per_handler_call() {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let _guard = runtime.enter();
    let snapshot = Snapshot {
        current: held("v2", CURRENT),
        pending: Some(held("v3", PENDING)),
        previous: None,
        fetched_at: Instant::now(),
    };
    let cache = SecretCache::with_snapshot(
        Loader::new(sm_client("http://127.0.0.1:9"), CacheConfig::new("unused")),
        snapshot,
    );
    let config = Config::from_env(&Env(&table(&[("ORIGIN_VERIFY_SECRET_ID", "unused")]))).unwrap();
    let authorizer = Authorizer::new(config, cache);

    // (kind, allocations expected for an allowed request)
    // Strings are borrowed from the event. What remains: serde_json's scratch buffer, which it grows when
    // skipping objects nested two deep (every real event but TOKEN has them), and the resource ARN an IAM
    // policy owns.
    let expected = [
        (Kind::HttpV2, 1),
        (Kind::HttpV1, 2),
        (Kind::RestRequest, 2),
        (Kind::RestToken, 1),
    ];
    for (kind, want) in expected {
        let raw = event(kind, Some(CURRENT));
        poll_once(authorizer.handle(&raw)).unwrap(); // warm-up (arc-swap's per-thread slots)
        let before = ALLOCATIONS.load(Ordering::SeqCst);
        for _ in 0..100 {
            let response = poll_once(authorizer.handle(&raw)).unwrap();
            std::hint::black_box(&response);
        }
        let per_call = (ALLOCATIONS.load(Ordering::SeqCst) - before) / 100;
        assert_eq!(per_call, want, "{kind:?}: allocations per call");
    }
}
