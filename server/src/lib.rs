//! The Authentiq server as a library: `main` parses configuration and calls
//! [`serve`]; tests call it on a listener bound to `127.0.0.1:0`.

pub mod accounts;
pub mod cli;
pub mod clock;
pub mod config;
pub mod dashboard;
pub mod delivery;
pub mod demo;
pub mod devices;
pub mod error;
pub mod extract;
pub mod hub;
pub mod keys;
pub mod logging;
pub mod metrics;
pub mod oidc;

pub mod outgoing;
pub mod routes;
pub mod secrets;
pub mod security;
pub mod state;
pub mod store;

use std::future::Future;
use std::net::SocketAddr;
use std::time::Duration;

use tokio::net::TcpListener;

pub use error::ApiError;
pub use state::AppState;

/// Serves the API on `listener` until `shutdown` completes, then finishes
/// the requests in flight. In the background: expired records are purged
/// and queued outgoing requests (logout tokens) delivered.
pub async fn serve(
    listener: TcpListener,
    state: AppState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let purger = tokio::spawn(purge_loop(state.clone()));
    let sender = tokio::spawn(outgoing::worker(state.clone()));
    let reloader = tokio::spawn(reload_keys_loop(state.clone()));
    // Several instances on PostgreSQL share their hub's signals.
    let relay = state
        .config
        .database_url
        .clone()
        .map(|url| hub::postgres::start(std::sync::Arc::clone(&state.hub), url));
    let app = routes::router(state).into_make_service_with_connect_info::<SocketAddr>();
    let result = axum::serve(listener, app)
        .with_graceful_shutdown(shutdown)
        .await;
    purger.abort();
    sender.abort();
    reloader.abort();
    if let Some(relay) = relay {
        relay.abort();
    }
    result
}

/// Serves `GET /metrics` alone on `listener` (the `metrics_listen`
/// address) until `shutdown` completes.
pub async fn serve_metrics(
    listener: TcpListener,
    state: AppState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(listener, metrics::metrics_only(state))
        .with_graceful_shutdown(shutdown)
        .await
}

async fn purge_loop(state: AppState) {
    let mut tick = tokio::time::interval(Duration::from_secs(60));
    loop {
        tick.tick().await;
        let now = state.now();
        if let Err(e) = state.db.call(move |s| s.purge_expired(now)).await {
            tracing::warn!(error = %e, "cannot purge expired records");
        }
    }
}

/// Picks up keys rotated by the command line or another instance: on a
/// timer, and at once when the hub is told that the keys changed.
async fn reload_keys_loop(state: AppState) {
    let mut tick = tokio::time::interval(keys::live::RELOAD_EVERY);
    let mut changed = state.hub.watch(hub::Topic::Keys);
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            () = changed.changed() => {}
        }
        let now = state.now();
        let s = state.clone();
        match tokio::task::spawn_blocking(move || s.live_keys.refresh(now)).await {
            Ok(Ok(_)) => {}
            Ok(Err(e)) => tracing::warn!(error = %e, "cannot reload the signing keys"),
            Err(e) => tracing::warn!(error = %e, "key reload task failed"),
        }
    }
}
