//! Allocations per call for the benchmarked operations, counted by a wrapper around the system allocator.
//! Prints a table (not a criterion group): `cargo bench -p origin-verify-benches --bench allocations`.
use std::hint::black_box;
use std::time::Instant;

use origin_verify_benches::{authorizer, baseline, cache, event, handle_bytes, CURRENT, NEAR_MISS, PENDING};
use origin_verify_extension::Presented;
use origin_verify_testkit::{allocations_during, poll_ready, CountingAllocator, EVENT_KINDS};

#[global_allocator]
static GLOBAL: CountingAllocator = CountingAllocator;

const CALLS: usize = 1000;

fn per_call(f: impl Fn()) -> f64 {
    f(); // warm-up: arc-swap's per-thread slots, lazy statics
    let ((), n) = allocations_during(|| (0..CALLS).for_each(|_| f()));
    n as f64 / CALLS as f64
}

fn main() {
    let cache = cache();
    let authorizer = authorizer();
    let now = Instant::now();
    println!("{:<44} {:>12}", "operation", "allocs/call");
    let row = |name: &str, n: f64| println!("{name:<44} {n:>12.2}");
    for (name, value) in [
        ("decision load+check, match", CURRENT),
        ("decision load+check, near miss", NEAR_MISS),
    ] {
        row(
            name,
            per_call(|| {
                let s = cache.snapshot();
                black_box(
                    Presented::new(value.as_bytes())
                        .and_then(|p| s.as_deref().and_then(|s| s.check(&p, now))),
                );
            }),
        );
    }
    row(
        "decide, match",
        per_call(|| drop(black_box(poll_ready(cache.decide(CURRENT.as_bytes()))))),
    );
    for kind in EVENT_KINDS {
        let bytes = event(kind);
        let raw = String::from_utf8(bytes.clone()).expect("utf-8");
        row(
            &format!("handler {} (event in, response value out)", kind.name()),
            per_call(|| drop(black_box(poll_ready(authorizer.handle(&raw))))),
        );
        row(
            &format!("full handler {} (bytes in, bytes out)", kind.name()),
            per_call(|| drop(black_box(handle_bytes(&authorizer, &bytes)))),
        );
        row(
            &format!("baseline {} (bytes in, bytes out)", kind.name()),
            per_call(|| drop(black_box(baseline::handle(kind, &bytes, CURRENT, PENDING)))),
        );
    }
}
