//! The server's OpenAPI document, generated from the handlers' annotations
//! and served at `/openapi.json`.

use axum::routing::get;
use axum::{Json, Router};
use serde::Serialize;
use utoipa::{OpenApi, ToSchema};

use crate::AppState;
use crate::routes::{channel, health, jwks, key, login, scope};

/// `{error, type, title, detail}` — every error of the issuer API.
#[derive(Debug, Serialize, ToSchema)]
pub struct ProblemBody {
    /// The HTTP status code.
    pub error: u16,
    /// A stable slug, e.g. `unknown-key`.
    #[serde(rename = "type")]
    #[schema(rename = "type")]
    pub kind: String,
    pub title: String,
    pub detail: Option<String>,
}

#[derive(Debug, OpenApi)]
#[openapi(
    info(
        title = "Authentiq API",
        version = "6",
        description = "Strong authentication, without the passwords: the issuer API of a self-hosted Authentiq server, plus its device channel.",
        license(name = "Apache 2.0", identifier = "Apache-2.0"),
    ),
    paths(
        key::register, key::retrieve, key::update, key::bind, key::revoke_with_secret,
        key::revoke_by_email_phone,
        login::push_login,
        scope::create, scope::retrieve, scope::confirm, scope::authority_sign, scope::delete,
        channel::open, jwks::jwks, health::healthz,
    ),
    components(schemas(ProblemBody)),
    tags(
        (name = "key", description = "Authentiq IDs"),
        (name = "scope", description = "Verifying claims"),
        (name = "login", description = "Push sign-in"),
        (name = "channel", description = "Device channel"),
    ),
)]
pub struct ApiDoc;

pub fn router() -> Router<AppState> {
    Router::new().route("/openapi.json", get(|| async { Json(ApiDoc::openapi()) }))
}
