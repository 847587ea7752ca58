//! The outcome of an SDK operation: a server-signed JWT (the client's ID
//! token algorithm, `typ: sdk-result+jwt`) with the verified claims, `sub`
//! as this client knows the user, `auth_time` and the token's id; fetched
//! once by the client's backend with its credentials (`GET
//! /mobile-sdk/sessions/{id}/result`), and POSTed to its `sdk_webhook_uri`
//! through the durable outgoing queue.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use super::RESULT;
use super::error::SdkError;
use super::mint;
use crate::oidc::clients;
use crate::oidc::keys::IdTokenAlg;
use crate::oidc::records::{self, SESSION, Taken};
use crate::oidc::session::{SessionData, Status};
use crate::oidc::tokens;
use crate::{ApiError, AppState};

/// How long a result waits to be fetched.
const KEPT: i64 = 3600;

/// The session was answered: make its result and send it to the webhook.
/// Once per session (a repeated call changes nothing).
pub async fn finished(state: &AppState, sid: &str, data: &SessionData) -> Result<(), ApiError> {
    if records::get_raw(state, RESULT, sid).await?.is_some() {
        return Ok(());
    }
    let Some(client) = clients::find(state, &data.request.client_id).await? else {
        return Ok(());
    };
    let now = state.now();
    let mut body = json!({
        "sessionId": sid,
        "clientId": client.client_id,
        "status": if data.status == Status::Approved { "approved" } else { "denied" },
    });
    if let (Status::Approved, Some(pk)) = (data.status, &data.pk) {
        let mut claims = json!({
            "iss": state.config.base_url(),
            "aud": client.client_id,
            "sub": tokens::subject(state, &client, pk),
            "iat": now,
            "exp": now + 600,
            "auth_time": data.auth_time.unwrap_or(now),
            "jti": crate::secrets::new_secret(),
            "sdk_token": data.sdk_token,
            "purpose": data.purpose,
        });
        if let Some(obj) = claims.as_object_mut() {
            for (k, v) in &data.claims {
                obj.entry(k.clone()).or_insert_with(|| v.clone());
            }
        }
        let alg: IdTokenAlg = client
            .id_token_signed_response_alg
            .parse()
            .map_err(|_| ApiError::internal("client has an unsupported signing algorithm"))?;
        let jwt = state
            .keys()
            .oidc
            .sign_typed(
                alg,
                "sdk-result+jwt",
                &claims,
                client.client_secret.as_deref().map(str::as_bytes),
                now,
            )
            .map_err(|e| {
                tracing::error!(error = %e, "cannot sign an SDK result");
                ApiError::internal("cannot sign the result")
            })?;
        body["result"] = json!(jwt);
    }
    let record = records::new(RESULT, sid, sid, None, &body, now + KEPT)?;
    records::put(state, record).await?;
    if let Some(uri) = &client.sdk_webhook_uri {
        let text = serde_json::to_string(&body).map_err(|e| ApiError::internal(e.to_string()))?;
        crate::outgoing::enqueue(state, "sdk-result", uri, "application/json", text).await?;
    }
    Ok(())
}

/// The result, for the client that minted the token, once.
#[utoipa::path(get, path = "/mobile-sdk/sessions/{id}/result", tag = "sdk", operation_id = "sdk_session_result",
    params(("id" = String, Path)),
    responses(
        (status = 200, description = "`{sessionId, clientId, status, result?}`: `result` the signed JWT when approved", body = Object),
        (status = 202, description = "Not answered yet", body = Object),
        (status = 401, description = "`API_KEYS_MISSING` or `INVALID_API_KEYS`", body = super::error::SdkErrorDoc),
        (status = 403, description = "`ACCOUNT_DEACTIVATED`", body = super::error::SdkErrorDoc),
        (status = 404, description = "`RESULT_NOT_FOUND`", body = super::error::SdkErrorDoc),
        (status = 410, description = "`RESULT_ALREADY_FETCHED`", body = super::error::SdkErrorDoc),
    ), security(("basic" = [])))]
pub async fn fetch(
    State(state): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Response {
    let r = async {
        let client = mint::client(&state, &headers).await?;
        let not_found = || {
            SdkError::new(
                StatusCode::NOT_FOUND,
                "RESULT_NOT_FOUND",
                "no result for this session",
            )
        };
        let Some(record) = records::get_raw(&state, RESULT, &id)
            .await
            .map_err(SdkError::from)?
        else {
            // Not answered yet?
            let pending = records::get::<SessionData>(&state, SESSION, &id)
                .await
                .map_err(SdkError::from)?
                .filter(|(d, _)| {
                    d.request.client_id == client.client_id && d.status == Status::Pending
                });
            return match pending {
                Some(_) => Ok(
                    (StatusCode::ACCEPTED, Json(json!({ "status": "pending" }))).into_response()
                ),
                None => Err(not_found()),
            };
        };
        if record.used {
            return Err(SdkError::new(
                StatusCode::GONE,
                "RESULT_ALREADY_FETCHED",
                "the result was fetched already",
            ));
        }
        let body: Value = records::parse(&record).map_err(SdkError::from)?;
        if body["clientId"] != client.client_id.as_str() {
            return Err(not_found());
        }
        match records::take::<Value>(&state, RESULT, &id)
            .await
            .map_err(SdkError::from)?
        {
            Taken::Fresh(body, _) => {
                let mut res = Json(body).into_response();
                res.headers_mut()
                    .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
                Ok(res)
            }
            Taken::Reused { .. } => Err(SdkError::new(
                StatusCode::GONE,
                "RESULT_ALREADY_FETCHED",
                "the result was fetched already",
            )),
            Taken::Missing => Err(not_found()),
        }
    }
    .await;
    r.unwrap_or_else(IntoResponse::into_response)
}
