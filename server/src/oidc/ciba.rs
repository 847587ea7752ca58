//! Client-Initiated Backchannel Authentication (OpenID Connect CIBA Core
//! 1.0), poll and ping modes: `POST /bc-authorize` names a user (by the
//! `sub` this client was given, a verified email, an `id_token_hint` or a
//! `login_hint_token`), and the sign-in is pushed to that user's devices with
//! the client's `binding_message` in place of a number to match. The client
//! polls `/token` with the `auth_req_id` ([`super::polling`]); in ping mode
//! it is told when to, at its `backchannel_client_notification_endpoint`,
//! with its `client_notification_token` as a Bearer token — through the
//! durable outgoing queue, so a ping survives a restart.

use authentiq_protocol::errors::OAuthErrorCode;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::authorize::validate::openid_scope;
use super::client_auth::{Form, authenticate};
use super::clients::Client;
use super::error::OAuthErr;
use super::polling::{self, PolledGrant};
use super::records::{self, SESSION};
use super::session::{AuthRequest, GrantLink, ResponseMode, SESSION_TTL, SessionData};
use crate::security::ClientIp;
use crate::store::StoreError;
use crate::{ApiError, AppState};

pub const GRANT_TYPE: &str = "urn:openid:params:grant-type:ciba";
pub const KIND: &str = "ciba";
/// Longest `binding_message` (characters): it must fit a notification.
pub const BINDING_MESSAGE_MAX: usize = 64;

/// What a ping carries, sealed in the grant record.
#[derive(Debug, Serialize, Deserialize)]
struct Ping {
    auth_req_id: String,
    token: String,
}

/// The delivery mode a client registered.
fn mode(client: &Client) -> &str {
    client
        .backchannel_token_delivery_mode
        .as_deref()
        .unwrap_or("poll")
}

pub async fn bc_authorize(
    State(state): State<AppState>,
    ip: ClientIp,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    super::error::json_answer(StatusCode::OK, start(&state, &ip, &headers, &body).await)
}

async fn start(
    state: &AppState,
    ip: &ClientIp,
    headers: &HeaderMap,
    body: &Bytes,
) -> Result<serde_json::Value, OAuthErr> {
    let form = Form::parse(headers, body)?;
    let client = authenticate(state, headers, &form).await?;
    if client.is_public() {
        return Err(OAuthErr::new(
            OAuthErrorCode::UnauthorizedClient,
            "CIBA is for confidential clients: register a secret",
        ));
    }
    if !client.allows_grant_type(GRANT_TYPE) {
        return Err(OAuthErr::new(
            OAuthErrorCode::UnauthorizedClient,
            format!("this client may not use grant_type {GRANT_TYPE}"),
        ));
    }
    let scope = form.require("scope")?;
    openid_scope(scope).map_err(|why| OAuthErr::new(OAuthErrorCode::InvalidScope, why))?;
    for unsupported in ["request", "user_code"] {
        if form.get(unsupported).is_some() {
            return Err(OAuthErr::invalid_request(format!(
                "{unsupported} is not supported"
            )));
        }
    }
    let binding_message = form
        .get("binding_message")
        .map(check_binding_message)
        .transpose()?;
    let expires_in = match form.get("requested_expiry") {
        None => SESSION_TTL,
        Some(v) => match v.parse::<i64>() {
            Ok(n) if (1..=SESSION_TTL).contains(&n) => n,
            _ => {
                return Err(OAuthErr::invalid_request(format!(
                    "requested_expiry must be a number of seconds from 1 to {SESSION_TTL}"
                )));
            }
        },
    };
    let ping_token = match mode(&client) {
        "ping" => {
            let t = form.require("client_notification_token")?;
            if t.is_empty() || t.len() > 1024 || !t.bytes().all(|b| b.is_ascii_graphic()) {
                return Err(OAuthErr::invalid_request(
                    "client_notification_token must be 1 to 1024 printable characters",
                ));
            }
            Some(t.to_string())
        }
        _ => None,
    };
    let hinted = user(state, &client, &form).await?;
    let pk = match &hinted {
        Hinted::Subject(pk) | Hinted::Email(Some(pk)) => Some(pk.clone()),
        Hinted::Email(None) => None,
    };

    // The grant, then the session it waits on, then the push.
    let now = state.now();
    let auth_req_id = records::new_token();
    let id = records::token_id(&auth_req_id);
    let sid = crate::secrets::new_job_id();
    let mut grant = PolledGrant::new(&client.client_id, scope, now, expires_in);
    grant.sid = Some(sid.clone());
    if let Some(token) = ping_token {
        let ping = serde_json::to_string(&Ping {
            auth_req_id: auth_req_id.clone(),
            token,
        })
        .map_err(|e| ApiError::internal(e.to_string()))?;
        grant.ping = Some(state.sealer.seal(&ping, &id).map_err(ApiError::internal)?);
    }
    let until = grant.expires_at + polling::GRACE;
    let record = records::new(KIND, &id, &id, pk.as_deref(), &grant, until)?;
    records::put(state, record).await?;

    let request = AuthRequest {
        client_id: client.client_id.clone(),
        redirect_uri: String::new(),
        response_type: "ciba".into(),
        response_mode: ResponseMode::Query,
        scope: scope.to_string(),
        state: None,
        nonce: None,
        code_challenge: None,
        max_age: None,
        dpop_jkt: None,
    };
    let requester = crate::routes::login::requester(headers, &ip.to_string());
    let mut data = SessionData::pending(request, requester, &records::new_token(), now);
    data.expires_at = now + expires_in;
    // Nobody can answer for an unknown address (no key is "unknown").
    data.expected_pk = Some(pk.clone().unwrap_or_else(|| "unknown".into()));
    data.binding_message = binding_message;
    data.link = Some(GrantLink::Ciba { id: id.clone() });
    let record = records::new(SESSION, &sid, &sid, pk.as_deref(), &data, data.expires_at)?;
    records::put(state, record).await?;
    state
        .metrics
        .sign_in(&data, crate::metrics::Outcome::Started);
    match (&hinted, pk) {
        // Named by its sub: the client may hear why it was not pushed.
        (Hinted::Subject(_), Some(pk)) => {
            super::signin::push(state, &client, &sid, &data, &pk).await?;
        }
        // Named by email: pushed after answering, known or not alike.
        (_, Some(pk)) => {
            let (state, client) = (state.clone(), client.clone());
            tokio::spawn(async move {
                if let Err(e) = super::signin::push(&state, &client, &sid, &data, &pk).await {
                    tracing::info!(error = %e.detail, "a CIBA request was not pushed");
                }
            });
        }
        (_, None) => {}
    }

    let mut out = json!({ "auth_req_id": auth_req_id, "expires_in": expires_in });
    if mode(&client) == "poll" {
        out["interval"] = json!(polling::INTERVAL);
    }
    Ok(out)
}

/// CIBA Core §7.1: short, plain text (it is shown in a notification).
fn check_binding_message(m: &str) -> Result<String, OAuthErr> {
    let ok = !m.trim().is_empty()
        && m.chars().count() <= BINDING_MESSAGE_MAX
        && !m.chars().any(is_hidden);
    if ok {
        Ok(m.trim().to_string())
    } else {
        Err(OAuthErr::new(
            OAuthErrorCode::InvalidBindingMessage,
            format!("binding_message must be 1 to {BINDING_MESSAGE_MAX} characters of text"),
        ))
    }
}

/// Characters that hide or reorder text: control, bidirectional and
/// zero-width ones (a message must read as it is).
fn is_hidden(c: char) -> bool {
    c.is_control()
        || matches!(c,
            '\u{200B}'..='\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2060}'..='\u{2069}'
            | '\u{FEFF}' | '\u{061C}')
}

fn unknown_user() -> OAuthErr {
    OAuthErr::new(
        OAuthErrorCode::UnknownUserId,
        "no user this client signed in goes by that hint",
    )
}

/// Who a request names.
enum Hinted {
    /// By a `sub` this client was given: a live key, or `unknown_user_id`.
    Subject(String),
    /// By email: the key with that verified address, if any and live. An
    /// unknown address gets the same answer, at the same pace, as a known
    /// one (a request that is never pushed and expires), so the endpoint
    /// cannot tell a client which addresses have an Authentiq ID.
    Email(Option<String>),
}

/// The user the request names, by exactly one hint: `login_hint` (a `sub`
/// this client was given, or an email address), `id_token_hint` (an ID
/// token issued to this client), or `login_hint_token` (a JWT whose
/// `sub_id` is an RFC 9493 subject identifier: `email`, `iss_sub` with
/// this issuer, or `opaque`; the client is authenticated, so it is not
/// signed).
async fn user(state: &AppState, client: &Client, form: &Form) -> Result<Hinted, OAuthErr> {
    let hints = ["login_hint", "id_token_hint", "login_hint_token"];
    let given: Vec<&str> = hints
        .into_iter()
        .filter(|h| form.get(h).is_some())
        .collect();
    let sub = match given.as_slice() {
        ["login_hint"] => {
            let hint = form.require("login_hint")?;
            if hint.contains('@') {
                return Ok(Hinted::Email(by_email(state, hint).await?));
            }
            hint.to_string()
        }
        ["id_token_hint"] => {
            let (claims, hinted) =
                super::tokens::verify_id_token_hint(state, form.require("id_token_hint")?)
                    .await
                    .map_err(OAuthErr::invalid_request)?;
            if hinted.client_id != client.client_id {
                return Err(OAuthErr::invalid_request(
                    "id_token_hint was issued to another client",
                ));
            }
            claims["sub"]
                .as_str()
                .ok_or_else(|| OAuthErr::invalid_request("id_token_hint has no sub"))?
                .to_string()
        }
        ["login_hint_token"] => match hint_token(state, form.require("login_hint_token")?)? {
            TokenHint::Email(email) => return Ok(Hinted::Email(by_email(state, &email).await?)),
            TokenHint::Subject(sub) => sub,
        },
        [] => {
            return Err(OAuthErr::invalid_request(
                "name the user with login_hint (their sub or email), id_token_hint or login_hint_token",
            ));
        }
        _ => return Err(OAuthErr::invalid_request("send exactly one hint")),
    };
    if sub.is_empty() || sub.len() > 256 {
        return Err(unknown_user());
    }
    let cid = client.client_id.clone();
    let pk = match state.db.read(move |s| s.find_subject(&cid, &sub)).await {
        Ok(pk) => pk,
        Err(StoreError::NotFound) => return Err(unknown_user()),
        Err(e) => return Err(ApiError::from(e).into()),
    };
    state.active_key(&pk).await.map_err(|_| unknown_user())?;
    Ok(Hinted::Subject(pk))
}

/// The live key whose verified email is `email`, if any.
async fn by_email(state: &AppState, email: &str) -> Result<Option<String>, OAuthErr> {
    let Some(email) = crate::secrets::normalize_email(email) else {
        return Err(OAuthErr::invalid_request(
            "login_hint is not an email address or a sub",
        ));
    };
    let hash = state.hasher.hash("email", &email);
    match state.db.read(move |s| s.find_key_by_email(&hash)).await {
        Ok(key) if !key.is_revoked() => Ok(Some(key.pk)),
        Ok(_) | Err(StoreError::NotFound) => Ok(None),
        Err(e) => Err(ApiError::from(e).into()),
    }
}

enum TokenHint {
    Email(String),
    Subject(String),
}

/// What a `login_hint_token` names.
fn hint_token(state: &AppState, token: &str) -> Result<TokenHint, OAuthErr> {
    let bad =
        || OAuthErr::invalid_request("login_hint_token must be a JWT with an RFC 9493 sub_id");
    // Not verified: the client is authenticated, and the token only names
    // whom to ask.
    let claims: serde_json::Value = Some(token)
        .filter(|t| t.len() <= 4096)
        .and_then(|t| jsonwebtoken::dangerous::insecure_decode_claims(t).ok())
        .ok_or_else(bad)?;
    if claims["exp"].as_i64().is_some_and(|exp| exp <= state.now()) {
        return Err(OAuthErr::new(
            OAuthErrorCode::ExpiredLoginHintToken,
            "the login_hint_token expired",
        ));
    }
    let id = &claims["sub_id"];
    let text = |k: &str| id[k].as_str().map(str::to_string);
    match id["format"].as_str() {
        Some("email") => text("email").map(TokenHint::Email).ok_or_else(bad),
        Some("iss_sub") if id["iss"] == state.config.base_url() => {
            text("sub").map(TokenHint::Subject).ok_or_else(bad)
        }
        Some("iss_sub") => Err(OAuthErr::invalid_request(
            "login_hint_token names a subject of another issuer",
        )),
        Some("opaque") => text("id").map(TokenHint::Subject).ok_or_else(bad),
        _ => Err(bad()),
    }
}

/// The user answered a CIBA session: in ping mode, the client is told.
pub async fn answered(state: &AppState, id: &str) -> Result<(), ApiError> {
    let Some((grant, _)) = records::get::<PolledGrant>(state, KIND, id).await? else {
        return Ok(());
    };
    let Some(sealed) = &grant.ping else {
        return Ok(());
    };
    let Some(client) = super::clients::find(state, &grant.client_id).await? else {
        return Ok(());
    };
    let Some(endpoint) = client.backchannel_client_notification_endpoint.as_deref() else {
        tracing::warn!(client = %client.client_id, "a ping-mode client without a notification endpoint");
        return Ok(());
    };
    let ping: Ping = state
        .sealer
        .open(sealed, id)
        .ok()
        .and_then(|p| serde_json::from_str(&p).ok())
        .ok_or_else(|| ApiError::internal("a CIBA ping does not open"))?;
    let body = json!({ "auth_req_id": ping.auth_req_id }).to_string();
    crate::outgoing::enqueue_with(
        state,
        "ciba-ping",
        endpoint,
        "application/json",
        body,
        Some(format!("Bearer {}", ping.token)),
    )
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn binding_messages_are_short_visible_text() {
        assert_eq!(
            check_binding_message(" Order 1234 ").ok().as_deref(),
            Some("Order 1234")
        );
        assert!(check_binding_message("Überweisung 12 €").is_ok());
        assert!(check_binding_message(&"é".repeat(64)).is_ok());
        for bad in [
            String::new(),
            "   ".into(),
            "x".repeat(65),
            "line\nbreak".into(),
            "\u{1b}[31mred".into(),
            "pay \u{202E}0001".into(),
            "zero\u{200B}width".into(),
            "\u{2066}isolate".into(),
        ] {
            let e = check_binding_message(&bad).unwrap_err();
            assert_eq!(e.code, OAuthErrorCode::InvalidBindingMessage, "{bad:?}");
        }
    }
}
