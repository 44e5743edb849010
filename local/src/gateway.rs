//! Stand-in for an API Gateway HTTP API with a Lambda authorizer (payload 2.0, simple responses): no
//! header → 401 without invoking; otherwise the authorizer is invoked through the Lambda emulator with an
//! event built from the request; deny → 403; allow → the backend. Results are cached per header value
//! for the TTL, denies included; a failed invocation is a 500 and is not cached — as API Gateway does.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use hyper::body::Incoming;
use hyper::Request;
use origin_verify_testkit::{reply, serve, Reply};
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
}

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
}

#[derive(Default)]
struct Counters {
    missing_header: AtomicU64,
    invocations: AtomicU64,
    cache_hits: AtomicU64,
    authorizer_errors: AtomicU64,
}

struct State {
    config: GatewayConfig,
    /// Header value → (allowed, expiry). Holds secret values: never logged or printed.
    cache: Mutex<HashMap<String, (bool, Instant)>>,
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
            // API Gateway gives an authorizer 10 s.
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(10))
                .build()
                .map_err(Error::http)?,
        });
        let serving = Arc::clone(&state);
        let (addr, task) = serve(move |req| handle(Arc::clone(&serving), req)).await;
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
        }
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
                if !state.config.cache_ttl.is_zero() {
                    let expiry = Instant::now() + state.config.cache_ttl;
                    state
                        .cache
                        .lock()
                        .unwrap_or_else(|e| e.into_inner())
                        .insert(value, (allow, expiry));
                }
                allow
            }
            None => {
                state.counters.authorizer_errors.fetch_add(1, Ordering::Relaxed);
                return reply(500, r#"{"message":"Internal Server Error"}"#);
            }
        },
    };
    if allowed {
        // The backend stand-in: the deployed stack's `backend` function answers a test page here.
        reply(200, "origin-verify backend (local stand-in): admitted\n")
    } else {
        reply(403, r#"{"message":"Forbidden"}"#)
    }
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
