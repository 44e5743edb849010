//! Stand-in for an API Gateway HTTP API with a Lambda authorizer (payload 2.0, simple responses): no
//! header → 401 without invoking; otherwise the authorizer is invoked through the Lambda emulator with an
//! event built from the request; deny → 403; allow → the backend. Results are cached per header value
//! for the TTL, denies included; a failed invocation is a 500 and is not cached — as API Gateway does.
//!
//! The backend is a Lambda function too ([`GatewayConfig::backend_invoke_url`]: the real `backend` binary
//! in the stack), invoked as the HTTP API's `AWS_PROXY` integration invokes it: a payload 2.0 event without
//! the header, which the deployed template removes with the integration's parameter mapping
//! (`remove:header.<HeaderName>`, template.yaml `BackendIntegration`). A backend that logs its events
//! (lambda_runtime does at TRACE) would otherwise write the secret into its log.
//!
//! The cache holds at most [`GatewayConfig::cache_capacity`] answers ([`CACHE_CAPACITY`] in the stack):
//! a flood of distinct header values costs invocations, never unbounded memory. When it is full, expired
//! answers go first, then the oldest (the TTL is the same for all, so the oldest expires first). Each key is
//! at most [`MAX_HEADER_BYTES`](crate::serve::MAX_HEADER_BYTES) long, so 1,024 answers hold 16 MiB at most.
//! Clients get [`READ_TIMEOUT`](crate::serve::READ_TIMEOUT) to send a header section.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use hyper::body::Incoming;
use hyper::Request;
use origin_verify_testkit::{reply, Reply};
use serde::Serialize;
use tokio::task::JoinHandle;

use crate::Error;

/// How the gateway is set up.
#[derive(Debug, Clone)]
pub struct GatewayConfig {
    /// The emulator's invoke URL for the authorizer function.
    pub authorizer_invoke_url: String,
    /// The identity source header.
    pub header: String,
    /// Authorizer result cache TTL (`ReauthorizeEvery`); zero disables caching.
    pub cache_ttl: Duration,
    /// The most answers the cache holds ([`CACHE_CAPACITY`]); zero disables caching.
    pub cache_capacity: usize,
    /// How long a client may take to send a request's header section ([`crate::serve::READ_TIMEOUT`]).
    pub read_timeout: Duration,
    /// The emulator's invoke URL for the backend function; `None`: a canned 200 stands in for it.
    pub backend_invoke_url: Option<String>,
    /// Whether the header is removed from the backend's event, as the template's parameter mapping does.
    /// Off only to show what the removal prevents (a test); never off in the stack.
    pub remove_header: bool,
}

/// The most authorizer answers the stack's gateway caches. The local stack needs a handful (the values
/// the secret holds, the load test's wrong value); API Gateway does not document its own bound.
pub const CACHE_CAPACITY: usize = 1024;

/// What the gateway did, for the summary.
#[derive(Debug, Default, Clone, Copy, Serialize)]
pub struct GatewayStats {
    /// Requests answered 401 without invoking the authorizer.
    pub missing_header: u64,
    /// Authorizer invocations.
    pub invocations: u64,
    /// Answers taken from the authorizer cache.
    pub cache_hits: u64,
    /// Failed invocations (answered 500, not cached).
    pub authorizer_errors: u64,
    /// Invocations the authorizer answered with an allow (what its `Allows*` metrics count).
    pub authorizer_allows: u64,
    /// Invocations the authorizer answered with a deny (what its `Denies*` metrics count).
    pub authorizer_denies: u64,
    /// Backend invocations (admitted requests, with a backend configured).
    pub backend_invocations: u64,
    /// Backend invocations that failed or answered something that is not a response (answered 500).
    pub backend_errors: u64,
}

#[derive(Default)]
struct Counters {
    missing_header: AtomicU64,
    invocations: AtomicU64,
    cache_hits: AtomicU64,
    authorizer_errors: AtomicU64,
    authorizer_allows: AtomicU64,
    authorizer_denies: AtomicU64,
    backend_invocations: AtomicU64,
    backend_errors: AtomicU64,
}

struct State {
    config: GatewayConfig,
    /// Header value → (allowed, expiry). Holds secret values: never logged or printed. At most
    /// `config.cache_capacity` entries.
    cache: Mutex<Cache>,
    counters: Counters,
    http: reqwest::Client,
}

/// A running gateway. Stops when dropped.
pub struct Gateway {
    /// `http://127.0.0.1:PORT/`
    pub url: String,
    /// The port it listens on (the distribution's origin points at it).
    pub port: u16,
    state: Arc<State>,
    task: JoinHandle<()>,
}

impl Gateway {
    /// Starts serving on a free loopback port.
    pub async fn start(config: GatewayConfig) -> Result<Self, Error> {
        let state = Arc::new(State {
            config,
            cache: Mutex::new(HashMap::new()),
            counters: Counters::default(),
            // API Gateway gives an authorizer 10 s (and an HTTP API integration at most 30 s; the
            // backend answers in milliseconds).
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(10))
                // Never through a proxy from HTTP_PROXY and the like: the events carry the header value.
                .no_proxy()
                .build()
                .map_err(Error::http)?,
        });
        let serving = Arc::clone(&state);
        let read_timeout = state.config.read_timeout;
        let (addr, task) =
            crate::serve::serve(move |req| handle(Arc::clone(&serving), req), read_timeout).await?;
        Ok(Self {
            url: format!("http://{addr}/"),
            port: addr.port(),
            state,
            task,
        })
    }

    /// Counters so far.
    pub fn stats(&self) -> GatewayStats {
        let c = &self.state.counters;
        GatewayStats {
            missing_header: c.missing_header.load(Ordering::Relaxed),
            invocations: c.invocations.load(Ordering::Relaxed),
            cache_hits: c.cache_hits.load(Ordering::Relaxed),
            authorizer_errors: c.authorizer_errors.load(Ordering::Relaxed),
            authorizer_allows: c.authorizer_allows.load(Ordering::Relaxed),
            authorizer_denies: c.authorizer_denies.load(Ordering::Relaxed),
            backend_invocations: c.backend_invocations.load(Ordering::Relaxed),
            backend_errors: c.backend_errors.load(Ordering::Relaxed),
        }
    }
}

impl Gateway {
    /// Answers in the authorizer cache now (expired ones not yet dropped included).
    pub fn cache_len(&self) -> usize {
        self.state.cache.lock().unwrap_or_else(|e| e.into_inner()).len()
    }
}

impl Drop for Gateway {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn handle(state: Arc<State>, req: Request<Incoming>) -> Reply {
    let Some(value) = req
        .headers()
        .get(state.config.header.as_str())
        .and_then(|v| v.to_str().ok())
    else {
        state.counters.missing_header.fetch_add(1, Ordering::Relaxed);
        return reply(401, r#"{"message":"Unauthorized"}"#);
    };
    let value = value.to_owned();
    let cached = {
        let cache = state.cache.lock().unwrap_or_else(|e| e.into_inner());
        cache
            .get(&value)
            .filter(|(_, expiry)| *expiry > Instant::now())
            .map(|(allow, _)| *allow)
    };
    let allowed = match cached {
        Some(allow) => {
            state.counters.cache_hits.fetch_add(1, Ordering::Relaxed);
            allow
        }
        None => match invoke(&state, &req, &value).await {
            Some(allow) => {
                let counter = if allow {
                    &state.counters.authorizer_allows
                } else {
                    &state.counters.authorizer_denies
                };
                counter.fetch_add(1, Ordering::Relaxed);
                if !state.config.cache_ttl.is_zero() {
                    let now = Instant::now();
                    let mut cache = state.cache.lock().unwrap_or_else(|e| e.into_inner());
                    insert_bounded(
                        &mut cache,
                        state.config.cache_capacity,
                        value,
                        (allow, now + state.config.cache_ttl),
                        now,
                    );
                }
                allow
            }
            None => {
                state.counters.authorizer_errors.fetch_add(1, Ordering::Relaxed);
                return reply(500, r#"{"message":"Internal Server Error"}"#);
            }
        },
    };
    if !allowed {
        return reply(403, r#"{"message":"Forbidden"}"#);
    }
    match &state.config.backend_invoke_url {
        Some(url) => {
            state.counters.backend_invocations.fetch_add(1, Ordering::Relaxed);
            let event = backend_event(&req, &state.config);
            match invoke_backend(&state.http, url, &event).await {
                Some(answer) => answer,
                None => {
                    state.counters.backend_errors.fetch_add(1, Ordering::Relaxed);
                    reply(500, r#"{"message":"Internal Server Error"}"#)
                }
            }
        }
        None => reply(200, "origin-verify backend (local stand-in): admitted\n"),
    }
}

/// Header value → (allowed, expiry).
type Cache = HashMap<String, (bool, Instant)>;

/// Caches `answer` for `value`, keeping at most `capacity` answers: when a new key finds the cache full,
/// the expired answers are dropped, and if that frees nothing, the one that expires first. O(capacity) only
/// then, which a bound of 1,024 makes a few microseconds.
fn insert_bounded(cache: &mut Cache, capacity: usize, value: String, answer: (bool, Instant), now: Instant) {
    if capacity == 0 {
        return;
    }
    if cache.len() >= capacity && !cache.contains_key(&value) {
        cache.retain(|_, (_, expiry)| *expiry > now);
        if cache.len() >= capacity {
            let first_to_expire = cache
                .iter()
                .min_by_key(|(_, (_, expiry))| *expiry)
                .map(|(key, _)| key.clone());
            if let Some(key) = first_to_expire {
                cache.remove(&key);
            }
        }
    }
    cache.insert(value, answer);
}

/// Invokes the authorizer with a payload 2.0 event; `None` when the invocation failed or answered
/// something that is not a simple response.
async fn invoke(state: &State, req: &Request<Incoming>, value: &str) -> Option<bool> {
    state.counters.invocations.fetch_add(1, Ordering::Relaxed);
    let event = event(req, value);
    let res = state
        .http
        .post(&state.config.authorizer_invoke_url)
        .body(event.to_string())
        .send()
        .await
        .ok()?;
    if !res.status().is_success() {
        return None;
    }
    let body: serde_json::Value = serde_json::from_slice(&res.bytes().await.ok()?).ok()?;
    body.get("isAuthorized")?.as_bool()
}

fn event(req: &Request<Incoming>, value: &str) -> serde_json::Value {
    let headers: serde_json::Map<String, serde_json::Value> = req
        .headers()
        .iter()
        .filter_map(|(n, v)| Some((n.as_str().to_owned(), serde_json::Value::from(v.to_str().ok()?))))
        .collect();
    let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default();
    let method = req.method().as_str();
    let path = req.uri().path();
    serde_json::json!({
        "version": "2.0",
        "type": "REQUEST",
        "routeArn": format!("arn:aws:execute-api:us-east-1:123456789012:local/$default/{method}{path}"),
        "identitySource": [value],
        "routeKey": "$default",
        "rawPath": path,
        "rawQueryString": req.uri().query().unwrap_or(""),
        "headers": headers,
        "requestContext": {
            "accountId": "123456789012",
            "apiId": "local",
            "domainName": "127.0.0.1",
            "http": { "method": method, "path": path, "protocol": "HTTP/1.1", "sourceIp": "127.0.0.1", "userAgent": "" },
            "requestId": format!("{}", now.as_nanos()),
            "routeKey": "$default",
            "stage": "$default",
            "timeEpoch": now.as_millis() as u64
        }
    })
}

/// The integration's payload 2.0 event for an admitted request: its headers (repeated ones comma-joined,
/// as API Gateway does) without the origin-verify header when `config.remove_header`. No body: the
/// stack's traffic is GETs.
fn backend_event(req: &Request<Incoming>, config: &GatewayConfig) -> serde_json::Value {
    let mut headers = serde_json::Map::new();
    for (name, value) in req.headers() {
        if config.remove_header && name.as_str().eq_ignore_ascii_case(&config.header) {
            continue;
        }
        let Ok(value) = value.to_str() else { continue };
        match headers.get_mut(name.as_str()) {
            Some(serde_json::Value::String(joined)) => {
                joined.push(',');
                joined.push_str(value);
            }
            _ => {
                headers.insert(name.as_str().to_owned(), value.into());
            }
        }
    }
    let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default();
    let method = req.method().as_str();
    let path = req.uri().path();
    serde_json::json!({
        "version": "2.0",
        "routeKey": "$default",
        "rawPath": path,
        "rawQueryString": req.uri().query().unwrap_or(""),
        "headers": headers,
        "requestContext": {
            "accountId": "123456789012",
            "apiId": "local",
            "authorizer": { "lambda": {} },
            "domainName": "127.0.0.1",
            "http": { "method": method, "path": path, "protocol": "HTTP/1.1", "sourceIp": "127.0.0.1", "userAgent": "" },
            "requestId": format!("{}", now.as_nanos()),
            "routeKey": "$default",
            "stage": "$default",
            "timeEpoch": now.as_millis() as u64
        },
        "isBase64Encoded": false
    })
}

/// Invokes the backend and turns its payload 2.0 response (`statusCode`, `headers`, `body`) into the
/// reply; `None` when the invocation failed or answered no status code.
async fn invoke_backend(http: &reqwest::Client, url: &str, event: &serde_json::Value) -> Option<Reply> {
    let res = http.post(url).body(event.to_string()).send().await.ok()?;
    if !res.status().is_success() {
        return None;
    }
    let body: serde_json::Value = serde_json::from_slice(&res.bytes().await.ok()?).ok()?;
    let status = u16::try_from(body.get("statusCode")?.as_u64()?).ok()?;
    let mut out = reply(status, body["body"].as_str().unwrap_or_default().to_owned());
    if let Some(headers) = body["headers"].as_object() {
        for (name, value) in headers {
            let (Ok(name), Some(Ok(value))) = (
                hyper::header::HeaderName::try_from(name.as_str()),
                value.as_str().map(hyper::header::HeaderValue::try_from),
            ) else {
                continue;
            };
            out.headers_mut().insert(name, value);
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_full_cache_drops_expired_answers_then_the_first_to_expire() {
        let now = Instant::now();
        let at = |s: u64| now + Duration::from_secs(s);
        let mut cache = Cache::new();
        insert_bounded(&mut cache, 3, "a".into(), (true, at(1)), now);
        insert_bounded(&mut cache, 3, "b".into(), (false, at(2)), now);
        insert_bounded(&mut cache, 3, "c".into(), (false, at(3)), now);
        // Full, nothing expired: the first to expire ("a") goes.
        insert_bounded(&mut cache, 3, "d".into(), (false, at(4)), now);
        let mut keys: Vec<_> = cache.keys().cloned().collect();
        keys.sort();
        assert_eq!(keys, ["b", "c", "d"]);
        // Full, two expired by now: both go, the rest stays.
        insert_bounded(&mut cache, 3, "e".into(), (true, at(9)), at(3));
        let mut keys: Vec<_> = cache.keys().cloned().collect();
        keys.sort();
        assert_eq!(keys, ["d", "e"]);
        // A key already cached is refreshed in place, evicting nothing.
        insert_bounded(&mut cache, 2, "d".into(), (true, at(10)), at(3));
        assert_eq!(cache.len(), 2);
        assert_eq!(cache["d"], (true, at(10)));
        // Capacity zero caches nothing.
        let mut empty = Cache::new();
        insert_bounded(&mut empty, 0, "x".into(), (true, at(1)), now);
        assert!(empty.is_empty());
    }
}
