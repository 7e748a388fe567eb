//! The HTTP listener: accepts connections, caps how many one address holds, and closes those that
//! take too long to send a request header or on which nothing moves for too long. WebSockets
//! upgrade on the same connections and keep their address's slot until they close.

use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use axum::extract::ConnectInfo;
use axum::Router;
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use parley_channels::net::{address_group, AddressCounts, AddressSlot};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tower::ServiceExt;

/// The listener's limits, from the configuration.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    pub header_read: Duration,
    pub idle: Duration,
    pub per_address: usize,
}

impl Limits {
    pub fn of(c: &crate::Config) -> Self {
        Self {
            header_read: Duration::from_millis(c.header_read_timeout_ms.max(1)),
            idle: Duration::from_millis(c.idle_timeout_ms.max(1)),
            per_address: c.max_connections_per_address.max(1),
        }
    }
}

/// When a connection last moved a byte.
struct Activity {
    epoch: tokio::time::Instant,
    last_ms: AtomicU64,
}

impl Activity {
    fn new() -> Self {
        Self {
            epoch: tokio::time::Instant::now(),
            last_ms: AtomicU64::new(0),
        }
    }

    fn touch(&self) {
        let ms = self.epoch.elapsed().as_millis() as u64;
        self.last_ms.fetch_max(ms, Ordering::Relaxed);
    }

    /// When the connection will have been idle for `idle`, if nothing moves before.
    fn idle_deadline(&self, idle: Duration) -> tokio::time::Instant {
        self.epoch + Duration::from_millis(self.last_ms.load(Ordering::Relaxed)) + idle
    }
}

/// The connection's stream, noting every byte that moves. It holds the address's slot, so a
/// connection upgraded to a WebSocket keeps counting until the socket closes.
struct Tracked {
    inner: TcpStream,
    activity: Arc<Activity>,
    _slot: AddressSlot,
}

impl AsyncRead for Tracked {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let before = buf.filled().len();
        let r = Pin::new(&mut self.inner).poll_read(cx, buf);
        if matches!(r, Poll::Ready(Ok(()))) && buf.filled().len() > before {
            self.activity.touch();
        }
        r
    }
}

impl AsyncWrite for Tracked {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        let r = Pin::new(&mut self.inner).poll_write(cx, buf);
        if matches!(r, Poll::Ready(Ok(n)) if n > 0) {
            self.activity.touch();
        }
        r
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        let r = Pin::new(&mut self.inner).poll_write_vectored(cx, bufs);
        if matches!(r, Poll::Ready(Ok(n)) if n > 0) {
            self.activity.touch();
        }
        r
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

/// Accepts connections until `shutdown` resolves, then lets those under way finish (idle ones
/// close at once).
pub async fn run(
    router: Router,
    listener: TcpListener,
    limits: Limits,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) {
    let counts: AddressCounts = Arc::default();
    let (stop, stopping) = tokio::sync::watch::channel(false);
    let mut tasks = tokio::task::JoinSet::new();
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            _ = &mut shutdown => break,
            Some(_) = tasks.join_next(), if !tasks.is_empty() => {}
            accepted = listener.accept() => {
                let (tcp, peer) = match accepted {
                    Ok(a) => a,
                    Err(e) => {
                        // Out of file descriptors, most likely: wait for some to close rather
                        // than spin.
                        tracing::debug!(error = %e, "accepting a connection");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        continue;
                    }
                };
                let Some(slot) = AddressSlot::take(&counts, peer.ip(), limits.per_address) else {
                    tracing::debug!(address = %address_group(peer.ip()), "connection refused: too many from this address");
                    drop(tcp);
                    continue;
                };
                // Small frames (acks, realtime events) must leave at once, not wait for Nagle's
                // algorithm.
                let _ = tcp.set_nodelay(true);
                tasks.spawn(connection(tcp, peer, slot, router.clone(), limits, stopping.clone()));
            }
        }
    }
    drop(listener);
    let _ = stop.send(true);
    while tasks.join_next().await.is_some() {}
}

async fn connection(
    tcp: TcpStream,
    peer: SocketAddr,
    slot: AddressSlot,
    router: Router,
    limits: Limits,
    mut stopping: tokio::sync::watch::Receiver<bool>,
) {
    let activity = Arc::new(Activity::new());
    let io = TokioIo::new(Tracked {
        inner: tcp,
        activity: Arc::clone(&activity),
        _slot: slot,
    });
    let service = hyper::service::service_fn(move |mut req: hyper::Request<Incoming>| {
        req.extensions_mut().insert(ConnectInfo(peer));
        router.clone().oneshot(req)
    });
    let mut builder = hyper::server::conn::http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_read);
    let conn = builder.serve_connection(io, service).with_upgrades();
    tokio::pin!(conn);
    let mut closing = false;
    loop {
        let idle_at = activity.idle_deadline(limits.idle);
        tokio::select! {
            _ = conn.as_mut() => return,
            _ = stopping.changed(), if !closing => {
                closing = true;
                conn.as_mut().graceful_shutdown();
            }
            _ = tokio::time::sleep_until(idle_at) => {
                // Nothing moved either way for too long (a stalled body, a client gone quiet):
                // dropping the connection closes it.
                if tokio::time::Instant::now() >= activity.idle_deadline(limits.idle) {
                    return;
                }
            }
        }
    }
}
