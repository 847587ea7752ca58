//! The demo relying party at `/demo`: a "Sign in with Authentiq" page that
//! goes through the provider exactly as any client would (code flow with
//! PKCE, the token endpoint over HTTP, the ID token checked against the
//! published keys, userinfo) and shows the claims it got.
//!
//! On with `demo = true` (the README's run command sets it); off by default.

use axum::Router;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use minijinja::{Environment, context};
use serde::Deserialize;
use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::AppState;
use crate::oidc::clients::{AuthMethod, Client, SubjectType};
use crate::oidc::{cookies, page};

pub const CLIENT_ID: &str = "demo";
const COOKIE: &str = "aq_demo";

/// The demo's client registration (public, PKCE).
pub fn client(base_url: &str) -> Client {
    Client {
        client_id: CLIENT_ID.into(),
        client_secret: None,
        client_secret_sha256: None,
        name: "Authentiq Demo".into(),
        redirect_uris: vec![format!("{base_url}/demo/callback")],
        client_uri: Some(format!("{base_url}/demo")),
        logo_uri: None,
        token_endpoint_auth_method: AuthMethod::None,
        response_types: vec!["code".into()],
        id_token_signed_response_alg: "EdDSA".into(),
        subject_type: SubjectType::Pairwise,
        ..Client::default()
    }
}

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/demo", get(home))
        .route("/demo/login", get(login))
        .route("/demo/callback", get(callback))
}

const TEMPLATE: &str = r#"<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="color-scheme" content="light dark">
<title>Authentiq Demo</title><link rel="icon" href="/static/authentiq.svg" type="image/svg+xml">
<link rel="stylesheet" href="/static/sign-in.css"></head>
<body><div class="page">
<header class="brand"><span class="brand-name">Authentiq Demo</span></header>
<main class="card">
{% if claims %}
<h1 class="section-title">You are signed in</h1>
<p class="hint">This is what the provider told the demo application:</p>
<table class="result">{% for k, v in claims %}<tr><th scope="row" class="claim-label">{{ k }}</th><td>{{ v }}</td></tr>{% endfor %}</table>
<p><a class="button button-secondary" href="/demo/login">Sign in again</a></p>
{% else %}
{% if error %}<div class="message message-error"><p class="message-text error" role="alert">{{ error }}</p></div>{% endif %}
<h1 class="section-title">A relying party like any other</h1>
<p class="hint">It knows nothing about you until you sign in.</p>
<p><a class="button button-primary" href="/demo/login">Sign in with Authentiq</a></p>
{% endif %}
</main>
<footer class="foot"><p>The demo relying party of this Authentiq server</p></footer>
</div></body></html>"#;

fn render(claims: Option<&serde_json::Map<String, Value>>, error: Option<&str>) -> Response {
    let mut env = Environment::new();
    env.set_auto_escape_callback(|_| minijinja::AutoEscape::Html);
    let html = env
        .render_str(
            TEMPLATE,
            context! {
                claims => claims.map(|c| c.iter().map(|(k, v)| (k.clone(), match v { Value::String(s) => s.clone(), other => other.to_string() })).collect::<Vec<_>>()),
                error => error,
            },
        )
        .unwrap_or_else(|e| format!("template error: {e}"));
    let mut res = Html(html).into_response();
    page::security_headers(res.headers_mut());
    res
}

async fn home() -> Response {
    render(None, None)
}

fn random() -> String {
    crate::secrets::new_secret()
}

async fn login(State(state): State<AppState>) -> Response {
    let base = state.config.base_url();
    let (st, nonce, verifier) = (random(), random(), random());
    let challenge = URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()));
    let q = url::form_urlencoded::Serializer::new(String::new())
        .append_pair("client_id", CLIENT_ID)
        .append_pair("response_type", "code")
        .append_pair("scope", "openid email~rs phone aq:name aq:push")
        .append_pair("redirect_uri", &format!("{base}/demo/callback"))
        .append_pair("state", &st)
        .append_pair("nonce", &nonce)
        .append_pair("code_challenge", &challenge)
        .append_pair("code_challenge_method", "S256")
        .finish();
    let mut res = (
        StatusCode::FOUND,
        [(header::LOCATION, format!("{base}/authorize?{q}"))],
    )
        .into_response();
    if let Some(c) = cookies::set(
        COOKIE,
        &format!("{st}.{nonce}.{verifier}"),
        "/demo",
        600,
        base.starts_with("https:"),
    ) {
        res.headers_mut().append(header::SET_COOKIE, c);
    }
    res
}

#[derive(Debug, Deserialize)]
struct Callback {
    code: Option<String>,
    state: Option<String>,
    iss: Option<String>,
    error: Option<String>,
    error_description: Option<String>,
}

async fn callback(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(cb): Query<Callback>,
) -> Response {
    match finish(&state, &headers, cb).await {
        Ok(claims) => render(Some(&claims), None),
        Err(e) => render(None, Some(&e)),
    }
}

async fn finish(
    state: &AppState,
    headers: &HeaderMap,
    cb: Callback,
) -> Result<serde_json::Map<String, Value>, String> {
    let base = state.config.base_url();
    let saved = cookies::get(headers, COOKIE).ok_or("the sign-in took too long; start again")?;
    let mut parts = saved.splitn(3, '.');
    let (Some(st), Some(nonce), Some(verifier)) = (parts.next(), parts.next(), parts.next()) else {
        return Err("the sign-in cookie is damaged; start again".into());
    };
    if cb.state.as_deref() != Some(st) {
        return Err("the state does not match: this answer is not for this browser".into());
    }
    if cb.iss.as_deref() != Some(base) {
        return Err("the answer does not come from this provider (iss)".into());
    }
    if let Some(e) = cb.error {
        return Err(match e.as_str() {
            "access_denied" => "You denied the sign-in.".to_string(),
            _ => format!("{e}: {}", cb.error_description.unwrap_or_default()),
        });
    }
    let code = cb.code.ok_or("no code in the answer")?;
    let http = reqwest::Client::new();
    let tokens: Value = http
        .post(format!("{base}/token"))
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", code.as_str()),
            ("redirect_uri", &format!("{base}/demo/callback")),
            ("client_id", CLIENT_ID),
            ("code_verifier", verifier),
        ])
        .send()
        .await
        .map_err(|e| format!("token request failed: {e}"))?
        .json()
        .await
        .map_err(|e| format!("token response: {e}"))?;
    let id_token = tokens["id_token"]
        .as_str()
        .ok_or_else(|| format!("no ID token: {tokens}"))?;
    let claims = state
        .keys()
        .oidc
        .verify(id_token, None, state.now())
        .map_err(|e| format!("the ID token does not verify: {e}"))?;
    if claims["aud"] != CLIENT_ID || claims["iss"] != base || claims["nonce"] != nonce {
        return Err("the ID token is not for this sign-in".into());
    }
    let access = tokens["access_token"].as_str().ok_or("no access token")?;
    let info: Value = http
        .get(format!("{base}/userinfo"))
        .bearer_auth(access)
        .send()
        .await
        .map_err(|e| format!("userinfo failed: {e}"))?
        .json()
        .await
        .map_err(|e| format!("userinfo response: {e}"))?;
    info.as_object()
        .cloned()
        .ok_or_else(|| "userinfo is not an object".into())
}
