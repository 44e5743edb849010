//! Raw bytes in, response out, through `Authorizer::handle_bytes` (what the binary calls) with a loaded
//! cache.
//! Properties: never panics; never an error except REST's `Unauthorized`; admits only when the event
//! presents a held value (AWSCURRENT, AWSPENDING, or AWSPREVIOUS inside its window), in an HTTP API
//! payload with an `identitySource` that is that value or none; and the fast event reader, wherever it
//! answers, gives the reference reader's answer.
#![no_main]

use std::future::Future;
use std::pin::pin;
use std::sync::LazyLock;
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant, SystemTime};

use libfuzzer_sys::fuzz_target;
use origin_verify_authorizer::event::Event;
use origin_verify_authorizer::{Authorizer, Config, Error};
use origin_verify_extension::{CacheConfig, HeldVersion, Loader, PreviousVersion, SecretCache, Snapshot};
use origin_verify_shared::{table, Env};

const HELD: [&str; 3] =
    ["CurrentValue0123456789abcdefABCD", "PendingValue0123456789abcdefABCD", "PreviousValu0123456789abcdefABCD"];

static AUTHORIZER: LazyLock<Authorizer> = LazyLock::new(|| {
    let now = Instant::now();
    let snapshot = Snapshot {
        current: HeldVersion::new("v2", HELD[0]),
        pending: Some(HeldVersion::new("v3", HELD[1])),
        previous: Some(PreviousVersion {
            held: HeldVersion::new("v1", HELD[2]),
            since: SystemTime::now(),
            accept_until: now + Duration::from_secs(24 * 3600),
        }),
        fetched_at: now,
    };
    // Never refreshes: the target needs no Secrets Manager and no async runtime.
    let mut cache = CacheConfig::new("fuzz");
    cache.refresh_interval = Duration::from_secs(24 * 3600);
    cache.miss_refresh_min_interval = Duration::from_secs(24 * 3600);
    let client = aws_sdk_secretsmanager::Client::from_conf(
        aws_sdk_secretsmanager::Config::builder().behavior_version_latest().build(),
    );
    let config = Config::from_env(&Env(&table(&[("ORIGIN_VERIFY_SECRET_ID", "fuzz")]))).expect("config");
    Authorizer::new(config, SecretCache::with_snapshot(Loader::new(client, cache), snapshot))
});

fn poll_ready<F: Future>(fut: F) -> F::Output {
    let mut fut = pin!(fut);
    match fut.as_mut().poll(&mut Context::from_waker(Waker::noop())) {
        Poll::Ready(out) => out,
        Poll::Pending => panic!("the handler waited on a fresh snapshot"),
    }
}

/// Whether the event, read independently of the authorizer's parser, carries a held value exactly once —
/// and, in an HTTP API payload, an `identitySource` that is absent, `null`, or exactly that value (2.0: a
/// list of it alone): API Gateway caches an allow under it. serde_json's `Value` is stricter than a parser
/// that skips what it does not need (a lone surrogate escape in an ignored key, say); where it cannot read
/// the event, the held value must at least appear in the bytes: nothing can be admitted without them.
fn presents_held_value(text: &str) -> bool {
    let Ok(event) = serde_json::from_str::<serde_json::Value>(text) else {
        return HELD.iter().any(|v| text.contains(v));
    };
    let version = event.get("version").and_then(|v| v.as_str());
    // The token counts in a TOKEN event only (no version), the header in the others.
    let token = event
        .get("authorizationToken")
        .and_then(|t| t.as_str())
        .filter(|_| version.is_none() && event.get("type").and_then(|t| t.as_str()) == Some("TOKEN"));
    let header = event.get("headers").and_then(|h| h.as_object()).and_then(|h| {
        let mut found = h.iter().filter(|(k, _)| k.eq_ignore_ascii_case("x-origin-verify"));
        let first = found.next()?;
        found.next().is_none().then(|| first.1.as_str()).flatten()
    });
    let identity_is = |value: &str| match (version, event.get("identitySource")) {
        (Some("2.0" | "1.0"), None | Some(serde_json::Value::Null)) => true,
        (Some("2.0"), Some(identity)) => *identity == serde_json::json!([value]),
        (Some("1.0"), Some(identity)) => identity.as_str() == Some(value),
        _ => true,
    };
    let header = header.filter(|&v| identity_is(v));
    let presented = [token, header].into_iter().flatten().any(|v| HELD.contains(&v));
    presented
}

fuzz_target!(|data: &[u8]| {
    if let Some(fast) = Event::parse_fast(data, "x-origin-verify") {
        assert_eq!(fast, Event::parse_reference(data, "x-origin-verify"), "the event readers disagree");
    }
    // The binary hands the handler the invocation's bytes as delivered (authorizer::raw_event).
    let text = String::from_utf8_lossy(data);
    match poll_ready(AUTHORIZER.handle_bytes(data)) {
        Ok(response) => {
            let v = serde_json::to_value(&response).expect("responses serialise");
            let allowed = v["isAuthorized"] == true || v["policyDocument"]["Statement"][0]["Effect"] == "Allow";
            assert!(!allowed || presents_held_value(&text), "admitted without a held value");
        }
        Err(Error::Unauthorized) => {}
        Err(other) => panic!("unexpected error: {other}"),
    }
});
