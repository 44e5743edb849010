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
//!
//! Besides the default route (`$default`, [`GatewayConfig::authorizer_invoke_url`]) it may have routes
//! with their own authorizer ([`GatewayConfig::routes`]: the stack's `/python/`, the blog's design in
//! Python on `origin-verify-layer`), as an HTTP API whose routes each attach an authorizer: the same
//! identity source, TTL and bound, a cache and counters of their own, the same backend.

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
    /// The emulator's invoke URL for the authorizer function of the default route (every path no
    /// [`Route`] claims).
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
    /// Routes with an authorizer of their own; the first whose prefix matches takes a request.
    pub routes: Vec<Route>,
}

/// A route with its own Lambda authorizer (`ANY /prefix/{proxy+}`): the same identity source header,
/// cache TTL and bound as the default route, its own cache (API Gateway caches per authorizer), the same
/// backend.
#[derive(Debug, Clone)]
pub struct Route {
    /// `/name/`: requests for `/name` and every path under `/name/` take this route.
    pub path_prefix: String,
    /// The emulator's invoke URL for this route's authorizer.
    pub authorizer_invoke_url: String,
}

impl Route {
    fn matches(&self, path: &str) -> bool {
        path.starts_with(&self.path_prefix) || path == self.path_prefix.trim_end_matches('/')
    }

    fn route_key(&self) -> String {
        format!("ANY {}{{proxy+}}", self.path_prefix)
    }
}

/// The most authorizer answers the stack's gateway caches. The local stack needs a handful (the values
/// the secret holds, the load test's wrong value); API Gateway does not document its own bound.
pub const CACHE_CAPACITY: usize = 1024;

/// What the gateway did, for the summary. The authorizer counters are the default route's (its
/// authorizer's metrics count the same); the backend's cover every route; [`GatewayStats::routes`]
/// holds the other routes' own.
#[derive(Debug, Default, Clone, Serialize)]
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
    /// Backend invocations (admitted requests, with a backend configured), every route's.
    pub backend_invocations: u64,
    /// Backend invocations that failed or answered something that is not a response (answered 500),
    /// every route's.
    pub backend_errors: u64,
    /// Each [`Route`]'s own counters, in [`GatewayConfig::routes`]' order.
    pub routes: Vec<RouteStats>,
}

/// What one [`Route`] did (the same counters as [`GatewayStats`], for its authorizer and its requests).
#[derive(Debug, Default, Clone, Serialize)]
pub struct RouteStats {
    /// The route's [`Route::path_prefix`].
    pub path_prefix: String,
    /// Requests answered 401 without invoking its authorizer.
    pub missing_header: u64,
    /// Its authorizer's invocations.
    pub invocations: u64,
    /// Answers taken from its authorizer cache.
    pub cache_hits: u64,
    /// Failed invocations (answered 500, not cached).
    pub authorizer_errors: u64,
    /// Invocations its authorizer answered with an allow.
    pub authorizer_allows: u64,
    /// Invocations its authorizer answered with a deny.
    pub authorizer_denies: u64,
    /// Backend invocations for its admitted requests.
    pub backend_invocations: u64,
    /// Of which failed (answered 500).
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

impl Counters {
    fn stats(&self, path_prefix: &str) -> RouteStats {
        RouteStats {
            path_prefix: path_prefix.to_owned(),
            missing_header: self.missing_header.load(Ordering::Relaxed),
            invocations: self.invocations.load(Ordering::Relaxed),
            cache_hits: self.cache_hits.load(Ordering::Relaxed),
            authorizer_errors: self.authorizer_errors.load(Ordering::Relaxed),
            authorizer_allows: self.authorizer_allows.load(Ordering::Relaxed),
            authorizer_denies: self.authorizer_denies.load(Ordering::Relaxed),
            backend_invocations: self.backend_invocations.load(Ordering::Relaxed),
            backend_errors: self.backend_errors.load(Ordering::Relaxed),
        }
    }
}

/// One route's authorizer: where it is invoked, its cache, its counters.
struct Authorizer {
    invoke_url: String,
    /// `$default`, or `ANY /prefix/{proxy+}`.
    route_key: String,
    /// Header value → (allowed, expiry). Holds secret values: never logged or printed. At most
    /// `config.cache_capacity` entries.
    cache: Mutex<Cache>,
    counters: Counters,
}

impl Authorizer {
    fn new(invoke_url: &str, route_key: String) -> Self {
        Self {
            invoke_url: invoke_url.to_owned(),
            route_key,
            cache: Mutex::new(HashMap::new()),
            counters: Counters::default(),
        }
    }
}

struct State {
    config: GatewayConfig,
    /// The default route's.
    default: Authorizer,
    /// [`GatewayConfig::routes`]' own, in the same order.
    routes: Vec<Authorizer>,
    http: reqwest::Client,
}

impl State {
    fn authorizer_for(&self, path: &str) -> &Authorizer {
        self.config
            .routes
            .iter()
            .position(|r| r.matches(path))
            .map_or(&self.default, |i| &self.routes[i])
    }
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
            default: Authorizer::new(&config.authorizer_invoke_url, "$default".to_owned()),
            routes: config
                .routes
                .iter()
                .map(|r| Authorizer::new(&r.authorizer_invoke_url, r.route_key()))
                .collect(),
            config,
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
        let default = self.state.default.counters.stats("/");
        let routes: Vec<RouteStats> = self
            .state
            .config
            .routes
            .iter()
            .zip(&self.state.routes)
            .map(|(route, a)| a.counters.stats(&route.path_prefix))
            .collect();
        GatewayStats {
            missing_header: default.missing_header,
            invocations: default.invocations,
            cache_hits: default.cache_hits,
            authorizer_errors: default.authorizer_errors,
            authorizer_allows: default.authorizer_allows,
            authorizer_denies: default.authorizer_denies,
            backend_invocations: default.backend_invocations
                + routes.iter().map(|r| r.backend_invocations).sum::<u64>(),
            backend_errors: default.backend_errors + routes.iter().map(|r| r.backend_errors).sum::<u64>(),
            routes,
        }
    }

    /// Answers in the default route's authorizer cache now (expired ones not yet dropped included).
    pub fn cache_len(&self) -> usize {
        self.state
            .default
            .cache
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .len()
    }
}

impl Drop for Gateway {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn handle(state: Arc<State>, req: Request<Incoming>) -> Reply {
    let authorizer = state.authorizer_for(req.uri().path());
    let counters = &authorizer.counters;
    let Some(value) = req
        .headers()
        .get(state.config.header.as_str())
        .and_then(|v| v.to_str().ok())
    else {
        counters.missing_header.fetch_add(1, Ordering::Relaxed);
        return reply(401, r#"{"message":"Unauthorized"}"#);
    };
    let value = value.to_owned();
    let cached = {
        let cache = authorizer.cache.lock().unwrap_or_else(|e| e.into_inner());
        cache
            .get(&value)
            .filter(|(_, expiry)| *expiry > Instant::now())
            .map(|(allow, _)| *allow)
    };
    let allowed = match cached {
        Some(allow) => {
            counters.cache_hits.fetch_add(1, Ordering::Relaxed);
            allow
        }
        None => match invoke(&state.http, authorizer, &req, &value).await {
            Some(allow) => {
                let counter = if allow {
                    &counters.authorizer_allows
                } else {
                    &counters.authorizer_denies
                };
                counter.fetch_add(1, Ordering::Relaxed);
                if !state.config.cache_ttl.is_zero() {
                    let now = Instant::now();
                    let mut cache = authorizer.cache.lock().unwrap_or_else(|e| e.into_inner());
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
                counters.authorizer_errors.fetch_add(1, Ordering::Relaxed);
                return reply(500, r#"{"message":"Internal Server Error"}"#);
            }
        },
    };
    if !allowed {
        return reply(403, r#"{"message":"Forbidden"}"#);
    }
    match &state.config.backend_invoke_url {
        Some(url) => {
            counters.backend_invocations.fetch_add(1, Ordering::Relaxed);
            let event = backend_event(&req, &state.config, &authorizer.route_key);
            match invoke_backend(&state.http, url, &event).await {
                Some(answer) => answer,
                None => {
                    counters.backend_errors.fetch_add(1, Ordering::Relaxed);
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
async fn invoke(
    http: &reqwest::Client,
    authorizer: &Authorizer,
    req: &Request<Incoming>,
    value: &str,
) -> Option<bool> {
    authorizer.counters.invocations.fetch_add(1, Ordering::Relaxed);
    let event = event(req, value, &authorizer.route_key);
    let res = http
        .post(&authorizer.invoke_url)
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

fn event(req: &Request<Incoming>, value: &str, route_key: &str) -> serde_json::Value {
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
        "routeKey": route_key,
        "rawPath": path,
        "rawQueryString": req.uri().query().unwrap_or(""),
        "headers": headers,
        "requestContext": {
            "accountId": "123456789012",
            "apiId": "local",
            "domainName": "127.0.0.1",
            "http": { "method": method, "path": path, "protocol": "HTTP/1.1", "sourceIp": "127.0.0.1", "userAgent": "" },
            "requestId": format!("{}", now.as_nanos()),
            "routeKey": route_key,
            "stage": "$default",
            "timeEpoch": now.as_millis() as u64
        }
    })
}

/// The integration's payload 2.0 event for an admitted request: its headers (repeated ones comma-joined,
/// as API Gateway does) without the origin-verify header when `config.remove_header`. No body: the
/// stack's traffic is GETs.
fn backend_event(req: &Request<Incoming>, config: &GatewayConfig, route_key: &str) -> serde_json::Value {
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
        "routeKey": route_key,
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
            "routeKey": route_key,
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
