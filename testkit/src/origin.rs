//! A local HTTP origin standing in for the protected API: it answers 200 only to requests whose header
//! carries a value the secret holds now (AWSCURRENT or AWSPENDING), read from Secrets Manager (moto) on
//! every request. 401 without the header, 403 otherwise.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use bytes::Bytes;
use http_body_util::Full;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

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
    current_only: AtomicBool,
}

/// The running origin; stops when dropped.
pub struct SecretOrigin {
    /// `http://127.0.0.1:PORT/`
    pub url: String,
    state: Arc<State>,
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
        let listener = TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], 0)))
            .await
            .expect("bind");
        let url = format!("http://{}/", listener.local_addr().expect("addr"));
        let state = Arc::new(State {
            sm,
            secret: secret.to_owned(),
            header: header.to_owned(),
            key: "HEADERVALUE".to_owned(),
            current_only: AtomicBool::new(accepts == Accepts::CurrentOnly),
        });
        let serving = Arc::clone(&state);
        let task = tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let state = Arc::clone(&serving);
                tokio::spawn(async move {
                    let service = hyper::service::service_fn(move |req| answer(Arc::clone(&state), req));
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        });
        Self { url, state, task }
    }

    /// Changes which stages are accepted from now on.
    pub fn set_accepts(&self, accepts: Accepts) {
        self.state
            .current_only
            .store(accepts == Accepts::CurrentOnly, Ordering::SeqCst);
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

async fn answer(
    state: Arc<State>,
    req: Request<hyper::body::Incoming>,
) -> Result<Response<Full<Bytes>>, Infallible> {
    let status = match req
        .headers()
        .get(state.header.as_str())
        .and_then(|v| v.to_str().ok())
    {
        None => StatusCode::UNAUTHORIZED,
        Some(presented) => {
            let mut accepted = vec![stage_value(&state, "AWSCURRENT").await];
            if !state.current_only.load(Ordering::SeqCst) {
                accepted.push(stage_value(&state, "AWSPENDING").await);
            }
            if accepted.iter().flatten().any(|v| v == presented) {
                StatusCode::OK
            } else {
                StatusCode::FORBIDDEN
            }
        }
    };
    let mut res = Response::new(Full::new(Bytes::from_static(b"origin")));
    *res.status_mut() = status;
    Ok(res)
}
