//! The secret load's own time, for `scripts/measure-lambda`'s cold-start goal: in a fresh process, the
//! production Secrets Manager client (`default_client`, trust store from the environment as the
//! authorizer reads it), then the pair the authorizer's first load sends at once (DescribeSecret beside
//! GetSecretValue for AWSCURRENT), first cold, then warm. Prints one JSON line:
//! `{"client_ms":…,"first_pair_ms":…,"warm_pair_ms":…}` (warm: median of 20).
//!
//! Environment: `ORIGIN_VERIFY_SECRET_ID` and what the SDK reads (`AWS_ENDPOINT_URL`, region, keys).

use std::time::{Duration, Instant};

use origin_verify_extension::{default_client, Trust};
use origin_verify_shared::Env;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let id = std::env::var("ORIGIN_VERIFY_SECRET_ID")?;
    let started = Instant::now();
    let client = default_client(Trust::from_env(&Env::PROCESS)?).await;
    let client_ms = ms(started.elapsed());
    let pair = || async {
        let t = Instant::now();
        let (described, current) = tokio::join!(
            client.describe_secret().secret_id(&id).send(),
            client
                .get_secret_value()
                .secret_id(&id)
                .version_stage("AWSCURRENT")
                .send()
        );
        described.map_err(|e| format!("DescribeSecret: {e:?}"))?;
        current.map_err(|e| format!("GetSecretValue: {e:?}"))?;
        Ok::<_, String>(t.elapsed())
    };
    let first_pair_ms = ms(pair().await?);
    let mut warm = Vec::with_capacity(20);
    for _ in 0..20 {
        warm.push(pair().await?);
    }
    warm.sort();
    println!(
        r#"{{"client_ms":{client_ms:.3},"first_pair_ms":{first_pair_ms:.3},"warm_pair_ms":{:.3}}}"#,
        ms(warm[warm.len() / 2])
    );
    Ok(())
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}
