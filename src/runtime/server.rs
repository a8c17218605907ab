//! The TCP server: binds, reports its address (tests bind port 0), serves
//! until the shutdown signal, then lets in-flight requests finish within the
//! grace period.
//!
//! Our own accept loop over hyper, instead of `axum::serve`, for the limits
//! a greedy or slow client must meet: at most [`Limits::max_connections`]
//! connections at once (one more is answered 503 problem+json and closed,
//! so the process never runs out of file descriptors), and a deadline for a
//! request's headers (hyper closes a connection that has not sent them in
//! time; `axum::serve` sets no timer, so a silent client held its
//! connection for ever). The body's own deadline is a layer
//! ([`crate::http::middleware`]).

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use crate::http::middleware::Service;
use axum::body::Body;
use axum::extract::ConnectInfo;
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use tokio::io::AsyncWriteExt as _;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Semaphore;
use tower::ServiceExt as _;

/// What a connection may take.
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    /// Connections served at once.
    pub max_connections: usize,
    /// How long a client may take to send a request's headers.
    pub header_timeout: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_connections: 1000,
            header_timeout: Duration::from_secs(10),
        }
    }
}

impl From<&crate::config::Config> for Limits {
    /// `APP_MAX_CONNECTIONS`; the headers get `APP_BODY_TIMEOUT`, as a body's
    /// pause does.
    fn from(config: &crate::config::Config) -> Self {
        Self {
            max_connections: config.max_connections.max(1),
            header_timeout: config.body_timeout,
        }
    }
}

/// A bound, not yet running, server.
pub struct Server {
    listener: TcpListener,
    router: Service,
    grace: Duration,
    limits: Limits,
}

impl Server {
    pub async fn bind(addr: SocketAddr, router: Service, grace: Duration) -> std::io::Result<Self> {
        Ok(Self::on(TcpListener::bind(addr).await?, router, grace))
    }

    /// Serves on a listener bound earlier (to learn the port before the
    /// application is built).
    pub fn on(listener: TcpListener, router: Service, grace: Duration) -> Self {
        Self {
            listener,
            router,
            grace,
            limits: Limits::default(),
        }
    }

    pub fn with_limits(self, limits: Limits) -> Self {
        Self { limits, ..self }
    }

    pub fn local_addr(&self) -> std::io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    /// Serves until `shutdown` completes; then stops accepting and waits up
    /// to the grace period for in-flight requests.
    pub async fn run(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> std::io::Result<()> {
        let permits = Arc::new(Semaphore::new(self.limits.max_connections));
        let graceful = GracefulShutdown::new();
        let mut http = hyper::server::conn::http1::Builder::new();
        http.timer(TokioTimer::new())
            .header_read_timeout(self.limits.header_timeout);
        tokio::pin!(shutdown);
        loop {
            let (stream, peer) = tokio::select! {
                accepted = self.listener.accept() => match accepted {
                    Ok(accepted) => accepted,
                    Err(error) => {
                        // Out of descriptors or a reset before accept: the
                        // listener itself is fine; breathe and go on.
                        tracing::warn!(%error, "accept failed");
                        tokio::time::sleep(Duration::from_millis(20)).await;
                        continue;
                    }
                },
                () = &mut shutdown => break,
            };
            let Ok(permit) = permits.clone().try_acquire_owned() else {
                tokio::spawn(refuse_busy(stream));
                continue;
            };
            let router = self.router.clone();
            let service = hyper::service::service_fn(move |request: hyper::Request<Incoming>| {
                let mut request = request.map(Body::new);
                request.extensions_mut().insert(ConnectInfo(peer));
                router.clone().oneshot(request)
            });
            let connection = graceful.watch(http.serve_connection(TokioIo::new(stream), service));
            tokio::spawn(async move {
                if let Err(error) = connection.await {
                    tracing::debug!(%error, "connection ended");
                }
                drop(permit);
            });
        }
        tracing::info!("shutting down: draining in-flight requests");
        drop(self.listener);
        tokio::select! {
            () = graceful.shutdown() => {}
            () = tokio::time::sleep(self.grace) => {
                tracing::warn!(grace = ?self.grace, "grace period over; dropping unfinished requests");
            }
        }
        Ok(())
    }
}

/// Answers a connection over the limit with a 503 problem and closes it.
async fn refuse_busy(mut stream: TcpStream) {
    let body = serde_json::json!({
        "type": "about:blank",
        "title": "Service Unavailable",
        "status": 503,
        "detail": "too many connections; retry shortly",
    })
    .to_string();
    let answer = format!(
        "HTTP/1.1 503 Service Unavailable\r\ncontent-type: application/problem+json\r\n\
         retry-after: 1\r\nconnection: close\r\ncontent-length: {}\r\n\r\n{body}",
        body.len()
    );
    let _ = tokio::time::timeout(Duration::from_secs(1), stream.write_all(answer.as_bytes())).await;
    let _ = stream.shutdown().await;
}

/// Resolves on SIGTERM (ECS, Kubernetes, `docker stop`) or Ctrl-C.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = terminate => {},
    }
}
