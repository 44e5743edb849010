//! A tiny HTTP origin for the tests: `/ok` answers 200, `/refused` 403, `/slow` 200 after 300 ms,
//! `/guarded` 200 only with `x-origin-verify: let-me-in` (403 otherwise). It counts every request.
//! And a proxy trap: a listener that only counts the connections made to it.

#![allow(dead_code)]

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::Full;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;

pub const SECRET: &str = "let-me-in";

pub struct Origin {
    pub addr: SocketAddr,
    hits: Arc<AtomicU64>,
    task: tokio::task::JoinHandle<()>,
}

impl Origin {
    pub async fn start() -> Origin {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind a loopback port");
        let addr = listener.local_addr().expect("local address");
        let hits = Arc::new(AtomicU64::new(0));
        let counter = Arc::clone(&hits);
        let task = tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    continue;
                };
                let counter = Arc::clone(&counter);
                tokio::spawn(async move {
                    let service = service_fn(move |req: Request<hyper::body::Incoming>| {
                        counter.fetch_add(1, Ordering::Relaxed);
                        answer(req)
                    });
                    let _ = http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        });
        Origin { addr, hits, task }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    pub fn hits(&self) -> u64 {
        self.hits.load(Ordering::Relaxed)
    }
}

impl Drop for Origin {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn answer(req: Request<hyper::body::Incoming>) -> Result<Response<Full<Bytes>>, Infallible> {
    let status = match req.uri().path() {
        "/ok" => StatusCode::OK,
        "/refused" => StatusCode::FORBIDDEN,
        "/slow" => {
            tokio::time::sleep(Duration::from_millis(300)).await;
            StatusCode::OK
        }
        "/guarded" => match req.headers().get("x-origin-verify") {
            Some(v) if v.as_bytes() == SECRET.as_bytes() => StatusCode::OK,
            _ => StatusCode::FORBIDDEN,
        },
        _ => StatusCode::NOT_FOUND,
    };
    let mut response = Response::new(Full::new(Bytes::from_static(b"hello\n")));
    *response.status_mut() = status;
    Ok(response)
}

/// A listener standing where a proxy would be: it counts the connections made to it and closes each at
/// once, so a request sent through it fails (and shows) instead of hanging.
pub struct ProxyTrap {
    pub addr: SocketAddr,
    connections: Arc<AtomicU64>,
    task: tokio::task::JoinHandle<()>,
}

impl ProxyTrap {
    pub async fn start() -> ProxyTrap {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind a loopback port");
        let addr = listener.local_addr().expect("local address");
        let connections = Arc::new(AtomicU64::new(0));
        let counter = Arc::clone(&connections);
        let task = tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                counter.fetch_add(1, Ordering::Relaxed);
                drop(stream);
            }
        });
        ProxyTrap {
            addr,
            connections,
            task,
        }
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn connections(&self) -> u64 {
        self.connections.load(Ordering::Relaxed)
    }
}

impl Drop for ProxyTrap {
    fn drop(&mut self) {
        self.task.abort();
    }
}
