//! The server's OpenAPI document, generated from the handlers' annotations
//! and served at `/openapi.json`.

use axum::routing::get;
use axum::{Json, Router};
use utoipa::openapi::response::ResponseBuilder;
use utoipa::openapi::{ContentBuilder, Ref};
use utoipa::{Modify, OpenApi};

use super::{channel, health, jwks, key, login, scope};
use crate::AppState;
use crate::accounts::routes as accounts;
use crate::devices;
use crate::oidc::{registration, sdk};

#[derive(Debug, OpenApi)]
#[openapi(
    info(
        title = "Authentiq API",
        version = "6",
        description = "Strong authentication, without the passwords: the issuer API of a self-hosted Authentiq server, its device channel, the accounts API and client registration.",
        license(name = "Apache 2.0", identifier = "Apache-2.0"),
    ),
    paths(
        key::register, key::retrieve, key::update, key::bind, key::revoke_with_secret,
        key::revoke_by_email_phone, key::sign_out_everywhere,
        devices::manage::list, devices::manage::rename, devices::manage::remove,
        devices::link::start, devices::link::status, devices::link::answer,
        devices::recovery::start, devices::recovery::status, devices::recovery::confirm,
        devices::recovery::cancel, devices::recovery::complete,
        login::push_login,
        scope::create, scope::retrieve, scope::confirm, scope::authority_sign, scope::delete,
        channel::open, jwks::jwks, jwks::public_keys, health::healthz,
        accounts::heartbeat, accounts::register, accounts::login, accounts::validate,
        accounts::change_password, accounts::list, accounts::get_role, accounts::set_role,
        accounts::set_active, accounts::logout, accounts::delete_account,
        registration::register, registration::list, registration::read, registration::update,
        registration::remove,
        sdk::mint::verification, sdk::mint::deprecated, sdk::mint::face, sdk::session::start,
        sdk::session::status, sdk::result::fetch,
    ),
    components(schemas(crate::error::ProblemBody)),
    modifiers(&DefaultErrorResponse, &BearerAuth),
    tags(
        (name = "accounts", description = "Accounts of the people who own clients and run the server (seed 004)"),
        (name = "clients", description = "Client registration (OpenID Connect Registration, RFC 7591, RFC 7592)"),
        (name = "sdk", description = "Single-use SDK tokens for a client's backend (seed 003)"),
        (name = "key", description = "Authentiq IDs"),
        (name = "scope", description = "Verifying claims"),
        (name = "login", description = "Push sign-in"),
        (name = "channel", description = "Device channel"),
    ),
)]
pub struct ApiDoc;

/// Like the seed document, every operation has a `default` response: any
/// other error (413, 415, 431, 408, …) in the same problem shape.
#[derive(Debug)]
struct DefaultErrorResponse;

impl Modify for DefaultErrorResponse {
    fn modify(&self, doc: &mut utoipa::openapi::OpenApi) {
        let response = ResponseBuilder::new()
            .description("Error response `{error, type, title, detail}`")
            .content(
                "application/problem+json",
                ContentBuilder::new()
                    .schema(Some(Ref::from_schema_name("ProblemBody")))
                    .build(),
            )
            .build();
        for item in doc.paths.paths.values_mut() {
            for op in [
                &mut item.get,
                &mut item.put,
                &mut item.post,
                &mut item.delete,
                &mut item.head,
                &mut item.patch,
            ]
            .into_iter()
            .flatten()
            {
                op.responses
                    .responses
                    .entry("default".into())
                    .or_insert_with(|| response.clone().into());
            }
        }
    }
}

/// `bearer`: an account token (from `/authentiq/v1/user/login`), or for
/// client registration an initial access token or a registration access
/// token.
#[derive(Debug)]
struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, doc: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
        let components = doc.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
        // A client's id and secret (the SDK token endpoints).
        components.add_security_scheme(
            "basic",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Basic).build()),
        );
    }
}

pub fn router() -> Router<AppState> {
    Router::new().route("/openapi.json", get(|| async { Json(ApiDoc::openapi()) }))
}
