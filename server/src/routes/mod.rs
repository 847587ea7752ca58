//! The route table: each module owns its paths; this file merges them and
//! puts the limits every request is held to around them.

pub mod channel;
pub mod health;
pub mod jwks;
pub mod key;
pub mod login;
pub mod openapi;
pub mod scope;

use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::{DefaultBodyLimit, Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use tower_http::timeout::TimeoutLayer;

use crate::{ApiError, AppState};

pub fn router(state: AppState) -> Router {
    let limits = state.config.limits.clone();
    // `/metrics` here unless it has a listener of its own.
    let metrics = if state.config.metrics_listen.is_none() {
        crate::metrics::metrics_router()
    } else {
        Router::new()
    };
    let demo = if state.config.demo {
        crate::demo::router()
    } else {
        Router::new()
    };
    // Ordinary requests get a deadline; the device channel streams for as
    // long as the device stays connected.
    let bounded = Router::new()
        .merge(health::router())
        .merge(key::router())
        .merge(crate::devices::router())
        .merge(login::router())
        .merge(scope::router())
        .merge(jwks::router())
        .merge(crate::oidc::discovery::router())
        .merge(openapi::router())
        .merge(crate::oidc::router())
        .merge(crate::accounts::routes::router())
        .merge(crate::dashboard::router())
        .merge(demo)
        .layer(TimeoutLayer::with_status_code(
            StatusCode::REQUEST_TIMEOUT,
            Duration::from_secs(limits.request_timeout_secs),
        ));
    Router::new()
        .merge(bounded)
        .merge(channel::router())
        .merge(crate::oidc::streaming_router())
        .merge(metrics)
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(middleware::from_fn(problem_errors))
        .layer(middleware::from_fn_with_state(state.clone(), header_limits))
        .layer(DefaultBodyLimit::max(limits.body_bytes))
        .layer(middleware::from_fn_with_state(
            Hsts(state.config.base_url().starts_with("https:")),
            security_headers,
        ))
        // Outermost: they see every answer as it leaves.
        .layer(middleware::from_fn_with_state(
            state.clone(),
            crate::metrics::track_requests,
        ))
        .layer(crate::metrics::access_log(state.proxies.clone()))
        .with_state(state)
}

async fn not_found() -> ApiError {
    ApiError::not_found("there is no resource at this path")
}

async fn method_not_allowed() -> ApiError {
    ApiError::method_not_allowed("this resource does not support the method")
}

/// 431 for requests with too many or too large headers.
async fn header_limits(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let l = &state.config.limits;
    let size: usize = req
        .headers()
        .iter()
        .map(|(k, v)| k.as_str().len() + v.len() + 4)
        .sum();
    if req.headers().len() > l.header_count || size > l.header_bytes {
        return ApiError::header_too_large(format!(
            "at most {} headers and {} bytes of them",
            l.header_count, l.header_bytes
        ))
        .into_response();
    }
    next.run(req).await
}

/// Gives error responses made outside the handlers (axum's rejections,
/// timeouts) the documented `{error, type, title, detail}` shape.
async fn problem_errors(req: Request, next: Next) -> Response {
    let res = next.run(req).await;
    let status = res.status();
    // Our own bodies (problem+json, OAuth JSON, HTML pages) pass unchanged.
    let is_ours = res.headers().get(header::CONTENT_TYPE).is_some_and(|v| {
        let v = v.as_bytes();
        v.starts_with(b"application/problem+json")
            || v.starts_with(b"application/json")
            || v.starts_with(b"text/html")
    });
    if !(status.is_client_error() || status.is_server_error()) || is_ours {
        return res;
    }
    let (parts, body) = res.into_parts();
    let text = axum::body::to_bytes(body, 4096).await.unwrap_or_default();
    let mut err = ApiError::from_status(status);
    let detail = String::from_utf8_lossy(&text);
    if !detail.trim().is_empty() && !status.is_server_error() {
        err.detail = detail.chars().take(300).collect();
    }
    let mut out = err.into_response();
    if let Some(allow) = parts.headers.get(header::ALLOW) {
        out.headers_mut().insert(header::ALLOW, allow.clone());
    }
    out
}

/// Whether the public URL is https, so browsers are told to keep to it.
#[derive(Debug, Clone, Copy)]
struct Hsts(bool);

/// Headers every response carries (and HSTS when served over https).
async fn security_headers(State(hsts): State<Hsts>, req: Request<Body>, next: Next) -> Response {
    let mut res = next.run(req).await;
    let h = res.headers_mut();
    if hsts.0 {
        h.insert(
            header::STRICT_TRANSPORT_SECURITY,
            HeaderValue::from_static("max-age=31536000"),
        );
    }
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    h.entry(header::CACHE_CONTROL)
        .or_insert(HeaderValue::from_static("no-store"));
    res
}
