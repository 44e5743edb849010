//! The `rotator` Lambda function, invoked by Secrets Manager once per rotation step.

use std::sync::Arc;
use std::time::Duration;

use aws_lambda_events::secretsmanager::SecretsManagerSecretRotationEvent;
use lambda_runtime::{service_fn, Diagnostic, LambdaEvent};
use origin_verify_rotator::metrics::{rotation_line, step_line};
use origin_verify_rotator::{Outcome, Rotator, RotatorConfig, Step};
use origin_verify_shared::Env;

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_runtime::Error> {
    lambda_runtime::tracing::init_default_subscriber();
    let config = RotatorConfig::from_env(&Env::PROCESS)
        .inspect_err(|err| tracing::error!(error = %err, "not starting"))?;
    let timeouts = aws_config::timeout::TimeoutConfig::builder()
        .connect_timeout(Duration::from_secs(3))
        .operation_timeout(Duration::from_secs(30))
        .build();
    let shared = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .timeout_config(timeouts)
        .load()
        .await;
    let rotator = Arc::new(Rotator::new(
        aws_sdk_secretsmanager::Client::new(&shared),
        aws_sdk_cloudfront::Client::new(&shared),
        config,
    )?);

    lambda_runtime::run(service_fn(
        move |event: LambdaEvent<SecretsManagerSecretRotationEvent>| {
            let rotator = Arc::clone(&rotator);
            async move {
                let e = event.payload;
                let started = std::time::Instant::now();
                let result = rotator.run(&e.step, &e.secret_id, &e.client_request_token).await;
                let calls = rotator.take_calls();
                match &result {
                    Ok(outcome) => tracing::info!(step = e.step, ?outcome, ?calls, "rotation step finished"),
                    Err(err) => tracing::error!(step = e.step, error = %err, ?calls, "rotation step failed"),
                }
                // Metrics (CloudWatch EMF): one line per step run, one per completed rotation.
                let function = &rotator.config().function_name;
                if let Some(step) = Step::parse(&e.step) {
                    step_line(function, step, started.elapsed(), result.is_ok()).print();
                    if step == Step::Finish && matches!(result, Ok(Outcome::Done)) {
                        rotation_line(function, &rotator.rotation_completed(&e.client_request_token)).print();
                    }
                }
                result.map(|_| ()).map_err(Diagnostic::from)
            }
        },
    ))
    .await
}
