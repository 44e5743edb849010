//! Stand-in for Secrets Manager's rotation: starts a rotation the way RotateSecret does, then invokes the
//! rotator's four steps through the Lambda emulator, in order, retrying a failed step as Secrets Manager
//! would (moto cannot run rotation functions itself).

use std::time::{Duration, Instant};

use origin_verify_testkit::{new_token, stage_rotation};
use serde::Serialize;

use crate::Error;

/// The steps, in Secrets Manager's order.
pub const STEPS: [&str; 4] = ["createSecret", "setSecret", "testSecret", "finishSecret"];

/// Attempts per step before the rotation is reported failed.
const ATTEMPTS: usize = 3;

/// One step as it ran.
#[derive(Debug, Clone, Serialize)]
pub struct StepRecord {
    /// Step name.
    pub step: &'static str,
    /// Seconds from the rotation's start to the step's end.
    pub done_at_s: f64,
    /// Seconds the step took (all attempts).
    pub took_s: f64,
    /// Attempts made.
    pub attempts: usize,
    /// `None` when it succeeded; else the function's error message (never contains values).
    pub error: Option<String>,
}

/// One rotation as it ran.
#[derive(Debug, Clone, Serialize)]
pub struct RotationRecord {
    /// The ClientRequestToken (the new version's id).
    pub token: String,
    /// The steps.
    pub steps: Vec<StepRecord>,
    /// Whether every step succeeded.
    pub ok: bool,
}

/// Drives rotations of one secret through the rotator under the emulator.
pub struct RotationDriver {
    sm: aws_sdk_secretsmanager::Client,
    invoke_url: String,
    http: reqwest::Client,
}

impl RotationDriver {
    /// A driver invoking the rotator at `invoke_url`.
    pub fn new(sm: aws_sdk_secretsmanager::Client, invoke_url: String) -> Result<Self, Error> {
        // A step may wait for propagation and deployment: allow the Lambda maximum.
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(900))
            // The emulator is on loopback: never through a proxy from HTTP_PROXY and the like.
            .no_proxy()
            .build()
            .map_err(Error::http)?;
        Ok(Self { sm, invoke_url, http })
    }

    /// One whole rotation of `secret`; `on_step` sees each step as it ends.
    pub async fn rotate(&self, secret: &str, on_step: &(dyn Fn(&StepRecord) + Sync)) -> RotationRecord {
        let token = new_token();
        stage_rotation(&self.sm, secret, &token).await;
        let start = Instant::now();
        let mut steps = Vec::new();
        for step in STEPS {
            let began = Instant::now();
            let mut error = None;
            let mut attempts = 0;
            while attempts < ATTEMPTS {
                attempts += 1;
                error = self.invoke(step, secret, &token).await.err();
                if error.is_none() {
                    break;
                }
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
            let failed = error.is_some();
            let record = StepRecord {
                step,
                done_at_s: start.elapsed().as_secs_f64(),
                took_s: began.elapsed().as_secs_f64(),
                attempts,
                error,
            };
            on_step(&record);
            steps.push(record);
            if failed {
                return RotationRecord {
                    token,
                    steps,
                    ok: false,
                };
            }
        }
        RotationRecord {
            token,
            steps,
            ok: true,
        }
    }

    async fn invoke(&self, step: &str, secret: &str, token: &str) -> Result<(), String> {
        let event = serde_json::json!({ "Step": step, "SecretId": secret, "ClientRequestToken": token });
        let res = self
            .http
            .post(&self.invoke_url)
            .body(event.to_string())
            .send()
            .await
            .map_err(|e| e.to_string())?;
        let status = res.status();
        let body: serde_json::Value =
            serde_json::from_slice(&res.bytes().await.unwrap_or_default()).unwrap_or_default();
        match body.get("errorMessage").and_then(|m| m.as_str()) {
            Some(message) => Err(message.to_owned()),
            None if status.is_success() => Ok(()),
            None => Err(format!("HTTP {status}")),
        }
    }
}
