//! The Authentiq server as a library: `main` parses configuration and calls
//! [`serve`]; tests call it on a listener bound to `127.0.0.1:0`.

pub mod error;
pub mod routes;

use std::future::Future;

use tokio::net::TcpListener;

pub use error::ApiError;

/// Shared state of the running server.
#[derive(Debug, Clone, Default)]
pub struct AppState {}

/// Serves the API on `listener` until `shutdown` completes, then finishes
/// the requests in flight.
pub async fn serve(
    listener: TcpListener,
    state: AppState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(listener, routes::router(state))
        .with_graceful_shutdown(shutdown)
        .await
}
