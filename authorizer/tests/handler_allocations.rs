//! Allocations of one full handler call (raw event → response value), counted per payload kind.
//! The numbers are part of the public claims in README ("Performance").

mod common;

use std::time::Instant;

use common::*;
use origin_verify_extension::{HeldVersion, Snapshot};
use origin_verify_testkit::{allocations_during, poll_ready, CountingAllocator};

#[global_allocator]
static GLOBAL: CountingAllocator = CountingAllocator;

#[test]
fn allocations_per_handler_call() {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let _guard = runtime.enter();
    let snapshot = Snapshot {
        current: HeldVersion::new("v2", CURRENT),
        pending: Some(HeldVersion::new("v3", PENDING)),
        previous: None,
        fetched_at: Instant::now(),
    };
    let authorizer = authorizer_holding(snapshot);

    // (kind, allocations expected for an allowed request)
    // Strings are borrowed from the event and the fast reader skips nested objects without a heap stack.
    // What remains: the resource ARN an IAM policy owns (payload 2.0 answers with a simple response).
    let expected = [
        (Kind::HttpV2, 0),
        (Kind::HttpV1, 1),
        (Kind::RestRequest, 1),
        (Kind::RestToken, 1),
    ];
    for (kind, want) in expected {
        let raw = event(kind, Some(CURRENT));
        poll_ready(authorizer.handle(&raw)).unwrap(); // warm-up (arc-swap's per-thread slots)
        let ((), n) = allocations_during(|| {
            for _ in 0..100 {
                let response = poll_ready(authorizer.handle(&raw)).unwrap();
                std::hint::black_box(&response);
            }
        });
        let per_call = n / 100;
        assert_eq!(per_call, want, "{kind:?}: allocations per call");
    }
}
