//! `GET /jwks` and `GET /public-keys`: the server's public keys as a JWK
//! Set — the OpenID Connect ID token keys (RS256, ES256) and the issuer's
//! Ed25519 keys, which sign scope grants and device events and are also the
//! EdDSA ID token keys.

use axum::Json;
use axum::Router;
use axum::extract::State;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;

use crate::AppState;

/// How long clients may cache the set. Rotated keys are published at least
/// this long before they sign (see `oidc::keys::DEFAULT_PUBLISH_AHEAD`).
pub const CACHE_CONTROL: &str = "public, max-age=300";

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/jwks", get(jwks))
        .route("/public-keys", get(public_keys))
}

/// The public keys as a JWK Set (RFC 7517; OKP keys per RFC 8037), each
/// with `kid` (its RFC 7638 thumbprint), `use` and `alg`.
#[utoipa::path(get, path = "/jwks", tag = "keys", operation_id = "jwks",
    responses((status = 200, description = "JWK Set", body = Object)))]
pub async fn jwks(State(state): State<AppState>) -> Response {
    key_set(&state)
}

/// The same JWK Set as `/jwks`, at the path older Authentiq clients use.
#[utoipa::path(get, path = "/public-keys", tag = "keys", operation_id = "public_keys",
    responses((status = 200, description = "JWK Set", body = Object)))]
pub async fn public_keys(State(state): State<AppState>) -> Response {
    key_set(&state)
}

fn key_set(state: &AppState) -> Response {
    let mut res = Json(state.keys().oidc.jwks(state.now())).into_response();
    res.headers_mut().insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static(CACHE_CONTROL),
    );
    res
}
