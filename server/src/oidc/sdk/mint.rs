//! Minting SDK tokens with the client's credentials (HTTP Basic):
//! `GET /mobile-sdk/verification-token` (optional `AQ-Flow-Slug`; the
//! deprecated `AQ-Multi-Document-Flow: On` is accepted and changes
//! nothing), its deprecated alias `GET /mobile-sdk/token`, and `GET
//! /mobile-sdk/face-authentication-token?sub=…`. A token is random, stored
//! hashed, good for one operation within `sdk.token_ttl_secs`.

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::json;

use super::error::SdkError;
use super::{Operation, SdkToken, TOKEN};
use crate::AppState;
use crate::extract::Query;
use crate::oidc::client_auth::basic_credentials;
use crate::oidc::clients::{self, Client};
use crate::oidc::records;
use crate::store::StoreError;

/// Without `AQ-Flow-Slug`: the client's `default` flow, or this.
const DEFAULT_SCOPE: &str = "openid email~rs";

/// The client behind `Authorization: Basic`, with its secret checked.
pub async fn client(state: &AppState, headers: &HeaderMap) -> Result<Client, SdkError> {
    let (id, secret) = match basic_credentials(headers) {
        Some(Ok(pair)) => pair,
        _ => return Err(SdkError::keys_missing()),
    };
    let client = clients::find(state, &id)
        .await
        .map_err(SdkError::from)?
        .filter(|c| !c.is_public() && c.verify_secret(&secret))
        .ok_or_else(SdkError::invalid_keys)?;
    if client.suspended {
        return Err(SdkError::deactivated());
    }
    Ok(client)
}

/// A UUID-shaped random token (122 random bits), as seed 003 shows them.
fn new_token() -> String {
    let mut b = crate::secrets::random_bytes::<16>();
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let h: String = b.iter().map(|x| format!("{x:02x}")).collect();
    format!(
        "{}-{}-{}-{}-{}",
        &h[0..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..32]
    )
}

async fn issue(
    state: &AppState,
    client: &Client,
    operation: Operation,
    scope: String,
    pk: Option<String>,
) -> Result<Response, SdkError> {
    let cfg = &state.config.sdk;
    state
        .rate_limit(
            format!("sdk-mint:{}", client.client_id),
            cfg.mints_per_client_per_minute,
            60,
            "SDK tokens for this client",
        )
        .await?;
    let now = state.now();
    let valid_until = now + cfg.token_ttl_secs.max(1);
    let token = new_token();
    let id = records::token_id(&token);
    let data = SdkToken {
        client_id: client.client_id.clone(),
        operation,
        scope,
        pk,
        valid_until,
    };
    // Kept an hour past its end, to tell "expired" from "unknown".
    let record =
        records::new(TOKEN, &id, &id, None, &data, valid_until + 3600).map_err(SdkError::from)?;
    records::put(state, record).await.map_err(SdkError::from)?;
    let mut res = Json(json!({ "accessToken": token })).into_response();
    res.headers_mut().insert(
        axum::http::header::CACHE_CONTROL,
        HeaderValue::from_static("no-store"),
    );
    Ok(res)
}

/// The scope of the flow `AQ-Flow-Slug` names (or the default one).
fn flow_scope(client: &Client, headers: &HeaderMap) -> Result<String, SdkError> {
    let slug = headers
        .get("aq-flow-slug")
        .and_then(|v| v.to_str().ok())
        .map(str::trim);
    let flow = match slug {
        Some(s) => Some(
            client
                .sdk_flows
                .iter()
                .find(|f| f.slug == s)
                .ok_or_else(|| {
                    SdkError::new(
                        StatusCode::NOT_FOUND,
                        "FLOW_NOT_FOUND",
                        format!("no verification flow {s:?}"),
                    )
                })?,
        ),
        None => client.sdk_flows.iter().find(|f| f.slug == "default"),
    };
    let scope = flow.map_or(DEFAULT_SCOPE, |f| f.scope.as_str());
    Ok(with_openid(scope))
}

fn with_openid(scope: &str) -> String {
    if scope.split(' ').any(|w| w == "openid") {
        scope.to_string()
    } else {
        format!("openid {scope}")
    }
}

/// `{"accessToken"}`, for the OpenAPI document.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AccessTokenDoc {
    /// Good for one operation within 10 minutes (a UUID).
    pub access_token: String,
}

/// Mint a token for one verification (the claims of a flow).
#[utoipa::path(get, path = "/mobile-sdk/verification-token", tag = "sdk", operation_id = "sdk_verification_token",
    params(
        ("AQ-Flow-Slug" = Option<String>, Header, description = "Which of the client's verification flows (default: its `default` flow, or `email~rs`)"),
        ("AQ-Multi-Document-Flow" = Option<String>, Header, description = "Deprecated: accepted and ignored"),
    ),
    responses(
        (status = 200, description = "A token", body = AccessTokenDoc),
        (status = 401, description = "`API_KEYS_MISSING` or `INVALID_API_KEYS`", body = super::error::SdkErrorDoc),
        (status = 403, description = "`ACCOUNT_DEACTIVATED`", body = super::error::SdkErrorDoc),
        (status = 404, description = "`FLOW_NOT_FOUND`", body = super::error::SdkErrorDoc),
        (status = 429, description = "`RATE_LIMITED`", body = super::error::SdkErrorDoc),
    ), security(("basic" = [])))]
pub async fn verification(State(state): State<AppState>, headers: HeaderMap) -> Response {
    let r = async {
        let client = client(&state, &headers).await?;
        let scope = flow_scope(&client, &headers)?;
        issue(&state, &client, Operation::Verification, scope, None).await
    }
    .await;
    r.unwrap_or_else(IntoResponse::into_response)
}

/// The deprecated `GET /mobile-sdk/token`: a verification token, saying so.
#[utoipa::path(get, path = "/mobile-sdk/token", tag = "sdk", operation_id = "sdk_token_deprecated",
    responses(
        (status = 200, description = "A verification token (with `Deprecation`)", body = AccessTokenDoc),
        (status = 401, description = "`API_KEYS_MISSING` or `INVALID_API_KEYS`", body = super::error::SdkErrorDoc),
        (status = 403, description = "`ACCOUNT_DEACTIVATED`", body = super::error::SdkErrorDoc),
        (status = 404, description = "`FLOW_NOT_FOUND`", body = super::error::SdkErrorDoc),
        (status = 429, description = "`RATE_LIMITED`", body = super::error::SdkErrorDoc),
    ), security(("basic" = [])))]
#[deprecated = "use /mobile-sdk/verification-token"]
pub async fn deprecated(state: State<AppState>, headers: HeaderMap) -> Response {
    let mut res = verification(state, headers).await;
    let h = res.headers_mut();
    h.insert("deprecation", HeaderValue::from_static("true"));
    h.insert(
        axum::http::header::LINK,
        HeaderValue::from_static("</mobile-sdk/verification-token>; rel=\"successor-version\""),
    );
    res
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub struct FaceQuery {
    /// The user, by the `sub` this client got for them.
    pub sub: Option<String>,
}

/// Mint a token for one re-authentication of a user the client knows.
#[utoipa::path(get, path = "/mobile-sdk/face-authentication-token", tag = "sdk", operation_id = "sdk_face_authentication_token",
    params(FaceQuery),
    responses(
        (status = 200, description = "A token", body = AccessTokenDoc),
        (status = 400, description = "`SUB_REQUIRED`", body = super::error::SdkErrorDoc),
        (status = 401, description = "`API_KEYS_MISSING` or `INVALID_API_KEYS`", body = super::error::SdkErrorDoc),
        (status = 403, description = "`ACCOUNT_DEACTIVATED`", body = super::error::SdkErrorDoc),
        (status = 404, description = "`SUBJECT_NOT_FOUND`", body = super::error::SdkErrorDoc),
        (status = 429, description = "`RATE_LIMITED`", body = super::error::SdkErrorDoc),
    ), security(("basic" = [])))]
pub async fn face(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(q): Query<FaceQuery>,
) -> Response {
    let r = async {
        let client = client(&state, &headers).await?;
        let sub = q.sub.filter(|s| !s.is_empty()).ok_or_else(|| {
            SdkError::new(
                StatusCode::BAD_REQUEST,
                "SUB_REQUIRED",
                "name the user with ?sub=",
            )
        })?;
        let (cid, owned) = (client.client_id.clone(), sub.clone());
        let pk = match state.db.read(move |s| s.find_subject(&cid, &owned)).await {
            Ok(pk) => pk,
            Err(StoreError::NotFound) => {
                return Err(SdkError::new(
                    StatusCode::NOT_FOUND,
                    "SUBJECT_NOT_FOUND",
                    "this client has not signed in a user with this sub",
                ));
            }
            Err(e) => return Err(SdkError::from(crate::ApiError::from(e))),
        };
        issue(
            &state,
            &client,
            Operation::FaceAuthentication,
            "openid".into(),
            Some(pk),
        )
        .await
    }
    .await;
    r.unwrap_or_else(IntoResponse::into_response)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_look_like_uuids_v4() {
        let t = new_token();
        assert_eq!(t.len(), 36);
        let parts: Vec<&str> = t.split('-').collect();
        assert_eq!(
            parts.iter().map(|p| p.len()).collect::<Vec<_>>(),
            [8, 4, 4, 4, 12]
        );
        assert!(parts[2].starts_with('4'));
        assert!(matches!(parts[3].as_bytes()[0], b'8' | b'9' | b'a' | b'b'));
        assert_ne!(t, new_token());
    }
}
