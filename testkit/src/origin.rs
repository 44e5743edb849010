//! Local HTTP origins. [`SecretOrigin`] stands in for the protected API: it answers 200 only to requests
//! whose header carries a value the secret holds now (AWSCURRENT or AWSPENDING), read from Secrets Manager
//! (moto) on every request; 401 without the header, 403 otherwise. [`CannedOrigin`] answers every request
//! the same way and counts them: an unprotected URL, a redirect, a collector or a proxy that must receive
//! nothing.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use hyper::body::Incoming;
use hyper::Request;
use tokio::task::JoinHandle;

use crate::serve::{reply, serve, Reply};

/// Which stages the origin accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Accepts {
    /// AWSCURRENT and AWSPENDING, as the authorizer does.
    CurrentAndPending,
    /// AWSCURRENT only: an origin whose authorizer does not know the new value.
    CurrentOnly,
}

struct State {
    sm: aws_sdk_secretsmanager::Client,
    secret: String,
    header: String,
    key: String,
    current_only: bool,
}

/// The running origin; stops when dropped.
pub struct SecretOrigin {
    /// `http://127.0.0.1:PORT/`
    pub url: String,
    task: JoinHandle<()>,
}

impl SecretOrigin {
    /// Serves on a free loopback port.
    pub async fn spawn(
        sm: aws_sdk_secretsmanager::Client,
        secret: &str,
        header: &str,
        accepts: Accepts,
    ) -> Self {
        let state = Arc::new(State {
            sm,
            secret: secret.to_owned(),
            header: header.to_owned(),
            key: "HEADERVALUE".to_owned(),
            current_only: accepts == Accepts::CurrentOnly,
        });
        let (addr, task) = serve(move |req| answer(Arc::clone(&state), req)).await;
        Self {
            url: format!("http://{addr}/"),
            task,
        }
    }
}

impl Drop for SecretOrigin {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn stage_value(state: &State, stage: &str) -> Option<String> {
    let out = state
        .sm
        .get_secret_value()
        .secret_id(&state.secret)
        .version_stage(stage)
        .send()
        .await
        .ok()?;
    let s = out.secret_string?;
    let v: serde_json::Value = serde_json::from_str(&s).ok()?;
    v.get(&state.key)?.as_str().map(str::to_owned)
}

async fn answer(state: Arc<State>, req: Request<Incoming>) -> Reply {
    let status = match req
        .headers()
        .get(state.header.as_str())
        .and_then(|v| v.to_str().ok())
    {
        None => 401,
        Some(presented) => {
            let mut accepted = vec![stage_value(&state, "AWSCURRENT").await];
            if !state.current_only {
                accepted.push(stage_value(&state, "AWSPENDING").await);
            }
            if accepted.iter().flatten().any(|v| v == presented) {
                200
            } else {
                403
            }
        }
    };
    reply(status, "origin")
}

/// A loopback server that answers every request with the same status (and `Location`, for a redirect)
/// and counts the requests it receives; stops when dropped.
pub struct CannedOrigin {
    /// `http://127.0.0.1:PORT/`
    pub url: String,
    /// `127.0.0.1:PORT`
    pub authority: String,
    requests: Arc<AtomicUsize>,
    /// Every header value received, to check which values reached it (test values only).
    values: Arc<Mutex<Vec<Vec<u8>>>>,
    task: JoinHandle<()>,
}

impl CannedOrigin {
    /// Answers `status` to everything: with 200, a URL no authorizer protects (a `/health` route without
    /// it, or a CloudFront URL, which overwrites the header with the value it holds itself).
    pub async fn spawn(status: u16) -> Self {
        Self::start(status, None).await
    }

    /// Answers `302 Found` with `Location: location` to everything: an origin that sends callers to an
    /// identity provider, or a mistyped URL that redirects elsewhere.
    pub async fn redirecting_to(location: &str) -> Self {
        Self::start(302, Some(location.to_owned())).await
    }

    async fn start(status: u16, location: Option<String>) -> Self {
        let requests = Arc::new(AtomicUsize::new(0));
        let values = Arc::new(Mutex::new(Vec::new()));
        let counter = Arc::clone(&requests);
        let seen = Arc::clone(&values);
        let (addr, task) = serve(move |req| {
            seen.lock()
                .unwrap_or_else(|e| e.into_inner())
                .extend(req.headers().values().map(|v| v.as_bytes().to_vec()));
            counter.fetch_add(1, Ordering::SeqCst);
            let mut res = reply(status, "canned");
            if let Some(location) = &location {
                if let Ok(value) = hyper::header::HeaderValue::from_str(location) {
                    res.headers_mut().insert(hyper::header::LOCATION, value);
                }
            }
            async move { res }
        })
        .await;
        Self {
            url: format!("http://{addr}/"),
            authority: addr.to_string(),
            requests,
            values,
            task,
        }
    }

    /// Requests received so far.
    pub fn requests(&self) -> usize {
        self.requests.load(Ordering::SeqCst)
    }

    /// Whether any request so far carried a header with exactly this value.
    pub fn received_value(&self, value: &str) -> bool {
        self.values
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
            .any(|v| v == value.as_bytes())
    }
}

impl Drop for CannedOrigin {
    fn drop(&mut self) {
        self.task.abort();
    }
}
