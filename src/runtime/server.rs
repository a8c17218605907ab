//! The TCP server: binds, reports its address (tests bind port 0), serves
//! until the shutdown signal, then lets in-flight requests finish within the
//! grace period.

use std::future::Future;
use std::net::SocketAddr;
use std::time::Duration;

use axum::Router;
use tokio::net::TcpListener;

/// A bound, not yet running, server.
pub struct Server {
    listener: TcpListener,
    router: Router,
    grace: Duration,
}

impl Server {
    pub async fn bind(addr: SocketAddr, router: Router, grace: Duration) -> std::io::Result<Self> {
        Ok(Self::on(TcpListener::bind(addr).await?, router, grace))
    }

    /// Serves on a listener bound earlier (to learn the port before the
    /// application is built).
    pub fn on(listener: TcpListener, router: Router, grace: Duration) -> Self {
        Self {
            listener,
            router,
            grace,
        }
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
        let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
        let grace = self.grace;
        let serve = axum::serve(
            self.listener,
            self.router
                .into_make_service_with_connect_info::<SocketAddr>(),
        )
        .with_graceful_shutdown(async move {
            shutdown.await;
            tracing::info!("shutting down: draining in-flight requests");
            let _ = stop_tx.send(());
        });
        let serving = tokio::spawn(async move { serve.await });
        tokio::pin!(serving);
        tokio::select! {
            result = &mut serving => return result.map_err(std::io::Error::other)?,
            _ = stop_rx => {}
        }
        match tokio::time::timeout(grace, serving).await {
            Ok(result) => result.map_err(std::io::Error::other)?,
            Err(_) => {
                tracing::warn!(?grace, "grace period over; dropping unfinished requests");
                Ok(())
            }
        }
    }
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
