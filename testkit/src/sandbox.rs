//! A Lambda sandbox for external extensions: the emulator (`cargo lambda watch --only-lambda-apis`),
//! extension processes started beside it as Lambda starts the files in `/opt/extensions`, and a function
//! runtime that is either a process (Python's `awslambdaric`, say) or the test itself
//! ([`Sandbox::next_invocation`], [`Sandbox::respond`]), so the test decides when the function asks the
//! layer what.
//!
//! The function is the emulator's default one, `_`: it needs no binary of this workspace.

use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use tokio::process::{Child, Command};

use crate::{free_port, tool, wait_for_port, workspace_root};

/// The emulator and the processes started in it; all stop when dropped.
pub struct Sandbox {
    _emulator: Child,
    processes: Vec<Child>,
    adapters: Vec<LambdaRuntimeApi>,
    /// `http://127.0.0.1:PORT`: where functions are invoked.
    pub url: String,
    port: u16,
    client: reqwest::Client,
}

/// One invocation taken by the test acting as the function's runtime.
#[derive(Debug, Clone)]
pub struct Invocation {
    /// `Lambda-Runtime-Aws-Request-Id`.
    pub request_id: String,
    /// The event.
    pub payload: String,
}

impl Sandbox {
    /// Starts the emulator on a free port.
    pub async fn spawn() -> Self {
        Self::spawn_logged(None).await
    }

    /// Like [`Sandbox::spawn`], with the emulator's output appended to `log` when given (as
    /// [`CargoLambda::spawn_logged`](crate::CargoLambda::spawn_logged) does), for a scan of everything a
    /// run printed.
    pub async fn spawn_logged(log: Option<&Path>) -> Self {
        let port = free_port();
        let mut emulator = Command::new(tool("cargo-lambda"));
        emulator
            .args(["lambda", "watch", "--only-lambda-apis", "-A", "127.0.0.1", "-P"])
            .arg(port.to_string())
            .current_dir(workspace_root())
            .stdin(Stdio::null())
            .kill_on_drop(true);
        output_to(&mut emulator, log);
        let emulator = emulator.spawn().expect("start cargo lambda watch");
        wait_for_port(port, Duration::from_secs(60))
            .await
            .expect("cargo lambda watch up");
        Self {
            _emulator: emulator,
            processes: Vec::new(),
            adapters: Vec::new(),
            url: format!("http://127.0.0.1:{port}"),
            port,
            client: reqwest::Client::builder()
                .no_proxy()
                .timeout(Duration::from_secs(120))
                .build()
                .expect("client"),
        }
    }

    /// `AWS_LAMBDA_RUNTIME_API` as Lambda gives it (host and port, no scheme), for this emulator.
    pub fn runtime_api(&self) -> String {
        format!("127.0.0.1:{}/.rt", self.port)
    }

    /// Starts `program` with `env` and what Lambda sets for every process in a sandbox; `runtime_api`
    /// overrides where it finds the Runtime and Extensions APIs (a recording proxy). Its output goes to
    /// `log` when given. Returns its index.
    pub fn start(
        &mut self,
        program: &Path,
        args: &[&str],
        env: &[(&str, &str)],
        runtime_api: Option<&str>,
        log: Option<&Path>,
    ) -> usize {
        let mut cmd = Command::new(program);
        cmd.args(args)
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env(
                "AWS_LAMBDA_RUNTIME_API",
                runtime_api.map_or_else(|| self.runtime_api(), str::to_owned),
            )
            .env("AWS_LAMBDA_FUNCTION_NAME", "_")
            .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
            .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128")
            .envs(env.iter().copied())
            .current_dir(workspace_root())
            .stdin(Stdio::null())
            .kill_on_drop(true);
        output_to(&mut cmd, log);
        self.processes.push(
            cmd.spawn()
                .unwrap_or_else(|e| panic!("start {}: {e}", program.display())),
        );
        self.processes.len() - 1
    }

    /// Starts a function runtime that is not one of ours (Python's `awslambdaric`, say), reaching the
    /// emulator through [`LambdaRuntimeApi`], which answers `invocation/next` as Lambda does. Returns its
    /// index.
    pub async fn start_runtime(
        &mut self,
        program: &Path,
        args: &[&str],
        env: &[(&str, &str)],
        log: Option<&Path>,
    ) -> usize {
        let api = LambdaRuntimeApi::spawn(&format!("http://{}", self.runtime_api())).await;
        let address = api.address.clone();
        self.adapters.push(api);
        self.start(program, args, env, Some(&address), log)
    }

    /// Waits at most `budget` for process `index` to exit; its exit code, or `None` if it still runs.
    pub async fn wait_exit(&mut self, index: usize, budget: Duration) -> Option<i32> {
        match tokio::time::timeout(budget, self.processes[index].wait()).await {
            Ok(Ok(status)) => Some(status.code().unwrap_or(-1)),
            _ => None,
        }
    }

    /// Invokes the function with `payload` (returns when the runtime has answered).
    pub async fn invoke(&self, payload: &str) -> (u16, String) {
        let res = self
            .client
            .post(format!("{}/2015-03-31/functions/_/invocations", self.url))
            .body(payload.to_owned())
            .send()
            .await
            .expect("invoke through cargo lambda");
        let status = res.status().as_u16();
        (status, res.text().await.expect("body"))
    }

    /// As the function's runtime: takes the next invocation (the emulator then sends INVOKE to the
    /// extensions waiting for it).
    pub async fn next_invocation(&self) -> Invocation {
        let res = self
            .client
            .get(format!(
                "http://{}/2018-06-01/runtime/invocation/next",
                self.runtime_api()
            ))
            .send()
            .await
            .expect("runtime next");
        let request_id = res
            .headers()
            .get("lambda-runtime-aws-request-id")
            .and_then(|v| v.to_str().ok())
            .expect("request id")
            .to_owned();
        Invocation {
            request_id,
            payload: res.text().await.expect("event"),
        }
    }

    /// As the function's runtime: answers invocation `request_id` with `body`.
    pub async fn respond(&self, request_id: &str, body: &str) {
        let res = self
            .client
            .post(format!(
                "http://{}/2018-06-01/runtime/invocation/{request_id}/response",
                self.runtime_api()
            ))
            .body(body.to_owned())
            .send()
            .await
            .expect("runtime response");
        assert!(res.status().is_success(), "response refused: {}", res.status());
    }
}

/// The emulator's Runtime API as Lambda serves it, for runtimes that depend on the difference: Lambda
/// answers `invocation/next` with `Content-Type: application/json` and a deadline in milliseconds since
/// the epoch; cargo-lambda 1.9.2 sends no Content-Type (AWS's Python runtime interface client, awslambdaric
/// 4.2.2, then crashes with a segmentation fault) and a deadline of 600000. This proxy adds the one and
/// rewrites the other (now + 60 s), and passes everything else on unchanged.
pub struct LambdaRuntimeApi {
    /// `127.0.0.1:PORT`, as `AWS_LAMBDA_RUNTIME_API`.
    pub address: String,
    task: tokio::task::JoinHandle<()>,
}

impl LambdaRuntimeApi {
    /// A proxy to `upstream` (`http://127.0.0.1:PORT/.rt`).
    pub async fn spawn(upstream: &str) -> Self {
        let http = reqwest::Client::builder().no_proxy().build().expect("client");
        let upstream = upstream.trim_end_matches('/').to_owned();
        let (addr, task) = crate::serve(move |req: hyper::Request<hyper::body::Incoming>| {
            let (http, upstream) = (http.clone(), upstream.clone());
            let next = req.uri().path().ends_with("/runtime/invocation/next");
            async move {
                let mut reply = crate::pass_on(&http, &upstream, req).await;
                if next && reply.status().is_success() {
                    let headers = reply.headers_mut();
                    if !headers.contains_key(hyper::header::CONTENT_TYPE) {
                        headers.insert(
                            hyper::header::CONTENT_TYPE,
                            hyper::header::HeaderValue::from_static("application/json"),
                        );
                    }
                    let deadline = std::time::SystemTime::now()
                        .duration_since(std::time::UNIX_EPOCH)
                        .unwrap_or_default()
                        .as_millis()
                        + 60_000;
                    if let Ok(value) = hyper::header::HeaderValue::from_str(&deadline.to_string()) {
                        headers.insert("lambda-runtime-deadline-ms", value);
                    }
                }
                reply
            }
        })
        .await;
        Self {
            address: addr.to_string(),
            task,
        }
    }
}

impl Drop for LambdaRuntimeApi {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Sends `cmd`'s output to `log` (appended) when given, else nowhere unless the tests run verbose.
fn output_to(cmd: &mut Command, log: Option<&Path>) {
    match log {
        Some(path) => {
            let file = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(path)
                .expect("open log file");
            cmd.stdout(file.try_clone().expect("log file")).stderr(file);
        }
        None => quiet(cmd),
    }
}

fn quiet(cmd: &mut Command) {
    if std::env::var_os("ORIGIN_VERIFY_TEST_VERBOSE").is_none() {
        cmd.stdout(Stdio::null()).stderr(Stdio::null());
    }
}
