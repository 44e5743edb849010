//! A recording proxy in front of the Lambda emulator's Runtime and Extensions APIs: the function talks to
//! it as to `AWS_LAMBDA_RUNTIME_API`, and the test reads when each request arrived.
//!
//! Lambda freezes a sandbox once the runtime has posted its response and every extension has asked for
//! its next event; the emulator never freezes. The arrival of an extension's `event/next` request is the
//! moment Lambda would be free to freeze, which is what a test of "completes before the freeze" compares.

use std::sync::{Arc, Mutex};
use std::time::Instant;

use crate::{serve, Reply};

/// One request the function made, with the moment it arrived.
#[derive(Debug, Clone)]
pub struct RuntimeCall {
    /// The request path (without the emulator's `/.rt/<function>` prefix).
    pub path: String,
    /// When it arrived at the proxy.
    pub arrived: Instant,
}

impl RuntimeCall {
    /// Whether this is an extension asking for its next event (the extension's "ready to freeze").
    pub fn is_extension_next(&self) -> bool {
        self.path.ends_with("/extension/event/next")
    }
}

/// The proxy; stops when dropped.
#[derive(Debug)]
pub struct RuntimeApiRecorder {
    /// `http://127.0.0.1:port`: what the function gets as `AWS_LAMBDA_RUNTIME_API`.
    pub url: String,
    calls: Arc<Mutex<Vec<RuntimeCall>>>,
    task: tokio::task::JoinHandle<()>,
}

impl RuntimeApiRecorder {
    /// Forwards every request to `upstream` (e.g. `http://127.0.0.1:PORT/.rt/authorizer`), unchanged.
    pub async fn spawn(upstream: &str) -> Self {
        let calls = Arc::new(Mutex::new(Vec::new()));
        // No timeout: `next` requests are long polls that last until the next event.
        let http = reqwest::Client::new();
        let upstream = upstream.trim_end_matches('/').to_owned();
        let recorded = Arc::clone(&calls);
        let (addr, task) = serve(move |req: hyper::Request<hyper::body::Incoming>| {
            let path = req.uri().path().to_owned();
            recorded
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .push(RuntimeCall {
                    path: path.clone(),
                    arrived: Instant::now(),
                });
            let (http, upstream) = (http.clone(), upstream.clone());
            async move { pass_on(&http, &upstream, req).await }
        })
        .await;
        Self {
            url: format!("http://{addr}"),
            calls,
            task,
        }
    }

    /// Every request so far, in arrival order.
    pub fn calls(&self) -> Vec<RuntimeCall> {
        self.calls.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }
}

impl Drop for RuntimeApiRecorder {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Forwards `req` to `upstream` (same method, path, headers and body) and returns its answer unchanged.
pub async fn pass_on(
    http: &reqwest::Client,
    upstream: &str,
    req: hyper::Request<hyper::body::Incoming>,
) -> Reply {
    use http_body_util::BodyExt;
    let (parts, body) = req.into_parts();
    let Ok(body) = body.collect().await.map(|b| b.to_bytes()) else {
        return crate::reply(502, "request body unreadable");
    };
    let target = match parts.uri.path_and_query() {
        Some(pq) => format!("{upstream}{pq}"),
        None => upstream.to_owned(),
    };
    let mut out = http.request(parts.method.clone(), target).body(body);
    for (name, value) in parts.headers.iter().filter(|(n, _)| *n != hyper::header::HOST) {
        out = out.header(name.as_str(), value.as_bytes());
    }
    match out.send().await {
        Ok(res) => {
            let status = res.status().as_u16();
            let headers = res.headers().clone();
            let mut reply = crate::reply(status, res.bytes().await.unwrap_or_default());
            for (name, value) in headers.iter() {
                if name == reqwest::header::CONTENT_LENGTH || name == reqwest::header::TRANSFER_ENCODING {
                    continue;
                }
                if let (Ok(n), Ok(v)) = (
                    hyper::header::HeaderName::from_bytes(name.as_str().as_bytes()),
                    hyper::header::HeaderValue::from_bytes(value.as_bytes()),
                ) {
                    reply.headers_mut().append(n, v);
                }
            }
            reply
        }
        Err(_) => crate::reply(502, "emulator unreachable"),
    }
}
