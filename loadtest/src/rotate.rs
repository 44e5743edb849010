//! Rotations during a run: a local shell command or Secrets Manager's RotateSecret, each marked on the
//! timeline when it starts and when it ends.

use std::fmt;
use std::fs::File;
use std::path::PathBuf;
use std::process::Stdio;
use std::time::{Duration, Instant};

use aws_sdk_secretsmanager::error::{DisplayErrorContext, ProvideErrorMetadata};
use backon::{ConstantBuilder, Retryable};

use crate::{units, Timeline};

/// How each rotation is done.
#[derive(Clone)]
pub enum RotationAction {
    /// Run `sh -c <command>`; stdout and stderr go to `log_dir/rotation-N.log`. The command sees
    /// `ORIGIN_VERIFY_ROTATION=N` in its environment.
    Command {
        /// The shell command.
        command: String,
        /// Where the logs go (must exist).
        log_dir: PathBuf,
    },
    /// Call Secrets Manager `RotateSecret`, then watch (DescribeSecret every 2 s) for the new version
    /// to become AWSCURRENT.
    Secret {
        /// A Secrets Manager client (see [`secrets_manager_client`]).
        client: aws_sdk_secretsmanager::Client,
        /// Name or ARN of the secret.
        secret_id: String,
    },
}

impl fmt::Debug for RotationAction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RotationAction::Command { command, log_dir } => f
                .debug_struct("Command")
                .field("command", command)
                .field("log_dir", log_dir)
                .finish(),
            RotationAction::Secret { secret_id, .. } => f
                .debug_struct("Secret")
                .field("secret_id", secret_id)
                .finish_non_exhaustive(),
        }
    }
}

/// When to rotate, and how.
#[derive(Clone, Debug)]
pub struct RotationSchedule {
    /// Offsets from the run's start. Rotations run one after the other: one that is due while the
    /// previous is still running starts when that one ends (Secrets Manager refuses overlapping
    /// rotations anyway).
    pub at: Vec<Duration>,
    /// How.
    pub action: RotationAction,
    /// Normally the run's duration. A rotation not started by then is skipped, and a Secrets Manager
    /// rotation is watched for completion until then (marks after the run are not drawn). A command
    /// that is running is always waited for: killing a rotation half-way could leave the system in a
    /// state nobody meant to test.
    pub until: Duration,
}

/// How one rotation went.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RotationOutcome {
    /// 1-based number, as in the marks.
    pub n: usize,
    /// Whether it succeeded (exit 0; RotateSecret accepted).
    pub ok: bool,
    /// The final mark's label.
    pub detail: String,
}

/// A Secrets Manager client from the usual AWS configuration chain (environment, profile, ...).
pub async fn secrets_manager_client() -> aws_sdk_secretsmanager::Client {
    let config = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .load()
        .await;
    aws_sdk_secretsmanager::Client::new(&config)
}

/// Runs the schedule against `timeline`'s clock (waiting for the run to start), marking each rotation.
pub async fn run_rotations(schedule: RotationSchedule, timeline: Timeline) -> Vec<RotationOutcome> {
    let mut at = schedule.at.clone();
    at.sort();
    let mut outcomes = Vec::with_capacity(at.len());
    for (i, offset) in at.into_iter().enumerate() {
        let n = i + 1;
        timeline.sleep_until_elapsed(offset).await;
        if timeline
            .elapsed()
            .is_some_and(|elapsed| elapsed >= schedule.until)
        {
            let detail = format!("rotation {n} skipped: the run had ended before it could start");
            outcomes.push(RotationOutcome { n, ok: false, detail });
            continue;
        }
        let outcome = match &schedule.action {
            RotationAction::Command { command, log_dir } => {
                by_command(n, command, log_dir.join(format!("rotation-{n}.log")), &timeline).await
            }
            RotationAction::Secret { client, secret_id } => {
                by_secret(n, client, secret_id, schedule.until, &timeline).await
            }
        };
        outcomes.push(outcome);
    }
    outcomes
}

fn finish(n: usize, ok: bool, label: String, timeline: &Timeline) -> RotationOutcome {
    timeline.mark(label.clone());
    RotationOutcome { n, ok, detail: label }
}

async fn by_command(n: usize, command: &str, log: PathBuf, timeline: &Timeline) -> RotationOutcome {
    let files = File::create(&log).and_then(|out| Ok((out.try_clone()?, out)));
    let (stdout, stderr) = match files {
        Ok(files) => files,
        Err(e) => {
            let label = format!("rotation {n} not started (log file {}: {e})", log.display());
            return finish(n, false, label, timeline);
        }
    };
    timeline.mark(format!("rotation {n} started"));
    let began = Instant::now();
    let child = tokio::process::Command::new("sh")
        .arg("-c")
        .arg(command)
        .env("ORIGIN_VERIFY_ROTATION", n.to_string())
        .stdin(Stdio::null())
        .stdout(stdout)
        .stderr(stderr)
        .spawn();
    let status = match child {
        Ok(mut child) => child.wait().await,
        Err(e) => Err(e),
    };
    let took = units::offset_ms(u64::try_from(began.elapsed().as_millis()).unwrap_or(u64::MAX));
    match status {
        Ok(status) if status.success() => {
            finish(n, true, format!("rotation {n} done (exit 0, {took})"), timeline)
        }
        Ok(status) => {
            let code = status
                .code()
                .map_or_else(|| "killed by a signal".to_string(), |c| format!("exit {c}"));
            finish(
                n,
                false,
                format!("rotation {n} failed ({code}, {took})"),
                timeline,
            )
        }
        Err(e) => finish(n, false, format!("rotation {n} failed to run sh: {e}"), timeline),
    }
}

/// Why a poll for AWSCURRENT did not succeed yet.
enum NotYet {
    Pending,
    Describe(String),
}

async fn by_secret(
    n: usize,
    client: &aws_sdk_secretsmanager::Client,
    secret_id: &str,
    watch_until: Duration,
    timeline: &Timeline,
) -> RotationOutcome {
    timeline.mark(format!("rotation {n} started"));
    let began = Instant::now();
    let version = match client.rotate_secret().secret_id(secret_id).send().await {
        Ok(out) => out.version_id().unwrap_or_default().to_string(),
        Err(e) => {
            let label = format!("rotation {n} failed: RotateSecret: {}", sdk_error(&e));
            return finish(n, false, label, timeline);
        }
    };
    // Version ids are not secret; the project's logs carry them too.
    let short: String = version.chars().take(8).collect();
    timeline.mark(format!("rotation {n} requested (version {short})"));

    // RotateSecret returns once the rotation has started; it is over when the new version is current.
    let poll = || async {
        let described = client
            .describe_secret()
            .secret_id(secret_id)
            .send()
            .await
            .map_err(|e| NotYet::Describe(sdk_error(&e)))?;
        let current = described
            .version_ids_to_stages()
            .and_then(|stages| stages.get(&version))
            .is_some_and(|stages| stages.iter().any(|s| s == "AWSCURRENT"));
        if current {
            Ok(())
        } else {
            Err(NotYet::Pending)
        }
    };
    let mut last_error = None;
    let watch = poll
        .retry(
            ConstantBuilder::default()
                .with_delay(Duration::from_secs(2))
                .without_max_times(),
        )
        .notify(|e: &NotYet, _| {
            if let NotYet::Describe(e) = e {
                last_error = Some(e.clone());
            }
        });
    let remaining = watch_until.saturating_sub(timeline.elapsed().unwrap_or_default());
    let watched = tokio::time::timeout(remaining, watch).await;
    match watched {
        Ok(Ok(())) => {
            let took = units::offset_ms(u64::try_from(began.elapsed().as_millis()).unwrap_or(u64::MAX));
            finish(
                n,
                true,
                format!("rotation {n} done (AWSCURRENT after {took})"),
                timeline,
            )
        }
        // The loop retries forever; only the timeout ends it.
        Ok(Err(_)) => finish(n, false, format!("rotation {n}: watching stopped"), timeline),
        Err(_) => RotationOutcome {
            n,
            // RotateSecret was accepted; completion simply falls after the run.
            ok: true,
            detail: match last_error {
                None => format!("rotation {n} requested, not yet AWSCURRENT when the run ended"),
                Some(e) => format!("rotation {n} requested; DescribeSecret failed: {e}"),
            },
        },
    }
}

/// A one-line account of an SDK error: the service's code and message when it answered, otherwise the
/// first part of the error chain (the full chain, with raw response and headers, is far too long for a
/// marker).
fn sdk_error<E, R>(e: &aws_sdk_secretsmanager::error::SdkError<E, R>) -> String
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
    R: fmt::Debug,
{
    match (e.code(), e.message()) {
        (Some(code), Some(message)) => format!("{code}: {message}"),
        (Some(code), None) => code.to_string(),
        _ => {
            let text = DisplayErrorContext(e).to_string();
            let mut short: String = text.chars().take(160).collect();
            if short.len() < text.len() {
                short.push('…');
            }
            short
        }
    }
}
