//! The four rotation steps and the contract's preamble.

use std::sync::Mutex;
use std::time::Instant;

use origin_verify_shared::{HeaderSecret, Sensitive};

use crate::cloudfront::HeaderUpdate;
use crate::secrets::{Described, CURRENT, PENDING};
use crate::{Error, RotatorConfig, Step};

/// What a step did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// The step did its work.
    Done,
    /// Nothing to do: the reason.
    Skipped(&'static str),
    /// testSecret on an AWSPENDING version without a value (RotateImmediately=false): the configuration
    /// was checked, nothing was written.
    ConfigurationChecked,
}

/// The step being run, for errors and logs.
#[derive(Debug, Clone, Copy)]
pub struct Ctx<'a> {
    /// The step.
    pub step: Step,
    /// The secret id from the event.
    pub secret: &'a str,
    /// The ClientRequestToken: the id of the version being rotated in.
    pub token: &'a str,
}

/// Runs rotation steps against Secrets Manager, CloudFront and the origin.
#[derive(Debug)]
pub struct Rotator {
    pub(crate) sm: aws_sdk_secretsmanager::Client,
    pub(crate) cf: aws_sdk_cloudfront::Client,
    pub(crate) http: reqwest::Client,
    pub(crate) config: RotatorConfig,
    calls: Mutex<Vec<&'static str>>,
    timings: crate::metrics::Timings,
}

impl Rotator {
    /// A rotator using these clients. Test requests time out after `ROTATION_HTTP_TIMEOUT_SECONDS`.
    pub fn new(
        sm: aws_sdk_secretsmanager::Client,
        cf: aws_sdk_cloudfront::Client,
        config: RotatorConfig,
    ) -> Result<Self, reqwest::Error> {
        let http = reqwest::Client::builder()
            .timeout(config.http_timeout)
            .connect_timeout(config.http_timeout)
            // A redirect would take the header (reqwest keeps custom headers across hosts, even from https
            // to http) to whatever the Location names, and that server's 2xx would pass the test: a 3xx
            // fails the test instead (`probe`).
            .redirect(reqwest::redirect::Policy::none())
            // reqwest sends through HTTP_PROXY / HTTPS_PROXY / ALL_PROXY from the environment by default: a
            // proxy would see every value. Test requests go straight to the API.
            .no_proxy()
            .build()?;
        Ok(Self {
            sm,
            cf,
            http,
            config,
            calls: Mutex::new(Vec::new()),
            timings: crate::metrics::Timings::default(),
        })
    }

    /// The calls made since the last call of this method (AWS operations and "HTTP GET"), in order.
    pub fn take_calls(&self) -> Vec<&'static str> {
        std::mem::take(&mut *self.calls.lock().unwrap_or_else(|e| e.into_inner()))
    }

    /// What this process saw of the rotation `token`, which finishSecret has just completed (for its
    /// metrics line); forgotten afterwards.
    pub fn rotation_completed(&self, token: &str) -> crate::metrics::RotationTimes {
        self.timings.completed(token)
    }

    /// The configuration it runs with.
    pub fn config(&self) -> &RotatorConfig {
        &self.config
    }

    pub(crate) fn record(&self, call: &'static str) {
        self.calls.lock().unwrap_or_else(|e| e.into_inner()).push(call);
    }

    /// Runs one step for `secret` and the version `token`, as Secrets Manager asks for it.
    pub async fn run(&self, step: &str, secret: &str, token: &str) -> Result<Outcome, Error> {
        let step = Step::parse(step).ok_or_else(|| Error::UnknownStep(step.to_owned()))?;
        let ctx = Ctx { step, secret, token };
        self.timings.step_started(token);
        let described = self.describe(&ctx).await?;
        let refuse = |problem| Error::Preamble {
            step,
            secret: secret.to_owned(),
            token: token.to_owned(),
            problem,
        };
        if !described.rotation_enabled {
            return Err(refuse("rotation is not enabled for this secret"));
        }
        if !described.stages.contains_key(token) {
            return Err(refuse("the secret has no version with this id"));
        }
        if described.has(token, CURRENT) {
            // Every step's work is done once the version is current, except finishSecret's second half:
            // `finish` itself skips what is already done.
            if step != Step::Finish {
                return Ok(Outcome::Skipped("the version is already AWSCURRENT"));
            }
        } else if !described.has(token, PENDING) {
            return Err(refuse("the version is not labelled AWSPENDING"));
        }
        match step {
            Step::Create => self.create(&ctx).await,
            Step::Set => self.set(&ctx).await,
            Step::Test => self.test(&ctx).await,
            Step::Finish => self.finish(&ctx, &described).await,
        }
    }

    /// createSecret: a new random value as AWSPENDING, in the format of the current one. Idempotent.
    async fn create(&self, ctx: &Ctx<'_>) -> Result<Outcome, Error> {
        if self.get_value(ctx, Some(ctx.token), PENDING).await?.is_some() {
            return Ok(Outcome::Skipped("the AWSPENDING value already exists"));
        }
        let current = self.require(ctx, None, CURRENT).await?;
        let parsed = self.parse(ctx, &current.secret_string, CURRENT)?;
        let value = self.random_value(ctx).await?;
        let rendered = parsed
            .render(current.secret_string.expose(), value.expose())
            .map_err(|problem| self.format_error(ctx, CURRENT, problem))?;
        self.put_pending(ctx, &rendered).await?;
        Ok(Outcome::Done)
    }

    /// setSecret: wait until every authorizer can know the value, prove the origin accepts it, and only
    /// then give it to CloudFront.
    async fn set(&self, ctx: &Ctx<'_>) -> Result<Outcome, Error> {
        let pending = self.require(ctx, Some(ctx.token), PENDING).await?;
        // The value became readable at the latest here: the wait counts from this moment.
        let readable = Instant::now();
        let value = self.parse(ctx, &pending.secret_string, PENDING)?.value;
        // Why counting from this run's own read is enough, and why nothing needs to be stored:
        // - The guarantee (README, "Rotation") needs `ROTATION_PROPAGATION_SECONDS` between the moment the
        //   value became readable and the first request that presents it (the origin probe, then the edges).
        //   This run read it at `readable`, so waiting from there is enough, however long the version had
        //   been empty before (RotateSecret creates it empty; createSecret may succeed only on a retry).
        // - The version's CreatedDate is not used: it can be the empty version's, and whether PutSecretValue
        //   moves it is not documented. A time createSecret wrote into the secret would be taken before the
        //   PutSecretValue that makes the value readable (its latency and retries would come off the wait),
        //   has no place in a plain-string secret, and would be copied into every later version.
        // - A run stopped during the wait (timeout, kill) leaves nothing behind, so the retry waits in full
        //   again: time lost, never safety. Once any origin sends the value, an earlier run has finished its
        //   wait (only setSecret writes the value, and only after waiting), so a retry does not wait again.
        if self.sent_anywhere(ctx, &value).await? {
            tracing::info!("an origin already sends the AWSPENDING value: an earlier setSecret waited");
        } else {
            let waiting = Instant::now();
            self.wait_for_propagation(readable).await;
            self.timings.propagation_waited(ctx.token, waiting.elapsed());
        }
        for url in &self.config.origin_test_urls {
            self.probe(ctx, url, Some(&value), PENDING).await?;
        }
        let mut updated = 0;
        for distribution in &self.config.distribution_ids {
            match self.set_distribution_header(ctx, distribution, &value).await? {
                HeaderUpdate::Updated(origins) => {
                    updated += 1;
                    tracing::info!(
                        distribution,
                        ?origins,
                        "origin header set to the AWSPENDING value"
                    );
                }
                HeaderUpdate::AlreadySet => tracing::info!(distribution, "origin header already set"),
            }
        }
        Ok(if updated == 0 {
            Outcome::Skipped("every distribution already sends the value")
        } else {
            Outcome::Done
        })
    }

    /// Sleeps until `ROTATION_PROPAGATION_SECONDS` have passed since `readable`.
    async fn wait_for_propagation(&self, readable: Instant) {
        let remaining = self.config.propagation.saturating_sub(readable.elapsed());
        if !remaining.is_zero() {
            tracing::info!(
                wait_secs = remaining.as_secs_f64(),
                "waiting for every authorizer to refresh before CloudFront may send the new value"
            );
            tokio::time::sleep(remaining).await;
        }
    }

    /// testSecret: both values at the origin, every origin sending the new one and CloudFront deployed,
    /// then through CloudFront.
    ///
    /// Secrets Manager also runs testSecret alone, to test the configuration, when rotation is set up with
    /// RotateImmediately=false (a RotationSchedule with `RotateImmediatelyOnUpdate: false`, at every stack
    /// create and schedule change): on a temporary AWSPENDING version, without a value, that it removes
    /// afterwards. There is no new value to test then and nothing may be written (the version will never
    /// become current), so the step checks what a rotation will need: the current value is readable and
    /// admitted by the origin, every distribution can be read, and the URLs through CloudFront answer.
    async fn test(&self, ctx: &Ctx<'_>) -> Result<Outcome, Error> {
        let current = self.require(ctx, None, CURRENT).await?;
        let current = self.parse(ctx, &current.secret_string, CURRENT)?.value;
        let Some(pending) = self.get_value(ctx, Some(ctx.token), PENDING).await? else {
            let set_up = self.check_distributions(ctx, &current).await?;
            for url in &self.config.origin_test_urls {
                match self.probe(ctx, url, Some(&current), CURRENT).await {
                    // Right after `templates/protect-existing.yaml` is created, the routes do not require
                    // the header yet (docs/deploy.md, steps 2 and 3 come after the stack, which creates the
                    // authorizer): failing here would fail the stack. No origin sends the header then, and
                    // the current value was not sent to the URL; setSecret refuses such a URL in any case.
                    Err(err) if err.is_unprotected() && !set_up => tracing::warn!(
                        error = %err,
                        "no origin sends the header yet and the test URL admits a wrong value: finish the setup (docs/deploy.md, Protect an existing API); a rotation fails until then"
                    ),
                    result => result?,
                }
            }
            self.probe_through_cloudfront(ctx).await?;
            return Ok(Outcome::ConfigurationChecked);
        };
        let pending = self.parse(ctx, &pending.secret_string, PENDING)?.value;
        for url in &self.config.origin_test_urls {
            self.probe(ctx, url, Some(&pending), PENDING).await?;
            self.probe(ctx, url, Some(&current), CURRENT).await?;
        }
        let waiting = Instant::now();
        self.wait_sent_and_deployed(ctx, &pending).await?;
        self.timings.deploy_waited(ctx.token, waiting.elapsed());
        self.probe_through_cloudfront(ctx).await?;
        Ok(Outcome::Done)
    }

    async fn probe_through_cloudfront(&self, ctx: &Ctx<'_>) -> Result<(), Error> {
        for url in &self.config.cloudfront_test_urls {
            self.probe(ctx, url, None, "no header (through CloudFront)")
                .await?;
        }
        Ok(())
    }

    /// finishSecret: once every distribution sends the new value and is deployed, AWSCURRENT moves to the
    /// new version (the old one gets AWSPREVIOUS), then AWSPENDING comes off it.
    async fn finish(&self, ctx: &Ctx<'_>, described: &Described) -> Result<Outcome, Error> {
        // Two label moves; a retry after a stop between them (AWSCURRENT moved, AWSPENDING still on the
        // version) does only the second, so the rotation still ends clean.
        let moved = described.has(ctx.token, CURRENT);
        let pending = described.has(ctx.token, PENDING);
        if moved && !pending {
            return Ok(Outcome::Skipped("the version is already AWSCURRENT"));
        }
        if !moved {
            // The old value may be demoted only while every edge sends the new one: between testSecret and
            // now, a stack update or a person may have put another value back into the distribution.
            let pending = self.require(ctx, Some(ctx.token), PENDING).await?;
            let pending = self.parse(ctx, &pending.secret_string, PENDING)?.value;
            let waiting = Instant::now();
            self.wait_sent_and_deployed(ctx, &pending).await?;
            self.timings.deploy_waited(ctx.token, waiting.elapsed());
            let Some(current) = described.version_with(CURRENT) else {
                return Err(self.format_error(ctx, CURRENT, "no version is labelled AWSCURRENT".into()));
            };
            self.move_current(ctx, current).await?;
        }
        self.remove_pending(ctx).await?;
        Ok(Outcome::Done)
    }

    async fn require(
        &self,
        ctx: &Ctx<'_>,
        version: Option<&str>,
        stage: &'static str,
    ) -> Result<crate::secrets::Version, Error> {
        self.get_value(ctx, version, stage)
            .await?
            .ok_or_else(|| self.format_error(ctx, stage, format!("has no {stage} value")))
    }

    fn parse(
        &self,
        ctx: &Ctx<'_>,
        secret_string: &Sensitive,
        stage: &'static str,
    ) -> Result<HeaderSecret, Error> {
        HeaderSecret::parse(secret_string.expose(), &self.config.secret_key)
            .map_err(|problem| self.format_error(ctx, stage, problem))
    }

    fn format_error(&self, ctx: &Ctx<'_>, version: &str, problem: String) -> Error {
        Error::Format {
            step: ctx.step,
            secret: ctx.secret.to_owned(),
            version: version.to_owned(),
            problem,
        }
    }
}
