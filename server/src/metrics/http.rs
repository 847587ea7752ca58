//! Requests: counted and timed by route, logged one line each, and the
//! `/metrics` route itself.
//!
//! Both the metrics and the access log name a request by axum's matched
//! route (`/sign-in/{sid}`), never by its path: paths carry session ids and
//! keys, and raw paths would make the label set unbounded. The access log
//! gives an unmatched request's path, without its query string; it never
//! writes query strings, headers (cookies, `Authorization`) or bodies.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::{ConnectInfo, MatchedPath, Request, State};
use axum::http::{Method, Response, header};
use axum::middleware::Next;
use axum::response::IntoResponse;
use axum::routing::get;
use tower_http::classify::{ServerErrorsAsFailures, SharedClassifier};
use tower_http::trace::{MakeSpan, OnResponse, TraceLayer};
use tracing::Span;

use super::UNMATCHED;
use crate::security::{ClientIp, TrustedProxies};
use crate::{ApiError, AppState};

/// The longest path the access log writes for an unmatched request.
const MAX_LOGGED_PATH: usize = 200;

/// `GET /metrics`, for the main listener or a listener of its own.
pub fn metrics_router() -> Router<AppState> {
    Router::new().route("/metrics", get(scrape))
}

async fn scrape(State(state): State<AppState>) -> axum::response::Response {
    match state.metrics.render() {
        Ok(text) => ([(header::CONTENT_TYPE, prometheus::TEXT_FORMAT)], text).into_response(),
        Err(e) => {
            tracing::error!(error = %e, "cannot render the metrics");
            ApiError::internal("cannot render the metrics").into_response()
        }
    }
}

/// Middleware: counts and times every request by matched route.
pub async fn track_requests(
    State(state): State<AppState>,
    req: Request,
    next: Next,
) -> axum::response::Response {
    let started = Instant::now();
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map_or(UNMATCHED, |p| p.as_str())
        .to_owned();
    let method = method_label(req.method());
    let res = next.run(req).await;
    state
        .metrics
        .request(&route, method, res.status().as_u16(), started);
    res
}

/// The standard methods by name, any other as `other`: a client may send
/// any token as a method, and each would be a new series.
fn method_label(m: &Method) -> &'static str {
    const KNOWN: [&str; 9] = [
        "GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS", "CONNECT", "TRACE",
    ];
    KNOWN
        .into_iter()
        .find(|k| *k == m.as_str())
        .unwrap_or("other")
}

/// The access log: one line per request (target `authentiq::access`) with
/// its method, route, client address (as `trusted_proxies` resolve it),
/// status and latency.
pub fn access_log(
    proxies: TrustedProxies,
) -> TraceLayer<SharedClassifier<ServerErrorsAsFailures>, AccessSpan, (), AccessLine, (), (), ()> {
    TraceLayer::new_for_http()
        .make_span_with(AccessSpan(proxies))
        .on_request(())
        .on_response(AccessLine)
        .on_body_chunk(())
        .on_eos(())
        .on_failure(())
}

/// The request's span: method, route and client address (what the access
/// line and every event logged while handling it carry).
#[derive(Debug, Clone)]
pub struct AccessSpan(TrustedProxies);

impl<B> MakeSpan<B> for AccessSpan {
    fn make_span(&mut self, req: &Request<B>) -> Span {
        let route = match req.extensions().get::<MatchedPath>() {
            Some(p) => p.as_str().to_owned(),
            None => req.uri().path().chars().take(MAX_LOGGED_PATH).collect(),
        };
        let peer = req
            .extensions()
            .get::<ConnectInfo<SocketAddr>>()
            .map(|c| c.0.ip());
        let ip = ClientIp(self.0.client_ip(peer, req.headers()));
        tracing::info_span!(
            "request",
            method = %req.method(),
            route = %route,
            client_ip = %ip,
        )
    }
}

/// Writes the access line when the response's headers go out.
#[derive(Debug, Clone, Copy)]
pub struct AccessLine;

impl<B> OnResponse<B> for AccessLine {
    fn on_response(self, res: &Response<B>, latency: Duration, _span: &Span) {
        tracing::info!(
            target: "authentiq::access",
            status = res.status().as_u16(),
            latency_ms = latency.as_secs_f64() * 1000.0,
            "request"
        );
    }
}

/// The router of `metrics_listen`, a listener of its own: `/metrics`, and
/// 404 for anything else.
pub fn metrics_only(state: AppState) -> Router {
    metrics_router()
        .fallback(|| async { ApiError::not_found("there is no resource at this path") })
        .with_state(state)
}
