//! The full-handler group again, with mimalloc as the global allocator (as the binaries use it).
use criterion::{criterion_group, criterion_main, Criterion};

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn handler(c: &mut Criterion) {
    origin_verify_benches::bench_handler(c, "handler-mimalloc");
}

criterion_group!(benches, handler);
criterion_main!(benches);
