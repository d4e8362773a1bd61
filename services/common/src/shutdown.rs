//! Graceful shutdown: one token every task listens to, cancelled on
//! SIGTERM or Ctrl-C (or by the fleet/test harness directly).
pub use tokio_util::sync::CancellationToken;

/// Resolves on the first SIGTERM or Ctrl-C.
pub async fn os_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {}
        _ = term => {}
    }
}

/// A token that is cancelled when the process is asked to stop.
pub fn on_os_signal() -> CancellationToken {
    let token = CancellationToken::new();
    let child = token.clone();
    tokio::spawn(async move {
        os_signal().await;
        tracing::info!("shutdown requested");
        child.cancel();
    });
    token
}

/// Runs `task` every `interval` until `shutdown`, logging a failed pass
/// (`what` names it) and trying again on the next tick.
pub fn spawn_every<F, Fut>(
    what: &'static str,
    interval: std::time::Duration,
    shutdown: CancellationToken,
    mut task: F,
) -> tokio::task::JoinHandle<()>
where
    F: FnMut() -> Fut + Send + 'static,
    Fut: Future<Output = Result<(), crate::ApiError>> + Send,
{
    tokio::spawn(async move {
        loop {
            tokio::select! {
                _ = shutdown.cancelled() => return,
                _ = tokio::time::sleep(interval) => {}
            }
            if let Err(error) = task().await {
                tracing::warn!(%error, "{what} failed; will try again");
            }
        }
    })
}
