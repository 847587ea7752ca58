//! `POST /revoke` (RFC 7009): a client revokes its own access or refresh
//! token. Revoking a refresh token revokes its whole family (every token of
//! that grant); revoking an access token ends that token only. Unknown
//! tokens, and tokens of other clients, get the same 200 and change nothing.

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

use super::client_auth::{Form, authenticate};
use super::error::OAuthErr;
use super::records::{self, ACCESS, REFRESH};
use crate::AppState;

pub async fn revoke(State(state): State<AppState>, headers: HeaderMap, body: Bytes) -> Response {
    let result = async {
        let form = Form::parse(&headers, &body)?;
        let client = authenticate(&state, &headers, &form).await?;
        let token = form.require("token")?;
        let id = records::token_id(token);
        // The hint only says where to look first (RFC 7009 §2.1).
        let kinds = match form.get("token_type_hint") {
            Some("access_token") => [ACCESS, REFRESH],
            _ => [REFRESH, ACCESS],
        };
        for kind in kinds {
            let Some(record) = records::get_raw(&state, kind, &id).await? else {
                continue;
            };
            if record.client_id.as_deref() != Some(client.client_id.as_str()) {
                break;
            }
            if kind == REFRESH {
                records::revoke_family(&state, &record.family).await?;
            } else if !record.used {
                let (owned, now) = (id.clone(), state.now());
                state
                    .db
                    .call(move |s| s.use_record(ACCESS, &owned, now, true))
                    .await
                    .map(|_| ())
                    .or_else(|e| match e {
                        crate::store::StoreError::Conflict(_) => Ok(()),
                        e => Err(crate::ApiError::from(e)),
                    })?;
            }
            tracing::info!(client = %client.client_id, kind, "a client revoked a token");
            break;
        }
        Ok::<_, OAuthErr>(())
    }
    .await;
    match result {
        Ok(()) => {
            let mut res = StatusCode::OK.into_response();
            res.headers_mut()
                .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
            res
        }
        Err(e) => e.into_response(),
    }
}
