//! The CloudFront side: set the header on the origins the rotator protects (`CLOUDFRONT_ORIGIN_IDS`, each
//! `https-only` and pointing at the API), check that they all send it, and wait for deployment.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use aws_sdk_cloudfront::config::interceptors::AfterDeserializationInterceptorContextRef;
use aws_sdk_cloudfront::config::{ConfigBag, Intercept, RuntimeComponents};
use aws_sdk_cloudfront::error::{BoxError, DisplayErrorContext, SdkError};
use aws_sdk_cloudfront::types::DistributionConfig;
use backon::{ExponentialBuilder, Retryable};
use origin_verify_shared::Sensitive;

use crate::config_document::{self, EditError};
use crate::rotation::{Ctx, Rotator};
use crate::Error;

/// Attempts of one UpdateDistribution against concurrent changes (ETag conflicts).
pub const ETAG_ATTEMPTS: usize = 5;

/// What setting the header did to one distribution.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HeaderUpdate {
    /// The listed origins were updated.
    Updated(Vec<String>),
    /// Every matching origin already had the value: no UpdateDistribution call.
    AlreadySet,
}

/// One origin as far as the header is concerned: its id, where it points, how CloudFront reaches it, and
/// the value of the header when it sends it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OriginView {
    /// The origin id.
    pub id: String,
    /// Its `DomainName`.
    pub domain: String,
    /// Its `OriginProtocolPolicy` (`https-only`, ...); `None` when it is not a custom origin (S3).
    pub protocol: Option<String>,
    /// The value of the first header whose name matches (ignoring ASCII case), if any.
    pub sent: Option<Sensitive>,
}

/// What each origin of `config` sends under `header` (name matched ignoring ASCII case).
pub fn origins_of(config: &DistributionConfig, header: &str) -> Vec<OriginView> {
    let origins = config
        .origins
        .as_ref()
        .map(|o| o.items.as_slice())
        .unwrap_or_default();
    origins
        .iter()
        .map(|origin| OriginView {
            id: origin.id.clone(),
            domain: origin.domain_name.clone(),
            protocol: origin
                .custom_origin_config
                .as_ref()
                .map(|c| c.origin_protocol_policy.as_str().to_owned()),
            sent: origin
                .custom_headers
                .as_ref()
                .and_then(|h| {
                    h.items()
                        .iter()
                        .find(|h| h.header_name.eq_ignore_ascii_case(header))
                })
                .map(|h| Sensitive::new(h.header_value.clone())),
        })
        .collect()
}

/// What an origin the header belongs on needs for it to send a value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Need {
    /// It sends the value already.
    Nothing,
    /// It sends the header with another value.
    Replace,
    /// It does not send the header yet.
    Add,
}

/// Why [`targets`] found no origin to write.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TargetError {
    /// A listed origin id is not on the distribution: what is missing.
    Missing(String),
    /// A listed origin may not get the header.
    Refused {
        /// The origin id.
        origin: String,
        /// Why, naming the policy or the domain.
        problem: String,
    },
}

/// The only protocol policy under which CloudFront sends the header encrypted, whatever the viewer used.
pub const HTTPS_ONLY: &str = "https-only";

/// Whether the header may go to `origin`: CloudFront reaches it over HTTPS only, and it points at one of
/// the API's hosts (`api_hosts`: those of `ORIGIN_TEST_URLS`, which were checked at INIT and are the ones
/// the test requests prove to check the value).
fn admissible(origin: &OriginView, api_hosts: &[String]) -> Result<(), String> {
    match origin.protocol.as_deref() {
        Some(HTTPS_ONLY) => {}
        Some(other) => {
            return Err(format!(
                "its protocol policy is {other:?}, not {HTTPS_ONLY:?}: CloudFront could send the header over plain HTTP"
            ))
        }
        None => {
            return Err(format!(
                "it is not a custom origin with protocol policy {HTTPS_ONLY:?} (an S3 origin is never the API)"
            ))
        }
    }
    if !api_hosts.contains(&origin.domain.to_ascii_lowercase()) {
        return Err(format!(
            "it points at {:?}, which is not the API's host (no ORIGIN_TEST_URLS entry names it): the header would go to another server",
            origin.domain
        ));
    }
    Ok(())
}

/// The origins `header` belongs on, each with what it needs to send `value`: the origins listed in
/// `origin_ids`, in the distribution's order. Every listed id must be on the distribution, and every
/// listed origin must be [`admissible`]: an error otherwise, naming the origin, and nothing is written.
/// Origins not listed are never touched, whatever header they send.
pub fn targets(
    origins: &[OriginView],
    value: &str,
    origin_ids: &[String],
    api_hosts: &[String],
) -> Result<Vec<(String, Need)>, TargetError> {
    if let Some(missing) = origin_ids.iter().find(|id| !origins.iter().any(|o| &o.id == *id)) {
        return Err(TargetError::Missing(format!(
            "has no origin with id {missing:?} (CLOUDFRONT_ORIGIN_IDS)"
        )));
    }
    origins
        .iter()
        .filter(|o| origin_ids.contains(&o.id))
        .map(|o| {
            admissible(o, api_hosts).map_err(|problem| TargetError::Refused {
                origin: o.id.clone(),
                problem,
            })?;
            let need = match &o.sent {
                Some(sent) if sent.expose() == value => Need::Nothing,
                Some(_) => Need::Replace,
                None => Need::Add,
            };
            Ok((o.id.clone(), need))
        })
        .collect()
}

/// Keeps the body of a successful answer: the configuration document exactly as CloudFront sent it.
#[derive(Debug, Clone, Default)]
struct CaptureBody(Arc<Mutex<Option<Sensitive>>>);

impl CaptureBody {
    fn take(&self) -> Option<Sensitive> {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).take()
    }
}

impl Intercept for CaptureBody {
    fn name(&self) -> &'static str {
        "CaptureConfigDocument"
    }

    // After deserialisation the body has been read into memory; once per attempt, so the last one wins.
    fn read_after_deserialization(
        &self,
        context: &AfterDeserializationInterceptorContextRef<'_>,
        _runtime_components: &RuntimeComponents,
        _cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let response = context.response();
        let document = response
            .status()
            .is_success()
            .then(|| response.body().bytes())
            .flatten()
            .and_then(|b| std::str::from_utf8(b).ok())
            .map(|text| Sensitive::new(text.to_owned()));
        *self.0.lock().unwrap_or_else(|e| e.into_inner()) = document;
        Ok(())
    }
}

enum Attempt {
    Conflict,
    Failed(Error),
}

fn target_error(ctx: &Ctx<'_>, distribution: &str, err: TargetError) -> Error {
    match err {
        TargetError::Missing(problem) => Error::NoMatchingOrigin {
            step: ctx.step,
            distribution: distribution.to_owned(),
            problem,
        },
        TargetError::Refused { origin, problem } => Error::OriginRefused {
            step: ctx.step,
            distribution: distribution.to_owned(),
            origin,
            problem,
        },
    }
}

fn message<E: std::error::Error + 'static, R: std::fmt::Debug>(err: &SdkError<E, R>) -> String {
    DisplayErrorContext(err).to_string()
}

impl Rotator {
    fn cf_error<E: std::error::Error + 'static, R: std::fmt::Debug>(
        ctx: &Ctx<'_>,
        distribution: &str,
        operation: &'static str,
        err: SdkError<E, R>,
    ) -> Error {
        Error::CloudFront {
            step: ctx.step,
            operation,
            distribution: distribution.to_owned(),
            message: message(&err),
        }
    }

    /// Sets the header on one distribution; on an ETag conflict, reads again and retries with backoff.
    pub(crate) async fn set_distribution_header(
        &self,
        ctx: &Ctx<'_>,
        distribution: &str,
        value: &Sensitive,
    ) -> Result<HeaderUpdate, Error> {
        let backoff = ExponentialBuilder::new()
            .with_min_delay(Duration::from_millis(200))
            .with_max_delay(Duration::from_secs(5))
            .with_max_times(ETAG_ATTEMPTS - 1)
            .with_jitter();
        let attempt = || self.try_set_distribution_header(ctx, distribution, value);
        attempt
            .retry(backoff)
            .sleep(tokio::time::sleep)
            .when(|e| matches!(e, Attempt::Conflict))
            .notify(|_, delay| {
                tracing::warn!(
                    distribution,
                    retry_in_ms = delay.as_millis() as u64,
                    "ETag conflict; reading again"
                )
            })
            .await
            .map_err(|e| match e {
                Attempt::Conflict => Error::EtagConflict {
                    step: ctx.step,
                    distribution: distribution.to_owned(),
                    attempts: ETAG_ATTEMPTS,
                },
                Attempt::Failed(err) => err,
            })
    }

    /// One attempt: GetDistributionConfig, the header set in the document CloudFront returned (every other
    /// byte kept, see `config_document`), UpdateDistribution with that document and the ETag just read.
    async fn try_set_distribution_header(
        &self,
        ctx: &Ctx<'_>,
        distribution: &str,
        value: &Sensitive,
    ) -> Result<HeaderUpdate, Attempt> {
        let failed = |problem: String| {
            Attempt::Failed(Error::ConfigDocument {
                step: ctx.step,
                distribution: distribution.to_owned(),
                problem,
            })
        };
        self.record("GetDistributionConfig");
        let capture = CaptureBody::default();
        let out = self
            .cf
            .get_distribution_config()
            .id(distribution)
            .customize()
            .interceptor(capture.clone())
            .send()
            .await
            .map_err(|e| Attempt::Failed(Self::cf_error(ctx, distribution, "GetDistributionConfig", e)))?;
        let (Some(config), Some(etag)) = (out.distribution_config, out.e_tag) else {
            return Err(Attempt::Failed(Error::CloudFront {
                step: ctx.step,
                operation: "GetDistributionConfig",
                distribution: distribution.to_owned(),
                message: "the answer held no configuration or no ETag".into(),
            }));
        };
        let document = capture
            .take()
            .ok_or_else(|| failed("the answer's body could not be kept as UTF-8 text".into()))?;
        let header = &self.config.header;
        let edited = config_document::set_header(
            document.expose(),
            &origins_of(&config, header),
            header,
            value.expose(),
            &self.config.origin_ids,
            &self.config.api_hosts,
        )
        .map_err(|e| match e {
            EditError::Document(problem) => failed(problem),
            EditError::Target(e) => Attempt::Failed(target_error(ctx, distribution, e)),
        })?;
        let Some(body) = edited.document else {
            return Ok(HeaderUpdate::AlreadySet);
        };
        self.record("UpdateDistribution");
        let result = self
            .cf
            .update_distribution()
            .id(distribution)
            .if_match(etag)
            // Required by the SDK, and serialised by it; the request then carries the edited document
            // instead (before signing, so the signature covers what is sent).
            .distribution_config(config)
            .customize()
            .mutate_request(move |request| {
                let bytes = body.expose().as_bytes().to_vec();
                request
                    .headers_mut()
                    .insert("Content-Length", bytes.len().to_string());
                *request.body_mut() = bytes.into();
            })
            .send()
            .await;
        match result {
            Ok(_) => Ok(HeaderUpdate::Updated(edited.origins)),
            Err(e) if e.as_service_error().is_some_and(|s| s.is_precondition_failed()) => {
                Err(Attempt::Conflict)
            }
            Err(e) => Err(Attempt::Failed(Self::cf_error(
                ctx,
                distribution,
                "UpdateDistribution",
                e,
            ))),
        }
    }

    /// Whether any origin the header belongs on already sends `value`, on any distribution. Reads every
    /// distribution, so that a missing or refused origin fails setSecret before any request carries the
    /// value.
    pub(crate) async fn sent_anywhere(&self, ctx: &Ctx<'_>, value: &Sensitive) -> Result<bool, Error> {
        let mut sent = false;
        for distribution in &self.config.distribution_ids {
            self.record("GetDistributionConfig");
            let out = self
                .cf
                .get_distribution_config()
                .id(distribution)
                .send()
                .await
                .map_err(|e| Self::cf_error(ctx, distribution, "GetDistributionConfig", e))?;
            let config = out.distribution_config.ok_or_else(|| Error::CloudFront {
                step: ctx.step,
                operation: "GetDistributionConfig",
                distribution: distribution.clone(),
                message: "the answer held no configuration".into(),
            })?;
            let targets = self.targets_in(ctx, distribution, &config, value)?;
            sent |= targets.iter().any(|(_, need)| *need == Need::Nothing);
        }
        Ok(sent)
    }

    fn targets_in(
        &self,
        ctx: &Ctx<'_>,
        distribution: &str,
        config: &DistributionConfig,
        value: &Sensitive,
    ) -> Result<Vec<(String, Need)>, Error> {
        targets(
            &origins_of(config, &self.config.header),
            value.expose(),
            &self.config.origin_ids,
            &self.config.api_hosts,
        )
        .map_err(|e| target_error(ctx, distribution, e))
    }

    /// GetDistribution: its status and the configuration that status describes, from one answer.
    async fn status_and_config(
        &self,
        ctx: &Ctx<'_>,
        distribution: &str,
    ) -> Result<(String, DistributionConfig), Error> {
        self.record("GetDistribution");
        let out = self
            .cf
            .get_distribution()
            .id(distribution)
            .send()
            .await
            .map_err(|e| Self::cf_error(ctx, distribution, "GetDistribution", e))?;
        out.distribution
            .and_then(|d| d.distribution_config.map(|c| (d.status, c)))
            .ok_or_else(|| Error::CloudFront {
                step: ctx.step,
                operation: "GetDistribution",
                distribution: distribution.to_owned(),
                message: "the answer held no distribution configuration".into(),
            })
    }

    /// Waits until every configured distribution is `Deployed` with every origin the header belongs on
    /// sending `value`, within `ROTATION_DEPLOY_WAIT_SECONDS`. Status and configuration come from the same
    /// GetDistribution answer, so `Deployed` here means every edge sends what that configuration says.
    ///
    /// An origin that sends another value fails the step at once ([`Error::NotCarried`]), and nothing is
    /// written back from here: testSecret also runs alone, on a temporary version whose value must never
    /// reach CloudFront (RotateImmediately=false), and a value put back here would skip setSecret's wait.
    /// The failed step leaves AWSCURRENT where it is, where CloudFront's value is accepted; Secrets Manager
    /// retries the rotation, and its setSecret sets the value again, after the wait if it must.
    pub(crate) async fn wait_sent_and_deployed(&self, ctx: &Ctx<'_>, value: &Sensitive) -> Result<(), Error> {
        let start = Instant::now();
        for distribution in &self.config.distribution_ids {
            // Bounded: every round sleeps `deploy_poll`, and the budget check ends the step in time.
            loop {
                let (status, config) = self.status_and_config(ctx, distribution).await?;
                let not_sending: Vec<String> = self
                    .targets_in(ctx, distribution, &config, value)?
                    .into_iter()
                    .filter(|(_, need)| *need != Need::Nothing)
                    .map(|(id, _)| id)
                    .collect();
                if !not_sending.is_empty() {
                    return Err(Error::NotCarried {
                        step: ctx.step,
                        distribution: distribution.clone(),
                        origins: not_sending,
                    });
                }
                if status == "Deployed" {
                    break;
                }
                let waited = start.elapsed();
                if waited + self.config.deploy_poll > self.config.deploy_wait {
                    return Err(Error::NotDeployed {
                        step: ctx.step,
                        distribution: distribution.clone(),
                        status,
                        waited_secs: waited.as_secs(),
                    });
                }
                tracing::info!(distribution, status, "waiting for CloudFront to deploy");
                tokio::time::sleep(self.config.deploy_poll).await;
            }
        }
        Ok(())
    }

    /// testSecret's check without a new value (see `Rotator::test`): every distribution can be read, and
    /// the origins the header belongs on are there and may get it (a missing or refused origin fails the
    /// step: it would fail every rotation). An origin that does not send the header yet, or sends another
    /// value than `current`, is logged, not failed: right after `templates/protect-existing.yaml` is
    /// deployed, the distribution does not send the header yet (docs/deploy.md, step 2). Returns whether
    /// any of those origins sends the header at all (whatever its value): whether the setup is done.
    pub(crate) async fn check_distributions(
        &self,
        ctx: &Ctx<'_>,
        current: &Sensitive,
    ) -> Result<bool, Error> {
        let mut set_up = false;
        for distribution in &self.config.distribution_ids {
            let (status, config) = self.status_and_config(ctx, distribution).await?;
            let targets = self.targets_in(ctx, distribution, &config, current)?;
            set_up |= targets.iter().any(|(_, need)| *need != Need::Add);
            let other: Vec<&str> = targets
                .iter()
                .filter(|(_, need)| *need != Need::Nothing)
                .map(|(id, _)| id.as_str())
                .collect();
            if other.is_empty() {
                tracing::info!(distribution, status, "every origin sends the AWSCURRENT value");
            } else {
                tracing::warn!(
                    distribution,
                    origins = ?other,
                    "origins send another value than AWSCURRENT, or none: the authorizer refuses their requests until setSecret writes the value"
                );
            }
        }
        Ok(set_up)
    }
}
