//! Child processes for tests: moto in server mode and `cargo lambda watch`, both bound to 127.0.0.1,
//! both killed when their handle drops.

use std::net::TcpListener;
use std::path::PathBuf;
use std::process::Stdio;
use std::time::{Duration, Instant};

use tokio::process::{Child, Command};

use crate::{MOTO_URL_VAR, TOOLS_BIN_VAR};

/// The moto server the test command started.
///
/// Panics with the fix when the tests were not started by `scripts/test`.
pub fn shared_moto_url() -> String {
    std::env::var(MOTO_URL_VAR).unwrap_or_else(|_| {
        panic!("{MOTO_URL_VAR} is not set: run the tests with scripts/test, which starts moto")
    })
}

/// Every environment variable through which an HTTP client (reqwest, the AWS SDK) may pick up a proxy:
/// the tests that prove a secret never goes through one set them all.
pub const PROXY_VARIABLES: [&str; 6] = [
    "HTTP_PROXY",
    "http_proxy",
    "HTTPS_PROXY",
    "https_proxy",
    "ALL_PROXY",
    "all_proxy",
];

/// A free TCP port on 127.0.0.1 (bound, then released for the child to take).
pub fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
    listener.local_addr().expect("local addr").port()
}

/// Path of a pinned tool, from [`TOOLS_BIN_VAR`] (else found on PATH).
pub fn tool(name: &str) -> PathBuf {
    match std::env::var_os(TOOLS_BIN_VAR) {
        Some(dir) => PathBuf::from(dir).join(name),
        None => PathBuf::from(name),
    }
}

/// The workspace root.
pub fn workspace_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("workspace root")
        .to_path_buf()
}

/// Polls `url` until it answers at all (any status), for at most `budget`.
pub async fn wait_until_listening(url: &str, budget: Duration) -> Result<(), String> {
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(1))
        .build()
        .expect("client");
    let deadline = Instant::now() + budget;
    let mut last = String::new();
    while Instant::now() < deadline {
        match client.get(url).send().await {
            Ok(_) => return Ok(()),
            Err(e) => last = e.to_string(),
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    Err(format!("{url} did not answer within {budget:?}: {last}"))
}

/// A private moto server, for tests that stop it.
pub struct Moto {
    child: Option<Child>,
    /// `http://127.0.0.1:PORT`
    pub url: String,
}

impl Moto {
    /// Starts `moto_server` on a free port and waits until it answers.
    pub async fn spawn() -> Self {
        let port = free_port();
        let child = Command::new(tool("moto_server"))
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .expect("start moto_server (run the tests with scripts/test)");
        let url = format!("http://127.0.0.1:{port}");
        wait_until_listening(&format!("{url}/moto-api/"), Duration::from_secs(30))
            .await
            .expect("moto up");
        Self {
            child: Some(child),
            url,
        }
    }

    /// Stops the server and waits until it has exited.
    pub async fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill().await;
        }
    }
}

/// The Lambda emulator (`cargo lambda watch --only-lambda-apis`: the Runtime, Extensions and Invoke APIs)
/// with one of this workspace's binaries running against it as the function.
///
/// The emulator does not build or start the function itself: the test starts the binary that
/// `cargo build` already made. Letting the emulator `cargo run` it meant a second build with another
/// environment (minutes on a fresh machine) inside a test's time budget, and its process supervision
/// took other processes down with it when stopped mid-build.
pub struct CargoLambda {
    _emulator: Child,
    _function: Child,
    /// `http://127.0.0.1:PORT`
    pub url: String,
    client: reqwest::Client,
}

/// The directory cargo builds into (`CARGO_TARGET_DIR`, else the workspace's `target`).
pub fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace_root().join("target"))
}

/// Waits until something accepts TCP connections on 127.0.0.1:`port`, for at most `budget`.
pub async fn wait_for_port(port: u16, budget: Duration) -> Result<(), String> {
    let deadline = Instant::now() + budget;
    while Instant::now() < deadline {
        if tokio::net::TcpStream::connect(("127.0.0.1", port)).await.is_ok() {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    Err(format!("nothing listens on 127.0.0.1:{port} after {budget:?}"))
}

impl CargoLambda {
    /// Starts the emulator on a free port and the debug build of `bin` as its function. `env` reaches
    /// the function.
    pub async fn spawn(bin: &str, env: &[(&str, &str)]) -> Self {
        Self::spawn_logged(bin, env, None).await
    }

    /// Like [`CargoLambda::spawn`], with the function talking to the emulator through a
    /// [`RuntimeApiRecorder`] (returned), which tells when each Runtime/Extensions API request arrived.
    pub async fn spawn_recorded(bin: &str, env: &[(&str, &str)]) -> (Self, crate::RuntimeApiRecorder) {
        let port = free_port();
        let recorder = crate::RuntimeApiRecorder::spawn(&format!("http://127.0.0.1:{port}/.rt/{bin}")).await;
        let emulator = Self::spawn_inner(bin, env, None, port, Some(&recorder.url)).await;
        (emulator, recorder)
    }

    /// Like [`CargoLambda::spawn`], with the emulator's and the function's output appended to `log`.
    pub async fn spawn_logged(bin: &str, env: &[(&str, &str)], log: Option<&std::path::Path>) -> Self {
        Self::spawn_inner(bin, env, log, free_port(), None).await
    }

    /// Starts the emulator on `port`; the function reaches its Runtime API at `runtime_api` when given
    /// (a proxy), else directly.
    async fn spawn_inner(
        bin: &str,
        env: &[(&str, &str)],
        log: Option<&std::path::Path>,
        port: u16,
        runtime_api: Option<&str>,
    ) -> Self {
        let binary = target_dir().join("debug").join(bin);
        assert!(
            binary.exists(),
            "{} is missing: build the binaries first (cargo build --workspace --bins; scripts/test does)",
            binary.display()
        );
        let output = |cmd: &mut Command| match log {
            Some(path) => {
                let file = std::fs::OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(path)
                    .expect("open log file");
                cmd.stdout(file.try_clone().expect("log file")).stderr(file);
            }
            None if std::env::var_os("ORIGIN_VERIFY_TEST_VERBOSE").is_some() => {}
            None => {
                cmd.stdout(Stdio::null()).stderr(Stdio::null());
            }
        };

        let mut emulator = Command::new(tool("cargo-lambda"));
        emulator
            .args([
                "lambda",
                "watch",
                "--only-lambda-apis",
                "-A",
                "127.0.0.1",
                "-P",
                &port.to_string(),
            ])
            .current_dir(workspace_root())
            .stdin(Stdio::null())
            .kill_on_drop(true);
        output(&mut emulator);
        let emulator = emulator.spawn().expect("start cargo lambda watch");
        // The emulator's root answers only long-polls: readiness is an open port.
        wait_for_port(port, Duration::from_secs(60))
            .await
            .expect("cargo lambda watch up");

        let url = format!("http://127.0.0.1:{port}");
        let mut function = Command::new(&binary);
        function
            .envs(env.iter().copied())
            // What the Lambda service sets for a function; the emulator serves this function's queue here.
            .env(
                "AWS_LAMBDA_RUNTIME_API",
                runtime_api.map_or_else(|| format!("{url}/.rt/{bin}"), str::to_owned),
            )
            .env("AWS_LAMBDA_FUNCTION_NAME", bin)
            .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
            .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128")
            .stdin(Stdio::null())
            .kill_on_drop(true);
        output(&mut function);
        let function = function.spawn().expect("start the function binary");

        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(120))
            .build()
            .expect("client");
        Self {
            _emulator: emulator,
            _function: function,
            url,
            client,
        }
    }

    /// Invokes `function` with `payload`; returns the HTTP status and the body.
    pub async fn invoke(&self, function: &str, payload: &str) -> (u16, String) {
        let url = format!("{}/2015-03-31/functions/{function}/invocations", self.url);
        let res = self
            .client
            .post(url)
            .body(payload.to_owned())
            .send()
            .await
            .expect("invoke through cargo lambda");
        let status = res.status().as_u16();
        (status, res.text().await.expect("body"))
    }
}

/// Environment variable: path of a built function executable to run instead of this workspace's debug
/// build — the `bootstrap` that `sam build` made (set by `scripts/check-artifacts`).
pub const ARTIFACT_VAR: &str = "ORIGIN_VERIFY_TEST_ARTIFACT";
/// Environment variable: the command that runs [`ARTIFACT_VAR`]'s executable, words separated by spaces
/// (`qemu-aarch64 -L /usr/aarch64-linux-gnu` for an arm64 `bootstrap` on another machine); unset or
/// empty: run it directly.
pub const ARTIFACT_RUNNER_VAR: &str = "ORIGIN_VERIFY_TEST_ARTIFACT_RUNNER";

/// A built function executable and the command that runs it (an emulator, or nothing).
#[derive(Debug, Clone)]
pub struct Artifact {
    /// The executable (a `bootstrap`).
    pub path: PathBuf,
    /// The program and arguments placed before it; empty: it runs directly.
    pub runner: Vec<String>,
}

impl Artifact {
    /// The artifact named by [`ARTIFACT_VAR`] (a relative path is taken from the workspace root) and
    /// [`ARTIFACT_RUNNER_VAR`]; `None` when the first is unset.
    pub fn from_env() -> Option<Self> {
        let path = workspace_root().join(std::env::var_os(ARTIFACT_VAR)?);
        let runner = std::env::var(ARTIFACT_RUNNER_VAR)
            .unwrap_or_default()
            .split_whitespace()
            .map(str::to_owned)
            .collect();
        Some(Self { path, runner })
    }

    /// How it is run, for messages: `qemu-aarch64 -L … /path/bootstrap`.
    pub fn command_line(&self) -> String {
        let mut words = self.runner.clone();
        words.push(self.path.display().to_string());
        words.join(" ")
    }
}

impl CargoLambda {
    /// Like [`CargoLambda::spawn`], with `artifact` (run through its runner) as the function named
    /// `function` instead of the debug build. The function's output goes to `log`, which
    /// [`CargoLambda::invoke_watched`] shows when the function dies.
    pub async fn spawn_artifact(
        function: &str,
        artifact: &Artifact,
        env: &[(&str, &str)],
        log: &std::path::Path,
    ) -> Self {
        assert!(
            artifact.path.is_file(),
            "{} is missing: build it first (scripts/check-artifacts does)",
            artifact.path.display()
        );
        let port = free_port();
        let mut emulator = Command::new(tool("cargo-lambda"));
        emulator
            .args(["lambda", "watch", "--only-lambda-apis", "-A", "127.0.0.1", "-P"])
            .arg(port.to_string())
            .current_dir(workspace_root())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .kill_on_drop(true);
        let emulator = emulator.spawn().expect("start cargo lambda watch");
        wait_for_port(port, Duration::from_secs(60))
            .await
            .expect("cargo lambda watch up");

        let url = format!("http://127.0.0.1:{port}");
        let file = std::fs::File::create(log).expect("create the function's log file");
        let (program, args) = match artifact.runner.split_first() {
            Some((program, args)) => (PathBuf::from(program), args.to_vec()),
            None => (artifact.path.clone(), Vec::new()),
        };
        let mut command = Command::new(&program);
        if !artifact.runner.is_empty() {
            command.args(&args).arg(&artifact.path);
        }
        command
            .envs(env.iter().copied())
            .env("AWS_LAMBDA_RUNTIME_API", format!("{url}/.rt/{function}"))
            .env("AWS_LAMBDA_FUNCTION_NAME", function)
            .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
            .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128")
            .stdin(Stdio::null())
            .stdout(file.try_clone().expect("log file"))
            .stderr(file)
            .kill_on_drop(true);
        let function_process = command
            .spawn()
            .unwrap_or_else(|e| panic!("start {}: {e}", artifact.command_line()));
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(120))
            .build()
            .expect("client");
        Self {
            _emulator: emulator,
            _function: function_process,
            url,
            client,
        }
    }

    /// Like [`CargoLambda::invoke`], but fails at once, with the function's output from `log`, when the
    /// function process exits first (a loader or emulator error would otherwise wait for the timeout).
    pub async fn invoke_watched(
        &mut self,
        function: &str,
        payload: &str,
        log: &std::path::Path,
    ) -> (u16, String) {
        let url = format!("{}/2015-03-31/functions/{function}/invocations", self.url);
        let request = self.client.post(url).body(payload.to_owned()).send();
        tokio::select! {
            res = request => {
                let res = res.expect("invoke through cargo lambda");
                let status = res.status().as_u16();
                (status, res.text().await.expect("body"))
            }
            status = self._function.wait() => {
                let output = std::fs::read_to_string(log).unwrap_or_default();
                let status = status.map_or_else(|e| e.to_string(), |s| s.to_string());
                panic!("the function exited ({status}) before answering; its output:\n{output}");
            }
        }
    }
}
