//! The original sample's per-request work — two GetSecretValue calls (AWSCURRENT, AWSPENDING) and `==` —
//! against moto on loopback, beside the cached path. Needs moto: `scripts/test` or
//! `ORIGIN_VERIFY_TEST_MOTO_URL=http://127.0.0.1:PORT`; without it the group is skipped with a note.
use std::hint::black_box;

use criterion::{criterion_group, criterion_main, Criterion};
use origin_verify_benches::{cache, CURRENT, PENDING};
use origin_verify_testkit::{create_secret, poll_ready, put_pending, sm_client, unique_name, MOTO_URL_VAR};

fn reference(c: &mut Criterion) {
    let Ok(url) = std::env::var(MOTO_URL_VAR) else {
        eprintln!("reference: {MOTO_URL_VAR} is not set (no moto); skipped");
        return;
    };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let sm = sm_client(&url);
    let secret = unique_name("bench-reference");
    runtime.block_on(async {
        create_secret(&sm, &secret, CURRENT).await;
        put_pending(&sm, &secret, PENDING).await;
    });
    let original = |presented: &str| {
        runtime.block_on(async {
            let mut allowed = false;
            for stage in ["AWSCURRENT", "AWSPENDING"] {
                let out = sm
                    .get_secret_value()
                    .secret_id(&secret)
                    .version_stage(stage)
                    .send()
                    .await
                    .expect("get");
                let json: serde_json::Value =
                    serde_json::from_str(out.secret_string().unwrap_or("{}")).unwrap();
                allowed |= json["HEADERVALUE"].as_str() == Some(presented);
            }
            allowed
        })
    };
    assert!(original(CURRENT));
    let cache = cache();

    let mut g = c.benchmark_group("reference");
    g.sample_size(20);
    g.bench_function("original-two-get-secret-value", |b| {
        b.iter(|| original(black_box(CURRENT)))
    });
    g.bench_function("cached-decide", |b| {
        b.iter(|| poll_ready(cache.decide(black_box(CURRENT.as_bytes()))))
    });
    g.finish();
}

criterion_group!(benches, reference);
criterion_main!(benches);
