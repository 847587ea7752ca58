//! `POST /token`: the grant types; client authentication is in
//! [`super::client_auth`], the grants themselves (code with PKCE, refresh with rotation and reuse
//! detection) are in [`super::grants`].

use authentiq_protocol::errors::OAuthErrorCode;
use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use serde_json::json;

use super::client_auth::{Form, authenticate};
use super::clients::Client;
use super::error::OAuthErr;
use super::tokens;
use super::{ciba, device, dpop, grants, polling};
use crate::AppState;

/// Form-encoded body, with an OAuth error (not a problem body) when it isn't.
pub async fn token(State(state): State<AppState>, headers: HeaderMap, body: Bytes) -> Response {
    let result = async {
        let form = Form::parse(&headers, &body)?;
        handle(&state, &headers, &form).await
    }
    .await;
    match result {
        Ok(r) => r,
        Err(e) => e.into_response(),
    }
}

async fn handle(state: &AppState, headers: &HeaderMap, form: &Form) -> Result<Response, OAuthErr> {
    let grant_type = form.require("grant_type")?;
    let client = authenticate(state, headers, form).await?;
    if !client.allows_grant_type(grant_type) {
        return Err(OAuthErr::new(
            OAuthErrorCode::UnauthorizedClient,
            format!("this client may not use grant_type {grant_type}"),
        ));
    }
    let target = dpop::Target {
        method: "POST",
        url: &format!("{}/token", state.config.base_url()),
        access_token: None,
    };
    let proof = dpop::proof(state, headers, &target).await?;
    let jkt = proof.as_ref().map(|p| p.jkt.as_str());
    match grant_type {
        "authorization_code" => code_grant(state, &client, form, jkt).await,
        "refresh_token" => refresh_grant(state, &client, form, jkt).await,
        ciba::GRANT_TYPE if state.config.oidc.ciba => {
            let id = form.require("auth_req_id")?;
            let issued = polling::poll(state, &client, ciba::KIND, id, jkt).await?;
            Ok(respond(state, issued))
        }
        device::GRANT_TYPE if state.config.oidc.device_authorization => {
            let code = form.require("device_code")?;
            let issued = polling::poll(state, &client, device::KIND, code, jkt).await?;
            Ok(respond(state, issued))
        }
        other => Err(OAuthErr::new(
            OAuthErrorCode::UnsupportedGrantType,
            format!("grant_type {other} is not supported"),
        )),
    }
}

async fn code_grant(
    state: &AppState,
    client: &Client,
    form: &Form,
    dpop: Option<&str>,
) -> Result<Response, OAuthErr> {
    let req = grants::CodeRequest {
        code: form.require("code")?,
        redirect_uri: form.get("redirect_uri"),
        code_verifier: form.get("code_verifier"),
        dpop,
    };
    Ok(respond(
        state,
        grants::exchange_code(state, client, req).await?,
    ))
}

async fn refresh_grant(
    state: &AppState,
    client: &Client,
    form: &Form,
    dpop: Option<&str>,
) -> Result<Response, OAuthErr> {
    let token = form.require("refresh_token")?;
    let issued = grants::rotate_refresh(state, client, token, form.get("scope"), dpop).await?;
    Ok(respond(state, issued))
}

fn respond(state: &AppState, issued: grants::Issued) -> Response {
    let now = state.now();
    let mut res = Json(json!({
        "access_token": issued.access,
        "token_type": if issued.dpop { "DPoP" } else { "Bearer" },
        "expires_in": tokens::ACCESS_TTL,
        "expires_at": now + tokens::ACCESS_TTL,
        "id_token": issued.id_token,
        "refresh_token": issued.refresh,
        "scope": issued.scope,
    }))
    .into_response();
    super::error::no_store(&mut res);
    res
}
