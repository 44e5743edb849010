//! The Secrets Manager calls a rotation makes. Every call is recorded (see [`Rotator::take_calls`]).

use std::collections::HashMap;

use aws_sdk_secretsmanager::error::{DisplayErrorContext, SdkError};
use origin_verify_shared::Sensitive;

use crate::rotation::{Ctx, Rotator};
use crate::Error;

/// Staging labels.
pub const CURRENT: &str = "AWSCURRENT";
/// Staging label of the version being rotated in.
pub const PENDING: &str = "AWSPENDING";

/// What DescribeSecret says about the secret.
#[derive(Debug)]
pub struct Described {
    /// Whether rotation is enabled.
    pub rotation_enabled: bool,
    /// Version id → staging labels.
    pub stages: HashMap<String, Vec<String>>,
}

impl Described {
    /// Whether `version` carries `stage`.
    pub fn has(&self, version: &str, stage: &str) -> bool {
        self.stages
            .get(version)
            .is_some_and(|s| s.iter().any(|l| l == stage))
    }

    /// The version carrying `stage`, if any.
    pub fn version_with(&self, stage: &str) -> Option<&str> {
        self.stages
            .iter()
            .find(|(_, s)| s.iter().any(|l| l == stage))
            .map(|(id, _)| id.as_str())
    }
}

/// One version's value.
pub struct Version {
    /// The whole SecretString.
    pub secret_string: Sensitive,
}

fn message<E: std::error::Error + 'static, R: std::fmt::Debug>(err: &SdkError<E, R>) -> String {
    DisplayErrorContext(err).to_string()
}

impl Rotator {
    fn sm_error<E: std::error::Error + 'static, R: std::fmt::Debug>(
        ctx: &Ctx<'_>,
        operation: &'static str,
        err: SdkError<E, R>,
    ) -> Error {
        Error::SecretsManager {
            step: ctx.step,
            operation,
            secret: ctx.secret.to_owned(),
            message: message(&err),
        }
    }

    pub(crate) async fn describe(&self, ctx: &Ctx<'_>) -> Result<Described, Error> {
        self.record("DescribeSecret");
        let out = self
            .sm
            .describe_secret()
            .secret_id(ctx.secret)
            .send()
            .await
            .map_err(|e| Self::sm_error(ctx, "DescribeSecret", e))?;
        Ok(Described {
            rotation_enabled: out.rotation_enabled.unwrap_or(false),
            stages: out.version_ids_to_stages.unwrap_or_default(),
        })
    }

    /// GetSecretValue naming the stage (and the version, when given). `None` when it has no value yet.
    pub(crate) async fn get_value(
        &self,
        ctx: &Ctx<'_>,
        version_id: Option<&str>,
        stage: &str,
    ) -> Result<Option<Version>, Error> {
        self.record("GetSecretValue");
        let result = self
            .sm
            .get_secret_value()
            .secret_id(ctx.secret)
            .set_version_id(version_id.map(str::to_owned))
            .version_stage(stage)
            .send()
            .await;
        match result {
            Ok(out) => {
                let Some(secret_string) = out.secret_string else {
                    return Err(Error::Format {
                        step: ctx.step,
                        secret: ctx.secret.to_owned(),
                        version: version_id.unwrap_or(stage).to_owned(),
                        problem: "it holds a SecretBinary; the header value must be a SecretString".into(),
                    });
                };
                Ok(Some(Version {
                    secret_string: Sensitive::new(secret_string),
                }))
            }
            Err(e)
                if e.as_service_error()
                    .is_some_and(|s| s.is_resource_not_found_exception()) =>
            {
                Ok(None)
            }
            Err(e) => Err(Self::sm_error(ctx, "GetSecretValue", e)),
        }
    }

    pub(crate) async fn random_value(&self, ctx: &Ctx<'_>) -> Result<Sensitive, Error> {
        self.record("GetRandomPassword");
        let out = self
            .sm
            .get_random_password()
            .password_length(self.config.secret_length)
            .exclude_punctuation(true)
            .set_exclude_characters(
                (!self.config.exclude_characters.is_empty()).then(|| self.config.exclude_characters.clone()),
            )
            .send()
            .await
            .map_err(|e| Self::sm_error(ctx, "GetRandomPassword", e))?;
        out.random_password
            .map(Sensitive::new)
            .ok_or_else(|| Error::SecretsManager {
                step: ctx.step,
                operation: "GetRandomPassword",
                secret: ctx.secret.to_owned(),
                message: "the answer held no password".into(),
            })
    }

    pub(crate) async fn put_pending(&self, ctx: &Ctx<'_>, secret_string: &Sensitive) -> Result<(), Error> {
        self.record("PutSecretValue");
        self.sm
            .put_secret_value()
            .secret_id(ctx.secret)
            .client_request_token(ctx.token)
            .secret_string(secret_string.expose())
            .version_stages(PENDING)
            .send()
            .await
            .map_err(|e| Self::sm_error(ctx, "PutSecretValue", e))?;
        Ok(())
    }

    /// Moves AWSCURRENT from `from` to the token's version (`from` then gets AWSPREVIOUS).
    pub(crate) async fn move_current(&self, ctx: &Ctx<'_>, from: &str) -> Result<(), Error> {
        self.record("UpdateSecretVersionStage");
        self.sm
            .update_secret_version_stage()
            .secret_id(ctx.secret)
            .version_stage(CURRENT)
            .move_to_version_id(ctx.token)
            .remove_from_version_id(from)
            .send()
            .await
            .map_err(|e| Self::sm_error(ctx, "UpdateSecretVersionStage", e))?;
        Ok(())
    }

    /// Takes AWSPENDING off the token's version once it is current, so the next rotation starts clean.
    pub(crate) async fn remove_pending(&self, ctx: &Ctx<'_>) -> Result<(), Error> {
        self.record("UpdateSecretVersionStage");
        self.sm
            .update_secret_version_stage()
            .secret_id(ctx.secret)
            .version_stage(PENDING)
            .remove_from_version_id(ctx.token)
            .send()
            .await
            .map_err(|e| Self::sm_error(ctx, "UpdateSecretVersionStage", e))?;
        Ok(())
    }
}
