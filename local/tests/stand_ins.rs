//! The stand-ins on their own, without the stack: the edge overwrites a viewer's copy of the header as
//! CloudFront does, both servers cut off a client that trickles its header section (the edge: its body
//! too), the gateway's authorizer cache stays within its bound, no stand-in sends through a proxy,
//! the gateway removes the header before the real `backend` (under the emulator, at TRACE), and a route
//! with its own authorizer takes only its paths.
//! The edge reads its distribution from the shared moto.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use http_body_util::BodyExt;
use origin_verify_local::edge::{Edge, EdgeConfig, MAX_BODY_BYTES};
use origin_verify_local::gateway::{Gateway, GatewayConfig, Route, CACHE_CAPACITY};
use origin_verify_local::serve::{MAX_HEADER_BYTES, READ_TIMEOUT};
use origin_verify_testkit::{
    cf_client, create_distribution_to, reply, serve, shared_moto_url, OriginTarget, TestOrigin,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::task::JoinHandle;

const HEADER: &str = "x-origin-verify";
/// What the distribution tells the edge to send. Not a secret: a fixture.
const EDGE_VALUE: &str = "edge-value-0123456789abcdefghijk";
/// The fake authorizer admits this value and every value that starts with it.
const RIGHT: &str = "right-value";

fn http() -> reqwest::Client {
    reqwest::Client::builder()
        .no_proxy()
        .timeout(Duration::from_secs(10))
        .build()
        .expect("client")
}

/// An origin that records, per request, every value of the header it carried.
struct RecordingOrigin {
    port: u16,
    seen: Arc<Mutex<Vec<Vec<String>>>>,
    task: JoinHandle<()>,
}

impl RecordingOrigin {
    async fn start() -> Self {
        let seen: Arc<Mutex<Vec<Vec<String>>>> = Arc::default();
        let recording = Arc::clone(&seen);
        let (addr, task) = serve(move |req| {
            let values = req
                .headers()
                .get_all(HEADER)
                .iter()
                .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
                .collect();
            recording.lock().unwrap().push(values);
            async { reply(200, "origin") }
        })
        .await;
        Self {
            port: addr.port(),
            seen,
            task,
        }
    }

    /// The header values of the last request, and how many requests arrived in all.
    fn last(&self) -> (Vec<String>, usize) {
        let seen = self.seen.lock().unwrap();
        (seen.last().cloned().unwrap_or_default(), seen.len())
    }
}

impl Drop for RecordingOrigin {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// An authorizer behind the emulator's invoke URL: admits [`RIGHT`] (and values starting with it) only,
/// counts invocations.
struct FakeAuthorizer {
    url: String,
    invocations: Arc<AtomicU64>,
    task: JoinHandle<()>,
}

impl FakeAuthorizer {
    async fn start() -> Self {
        let invocations = Arc::new(AtomicU64::new(0));
        let counter = Arc::clone(&invocations);
        let (addr, task) = serve(move |req| {
            counter.fetch_add(1, Ordering::Relaxed);
            async move {
                let body = req
                    .into_body()
                    .collect()
                    .await
                    .map(|b| b.to_bytes())
                    .unwrap_or_default();
                let event: serde_json::Value = serde_json::from_slice(&body).unwrap_or_default();
                let allowed = event["identitySource"][0]
                    .as_str()
                    .is_some_and(|v| v.starts_with(RIGHT));
                reply(200, serde_json::json!({ "isAuthorized": allowed }).to_string())
            }
        })
        .await;
        Self {
            url: format!("http://{addr}/2015-03-31/functions/authorizer/invocations"),
            invocations,
            task,
        }
    }
}

impl Drop for FakeAuthorizer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn edge_to(origin_port: u16, read_timeout: Duration) -> Edge {
    let cf = cf_client(&shared_moto_url());
    let distribution = create_distribution_to(
        &cf,
        &[TestOrigin {
            id: "api",
            headers: &[(HEADER, EDGE_VALUE)],
        }],
        OriginTarget::Loopback(origin_port),
    )
    .await;
    Edge::start(
        cf,
        EdgeConfig {
            distribution,
            header: HEADER.to_owned(),
            location_delays: vec![Duration::ZERO],
            poll: Duration::from_secs(1),
            read_timeout,
        },
    )
    .await
    .expect("edge")
}

async fn gateway_to(authorizer: &FakeAuthorizer, read_timeout: Duration) -> Gateway {
    gateway_with_backend(authorizer, read_timeout, None, true).await
}

/// A gateway whose backend is the function at `backend_invoke_url` (`None`: the canned reply), removing
/// the header before it or not.
async fn gateway_with_backend(
    authorizer: &FakeAuthorizer,
    read_timeout: Duration,
    backend_invoke_url: Option<String>,
    remove_header: bool,
) -> Gateway {
    Gateway::start(GatewayConfig {
        authorizer_invoke_url: authorizer.url.clone(),
        header: HEADER.to_owned(),
        // Long enough that nothing expires during the test: only the bound can remove entries.
        cache_ttl: Duration::from_secs(600),
        cache_capacity: CACHE_CAPACITY,
        read_timeout,
        backend_invoke_url,
        remove_header,
        routes: Vec::new(),
    })
    .await
    .expect("gateway")
}

/// `host:port` of a stand-in's `http://host:port/` URL.
fn address(url: &str) -> SocketAddr {
    url.trim_start_matches("http://")
        .trim_end_matches('/')
        .parse()
        .expect("a loopback address")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_edge_overwrites_a_viewer_supplied_header() {
    let origin = RecordingOrigin::start().await;
    let edge = edge_to(origin.port, READ_TIMEOUT).await;
    let http = http();
    let viewer_copies: [&[&str]; 6] = [
        &[],
        &["a-wrong-value"],
        // The right value guessed: still replaced, not added to.
        &[EDGE_VALUE],
        &["a-wrong-value", EDGE_VALUE],
        &[EDGE_VALUE, "a-wrong-value"],
        &["one", "two", "three"],
    ];
    for (n, copies) in viewer_copies.iter().enumerate() {
        let mut request = http.get(&edge.url);
        for value in *copies {
            // `header` appends: several copies go on the wire.
            request = request.header(HEADER, *value);
        }
        let status = request.send().await.expect("through the edge").status();
        assert_eq!(status, 200, "viewer sent {copies:?}");
        assert_eq!(
            origin.last(),
            (vec![EDGE_VALUE.to_owned()], n + 1),
            "viewer sent {copies:?}: the origin sees exactly the edge's value, once"
        );
    }

    // Header names are case-insensitive: copies spelt differently are the same header.
    let mut stream = TcpStream::connect(address(&edge.url)).await.expect("connect");
    stream
        .write_all(
            b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Origin-Verify: guessed\r\n\
              X-ORIGIN-VERIFY: another\r\nConnection: close\r\n\r\n",
        )
        .await
        .expect("send");
    let mut answer = Vec::new();
    tokio::time::timeout(Duration::from_secs(10), stream.read_to_end(&mut answer))
        .await
        .expect("the edge answers and closes")
        .expect("read");
    assert!(
        answer.starts_with(b"HTTP/1.1 200"),
        "{}",
        String::from_utf8_lossy(&answer)
    );
    assert_eq!(
        origin.last(),
        (vec![EDGE_VALUE.to_owned()], viewer_copies.len() + 1)
    );
}

/// Connects to `addr`, sends `head` and then one more byte every 50 ms (slowloris: in a header section,
/// or in a body). Returns how long after connecting the server closed the connection (`None` if it was
/// still open after `give_up`) and what it answered.
async fn trickle_until_cut_off(
    addr: SocketAddr,
    head: &'static [u8],
    give_up: Duration,
) -> (Option<Duration>, Vec<u8>) {
    let start = Instant::now();
    let (mut reader, mut writer) = TcpStream::connect(addr).await.expect("connect").into_split();
    let trickle = tokio::spawn(async move {
        writer.write_all(head).await?;
        // Bounded: one byte per 50 ms for as long as the test waits at most. The sleep paces the
        // attack; it synchronises nothing.
        for _ in 0..give_up.as_millis() / 50 {
            tokio::time::sleep(Duration::from_millis(50)).await;
            writer.write_all(b"a").await?;
        }
        Ok::<_, std::io::Error>(())
    });
    // The server may answer (408) before it closes: read until end of stream or a reset.
    let mut answer = Vec::new();
    let closed = async {
        let mut buf = [0u8; 512];
        while let Ok(n) = reader.read(&mut buf).await {
            if n == 0 {
                break;
            }
            answer.extend_from_slice(&buf[..n]);
        }
        start.elapsed()
    };
    let outcome = tokio::time::timeout(give_up, closed).await.ok();
    trickle.abort();
    (outcome, answer)
}

/// A request line, then a header line that never ends.
const SLOW_HEADERS: &[u8] = b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ";

fn assert_cut_off(who: &str, outcome: Option<Duration>, read_timeout: Duration, give_up: Duration) {
    let elapsed =
        outcome.unwrap_or_else(|| panic!("{who}: a trickling client was still connected after {give_up:?}"));
    // Not sooner than the timeout (less timer slack): the client was sending all along.
    assert!(
        elapsed >= read_timeout.mul_f32(0.9),
        "{who}: cut off after {elapsed:?}, before the {read_timeout:?} timeout"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_gateway_cuts_off_a_client_that_trickles_its_headers() {
    let read_timeout = Duration::from_secs(1);
    let give_up = read_timeout + Duration::from_secs(3);
    let authorizer = FakeAuthorizer::start().await;
    let gateway = gateway_to(&authorizer, read_timeout).await;
    let (outcome, _) = trickle_until_cut_off(address(&gateway.url), SLOW_HEADERS, give_up).await;
    assert_cut_off("gateway", outcome, read_timeout, give_up);
    // A request sent at once is served as before.
    let status = http()
        .get(&gateway.url)
        .header(HEADER, RIGHT)
        .send()
        .await
        .expect("send")
        .status();
    assert_eq!(status, 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_edge_cuts_off_a_viewer_that_trickles_its_headers() {
    let read_timeout = Duration::from_secs(1);
    let give_up = read_timeout + Duration::from_secs(3);
    let origin = RecordingOrigin::start().await;
    let edge = edge_to(origin.port, read_timeout).await;
    let (outcome, _) = trickle_until_cut_off(address(&edge.url), SLOW_HEADERS, give_up).await;
    assert_cut_off("edge", outcome, read_timeout, give_up);
    assert_eq!(origin.last().1, 0, "nothing was forwarded");
    let status = http().get(&edge.url).send().await.expect("send").status();
    assert_eq!(status, 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_edge_bounds_request_bodies_in_time_and_size() {
    let read_timeout = Duration::from_secs(1);
    let give_up = read_timeout + Duration::from_secs(3);
    let origin = RecordingOrigin::start().await;
    let edge = edge_to(origin.port, read_timeout).await;
    let (outcome, answer) = trickle_until_cut_off(
        address(&edge.url),
        b"POST / HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 100000\r\n\r\n",
        give_up,
    )
    .await;
    assert!(
        answer.starts_with(b"HTTP/1.1 408"),
        "a body sent a byte at a time: {}",
        String::from_utf8_lossy(&answer)
    );
    assert_cut_off("edge (body)", outcome, read_timeout, give_up);

    let too_large = vec![b'a'; MAX_BODY_BYTES + 1];
    let status = http()
        .post(&edge.url)
        .body(too_large)
        .send()
        .await
        .expect("send")
        .status();
    assert_eq!(status, 413);
    assert_eq!(origin.last().1, 0, "nothing was forwarded");
}

/// A route with its own authorizer (the stack's `/python/`) takes `/python` and every path under
/// `/python/`, and nothing else; each authorizer has its own cache and counters, as API Gateway caches per
/// authorizer; the header's absence is a 401 without invoking on either.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_route_with_its_own_authorizer_takes_only_its_paths() {
    let default = FakeAuthorizer::start().await;
    let python = FakeAuthorizer::start().await;
    let gateway = Gateway::start(GatewayConfig {
        authorizer_invoke_url: default.url.clone(),
        header: HEADER.to_owned(),
        cache_ttl: Duration::from_secs(600),
        cache_capacity: CACHE_CAPACITY,
        read_timeout: READ_TIMEOUT,
        backend_invoke_url: None,
        remove_header: true,
        routes: vec![Route {
            path_prefix: "/python/".to_owned(),
            authorizer_invoke_url: python.url.clone(),
        }],
    })
    .await
    .expect("gateway");
    let http = http();
    let status = |path: &str, value: Option<&str>| {
        let mut request = http.get(format!("{}{}", gateway.url, path.trim_start_matches('/')));
        if let Some(v) = value {
            request = request.header(HEADER, v);
        }
        async move { request.send().await.expect("send").status().as_u16() }
    };
    // The same value on both routes: each authorizer is asked once, then its own cache answers.
    for path in ["/", "/pythonic/x", "/python", "/python/", "/python/a/b?q=1"] {
        assert_eq!(status(path, Some(RIGHT)).await, 200, "{path}");
        assert_eq!(status(path, Some("wrong")).await, 403, "{path}");
        assert_eq!(status(path, None).await, 401, "{path}");
    }
    assert_eq!(
        default.invocations.load(Ordering::Relaxed),
        2,
        "right and wrong, once each"
    );
    assert_eq!(
        python.invocations.load(Ordering::Relaxed),
        2,
        "right and wrong, once each"
    );
    let stats = gateway.stats();
    assert_eq!(
        (stats.invocations, stats.cache_hits, stats.missing_header),
        (2, 2, 2),
        "{stats:?}"
    );
    assert_eq!((stats.authorizer_allows, stats.authorizer_denies), (1, 1));
    assert_eq!(stats.routes.len(), 1);
    let route = &stats.routes[0];
    assert_eq!(route.path_prefix, "/python/");
    assert_eq!(
        (route.invocations, route.cache_hits, route.missing_header),
        (2, 4, 3),
        "{route:?}"
    );
    assert_eq!((route.authorizer_allows, route.authorizer_denies), (1, 1));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_gateway_cache_never_exceeds_its_bound() {
    let authorizer = FakeAuthorizer::start().await;
    let gateway = gateway_to(&authorizer, READ_TIMEOUT).await;
    let http = http();
    let status = |value: String| {
        let request = http.get(&gateway.url).header(HEADER, value);
        async move { request.send().await.expect("send").status().as_u16() }
    };
    assert_eq!(status(RIGHT.to_owned()).await, 200);
    // A flood of distinct wrong values, each a new cache key.
    for i in 0..CACHE_CAPACITY + 200 {
        assert_eq!(status(format!("wrong-{i}")).await, 403);
        let len = gateway.cache_len();
        assert!(
            len <= CACHE_CAPACITY,
            "after {} distinct values the cache holds {len} answers, over its bound {CACHE_CAPACITY}",
            i + 2
        );
    }
    // Eviction costs invocations, never a wrong answer.
    assert_eq!(status(RIGHT.to_owned()).await, 200);
    assert_eq!(status("wrong-0".to_owned()).await, 403);
    let invocations = authorizer.invocations.load(Ordering::Relaxed);
    assert!(invocations >= (CACHE_CAPACITY + 201) as u64);
    // Keys are bounded in length too: a header section over the limit is refused before any invocation.
    assert_eq!(status("k".repeat(MAX_HEADER_BYTES)).await, 431);
    assert_eq!(authorizer.invocations.load(Ordering::Relaxed), invocations);
    assert!(gateway.cache_len() <= CACHE_CAPACITY);
}

/// Marks the copy of [`the_stand_ins_never_send_through_a_proxy`] that runs with the proxy variables set.
const PROXY_CHILD: &str = "ORIGIN_VERIFY_LOCAL_TEST_PROXY_CHILD";

/// A listener standing where a proxy would be: counts the connections made to it and closes each at once,
/// so a request sent through it fails instead of hanging.
struct ProxyTrap {
    url: String,
    connections: Arc<AtomicU64>,
    task: JoinHandle<()>,
}

impl ProxyTrap {
    async fn start() -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind 127.0.0.1");
        let url = format!("http://{}", listener.local_addr().expect("local address"));
        let connections = Arc::new(AtomicU64::new(0));
        let counter = Arc::clone(&connections);
        let task = tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                counter.fetch_add(1, Ordering::Relaxed);
                drop(stream);
            }
        });
        Self {
            url,
            connections,
            task,
        }
    }
}

impl Drop for ProxyTrap {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Neither the stand-ins' own HTTP clients (edge → origin with the secret, gateway → authorizer with the
/// header value) nor the edge's CloudFront client (the configuration holds the secret) go through a proxy
/// named by HTTP_PROXY and the like. The test runs itself again as a child process with those variables
/// pointing at a listener that only counts connections: this process's environment stays as it is, for the
/// tests running beside it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_stand_ins_never_send_through_a_proxy() {
    if std::env::var_os(PROXY_CHILD).is_some() {
        return through_edge_and_gateway().await;
    }
    let trap = ProxyTrap::start().await;
    let mut child = tokio::process::Command::new(std::env::current_exe().expect("this test binary"));
    child
        .args([
            "--exact",
            "the_stand_ins_never_send_through_a_proxy",
            "--nocapture",
        ])
        .env(PROXY_CHILD, "1")
        // Nothing may exempt loopback but the stand-ins themselves (REQUEST_METHOD: reqwest ignores
        // HTTP_PROXY in a CGI environment).
        .env_remove("NO_PROXY")
        .env_remove("no_proxy")
        .env_remove("REQUEST_METHOD")
        .kill_on_drop(true);
    for name in origin_verify_testkit::PROXY_VARIABLES {
        child.env(name, &trap.url);
    }
    let output = tokio::time::timeout(Duration::from_secs(120), child.output())
        .await
        .expect("the child test ends within 2 minutes")
        .expect("run the child test");
    let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
    let log = format!("{}\n{}", text(&output.stdout), text(&output.stderr));
    assert_eq!(
        trap.connections.load(Ordering::Relaxed),
        0,
        "the proxy was contacted\n{log}"
    );
    assert!(output.status.success(), "{log}");
}

/// Viewer → edge → gateway → authorizer and back, with a value the authorizer admits.
async fn through_edge_and_gateway() {
    let authorizer = FakeAuthorizer::start().await;
    let gateway = gateway_to(&authorizer, READ_TIMEOUT).await;
    let cf = cf_client(&shared_moto_url());
    // The test's own set-up goes straight to moto too: what is tested is what the stand-ins do.
    let distribution = create_distribution_to(
        &origin_verify_local::direct::cloudfront(&cf),
        &[TestOrigin {
            id: "api",
            headers: &[(HEADER, RIGHT)],
        }],
        OriginTarget::Loopback(gateway.port),
    )
    .await;
    // The client as testkit builds it, proxies from the environment and all: the edge must not use them.
    let edge = Edge::start(
        cf,
        EdgeConfig {
            distribution,
            header: HEADER.to_owned(),
            location_delays: vec![Duration::ZERO],
            poll: Duration::from_secs(1),
            read_timeout: READ_TIMEOUT,
        },
    )
    .await
    .expect("edge");
    let status = http()
        .get(&edge.url)
        .send()
        .await
        .expect("through the edge")
        .status();
    assert_eq!(status, 200, "admitted through edge and gateway");
    assert_eq!(authorizer.invocations.load(Ordering::Relaxed), 1);
}

/// The real `backend` under the emulator at TRACE, where lambda_runtime logs every event whole, behind two
/// gateways: one removing the header as the template's parameter mapping does, one not. The value sent
/// through the first never reaches the backend's log; the one sent through the second does, and the
/// secret scan finds it — so the stack's scan of the backend's log can fail, and the removal is what
/// keeps it clean.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_backend_logs_the_header_unless_the_gateway_removes_it() {
    let dir = std::env::temp_dir().join(format!("origin-verify-backend-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("log dir");
    let log = dir.join("backend.log");
    let _ = std::fs::remove_file(&log);
    let backend = origin_verify_testkit::CargoLambda::spawn_logged(
        "backend",
        &[
            (
                "AWS_LAMBDA_LOG_LEVEL",
                origin_verify_local::stack::BACKEND_LOG_LEVEL,
            ),
            ("NO_PROXY", "*"),
        ],
        Some(&log),
    )
    .await;
    let invoke_url = format!("{}/2015-03-31/functions/backend/invocations", backend.url);
    let authorizer = FakeAuthorizer::start().await;
    let removing = gateway_with_backend(&authorizer, READ_TIMEOUT, Some(invoke_url.clone()), true).await;
    let passing_on = gateway_with_backend(&authorizer, READ_TIMEOUT, Some(invoke_url), false).await;
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    // Fixtures the fake authorizer admits; unique, so that only this run's log can hold them.
    let removed = format!("{RIGHT}-removed-{nanos}");
    let passed_on = format!("{RIGHT}-passed-on-{nanos}");
    for (gateway, value) in [(&removing, &removed), (&passing_on, &passed_on)] {
        let res = http()
            .get(format!("{}some/path?q=1", gateway.url))
            .header(HEADER, value.as_str())
            .send()
            .await
            .expect("through the gateway");
        assert_eq!(res.status(), 200);
        assert_eq!(
            res.headers()["content-type"],
            "text/html; charset=utf-8",
            "the backend's own answer"
        );
        let page = res.text().await.expect("page");
        assert!(page.contains("<code>GET /some/path</code>"), "{page}");
        let stats = gateway.stats();
        assert_eq!((stats.backend_invocations, stats.backend_errors), (1, 0));
    }

    // lambda_runtime logs each event before calling the handler, and the answer came after: both events
    // are in the log by now.
    let text = std::fs::read_to_string(&log).expect("backend log");
    assert_eq!(
        text.matches("raw JSON event received from Lambda").count(),
        2,
        "the backend logged both events whole (TRACE)"
    );
    let scan = |value: &str| {
        origin_verify_local::scan::scan_files(std::slice::from_ref(&log), &[value.to_owned()]).expect("scan")
    };
    let with_removal = scan(&removed);
    assert!(
        with_removal.clean(),
        "the header the gateway removed reached the backend's log: {}",
        with_removal.summary()
    );
    let without_removal = scan(&passed_on);
    assert!(
        !without_removal.findings.is_empty(),
        "without the removal the backend's TRACE log holds the value, and the scan finds it"
    );
    // Other headers still reach the backend.
    assert!(
        text.contains("user-agent") || text.contains("host"),
        "headers reach the backend"
    );
    std::fs::remove_dir_all(&dir).expect("clean up");
}
