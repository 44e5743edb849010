//! Starts the local stack, shows the seed's checks, and runs rotations under load.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use origin_verify_loadtest::{Expect, Mode, Plan, Report, Target, Timeline};
use origin_verify_testkit::{
    cf_client, create_distribution_to, create_secret, sm_client, stage_value, unique_name, CargoLambda, Moto,
    OriginTarget, TestOrigin, REGION,
};
use serde::Serialize;

use crate::driver::{RotationDriver, RotationRecord, StepRecord};
use crate::edge::{Edge, EdgeConfig};
use crate::gateway::{Gateway, GatewayConfig, GatewayStats, Route, RouteStats, CACHE_CAPACITY};
use crate::metrics::{insert_section, EmfReadout};
use crate::python::{ProcessState, PythonAuthorizer, PythonConfig};
use crate::scan::{files_in, scan_files, SecretScan};
use crate::serve::READ_TIMEOUT;
use crate::Error;

/// The header, as in the deployed stack.
pub const HEADER: &str = "x-origin-verify";

/// The distribution's origin that is the API (the gateway): the rotator's `CLOUDFRONT_ORIGIN_IDS`.
pub const API_ORIGIN_ID: &str = "api";

/// The gateway's second route, protected by the blog's authorizer design in Python reading the secret from
/// `origin-verify-layer` ([`crate::python`]); the edge forwards it like every path, with the header.
pub const PYTHON_ROUTE: &str = "/python/";

/// The functions that print metrics (their binaries' names, which are their `FunctionName`s here).
pub const METRIC_FUNCTIONS: [&str; 2] = ["authorizer", "rotator"];

/// The backend's log level, whatever [`StackOptions::log_level`] says: at TRACE lambda_runtime logs
/// every event whole, so the secret scan would find the header's value in the backend's log if the
/// gateway passed it on.
pub const BACKEND_LOG_LEVEL: &str = "trace";

/// What lambda_runtime logs, at TRACE, with each whole event it receives.
const RAW_EVENT_LOGGED: &str = "raw JSON event received from Lambda";

/// How the stack is set up.
#[derive(Debug, Clone)]
pub struct StackOptions {
    /// The authorizer's `ORIGIN_VERIFY_REFRESH_SECONDS`.
    pub refresh_seconds: u64,
    /// `ORIGIN_VERIFY_PREVIOUS_GRACE_SECONDS` of both routes' authorizers (the Rust one and the Python
    /// one), as the template passes its `PreviousGraceSeconds` to both: how long AWSPREVIOUS is accepted
    /// after it stopped being current.
    pub previous_grace_seconds: u64,
    /// Added to it for the rotator's `ROTATION_PROPAGATION_SECONDS`.
    pub propagation_margin_seconds: u64,
    /// Propagation delay of each simulated edge location.
    pub edge_delays: Vec<Duration>,
    /// The gateway's authorizer cache TTL (`ReauthorizeEvery`).
    pub authorizer_cache_ttl: Duration,
    /// Where logs and reports go.
    pub out_dir: PathBuf,
    /// `AWS_LAMBDA_LOG_LEVEL` of the authorizer and the rotator (`debug` shows everything the SDK and
    /// runtime log). The backend always runs at [`BACKEND_LOG_LEVEL`].
    pub log_level: String,
    /// Both functions' `ORIGIN_VERIFY_METRICS_SECONDS` (`0`: no metrics). The run ends by waiting this
    /// long and invoking the authorizer once more, so that its last line carries every count.
    pub metrics_seconds: u64,
}

impl Default for StackOptions {
    fn default() -> Self {
        Self {
            refresh_seconds: 5,
            // The authorizer's default (and the template's).
            previous_grace_seconds: 300,
            propagation_margin_seconds: 2,
            edge_delays: vec![
                Duration::from_secs(2),
                Duration::from_secs(3),
                Duration::from_secs(4),
            ],
            authorizer_cache_ttl: Duration::from_secs(5),
            out_dir: PathBuf::from("target/local-stack"),
            log_level: "info".to_owned(),
            metrics_seconds: 5,
        }
    }
}

/// The running stack. Everything it started stops when it is dropped.
pub struct LocalStack {
    options: StackOptions,
    sm: aws_sdk_secretsmanager::Client,
    /// The secret's name.
    pub secret: String,
    /// The distribution's id.
    pub distribution: String,
    /// The API stand-in.
    pub gateway: Gateway,
    /// The CloudFront stand-in.
    pub edge: Edge,
    driver: RotationDriver,
    authorizer_log: PathBuf,
    rotator_log: PathBuf,
    backend_log: PathBuf,
    // Dropped last: the processes.
    python: PythonAuthorizer,
    _authorizer: CargoLambda,
    _rotator: CargoLambda,
    _backend: CargoLambda,
    _moto: Moto,
}

/// The seed's steps 2 and 3 on one route.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct SeedChecks {
    /// Through the edge (CloudFront): expect 200.
    pub through_edge: u16,
    /// Straight to the API without the header: expect 401.
    pub direct_without_header: u16,
    /// Straight to the API with a wrong value: expect 403.
    pub direct_wrong_value: u16,
}

impl SeedChecks {
    /// Whether each answer is the one the seed shows.
    pub fn as_expected(&self) -> bool {
        (
            self.through_edge,
            self.direct_without_header,
            self.direct_wrong_value,
        ) == (200, 401, 403)
    }

    /// The three answers, each marked against the seed's, for the summary.
    pub fn line(&self) -> String {
        let mark = |got: u16, want: u16| if got == want { "ok" } else { "UNEXPECTED" };
        format!(
            "through CloudFront {} ({}), direct without header {} ({}), direct wrong value {} ({})",
            self.through_edge,
            mark(self.through_edge, 200),
            self.direct_without_header,
            mark(self.direct_without_header, 401),
            self.direct_wrong_value,
            mark(self.direct_wrong_value, 403),
        )
    }
}

/// The load and rotations to run.
#[derive(Debug, Clone)]
pub struct Scenario {
    /// How long the load runs.
    pub duration: Duration,
    /// Requests per second per target.
    pub rate: u32,
    /// Rotations to run during the load.
    pub rotations: usize,
}

/// What a scenario showed.
#[derive(Debug, Serialize)]
pub struct Outcome {
    /// The seed's checks before the load (the default route: the authorizer).
    pub seed: SeedChecks,
    /// The same checks on [`PYTHON_ROUTE`] (the blog's design in Python on `origin-verify-layer`).
    pub python_seed: SeedChecks,
    /// The load report (targets `through-edge`, `direct-no-header`, `direct-wrong-value`, and the same
    /// three on the Python route: [`PYTHON_THROUGH_EDGE`], [`PYTHON_DIRECT_NO_HEADER`],
    /// [`PYTHON_DIRECT_WRONG_VALUE`]).
    pub report: Report,
    /// Whether the Python authorizer's runtime and layer still ran at the end.
    pub python_processes: ProcessState,
    /// Each rotation: when it started (seconds into the load) and its steps.
    pub rotations: Vec<(f64, RotationRecord)>,
    /// Whether every edge location sends the secret's AWSCURRENT value at the end.
    pub edge_sends_current: bool,
    /// Secrets Manager calls made by each authorizer process (pid → calls), from its logs.
    pub sm_calls: BTreeMap<u32, u64>,
    /// The most calls one authorizer process may make under these settings (see [`call_bound`]).
    pub sm_call_bound: u64,
    /// The gateway's counters (taken after the last invocation).
    pub gateway: GatewayStats,
    /// Whether the authorizer printed a line after the run's last invocation (so the counts since its
    /// previous line are in the metrics, not lost with the process). `false` when metrics are off.
    pub metrics_flushed: bool,
    /// The functions' metrics, read back from the EMF lines in their logs.
    pub metrics: EmfReadout,
    /// Events the backend's runtime logged whole (TRACE): one per backend invocation, or the scan of its
    /// log proves less than it claims.
    pub backend_events_logged: u64,
    /// Every value the secret held, looked for in every log and report in the output directory (the
    /// `outcome.json` scanned is the one written just before, without this field's result).
    pub secret_scan: SecretScan,
}

/// The load-test target names.
pub const THROUGH_EDGE: &str = "through-edge";
/// Direct, no header.
pub const DIRECT_NO_HEADER: &str = "direct-no-header";
/// Direct, wrong value.
pub const DIRECT_WRONG_VALUE: &str = "direct-wrong-value";
/// Through the edge to [`PYTHON_ROUTE`].
pub const PYTHON_THROUGH_EDGE: &str = "python-through-edge";
/// Direct to [`PYTHON_ROUTE`], no header (the gateway's 401, no invocation).
pub const PYTHON_DIRECT_NO_HEADER: &str = "python-direct-no-header";
/// Direct to [`PYTHON_ROUTE`] with a wrong value (its authorizer's 403).
pub const PYTHON_DIRECT_WRONG_VALUE: &str = "python-direct-wrong-value";

/// The most Secrets Manager calls one authorizer process may make in `duration`: its first load (2),
/// one DescribeSecret per refresh interval, one per miss-refresh interval (5 s: wrong values arrive all the
/// time here), and one GetSecretValue per new version (one per rotation), with one interval of slack each.
pub fn call_bound(duration: Duration, refresh_seconds: u64, rotations: usize) -> u64 {
    const MISS_REFRESH_SECONDS: u64 = 5;
    let secs = duration.as_secs() + 1;
    2 + secs / refresh_seconds + 1 + secs / MISS_REFRESH_SECONDS + 1 + rotations as u64
}

impl LocalStack {
    /// Starts moto, the secret and distribution, the functions under the emulator (the Python authorizer
    /// with its layer in a sandbox of its own), gateway and edge.
    pub async fn start(options: StackOptions) -> Result<Self, Error> {
        std::fs::create_dir_all(&options.out_dir).map_err(|e| io_error(&options.out_dir, e))?;
        let moto = Moto::spawn().await;
        // Straight to moto, never through a proxy: the answers hold the secret.
        let sm = crate::direct::secrets_manager(&sm_client(&moto.url));
        let cf = crate::direct::cloudfront(&cf_client(&moto.url));
        let secret = unique_name("origin-verify-local");
        let first_value = random_value(&sm).await?;
        create_secret(&sm, &secret, &first_value).await;

        let refresh = options.refresh_seconds.to_string();
        let grace = options.previous_grace_seconds.to_string();
        let metrics_seconds = options.metrics_seconds.to_string();
        let propagation = (options.refresh_seconds + options.propagation_margin_seconds).to_string();
        let aws_env = [
            ("AWS_ENDPOINT_URL", moto.url.as_str()),
            ("AWS_REGION", REGION),
            ("AWS_ACCESS_KEY_ID", "local"),
            ("AWS_SECRET_ACCESS_KEY", "local"),
            ("AWS_LAMBDA_LOG_LEVEL", options.log_level.as_str()),
            // The functions read the secret from moto and send it to the origins: never through a proxy.
            crate::direct::CHILD_ENV[0],
            crate::direct::CHILD_ENV[1],
        ];

        let authorizer_log = fresh_log(&options.out_dir, "authorizer.log");
        let mut env = aws_env.to_vec();
        env.extend([
            ("ORIGIN_VERIFY_SECRET_ID", secret.as_str()),
            ("ORIGIN_VERIFY_REFRESH_SECONDS", refresh.as_str()),
            ("ORIGIN_VERIFY_PREVIOUS_GRACE_SECONDS", grace.as_str()),
            ("ORIGIN_VERIFY_METRICS_SECONDS", metrics_seconds.as_str()),
        ]);
        let authorizer = CargoLambda::spawn_logged("authorizer", &env, Some(&authorizer_log)).await;

        // The backend needs no AWS access: only its log level and no proxy.
        let backend_log = fresh_log(&options.out_dir, "backend.log");
        let backend = CargoLambda::spawn_logged(
            "backend",
            &[
                ("AWS_LAMBDA_LOG_LEVEL", BACKEND_LOG_LEVEL),
                crate::direct::CHILD_ENV[0],
                crate::direct::CHILD_ENV[1],
            ],
            Some(&backend_log),
        )
        .await;

        // The blog's design in Python with the layer beside it, for the gateway's second route.
        let python = PythonAuthorizer::start(PythonConfig {
            moto_url: &moto.url,
            secret: &secret,
            header: HEADER,
            previous_grace_seconds: options.previous_grace_seconds,
            log_level: &options.log_level,
            out_dir: &options.out_dir,
            extra_env: &crate::direct::CHILD_ENV,
        })
        .await?;

        let gateway = Gateway::start(GatewayConfig {
            authorizer_invoke_url: format!("{}/2015-03-31/functions/authorizer/invocations", authorizer.url),
            header: HEADER.to_owned(),
            cache_ttl: options.authorizer_cache_ttl,
            cache_capacity: CACHE_CAPACITY,
            read_timeout: READ_TIMEOUT,
            backend_invoke_url: Some(format!(
                "{}/2015-03-31/functions/backend/invocations",
                backend.url
            )),
            // As the template's parameter mapping does (template.yaml, BackendIntegration).
            remove_header: true,
            routes: vec![Route {
                path_prefix: PYTHON_ROUTE.to_owned(),
                authorizer_invoke_url: python.invoke_url.clone(),
            }],
        })
        .await?;
        let distribution = create_distribution_to(
            &cf,
            &[TestOrigin {
                id: API_ORIGIN_ID,
                headers: &[(HEADER, first_value.as_str())],
            }],
            OriginTarget::Loopback(gateway.port),
        )
        .await;
        let edge = Edge::start(
            cf.clone(),
            EdgeConfig {
                distribution: distribution.clone(),
                header: HEADER.to_owned(),
                location_delays: options.edge_delays.clone(),
                poll: Duration::from_millis(250),
                read_timeout: READ_TIMEOUT,
            },
        )
        .await?;

        let mut env = aws_env.to_vec();
        env.extend([
            ("CLOUDFRONT_DISTRIBUTION_IDS", distribution.as_str()),
            // The one origin it protects: the gateway (the distribution's only origin, id `api`).
            ("CLOUDFRONT_ORIGIN_IDS", API_ORIGIN_ID),
            // The one origin the rotator may write (required: it never writes an origin it does not protect).
            ("CLOUDFRONT_ORIGIN_IDS", "api"),
            ("ORIGIN_TEST_URLS", gateway.url.as_str()),
            ("CLOUDFRONT_TEST_URLS", edge.url.as_str()),
            ("ORIGIN_VERIFY_REFRESH_SECONDS", refresh.as_str()),
            ("ROTATION_PROPAGATION_SECONDS", propagation.as_str()),
            ("ROTATION_DEPLOY_POLL_SECONDS", "1"),
            ("ORIGIN_VERIFY_METRICS_SECONDS", metrics_seconds.as_str()),
        ]);
        let rotator_log = fresh_log(&options.out_dir, "rotator.log");
        let rotator = CargoLambda::spawn_logged("rotator", &env, Some(&rotator_log)).await;
        let driver = RotationDriver::new(
            sm.clone(),
            format!("{}/2015-03-31/functions/rotator/invocations", rotator.url),
        )?;

        Ok(Self {
            options,
            sm,
            secret,
            distribution,
            gateway,
            edge,
            driver,
            authorizer_log,
            rotator_log,
            backend_log,
            python,
            _authorizer: authorizer,
            _rotator: rotator,
            _backend: backend,
            _moto: moto,
        })
    }

    /// The seed's steps 2 and 3: through CloudFront → 200; direct without the header → 401; with a wrong
    /// value → 403.
    pub async fn seed_checks(&self) -> Result<SeedChecks, Error> {
        self.seed_checks_at("/").await
    }

    /// The seed's checks on [`PYTHON_ROUTE`] (the blog's design in Python on `origin-verify-layer`).
    pub async fn python_seed_checks(&self) -> Result<SeedChecks, Error> {
        self.seed_checks_at(PYTHON_ROUTE).await
    }

    /// The seed's checks on `path` (from `/`).
    async fn seed_checks_at(&self, path: &str) -> Result<SeedChecks, Error> {
        let (edge, gateway) = (
            self.url_at(&self.edge.url, path),
            self.url_at(&self.gateway.url, path),
        );
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(30))
            // Loopback only: never through a proxy from HTTP_PROXY and the like.
            .no_proxy()
            .build()
            .map_err(Error::http)?;
        let status =
            |r: Result<reqwest::Response, reqwest::Error>| r.map(|r| r.status().as_u16()).unwrap_or(0);
        Ok(SeedChecks {
            through_edge: status(http.get(&edge).send().await),
            direct_without_header: status(http.get(&gateway).send().await),
            direct_wrong_value: status(http.get(&gateway).header(HEADER, "not-the-secret").send().await),
        })
    }

    /// Runs `scenario`: load on the three targets of each route, rotations spread over it, then the final
    /// checks: the edge's values, the authorizer's last metrics line, the metrics read back, the reports
    /// written into the output directory, and the secret scan of every log and report there.
    pub async fn run(&self, scenario: &Scenario) -> Result<Outcome, Error> {
        let rotation_estimate =
            Duration::from_secs(self.options.refresh_seconds + self.options.propagation_margin_seconds + 4);
        let needed =
            rotation_estimate * scenario.rotations as u32 + self.edge.max_delay() + Duration::from_secs(5);
        if scenario.duration < needed {
            return Err(Error::Options(format!(
                "{} rotations need about {}s of load with these settings; use --duration {}s or more",
                scenario.rotations,
                needed.as_secs(),
                needed.as_secs()
            )));
        }
        let seed = self.seed_checks().await?;
        let python_seed = self.python_seed_checks().await?;
        let (python_edge, python_gateway) = (
            self.url_at(&self.edge.url, PYTHON_ROUTE),
            self.url_at(&self.gateway.url, PYTHON_ROUTE),
        );
        let plan = Plan {
            targets: vec![
                target(THROUGH_EDGE, &self.edge.url, Expect::Success, None),
                target(DIRECT_NO_HEADER, &self.gateway.url, Expect::Refused, None),
                target(
                    DIRECT_WRONG_VALUE,
                    &self.gateway.url,
                    Expect::Refused,
                    Some("wrong-value-from-a-direct-caller"),
                ),
                target(PYTHON_THROUGH_EDGE, &python_edge, Expect::Success, None),
                target(PYTHON_DIRECT_NO_HEADER, &python_gateway, Expect::Refused, None),
                target(
                    PYTHON_DIRECT_WRONG_VALUE,
                    &python_gateway,
                    Expect::Refused,
                    Some("wrong-value-from-a-direct-caller"),
                ),
            ],
            duration: scenario.duration,
            rate_per_target: scenario.rate,
            max_in_flight: 64,
            mode: Mode::Local,
            request_timeout: Duration::from_secs(10),
        };
        let timeline = Timeline::new();
        let records: Arc<Mutex<Vec<(f64, RotationRecord)>>> = Arc::default();
        let rotations = {
            let timeline = timeline.clone();
            let records = Arc::clone(&records);
            let slot = scenario.duration / (scenario.rotations as u32 + 1);
            async move {
                let start = Instant::now();
                for n in 1..=scenario.rotations {
                    // Evenly spread; never overlapping (each waits for the previous one).
                    let at = slot * n as u32 - slot / 2;
                    tokio::time::sleep(at.saturating_sub(start.elapsed())).await;
                    let started = start.elapsed().as_secs_f64();
                    timeline.mark(format!("rotation {n} started"));
                    // Only failures get their own marker: four per rotation would crowd the charts.
                    let on_step = |s: &StepRecord| {
                        if s.error.is_some() {
                            timeline.mark(format!("rotation {n}: {} FAILED", s.step));
                        }
                    };
                    let record = self.driver.rotate(&self.secret, &on_step).await;
                    let total = record.steps.last().map(|s| s.done_at_s).unwrap_or_default();
                    let state = if record.ok { "done" } else { "FAILED" };
                    timeline.mark(format!("rotation {n} {state} ({total:.1}s)"));
                    records
                        .lock()
                        .unwrap_or_else(|e| e.into_inner())
                        .push((started, record));
                }
            }
        };
        let (report, ()) = tokio::join!(origin_verify_loadtest::run(&plan, timeline.clone()), rotations);
        let report = report?;

        // Every location has had time to pick up the last change by now (the load outlasts it).
        tokio::time::sleep(self.edge.max_delay().saturating_sub(Duration::from_secs(1))).await;
        let final_edge_values = self.edge.location_values();
        let current = stage_value(&self.sm, &self.secret, "AWSCURRENT")
            .await
            .unwrap_or_default();
        let edge_sends_current = !current.is_empty() && final_edge_values.iter().all(|v| *v == current);
        let rotations = std::mem::take(&mut *records.lock().unwrap_or_else(|e| e.into_inner()));
        let metrics_flushed = self.flush_metrics().await?;
        let mut outcome = Outcome {
            seed,
            python_seed,
            report,
            python_processes: self.python.state().await,
            rotations,
            edge_sends_current,
            sm_calls: self.sm_calls(),
            sm_call_bound: call_bound(
                scenario.duration,
                self.options.refresh_seconds,
                scenario.rotations,
            ),
            gateway: self.gateway.stats(),
            metrics_flushed,
            metrics: self.metrics(),
            backend_events_logged: count_lines(&self.backend_log, RAW_EVENT_LOGGED),
            secret_scan: SecretScan::default(),
        };
        let dir = self.out_dir();
        outcome.write(dir)?;
        outcome.secret_scan = scan_files(&files_in(dir)?, &self.secret_values().await?)?;
        outcome.write(dir)?;
        Ok(outcome)
    }

    /// Makes the authorizer print what it counted since its last metrics line: on Lambda those counts
    /// are lost when the sandbox ends (README, "Operating it"); here the run's figures must be whole.
    /// Waits for the interval, invokes it through the gateway once more with a value never sent before
    /// (not cached: a deny, counted by the gateway too), and waits for the line. Whether one came.
    async fn flush_metrics(&self) -> Result<bool, Error> {
        if self.options.metrics_seconds == 0 {
            return Ok(false);
        }
        // A time the extension requires, not a synchronisation: it prints at most once per interval,
        // and its last line went out at the latest now (no invocation is in flight any more).
        tokio::time::sleep(Duration::from_secs(self.options.metrics_seconds) + Duration::from_millis(100))
            .await;
        let before = count_emf_lines(&self.authorizer_log);
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(30))
            // Loopback only: never through a proxy from HTTP_PROXY and the like.
            .no_proxy()
            .build()
            .map_err(Error::http)?;
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default()
            .as_nanos();
        let _ = http
            .get(&self.gateway.url)
            .header(HEADER, format!("last-invocation-for-the-metrics-{nanos}"))
            .send()
            .await;
        // The extension prints after the response has gone out: wait for the line, at most 10 s.
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if count_emf_lines(&self.authorizer_log) > before {
                return Ok(true);
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        Ok(false)
    }

    /// The metrics in the authorizer's and the rotator's logs so far.
    pub fn metrics(&self) -> EmfReadout {
        let mut readout = EmfReadout::default();
        readout.read_log("authorizer", &self.authorizer_log);
        readout.read_log("rotator", &self.rotator_log);
        readout
    }

    /// Secrets Manager calls per authorizer process, read from the last "secret refreshed" line of each.
    pub fn sm_calls(&self) -> BTreeMap<u32, u64> {
        let text = std::fs::read_to_string(&self.authorizer_log).unwrap_or_default();
        let mut calls = BTreeMap::new();
        for line in text.lines().filter(|l| l.contains("secret refreshed")) {
            let (Some(pid), Some(n)) = (field(line, "pid"), field(line, "sm_calls")) else {
                continue;
            };
            let entry = calls.entry(pid as u32).or_insert(0);
            *entry = (*entry).max(n);
        }
        calls
    }

    /// Every value the secret has held (all versions, also those without a label any more), for the
    /// secret scan. An error names the call, never a value.
    pub async fn secret_values(&self) -> Result<Vec<String>, Error> {
        let list = self
            .sm
            .list_secret_version_ids()
            .secret_id(&self.secret)
            .include_deprecated(true)
            // One page: the stack makes one version, and one more per rotation.
            .max_results(100)
            .send()
            .await
            .map_err(|e| Error::Setup(format!("ListSecretVersionIds: {e}")))?;
        let mut values = Vec::new();
        for version in list.versions.unwrap_or_default() {
            let Some(id) = version.version_id else { continue };
            let out = self
                .sm
                .get_secret_value()
                .secret_id(&self.secret)
                .version_id(id)
                .send()
                .await
                .map_err(|e| Error::Setup(format!("GetSecretValue of a version: {e}")))?;
            let json: serde_json::Value =
                serde_json::from_str(out.secret_string().unwrap_or("{}")).unwrap_or_default();
            if let Some(v) = json["HEADERVALUE"].as_str() {
                values.push(v.to_owned());
            }
        }
        Ok(values)
    }

    /// Where the reports go.
    pub fn out_dir(&self) -> &Path {
        &self.options.out_dir
    }

    /// The logs of the Python authorizer (with its emulator's output) and of its layer.
    pub fn python_logs(&self) -> (&Path, &Path) {
        (&self.python.function_log, &self.python.layer_log)
    }

    /// `base` (`http://host:port/`) with `path` (from `/`).
    fn url_at(&self, base: &str, path: &str) -> String {
        format!("{}/{}", base.trim_end_matches('/'), path.trim_start_matches('/'))
    }
}

impl Outcome {
    /// Writes `report.json`, `report.html` (the load test's, with a section of the functions' metrics
    /// added before its end) and `outcome.json` into `dir`.
    pub fn write(&self, dir: &Path) -> Result<(), Error> {
        let report_json = dir.join("report.json");
        self.report
            .write_json(&report_json)
            .map_err(|e| io_error(&report_json, e))?;
        let report_html = dir.join("report.html");
        self.report
            .write_html(&report_html)
            .map_err(|e| io_error(&report_html, e))?;
        let page = std::fs::read_to_string(&report_html).map_err(|e| io_error(&report_html, e))?;
        let page = insert_section(&page, &self.metrics.html_section(&METRIC_FUNCTIONS));
        std::fs::write(&report_html, page).map_err(|e| io_error(&report_html, e))?;
        let outcome = dir.join("outcome.json");
        let text = serde_json::to_string_pretty(self).map_err(|e| Error::Setup(e.to_string()))?;
        std::fs::write(&outcome, text).map_err(|e| io_error(&outcome, e))
    }

    /// Violations of the load's expectations, every target's (both routes').
    pub fn violations(&self) -> u64 {
        self.report.targets.iter().map(|t| t.violations).sum()
    }

    /// The end-of-run summary a person reads.
    pub fn summary(&self) -> String {
        let mut out = String::new();
        out.push_str(&format!("seed checks: {}\n", self.seed.line()));
        out.push_str(&format!(
            "seed checks on {PYTHON_ROUTE} (the blog's design in Python on origin-verify-layer): {}\n\n",
            self.python_seed.line()
        ));
        out.push_str(&self.report.summary());
        out.push_str("\nrotations:\n");
        for (i, (started, r)) in self.rotations.iter().enumerate() {
            let steps: Vec<String> = r
                .steps
                .iter()
                .map(|s| {
                    let state = if s.error.is_none() { "" } else { " FAILED" };
                    format!("{} {:.1}s{state}", s.step, s.took_s)
                })
                .collect();
            let total = r.steps.last().map(|s| s.done_at_s).unwrap_or_default();
            out.push_str(&format!(
                "  {}. at {:>5.1}s, {:.1}s in all: {}{}\n",
                i + 1,
                started,
                total,
                steps.join(", "),
                if r.ok { "" } else { "  -> FAILED" }
            ));
        }
        out.push_str(&format!(
            "\nedge locations send the new AWSCURRENT: {}\n",
            if self.edge_sends_current { "yes, all" } else { "NO" }
        ));
        let calls: Vec<String> = self
            .sm_calls
            .iter()
            .map(|(pid, n)| format!("pid {pid}: {n}"))
            .collect();
        out.push_str(&format!(
            "authorizer Secrets Manager calls: {} (bound per process {}); gateway: {} authorizer invocations, {} cache hits, {} errors, {} 401s without invoking\n",
            if calls.is_empty() { "none logged".to_owned() } else { calls.join(", ") },
            self.sm_call_bound,
            self.gateway.invocations,
            self.gateway.cache_hits,
            self.gateway.authorizer_errors,
            self.gateway.missing_header,
        ));
        out.push_str(&format!(
            "gateway's authorizer invocations by answer: {} allows, {} denies, {} failed; backend: {} invocations, {} failed, {} events logged whole at TRACE (header removed before the backend)\n",
            self.gateway.authorizer_allows,
            self.gateway.authorizer_denies,
            self.gateway.authorizer_errors,
            self.gateway.backend_invocations,
            self.gateway.backend_errors,
            self.backend_events_logged,
        ));
        for route in &self.gateway.routes {
            out.push_str(&route_line(route));
        }
        out.push_str(&self.python_processes.summary());
        out.push('\n');
        out.push('\n');
        out.push_str(&self.metrics.summary(&METRIC_FUNCTIONS));
        if !self.metrics_flushed {
            out.push_str(
                "  (the authorizer printed no line after the last invocation: its last counts are missing)\n",
            );
        }
        out.push('\n');
        out.push_str(&self.secret_scan.summary());
        out.push('\n');
        out
    }
}

/// The summary's line for a route with its own authorizer.
fn route_line(r: &RouteStats) -> String {
    format!(
        "gateway route {} (Python authorizer on origin-verify-layer): {} authorizer invocations ({} allows, {} denies, {} failed), {} cache hits, {} 401s without invoking; backend: {} invocations, {} failed\n",
        r.path_prefix,
        r.invocations,
        r.authorizer_allows,
        r.authorizer_denies,
        r.authorizer_errors,
        r.cache_hits,
        r.missing_header,
        r.backend_invocations,
        r.backend_errors,
    )
}

fn target(name: &str, url: &str, expect: Expect, wrong_value: Option<&str>) -> Target {
    Target {
        name: name.to_owned(),
        url: url.to_owned(),
        expect,
        headers: wrong_value
            .map(|v| vec![(HEADER.to_owned(), v.to_owned())])
            .unwrap_or_default(),
    }
}

/// A 32-character alphanumeric value from (moto's) GetRandomPassword, as the stack's template makes it.
async fn random_value(sm: &aws_sdk_secretsmanager::Client) -> Result<String, Error> {
    let out = sm
        .get_random_password()
        .password_length(32)
        .exclude_punctuation(true)
        .send()
        .await
        .map_err(|e| Error::Setup(format!("GetRandomPassword: {e}")))?;
    out.random_password
        .ok_or_else(|| Error::Setup("GetRandomPassword returned nothing".into()))
}

/// The number after `name=` in a tracing line.
fn field(line: &str, name: &str) -> Option<u64> {
    let start = line.find(&format!("{name}="))? + name.len() + 1;
    let digits: String = line[start..].chars().take_while(char::is_ascii_digit).collect();
    digits.parse().ok()
}

/// `dir/name`, emptied: a log starts with this run.
fn fresh_log(dir: &Path, name: &str) -> PathBuf {
    let path = dir.join(name);
    let _ = std::fs::remove_file(&path);
    path
}

/// Lines of `path` containing `needle` (0 if it cannot be read).
fn count_lines(path: &Path, needle: &str) -> u64 {
    let text = std::fs::read(path).unwrap_or_default();
    String::from_utf8_lossy(&text)
        .lines()
        .filter(|l| l.contains(needle))
        .count() as u64
}

/// EMF lines in `path` so far.
fn count_emf_lines(path: &Path) -> u64 {
    let text = std::fs::read(path).unwrap_or_default();
    String::from_utf8_lossy(&text)
        .lines()
        .filter(|l| crate::emf::looks_like_emf(l))
        .count() as u64
}

fn io_error(path: &Path, source: std::io::Error) -> Error {
    Error::Io {
        path: path.display().to_string(),
        source,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_are_read_from_log_lines() {
        let line = " INFO secret refreshed current=\"a\" changed=false sm_calls=17 pid=4242";
        assert_eq!(field(line, "sm_calls"), Some(17));
        assert_eq!(field(line, "pid"), Some(4242));
        assert_eq!(field(line, "missing"), None);
    }

    #[test]
    fn the_call_bound_grows_with_time_and_rotations() {
        assert_eq!(call_bound(Duration::from_secs(59), 5, 3), 2 + 12 + 1 + 12 + 1 + 3);
        assert!(call_bound(Duration::from_secs(120), 5, 3) > call_bound(Duration::from_secs(60), 5, 3));
    }
}
