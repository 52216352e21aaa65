//! The HTTP server loop: hyper's HTTP/1 connections around the axum router, with the bounds
//! axum's own `serve` does not set.
//!
//! - **A connection cap.** At most `max_connections` connections are served at once; past it a
//!   new connection is answered `503 too_many_connections` (with `Retry-After`, JSON, then
//!   closed) by a small pool of its own, and dropped when that pool is busy too. So neither
//!   idle nor slow clients can hold every socket and every task.
//! - **Header-read and idle timeouts, per connection.** Each connection's phase is tracked
//!   from its socket and its service: *idle* (no request since the last response), *reading a
//!   header* (from the first byte of a request, or from the accept), *busy* (from the end of the
//!   header to the end of the response). A connection that stays idle longer than
//!   `idle_timeout`, or takes longer than `header_read_timeout` to send a header (byte by byte
//!   or not at all, as a slowloris client does), is closed; a busy one is bounded by the
//!   request timeout ([`crate::http::limits`]), which answers `408`/`503` itself.
//! - **Graceful shutdown.** When `shutdown` resolves: the listener is closed (new connections
//!   are refused by the kernel), every connection is told to finish the request it is serving
//!   and close (idle ones close at once), and this returns when all are closed or after
//!   `shutdown_grace`, whichever is first. The caller then drains the store.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, AtomicU8, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use axum::extract::ConnectInfo;
use axum::Router;
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Semaphore;
use tower::Service as _;

use crate::metrics::Metrics;

/// The server's bounds.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    pub max_connections: usize,
    pub header_read_timeout: Duration,
    pub idle_timeout: Duration,
    pub shutdown_grace: Duration,
}

impl From<&crate::config::HttpLimits> for Limits {
    fn from(h: &crate::config::HttpLimits) -> Self {
        Self {
            max_connections: h.max_connections.max(1),
            header_read_timeout: Duration::from_millis(h.header_read_timeout_ms.max(1)),
            idle_timeout: Duration::from_millis(h.idle_timeout_ms.max(1)),
            shutdown_grace: Duration::from_millis(h.shutdown_grace_ms),
        }
    }
}

/// How a run ended.
#[derive(Debug, Clone, Copy, Default)]
pub struct Report {
    /// Connections open at shutdown that finished within the grace period.
    pub finished: usize,
    /// Connections still open when the grace period ended (dropped).
    pub cut_off: usize,
}

/// Connections answered with 503 at once, past the cap; more than this are just closed.
const OVERFLOW: usize = 64;

/// Serves `router` on `listener` until `shutdown` resolves, then shuts down gracefully.
pub async fn run(
    listener: TcpListener,
    router: Router,
    limits: Limits,
    metrics: Option<Arc<Metrics>>,
    shutdown: impl std::future::Future<Output = ()>,
) -> Report {
    let max = u32::try_from(limits.max_connections).unwrap_or(u32::MAX >> 3).min(u32::MAX >> 3);
    let places = Arc::new(Semaphore::new(max as usize));
    let overflow = Arc::new(Semaphore::new(OVERFLOW));
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        let accepted = tokio::select! {
            () = &mut shutdown => break,
            a = listener.accept() => a,
        };
        let (stream, peer) = match accepted {
            Ok(a) => a,
            Err(e) => {
                // Out of file descriptors, most likely: let some connections close.
                tracing::warn!(error = %e, "accept failed");
                tokio::time::sleep(Duration::from_millis(20)).await;
                continue;
            }
        };
        let _ = stream.set_nodelay(true);
        match places.clone().try_acquire_owned() {
            Ok(place) => {
                let (router, stop, metrics) = (router.clone(), stop_rx.clone(), metrics.clone());
                tokio::spawn(async move {
                    if let Some(m) = &metrics {
                        m.connections_open.inc();
                    }
                    connection(stream, peer, router, limits, stop, metrics.as_deref()).await;
                    if let Some(m) = &metrics {
                        m.connections_open.dec();
                    }
                    drop(place);
                });
            }
            Err(_) => {
                if let Some(m) = &metrics {
                    m.connections_refused.inc();
                }
                if let Ok(slot) = overflow.clone().try_acquire_owned() {
                    tokio::spawn(async move {
                        refuse(stream).await;
                        drop(slot);
                    });
                }
            }
        }
    }
    drop(listener);
    let open = (max as usize).saturating_sub(places.available_permits());
    let _ = stop_tx.send(true);
    let drained = tokio::time::timeout(limits.shutdown_grace, places.acquire_many(max)).await.is_ok();
    if drained {
        return Report { finished: open, cut_off: 0 };
    }
    let still = (max as usize).saturating_sub(places.available_permits());
    tracing::warn!(connections = still, "connections still open after the shutdown grace period; closing them");
    Report { finished: open.saturating_sub(still), cut_off: still }
}

/// A connection's phase (see the module docs) and when it began, in milliseconds since the
/// connection was accepted.
#[derive(Debug)]
struct Phase {
    start: Instant,
    phase: AtomicU8,
    since: AtomicU64,
}

const IDLE: u8 = 0;
const HEADER: u8 = 1;
const BUSY: u8 = 2;

impl Phase {
    fn new() -> Self {
        // A new connection is reading its first request's header.
        Self { start: Instant::now(), phase: AtomicU8::new(HEADER), since: AtomicU64::new(0) }
    }

    fn now(&self) -> u64 {
        self.start.elapsed().as_millis() as u64
    }

    fn set(&self, phase: u8) {
        self.since.store(self.now(), Ordering::Release);
        self.phase.store(phase, Ordering::Release);
    }

    /// Bytes arrived: an idle connection starts reading a header.
    fn bytes_in(&self) {
        if self.phase.compare_exchange(IDLE, HEADER, Ordering::AcqRel, Ordering::Acquire).is_ok() {
            self.since.store(self.now(), Ordering::Release);
        }
    }

    fn get(&self) -> (u8, u64) {
        (self.phase.load(Ordering::Acquire), self.since.load(Ordering::Acquire))
    }

    /// Resolves when the connection has been idle or reading a header for too long; returns
    /// which.
    async fn expired(&self, limits: &Limits) -> &'static str {
        loop {
            let (phase, since) = self.get();
            let limit = match phase {
                IDLE => limits.idle_timeout,
                HEADER => limits.header_read_timeout,
                // Busy: bounded by the request timeout; look again in a moment.
                _ => Duration::from_millis(500),
            };
            let deadline = self.start + Duration::from_millis(since) + limit;
            tokio::time::sleep_until(deadline.into()).await;
            if phase != BUSY && self.get() == (phase, since) {
                return if phase == IDLE { "idle" } else { "header" };
            }
        }
    }
}

/// The socket, noting when bytes arrive.
struct Watched {
    inner: TcpStream,
    phase: Arc<Phase>,
}

impl AsyncRead for Watched {
    fn poll_read(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<std::io::Result<()>> {
        let before = buf.filled().len();
        let r = Pin::new(&mut self.inner).poll_read(cx, buf);
        if buf.filled().len() > before {
            self.phase.bytes_in();
        }
        r
    }
}

impl AsyncWrite for Watched {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }
    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }
    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write_vectored(cx, bufs)
    }
    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }
}

/// A response body that marks the connection idle once it is written (or dropped).
struct Tracked {
    inner: axum::body::Body,
    phase: Arc<Phase>,
}

impl Drop for Tracked {
    fn drop(&mut self) {
        self.phase.set(IDLE);
    }
}

impl http_body::Body for Tracked {
    type Data = bytes::Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<http_body::Frame<Self::Data>, Self::Error>>> {
        Pin::new(&mut self.inner).poll_frame(cx)
    }
    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }
    fn size_hint(&self) -> http_body::SizeHint {
        self.inner.size_hint()
    }
}

/// Serves one connection until it closes, times out, or is shut down.
async fn connection(
    stream: TcpStream,
    peer: SocketAddr,
    router: Router,
    limits: Limits,
    mut stop: tokio::sync::watch::Receiver<bool>,
    metrics: Option<&Metrics>,
) {
    let phase = Arc::new(Phase::new());
    let io = TokioIo::new(Watched { inner: stream, phase: phase.clone() });
    let service = {
        let phase = phase.clone();
        hyper::service::service_fn(move |mut req: hyper::Request<Incoming>| {
            phase.set(BUSY);
            req.extensions_mut().insert(ConnectInfo(peer));
            let mut router = router.clone();
            let phase = phase.clone();
            async move {
                let resp = match router.call(req.map(axum::body::Body::new)).await {
                    Ok(r) => r,
                    Err(never) => match never {},
                };
                Ok::<_, Infallible>(resp.map(|inner| Tracked { inner, phase }))
            }
        })
    };
    let mut builder = hyper::server::conn::http1::Builder::new();
    // Our own header-read timeout (from the first byte, in `Phase`) replaces hyper's.
    builder.timer(TokioTimer::new()).header_read_timeout(None).keep_alive(true);
    let conn = builder.serve_connection(io, service);
    let mut conn = std::pin::pin!(conn);
    let mut stopping = *stop.borrow();
    if stopping {
        conn.as_mut().graceful_shutdown();
    }
    loop {
        tokio::select! {
            r = conn.as_mut() => {
                if let Err(e) = r {
                    tracing::debug!(error = %e, "connection ended with an error");
                }
                return;
            }
            changed = stop.changed(), if !stopping => {
                stopping = true;
                if changed.is_ok() {
                    conn.as_mut().graceful_shutdown();
                }
            }
            why = phase.expired(&limits) => {
                if let Some(m) = metrics {
                    m.connections_timed_out.with_label_values(&[why]).inc();
                }
                tracing::debug!(why, "connection closed: too slow");
                return;
            }
        }
    }
}

/// Answers a connection past the cap: `503 too_many_connections`, then closes it. Reads the
/// request's header first (at most 2 s), so the client gets its answer rather than a reset.
async fn refuse(stream: TcpStream) {
    let service = hyper::service::service_fn(|req: hyper::Request<Incoming>| async move {
        let lang = req.headers().get(axum::http::header::ACCEPT_LANGUAGE).and_then(|v| v.to_str().ok());
        let mut e =
            crate::http::error::ApiError::new(axum::http::StatusCode::SERVICE_UNAVAILABLE, "too_many_connections");
        e.retry_after = Some(1);
        Ok::<_, Infallible>(crate::http::error::render(e, lang))
    });
    let mut builder = hyper::server::conn::http1::Builder::new();
    builder.timer(TokioTimer::new()).header_read_timeout(Duration::from_secs(2)).keep_alive(false);
    let conn = builder.serve_connection(TokioIo::new(stream), service);
    let _ = tokio::time::timeout(Duration::from_secs(3), conn).await;
}
