//! Secrets Manager clients and secrets for tests.

use std::sync::atomic::{AtomicU32, Ordering};

use aws_sdk_secretsmanager::config::{BehaviorVersion, Credentials, Region};
use aws_sdk_secretsmanager::Client;

use crate::REGION;

/// A Secrets Manager client for the moto server at `url`, with dummy credentials.
pub fn sm_client(url: &str) -> Client {
    Client::from_conf(sm_config().endpoint_url(url).build())
}

/// What every test client of Secrets Manager starts from: the region, dummy credentials.
pub fn sm_config() -> aws_sdk_secretsmanager::config::Builder {
    aws_sdk_secretsmanager::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new(REGION))
        .credentials_provider(Credentials::new("testing", "testing", None, None, "testkit"))
}

/// A name unique within this test process and across runs against one moto.
pub fn unique_name(prefix: &str) -> String {
    static N: AtomicU32 = AtomicU32::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or_default();
    format!(
        "{prefix}-{}-{nanos}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    )
}

/// The JSON a secret holds, as the stack stores it.
pub fn header_json(value: &str) -> String {
    serde_json::json!({ "HEADERVALUE": value }).to_string()
}

/// Creates a secret whose AWSCURRENT is `{"HEADERVALUE": value}`; returns its version id.
pub async fn create_secret(client: &Client, name: &str, value: &str) -> String {
    let out = client
        .create_secret()
        .name(name)
        .secret_string(header_json(value))
        .send()
        .await
        .expect("CreateSecret");
    out.version_id.expect("version id")
}

/// Adds a version labelled AWSPENDING; returns its version id.
pub async fn put_pending(client: &Client, name: &str, value: &str) -> String {
    let token = new_token();
    client
        .put_secret_value()
        .secret_id(name)
        .client_request_token(&token)
        .secret_string(header_json(value))
        .version_stages("AWSPENDING")
        .send()
        .await
        .expect("PutSecretValue");
    token
}

/// Moves AWSCURRENT to `version_id` (as finishSecret does) and drops its AWSPENDING label.
pub async fn promote(client: &Client, name: &str, version_id: &str) {
    let described = client
        .describe_secret()
        .secret_id(name)
        .send()
        .await
        .expect("DescribeSecret");
    let current = described
        .version_ids_to_stages
        .unwrap_or_default()
        .into_iter()
        .find(|(_, stages)| stages.iter().any(|s| s == "AWSCURRENT"))
        .map(|(id, _)| id)
        .expect("a current version");
    client
        .update_secret_version_stage()
        .secret_id(name)
        .version_stage("AWSCURRENT")
        .move_to_version_id(version_id)
        .remove_from_version_id(current)
        .send()
        .await
        .expect("UpdateSecretVersionStage AWSCURRENT");
    client
        .update_secret_version_stage()
        .secret_id(name)
        .version_stage("AWSPENDING")
        .remove_from_version_id(version_id)
        .send()
        .await
        .expect("UpdateSecretVersionStage AWSPENDING");
}

/// A fresh ClientRequestToken (Secrets Manager wants 32 to 64 characters).
pub fn new_token() -> String {
    format!("{:0>36}", unique_name("t").replace('-', ""))
}

/// Version id → staging labels of a secret, now.
pub async fn stages(client: &Client, name: &str) -> std::collections::HashMap<String, Vec<String>> {
    let out = client
        .describe_secret()
        .secret_id(name)
        .send()
        .await
        .expect("DescribeSecret");
    let mut stages = out.version_ids_to_stages.unwrap_or_default();
    stages.retain(|_, labels| !labels.is_empty());
    stages
}

/// The header value the secret holds under `stage` (`None` when the stage has no value).
pub async fn stage_value(client: &Client, name: &str, stage: &str) -> Option<String> {
    let out = client
        .get_secret_value()
        .secret_id(name)
        .version_stage(stage)
        .send()
        .await
        .ok()?;
    let json: serde_json::Value = serde_json::from_str(&out.secret_string?).ok()?;
    json.get("HEADERVALUE")?.as_str().map(str::to_owned)
}

/// The id of the version labelled AWSCURRENT.
pub async fn current_version(client: &Client, name: &str) -> String {
    stages(client, name)
        .await
        .into_iter()
        .find(|(_, labels)| labels.iter().any(|l| l == "AWSCURRENT"))
        .map(|(id, _)| id)
        .expect("a current version")
}
