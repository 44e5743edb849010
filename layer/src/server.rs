//! The HTTP front end on 127.0.0.1: parses a request ([`crate::request`]), asks the store, answers
//! ([`crate::response`]). Counts the requests in progress, so the extension can let the sandbox freeze
//! only once none is.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::{TokioIo, TokioTimer};
use origin_verify_extension::{SecretStore, Wanted, DEFAULT_STAGE};
use tokio::net::TcpListener;
use tokio::sync::watch;

use crate::request::{parse, Call, GetSecret};
use crate::token::Token;
use crate::{response, text, Error};

/// Requests answered at once; one more is answered 429 (AWS's agent does the same, with 800). A
/// function makes one call at a time unless it fans out; this bounds memory whatever it does.
pub const MAX_IN_FLIGHT: usize = 256;
/// How long a client may take to send its request head: loopback callers take microseconds.
pub const READ_TIMEOUT: Duration = Duration::from_secs(10);
/// Largest request head read (a secret id is at most 2,048 characters; the token about 1,500).
pub const MAX_HEAD_BYTES: usize = 16 * 1024;

/// What every request needs.
#[derive(Debug)]
pub struct Server {
    store: Arc<SecretStore>,
    token: Token,
    in_flight: AtomicUsize,
    /// Changes whenever a request ends.
    ended: watch::Sender<u64>,
}

impl Server {
    /// A front end for `store` that admits callers presenting `token`.
    pub fn new(store: Arc<SecretStore>, token: Token) -> Arc<Self> {
        Arc::new(Self {
            store,
            token,
            in_flight: AtomicUsize::new(0),
            ended: watch::Sender::new(0),
        })
    }

    /// The store it serves from.
    pub fn store(&self) -> &Arc<SecretStore> {
        &self.store
    }

    /// Binds `127.0.0.1:port` (before the extension registers, so the layer answers before the function's
    /// first request) and serves in a task of its own until the process ends.
    pub async fn bind_and_serve(self: &Arc<Self>, port: u16) -> Result<SocketAddr, Error> {
        let listener = TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], port)))
            .await
            .map_err(|e| Error::Bind { port, source: e })?;
        let addr = listener
            .local_addr()
            .map_err(|e| Error::Bind { port, source: e })?;
        let server = Arc::clone(self);
        tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    continue;
                };
                // A reply can never leave the host: no hop beyond this one (AWS's agent does the same).
                let _ = stream.set_ttl(1);
                let _ = stream.set_nodelay(true);
                let server = Arc::clone(&server);
                tokio::spawn(async move {
                    let service = hyper::service::service_fn(move |req| {
                        let server = Arc::clone(&server);
                        async move { Ok::<_, Infallible>(server.answer(req).await) }
                    });
                    let _ = hyper::server::conn::http1::Builder::new()
                        .timer(TokioTimer::new())
                        .header_read_timeout(READ_TIMEOUT)
                        .max_buf_size(MAX_HEAD_BYTES)
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        });
        Ok(addr)
    }

    /// One request's answer.
    pub async fn answer(&self, req: Request<Incoming>) -> Response<Full<Bytes>> {
        let Some(_guard) = self.begin() else {
            return plain(StatusCode::TOO_MANY_REQUESTS, text::CONNECTION_LIMIT.into());
        };
        match parse(req.method(), req.uri(), req.headers(), &self.token) {
            Err(refusal) => plain(refusal.status, refusal.body),
            Ok(Call::Ping) => plain(StatusCode::OK, text::HEALTHY.into()),
            Ok(Call::Get(get)) => self.get(&get).await,
        }
    }

    async fn get(&self, get: &GetSecret) -> Response<Full<Bytes>> {
        let wanted = match (&get.version_id, &get.version_stage) {
            (Some(id), _) => Wanted::Id(id),
            (None, Some(stage)) => Wanted::Stage(stage),
            (None, None) => Wanted::Stage(DEFAULT_STAGE),
        };
        let found = self.store.get(&get.secret_id, wanted, get.refresh_now).await;
        match found {
            // Both given: Secrets Manager requires that they name the same version.
            Ok(found)
                if get.version_id.is_some()
                    && get
                        .version_stage
                        .as_ref()
                        .is_some_and(|stage| !found.stages.contains(stage)) =>
            {
                let (status, body) = response::error_body(&origin_verify_extension::Error::StageNotFound {
                    label: get.version_stage.clone().unwrap_or_default(),
                });
                json(status, body)
            }
            Ok(found) => json(StatusCode::OK, response::secret_body(&found)),
            Err(err) => {
                tracing::debug!(secret_id = get.secret_id, error = %err, "answered an error");
                let (status, body) = response::error_body(&err);
                json(status, body)
            }
        }
    }

    /// Waits until no request is in progress, at most until `deadline`.
    pub async fn wait_idle(&self, deadline: Instant) {
        let mut rx = self.ended.subscribe();
        while self.in_flight.load(Ordering::Acquire) > 0 {
            if tokio::time::timeout_at(deadline.into(), rx.changed())
                .await
                .is_err()
            {
                break;
            }
        }
    }

    fn begin(&self) -> Option<InFlight<'_>> {
        let before = self.in_flight.fetch_add(1, Ordering::AcqRel);
        let guard = InFlight(self);
        (before < MAX_IN_FLIGHT).then_some(guard)
    }
}

/// One request in progress; ends it when dropped.
struct InFlight<'a>(&'a Server);

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.0.in_flight.fetch_sub(1, Ordering::AcqRel);
        self.0.ended.send_modify(|n| *n = n.wrapping_add(1));
    }
}

fn plain(status: StatusCode, body: String) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::from(body)));
    *response.status_mut() = status;
    response
}

fn json(status: StatusCode, body: Vec<u8>) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::from(body)));
    *response.status_mut() = status;
    response.headers_mut().insert(
        hyper::header::CONTENT_TYPE,
        hyper::header::HeaderValue::from_static("application/json"),
    );
    response
}
