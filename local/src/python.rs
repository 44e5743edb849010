//! The blog's authorizer design in Python (`examples/python-authorizer/app.py`, standard library only)
//! reading the secret from `origin-verify-layer`, run as Lambda runs a function with a layer: the layer's
//! binary as an external extension beside AWS's Python runtime interface client (`python -m awslambdaric
//! app.handler`), both in one sandbox of the Lambda emulator (testkit's [`Sandbox`]).
//!
//! As on Lambda, both processes get the same `AWS_SESSION_TOKEN` (the token the layer asks for) and the
//! layer's port; the layer reads Secrets Manager (moto) with the sandbox's credentials and loads the secret
//! during INIT (`ORIGIN_VERIFY_PREFETCH_SECRET_IDS`). The function starts once the layer has registered
//! and asked for its first event, as Lambda starts a function once every extension is ready. The layer
//! keeps AWS's default `SECRETS_MANAGER_TTL` (300 s): what keeps a rotation's new value from being denied
//! is the function asking again with `refreshNow` on a miss, not a short TTL.
//!
//! The function reaches the emulator through testkit's [`LambdaRuntimeApi`] (which answers as Lambda does)
//! and [`LateResponses`]: when the gateway has given up on an invocation (10 s) and the function answers
//! later, cargo-lambda refuses the answer with a 500 and awslambdaric exits on it, which Lambda does not do
//! (it accepts the answer; the caller is gone). Accepted and counted instead, so one slow invocation does
//! not end the route for the rest of the run.
//!
//! Outputs: the emulator's and the function's in [`FUNCTION_LOG`], the layer's in [`LAYER_LOG`], both in
//! the stack's output directory, where the secret scan reads them.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use origin_verify_testkit::{
    free_port, reply, target_dir, tool, workspace_root, LambdaRuntimeApi, Reply, RuntimeApiRecorder, Sandbox,
    REGION,
};
use serde::Serialize;
use tokio::sync::Mutex;

use crate::Error;

/// The log of the emulator and the Python function (awslambdaric and the handler).
pub const FUNCTION_LOG: &str = "python-authorizer.log";
/// The layer's log.
pub const LAYER_LOG: &str = "layer.log";
/// The layer's binary (its file name under `/opt/extensions/` on Lambda).
pub const LAYER_BINARY: &str = "origin-verify-layer";
/// The function's directory in the workspace (on `PYTHONPATH`; the handler is `app.handler`).
pub const APP_DIR: &str = "examples/python-authorizer";

/// How long the layer may take to register and ask for its first event (its INIT, the prefetch included).
const LAYER_INIT_BUDGET: Duration = Duration::from_secs(30);

/// What the Python authorizer is started with.
#[derive(Debug, Clone)]
pub struct PythonConfig<'a> {
    /// Moto's URL (the layer's `AWS_ENDPOINT_URL`).
    pub moto_url: &'a str,
    /// The secret (the function's `ORIGIN_VERIFY_SECRET_ID`, the layer's prefetch).
    pub secret: &'a str,
    /// The header the function reads (`ORIGIN_VERIFY_HEADER_NAME`).
    pub header: &'a str,
    /// The function's `ORIGIN_VERIFY_PREVIOUS_GRACE_SECONDS`.
    pub previous_grace_seconds: u64,
    /// The layer's `AWS_LAMBDA_LOG_LEVEL`.
    pub log_level: &'a str,
    /// Where [`FUNCTION_LOG`] and [`LAYER_LOG`] go (emptied first).
    pub out_dir: &'a Path,
    /// Added to both processes' environment (`NO_PROXY`).
    pub extra_env: &'a [(&'a str, &'a str)],
}

/// The Python function and its layer, running. Both stop when dropped.
pub struct PythonAuthorizer {
    /// The emulator's invoke URL for the function.
    pub invoke_url: String,
    /// The function's and the emulator's log.
    pub function_log: PathBuf,
    /// The layer's log.
    pub layer_log: PathBuf,
    // Dropped before the sandbox: the layer's and the function's routes to the emulator.
    _recorder: RuntimeApiRecorder,
    _adapter: LambdaRuntimeApi,
    late: LateResponses,
    /// Locked only to ask whether a process has exited.
    sandbox: Mutex<Sandbox>,
    layer: usize,
    runtime: usize,
}

/// Whether the layer and the Python runtime still run. Nothing restarts them here: on Lambda a crashed
/// runtime ends its sandbox and the next invocation gets a new one; here every later invocation of the
/// route would time out, so an exit is reported, never hidden.
#[derive(Debug, Clone, Copy, Default, Serialize)]
pub struct ProcessState {
    /// The layer's exit code if it has exited (`-1`: by a signal); `None` while it runs.
    pub layer_exit: Option<i32>,
    /// The same for the Python runtime (awslambdaric).
    pub runtime_exit: Option<i32>,
    /// Answers the function gave after the gateway had given up on the invocation ([`LateResponses`]).
    pub late_responses: u64,
}

impl ProcessState {
    /// Both still run.
    pub fn running(&self) -> bool {
        self.layer_exit.is_none() && self.runtime_exit.is_none()
    }

    /// One line for the summary.
    pub fn summary(&self) -> String {
        let state = |exit: Option<i32>| match exit {
            None => "running".to_owned(),
            Some(code) => format!("EXITED (code {code})"),
        };
        format!(
            "Python authorizer's processes at the end: awslambdaric {}, origin-verify-layer {}; {} answers came after the gateway had given up (accepted, as Lambda does){}",
            state(self.runtime_exit),
            state(self.layer_exit),
            self.late_responses,
            if self.running() {
                ""
            } else {
                " (see python-authorizer.log and layer.log: nothing restarts them, later invocations of the route time out)"
            }
        )
    }
}

impl PythonAuthorizer {
    /// Starts the emulator, the layer (waiting until it is ready), then the function.
    pub async fn start(config: PythonConfig<'_>) -> Result<Self, Error> {
        let layer = target_dir().join("debug").join(LAYER_BINARY);
        if !layer.exists() {
            return Err(Error::Setup(format!(
                "{} is missing: cargo build -p origin-verify-layer (scripts/local-stack does)",
                layer.display()
            )));
        }
        let python = tool("python");
        check_awslambdaric(&python).await?;
        let function_log = fresh(config.out_dir, FUNCTION_LOG);
        let layer_log = fresh(config.out_dir, LAYER_LOG);

        let mut sandbox = Sandbox::spawn_logged(Some(&function_log)).await;
        // The layer reaches the Extensions API through a recorder: its first `event/next` is the moment
        // Lambda would start the function.
        let recorder = RuntimeApiRecorder::spawn(&format!("http://{}", sandbox.runtime_api())).await;
        let port = free_port().to_string();
        // Lambda's session token for this sandbox: the layer wants it in every request, the function has
        // it too. Not a credential here (moto takes any).
        let token = format!("local-stack-session-token-{}", std::process::id());

        let mut layer_env = vec![
            ("AWS_SESSION_TOKEN", token.as_str()),
            ("PARAMETERS_SECRETS_EXTENSION_HTTP_PORT", port.as_str()),
            ("AWS_ENDPOINT_URL", config.moto_url),
            ("AWS_REGION", REGION),
            ("AWS_ACCESS_KEY_ID", "local"),
            ("AWS_SECRET_ACCESS_KEY", "local"),
            ("AWS_LAMBDA_LOG_LEVEL", config.log_level),
            ("ORIGIN_VERIFY_PREFETCH_SECRET_IDS", config.secret),
        ];
        layer_env.extend_from_slice(config.extra_env);
        let api = recorder.url.trim_start_matches("http://").to_owned();
        let layer_index = sandbox.start(&layer, &[], &layer_env, Some(&api), Some(&layer_log));
        let deadline = Instant::now() + LAYER_INIT_BUDGET;
        while !recorder.calls().iter().any(|c| c.is_extension_next()) {
            if Instant::now() > deadline {
                return Err(Error::Setup(format!(
                    "{LAYER_BINARY} did not register and ask for its first event within {}s (see {})",
                    LAYER_INIT_BUDGET.as_secs(),
                    layer_log.display()
                )));
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }

        let grace = config.previous_grace_seconds.to_string();
        let app = workspace_root().join(APP_DIR);
        let app = app.to_string_lossy();
        let mut function_env = vec![
            ("PYTHONPATH", app.as_ref()),
            // Nothing written into the workspace's examples/, and every line in the log as it is printed.
            ("PYTHONDONTWRITEBYTECODE", "1"),
            ("PYTHONUNBUFFERED", "1"),
            ("AWS_SESSION_TOKEN", token.as_str()),
            ("PARAMETERS_SECRETS_EXTENSION_HTTP_PORT", port.as_str()),
            ("ORIGIN_VERIFY_SECRET_ID", config.secret),
            ("ORIGIN_VERIFY_HEADER_NAME", config.header),
            ("ORIGIN_VERIFY_PREVIOUS_GRACE_SECONDS", grace.as_str()),
        ];
        function_env.extend_from_slice(config.extra_env);
        let late = LateResponses::spawn(&sandbox.url).await?;
        let adapter = LambdaRuntimeApi::spawn(&format!("{}/.rt", late.url)).await;
        let runtime = sandbox.start(
            &python,
            &["-m", "awslambdaric", "app.handler"],
            &function_env,
            Some(&adapter.address),
            Some(&function_log),
        );
        Ok(Self {
            invoke_url: format!("{}/2015-03-31/functions/_/invocations", sandbox.url),
            function_log,
            layer_log,
            _recorder: recorder,
            _adapter: adapter,
            late,
            sandbox: Mutex::new(sandbox),
            layer: layer_index,
            runtime,
        })
    }

    /// Whether both processes still run.
    pub async fn state(&self) -> ProcessState {
        let mut sandbox = self.sandbox.lock().await;
        // An exited process is reaped at once; a running one is given a moment only.
        let budget = Duration::from_millis(50);
        ProcessState {
            layer_exit: sandbox.wait_exit(self.layer, budget).await,
            runtime_exit: sandbox.wait_exit(self.runtime, budget).await,
            late_responses: self.late.count.load(Ordering::Relaxed),
        }
    }
}

/// A pass-through in front of the emulator's Runtime API that accepts a function's answer to an invocation
/// whose caller has gone. cargo-lambda 1.9.2 refuses such an answer with a 500, and awslambdaric 4.2.2 then
/// exits; Lambda accepts it (the invocation ran; nobody waits for its result). Counted, for the summary.
pub struct LateResponses {
    /// `http://127.0.0.1:PORT`
    pub url: String,
    count: Arc<AtomicU64>,
    task: tokio::task::JoinHandle<()>,
}

impl LateResponses {
    /// A pass-through to `upstream` (`http://127.0.0.1:PORT`, the emulator).
    pub async fn spawn(upstream: &str) -> Result<Self, Error> {
        // No timeout: `invocation/next` is a long poll that lasts until the next invocation.
        let http = reqwest::Client::builder()
            .no_proxy()
            .build()
            .map_err(Error::http)?;
        let upstream = upstream.trim_end_matches('/').to_owned();
        let count = Arc::new(AtomicU64::new(0));
        let counted = Arc::clone(&count);
        let (addr, task) = origin_verify_testkit::serve(move |req: hyper::Request<hyper::body::Incoming>| {
            let (http, upstream, counted) = (http.clone(), upstream.clone(), Arc::clone(&counted));
            async move {
                let answer = is_answer(req.method(), req.uri().path());
                let reply = origin_verify_testkit::pass_on(&http, &upstream, req).await;
                if answer && reply.status() == hyper::StatusCode::INTERNAL_SERVER_ERROR {
                    counted.fetch_add(1, Ordering::Relaxed);
                    return reply_accepted();
                }
                reply
            }
        })
        .await;
        Ok(Self {
            url: format!("http://{addr}"),
            count,
            task,
        })
    }
}

impl Drop for LateResponses {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// A function's answer to an invocation: `POST .../runtime/invocation/{id}/response` or `/error`.
fn is_answer(method: &hyper::Method, path: &str) -> bool {
    method == hyper::Method::POST
        && path.contains("/runtime/invocation/")
        && (path.ends_with("/response") || path.ends_with("/error"))
}

/// What Lambda's Runtime API answers to an accepted response.
fn reply_accepted() -> Reply {
    reply(202, r#"{"status":"OK"}"#)
}

/// Whether `python` can run AWS's runtime interface client (scripts/install-tools installs it).
async fn check_awslambdaric(python: &Path) -> Result<(), Error> {
    let status = tokio::process::Command::new(python)
        .args(["-c", "import awslambdaric"])
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .await;
    match status {
        Ok(s) if s.success() => Ok(()),
        _ => Err(Error::Setup(format!(
            "{} cannot import awslambdaric: run scripts/install-tools (scripts/local-stack does) and set \
             ORIGIN_VERIFY_TEST_TOOLS_BIN to the directory it prints",
            python.display()
        ))),
    }
}

/// `dir/name`, emptied: a log starts with this run.
fn fresh(dir: &Path, name: &str) -> PathBuf {
    let path = dir.join(name);
    let _ = std::fs::remove_file(&path);
    path
}
