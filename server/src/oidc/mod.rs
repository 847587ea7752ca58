//! The OpenID Connect provider: discovery, keys, `/authorize` (and PAR)
//! and the sign-in page, sign-in sessions, `/token` (with CIBA and the
//! device grant, DPoP-bound or not), `/userinfo`, logout, revocation,
//! introspection, registration and SDK tokens.

pub mod authorize;
pub mod ciba;
pub mod client_auth;
pub mod clients;
pub mod cookies;
pub mod device;
pub mod discovery;
pub mod dpop;
pub mod error;
pub mod grants;
pub mod introspection;
pub mod jwt_crypto;
pub mod keys;
pub mod logout;
pub mod page;
pub mod par;
pub mod polling;
pub mod records;
pub mod registration;
pub mod response;
pub mod revocation;
pub mod sdk;
pub mod session;
pub mod session_iframe;
pub mod signin;
pub mod token;
pub mod tokens;
pub mod userinfo;

use axum::Router;
use axum::routing::{get, post};

use crate::AppState;

/// The provider's routes that answer within the request timeout: the route
/// table, one module per endpoint.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/authorize", get(authorize::get).post(authorize::post))
        .route("/sign-in", get(authorize::get).post(authorize::post))
        .merge(signin::router())
        .route("/par", post(par::push))
        .route("/bc-authorize", post(ciba::bc_authorize))
        .route("/device_authorization", post(device::device_authorization))
        .route("/device", get(device::show).post(device::enter))
        .route("/token", post(token::token))
        .route(
            "/userinfo",
            get(userinfo::userinfo).post(userinfo::userinfo),
        )
        .route("/logout", get(logout::get).post(logout::post))
        .route("/revoke", post(revocation::revoke))
        .route("/introspect", post(introspection::introspect))
        .route("/check-session", get(session_iframe::for_any))
        .route("/{client_id}/iframe", get(session_iframe::for_client))
        .merge(registration::router())
        .merge(sdk::router())
        .merge(page::assets_router())
}

/// Long-lived streams.
pub fn streaming_router() -> Router<AppState> {
    signin::streaming_router()
}
