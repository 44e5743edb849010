//! Full handler, raw event bytes → response bytes, ours against the straightforward baseline, with the
//! system allocator. `handler_mimalloc` runs the same with mimalloc.
use criterion::{criterion_group, criterion_main, Criterion};

fn handler(c: &mut Criterion) {
    origin_verify_benches::bench_handler(c, "handler-system-alloc");
}

criterion_group!(benches, handler);
criterion_main!(benches);
