//! The stand-ins' HTTP server (edge and gateway): HTTP/1.1 on 127.0.0.1, bounded against slow and
//! oversized clients so that one misbehaving client (slowloris: a header section sent a byte at a time)
//! cannot hold a stand-in's connections or memory.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use hyper::body::Incoming;
use hyper::Request;
use hyper_util::rt::{TokioIo, TokioTimer};
use origin_verify_testkit::Reply;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tokio::task::JoinHandle;

use crate::Error;

/// How long a client may take to send a request's header section, counted from the connection's start
/// or from the previous response. A client that takes longer, or keeps an idle connection open longer, is
/// disconnected. Loopback clients send a header section in well under a millisecond.
pub const READ_TIMEOUT: Duration = Duration::from_secs(10);

/// The largest request header section (request line included) a stand-in reads; a larger one is
/// answered 431. API Gateway's HTTP API limit is 10,240 bytes; hyper accepts nothing under 8 KiB.
pub const MAX_HEADER_BYTES: usize = 16 * 1024;

/// Connections served at once; the next one waits in the listen queue until one closes. Far beyond the
/// local stack's load (three targets of at most 64 requests in flight), and a bound on file descriptors
/// and memory whatever clients do.
pub const MAX_CONNECTIONS: usize = 1024;

/// Binds a free port on 127.0.0.1 and serves `handler` there, with [`MAX_HEADER_BYTES`],
/// [`MAX_CONNECTIONS`] and `read_timeout` for the header section (non-zero). Returns the address and the
/// server task (abort it to stop).
pub async fn serve<H, F>(handler: H, read_timeout: Duration) -> Result<(SocketAddr, JoinHandle<()>), Error>
where
    H: Fn(Request<Incoming>) -> F + Send + Sync + 'static,
    F: Future<Output = Reply> + Send + 'static,
{
    if read_timeout.is_zero() {
        return Err(Error::Setup("the read timeout must be more than zero".into()));
    }
    let listener = TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], 0)))
        .await
        .map_err(|e| Error::Setup(format!("binding 127.0.0.1: {e}")))?;
    let addr = listener
        .local_addr()
        .map_err(|e| Error::Setup(format!("reading the bound address: {e}")))?;
    let handler = Arc::new(handler);
    let slots = Arc::new(Semaphore::new(MAX_CONNECTIONS));
    let task = tokio::spawn(async move {
        // Runs until the task is aborted; each turn waits for a free slot, then for a connection.
        loop {
            let Ok(slot) = Arc::clone(&slots).acquire_owned().await else {
                return;
            };
            let Ok((stream, _)) = listener.accept().await else {
                return;
            };
            let handler = Arc::clone(&handler);
            tokio::spawn(async move {
                let _slot = slot;
                let service = hyper::service::service_fn(move |req| {
                    let reply = handler(req);
                    async move { Ok::<_, std::convert::Infallible>(reply.await) }
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    // hyper enforces header_read_timeout only with a timer; without one it is silently off.
                    .timer(TokioTimer::new())
                    .header_read_timeout(read_timeout)
                    .max_buf_size(MAX_HEADER_BYTES)
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    });
    Ok((addr, task))
}
