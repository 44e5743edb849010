//! Instruction counts of the full handler (raw event bytes → response bytes), ours or the baseline, for one
//! documented event: the calls `handler-system-alloc/*` times (`bench_handler`), counted by callgrind
//! instead, which gives the same count on a busy or an idle machine (criterion's ratios on a shared 2-core
//! machine do not).
//!
//! `valgrind --tool=callgrind --callgrind-out-file=/dev/null target/release/examples/handler_instructions
//! <ours|baseline> <http-v2|http-v1|rest-request|rest-token> <calls>`: the difference between two call
//! counts, divided, is the cost per call (scripts/bench-guard does this; BENCHMARKS.md, "The guard").
//! System allocator, as `handler-system-alloc`.
use std::hint::black_box;

use origin_verify_benches::{allowed, authorizer, baseline, event, handle_bytes, CURRENT, PENDING};
use origin_verify_testkit::EVENT_KINDS;

const USAGE: &str =
    "usage: handler_instructions <ours|baseline> <http-v2|http-v1|rest-request|rest-token> <calls>";

fn main() {
    let mut args = std::env::args().skip(1);
    // Only ours needs the authorizer (its SDK client costs ~20 million instructions to set up, which the
    // difference of two runs cancels anyway, but each valgrind run takes ~0.35 s longer with it).
    let ours = match args.next().as_deref() {
        Some("ours") => Some(authorizer()),
        Some("baseline") => None,
        _ => panic!("{USAGE}"),
    };
    let name = args.next().expect(USAGE);
    let kind = EVENT_KINDS
        .into_iter()
        .find(|kind| kind.name() == name)
        .expect(USAGE);
    let calls: usize = args.next().and_then(|n| n.parse().ok()).expect(USAGE);
    let bytes = event(kind);
    // The same calls as the criterion bench, and the same check that both sides allow the event.
    let call = |bytes: &[u8]| match &ours {
        Some(authorizer) => handle_bytes(authorizer, bytes),
        None => baseline::handle(kind, bytes, CURRENT, PENDING),
    };
    assert!(allowed(&call(&bytes)), "{name}: the event is allowed");
    for _ in 0..calls {
        black_box(call(black_box(&bytes)));
    }
}
