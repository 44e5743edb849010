//! The decision: snapshot load + constant-time check against every held value, for a match on each
//! stage, a near miss (same length, last byte differs) and a far miss. `decide` adds what the cache's hot
//! path adds (the clock, the freshness check, the async wrapper, the metrics counters); `decide-uncounted`
//! is the same with metrics turned off, so the two side by side are what counting costs.
use std::hint::black_box;
use std::time::Instant;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion};
use origin_verify_benches::{cache, cache_with_metrics, CURRENT, FAR_MISS, NEAR_MISS, PENDING, PREVIOUS};
use origin_verify_extension::Presented;
use origin_verify_testkit::poll_ready;

const CASES: [(&str, &str); 5] = [
    ("match-current", CURRENT),
    ("match-pending", PENDING),
    ("match-previous", PREVIOUS),
    ("near-miss", NEAR_MISS),
    ("far-miss", FAR_MISS),
];

fn decision(c: &mut Criterion) {
    let cache = cache();
    let now = Instant::now();
    let mut g = c.benchmark_group("decision");
    for (name, value) in CASES {
        g.bench_with_input(BenchmarkId::new("load+check", name), value.as_bytes(), |b, v| {
            b.iter(|| {
                let snapshot = cache.snapshot();
                let presented = Presented::new(black_box(v));
                presented.and_then(|p| snapshot.as_deref().and_then(|s| s.check(&p, now)))
            })
        });
    }
    for (name, value) in CASES {
        g.bench_with_input(BenchmarkId::new("decide", name), value.as_bytes(), |b, v| {
            b.iter(|| poll_ready(cache.decide(black_box(v))))
        });
    }
    let uncounted = cache_with_metrics(false);
    for (name, value) in CASES {
        g.bench_with_input(
            BenchmarkId::new("decide-uncounted", name),
            value.as_bytes(),
            |b, v| b.iter(|| poll_ready(uncounted.decide(black_box(v)))),
        );
    }
    g.finish();
}

criterion_group!(benches, decision);
criterion_main!(benches);
