//! The load generator: an open loop per target, paced by a rate limiter, capped by a semaphore.

use std::num::NonZeroU32;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant, SystemTime};

use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};
use reqwest::header::HeaderMap;
use reqwest::{Client, Url};
use tokio::sync::Semaphore;
use tokio::task::JoinSet;

use crate::progress::{Progress, Reporter};
use crate::record::{self, Outcome, Recorder};
use crate::report::{PlanInfo, Report};
use crate::{Error, Plan, Target, Timeline};

/// Extra time past `request_timeout` before the run stops waiting for a request regardless (the
/// client's own timeout should always fire first).
const GRACE: Duration = Duration::from_millis(500);

/// Runs `plan`, marking its start on `timeline`, and returns the report. Progress goes to stderr.
///
/// Nothing is sent unless the whole plan is valid (see [`Plan::validate`]). Requests start at
/// `rate_per_target` per second per target, whatever the responses do, for `plan.duration`; requests
/// still in flight then get up to `request_timeout`. Requests go straight to their targets: proxy
/// environment variables (`HTTP_PROXY`, `HTTPS_PROXY`, `ALL_PROXY`) are ignored in both modes.
pub async fn run(plan: &Plan, timeline: Timeline) -> Result<Report, Error> {
    run_with_progress(plan, timeline, Progress::Stderr).await
}

/// [`run`], choosing where progress goes.
pub async fn run_with_progress(plan: &Plan, timeline: Timeline, progress: Progress) -> Result<Report, Error> {
    let prepared = plan.prepare()?;
    let client = Client::builder()
        .timeout(plan.request_timeout)
        .connect_timeout(plan.request_timeout)
        // A redirect is an answer to count, not to follow: following it would also let a local-mode
        // run reach a host that was never checked.
        .redirect(reqwest::redirect::Policy::none())
        // No proxy in either mode, whatever HTTP_PROXY/HTTPS_PROXY/ALL_PROXY say (reqwest follows them
        // by default, loopback included). A proxy receives every header sent through it, the secret too
        // (in the clear for an http:// target), and those variables are ambient: set for other tools,
        // inherited unnoticed. Local mode: nothing may leave the machine. Remote mode: the same, and a
        // proxy in the path would be measured along with the target.
        .no_proxy()
        .pool_max_idle_per_host(plan.max_in_flight)
        .user_agent(concat!("origin-verify-load/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(Error::Client)?;

    // One bucket per (started) second of the run.
    let seconds = usize::try_from(plan.duration.as_millis().div_ceil(1000)).unwrap_or(usize::MAX);
    let targets: Vec<Arc<TargetRun>> = plan
        .targets
        .iter()
        .zip(prepared)
        .map(|(target, prepared)| {
            Arc::new(TargetRun {
                target: target.clone(),
                url: prepared.url,
                headers: prepared.headers,
                in_flight: Semaphore::new(plan.max_in_flight.min(Semaphore::MAX_PERMITS)),
                recorder: Mutex::new(Recorder::new(target.expect, seconds)),
            })
        })
        .collect();
    let rate = NonZeroU32::new(plan.rate_per_target).ok_or_else(|| Error::InvalidPlan("zero rate".into()))?;

    let started_wall = SystemTime::now();
    let start = Instant::now();
    timeline.start(start);
    let deadline = start + plan.duration;
    let reporter = Reporter::start(progress, targets.clone(), start, plan.duration);

    let mut dispatchers = JoinSet::new();
    for target in &targets {
        let ctx = Dispatch {
            target: Arc::clone(target),
            client: client.clone(),
            start,
            deadline,
            timeout: plan.request_timeout,
        };
        dispatchers.spawn(ctx.run(pacer(rate)));
    }
    // Bounded whatever happens: past this point anything still running is abandoned (dropping the
    // JoinSets aborts the tasks).
    let hard_stop = tokio::time::Instant::from_std(deadline + plan.request_timeout + GRACE);
    let _ = tokio::time::timeout_at(hard_stop, async {
        while dispatchers.join_next().await.is_some() {}
    })
    .await;
    drop(dispatchers);
    let elapsed = start.elapsed();
    reporter.finish().await;

    let started_at_unix_ms = crate::units::unix_ms(started_wall);
    Ok(Report {
        tool: concat!("origin-verify-load ", env!("CARGO_PKG_VERSION")).to_string(),
        started_at: crate::units::rfc3339(started_at_unix_ms),
        started_at_unix_ms,
        elapsed_ms: millis(elapsed),
        plan: PlanInfo {
            duration_ms: millis(plan.duration),
            rate_per_target: plan.rate_per_target,
            max_in_flight: u64::try_from(plan.max_in_flight).unwrap_or(u64::MAX),
            mode: plan.mode,
            request_timeout_ms: millis(plan.request_timeout),
        },
        targets: targets.iter().map(|t| t.recorder().report(&t.target)).collect(),
        markers: timeline.markers(),
    })
}

fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

/// A target during the run.
pub(crate) struct TargetRun {
    pub(crate) target: Target,
    url: Url,
    headers: HeaderMap,
    in_flight: Semaphore,
    recorder: Mutex<Recorder>,
}

impl TargetRun {
    fn recorder(&self) -> MutexGuard<'_, Recorder> {
        // Recording is a few counter bumps; a panic cannot leave it half-updated in a harmful way.
        self.recorder
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    pub(crate) fn progress(&self) -> record::Progress {
        self.recorder().progress()
    }
}

/// The limiter that paces one target.
///
/// A burst of one would pace exactly, but every late wake-up of the pacing task would then be lost for
/// good and the achieved rate would sag below the plan. A little slack (50 ms worth of requests) lets
/// it catch up; spending that slack up front keeps the start from being a burst.
fn pacer(rate: NonZeroU32) -> DefaultDirectRateLimiter {
    let period = (Duration::from_secs(1) / rate.get()).max(Duration::from_nanos(1));
    let slack = (rate.get() / 20).max(1);
    let burst = NonZeroU32::new(slack + 1).unwrap_or(NonZeroU32::MIN);
    let quota = Quota::with_period(period)
        .expect("period is at least 1ns")
        .allow_burst(burst);
    let limiter = RateLimiter::direct(quota);
    for _ in 0..slack {
        let _ = limiter.check();
    }
    limiter
}

/// The open loop of one target.
struct Dispatch {
    target: Arc<TargetRun>,
    client: Client,
    start: Instant,
    deadline: Instant,
    timeout: Duration,
}

impl Dispatch {
    async fn run(self, limiter: DefaultDirectRateLimiter) {
        let this = Arc::new(self);
        let mut requests = JoinSet::new();
        let stop = tokio::time::sleep_until(tokio::time::Instant::from_std(this.deadline));
        tokio::pin!(stop);
        loop {
            tokio::select! {
                biased;
                _ = &mut stop => break,
                _ = limiter.until_ready() => {}
            }
            // The instant the request was due. Its latency counts from here, so time spent waiting for
            // an in-flight slot behind slow responses shows up instead of silently lowering the rate
            // (coordinated omission).
            let scheduled = Instant::now();
            if scheduled >= this.deadline {
                break;
            }
            requests.spawn(Arc::clone(&this).request(scheduled));
            // Reap finished requests so the set stays as small as what is in flight.
            while requests.try_join_next().is_some() {}
        }
        while requests.join_next().await.is_some() {}
    }

    async fn request(self: Arc<Self>, scheduled: Instant) {
        let target = &self.target;
        let permit = tokio::select! {
            permit = target.in_flight.acquire() => permit.ok(),
            _ = tokio::time::sleep_until(tokio::time::Instant::from_std(self.deadline)) => None,
        };
        let Some(_permit) = permit else {
            target.recorder().unsent();
            return;
        };
        let outcome = self.send().await;
        let latency = scheduled.elapsed();
        let second = usize::try_from(scheduled.saturating_duration_since(self.start).as_secs()).unwrap_or(0);
        target.recorder().record(second, outcome, latency);
    }

    async fn send(&self) -> Outcome {
        let request = self
            .client
            .get(self.target.url.clone())
            .headers(self.target.headers.clone());
        let exchange = async {
            let mut response = request.send().await?;
            let status = response.status().as_u16();
            // The latency includes the whole body, and a drained body lets the connection be reused.
            while response.chunk().await?.is_some() {}
            Ok::<u16, reqwest::Error>(status)
        };
        match tokio::time::timeout(self.timeout + GRACE, exchange).await {
            Ok(Ok(status)) => Outcome::Status(status),
            Ok(Err(e)) => Outcome::Failed(error_kind(&e)),
            Err(_) => Outcome::Failed("timeout"),
        }
    }
}

fn error_kind(e: &reqwest::Error) -> &'static str {
    if e.is_timeout() {
        "timeout"
    } else if e.is_connect() {
        "connect"
    } else if e.is_body() || e.is_decode() {
        "body"
    } else {
        "other"
    }
}
