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

/// `cargo lambda watch` serving this workspace's binaries, with the given environment.
pub struct CargoLambda {
    _child: Child,
    /// `http://127.0.0.1:PORT`
    pub url: String,
    client: reqwest::Client,
}

impl CargoLambda {
    /// Starts the emulator on a free port, serving the binary `bin`. `env` reaches the function.
    ///
    /// The binary is named because the emulator otherwise also starts a default instance with a bare
    /// `cargo run`, which fails in a workspace of several binaries.
    pub async fn spawn(bin: &str, env: &[(&str, &str)]) -> Self {
        Self::spawn_logged(bin, env, None).await
    }

    /// Like [`CargoLambda::spawn`], with the emulator's and the function's output appended to `log`.
    pub async fn spawn_logged(bin: &str, env: &[(&str, &str)], log: Option<&std::path::Path>) -> Self {
        let port = free_port();
        // In its own session: the emulator's watcher otherwise takes over a controlling terminal, which
        // stops the shell that runs the tests. `setsid` execs in place, so the pid stays the group's id.
        let mut cmd = Command::new("setsid");
        cmd.arg(tool("cargo-lambda"));
        cmd.args([
            "lambda",
            "watch",
            "--ignore-changes",
            "-A",
            "127.0.0.1",
            "-P",
            &port.to_string(),
            "--bin",
            bin,
        ])
        .current_dir(workspace_root())
        .stdin(Stdio::null())
        .kill_on_drop(true);
        if let Some(path) = log {
            let file = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(path)
                .expect("open log file");
            cmd.stdout(file.try_clone().expect("log file")).stderr(file);
        } else if std::env::var_os("ORIGIN_VERIFY_TEST_VERBOSE").is_none() {
            cmd.stdout(Stdio::null()).stderr(Stdio::null());
        }
        for (k, v) in env {
            cmd.env(k, v);
        }
        // cargo-lambda runs `cargo`; make sure the one it finds is ours, with the tools beside it.
        if let Some(dir) = std::env::var_os(TOOLS_BIN_VAR) {
            let path = std::env::var_os("PATH").unwrap_or_default();
            let mut dirs = vec![PathBuf::from(dir)];
            dirs.extend(std::env::split_paths(&path));
            cmd.env("PATH", std::env::join_paths(dirs).expect("PATH"));
        }
        let child = cmd.spawn().expect("start cargo lambda watch");
        let url = format!("http://127.0.0.1:{port}");
        wait_until_listening(&url, Duration::from_secs(60))
            .await
            .expect("cargo lambda watch up");
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(120))
            .build()
            .expect("client");
        Self {
            _child: child,
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

impl Drop for CargoLambda {
    fn drop(&mut self) {
        // `cargo lambda watch` starts the function as its own child; end the whole process group.
        if let Some(pid) = self._child.id() {
            let _ = std::process::Command::new("kill")
                .args(["-TERM", &format!("-{pid}")])
                .status();
        }
    }
}
