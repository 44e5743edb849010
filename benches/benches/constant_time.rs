//! A DudeCT-style statistical timing test of the decision (`Snapshot::check` with the presented value's
//! padding), with the `dudect-bencher` crate: for each pair of input classes, Welch's t-test over cropped
//! timing distributions; |t| above ~5 suggests that timing depends on the class.
//!
//! What it can show: a timing difference between the two classes large enough to stand out of this
//! machine's noise with this many samples. What it cannot: that no other input distinguishes them, or that
//! another CPU, compiler or build behaves the same; on a shared VM, noise can also push |t| up on its own.
//! Run: `cargo bench -p origin-verify-benches --bench constant_time` (one pass);
//! `-- --continuous <name>` keeps sampling.
use std::time::Instant;

use dudect_bencher::{ctbench_main, BenchRng, Class, CtRunner};
use origin_verify_benches::{snapshot_with, CURRENT, NEAR_MISS};
use origin_verify_extension::{Presented, Snapshot};
use rand::RngExt;

const SAMPLES: usize = 200_000;

fn random_value(rng: &mut BenchRng, len: usize) -> Vec<u8> {
    (0..len).map(|_| b'A' + (rng.random::<u8>() % 26)).collect()
}

/// Makes one input of a class.
type Input<'a> = &'a dyn Fn(&mut BenchRng) -> Vec<u8>;

/// Runs `check` over a random interleaving of the two classes' inputs.
fn run(runner: &mut CtRunner, rng: &mut BenchRng, snapshots: [&Snapshot; 2], inputs: [Input<'_>; 2]) {
    let now = Instant::now();
    let mut cases = Vec::with_capacity(SAMPLES);
    for _ in 0..SAMPLES {
        let right = rng.random::<bool>();
        let i = usize::from(right);
        cases.push((if right { Class::Right } else { Class::Left }, i, inputs[i](rng)));
    }
    for (class, i, value) in cases {
        let snapshot = snapshots[i];
        runner.run_one(class, || {
            Presented::new(&value).and_then(|p| snapshot.check(&p, now))
        });
    }
}

/// The right value against a near miss (same length, last byte differs).
fn right_vs_near_miss(runner: &mut CtRunner, rng: &mut BenchRng) {
    let s = snapshot_with(CURRENT);
    run(
        runner,
        rng,
        [&s, &s],
        [&|_| CURRENT.as_bytes().to_vec(), &|_| {
            NEAR_MISS.as_bytes().to_vec()
        }],
    );
}

/// A near miss against a far miss of the same length (first byte differs, then random).
fn near_miss_vs_far_miss(runner: &mut CtRunner, rng: &mut BenchRng) {
    let s = snapshot_with(CURRENT);
    run(
        runner,
        rng,
        [&s, &s],
        [&|_| NEAR_MISS.as_bytes().to_vec(), &|r| {
            random_value(r, CURRENT.len())
        }],
    );
}

/// The same presented value against held values of different lengths (32 and 16 bytes): the held
/// length must not show. The snapshots of both kinds share one array, interleaved, and are picked at
/// random, so that where a snapshot sits in memory does not line up with its class.
fn held_length_32_vs_16(runner: &mut CtRunner, rng: &mut BenchRng) {
    const PAIRS: usize = 64;
    let snapshots: Vec<Snapshot> = (0..2 * PAIRS)
        .map(|i| {
            if i % 2 == 0 {
                snapshot_with(CURRENT)
            } else {
                snapshot_with(&CURRENT[..16])
            }
        })
        .collect();
    let now = Instant::now();
    let presented = NEAR_MISS.as_bytes();
    let mut cases = Vec::with_capacity(SAMPLES);
    for _ in 0..SAMPLES {
        let right = rng.random::<bool>();
        let i = 2 * (usize::from(rng.random::<u8>()) % PAIRS) + usize::from(right);
        cases.push((if right { Class::Right } else { Class::Left }, &snapshots[i]));
    }
    for (class, snapshot) in cases {
        runner.run_one(class, || {
            Presented::new(presented).and_then(|p| snapshot.check(&p, now))
        });
    }
}

ctbench_main!(right_vs_near_miss, near_miss_vs_far_miss, held_length_32_vs_16);
