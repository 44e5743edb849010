//! The hello-world function with a no-op internal extension registered, as the authorizer registers its
//! cache: separates the cost of an extension under the emulator from the authorizer's own.

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_runtime::Error> {
    let extension = lambda_extension::Extension::new()
        .with_extension_name("noop")
        .with_events(&["INVOKE"])
        .with_events_processor(lambda_extension::service_fn(
            |_: lambda_extension::LambdaEvent| async { Ok::<(), lambda_extension::Error>(()) },
        ))
        .register()
        .await?;
    let handler = lambda_runtime::service_fn(|_: lambda_runtime::LambdaEvent<serde_json::Value>| async {
        Ok::<_, lambda_runtime::Error>(serde_json::json!({ "isAuthorized": true }))
    });
    tokio::try_join!(lambda_runtime::run(handler), extension.run())?;
    Ok(())
}
