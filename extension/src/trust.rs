//! Which root certificates the Secrets Manager client trusts.
//!
//! Secrets Manager's endpoints present certificates issued by Amazon Trust Services, which chain to five
//! roots: Amazon Root CA 1–4 and Starfield Services Root Certificate Authority - G2. Amazon Trust Services
//! recommends that a custom trust store hold exactly those five (<https://www.amazontrust.com/repository/>;
//! the file `amazon-roots.pem` lists each one's subject and SPKI SHA-256, which match that page). Trusting
//! only them costs nothing to load at a cold start, where the platform's store is a bundle of ~140 roots
//! parsed once per sandbox (BENCHMARKS.md, "Cold start", has the measurement).
//!
//! The platform's store is used instead whenever the peer may be something else: a user who points
//! `SSL_CERT_FILE` or `SSL_CERT_DIR` at a bundle (an egress proxy that inspects TLS), a custom endpoint
//! (`AWS_ENDPOINT_URL*`: moto, a proxy, a local stand-in), a partition whose endpoints Amazon Trust
//! Services may not serve (China, the isolated regions), or `ORIGIN_VERIFY_TRUST_STORE=platform`.

use aws_smithy_http_client::proxy::ProxyConfig;
use aws_smithy_http_client::tls::{self, rustls_provider::CryptoMode, TlsContext, TrustStore};
use aws_smithy_http_client::ConnectorBuilder;
use aws_smithy_runtime_api::client::http::SharedHttpClient;
use origin_verify_shared::{ConfigError, Env};

/// The five roots, PEM, with a comment line before each.
const AMAZON_ROOTS: &str = include_str!("amazon-roots.pem");

/// The variable that forces a choice.
pub const TRUST_STORE_VAR: &str = "ORIGIN_VERIFY_TRUST_STORE";

/// The roots the client trusts, and why.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Trust {
    /// Amazon Trust Services' five roots only.
    AmazonRoots,
    /// The platform's store (the SDK's default), for the reason given.
    Platform(&'static str),
}

impl Trust {
    /// Decides from the environment (see the module docs).
    pub fn from_env(env: &Env<'_>) -> Result<Self, ConfigError> {
        match env.string(TRUST_STORE_VAR, "auto").as_str() {
            "amazon" => return Ok(Trust::AmazonRoots),
            "platform" => return Ok(Trust::Platform(TRUST_STORE_VAR)),
            "auto" => {}
            _ => {
                return Err(ConfigError::new(
                    TRUST_STORE_VAR,
                    "is not auto, amazon or platform",
                    "leave it unset (auto) unless you must force one",
                ))
            }
        }
        if env.get_first(&["SSL_CERT_FILE", "SSL_CERT_DIR"]).is_some() {
            return Ok(Trust::Platform("SSL_CERT_FILE or SSL_CERT_DIR is set"));
        }
        if env
            .get_first(&["AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_SECRETS_MANAGER"])
            .is_some()
        {
            return Ok(Trust::Platform("a custom endpoint is set"));
        }
        let region = env
            .get_first(&["AWS_REGION", "AWS_DEFAULT_REGION"])
            .unwrap_or_default();
        // The aws and aws-us-gov partitions are served under Amazon Trust Services' roots; the others
        // (aws-cn, aws-iso*) are not documented to be.
        if ["cn-", "us-iso", "eu-iso"].iter().any(|p| region.starts_with(p)) {
            return Ok(Trust::Platform(
                "the region is outside the aws and aws-us-gov partitions",
            ));
        }
        Ok(Trust::AmazonRoots)
    }

    /// The HTTP client to give the SDK, or `None` for the SDK's default (the platform's store). Proxy
    /// variables are honoured as by the SDK's default client.
    pub fn http_client(self) -> Option<SharedHttpClient> {
        match self {
            Trust::Platform(_) => None,
            Trust::AmazonRoots => {
                let store = TrustStore::empty()
                    .with_native_roots(false)
                    .with_pem_certificate(pem_blocks());
                let context = TlsContext::builder().with_trust_store(store).build().ok()?;
                // Built as the SDK builds its default client (aws-smithy-runtime's
                // `default_https_client`: rustls with aws-lc, the client's timeouts and sleep, proxy
                // variables followed as from behaviour version 2025-08-07), with only the trust store
                // changed.
                Some(aws_smithy_http_client::Builder::new().build_with_connector_fn(
                    move |settings, components| {
                        let mut builder = ConnectorBuilder::default()
                            .tls_provider(tls::Provider::Rustls(CryptoMode::AwsLc))
                            .tls_context(context.clone());
                        builder.set_connector_settings(settings.cloned());
                        if let Some(components) = components {
                            builder.set_sleep_impl(components.sleep_impl());
                        }
                        builder.set_proxy_config(Some(ProxyConfig::from_env()));
                        builder.build()
                    },
                ))
            }
        }
    }
}

/// The PEM blocks of [`AMAZON_ROOTS`] without the comment lines.
fn pem_blocks() -> String {
    AMAZON_ROOTS
        .lines()
        .filter(|line| !line.starts_with('#'))
        .flat_map(|line| [line, "\n"])
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use origin_verify_shared::table;

    fn trust(pairs: &[(&str, &str)]) -> Trust {
        Trust::from_env(&Env(&table(pairs))).unwrap()
    }

    #[test]
    fn amazon_roots_unless_the_peer_may_be_something_else() {
        assert_eq!(trust(&[("AWS_REGION", "eu-west-1")]), Trust::AmazonRoots);
        assert_eq!(trust(&[("AWS_REGION", "us-gov-west-1")]), Trust::AmazonRoots);
        assert_eq!(trust(&[]), Trust::AmazonRoots);
        for (var, value) in [
            ("SSL_CERT_FILE", "/etc/pki/corp.pem"),
            ("SSL_CERT_DIR", "/etc/pki/certs"),
            ("AWS_ENDPOINT_URL", "http://127.0.0.1:5000"),
            ("AWS_ENDPOINT_URL_SECRETS_MANAGER", "https://vpce.example"),
            ("AWS_REGION", "cn-north-1"),
            ("AWS_REGION", "us-iso-east-1"),
            ("ORIGIN_VERIFY_TRUST_STORE", "platform"),
        ] {
            assert!(
                matches!(trust(&[(var, value)]), Trust::Platform(_)),
                "{var}={value}"
            );
        }
        assert_eq!(
            trust(&[("SSL_CERT_FILE", "x"), ("ORIGIN_VERIFY_TRUST_STORE", "amazon")]),
            Trust::AmazonRoots
        );
        let err = Trust::from_env(&Env(&table(&[("ORIGIN_VERIFY_TRUST_STORE", "all")]))).unwrap_err();
        assert_eq!(err.var, TRUST_STORE_VAR);
    }

    #[test]
    fn the_bundle_is_the_five_roots_amazon_trust_services_names() {
        let pem = pem_blocks();
        assert_eq!(pem.matches("-----BEGIN CERTIFICATE-----").count(), 5);
        for name in [
            "Amazon Root CA 1",
            "Amazon Root CA 2",
            "Amazon Root CA 3",
            "Amazon Root CA 4",
            "Starfield Services Root Certificate Authority - G2",
        ] {
            assert!(AMAZON_ROOTS.contains(&format!("CN = {name};")), "{name}");
        }
        assert!(!pem.contains('#'));
        assert!(Trust::Platform("test").http_client().is_none());
    }

    /// The roots are parsed when the SDK first builds a connection (a malformed bundle would panic
    /// there, inside the first request): one request to a closed port builds it.
    #[tokio::test]
    async fn the_bundle_parses_when_the_first_connection_is_built() {
        let http = Trust::AmazonRoots.http_client().expect("a client");
        let config = aws_sdk_secretsmanager::Config::builder()
            .behavior_version(aws_sdk_secretsmanager::config::BehaviorVersion::latest())
            .region(aws_sdk_secretsmanager::config::Region::new("eu-west-1"))
            .credentials_provider(aws_sdk_secretsmanager::config::Credentials::new(
                "a", "b", None, None, "test",
            ))
            .endpoint_url("https://127.0.0.1:9")
            .http_client(http)
            .build();
        let err = aws_sdk_secretsmanager::Client::from_conf(config)
            .describe_secret()
            .secret_id("s")
            .send()
            .await
            .expect_err("nothing listens on port 9");
        assert!(
            matches!(err, aws_sdk_secretsmanager::error::SdkError::DispatchFailure(_)),
            "{err:?}"
        );
    }
}
