//! The pages' static assets, embedded in the binary, with versioned URLs.

use std::sync::LazyLock;

use axum::Router;
use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::get;
use serde::Serialize;
use sha2::{Digest, Sha256};

pub(super) const SIGN_IN_JS: &str = include_str!("assets/sign-in.js");
pub(super) const SIGN_IN_CSS: &str = include_str!("assets/sign-in.css");
pub(super) const FORM_POST_JS: &str = include_str!("assets/form-post.js");
pub(super) const ICON_SVG: &str = include_str!("assets/authentiq.svg");
pub(super) const CHECK_SESSION_JS: &str = include_str!("assets/check-session.js");

const JS_TYPE: &str = "text/javascript; charset=utf-8";
const CSS_TYPE: &str = "text/css; charset=utf-8";
const SVG_TYPE: &str = "image/svg+xml";
const ASSET_CACHE: &str = "public, max-age=3600";

/// Versioned URLs of the static assets, as the templates link them: the
/// `?v=` changes with the content, so a new release is not held back by
/// browser caches.
#[derive(Debug, Serialize)]
pub(super) struct AssetUrls {
    pub(super) js: String,
    pub(super) css: String,
    pub(super) form_post_js: String,
    pub(super) icon: String,
    pub(super) check_session_js: String,
}

pub(super) static ASSET_URLS: LazyLock<AssetUrls> = LazyLock::new(|| AssetUrls {
    js: versioned("/static/sign-in.js", SIGN_IN_JS),
    css: versioned("/static/sign-in.css", SIGN_IN_CSS),
    form_post_js: versioned("/static/form-post.js", FORM_POST_JS),
    icon: versioned("/static/authentiq.svg", ICON_SVG),
    check_session_js: versioned("/static/check-session.js", CHECK_SESSION_JS),
});

/// `path?v=` and a digest of `content`.
pub fn versioned(path: &str, content: &str) -> String {
    let digest = Sha256::digest(content.as_bytes());
    let mut url = format!("{path}?v=");
    for byte in digest.iter().take(5) {
        url.push_str(&format!("{byte:02x}"));
    }
    url
}

/// `GET /static/sign-in.js`, `/static/sign-in.css`, `/static/form-post.js`
/// and `/static/authentiq.svg` (the favicon), embedded in the binary.
pub fn assets_router<S: Clone + Send + Sync + 'static>() -> Router<S> {
    Router::new()
        .route(
            "/static/sign-in.js",
            get(|| async { asset_response(JS_TYPE, SIGN_IN_JS) }),
        )
        .route(
            "/static/sign-in.css",
            get(|| async { asset_response(CSS_TYPE, SIGN_IN_CSS) }),
        )
        .route(
            "/static/form-post.js",
            get(|| async { asset_response(JS_TYPE, FORM_POST_JS) }),
        )
        .route(
            "/static/authentiq.svg",
            get(|| async { asset_response(SVG_TYPE, ICON_SVG) }),
        )
        .route(
            "/static/check-session.js",
            get(|| async { asset_response(JS_TYPE, CHECK_SESSION_JS) }),
        )
}

/// A static asset's response (cached for an hour; versioned URLs change).
pub fn asset_response(content_type: &'static str, body: &'static str) -> impl IntoResponse {
    (
        [
            (header::CONTENT_TYPE, content_type),
            (header::CACHE_CONTROL, ASSET_CACHE),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        ],
        body,
    )
}
