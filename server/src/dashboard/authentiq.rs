//! "Sign in with Authentiq": the dashboard as a relying party of this very
//! provider. It sends the browser through `/authorize` (authorization code
//! with PKCE S256, `state` and `nonce`), where the owner approves on their
//! device with number matching like at any other client, and redeems the
//! code at the provider's `/token` handler (in process: the same handler,
//! client authentication and PKCE check as over HTTP, without relying on
//! the server reaching its own public URL). The ID token is verified against
//! the provider's signing keys (signature, `exp`, `iss`, `aud`, `nonce`).
//!
//! Its client, [`CLIENT_ID`], is registered at start ([`client`]) as a
//! public client with the `public` subject type: the `sub` it gets is the
//! Authentiq ID itself (the identity's ID), which is what accounts store
//! in `authentiq_pk`. A pairwise `sub` would protect nothing here (the
//! provider already knows the ID) and would tie the link to the pairwise
//! salt and the client's sector.
//!
//! The flow's secrets (`state`, `nonce`, PKCE verifier) and its purpose (a
//! sign-in, or linking the ID to the signed-in account) wait in an HttpOnly,
//! SameSite=Strict cookie for the callback; [`callback`] hands the verified
//! `sub` to [`super::sign_in::with_authentiq`] or [`super::link::finish`].

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, Uri, header};
use axum::response::{IntoResponse, Redirect, Response};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::Value;
use sha2::{Digest, Sha256};

use super::form::Form;
use super::session::{self, same};
use crate::AppState;
use crate::oidc::clients::{AuthMethod, Client, SubjectType};
use crate::oidc::cookies;

/// The dashboard's own client.
pub const CLIENT_ID: &str = "authentiq-dashboard";
/// Where the provider sends the browser back.
pub const CALLBACK: &str = "/dashboard/authentiq/callback";
/// The flow's cookie: `state.nonce.verifier.purpose`.
const FLOW: &str = "aq_dash_flow";
/// Longer than a sign-in session waits for the device.
const FLOW_TTL: i64 = 2 * crate::oidc::session::SESSION_TTL;

/// The dashboard's client registration: public (PKCE), EdDSA ID tokens,
/// the Authentiq ID as `sub`, the callback as its only redirect URI.
pub fn client(base_url: &str) -> Client {
    Client {
        client_id: CLIENT_ID.into(),
        client_secret: None,
        client_secret_sha256: None,
        name: "Authentiq Dashboard".into(),
        redirect_uris: vec![format!("{base_url}{CALLBACK}")],
        client_uri: Some(format!("{base_url}{}", super::PREFIX)),
        logo_uri: None,
        token_endpoint_auth_method: AuthMethod::None,
        response_types: vec!["code".into()],
        id_token_signed_response_alg: "EdDSA".into(),
        subject_type: SubjectType::Public,
        ..Client::default()
    }
}

/// What a flow is for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Purpose {
    SignIn,
    /// Linking the ID to this account (the one signed in when it started).
    Link(String),
}

impl Purpose {
    fn encode(&self) -> String {
        match self {
            Purpose::SignIn => "sign-in".into(),
            Purpose::Link(account) => format!("link-{account}"),
        }
    }

    fn decode(s: &str) -> Option<Self> {
        match s.strip_prefix("link-") {
            Some(account) if !account.is_empty() => Some(Purpose::Link(account.into())),
            Some(_) => None,
            None => (s == "sign-in").then_some(Purpose::SignIn),
        }
    }
}

/// To the provider's `/authorize`, the flow's secrets in its cookie.
pub fn begin(state: &AppState, purpose: &Purpose) -> Response {
    let base = state.config.base_url();
    let (st, nonce, verifier) = (
        crate::secrets::new_secret(),
        crate::secrets::new_secret(),
        crate::secrets::new_secret(),
    );
    let challenge = URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()));
    let q = url::form_urlencoded::Serializer::new(String::new())
        .append_pair("client_id", CLIENT_ID)
        .append_pair("response_type", "code")
        .append_pair("scope", "openid")
        .append_pair("redirect_uri", &format!("{base}{CALLBACK}"))
        .append_pair("state", &st)
        .append_pair("nonce", &nonce)
        .append_pair("code_challenge", &challenge)
        .append_pair("code_challenge_method", "S256")
        .append_pair("prompt", "login")
        .finish();
    let mut res = Redirect::to(&format!("{base}/authorize?{q}")).into_response();
    let value = format!("{st}.{nonce}.{verifier}.{}", purpose.encode());
    if let Some(c) = session::cookie(state, FLOW, &value, FLOW_TTL) {
        res.headers_mut().append(header::SET_COOKIE, c);
    }
    res
}

/// Why a callback did not end in a verified Authentiq ID: what to tell
/// the person, and the status of the page.
#[derive(Debug)]
pub struct Refusal {
    pub status: StatusCode,
    pub message: String,
}

fn refuse(status: StatusCode, message: &str) -> Refusal {
    Refusal {
        status,
        message: message.into(),
    }
}

/// A finished flow: what it was for and the verified Authentiq ID.
#[derive(Debug)]
pub struct Verified {
    pub purpose: Purpose,
    pub pk: String,
}

/// `GET /dashboard/authentiq/callback`: the provider's answer, checked,
/// handed on by purpose. The flow's cookie is gone afterwards either way.
pub async fn callback(State(state): State<AppState>, headers: HeaderMap, uri: Uri) -> Response {
    let flow = cookies::get(&headers, FLOW);
    let purpose = flow
        .as_deref()
        .and_then(|f| f.splitn(4, '.').nth(3))
        .and_then(Purpose::decode);
    let outcome = finish(&state, flow.as_deref(), uri.query().unwrap_or("")).await;
    let mut res = match (outcome, purpose) {
        (Ok(v), _) => match v.purpose {
            Purpose::SignIn => super::sign_in::with_authentiq(&state, &v.pk).await,
            Purpose::Link(account) => super::link::finish(&state, &headers, &account, v.pk).await,
        },
        (Err(r), Some(Purpose::Link(_))) => super::link::refused(&state, &headers, r).await,
        (Err(r), _) => super::sign_in::refused(&state, r),
    };
    if let Some(c) = session::cookie(&state, FLOW, "", 0) {
        res.headers_mut().append(header::SET_COOKIE, c);
    }
    res
}

/// Checks the answer against the flow's cookie, redeems the code and
/// verifies the ID token.
async fn finish(state: &AppState, flow: Option<&str>, query: &str) -> Result<Verified, Refusal> {
    let start_again = "This sign-in took too long or was started in another browser. Start again.";
    let flow = flow.ok_or_else(|| refuse(StatusCode::BAD_REQUEST, start_again))?;
    let mut parts = flow.splitn(4, '.');
    let (Some(st), Some(nonce), Some(verifier), Some(purpose)) = (
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next().and_then(Purpose::decode),
    ) else {
        return Err(refuse(StatusCode::BAD_REQUEST, start_again));
    };
    let answer = Form::parse(query.as_bytes());
    if !answer.get("state").is_some_and(|s| same(s, st)) {
        return Err(refuse(
            StatusCode::BAD_REQUEST,
            "This answer is not for the sign-in this browser started. Start again.",
        ));
    }
    let base = state.config.base_url();
    if answer.get("iss") != Some(base) {
        return Err(refuse(
            StatusCode::BAD_REQUEST,
            "This answer does not come from this server. Start again.",
        ));
    }
    if let Some(error) = answer.get("error") {
        return Err(match error {
            "access_denied" => refuse(
                StatusCode::FORBIDDEN,
                "The sign-in was denied on the device.",
            ),
            _ => refuse(
                StatusCode::BAD_REQUEST,
                "The sign-in did not complete. Start again.",
            ),
        });
    }
    let code = answer
        .get("code")
        .filter(|c| !c.is_empty())
        .ok_or_else(|| refuse(StatusCode::BAD_REQUEST, start_again))?;
    let id_token = redeem(state, code, verifier).await?;
    let pk = verify_id_token(state, &id_token, nonce)?;
    Ok(Verified { purpose, pk })
}

/// The code at the provider's `/token` handler; the ID token.
async fn redeem(state: &AppState, code: &str, verifier: &str) -> Result<String, Refusal> {
    let base = state.config.base_url();
    let body = url::form_urlencoded::Serializer::new(String::new())
        .append_pair("grant_type", "authorization_code")
        .append_pair("code", code)
        .append_pair("redirect_uri", &format!("{base}{CALLBACK}"))
        .append_pair("client_id", CLIENT_ID)
        .append_pair("code_verifier", verifier)
        .finish();
    let mut headers = HeaderMap::new();
    headers.insert(
        header::CONTENT_TYPE,
        header::HeaderValue::from_static("application/x-www-form-urlencoded"),
    );
    let res = crate::oidc::token::token(State(state.clone()), headers, Bytes::from(body)).await;
    let status = res.status();
    let bytes = axum::body::to_bytes(res.into_body(), 1 << 20)
        .await
        .unwrap_or_default();
    let tokens: Value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
    if status.is_server_error() {
        tracing::error!(%status, "the dashboard's code redemption failed");
        return Err(refuse(
            StatusCode::INTERNAL_SERVER_ERROR,
            "The server could not complete the sign-in. Try again in a moment.",
        ));
    }
    match tokens["id_token"].as_str() {
        Some(t) if status.is_success() => Ok(t.to_string()),
        _ => {
            tracing::info!(error = %tokens["error"], "the dashboard's code was refused");
            Err(refuse(
                StatusCode::BAD_REQUEST,
                "The sign-in could not be completed: its code was refused (spent, expired or not for this browser). Start again.",
            ))
        }
    }
}

/// The ID token's `sub`, once its signature (the provider's keys), `exp`,
/// `iss`, `aud` and `nonce` are right.
fn verify_id_token(state: &AppState, token: &str, nonce: &str) -> Result<String, Refusal> {
    let bad = || {
        refuse(
            StatusCode::BAD_REQUEST,
            "The sign-in's ID token is not valid for this dashboard. Start again.",
        )
    };
    let claims = state
        .keys()
        .oidc
        .verify(token, None, state.now())
        .map_err(|e| {
            tracing::warn!(error = %e, "the dashboard got an ID token that does not verify");
            bad()
        })?;
    let aud_ok = match &claims["aud"] {
        Value::String(a) => a == CLIENT_ID,
        Value::Array(a) => a.iter().any(|v| v == CLIENT_ID),
        _ => false,
    };
    let nonce_ok = claims["nonce"].as_str().is_some_and(|n| same(n, nonce));
    let iss_ok = claims["iss"] == state.config.base_url();
    match claims["sub"].as_str() {
        Some(sub) if aud_ok && nonce_ok && iss_ok && !sub.is_empty() => Ok(sub.to_string()),
        _ => Err(bad()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn purposes_round_trip() {
        for p in [Purpose::SignIn, Purpose::Link("acc-1".into())] {
            assert_eq!(Purpose::decode(&p.encode()), Some(p));
        }
        assert_eq!(Purpose::decode("link-"), None);
        assert_eq!(Purpose::decode("other"), None);
    }

    #[test]
    fn the_client_is_public_with_the_id_as_sub() {
        let c = client("https://id.example");
        assert_eq!(c.subject_type, SubjectType::Public);
        assert_eq!(c.token_endpoint_auth_method, AuthMethod::None);
        assert_eq!(
            c.redirect_uris,
            ["https://id.example/dashboard/authentiq/callback"]
        );
        assert!(c.validate().is_ok(), "{:?}", c.validate());
    }
}
