//! Where the full handler's time goes, for the payload 2.0 event: each stage alone, beside what the runtime
//! would cost if it parsed the event for us (`Box<RawValue>`, what the binary did before `raw_event`) and
//! serde_json's own floor for walking the event (`IgnoredAny`), and the reference reader the fast one is
//! held to. Reported in BENCHMARKS.md, not guarded.
use std::hint::black_box;

use criterion::{criterion_group, criterion_main, Criterion};
use origin_verify_authorizer::event::Event;
use origin_verify_benches::{authorizer, event, handle_bytes, HEADER};
use origin_verify_testkit::{poll_ready, EventKind};
use serde_json::value::RawValue;

fn breakdown(c: &mut Criterion) {
    let authorizer = authorizer();
    let bytes = event(EventKind::HttpV2);
    let text = std::str::from_utf8(&bytes).expect("UTF-8").to_owned();
    let response = poll_ready(authorizer.handle(&text)).expect("an answer");
    let mut g = c.benchmark_group("handler-breakdown");
    g.bench_function("runtime-raw-value-copy", |b| {
        b.iter(|| serde_json::from_slice::<Box<RawValue>>(black_box(&bytes)).expect("JSON"))
    });
    g.bench_function("serde-json-skip-whole-event", |b| {
        b.iter(|| serde_json::from_slice::<serde::de::IgnoredAny>(black_box(&bytes)).expect("JSON"))
    });
    g.bench_function("utf8-check", |b| {
        b.iter(|| std::str::from_utf8(black_box(&bytes)).map(str::len))
    });
    g.bench_function("parse", |b| {
        b.iter(|| Event::parse(black_box(&text), HEADER).map(|e| e.kind))
    });
    g.bench_function("parse-reference-reader", |b| {
        b.iter(|| Event::parse_reference(black_box(&text), HEADER).map(|e| e.kind))
    });
    g.bench_function("parse+decide", |b| {
        b.iter(|| poll_ready(authorizer.handle(black_box(&text))))
    });
    g.bench_function("serialize-response", |b| {
        b.iter(|| serde_json::to_vec(black_box(&response)))
    });
    g.bench_function("full", |b| {
        b.iter(|| handle_bytes(&authorizer, black_box(&bytes)))
    });
    // The TOKEN event is 134 bytes: what is left is the answer, an IAM policy.
    let token = event(EventKind::RestToken);
    let policy = poll_ready(authorizer.handle_bytes(&token)).expect("an answer");
    g.bench_function("token-parse", |b| {
        b.iter(|| Event::parse(black_box(&token), HEADER).map(|e| e.kind))
    });
    g.bench_function("token-serialize-policy", |b| {
        b.iter(|| serde_json::to_vec(black_box(&policy)))
    });
    g.bench_function("token-full", |b| {
        b.iter(|| handle_bytes(&authorizer, black_box(&token)))
    });
    g.finish();
}

criterion_group!(benches, breakdown);
criterion_main!(benches);
