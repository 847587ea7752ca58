//! `GET /jwks`: the issuer's public keys, which verify scope grants and
//! device events.

use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Value, json};

use crate::AppState;

pub fn router() -> Router<AppState> {
    Router::new().route("/jwks", get(jwks))
}

/// The issuer's public keys as a JWK Set (RFC 7517, OKP keys per RFC 8037).
#[utoipa::path(get, path = "/jwks", tag = "keys", operation_id = "jwks",
    responses((status = 200, description = "JWK Set", body = Object)))]
pub async fn jwks(State(state): State<AppState>) -> Json<Value> {
    let keys: Vec<Value> = state
        .issuer
        .public_keys()
        .iter()
        .map(|k| {
            json!({
                "kty": "OKP",
                "crv": "Ed25519",
                "x": URL_SAFE_NO_PAD.encode(k.key.as_bytes()),
                "kid": k.kid,
                "use": "sig",
                "alg": "EdDSA",
            })
        })
        .collect();
    Json(json!({ "keys": keys }))
}
