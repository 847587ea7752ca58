//! The dashboard's stylesheet (on top of the sign-in page's) and its one
//! script (the copy buttons), embedded in the binary with versioned URLs.

use std::sync::LazyLock;

use axum::Router;
use axum::routing::get;
use serde::Serialize;

use crate::oidc::page::{asset_response, versioned};

const CSS: &str = include_str!("templates/dashboard.css");
const JS: &str = include_str!("templates/dashboard.js");

/// The URLs the layout links (`dash` in its context).
#[derive(Debug, Serialize)]
pub struct Urls {
    pub css: String,
    pub js: String,
}

pub static URLS: LazyLock<Urls> = LazyLock::new(|| Urls {
    css: versioned("/static/dashboard.css", CSS),
    js: versioned("/static/dashboard.js", JS),
});

/// `GET /static/dashboard.css` and `/static/dashboard.js`.
pub fn router<S: Clone + Send + Sync + 'static>() -> Router<S> {
    Router::new()
        .route(
            "/static/dashboard.css",
            get(|| async { asset_response("text/css; charset=utf-8", CSS) }),
        )
        .route(
            "/static/dashboard.js",
            get(|| async { asset_response("text/javascript; charset=utf-8", JS) }),
        )
}
