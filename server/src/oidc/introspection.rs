//! `POST /introspect` (RFC 7662): a client asks whether a token is active.
//! Only the token's own client learns anything: for everyone else, and for
//! unknown, expired, revoked or signed-out tokens, `{"active": false}`.

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use serde_json::json;

use super::client_auth::{Form, authenticate};
use super::error::OAuthErr;
use super::grants;
use super::records::{self, ACCESS, REFRESH};
use super::tokens::{self, Grant};
use crate::{ApiError, AppState};

pub async fn introspect(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let result = async {
        let form = Form::parse(&headers, &body)?;
        let client = authenticate(&state, &headers, &form).await?;
        let token = form.require("token")?;
        let kinds = match form.get("token_type_hint") {
            Some("refresh_token") => [REFRESH, ACCESS],
            _ => [ACCESS, REFRESH],
        };
        for kind in kinds {
            if let Some((grant, exp)) = active(&state, kind, token).await? {
                if grant.client_id != client.client_id {
                    break;
                }
                let ttl = if kind == ACCESS {
                    tokens::ACCESS_TTL
                } else {
                    tokens::REFRESH_TTL
                };
                let token_type = match (kind == ACCESS, grant.jkt.is_some()) {
                    (true, true) => "DPoP",
                    (true, false) => "Bearer",
                    (false, _) => "refresh_token",
                };
                let mut out = json!({
                    "active": true,
                    "scope": grant.scope,
                    "client_id": grant.client_id,
                    "sub": tokens::subject(&state, &client, &grant.pk),
                    "aud": grant.client_id,
                    "iss": state.config.base_url(),
                    "exp": exp,
                    "iat": exp - ttl,
                    "auth_time": grant.auth_time,
                    "sid": grant.sid,
                    "token_type": token_type,
                });
                // RFC 9449 §6.2: the key the token is bound to.
                if let Some(jkt) = &grant.jkt {
                    out["cnf"] = json!({ "jkt": jkt });
                }
                return Ok(out);
            }
        }
        Ok::<_, OAuthErr>(json!({ "active": false }))
    }
    .await;
    super::error::json_answer(StatusCode::OK, result)
}

/// The grant of an active token of `kind`, and when it expires.
async fn active(
    state: &AppState,
    kind: &'static str,
    token: &str,
) -> Result<Option<(Grant, i64)>, ApiError> {
    let Some(record) = records::get_raw(state, kind, &records::token_id(token)).await? else {
        return Ok(None);
    };
    if record.used {
        return Ok(None);
    }
    let grant: Grant = records::parse(&record)?;
    let live = grants::grant_is_live(state, &grant).await?;
    Ok(live.then_some((grant, record.expires_at)))
}
