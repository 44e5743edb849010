//! A local HTTP origin standing in for the protected API: it answers 200 only to requests whose header
//! carries a value the secret holds now (AWSCURRENT or AWSPENDING), read from Secrets Manager (moto) on
//! every request. 401 without the header, 403 otherwise.

use std::sync::Arc;

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
