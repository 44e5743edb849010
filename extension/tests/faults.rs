//! Fault injection: Secrets Manager throttling, failing, answering garbage (an `aws-smithy-mocks` fake:
//! moto cannot misbehave on demand; those tests say `mocked` in their names) and slow (a proxy holding
//! each request in front of moto). Every client here has the production timeouts and retries
//! ([`client_settings`]).
//!
//! What each test shows: a held value keeps being admitted without waiting, nothing the fault produced is
//! ever admitted, no value is denied on the stale snapshot the fault leaves (the invocation fails instead,
//! which API Gateway does not cache), the backoff (not the traffic) sets the number of calls, and the new
//! state is picked up at the first attempt the backoff allows once Secrets Manager is back.

use std::sync::Arc;
use std::time::{Duration, Instant};

use origin_verify_extension::{
    client_settings, CacheConfig, Decision, DenyReason, Error, Loader, SecretCache, Stage,
};
use origin_verify_testkit::{
    create_secret, put_pending, shared_moto_url, sm_client, unique_name, Behaviour, FakeSecretsManager,
    SlowProxy,
};

const CURRENT: &str = "current-value-0123456789abcdefABCD";
const PENDING: &str = "pending-value-0123456789abcdefABCD";
const WRONG: &str = "wrong-value-00000000000000000000000";

/// Refresh interval of every cache here: short, so tests reach a stale snapshot quickly.
const INTERVAL: Duration = Duration::from_secs(1);
/// How long a miss may wait for a running refresh.
const MISS_WAIT: Duration = Duration::from_millis(100);
/// Most request pairs sent while one fault lasts (the loop is also bounded by the fault's duration).
const MAX_PAIRS: usize = 20_000;

/// A fault long enough for the backoff to double several times.
const SUSTAINED: Duration = Duration::from_secs(4);
/// A fault that lasts one refresh attempt.
const BRIEF: Duration = Duration::from_millis(200);

fn cache_with(client: aws_sdk_secretsmanager::Client, secret: &str) -> Arc<SecretCache> {
    let mut config = CacheConfig::new(secret);
    config.refresh_interval = INTERVAL;
    config.miss_wait = MISS_WAIT;
    SecretCache::new(Loader::new(client, config))
}

async fn decide(cache: &Arc<SecretCache>, value: &str) -> Decision {
    cache.decide(value.as_bytes()).await.expect("a decision")
}

/// Lets the snapshot age past [`INTERVAL`]: the passing of time is the condition.
async fn let_snapshot_go_stale() {
    tokio::time::sleep(INTERVAL + Duration::from_millis(100)).await;
}

/// Whether `value` gets what a miss on a stale snapshot whose refresh cannot complete must get: a failed
/// invocation (500, not cached by API Gateway), never a deny (cached for the TTL) nor an allow.
async fn fails_the_invocation(cache: &Arc<SecretCache>, value: &str) -> bool {
    matches!(
        cache.decide(value.as_bytes()).await,
        Err(Error::RefreshPending { .. })
    )
}

/// Sends request pairs for `lasting` (paced every 2 ms): the current value is admitted every time;
/// `unseen` (a value Secrets Manager holds but the fault hides) and a wrong value are neither admitted nor
/// denied, the invocation fails. Returns the number of requests sent.
async fn traffic_during_fault(cache: &Arc<SecretCache>, unseen: &str, lasting: Duration) -> usize {
    let start = Instant::now();
    let mut sent = 0;
    for i in 0..MAX_PAIRS {
        assert_eq!(
            decide(cache, CURRENT).await,
            Decision::Allow(Stage::Current),
            "request {sent}"
        );
        let probe = if i % 2 == 0 { unseen } else { WRONG };
        assert!(fails_the_invocation(cache, probe).await, "request {}", sent + 1);
        sent += 2;
        if start.elapsed() >= lasting {
            break;
        }
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    sent
}

/// Polls (every 20 ms, at most `budget`) until `value` is admitted; returns how long it took.
async fn time_until_admitted(cache: &Arc<SecretCache>, value: &str, budget: Duration) -> Option<Duration> {
    let start = Instant::now();
    while start.elapsed() < budget {
        // Before the first load the cache fails closed (an error): not admitted yet.
        if matches!(cache.decide(value.as_bytes()).await, Ok(Decision::Allow(_))) {
            return Some(start.elapsed());
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    None
}

/// Ends a fault with `heal` and checks that `value` is admitted at the first refresh attempt the backoff
/// allows: waits (polling, at most 10 s: longer than the client's 4 s operation timeout) until no attempt
/// runs, heals, polls until admitted. Returns (time to admission, what the backoff still waited at heal).
async fn recovers(cache: &Arc<SecretCache>, value: &str, heal: impl FnOnce()) -> (Duration, Duration) {
    let start = Instant::now();
    while cache.stats().refreshing {
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "a refresh attempt outlived its timeouts"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let before = cache.stats();
    let wait = before.next_attempt_in;
    heal();
    let took = time_until_admitted(cache, value, wait + Duration::from_secs(3))
        .await
        .unwrap_or_else(|| panic!("not recovered within {wait:?} + 3 s"));
    let after = cache.stats();
    // The first attempt after healing is the one that succeeded: no failure in between, one success.
    assert_eq!(after.refreshes_failed, before.refreshes_failed, "{after:?}");
    assert_eq!(after.refreshes_ok, before.refreshes_ok + 1, "{after:?}");
    assert!(
        took <= wait + Duration::from_millis(500),
        "recovery took {took:?}, the backoff allowed an attempt after {wait:?}"
    );
    (took, wait)
}

/// One fault from start to recovery against the fake; returns the failed refreshes it caused.
async fn fault_then_recovery(behaviour: Behaviour, lasting: Duration) -> u64 {
    let fake = FakeSecretsManager::new(CURRENT);
    let cache = cache_with(fake.client(client_settings), "fake");
    cache.ensure_loaded().await.expect("loaded while healthy");

    fake.set_behaviour(behaviour);
    fake.put_pending(PENDING);
    let_snapshot_go_stale().await;
    let started = Instant::now();
    let requests = traffic_during_fault(&cache, PENDING, lasting).await;
    let fault_lasted = started.elapsed();
    let stats = cache.stats();
    assert!(stats.refreshes_failed >= 1, "{behaviour:?}: {stats:?}");
    // Backoff from 250 ms, doubling: the attempts in `fault_lasted` are logarithmic in it, whatever the
    // request count. Each attempt makes at most 2 calls per operation (the client's retries).
    let bound = 2 + (fault_lasted.as_millis() as f64 / 250.0).max(1.0).log2().ceil() as u64;
    assert!(
        stats.refreshes_failed <= bound,
        "{behaviour:?}: {} attempts in {fault_lasted:?} (bound {bound})",
        stats.refreshes_failed
    );
    assert!(
        fake.calls() as u64 <= 1 + 2 * 2 * stats.refreshes_failed,
        "{behaviour:?}: {} calls for {} attempts",
        fake.calls(),
        stats.refreshes_failed
    );

    // Recovery: the pending value is admitted at the first attempt the backoff allows.
    let (took, wait) = recovers(&cache, PENDING, || fake.set_behaviour(Behaviour::Healthy)).await;
    println!(
        "{behaviour:?}: {requests} requests in {fault_lasted:?}, {} failed refreshes, {} calls; \
         backoff left {wait:?}, recovered after {took:?}",
        stats.refreshes_failed,
        fake.calls()
    );
    assert_eq!(decide(&cache, CURRENT).await, Decision::Allow(Stage::Current));
    stats.refreshes_failed
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mocked_throttling_serves_last_values_backs_off_and_recovers_promptly() {
    fault_then_recovery(Behaviour::Throttling, SUSTAINED).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mocked_server_errors_serve_last_values_back_off_and_recover_promptly() {
    fault_then_recovery(Behaviour::ServerError, SUSTAINED).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mocked_garbage_answers_are_never_admitted_and_keep_the_last_values() {
    for behaviour in [Behaviour::GarbageBody, Behaviour::NoCurrentStage] {
        fault_then_recovery(behaviour, BRIEF).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mocked_malformed_pending_is_absent_and_fetched_again_at_the_next_refresh() {
    // A pending version whose SecretString lacks the key is not a Secrets Manager failure: the refresh
    // succeeds without it (AWSCURRENT keeps working) and asks for it again at the next refresh.
    let fake = FakeSecretsManager::new(CURRENT);
    let cache = cache_with(fake.client(client_settings), "fake");
    cache.ensure_loaded().await.expect("loaded while healthy");
    fake.set_behaviour(Behaviour::GarbageSecretString);
    fake.put_pending(PENDING);
    let_snapshot_go_stale().await;
    assert_eq!(decide(&cache, CURRENT).await, Decision::Allow(Stage::Current));
    cache.on_invoke().await;
    let stats = cache.stats();
    assert_eq!((stats.refreshes_ok, stats.refreshes_failed), (2, 0), "{stats:?}");
    assert!(cache.snapshot().as_ref().expect("held").pending.is_none());
    // The snapshot is fresh and the version really holds no usable value: a deny is the true answer.
    assert_eq!(decide(&cache, PENDING).await, Decision::Deny(DenyReason::NoMatch));

    fake.set_behaviour(Behaviour::Healthy);
    let_snapshot_go_stale().await;
    assert_eq!(decide(&cache, PENDING).await, Decision::Allow(Stage::Pending));
    let stats = cache.stats();
    assert_eq!(
        stats.get_value_calls, 3,
        "current once, the pending version at each refresh: {stats:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mocked_faults_at_cold_start_fail_closed_then_load_when_healthy() {
    for behaviour in [
        Behaviour::Throttling,
        Behaviour::ServerError,
        Behaviour::GarbageBody,
        Behaviour::NoCurrentStage,
        Behaviour::GarbageSecretString,
    ] {
        let fake = FakeSecretsManager::new(CURRENT);
        fake.set_behaviour(behaviour);
        let mut config = CacheConfig::new("fake");
        config.load_wait = Duration::from_millis(300);
        let cache = SecretCache::new(Loader::new(fake.client(client_settings), config));
        assert!(cache.ensure_loaded().await.is_err(), "{behaviour:?}");
        for value in [CURRENT, WRONG] {
            let outcome = cache.decide(value.as_bytes()).await;
            assert!(
                outcome.is_err(),
                "{behaviour:?}: nothing loaded must fail, got {outcome:?}"
            );
        }
        let (took, wait) = recovers(&cache, CURRENT, || {
            // No attempt runs now. Each failed load cost at most what a load cost before the early
            // AWSCURRENT fetch: DescribeSecret and one GetSecretValue, two tries each.
            let failed = cache.stats().refreshes_failed;
            assert!(
                fake.calls() as u64 <= 4 * failed,
                "{behaviour:?}: {} calls for {failed} failed loads",
                fake.calls()
            );
            fake.set_behaviour(Behaviour::Healthy)
        })
        .await;
        println!("{behaviour:?} at cold start: loaded {took:?} after healing (backoff left {wait:?})");
    }
}

/// A Secrets Manager that answers after `delay`, behind [`SlowProxy`]; the cache holds CURRENT, moto
/// already holds PENDING.
async fn slow_secrets_manager(delay: Duration) -> (SlowProxy, Arc<SecretCache>) {
    let url = shared_moto_url();
    let sm = sm_client(&url);
    let name = unique_name("slow");
    create_secret(&sm, &name, CURRENT).await;
    let proxy = SlowProxy::spawn(&url).await;
    let config = client_settings(sm_client(&proxy.url).config().to_builder()).build();
    let cache = cache_with(aws_sdk_secretsmanager::Client::from_conf(config), &name);
    cache.ensure_loaded().await.expect("loaded");
    put_pending(&sm, &name, PENDING).await;
    proxy.set_delay(delay);
    let_snapshot_go_stale().await;
    (proxy, cache)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_first_load_asks_for_current_beside_describe_secret() {
    // One round trip before the first snapshot, not two: both calls are held by the proxy at once.
    let url = shared_moto_url();
    let name = unique_name("one-round-trip");
    create_secret(&sm_client(&url), &name, CURRENT).await;
    let proxy = SlowProxy::spawn(&url).await;
    proxy.set_delay(Duration::from_millis(1000));
    let config = client_settings(sm_client(&proxy.url).config().to_builder()).build();
    let cache = cache_with(aws_sdk_secretsmanager::Client::from_conf(config), &name);
    let load = tokio::spawn({
        let cache = Arc::clone(&cache);
        async move { cache.ensure_loaded().await }
    });
    assert!(
        proxy.wait_for_arrivals_beyond(1, Duration::from_secs(2)).await,
        "two calls reached Secrets Manager"
    );
    assert_eq!(
        proxy.held(),
        2,
        "the second call was sent before the first was answered"
    );
    load.await.expect("joined").expect("loaded");
    assert_eq!(decide(&cache, CURRENT).await, Decision::Allow(Stage::Current));
    let stats = cache.stats();
    assert_eq!((stats.describe_calls, stats.get_value_calls), (1, 1), "{stats:?}");
}

/// Starts the due refresh with a matching request and waits until Secrets Manager holds its call.
async fn refresh_in_flight(proxy: &SlowProxy, cache: &Arc<SecretCache>) {
    let seen = proxy.received();
    assert_eq!(decide(cache, CURRENT).await, Decision::Allow(Stage::Current));
    assert!(
        proxy.wait_for_arrivals_beyond(seen, Duration::from_secs(2)).await,
        "the due refresh reached Secrets Manager"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_secrets_manager_delays_no_match_and_its_answer_is_used() {
    // 1.2 s: slower than any healthy answer, still inside the client's 1.5 s attempt timeout.
    let delay = Duration::from_millis(1200);
    let (proxy, cache) = slow_secrets_manager(delay).await;
    let started = Instant::now();
    refresh_in_flight(&proxy, &cache).await;

    // While the refresh is held: matches are answered at once (the call is still held when they return),
    // a miss waits at most MISS_WAIT and then fails the invocation: it is not denied on stale data.
    for _ in 0..100 {
        assert_eq!(decide(&cache, CURRENT).await, Decision::Allow(Stage::Current));
    }
    assert_eq!(proxy.held(), 1, "100 matches answered while the refresh was held");
    let miss = Instant::now();
    assert!(fails_the_invocation(&cache, PENDING).await);
    assert!(
        miss.elapsed() < delay,
        "a miss waits for MISS_WAIT, not for Secrets Manager"
    );
    assert_eq!(
        proxy.held(),
        1,
        "the miss was answered while the refresh was held"
    );

    let took = time_until_admitted(&cache, PENDING, Duration::from_secs(10))
        .await
        .expect("the slow answer is used");
    let stats = cache.stats();
    println!(
        "slow {delay:?}: pending admitted {:?} after the refresh started; {stats:?}",
        started.elapsed()
    );
    assert!(
        took + miss.duration_since(started) >= delay - MISS_WAIT,
        "it really was slow"
    );
    assert_eq!(stats.refreshes_failed, 0, "{stats:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_secrets_manager_slower_than_the_timeouts_keeps_last_values_and_recovers() {
    // 3 s: past the 1.5 s attempt timeout, so both attempts time out and the refresh fails.
    let delay = Duration::from_secs(3);
    let (proxy, cache) = slow_secrets_manager(delay).await;
    refresh_in_flight(&proxy, &cache).await;
    for _ in 0..100 {
        assert_eq!(decide(&cache, CURRENT).await, Decision::Allow(Stage::Current));
    }
    assert!(proxy.held() >= 1, "matches answered while the refresh was held");

    // The refresh fails by timeout: wait (bounded) for the failure, serving the current value meanwhile.
    let deadline = Instant::now() + Duration::from_secs(10);
    while cache.stats().refreshes_failed == 0 && Instant::now() < deadline {
        assert_eq!(decide(&cache, CURRENT).await, Decision::Allow(Stage::Current));
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let stats = cache.stats();
    assert_eq!(stats.refreshes_failed, 1, "the attempt timed out: {stats:?}");
    assert!(
        fails_the_invocation(&cache, PENDING).await,
        "backing off: no wait, no deny"
    );

    let (took, wait) = recovers(&cache, PENDING, || proxy.set_delay(Duration::ZERO)).await;
    println!("timeouts: recovered {took:?} after Secrets Manager became fast (backoff left {wait:?})");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn proxy_hung_secrets_manager_never_denies_on_a_stale_snapshot() {
    // The pending value reached Secrets Manager before the hang; this sandbox never saw it. Every request
    // while the refresh cannot complete: the current value admitted at once, the pending value and wrong
    // values never denied (a deny would be cached by API Gateway for the TTL), only failed.
    let hang = Duration::from_secs(60);
    let (proxy, cache) = slow_secrets_manager(hang).await;
    let before = proxy.received();
    let started = Instant::now();
    let mut misses = 0;
    for i in 0..MAX_PAIRS {
        assert_eq!(decide(&cache, CURRENT).await, Decision::Allow(Stage::Current));
        let probe = if i % 2 == 0 { PENDING } else { WRONG };
        assert!(fails_the_invocation(&cache, probe).await, "miss {misses}");
        misses += 1;
        if started.elapsed() >= SUSTAINED {
            break;
        }
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    let stats = cache.stats();
    // No more calls than before this rule: one refresh at a time, each attempt bounded by the client's
    // timeouts (4 s per operation, 2 tries), then the backoff — not one call per miss.
    let calls = proxy.received() - before;
    assert!(
        calls as u64 <= 2 * (stats.refreshes_failed + 1),
        "{calls} calls for {misses} misses: {stats:?}"
    );
    println!(
        "hung: {misses} misses in {:?}, {calls} calls, {stats:?}",
        started.elapsed()
    );
    let (took, wait) = recovers(&cache, PENDING, || proxy.set_delay(Duration::ZERO)).await;
    println!("hung: recovered {took:?} after Secrets Manager answered again (backoff left {wait:?})");
}
