//! What the layer's tests share: the layer running under the Lambda emulator, reading moto through a
//! counting proxy, and secrets made for a test.
#![allow(dead_code)]

use std::path::PathBuf;
use std::time::{Duration, Instant};

use origin_verify_testkit::{
    free_port, shared_moto_url, sm_client, target_dir, unique_name, RuntimeApiRecorder, Sandbox, SlowProxy,
    REGION,
};
use serde_json::Value;

pub const TOKEN: &str = "test-session-token-of-this-sandbox";
pub const TOKEN_HEADER: &str = "X-Aws-Parameters-Secrets-Token";

pub fn layer_binary() -> PathBuf {
    let path = target_dir().join("debug").join("origin-verify-layer");
    assert!(
        path.exists(),
        "{} is missing: cargo build --workspace --bins first (scripts/test does)",
        path.display()
    );
    path
}

/// The layer running in a sandbox, its Secrets Manager calls counted by `proxy`.
pub struct Running {
    pub sandbox: Sandbox,
    pub recorder: RuntimeApiRecorder,
    pub proxy: SlowProxy,
    pub index: usize,
    /// `http://127.0.0.1:PORT` of the layer.
    pub url: String,
    pub port: String,
    pub http: reqwest::Client,
}

impl Running {
    pub async fn start(extra: &[(&str, &str)]) -> Self {
        Self::start_logged(extra, None).await
    }

    pub async fn start_logged(extra: &[(&str, &str)], log: Option<&std::path::Path>) -> Self {
        let proxy = SlowProxy::spawn(&shared_moto_url()).await;
        let mut sandbox = Sandbox::spawn().await;
        let recorder = RuntimeApiRecorder::spawn(&format!("http://{}", sandbox.runtime_api())).await;
        let port = free_port().to_string();
        let mut env = vec![
            ("AWS_SESSION_TOKEN", TOKEN),
            ("PARAMETERS_SECRETS_EXTENSION_HTTP_PORT", port.as_str()),
            ("AWS_ENDPOINT_URL", proxy.url.as_str()),
            ("AWS_REGION", REGION),
            ("AWS_ACCESS_KEY_ID", "testing"),
            ("AWS_SECRET_ACCESS_KEY", "testing"),
        ];
        env.extend_from_slice(extra);
        let api = recorder.url.trim_start_matches("http://").to_owned();
        let index = sandbox.start(&layer_binary(), &[], &env, Some(&api), log);
        let http = reqwest::Client::builder()
            .no_proxy()
            .timeout(Duration::from_secs(30))
            .build()
            .unwrap();
        let running = Self {
            sandbox,
            recorder,
            proxy,
            index,
            url: format!("http://127.0.0.1:{port}"),
            port: port.clone(),
            http,
        };
        // Lambda starts the function once every extension has registered and asked for its first event:
        // from that moment the layer must answer.
        let deadline = Instant::now() + Duration::from_secs(30);
        while !running.recorder.calls().iter().any(|c| c.is_extension_next()) {
            assert!(
                Instant::now() < deadline,
                "the layer never asked for its first event"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        running
    }

    pub async fn get(&self, path_and_query: &str) -> (u16, String) {
        self.request(path_and_query, &[(TOKEN_HEADER, TOKEN)]).await
    }

    pub async fn request(&self, path_and_query: &str, headers: &[(&str, &str)]) -> (u16, String) {
        let mut req = self.http.get(format!("{}{path_and_query}", self.url));
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        let res = req.send().await.expect("the layer answers");
        (res.status().as_u16(), res.text().await.unwrap())
    }

    pub async fn json(&self, path_and_query: &str) -> Value {
        let (status, body) = self.get(path_and_query).await;
        assert_eq!(status, 200, "{path_and_query}: {body}");
        serde_json::from_str(&body).expect("JSON")
    }
}

pub async fn create_secret(value: &str) -> (String, String) {
    let name = unique_name("layer");
    let out = sm_client(&shared_moto_url())
        .create_secret()
        .name(&name)
        .secret_string(value)
        .send()
        .await
        .expect("create secret");
    (name, out.arn.unwrap())
}

/// The fields of GetSecretValue as the SDK reads them from moto, in the layer's JSON form.
pub async fn from_secrets_manager(secret_id: &str, stage: Option<&str>) -> Value {
    let out = sm_client(&shared_moto_url())
        .get_secret_value()
        .secret_id(secret_id)
        .set_version_stage(stage.map(str::to_owned))
        .send()
        .await
        .expect("GetSecretValue");
    let mut stages = out.version_stages.unwrap_or_default();
    stages.sort();
    let mut json = serde_json::json!({
        "ARN": out.arn,
        "Name": out.name,
        "VersionId": out.version_id,
        "VersionStages": stages,
        "CreatedDate": out.created_date.map(|d| d.as_secs_f64()),
    });
    if let Some(s) = out.secret_string {
        json["SecretString"] = s.into();
    }
    if let Some(b) = out.secret_binary {
        json["SecretBinary"] = aws_smithy_types::base64::encode(b.as_ref()).into();
    }
    json
}
