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
