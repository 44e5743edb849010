//! The smallest `lambda_runtime` function, built with the same profile as the authorizer: the baseline for
//! cold start, invocations per second and memory in `scripts/measure-lambda`.

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_runtime::Error> {
    lambda_runtime::run(lambda_runtime::service_fn(
        |_: lambda_runtime::LambdaEvent<serde_json::Value>| async {
            Ok::<_, lambda_runtime::Error>(serde_json::json!({ "isAuthorized": true }))
        },
    ))
    .await
}
