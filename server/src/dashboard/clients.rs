//! My clients: the list, a new client (its secret shown once), a client's
//! page (the integration snippet and its settings), secret rotation and
//! deletion with a confirmation step. Admins may open any stored client.
//! Everything goes through the client registration code.

use axum::extract::{Path, State};
use axum::http::{StatusCode, Uri};
use axum::response::{IntoResponse, Redirect, Response};
use serde::Serialize;

use super::client_view::{ClientView, Fields, RESPONSE_TYPES, snippet};
use super::render;
use super::session::{Owner, Posted};
use super::usage::{self, Usage};
use crate::AppState;
use crate::oidc::clients::{self, Client};
use crate::oidc::error::OAuthErr;
use crate::oidc::registration::manage;
use crate::oidc::registration::metadata::Metadata;
use crate::security::ClientIp;

/// The notice for `?done=` after an action.
fn notice(uri: &Uri) -> Option<&'static str> {
    match crate::extract::form_value(uri.query().unwrap_or(""), "done").as_deref() {
        Some("saved") => Some("Saved."),
        Some("deleted") => Some("The client was deleted."),
        _ => None,
    }
}

#[derive(Serialize)]
struct ListCtx {
    clients: Vec<ClientView>,
    notice: Option<&'static str>,
    may_own: bool,
}

/// `GET /dashboard/clients`: the signed-in account's clients.
pub async fn list(State(state): State<AppState>, owner: Owner, uri: Uri) -> Response {
    let mine = match clients::stored(&state, Some(owner.id())).await {
        Ok(c) => c,
        Err(e) => return render::api_error(Some(&owner), e),
    };
    let ctx = ListCtx {
        clients: mine.iter().map(ClientView::of).collect(),
        notice: notice(&uri),
        may_own: owner.caller.role().may_own_clients(),
    };
    render::page(
        StatusCode::OK,
        "clients.html",
        Some(&owner),
        "clients",
        &ctx,
    )
}

#[derive(Serialize)]
struct FormCtx<'a> {
    fields: &'a Fields,
    error: Option<&'a str>,
    /// The form asks for the client type (only when it is made).
    new_client: bool,
    offered_response_types: &'static [&'static str],
}

fn new_page(owner: &Owner, status: StatusCode, fields: &Fields, error: Option<&str>) -> Response {
    let ctx = FormCtx {
        fields,
        error,
        new_client: true,
        offered_response_types: &RESPONSE_TYPES,
    };
    render::page(status, "client-new.html", Some(owner), "clients", &ctx)
}

/// Guests may sign in but own nothing.
fn may_own(owner: &Owner) -> Result<(), Response> {
    if owner.caller.role().may_own_clients() {
        return Ok(());
    }
    Err(render::message(
        StatusCode::FORBIDDEN,
        Some(owner),
        "Your account cannot own clients yet",
        "A guest account waits for an admin of this server to make it a user.",
    ))
}

/// `GET /dashboard/clients/new`: the form.
pub async fn new_form(owner: Owner) -> Response {
    if let Err(r) = may_own(&owner) {
        return r;
    }
    new_page(&owner, StatusCode::OK, &Fields::new_client(), None)
}

#[derive(Serialize)]
struct SecretCtx<'a> {
    heading: &'a str,
    client: ClientView,
    secret: Option<String>,
}

/// The page that shows a secret, this once.
fn secret_page(
    owner: &Owner,
    status: StatusCode,
    heading: &str,
    client: &Client,
    secret: Option<String>,
) -> Response {
    let ctx = SecretCtx {
        heading,
        client: ClientView::of(client),
        secret,
    };
    render::page(status, "client-secret.html", Some(owner), "clients", &ctx)
}

/// A registration refusal as the form's error; a failure of ours as such.
fn refusal(owner: &Owner, e: OAuthErr) -> Result<String, Response> {
    if e.status.is_server_error() {
        tracing::warn!(error = %e.description, "the dashboard could not register or change a client");
        return Err(render::message(
            StatusCode::INTERNAL_SERVER_ERROR,
            Some(owner),
            "Something went wrong",
            "The server could not complete this step. Try again in a moment.",
        ));
    }
    Ok(render::sentence(&e.description))
}

/// `POST /dashboard/clients`: registers a client owned by the account.
pub async fn create(State(state): State<AppState>, ip: ClientIp, posted: Posted) -> Response {
    let Posted { owner, form } = posted;
    if let Err(r) = may_own(&owner) {
        return r;
    }
    let fields = Fields::read(&form, &Fields::new_client());
    if let Err(e) = manage::limit(&state, &ip).await {
        return render::api_error(Some(&owner), e);
    }
    let mut meta = Metadata::default();
    fields.apply(&mut meta);
    match manage::create(&state, Some(owner.id().to_string()), &meta).await {
        Ok(created) => secret_page(
            &owner,
            StatusCode::CREATED,
            "Client created",
            &created.client,
            created.secret,
        ),
        Err(e) => match refusal(&owner, e) {
            Ok(why) => new_page(&owner, StatusCode::BAD_REQUEST, &fields, Some(&why)),
            Err(r) => r,
        },
    }
}

/// A stored client the owner may manage (theirs, or any for an admin).
async fn managed(state: &AppState, owner: &Owner, id: &str) -> Result<Client, Response> {
    if manage::in_config(state, id) {
        return Err(render::message(
            StatusCode::NOT_FOUND,
            Some(owner),
            "Managed in the configuration file",
            "This client is defined in the server's configuration file: change it there.",
        ));
    }
    match clients::find(state, id).await {
        Ok(Some(c)) if owner.is_admin() || c.owner.as_deref() == Some(owner.id()) => Ok(c),
        Ok(_) => Err(render::not_found(owner, "such client")),
        Err(e) => Err(render::api_error(Some(owner), e)),
    }
}

#[derive(Serialize)]
struct ClientCtx<'a> {
    client: ClientView,
    fields: &'a Fields,
    error: Option<&'a str>,
    notice: Option<&'static str>,
    new_client: bool,
    offered_response_types: &'static [&'static str],
    usage: Option<&'a Usage>,
    issuer: &'a str,
    discovery: String,
    snippet: String,
}

async fn client_page(
    state: &AppState,
    owner: &Owner,
    status: StatusCode,
    client: &Client,
    fields: &Fields,
    error: Option<&str>,
    notice: Option<&'static str>,
) -> Response {
    let issuer = state.config.base_url();
    // The page shows without its usage rather than not at all.
    let usage = usage::of(state, &client.client_id)
        .await
        .inspect_err(|e| tracing::warn!(error = %e, "cannot read a client's usage"))
        .ok();
    let ctx = ClientCtx {
        client: ClientView::of(client),
        fields,
        error,
        notice,
        new_client: false,
        offered_response_types: &RESPONSE_TYPES,
        usage: usage.as_ref(),
        issuer,
        discovery: format!("{issuer}/.well-known/openid-configuration"),
        snippet: snippet(issuer, client),
    };
    render::page(status, "client.html", Some(owner), "clients", &ctx)
}

/// `GET /dashboard/clients/{id}`: the integration snippet and the settings.
pub async fn show(
    State(state): State<AppState>,
    owner: Owner,
    Path(id): Path<String>,
    uri: Uri,
) -> Response {
    match managed(&state, &owner, &id).await {
        Ok(c) => {
            client_page(
                &state,
                &owner,
                StatusCode::OK,
                &c,
                &Fields::of(&c),
                None,
                notice(&uri),
            )
            .await
        }
        Err(r) => r,
    }
}

/// The client's current metadata, to change.
fn metadata_of(state: &AppState, owner: &Owner, c: &Client) -> Result<Metadata, Response> {
    manage::current_metadata(c, state.config.base_url())
        .map_err(|e| render::api_error(Some(owner), e))
}

/// `POST /dashboard/clients/{id}`: saves the settings.
pub async fn save(
    State(state): State<AppState>,
    Path(id): Path<String>,
    posted: Posted,
) -> Response {
    let Posted { owner, form } = posted;
    let client = match managed(&state, &owner, &id).await {
        Ok(c) => c,
        Err(r) => return r,
    };
    let fields = Fields::read(&form, &Fields::of(&client));
    let mut meta = match metadata_of(&state, &owner, &client) {
        Ok(m) => m,
        Err(r) => return r,
    };
    fields.apply(&mut meta);
    // SDK flows are the client's own (not registration metadata): kept
    // on the client the update starts from, validated with it.
    let mut current = client.clone();
    match fields.flows() {
        Ok(flows) => current.sdk_flows = flows,
        Err(why) => {
            let why = render::sentence(&why);
            return client_page(
                &state,
                &owner,
                StatusCode::BAD_REQUEST,
                &client,
                &fields,
                Some(&why),
                None,
            )
            .await;
        }
    }
    match manage::update(&state, current, &meta).await {
        // A change that needs a new secret (HS256 ID tokens) issues one.
        Ok((c, Some(secret))) => secret_page(
            &owner,
            StatusCode::OK,
            "Saved, with a new secret",
            &c,
            Some(secret),
        ),
        Ok((c, None)) => {
            Redirect::to(&format!("/dashboard/clients/{}?done=saved", c.client_id)).into_response()
        }
        Err(e) => match refusal(&owner, e) {
            Ok(why) => {
                client_page(
                    &state,
                    &owner,
                    StatusCode::BAD_REQUEST,
                    &client,
                    &fields,
                    Some(&why),
                    None,
                )
                .await
            }
            Err(r) => r,
        },
    }
}

/// `POST /dashboard/clients/{id}/rotate`: a new secret; the old one
/// stops working at once.
pub async fn rotate(
    State(state): State<AppState>,
    Path(id): Path<String>,
    posted: Posted,
) -> Response {
    let owner = posted.owner;
    let client = match managed(&state, &owner, &id).await {
        Ok(c) => c,
        Err(r) => return r,
    };
    if client.is_public() {
        return render::message(
            StatusCode::BAD_REQUEST,
            Some(&owner),
            "No secret to rotate",
            "A public client has no secret: it proves itself with PKCE.",
        );
    }
    let mut meta = match metadata_of(&state, &owner, &client) {
        Ok(m) => m,
        Err(r) => return r,
    };
    meta.rotate_secret = Some(true);
    match manage::update(&state, client, &meta).await {
        Ok((c, secret)) => secret_page(&owner, StatusCode::OK, "New secret issued", &c, secret),
        Err(e) => match refusal(&owner, e) {
            Ok(why) => render::message(
                StatusCode::BAD_REQUEST,
                Some(&owner),
                "The secret could not be rotated",
                &why,
            ),
            Err(r) => r,
        },
    }
}

#[derive(Serialize)]
struct DeleteCtx {
    client: ClientView,
}

/// `GET /dashboard/clients/{id}/delete`: are you sure?
pub async fn confirm_delete(
    State(state): State<AppState>,
    owner: Owner,
    Path(id): Path<String>,
) -> Response {
    match managed(&state, &owner, &id).await {
        Ok(c) => render::page(
            StatusCode::OK,
            "client-delete.html",
            Some(&owner),
            "clients",
            &DeleteCtx {
                client: ClientView::of(&c),
            },
        ),
        Err(r) => r,
    }
}

/// `POST /dashboard/clients/{id}/delete` with `confirm=yes`.
pub async fn delete(
    State(state): State<AppState>,
    Path(id): Path<String>,
    posted: Posted,
) -> Response {
    let Posted { owner, form } = posted;
    let client = match managed(&state, &owner, &id).await {
        Ok(c) => c,
        Err(r) => return r,
    };
    if form.get("confirm") != Some("yes") {
        return render::message(
            StatusCode::BAD_REQUEST,
            Some(&owner),
            "Not deleted",
            "Deleting a client needs the confirmation: use the Delete button on its confirmation page.",
        );
    }
    match manage::delete(&state, &client.client_id).await {
        Ok(()) => Redirect::to("/dashboard/clients?done=deleted").into_response(),
        Err(e) => render::api_error(Some(&owner), e),
    }
}
