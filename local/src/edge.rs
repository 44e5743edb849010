//! Stand-in for CloudFront: an "edge" that reads the distribution's origin custom header through the
//! CloudFront API (moto), applies a changed value only after a propagation delay — a different one per
//! simulated edge location — adds the header, and forwards to the origin.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use http_body_util::BodyExt;
use hyper::body::Incoming;
use hyper::Request;
use origin_verify_testkit::{reply, serve, Reply};
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
}

/// A value seen in the distribution's configuration, and when.
#[derive(Debug, Clone)]
struct Seen {
    at: Instant,
    value: String,
}

struct State {
    config: EdgeConfig,
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
    pub async fn start(cf: aws_sdk_cloudfront::Client, config: EdgeConfig) -> Result<Self, Error> {
        if config.location_delays.is_empty() {
            return Err(Error::Setup("the edge needs at least one location".into()));
        }
        let (origin, value) = read_distribution(&cf, &config).await?;
        let state = Arc::new(State {
            history: Mutex::new(vec![Seen {
                at: Instant::now() - max_delay(&config),
                value,
            }]),
            origin: Mutex::new(origin),
            next_location: AtomicUsize::new(0),
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(10))
                .build()
                .map_err(Error::http)?,
            config,
        });
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
        let serving = Arc::clone(&state);
        let (addr, server) = serve(move |req| forward(Arc::clone(&serving), req)).await;
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
    // Like CloudFront's origin request policy AllViewerExceptHostHeader, and its custom header overwrite.
    headers.remove(hyper::header::HOST);
    let body = match req.into_body().collect().await {
        Ok(b) => b.to_bytes(),
        Err(_) => return reply(400, "bad request body"),
    };
    let request = state
        .http
        .request(method, url)
        .headers(headers)
        .header(state.config.header.as_str(), value)
        .body(body);
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
