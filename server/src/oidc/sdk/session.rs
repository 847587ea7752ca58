//! Spending an SDK token: `POST /mobile-sdk/sessions` with `Authorization:
//! Bearer <accessToken>` starts the one operation it was minted for — a
//! session the user's app answers like a sign-in (number matching), shown
//! by the client's front end with its URI, `authentiq://` link and QR code.
//! A face authentication is pushed to the known user's devices at once.
//! `GET /mobile-sdk/sessions/{id}` is its status for the front end.

use authentiq_protocol::payloads::Purpose;
use axum::Json;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use super::error::SdkError;
use super::{Operation, SdkToken, TOKEN};
use crate::AppState;
use crate::oidc::clients;
use crate::oidc::records::{self, SESSION, Taken};
use crate::oidc::session::{AuthRequest, ResponseMode, SESSION_TTL, SessionData, Status};
use crate::oidc::{page, signin};
use crate::security::ClientIp;

fn bearer(headers: &HeaderMap) -> Option<&str> {
    headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            v.strip_prefix("Bearer ")
                .or_else(|| v.strip_prefix("bearer "))
        })
        .map(str::trim)
}

/// Spends the token: once, within its time.
async fn spend(state: &AppState, token: &str) -> Result<(String, SdkToken), SdkError> {
    let invalid = || {
        SdkError::new(
            StatusCode::UNAUTHORIZED,
            "INVALID_TOKEN",
            "no such SDK token",
        )
    };
    let used = || {
        SdkError::new(
            StatusCode::CONFLICT,
            "TOKEN_ALREADY_USED",
            "this SDK token was already used; mint a new one",
        )
    };
    let id = records::token_id(token);
    let record = records::get_raw(state, TOKEN, &id)
        .await
        .map_err(SdkError::from)?
        .ok_or_else(invalid)?;
    if record.used {
        return Err(used());
    }
    let data: SdkToken = records::parse(&record).map_err(SdkError::from)?;
    if state.now() >= data.valid_until {
        return Err(SdkError::new(
            StatusCode::GONE,
            "TOKEN_EXPIRED",
            "this SDK token expired; mint a new one",
        ));
    }
    match records::take::<SdkToken>(state, TOKEN, &id)
        .await
        .map_err(SdkError::from)?
    {
        Taken::Fresh(data, _) => Ok((id, data)),
        // Another request spent it in between.
        Taken::Reused { .. } => Err(used()),
        Taken::Missing => Err(invalid()),
    }
}

/// A started SDK operation, for the OpenAPI document.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct StartedDoc {
    pub session_id: String,
    /// `verification` or `face-authentication`.
    pub operation: String,
    /// What the user's app opens (its `authentiq://` link and QR code below).
    pub session_uri: String,
    pub deep_link: String,
    pub qr_code_svg: String,
    /// The number to show the user, who picks it in the app.
    pub number: u16,
    pub expires_at: i64,
    pub status_url: String,
    /// Server-Sent Events of the status, as the sign-in page uses.
    pub events_url: String,
}

/// Spend an SDK token on its operation.
#[utoipa::path(post, path = "/mobile-sdk/sessions", tag = "sdk", operation_id = "sdk_session_start",
    responses(
        (status = 201, description = "Started", body = StartedDoc),
        (status = 401, description = "`TOKEN_MISSING` or `INVALID_TOKEN`", body = super::error::SdkErrorDoc),
        (status = 403, description = "`ACCOUNT_DEACTIVATED`", body = super::error::SdkErrorDoc),
        (status = 409, description = "`TOKEN_ALREADY_USED`", body = super::error::SdkErrorDoc),
        (status = 410, description = "`TOKEN_EXPIRED`", body = super::error::SdkErrorDoc),
        (status = 429, description = "`RATE_LIMITED` (pushes to the user)", body = super::error::SdkErrorDoc),
    ), security(("bearer" = [])))]
pub async fn start(State(state): State<AppState>, ip: ClientIp, headers: HeaderMap) -> Response {
    let r = async {
        let token = bearer(&headers).ok_or_else(|| {
            SdkError::new(
                StatusCode::UNAUTHORIZED,
                "TOKEN_MISSING",
                "send the SDK token as Authorization: Bearer",
            )
        })?;
        let (token_id, t) = spend(&state, token).await?;
        let client = clients::find(&state, &t.client_id)
            .await
            .map_err(SdkError::from)?
            .ok_or_else(|| {
                SdkError::new(
                    StatusCode::UNAUTHORIZED,
                    "INVALID_TOKEN",
                    "the client of this token is gone",
                )
            })?;
        if client.suspended {
            return Err(SdkError::deactivated());
        }
        let now = state.now();
        let request = AuthRequest {
            client_id: client.client_id.clone(),
            redirect_uri: String::new(),
            response_type: "sdk".into(),
            response_mode: ResponseMode::Query,
            scope: t.scope.clone(),
            state: None,
            nonce: None,
            code_challenge: None,
            max_age: None,
            dpop_jkt: None,
        };
        let requester = crate::routes::login::requester(&headers, &ip.to_string());
        let mut data = SessionData::pending(request, requester, &records::new_token(), now);
        data.purpose = match t.operation {
            Operation::Verification => Purpose::Verification,
            Operation::FaceAuthentication => Purpose::Reauthentication,
        };
        data.expected_pk = t.pk.clone();
        data.sdk_token = Some(token_id);
        let sid = crate::secrets::new_job_id();
        let record = records::new(SESSION, &sid, &sid, None, &data, now + SESSION_TTL)
            .map_err(SdkError::from)?;
        records::put(&state, record).await.map_err(SdkError::from)?;
        state
            .metrics
            .sign_in(&data, crate::metrics::Outcome::Started);
        if let Some(pk) = &t.pk {
            signin::push(&state, &client, &sid, &data, pk)
                .await
                .map_err(|e| {
                    let mut out = SdkError::from(e);
                    if out.code == "BAD_REQUEST" {
                        out.code = "PUSH_REFUSED";
                    }
                    out
                })?;
        }
        let uri = signin::session_uri(&state, &sid);
        let qr = page::qr_svg(&uri)
            .map_err(|e| SdkError::from(crate::ApiError::internal(e.to_string())))?;
        let body = json!({
            "sessionId": sid,
            "operation": t.operation,
            "sessionUri": uri,
            "deepLink": signin::deep_link(&uri),
            "qrCodeSvg": qr,
            "number": data.shown,
            "expiresAt": data.expires_at,
            "statusUrl": format!("/mobile-sdk/sessions/{sid}"),
            "eventsUrl": format!("/sign-in/{sid}/events"),
        });
        Ok((StatusCode::CREATED, Json(body)).into_response())
    }
    .await;
    r.unwrap_or_else(IntoResponse::into_response)
}

/// The status of an SDK session.
#[utoipa::path(get, path = "/mobile-sdk/sessions/{id}", tag = "sdk", operation_id = "sdk_session_status",
    params(("id" = String, Path)),
    responses(
        (status = 200, description = "`pending`, `approved`, `denied` or `expired`", body = Object),
        (status = 404, description = "`SESSION_NOT_FOUND`", body = super::error::SdkErrorDoc),
    ))]
pub async fn status(State(state): State<AppState>, Path(id): Path<String>) -> Response {
    let r = async {
        let not_found = || {
            SdkError::new(
                StatusCode::NOT_FOUND,
                "SESSION_NOT_FOUND",
                "no such SDK session, or it expired",
            )
        };
        let (data, _) = records::get::<SessionData>(&state, SESSION, &id)
            .await
            .map_err(SdkError::from)?
            .filter(|(d, _)| !d.purpose.is_sign_in())
            .ok_or_else(not_found)?;
        let status = match data.status {
            Status::Pending if state.now() >= data.expires_at => "expired",
            Status::Pending => "pending",
            Status::Approved => "approved",
            Status::Denied => "denied",
        };
        Ok::<_, SdkError>(
            Json(json!({ "status": status, "expiresAt": data.expires_at })).into_response(),
        )
    }
    .await;
    r.unwrap_or_else(IntoResponse::into_response)
}
