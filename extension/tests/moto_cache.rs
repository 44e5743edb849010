//! The cache against Secrets Manager as moto serves it (server mode, started by `scripts/test`).

use std::sync::Arc;
use std::time::Duration;

use origin_verify_extension::{CacheConfig, Decision, DenyReason, Error, Loader, SecretCache, Stage};
use origin_verify_testkit::{
    create_secret, header_json, new_token, promote, put_pending, shared_moto_url, sm_client, stage_rotation,
    unique_name, Moto,
};

const CURRENT: &str = "current-value-0123456789abcdefABCD";
const PENDING: &str = "pending-value-0123456789abcdefABCD";
const WRONG: &str = "wrong-value-00000000000000000000000";

fn new_cache(url: &str, secret: &str, tweak: impl FnOnce(&mut CacheConfig)) -> Arc<SecretCache> {
    let mut config = CacheConfig::new(secret);
    tweak(&mut config);
    SecretCache::new(Loader::new(sm_client(url), config))
}

async fn decide(cache: &Arc<SecretCache>, value: &str) -> Decision {
    cache.decide(value.as_bytes()).await.expect("a decision")
}

/// Lets the snapshot age past a refresh interval of `interval`: the passing of time is the condition.
async fn let_snapshot_go_stale(interval: Duration) {
    tokio::time::sleep(interval + Duration::from_millis(100)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn first_load_admits_current_only_with_two_calls() {
    let url = shared_moto_url();
    let sm = sm_client(&url);
    let name = unique_name("first-load");
    create_secret(&sm, &name, CURRENT).await;
    let cache = new_cache(&url, &name, |_| {});

    cache.ensure_loaded().await.expect("loaded");
    assert_eq!(decide(&cache, CURRENT).await, Decision::Allow(Stage::Current));
    assert_eq!(
        decide(&cache, &CURRENT[..CURRENT.len() - 1]).await,
        Decision::Deny(DenyReason::NoMatch)
    );
    assert_eq!(decide(&cache, "").await, Decision::Deny(DenyReason::Unmatchable));
    let stats = cache.stats();
    assert_eq!((stats.describe_calls, stats.get_value_calls), (1, 1), "{stats:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn new_pending_is_seen_by_the_due_refresh_and_a_stale_miss_waits_for_it() {
    let url = shared_moto_url();
    let sm = sm_client(&url);
    let name = unique_name("pending");
    create_secret(&sm, &name, CURRENT).await;
    let interval = Duration::from_secs(1);
    let cache = new_cache(&url, &name, |c| {
        c.refresh_interval = interval;
        c.miss_refresh_min_interval = Duration::from_secs(3600);
    });
    cache.ensure_loaded().await.unwrap();
    // Misses on a fresh snapshot cause no refresh here: the success below comes from the due refresh.
    assert_eq!(decide(&cache, WRONG).await, Decision::Deny(DenyReason::NoMatch));

    put_pending(&sm, &name, PENDING).await;
    let_snapshot_go_stale(interval).await;
    assert_eq!(decide(&cache, PENDING).await, Decision::Allow(Stage::Pending));
    assert_eq!(decide(&cache, CURRENT).await, Decision::Allow(Stage::Current));
    assert_eq!(
        cache.stats().get_value_calls,
        2,
        "only the new version is fetched"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_match_on_a_stale_snapshot_does_not_wait_and_starts_the_refresh() {
    let url = shared_moto_url();
    let sm = sm_client(&url);
    let name = unique_name("no-wait");
    create_secret(&sm, &name, CURRENT).await;
    let interval = Duration::from_secs(1);
    let cache = new_cache(&url, &name, |c| c.refresh_interval = interval);
    cache.ensure_loaded().await.unwrap();
    let_snapshot_go_stale(interval).await;

    assert_eq!(decide(&cache, CURRENT).await, Decision::Allow(Stage::Current));
    cache.on_invoke().await; // waits for the refresh the match started
    assert_eq!(cache.stats().describe_calls, 2);
    assert!(cache.snapshot().as_ref().unwrap().age(std::time::Instant::now()) < interval);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_miss_on_a_fresh_snapshot_refreshes_once_per_interval() {
    let url = shared_moto_url();
    let sm = sm_client(&url);
    let name = unique_name("miss-refresh");
    create_secret(&sm, &name, CURRENT).await;
    let min_interval = Duration::from_secs(1);
    let cache = new_cache(&url, &name, |c| c.miss_refresh_min_interval = min_interval);
    cache.ensure_loaded().await.unwrap();

    // A miss on a snapshot younger than the interval costs nothing.
    put_pending(&sm, &name, PENDING).await;
    assert_eq!(decide(&cache, PENDING).await, Decision::Deny(DenyReason::NoMatch));
    assert_eq!(cache.stats().describe_calls, 1);

    // A rotation that did not wait: the pending value is newer than the (still fresh) snapshot.
    let_snapshot_go_stale(min_interval).await;
    assert_eq!(decide(&cache, PENDING).await, Decision::Allow(Stage::Pending));
    assert_eq!(cache.stats().describe_calls, 2);

    // The slot is used: further misses are denied without calling Secrets Manager.
    for _ in 0..50 {
        assert_eq!(decide(&cache, WRONG).await, Decision::Deny(DenyReason::NoMatch));
    }
    let stats = cache.stats();
    assert_eq!((stats.describe_calls, stats.get_value_calls), (2, 2), "{stats:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_absent_pending_costs_no_extra_calls() {
    let url = shared_moto_url();
    let sm = sm_client(&url);
    let name = unique_name("absent");
    create_secret(&sm, &name, CURRENT).await;
    let interval = Duration::from_secs(1);
    let cache = new_cache(&url, &name, |c| c.refresh_interval = interval);
    cache.ensure_loaded().await.unwrap();
    for _ in 0..2 {
        let_snapshot_go_stale(interval).await;
        for _ in 0..100 {
            assert_eq!(decide(&cache, CURRENT).await, Decision::Allow(Stage::Current));
        }
        cache.on_invoke().await;
    }
    let stats = cache.stats();
    assert_eq!(
        stats.get_value_calls, 1,
        "AWSPENDING absence is cached: {stats:?}"
    );
    assert_eq!(
        stats.describe_calls, 3,
        "one DescribeSecret per due refresh: {stats:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn moto_stopped_mid_test_keeps_serving_last_values_and_backs_off() {
    let mut moto = Moto::spawn().await;
    let sm = sm_client(&moto.url);
    let name = unique_name("outage");
    create_secret(&sm, &name, CURRENT).await;
    let interval = Duration::from_secs(1);
    let cache = new_cache(&moto.url, &name, |c| {
        c.refresh_interval = interval;
        c.miss_wait = Duration::from_millis(100);
    });
    cache.ensure_loaded().await.unwrap();
    moto.stop().await;
    let_snapshot_go_stale(interval).await;

    for _ in 0..200 {
        assert_eq!(decide(&cache, CURRENT).await, Decision::Allow(Stage::Current));
        // No deny on a stale snapshot whose refresh cannot complete: the invocation fails (not cached).
        let miss = cache.decide(WRONG.as_bytes()).await;
        assert!(matches!(miss, Err(Error::RefreshPending { .. })), "{miss:?}");
    }
    cache.on_invoke().await;
    let stats = cache.stats();
    assert!(stats.refreshes_failed >= 1, "{stats:?}");
    // 400 requests while down: the backoff, not the traffic, sets the number of attempts.
    assert!(
        stats.refreshes_failed <= 6,
        "backoff bounds the attempts: {stats:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hung_secrets_manager_delays_no_match_and_bounds_a_miss() {
    let mut moto = Moto::spawn().await;
    let sm = sm_client(&moto.url);
    let name = unique_name("hung");
    create_secret(&sm, &name, CURRENT).await;
    let interval = Duration::from_secs(1);
    let cache = new_cache(&moto.url, &name, |c| {
        c.refresh_interval = interval;
        c.miss_wait = Duration::from_millis(200);
    });
    cache.ensure_loaded().await.unwrap();
    // Replace moto by a listener that accepts and never answers.
    moto.stop().await;
    let port = moto.url.rsplit(':').next().unwrap().to_owned();
    let listener = tokio::net::TcpListener::bind(format!("127.0.0.1:{port}"))
        .await
        .expect("rebind");
    let _hold = tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((conn, _)) = listener.accept().await {
            held.push(conn);
        }
    });
    let_snapshot_go_stale(interval).await;

    // Generous bounds, far from the hang: these assert "does not wait for the refresh", not speed.
    let bound = Duration::from_secs(2);
    let allowed = tokio::time::timeout(bound, decide(&cache, CURRENT))
        .await
        .expect("a match never waits");
    assert_eq!(allowed, Decision::Allow(Stage::Current));
    let miss = tokio::time::timeout(bound, cache.decide(WRONG.as_bytes()))
        .await
        .expect("a miss waits boundedly");
    assert!(
        matches!(miss, Err(Error::RefreshPending { .. })),
        "a miss on a stale snapshot fails rather than denies: {miss:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn never_loaded_fails_closed_and_never_allows() {
    let mut moto = Moto::spawn().await;
    let url = moto.url.clone();
    moto.stop().await;
    let cache = new_cache(&url, "never-created", |c| {
        c.load_wait = Duration::from_millis(300)
    });
    for value in [CURRENT, WRONG] {
        let err = cache
            .decide(value.as_bytes())
            .await
            .expect_err("no decision without a secret");
        assert!(matches!(err, Error::NotLoaded), "{err}");
    }

    let missing = new_cache(&shared_moto_url(), &unique_name("missing"), |c| {
        c.load_wait = Duration::from_millis(300);
    });
    assert!(matches!(
        missing.decide(CURRENT.as_bytes()).await,
        Err(Error::NotLoaded)
    ));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stale_miss_is_rechecked_after_the_refresh_even_in_a_flood_of_wrong_headers() {
    let url = shared_moto_url();
    let sm = sm_client(&url);
    let name = unique_name("flood");
    create_secret(&sm, &name, CURRENT).await;
    let interval = Duration::from_secs(1);
    let cache = new_cache(&url, &name, |c| {
        c.refresh_interval = interval;
        c.miss_wait = Duration::from_millis(2000);
    });
    cache.ensure_loaded().await.unwrap();
    put_pending(&sm, &name, PENDING).await;
    let_snapshot_go_stale(interval).await;
    let before = cache.stats();

    let mut tasks = Vec::new();
    for i in 0..400 {
        let cache = Arc::clone(&cache);
        let value = if i % 40 == 39 {
            PENDING.to_owned()
        } else {
            format!("{WRONG}{i}")
        };
        tasks.push(tokio::spawn(async move {
            (value.clone(), cache.decide(value.as_bytes()).await)
        }));
    }
    for task in tasks {
        let (value, decision) = task.await.unwrap();
        let expected = if value == PENDING {
            Decision::Allow(Stage::Pending)
        } else {
            Decision::Deny(DenyReason::NoMatch)
        };
        assert_eq!(decision.unwrap(), expected);
    }
    let after = cache.stats();
    // One due refresh, plus at most the one miss-refresh slot: the flood cannot multiply calls.
    assert!(
        after.describe_calls - before.describe_calls <= 2,
        "{before:?} -> {after:?}"
    );
    assert_eq!(
        after.get_value_calls - before.get_value_calls,
        1,
        "{before:?} -> {after:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn previous_is_accepted_only_inside_its_grace_window() {
    let url = shared_moto_url();
    let sm = sm_client(&url);
    let name = unique_name("grace");
    create_secret(&sm, &name, CURRENT).await;
    let interval = Duration::from_secs(1);
    let warm = new_cache(&url, &name, |c| {
        c.refresh_interval = interval;
        c.previous_grace = Duration::from_secs(2);
    });
    warm.ensure_loaded().await.unwrap();
    let pending = put_pending(&sm, &name, PENDING).await;
    promote(&sm, &name, &pending).await;
    let_snapshot_go_stale(interval).await;

    // The warm sandbox saw CURRENT as current: its window starts when it sees the change.
    assert_eq!(decide(&warm, PENDING).await, Decision::Allow(Stage::Current));
    assert_eq!(decide(&warm, CURRENT).await, Decision::Allow(Stage::Previous));

    // A sandbox starting after the rotation dates the window from the new version's creation.
    let cold_open = new_cache(&url, &name, |c| c.previous_grace = Duration::from_secs(300));
    cold_open.ensure_loaded().await.unwrap();
    assert_eq!(
        decide(&cold_open, CURRENT).await,
        Decision::Allow(Stage::Previous)
    );
    let cold_disabled = new_cache(&url, &name, |c| c.previous_grace = Duration::ZERO);
    cold_disabled.ensure_loaded().await.unwrap();
    assert_eq!(
        decide(&cold_disabled, CURRENT).await,
        Decision::Deny(DenyReason::NoMatch)
    );
    assert_eq!(
        cold_disabled.stats().get_value_calls,
        1,
        "a previous that cannot match is not fetched"
    );

    // Past the window, the warm sandbox refuses it (the time passing is the condition).
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(decide(&warm, CURRENT).await, Decision::Deny(DenyReason::NoMatch));
}

/// What createSecret does once it succeeds: stores the value under the token RotateSecret staged.
async fn store_pending_value(sm: &aws_sdk_secretsmanager::Client, name: &str, token: &str, value: &str) {
    sm.put_secret_value()
        .secret_id(name)
        .client_request_token(token)
        .secret_string(header_json(value))
        .version_stages("AWSPENDING")
        .send()
        .await
        .expect("PutSecretValue (createSecret)");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rotate_secrets_empty_pending_version_is_absent_for_cold_and_warm_sandboxes() {
    // moto plays RotateSecret's real first move: a new version labelled AWSPENDING without a value
    // (GetSecretValue on it is ResourceNotFound), left so because the rotation function cannot run.
    let url = shared_moto_url();
    let sm = sm_client(&url);
    let name = unique_name("empty-pending");
    create_secret(&sm, &name, CURRENT).await;
    let interval = Duration::from_secs(1);
    let tweak = |c: &mut CacheConfig| c.refresh_interval = interval;
    let warm = new_cache(&url, &name, tweak);
    warm.ensure_loaded().await.expect("loaded before the rotation");
    let token = new_token();
    stage_rotation(&sm, &name, &token).await;

    // A sandbox starting now loads, and admits AWSCURRENT.
    let cold = new_cache(&url, &name, tweak);
    cold.ensure_loaded()
        .await
        .expect("an empty AWSPENDING does not fail the load");
    assert_eq!(decide(&cold, CURRENT).await, Decision::Allow(Stage::Current));
    // A warm one refreshes through it without a failure, and keeps admitting AWSCURRENT.
    let_snapshot_go_stale(interval).await;
    assert_eq!(decide(&warm, CURRENT).await, Decision::Allow(Stage::Current));
    warm.on_invoke().await;
    for cache in [&cold, &warm] {
        let stats = cache.stats();
        assert_eq!(stats.refreshes_failed, 0, "{stats:?}");
        assert!(
            cache.snapshot().as_ref().expect("held").pending.is_none(),
            "the empty version is absent"
        );
        assert_eq!(decide(cache, CURRENT).await, Decision::Allow(Stage::Current));
    }

    // createSecret finally succeeds: the next refresh asks for the version again and admits it.
    store_pending_value(&sm, &name, &token, PENDING).await;
    let_snapshot_go_stale(interval).await;
    for cache in [&cold, &warm] {
        assert_eq!(decide(cache, PENDING).await, Decision::Allow(Stage::Pending));
        assert_eq!(decide(cache, CURRENT).await, Decision::Allow(Stage::Current));
        assert_eq!(cache.stats().refreshes_failed, 0);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flood_of_unique_wrong_headers_on_a_fresh_snapshot_costs_one_describe_per_miss_interval() {
    // The per-sandbox bound on the calls wrong headers can cause: a miss on a fresh snapshot refreshes
    // only once the snapshot is ORIGIN_VERIFY_MISS_REFRESH_MIN_SECONDS old, and any refresh makes it
    // young again. Four concurrent senders, each value new, for FLOOD.
    const FLOOD: Duration = Duration::from_millis(3500);
    let url = shared_moto_url();
    let sm = sm_client(&url);
    let name = unique_name("flood-fresh");
    create_secret(&sm, &name, CURRENT).await;
    let min_interval = Duration::from_secs(1);
    let cache = new_cache(&url, &name, |c| {
        c.miss_refresh_min_interval = min_interval;
        c.miss_wait = Duration::from_millis(100);
    });
    cache.ensure_loaded().await.unwrap();
    let before = cache.stats();
    let started = std::time::Instant::now();
    let mut senders = Vec::new();
    for sender in 0..4 {
        let cache = Arc::clone(&cache);
        senders.push(tokio::spawn(async move {
            let mut sent = 0u64;
            while started.elapsed() < FLOOD && sent < 200_000 {
                let value = format!("{WRONG}-{sender}-{sent}");
                let decision = cache.decide(value.as_bytes()).await.expect("a decision");
                assert_eq!(decision, Decision::Deny(DenyReason::NoMatch));
                sent += 1;
            }
            sent
        }));
    }
    let mut sent = 0;
    for s in senders {
        sent += s.await.unwrap();
    }
    let lasted = started.elapsed();
    let after = cache.stats();
    let describes = after.describe_calls - before.describe_calls;
    let bound = lasted.as_secs_f64() / min_interval.as_secs_f64();
    println!("{sent} unique wrong headers in {lasted:?}: {describes} DescribeSecret, 0 GetSecretValue");
    assert!(sent > 100, "a flood: {sent}");
    assert!(
        describes as f64 <= bound.ceil(),
        "{describes} calls > {bound}: {after:?}"
    );
    assert_eq!(
        after.get_value_calls, before.get_value_calls,
        "nothing new to fetch"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_snapshot_past_the_max_staleness_fails_closed_even_for_the_current_value() {
    // Revocation: a sandbox that cannot refresh stops admitting what it holds once the snapshot is
    // older than ORIGIN_VERIFY_MAX_STALENESS_SECONDS (on by default).
    let mut moto = Moto::spawn().await;
    let sm = sm_client(&moto.url);
    let name = unique_name("max-stale");
    create_secret(&sm, &name, CURRENT).await;
    let interval = Duration::from_secs(1);
    let cache = new_cache(&moto.url, &name, |c| {
        c.refresh_interval = interval;
        c.max_staleness = Some(2 * interval);
        c.miss_wait = Duration::from_millis(100);
    });
    cache.ensure_loaded().await.unwrap();
    moto.stop().await;
    let_snapshot_go_stale(interval).await;
    assert_eq!(decide(&cache, CURRENT).await, Decision::Allow(Stage::Current));
    // The passing of time past the bound is the condition.
    tokio::time::sleep(interval).await;
    let outcome = cache.decide(CURRENT.as_bytes()).await;
    assert!(matches!(outcome, Err(Error::TooStale { .. })), "{outcome:?}");
}
