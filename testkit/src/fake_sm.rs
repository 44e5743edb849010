//! Stand-ins for a misbehaving Secrets Manager, for the fault tests moto cannot show:
//! - [`FakeSecretsManager`]: a client answered by `aws-smithy-mocks` rules from a small in-memory secret,
//!   switchable at any moment to throttling, server errors or garbage answers;
//! - [`SlowProxy`]: a loopback proxy in front of moto that holds every request for a configurable time.

use std::fmt;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use aws_sdk_secretsmanager::operation::describe_secret::DescribeSecretOutput;
use aws_sdk_secretsmanager::operation::get_secret_value::GetSecretValueOutput;
use aws_sdk_secretsmanager::primitives::DateTime;
use aws_sdk_secretsmanager::Client;
use aws_smithy_mocks::{
    create_mock_http_client, mock, MockResponse, MockResponseInterceptor, Rule, RuleBuilder, RuleMode,
};
use aws_smithy_runtime_api::http::{Response as HttpResponse, StatusCode};
use aws_smithy_types::body::SdkBody;
use tokio::sync::Notify;

use crate::{header_json, serve, sm_config, Reply};

/// How [`FakeSecretsManager`] answers every call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Behaviour {
    /// Answers from the secret it holds.
    Healthy,
    /// HTTP 400 `ThrottlingException`, as Secrets Manager answers past its request rate.
    Throttling,
    /// HTTP 500 `InternalServiceError`.
    ServerError,
    /// HTTP 200 whose body is not JSON (a broken proxy, a captive portal).
    GarbageBody,
    /// DescribeSecret answers a secret without any `AWSCURRENT` version.
    NoCurrentStage,
    /// GetSecretValue answers a SecretString without the header key.
    GarbageSecretString,
}

#[derive(Debug)]
struct Version {
    id: String,
    secret_string: String,
    stages: Vec<&'static str>,
    created: SystemTime,
}

#[derive(Debug)]
struct State {
    behaviour: Behaviour,
    versions: Vec<Version>,
}

/// An in-memory secret behind an `aws-smithy-mocks` Secrets Manager client.
#[derive(Debug, Clone)]
pub struct FakeSecretsManager {
    state: Arc<Mutex<State>>,
    calls: Arc<AtomicUsize>,
}

const CURRENT: &str = "AWSCURRENT";
const PENDING: &str = "AWSPENDING";

impl FakeSecretsManager {
    /// A healthy fake whose `AWSCURRENT` holds `{"HEADERVALUE": current}`.
    pub fn new(current: &str) -> Self {
        let fake = Self {
            state: Arc::new(Mutex::new(State {
                behaviour: Behaviour::Healthy,
                versions: Vec::new(),
            })),
            calls: Arc::new(AtomicUsize::new(0)),
        };
        fake.add_version(&header_json(current), CURRENT);
        fake
    }

    /// From now on, answer every call this way.
    pub fn set_behaviour(&self, behaviour: Behaviour) {
        self.lock().behaviour = behaviour;
    }

    /// Adds a version labelled `AWSPENDING` holding `{"HEADERVALUE": value}`; returns its id.
    pub fn put_pending(&self, value: &str) -> String {
        self.add_version(&header_json(value), PENDING)
    }

    /// Calls answered so far, whatever the answer.
    pub fn calls(&self) -> usize {
        self.calls.load(Ordering::SeqCst)
    }

    /// A client answered by this fake, after `settings` (the production timeouts and retries).
    pub fn client(
        &self,
        settings: impl FnOnce(aws_sdk_secretsmanager::config::Builder) -> aws_sdk_secretsmanager::config::Builder,
    ) -> Client {
        // Two rules per operation. Faults that do not depend on the request are raw HTTP answers from a
        // generator that ignores the input: the SDK retries those, and on a retry aws-smithy-mocks calls
        // the rule chosen for the first attempt without the input. Answers that need the input (which
        // version) come from the other rule; they are never retried.
        let (fault, answering) = (mock!(Client::describe_secret), mock!(Client::describe_secret));
        let describe = self.rules(fault, answering, |fake, _| fake.describe());
        let (fault, answering) = (mock!(Client::get_secret_value), mock!(Client::get_secret_value));
        let get = self.rules(fault, answering, |fake, input| {
            fake.get_value(input.version_id(), input.version_stage())
        });
        let interceptor = describe.iter().chain(&get).fold(
            MockResponseInterceptor::new().rule_mode(RuleMode::MatchAny),
            |i, r| i.with_rule(r),
        );
        let builder = sm_config()
            .http_client(create_mock_http_client())
            .interceptor(interceptor);
        Client::from_conf(settings(builder).build())
    }

    /// The fault rule and the answering rule of one operation, from two builders of its `mock!`.
    fn rules<I, O, E>(
        &self,
        fault_rule: RuleBuilder<I, O, E>,
        answer_rule: RuleBuilder<I, O, E>,
        answer: impl Fn(&Self, &I) -> MockResponse<O, E> + Send + Sync + 'static,
    ) -> [Rule; 2]
    where
        I: fmt::Debug + Send + Sync + 'static,
        O: fmt::Debug + Send + Sync + 'static,
        E: fmt::Debug + Send + Sync + std::error::Error + 'static,
    {
        let (when_fault, fault) = (self.clone(), self.clone());
        let (when_healthy, fake) = (self.clone(), self.clone());
        [
            fault_rule
                .match_requests(move |_| when_fault.http_fault_now())
                .sequence()
                .http_response(move || fault.fault_answer())
                .repeatedly()
                .build(),
            answer_rule
                .match_requests(move |_| !when_healthy.http_fault_now())
                .then_compute_response(move |input| answer(&fake, input)),
        ]
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn add_version(&self, secret_string: &str, stage: &'static str) -> String {
        let mut state = self.lock();
        let id = format!("fake-version-{}", state.versions.len() + 1);
        for v in &mut state.versions {
            v.stages.retain(|s| *s != stage);
        }
        state.versions.push(Version {
            id: id.clone(),
            secret_string: secret_string.to_owned(),
            stages: vec![stage],
            created: SystemTime::now(),
        });
        id
    }

    /// Whether the current behaviour is answered with a raw HTTP fault.
    fn http_fault_now(&self) -> bool {
        http_fault(self.lock().behaviour).is_some()
    }

    /// A fault answer, counted. A retry that finds the fake healthy again still gets a fault: it belongs
    /// to the attempt that failed.
    fn fault_answer(&self) -> HttpResponse {
        self.calls.fetch_add(1, Ordering::SeqCst);
        http_fault(self.lock().behaviour).unwrap_or_else(|| json_error(500, "InternalServiceError"))
    }

    fn describe<E>(&self) -> MockResponse<DescribeSecretOutput, E> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        let state = self.lock();
        let mut out = DescribeSecretOutput::builder().name("fake");
        for v in &state.versions {
            let stages = v
                .stages
                .iter()
                .filter(|s| !(state.behaviour == Behaviour::NoCurrentStage && **s == CURRENT))
                .map(|s| s.to_string())
                .collect();
            out = out.version_ids_to_stages(v.id.clone(), stages);
        }
        MockResponse::Output(out.build())
    }

    /// The version named by id, else by stage (`AWSCURRENT` when neither is given), as Secrets Manager
    /// chooses it.
    fn get_value<E>(&self, id: Option<&str>, stage: Option<&str>) -> MockResponse<GetSecretValueOutput, E> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        let state = self.lock();
        let stage = stage.unwrap_or(CURRENT);
        let named = |v: &&Version| match id {
            Some(id) => v.id == id,
            None => v.stages.contains(&stage),
        };
        let Some(v) = state.versions.iter().find(named) else {
            return MockResponse::Http(json_error(400, "ResourceNotFoundException"));
        };
        let secret_string = if state.behaviour == Behaviour::GarbageSecretString {
            r#"{"SOMETHING_ELSE":"x"}"#.to_owned()
        } else {
            v.secret_string.clone()
        };
        MockResponse::Output(
            GetSecretValueOutput::builder()
                .name("fake")
                .version_id(v.id.clone())
                .secret_string(secret_string)
                .created_date(DateTime::from(v.created))
                .build(),
        )
    }
}

/// The raw HTTP answer for the behaviours that are transport- or service-level faults.
fn http_fault(behaviour: Behaviour) -> Option<HttpResponse> {
    match behaviour {
        Behaviour::Throttling => Some(json_error(400, "ThrottlingException")),
        Behaviour::ServerError => Some(json_error(500, "InternalServiceError")),
        Behaviour::GarbageBody => Some(HttpResponse::new(
            StatusCode::try_from(200).expect("status"),
            SdkBody::from("<html>this is not Secrets Manager</html>"),
        )),
        Behaviour::Healthy | Behaviour::NoCurrentStage | Behaviour::GarbageSecretString => None,
    }
}

/// An error answer as the awsJson1.1 protocol carries it.
fn json_error(status: u16, code: &str) -> HttpResponse {
    let body = serde_json::json!({ "__type": code, "message": "injected by the fault test" }).to_string();
    HttpResponse::new(StatusCode::try_from(status).expect("status"), SdkBody::from(body))
}

/// A loopback proxy in front of a Secrets Manager endpoint (moto) that holds each request for the
/// configured delay before forwarding it: a slow Secrets Manager.
#[derive(Debug)]
pub struct SlowProxy {
    /// `http://127.0.0.1:port` of the proxy.
    pub url: String,
    delay_ms: Arc<AtomicU64>,
    received: Arc<AtomicUsize>,
    answered: Arc<AtomicUsize>,
    last_answer: Arc<Mutex<Option<Instant>>>,
    arrival: Arc<Notify>,
    task: tokio::task::JoinHandle<()>,
}

impl SlowProxy {
    /// Starts a proxy to `upstream`, forwarding at once until [`SlowProxy::set_delay`].
    pub async fn spawn(upstream: &str) -> Self {
        let delay_ms = Arc::new(AtomicU64::new(0));
        let received = Arc::new(AtomicUsize::new(0));
        let answered = Arc::new(AtomicUsize::new(0));
        let last_answer = Arc::new(Mutex::new(None));
        let arrival = Arc::new(Notify::new());
        let http = reqwest::Client::new();
        let upstream = upstream.trim_end_matches('/').to_owned();
        let (d, r, a, n, l) = (
            Arc::clone(&delay_ms),
            Arc::clone(&received),
            Arc::clone(&answered),
            Arc::clone(&arrival),
            Arc::clone(&last_answer),
        );
        let (addr, task) = serve(move |req: hyper::Request<hyper::body::Incoming>| {
            let (http, upstream) = (http.clone(), upstream.clone());
            let (delay, answered) = (Duration::from_millis(d.load(Ordering::SeqCst)), Arc::clone(&a));
            let last_answer = Arc::clone(&l);
            r.fetch_add(1, Ordering::SeqCst);
            n.notify_waiters();
            async move {
                let reply = forward(&http, &upstream, req, delay).await;
                *last_answer.lock().unwrap_or_else(|e| e.into_inner()) = Some(Instant::now());
                answered.fetch_add(1, Ordering::SeqCst);
                reply
            }
        })
        .await;
        Self {
            url: format!("http://{addr}"),
            delay_ms,
            received,
            answered,
            last_answer,
            arrival,
            task,
        }
    }

    /// When the proxy last sent an answer back (just before it counts as answered), if ever.
    pub fn last_answer_at(&self) -> Option<Instant> {
        *self.last_answer.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Holds every request that arrives from now on for `delay`.
    pub fn set_delay(&self, delay: Duration) {
        self.delay_ms.store(delay.as_millis() as u64, Ordering::SeqCst);
    }

    /// Requests that arrived so far.
    pub fn received(&self) -> usize {
        self.received.load(Ordering::SeqCst)
    }

    /// Requests arrived and not yet answered.
    pub fn held(&self) -> usize {
        self.received() - self.answered.load(Ordering::SeqCst)
    }

    /// Waits until more than `seen` requests have arrived; false if `budget` passes first.
    pub async fn wait_for_arrivals_beyond(&self, seen: usize, budget: Duration) -> bool {
        tokio::time::timeout(budget, async {
            loop {
                let notified = self.arrival.notified();
                if self.received() > seen {
                    return;
                }
                notified.await;
            }
        })
        .await
        .is_ok()
    }
}

impl Drop for SlowProxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn forward(
    http: &reqwest::Client,
    upstream: &str,
    req: hyper::Request<hyper::body::Incoming>,
    delay: Duration,
) -> Reply {
    use http_body_util::BodyExt;
    let (parts, body) = req.into_parts();
    let Ok(body) = body.collect().await.map(|b| b.to_bytes()) else {
        return crate::reply(502, "request body unreadable");
    };
    tokio::time::sleep(delay).await;
    let mut out = http.post(format!("{upstream}{}", parts.uri.path())).body(body);
    for (name, value) in parts.headers.iter().filter(|(n, _)| *n != hyper::header::HOST) {
        out = out.header(name.as_str(), value.as_bytes());
    }
    match out.send().await {
        Ok(res) => {
            let status = res.status().as_u16();
            let content_type = res.headers().get("content-type").cloned();
            let mut reply = crate::reply(status, res.bytes().await.unwrap_or_default());
            if let Some(ct) = content_type {
                if let Ok(v) = hyper::header::HeaderValue::from_bytes(ct.as_bytes()) {
                    reply.headers_mut().insert(hyper::header::CONTENT_TYPE, v);
                }
            }
            reply
        }
        Err(_) => crate::reply(502, "upstream unreachable"),
    }
}
