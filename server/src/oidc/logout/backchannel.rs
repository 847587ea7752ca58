//! Back-Channel Logout 1.0: when a user's session ends, each client that
//! holds grants from it and registered a `backchannel_logout_uri` is sent a
//! logout token, through the durable outgoing queue (so a restart or an
//! unreachable client loses none).

use std::collections::BTreeSet;

use serde_json::json;

use crate::oidc::clients::{self, Client};
use crate::oidc::keys::IdTokenAlg;
use crate::oidc::tokens;
use crate::store::ClientSession;
use crate::{ApiError, AppState};

/// The event a logout token carries.
pub const EVENT: &str = "http://schemas.openid.net/event/backchannel-logout";
/// How long a logout token is valid.
const TTL: i64 = 120;

/// Queues a logout token for each client of `sessions` (the key `pk`'s)
/// that asked for them; returns how many were queued.
pub async fn notify(
    state: &AppState,
    pk: &str,
    sessions: &[ClientSession],
) -> Result<usize, ApiError> {
    let sessions: BTreeSet<&ClientSession> = sessions.iter().collect();
    let mut queued = 0;
    for s in sessions {
        let Some(client) = clients::find(state, &s.client_id).await? else {
            continue;
        };
        let Some(uri) = client.backchannel_logout_uri.clone() else {
            continue;
        };
        let token = logout_token(state, &client, pk, s.sid.as_deref())?;
        let body = url::form_urlencoded::Serializer::new(String::new())
            .append_pair("logout_token", &token)
            .finish();
        crate::outgoing::enqueue_form(state, "backchannel-logout", &uri, body).await?;
        queued += 1;
    }
    Ok(queued)
}

/// The logout token (§2.4): `iss`, `aud`, `iat`, `exp`, `jti`, `events`,
/// `sub` as the client knows the user, and `sid` when one session ended;
/// never a `nonce`. Signed like the client's ID tokens, `typ: logout+jwt`.
pub fn logout_token(
    state: &AppState,
    client: &Client,
    pk: &str,
    sid: Option<&str>,
) -> Result<String, ApiError> {
    let now = state.now();
    let mut claims = json!({
        "iss": state.config.base_url(),
        "aud": client.client_id,
        "iat": now,
        "exp": now + TTL,
        "jti": crate::secrets::new_secret(),
        "sub": tokens::subject(state, client, pk),
        "events": { EVENT: {} },
    });
    if let (Some(sid), Some(obj)) = (sid, claims.as_object_mut()) {
        obj.insert("sid".into(), json!(sid));
    }
    let alg: IdTokenAlg = client
        .id_token_signed_response_alg
        .parse()
        .map_err(|_| ApiError::internal("client has an unsupported signing algorithm"))?;
    state
        .keys()
        .oidc
        .sign_typed(
            alg,
            "logout+jwt",
            &claims,
            client.client_secret.as_deref().map(str::as_bytes),
            now,
        )
        .map_err(|e| {
            tracing::error!(error = %e, "cannot sign a logout token");
            ApiError::internal("cannot sign the logout token")
        })
}
