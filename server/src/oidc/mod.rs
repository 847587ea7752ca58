//! The OpenID Connect provider: discovery, keys, `/authorize` and the
//! sign-in page, sign-in sessions, `/token`, `/userinfo`.

pub mod authorize;
pub mod client_auth;
pub mod clients;
pub mod cookies;
pub mod discovery;
pub mod error;
pub mod grants;
pub mod jwt_crypto;
pub mod keys;
pub mod page;
pub mod records;
pub mod response;
pub mod session;
pub mod signin;
pub mod token;
pub mod tokens;
pub mod userinfo;

use axum::Router;
use axum::routing::{get, post};

use crate::AppState;

/// The provider's routes that answer within the request timeout.
pub fn router() -> Router<AppState> {
    Router::new()
        .merge(signin::router())
        .route("/token", post(token::token))
        .route(
            "/userinfo",
            get(userinfo::userinfo).post(userinfo::userinfo),
        )
        .merge(page::assets_router())
}

/// Long-lived streams.
pub fn streaming_router() -> Router<AppState> {
    signin::streaming_router()
}
