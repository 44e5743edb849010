//! Reading the snapshot: arc-swap against RwLock and Mutex baselines, alone and with another thread
//! reading the same structure as fast as it can (the machine has two cores).
use std::hint::black_box;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::thread;

use arc_swap::ArcSwap;
use criterion::{criterion_group, criterion_main, Criterion};
use origin_verify_benches::snapshot;
use origin_verify_extension::Snapshot;

struct Readers {
    swap: Arc<ArcSwap<Snapshot>>,
    rw: Arc<RwLock<Arc<Snapshot>>>,
    mutex: Arc<Mutex<Arc<Snapshot>>>,
}

fn read_swap(r: &Readers) -> usize {
    r.swap.load().current.version_id.len()
}

fn read_rw(r: &Readers) -> usize {
    r.rw.read()
        .unwrap_or_else(|e| e.into_inner())
        .current
        .version_id
        .len()
}

fn read_mutex(r: &Readers) -> usize {
    r.mutex
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .current
        .version_id
        .len()
}

fn group(c: &mut Criterion, name: &str, readers: &Readers) {
    let mut g = c.benchmark_group(name);
    g.bench_function("arc-swap", |b| b.iter(|| black_box(read_swap(readers))));
    g.bench_function("rwlock", |b| b.iter(|| black_box(read_rw(readers))));
    g.bench_function("mutex", |b| b.iter(|| black_box(read_mutex(readers))));
    g.finish();
}

fn cache_read(c: &mut Criterion) {
    let snap = Arc::new(snapshot());
    let readers = Readers {
        swap: Arc::new(ArcSwap::new(Arc::clone(&snap))),
        rw: Arc::new(RwLock::new(Arc::clone(&snap))),
        mutex: Arc::new(Mutex::new(snap)),
    };
    group(c, "cache-read-alone", &readers);

    // Contended: one more thread reads all three structures in a loop while each is measured.
    let stop = Arc::new(AtomicBool::new(false));
    let other = {
        let (swap, rw, mutex, stop) = (
            Arc::clone(&readers.swap),
            Arc::clone(&readers.rw),
            Arc::clone(&readers.mutex),
            Arc::clone(&stop),
        );
        thread::spawn(move || {
            let r = Readers { swap, rw, mutex };
            while !stop.load(Ordering::Relaxed) {
                black_box(read_swap(&r) + read_rw(&r) + read_mutex(&r));
            }
        })
    };
    group(c, "cache-read-contended", &readers);
    stop.store(true, Ordering::Relaxed);
    let _ = other.join();
}

criterion_group!(benches, cache_read);
criterion_main!(benches);
