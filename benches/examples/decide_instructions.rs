//! Instruction counts of the cache's decision, with and without the metrics counters: a measurement that
//! does not depend on how busy the machine is (criterion's timings on a shared 2-core machine do).
//!
//! `valgrind --tool=callgrind --callgrind-out-file=/dev/null target/release/examples/decide_instructions
//! <counted|uncounted> <calls>`: the difference between two call counts, divided, is the cost per call
//! (scripts in BENCHMARKS.md, "Metrics").
use std::hint::black_box;

use origin_verify_benches::{cache_with_metrics, CURRENT, NEAR_MISS};
use origin_verify_testkit::poll_ready;

fn main() {
    let mut args = std::env::args().skip(1);
    let counted = match args.next().as_deref() {
        Some("counted") => true,
        Some("uncounted") => false,
        _ => panic!("usage: decide_instructions <counted|uncounted> <calls>"),
    };
    let calls: usize = args
        .next()
        .and_then(|n| n.parse().ok())
        .expect("a number of calls");
    let cache = cache_with_metrics(counted);
    for i in 0..calls {
        let value = if i % 2 == 0 { CURRENT } else { NEAR_MISS };
        black_box(poll_ready(cache.decide(black_box(value.as_bytes()))).ok());
    }
}
