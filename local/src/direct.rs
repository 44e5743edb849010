//! Clients that go straight to their loopback server, never through a proxy.
//!
//! HTTP_PROXY, HTTPS_PROXY and ALL_PROXY are followed by default by reqwest and by the AWS SDK (behaviour
//! version 2025-08-07 and later), loopback included. What the local stack reads and sends carries the
//! secret: CloudFront's configuration holds the header value, Secrets Manager's answers hold the secret,
//! and the edge forwards the header. A proxy set for other tools would receive all of it.

use aws_smithy_http_client::tls::{self, rustls_provider::CryptoMode};

/// Added to the environment of every process the stack starts (the functions under the emulator): both
/// reqwest and the SDK read `*` as "no host goes through a proxy", whatever the other variables say.
pub const CHILD_ENV: [(&str, &str); 2] = [("NO_PROXY", "*"), ("no_proxy", "*")];

/// An HTTP client for the AWS SDK that uses no proxy: the SDK's own builder leaves proxies off unless
/// told otherwise. The same TLS stack as the SDK's default client (nothing more is compiled).
pub fn sdk_http_client() -> aws_smithy_runtime_api::client::http::SharedHttpClient {
    aws_smithy_http_client::Builder::new()
        .tls_provider(tls::Provider::Rustls(CryptoMode::AwsLc))
        .build_https()
}

/// `client` with its configuration kept and its HTTP client replaced by [`sdk_http_client`].
pub fn cloudfront(client: &aws_sdk_cloudfront::Client) -> aws_sdk_cloudfront::Client {
    let config = client
        .config()
        .to_builder()
        .http_client(sdk_http_client())
        .build();
    aws_sdk_cloudfront::Client::from_conf(config)
}

/// `client` with its configuration kept and its HTTP client replaced by [`sdk_http_client`].
pub fn secrets_manager(client: &aws_sdk_secretsmanager::Client) -> aws_sdk_secretsmanager::Client {
    let config = client
        .config()
        .to_builder()
        .http_client(sdk_http_client())
        .build();
    aws_sdk_secretsmanager::Client::from_conf(config)
}
