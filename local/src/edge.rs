//! Stand-in for CloudFront: an "edge" that reads the distribution's origin custom header through the
//! CloudFront API (moto), applies a changed value only after a propagation delay — a different one per
//! simulated edge location — sets the header, and forwards to the origin.
//!
//! As CloudFront does ("If the header exists, CloudFront overwrites the header value before forwarding"),
//! a viewer's own copies of the header, however many and however spelt, are replaced by the one value:
//! the origin sees exactly one. Viewers get [`READ_TIMEOUT`](crate::serve::READ_TIMEOUT) for the header
//! section and as long again for a body of at most [`MAX_BODY_BYTES`].

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use http_body_util::{BodyExt, LengthLimitError, Limited};
use hyper::body::Incoming;
use hyper::header::{HeaderName, HeaderValue};
use hyper::Request;
use origin_verify_testkit::{reply, Reply};
use tokio::task::JoinHandle;

use crate::Error;

/// How the edge is set up.
#[derive(Debug, Clone)]
pub struct EdgeConfig {
    /// The distribution whose origin it serves.
    pub distribution: String,
    /// The origin-verify header.
    pub header: String,
    /// Propagation delay of each simulated edge location; requests go to them in turn.
    pub location_delays: Vec<Duration>,
    /// How often the distribution's configuration is read.
    pub poll: Duration,
    /// How long a viewer may take to send a request's header section ([`crate::serve::READ_TIMEOUT`]),
    /// and, separately, its body.
    pub read_timeout: Duration,
}

/// The largest request body the edge reads and forwards; a larger one is answered 413. The stand-in's
/// traffic is GETs; this only bounds what a misbehaving viewer can make it hold.
pub const MAX_BODY_BYTES: usize = 1024 * 1024;

/// A value seen in the distribution's configuration, and when.
#[derive(Debug, Clone)]
struct Seen {
    at: Instant,
    value: String,
}

struct State {
    config: EdgeConfig,
    /// `config.header`, parsed once.
    header: HeaderName,
    /// Values seen, oldest first (bounded).
    history: Mutex<Vec<Seen>>,
    /// `http://host:port` of the origin, from the distribution.
    origin: Mutex<String>,
    next_location: AtomicUsize,
    http: reqwest::Client,
}

/// A running edge. Stops when dropped.
pub struct Edge {
    /// `http://127.0.0.1:PORT/`
    pub url: String,
    state: Arc<State>,
    tasks: Vec<JoinHandle<()>>,
}

/// Values kept: a rotation adds one; a few suffice for any delay shorter than a rotation.
const HISTORY: usize = 8;

impl Edge {
    /// Reads the distribution once (so the edge starts with its header), then serves and keeps polling.
    /// `cf` is used with its HTTP client replaced by one that ignores proxies ([`crate::direct`]): the
    /// distribution's configuration holds the secret.
    pub async fn start(cf: aws_sdk_cloudfront::Client, config: EdgeConfig) -> Result<Self, Error> {
        let cf = crate::direct::cloudfront(&cf);
        if config.location_delays.is_empty() {
            return Err(Error::Setup("the edge needs at least one location".into()));
        }
        let header = HeaderName::from_bytes(config.header.as_bytes())
            .map_err(|_| Error::Setup(format!("{:?} is not a valid header name", config.header)))?;
        let (origin, value) = read_distribution(&cf, &config).await?;
        let state = Arc::new(State {
            header,
            history: Mutex::new(vec![Seen {
                at: Instant::now() - max_delay(&config),
                value,
            }]),
            origin: Mutex::new(origin),
            next_location: AtomicUsize::new(0),
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(10))
                // Never through a proxy from HTTP_PROXY and the like: these requests carry the secret.
                .no_proxy()
                // The origin (the stack's gateway) closes a connection left idle for its read timeout;
                // retiring ours sooner means a request is never sent on one it is closing.
                .pool_idle_timeout(crate::serve::READ_TIMEOUT / 2)
                .build()
                .map_err(Error::http)?,
            config,
        });
        // Serving first: a failure to bind leaves no poller behind.
        let serving = Arc::clone(&state);
        let read_timeout = state.config.read_timeout;
        let (addr, server) =
            crate::serve::serve(move |req| forward(Arc::clone(&serving), req), read_timeout).await?;
        let polling = Arc::clone(&state);
        let poller = tokio::spawn(async move {
            let mut tick = tokio::time::interval(polling.config.poll);
            loop {
                tick.tick().await;
                if let Ok((origin, value)) = read_distribution(&cf, &polling.config).await {
                    *lock(&polling.origin) = origin;
                    let mut history = lock(&polling.history);
                    if history.last().is_none_or(|s| s.value != value) {
                        history.push(Seen {
                            at: Instant::now(),
                            value,
                        });
                        let excess = history.len().saturating_sub(HISTORY);
                        history.drain(..excess);
                    }
                }
            }
        });
        Ok(Self {
            url: format!("http://{addr}/"),
            state,
            tasks: vec![poller, server],
        })
    }

    /// The header value each location sends now.
    pub fn location_values(&self) -> Vec<String> {
        let now = Instant::now();
        (0..self.state.config.location_delays.len())
            .map(|i| self.state.value_at(i, now))
            .collect()
    }

    /// The longest propagation delay: after it, every location sends the latest value.
    pub fn max_delay(&self) -> Duration {
        max_delay(&self.state.config)
    }
}

impl Drop for Edge {
    fn drop(&mut self) {
        for task in &self.tasks {
            task.abort();
        }
    }
}

fn max_delay(config: &EdgeConfig) -> Duration {
    config.location_delays.iter().copied().max().unwrap_or_default()
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl State {
    /// The newest value whose propagation to `location` is complete at `now`.
    fn value_at(&self, location: usize, now: Instant) -> String {
        let delay = self.config.location_delays[location];
        let history = lock(&self.history);
        history
            .iter()
            .rev()
            .find(|s| s.at + delay <= now)
            .or(history.first())
            .map(|s| s.value.clone())
            .unwrap_or_default()
    }
}

/// The origin address and the header value the distribution sends now.
async fn read_distribution(
    cf: &aws_sdk_cloudfront::Client,
    config: &EdgeConfig,
) -> Result<(String, String), Error> {
    let out = cf
        .get_distribution_config()
        .id(&config.distribution)
        .send()
        .await
        .map_err(|e| Error::Setup(format!("GetDistributionConfig {}: {e}", config.distribution)))?;
    let origins = out
        .distribution_config
        .and_then(|c| c.origins)
        .map(|o| o.items)
        .unwrap_or_default();
    for origin in origins {
        let header = origin
            .custom_headers
            .as_ref()
            .and_then(|h| h.items.as_ref())
            .and_then(|items| {
                items
                    .iter()
                    .find(|h| h.header_name.eq_ignore_ascii_case(&config.header))
            })
            .map(|h| h.header_value.clone());
        if let Some(value) = header {
            let port = origin.custom_origin_config.map(|c| c.http_port).unwrap_or(80);
            return Ok((format!("http://{}:{port}", origin.domain_name), value));
        }
    }
    Err(Error::Setup(format!(
        "distribution {} has no origin sending {}",
        config.distribution, config.header
    )))
}

async fn forward(state: Arc<State>, req: Request<Incoming>) -> Reply {
    let location = state.next_location.fetch_add(1, Ordering::Relaxed) % state.config.location_delays.len();
    let value = state.value_at(location, Instant::now());
    let url = format!(
        "{}{}",
        lock(&state.origin),
        req.uri().path_and_query().map(|p| p.as_str()).unwrap_or("/")
    );
    let method = req.method().clone();
    let mut headers = req.headers().clone();
    // Like CloudFront's origin request policy AllViewerExceptHostHeader.
    headers.remove(hyper::header::HOST);
    let Ok(mut value) = HeaderValue::from_str(&value) else {
        return reply(
            502,
            "edge: the distribution's header value is not a valid header value",
        );
    };
    value.set_sensitive(true);
    // CloudFront overwrites a viewer-sent header of the same name. `insert` replaces every copy (names
    // compare case-insensitively); appending would hand the origin the viewer's value too, and a reader
    // taking the first copy would check the viewer's value instead of ours.
    headers.insert(state.header.clone(), value);
    // The header section was bounded by the server; the body gets the same time, and a size bound.
    let body = Limited::new(req.into_body(), MAX_BODY_BYTES);
    let body = match tokio::time::timeout(state.config.read_timeout, body.collect()).await {
        Ok(Ok(b)) => b.to_bytes(),
        Ok(Err(e)) if e.is::<LengthLimitError>() => return reply(413, "edge: request body too large"),
        Ok(Err(_)) => return reply(400, "edge: bad request body"),
        Err(_) => return reply(408, "edge: request body too slow"),
    };
    let request = state.http.request(method, url).headers(headers).body(body);
    match request.send().await {
        Ok(res) => {
            let status = res.status().as_u16();
            let body = res.bytes().await.unwrap_or_default();
            let mut out = reply(status, body);
            out.headers_mut()
                .insert("x-edge-location", hyper::header::HeaderValue::from(location));
            out
        }
        Err(_) => reply(502, "edge: origin unreachable"),
    }
}
