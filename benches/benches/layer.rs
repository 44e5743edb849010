//! Our layer (`origin-verify-layer`) against AWS's Secrets Manager Agent (`aws_secretsmanager_agent`
//! 2.1.0) and against asking Secrets Manager (moto) directly, in one run, on loopback, over HTTP/1.1
//! keep-alive:
//!
//! - `layer-current`: GET `/secretsmanager/get?secretId=S` to our layer (warm cache);
//! - `agent-current`: the same request to the agent (warm cache, same TTL: 300 s);
//! - `direct-get-secret-value`: GetSecretValue with the Rust SDK straight to moto (a function without a cache);
//! - `layer-pending-absent`: `&versionStage=AWSPENDING` on a secret that has no AWSPENDING, to our layer;
//! - `agent-pending-absent`: the same to the agent;
//! - `direct-through-counting-proxy`: the direct call again, through a counting proxy like the one in
//!   front of the layer and the agent (the cost of that hop, paid by every call either makes).
//!
//! Each target reaches moto through its own counting proxy (a byte-for-byte TCP relay that counts the
//! requests it relays by their `X-Amz-Target`). Outside criterion's timing, each case is sent exactly
//! 1,000 times and the calls that reached Secrets Manager are printed and written to
//! `target/criterion/layer/calls.json` (`scripts/bench-layer` prints the table).
//!
//! Needs what `scripts/bench-layer` sets up: moto (`ORIGIN_VERIFY_TEST_MOTO_URL`), the pinned tools
//! (`ORIGIN_VERIFY_TEST_TOOLS_BIN`: the Lambda emulator the layer registers with), our layer's release
//! binary (`ORIGIN_VERIFY_BENCH_LAYER_BIN`) and the agent (`ORIGIN_VERIFY_BENCH_AGENT_BIN`). Without
//! them the bench is skipped with a note.
use std::collections::BTreeMap;
use std::hint::black_box;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, Criterion};
use origin_verify_testkit::{
    free_port, sm_client, target_dir, unique_name, RuntimeApiRecorder, Sandbox, MOTO_URL_VAR, REGION,
    TOOLS_BIN_VAR,
};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};
use tokio::process::{Child, Command};
use tokio::runtime::Runtime;

/// Our layer's release binary (`cargo build --release -p origin-verify-layer`).
const LAYER_VAR: &str = "ORIGIN_VERIFY_BENCH_LAYER_BIN";
/// `aws_secretsmanager_agent` 2.1.0 (`cargo install`ed by `scripts/bench-layer`).
const AGENT_VAR: &str = "ORIGIN_VERIFY_BENCH_AGENT_BIN";
const TOKEN: &str = "bench-session-token-of-this-sandbox";
const TOKEN_HEADER: &str = "X-Aws-Parameters-Secrets-Token";
/// The cache TTL both are given (the default of both).
const TTL_SECONDS: u64 = 300;
/// Requests per case for the Secrets Manager call count.
const COUNTED: usize = 1000;
/// How long a process may take to start answering.
const START_BUDGET: Duration = Duration::from_secs(60);

/// Requests relayed by one counting proxy: `requests` (every HTTP request) and one entry per
/// `X-Amz-Target` (`secretsmanager.GetSecretValue`, ...; STS's form-encoded calls have none).
#[derive(Clone, Default)]
struct Calls(Arc<Mutex<BTreeMap<String, usize>>>);

impl Calls {
    fn add(&self, what: &str) {
        *self
            .0
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .entry(what.to_owned())
            .or_default() += 1;
    }

    fn snapshot(&self) -> BTreeMap<String, usize> {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// Calls to Secrets Manager (any `secretsmanager.*` operation) so far.
    fn secrets_manager(&self) -> usize {
        self.snapshot()
            .iter()
            .filter(|(k, _)| k.starts_with("secretsmanager."))
            .map(|(_, n)| n)
            .sum()
    }
}

/// A loopback TCP relay to moto that counts the HTTP requests going through it. It copies bytes as they
/// come (no HTTP parsing on the way, `TCP_NODELAY` both sides), and reads the request lines and the
/// `X-Amz-Target` headers off the client's stream to count them.
struct CountingProxy {
    url: String,
    calls: Calls,
}

impl CountingProxy {
    /// Binds a free port and relays it to `upstream` on `runtime` (a runtime of its own, so the relay
    /// runs whatever the bench's thread is doing).
    fn spawn(runtime: &Runtime, upstream: SocketAddr) -> Self {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
        listener.set_nonblocking(true).expect("nonblocking");
        let url = format!("http://{}", listener.local_addr().expect("addr"));
        let calls = Calls::default();
        let counted = calls.clone();
        runtime.spawn(async move {
            let listener = TcpListener::from_std(listener).expect("listener");
            while let Ok((client, _)) = listener.accept().await {
                tokio::spawn(relay(client, upstream, counted.clone()));
            }
        });
        Self { url, calls }
    }
}

async fn relay(client: TcpStream, upstream: SocketAddr, calls: Calls) {
    let Ok(server) = TcpStream::connect(upstream).await else {
        return;
    };
    let _ = client.set_nodelay(true);
    let _ = server.set_nodelay(true);
    let (mut client_read, mut client_write) = client.into_split();
    let (mut server_read, mut server_write) = server.into_split();
    let requests = async {
        let mut buf = vec![0u8; 16 * 1024];
        let mut line = Vec::with_capacity(256);
        loop {
            let n = client_read.read(&mut buf).await?;
            if n == 0 {
                return server_write.shutdown().await;
            }
            for &byte in &buf[..n] {
                if byte == b'\n' {
                    count_line(&line, &calls);
                    line.clear();
                } else if line.len() < 4096 {
                    line.push(byte);
                }
            }
            server_write.write_all(&buf[..n]).await?;
        }
    };
    let answers = tokio::io::copy(&mut server_read, &mut client_write);
    tokio::select! {
        _ = requests => {}
        _ = answers => {}
    }
}

/// Counts one line of a client's stream: an `X-Amz-Target` header by its operation, a request line as
/// one of `requests`.
fn count_line(line: &[u8], calls: &Calls) {
    const TARGET: &[u8] = b"x-amz-target:";
    if line.len() > TARGET.len() && line[..TARGET.len()].eq_ignore_ascii_case(TARGET) {
        let value = String::from_utf8_lossy(&line[TARGET.len()..]);
        calls.add(value.trim());
    } else if line.ends_with(b" HTTP/1.1\r") {
        // A body without a final newline runs into the next request line: match its end, not its start.
        calls.add("requests");
    }
}

/// One HTTP/1.1 keep-alive connection for GETs with the token, as a function's client keeps one (a
/// few lines of client, so that its own cost is small and the same for both servers). Answers must carry
/// `Content-Length`, as both servers' do. A connection the server closed is opened again once (the
/// agent closes every connection after 61 s).
struct Connection {
    addr: SocketAddr,
    stream: Option<BufReader<TcpStream>>,
}

impl Connection {
    fn new(port: u16) -> Self {
        Self {
            addr: SocketAddr::from(([127, 0, 0, 1], port)),
            stream: None,
        }
    }

    /// GET `path`; its status.
    async fn get(&mut self, path: &str) -> u16 {
        match self.try_get(path).await {
            Ok(status) => status,
            Err(_) => {
                self.stream = None;
                self.try_get(path)
                    .await
                    .unwrap_or_else(|e| panic!("GET {path} on {}: {e}", self.addr))
            }
        }
    }

    async fn try_get(&mut self, path: &str) -> std::io::Result<u16> {
        let stream = match &mut self.stream {
            Some(stream) => stream,
            None => {
                let stream = TcpStream::connect(self.addr).await?;
                stream.set_nodelay(true)?;
                self.stream.insert(BufReader::new(stream))
            }
        };
        let request = format!("GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n{TOKEN_HEADER}: {TOKEN}\r\n\r\n");
        stream.get_mut().write_all(request.as_bytes()).await?;
        let bad = |what: &str| std::io::Error::other(what.to_owned());
        let mut line = String::new();
        if stream.read_line(&mut line).await? == 0 {
            return Err(bad("closed"));
        }
        let status = line
            .split(' ')
            .nth(1)
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| bad("no status line"))?;
        let (mut length, mut close) = (None, false);
        loop {
            line.clear();
            if stream.read_line(&mut line).await? == 0 {
                return Err(bad("closed in the headers"));
            }
            if line == "\r\n" {
                break;
            }
            if let Some((name, value)) = line.split_once(':') {
                if name.eq_ignore_ascii_case("content-length") {
                    length = value.trim().parse::<usize>().ok();
                } else if name.eq_ignore_ascii_case("connection") {
                    close = value.trim().eq_ignore_ascii_case("close");
                }
            }
        }
        let mut body = vec![0; length.ok_or_else(|| bad("no Content-Length"))?];
        stream.read_exact(&mut body).await?;
        black_box(body);
        if close {
            self.stream = None;
        }
        Ok(status)
    }
}

/// Polls `/ping` until it answers 200, for at most [`START_BUDGET`]; fails once `exited` says it stopped.
async fn wait_for_ping(port: u16, what: &str, mut exited: impl FnMut() -> bool) {
    let deadline = Instant::now() + START_BUDGET;
    loop {
        if let Ok(Ok(200)) =
            tokio::time::timeout(Duration::from_secs(5), Connection::new(port).try_get("/ping")).await
        {
            return;
        }
        assert!(!exited(), "{what} exited before answering");
        assert!(
            Instant::now() < deadline,
            "{what} did not answer /ping in {START_BUDGET:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The environment both processes get: moto through their proxy, dummy credentials, the token.
fn aws_env(proxy: &CountingProxy) -> Vec<(&'static str, String)> {
    vec![
        ("AWS_ENDPOINT_URL", proxy.url.clone()),
        ("AWS_REGION", REGION.to_owned()),
        ("AWS_ACCESS_KEY_ID", "testing".to_owned()),
        ("AWS_SECRET_ACCESS_KEY", "testing".to_owned()),
        ("AWS_EC2_METADATA_DISABLED", "true".to_owned()),
        ("AWS_SESSION_TOKEN", TOKEN.to_owned()),
    ]
}

/// Starts the agent with a config file holding the port and the TTL, in `dir` (a scratch directory under
/// `target/`), its output in `dir/agent.log`.
fn start_agent(agent: &Path, proxy: &CountingProxy, port: u16, dir: &Path) -> Child {
    let config = dir.join("agent.toml");
    std::fs::write(
        &config,
        format!(
            "log_level = \"warn\"\nlog_to_file = false\nhttp_port = \"{port}\"\nttl_seconds = \"{TTL_SECONDS}\"\n\
             region = \"{REGION}\"\n"
        ),
    )
    .expect("agent config");
    let log = std::fs::File::create(dir.join("agent.log")).expect("agent log");
    let mut cmd = Command::new(agent);
    cmd.arg("--config")
        .arg(&config)
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .envs(aws_env(proxy))
        .current_dir(dir)
        .stdin(Stdio::null())
        .stdout(log.try_clone().expect("agent log"))
        .stderr(log)
        .kill_on_drop(true);
    cmd.spawn()
        .unwrap_or_else(|e| panic!("start {}: {e}", agent.display()))
}

/// One case: whom it asks what, the status it must get, and the proxy that counts its calls.
struct Case<'a> {
    name: &'static str,
    port: u16,
    path: String,
    /// Statuses it must get: 200, or for an absent stage a 4xx (Secrets Manager answers 400; moto 404,
    /// which the agent passes on as it gets it, and our layer answers 400).
    status: std::ops::Range<u16>,
    calls: &'a Calls,
}

fn layer(c: &mut Criterion) {
    let vars = [MOTO_URL_VAR, TOOLS_BIN_VAR, LAYER_VAR, AGENT_VAR];
    let values: Vec<_> = vars.iter().map(std::env::var).collect();
    let [Ok(moto), Ok(_), Ok(layer_bin), Ok(agent_bin)] = &values[..] else {
        eprintln!("layer: {vars:?} are not all set (scripts/bench-layer sets them); skipped");
        return;
    };
    let (layer_bin, agent_bin) = (PathBuf::from(layer_bin), PathBuf::from(agent_bin));
    for bin in [&layer_bin, &agent_bin] {
        assert!(bin.exists(), "{} is missing", bin.display());
    }
    let moto_addr: SocketAddr = moto
        .trim_start_matches("http://")
        .trim_end_matches('/')
        .parse()
        .expect("moto URL is http://IP:PORT");

    // The relays run on a runtime of their own; the bench's requests on this thread's.
    let relays = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("relay runtime");
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let layer_proxy = CountingProxy::spawn(&relays, moto_addr);
    let agent_proxy = CountingProxy::spawn(&relays, moto_addr);
    let direct_proxy = CountingProxy::spawn(&relays, moto_addr);

    let secret = unique_name("bench-layer");
    let (layer_port, agent_port) = (free_port(), free_port());
    let scratch = target_dir().join("tmp").join(unique_name("bench-layer"));
    std::fs::create_dir_all(&scratch).expect("scratch directory");
    let (_sandbox, _recorder, mut agent) = runtime.block_on(async {
        sm_client(moto)
            .create_secret()
            .name(&secret)
            .secret_string(r#"{"HEADERVALUE":"CurrentValue0123456789abcdefABCD"}"#)
            .send()
            .await
            .expect("CreateSecret");

        // Our layer, registered with the Lambda emulator as an external extension (as its tests run it).
        let mut sandbox = Sandbox::spawn().await;
        let port = layer_port.to_string();
        let ttl = TTL_SECONDS.to_string();
        let mut env: Vec<(&str, &str)> = vec![
            ("PARAMETERS_SECRETS_EXTENSION_HTTP_PORT", &port),
            ("SECRETS_MANAGER_TTL", &ttl),
        ];
        let aws = aws_env(&layer_proxy);
        env.extend(aws.iter().map(|(k, v)| (*k, v.as_str())));
        // The extensions client wants `host:port` without a path; the emulator serves under `/.rt`: the
        // recorder (on the relays' runtime, so it always runs) bridges the two, as in the layer's tests.
        let sandbox_api = format!("http://{}", sandbox.runtime_api());
        let recorder = relays
            .spawn(async move { RuntimeApiRecorder::spawn(&sandbox_api).await })
            .await
            .expect("recorder");
        let api = recorder.url.trim_start_matches("http://").to_owned();
        let log = scratch.join("layer.log");
        let index = sandbox.start(&layer_bin, &[], &env, Some(&api), Some(&log));
        let mut exited = false;
        wait_for_ping(layer_port, "the layer", || {
            exited = exited || std::fs::read_to_string(&log).is_ok_and(|l| l.contains("panicked"));
            exited
        })
        .await;
        assert!(
            sandbox.wait_exit(index, Duration::ZERO).await.is_none(),
            "the layer exited: {}",
            log.display()
        );

        let mut agent = start_agent(&agent_bin, &agent_proxy, agent_port, &scratch);
        wait_for_ping(agent_port, "the agent", || {
            agent.try_wait().is_ok_and(|s| s.is_some())
        })
        .await;
        (sandbox, recorder, agent)
    });

    let current = format!("/secretsmanager/get?secretId={secret}");
    let pending = format!("{current}&versionStage=AWSPENDING");
    let http_cases = [
        Case {
            name: "layer-current",
            port: layer_port,
            path: current.clone(),
            status: 200..201,
            calls: &layer_proxy.calls,
        },
        Case {
            name: "agent-current",
            port: agent_port,
            path: current,
            status: 200..201,
            calls: &agent_proxy.calls,
        },
        Case {
            name: "layer-pending-absent",
            port: layer_port,
            path: pending.clone(),
            status: 400..500,
            calls: &layer_proxy.calls,
        },
        Case {
            name: "agent-pending-absent",
            port: agent_port,
            path: pending,
            status: 400..500,
            calls: &agent_proxy.calls,
        },
    ];
    let direct = sm_client(moto);
    let direct_counted = sm_client(&direct_proxy.url);
    let get_secret_value = |client: &aws_sdk_secretsmanager::Client| {
        let out = runtime
            .block_on(client.get_secret_value().secret_id(&secret).send())
            .expect("GetSecretValue");
        black_box(out.secret_string().map(str::len))
    };

    // Warm: every case once (loads the caches), then exactly 1,000 of each, counted.
    let mut counts: BTreeMap<&str, serde_json::Value> = BTreeMap::new();
    let mut connections: Vec<Connection> = http_cases.iter().map(|c| Connection::new(c.port)).collect();
    for (case, conn) in http_cases.iter().zip(&mut connections) {
        let status = runtime.block_on(conn.get(&case.path));
        assert!(case.status.contains(&status), "{}: {status}", case.name);
    }
    get_secret_value(&direct_counted);
    for (case, conn) in http_cases.iter().zip(&mut connections) {
        let (before, all_before) = (case.calls.secrets_manager(), case.calls.snapshot());
        let status = runtime.block_on(async {
            let mut status = 0;
            for _ in 0..COUNTED {
                status = conn.get(&case.path).await;
                assert!(case.status.contains(&status), "{}: {status}", case.name);
            }
            status
        });
        let mut tallied = tally(
            case.name,
            case.calls.secrets_manager() - before,
            &all_before,
            case.calls,
        );
        tallied["status"] = status.into();
        counts.insert(case.name, tallied);
    }
    let (before, all_before) = (
        direct_proxy.calls.secrets_manager(),
        direct_proxy.calls.snapshot(),
    );
    for _ in 0..COUNTED {
        get_secret_value(&direct_counted);
    }
    let through_proxy = direct_proxy.calls.secrets_manager() - before;
    counts.insert(
        "direct-get-secret-value",
        tally(
            "direct-get-secret-value",
            through_proxy,
            &all_before,
            &direct_proxy.calls,
        ),
    );
    let out = target_dir().join("criterion").join("layer");
    std::fs::create_dir_all(&out).expect("criterion directory");
    std::fs::write(
        out.join("calls.json"),
        serde_json::to_string_pretty(&counts).expect("json"),
    )
    .expect("calls.json");

    let mut g = c.benchmark_group("layer");
    g.sample_size(50);
    let mut timed = http_cases.iter().zip(&mut connections);
    for (case, conn) in timed.by_ref().take(2) {
        g.bench_function(case.name, |b| {
            b.iter(|| runtime.block_on(conn.get(black_box(&case.path))))
        });
    }
    g.bench_function("direct-get-secret-value", |b| {
        b.iter(|| get_secret_value(&direct))
    });
    for (case, conn) in timed {
        g.bench_function(case.name, |b| {
            b.iter(|| runtime.block_on(conn.get(black_box(&case.path))))
        });
    }
    g.bench_function("direct-through-counting-proxy", |b| {
        b.iter(|| get_secret_value(&direct_counted))
    });
    g.finish();

    assert!(
        agent.try_wait().expect("agent status").is_none(),
        "the agent stopped during the run"
    );
}

/// Prints and returns one case's count: Secrets Manager calls per [`COUNTED`] requests, with the
/// operations behind them.
fn tally(
    name: &str,
    secrets_manager: usize,
    before: &BTreeMap<String, usize>,
    calls: &Calls,
) -> serde_json::Value {
    let by_operation: BTreeMap<String, usize> = calls
        .snapshot()
        .into_iter()
        .map(|(k, n)| {
            let during = n - before.get(&k).copied().unwrap_or(0);
            (k, during)
        })
        .filter(|(_, n)| *n > 0)
        .collect();
    eprintln!(
        "layer/{name}: {secrets_manager} Secrets Manager calls per {COUNTED} requests {by_operation:?}"
    );
    serde_json::json!({
        "requests": COUNTED,
        "secrets_manager_calls": secrets_manager,
        "by_operation": by_operation,
    })
}

criterion_group!(benches, layer);
criterion_main!(benches);
