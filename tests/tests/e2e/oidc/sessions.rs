//! Ending sessions and tokens: RP-initiated logout (with and without
//! `id_token_hint`), back-channel logout, offline access, and revocation
//! and introspection through the `openidconnect` crate.

use std::sync::{Arc, Mutex};

use openidconnect::core::{
    CoreAuthDisplay, CoreClaimName, CoreClaimType, CoreClient, CoreClientAuthMethod, CoreGrantType,
    CoreJsonWebKey, CoreJweContentEncryptionAlgorithm, CoreJweKeyManagementAlgorithm,
    CoreResponseMode, CoreResponseType, CoreSubjectIdentifierType,
};
use openidconnect::{
    AccessToken, AdditionalProviderMetadata, ClientId, ClientSecret, IntrospectionUrl, IssuerUrl,
    ProviderMetadata, TokenIntrospectionResponse,
};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::common::*;

/// Discovery's session and token-management endpoints.
#[derive(Clone, Debug, Deserialize, Serialize)]
struct SessionEndpoints {
    revocation_endpoint: String,
    introspection_endpoint: String,
    end_session_endpoint: String,
}
impl AdditionalProviderMetadata for SessionEndpoints {}

type Metadata = ProviderMetadata<
    SessionEndpoints,
    CoreAuthDisplay,
    CoreClientAuthMethod,
    CoreClaimName,
    CoreClaimType,
    CoreGrantType,
    CoreJweContentEncryptionAlgorithm,
    CoreJweKeyManagementAlgorithm,
    CoreJsonWebKey,
    CoreResponseMode,
    CoreResponseType,
    CoreSubjectIdentifierType,
>;

fn no_redirects() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

/// Where a 302 goes.
fn location(res: &reqwest::Response) -> url::Url {
    url::Url::parse(res.headers()["location"].to_str().unwrap()).unwrap()
}

/// Whether `browser` still has an SSO session (a silent sign-in gives a code).
async fn signed_in(p: &Provider, browser: &reqwest::Client) -> bool {
    let url = auth_url(p, "rs256-basic", &[("prompt", "none")]);
    let res = browser.get(&url).send().await.unwrap();
    let loc = location(&res);
    match param(&loc, "error").as_deref() {
        None => param(&loc, "code").is_some(),
        Some("login_required") => false,
        Some(other) => panic!("{other}: {loc}"),
    }
}

async fn refresh_status(p: &Provider, refresh: &str) -> Value {
    let form = [("grant_type", "refresh_token"), ("refresh_token", refresh)];
    token(p, &form, Some(("rs256-basic", SECRET)))
        .await
        .json()
        .await
        .unwrap()
}

#[tokio::test]
async fn logout_with_a_hint_signs_out_at_once_and_returns_to_the_client() {
    let p = provider().await;
    let mut device = Device::enrol(&p, "bye@example.com").await;
    let (code, browser) = approved_code(&p, &mut device, "rs256-basic").await;
    let tokens = exchange(&p, "rs256-basic", &code).await;
    assert!(signed_in(&p, &browser).await);
    let res = browser
        .get(format!("{}/logout", p.url))
        .query(&[
            ("id_token_hint", tokens["id_token"].as_str().unwrap()),
            ("post_logout_redirect_uri", AFTER_LOGOUT),
            ("state", "bye-1"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 302);
    let back = location(&res);
    assert!(back.as_str().starts_with(AFTER_LOGOUT), "{back}");
    assert_eq!(param(&back, "state").as_deref(), Some("bye-1"));
    assert!(!signed_in(&p, &browser).await, "the SSO session ended");
    // Tokens without offline access ended with the session.
    assert_eq!(
        refresh_status(&p, tokens["refresh_token"].as_str().unwrap()).await["error"],
        "invalid_grant"
    );
    let res = reqwest::Client::new()
        .get(format!("{}/userinfo", p.url))
        .bearer_auth(tokens["access_token"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 401);
}

#[tokio::test]
async fn offline_access_outlives_the_session() {
    let p = provider().await;
    let mut device = Device::enrol(&p, "offline@example.com").await;
    let browser = browser();
    let url = with(
        &auth_url(&p, "rs256-basic", &[]),
        "scope",
        Some("openid email~rs offline_access"),
    );
    let back = approve_in(
        &p,
        &mut device,
        &browser,
        &url,
        "openid email offline_access",
    )
    .await;
    let tokens = exchange(&p, "rs256-basic", &param(&back, "code").unwrap()).await;
    assert!(
        tokens["scope"].as_str().unwrap().contains("offline_access"),
        "{tokens}"
    );
    let res = browser
        .get(format!("{}/logout", p.url))
        .query(&[("id_token_hint", tokens["id_token"].as_str().unwrap())])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200, "our signed-out page");
    assert!(!signed_in(&p, &browser).await);
    // The refresh repeats the scope as first requested (modifiers and all,
    // as Authlib's OAuth2Session.refresh_token does): fine.
    let form = [
        ("grant_type", "refresh_token"),
        ("refresh_token", tokens["refresh_token"].as_str().unwrap()),
        ("scope", "openid email~rs offline_access"),
    ];
    let res = token(&p, &form, Some(("rs256-basic", SECRET))).await;
    assert_eq!(res.status(), 200);
    let again: Value = res.json().await.unwrap();
    assert_eq!(again["scope"], "openid email offline_access");
    // A narrower scope is for that access token only.
    let form = [
        ("grant_type", "refresh_token"),
        ("refresh_token", again["refresh_token"].as_str().unwrap()),
        ("scope", "openid"),
    ];
    let narrow: Value = token(&p, &form, Some(("rs256-basic", SECRET)))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(narrow["scope"], "openid");
    let wider = [
        ("grant_type", "refresh_token"),
        ("refresh_token", narrow["refresh_token"].as_str().unwrap()),
        ("scope", "openid phone"),
    ];
    oauth_error(
        token(&p, &wider, Some(("rs256-basic", SECRET))).await,
        400,
        "invalid_scope",
    )
    .await;
}

#[tokio::test]
async fn logout_without_a_hint_asks_first_and_checks_its_form() {
    let p = provider().await;
    let mut device = Device::enrol(&p, "ask@example.com").await;
    let (_, browser) = approved_code(&p, &mut device, "rs256-basic").await;
    let res = browser
        .get(format!("{}/logout?client_id=rs256-basic", p.url))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert!(
        res.headers()["content-security-policy"]
            .to_str()
            .unwrap()
            .contains("frame-ancestors 'none'")
    );
    let html = res.text().await.unwrap();
    assert!(html.contains("Sign out of Authentiq?"), "{html}");
    let csrf = html
        .split("name=\"csrf\" value=\"")
        .nth(1)
        .and_then(|r| r.split('"').next())
        .unwrap()
        .to_string();
    // A forged form (another site's, without our cookie's token) does nothing.
    let forged = reqwest::Client::new()
        .post(format!("{}/logout", p.url))
        .form(&[("confirm", "yes"), ("csrf", csrf.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(forged.status(), 200);
    assert!(signed_in(&p, &browser).await, "still signed in");
    let res = browser
        .post(format!("{}/logout", p.url))
        .form(&[
            ("confirm", "yes"),
            ("csrf", "wrong"),
            ("client_id", "rs256-basic"),
        ])
        .send()
        .await
        .unwrap();
    assert!(res.text().await.unwrap().contains("Sign out of Authentiq?"));
    assert!(
        signed_in(&p, &browser).await,
        "a wrong token signs nobody out"
    );
    // The form as the page gave it (the page set a new token: read it again).
    let html = browser
        .get(format!(
            "{}/logout?client_id=rs256-basic&post_logout_redirect_uri={}&state=s9",
            p.url,
            url::form_urlencoded::byte_serialize(AFTER_LOGOUT.as_bytes()).collect::<String>()
        ))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let field = |name: &str| {
        html.split(&format!("name=\"{name}\" value=\""))
            .nth(1)
            .and_then(|r| r.split('"').next())
            .unwrap()
            .replace("&#x2f;", "/")
            .replace("&#x3a;", ":")
    };
    let res = browser
        .post(format!("{}/logout", p.url))
        .form(&[
            ("confirm", "yes"),
            ("csrf", field("csrf").as_str()),
            ("client_id", field("client_id").as_str()),
            ("post_logout_redirect_uri", AFTER_LOGOUT),
            ("state", field("state").as_str()),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 302);
    assert_eq!(param(&location(&res), "state").as_deref(), Some("s9"));
    assert!(!signed_in(&p, &browser).await);
}

#[tokio::test]
async fn logout_never_redirects_to_an_unregistered_uri() {
    let p = provider().await;
    let b = no_redirects();
    for query in [
        "post_logout_redirect_uri=https%3A%2F%2Fevil.example%2F&client_id=rs256-basic",
        "post_logout_redirect_uri=http%3A%2F%2F127.0.0.1%3A9%2Fsigned-out",
        "id_token_hint=not.a.token",
        "client_id=nobody",
    ] {
        let res = b
            .get(format!("{}/logout?{query}", p.url))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 400, "{query}");
        assert!(res.headers().get("location").is_none(), "{query}");
    }
}

/// A client's back-channel logout endpoint: records what it is POSTed.
async fn logout_receiver() -> (String, Arc<Mutex<Vec<String>>>) {
    let got = Arc::new(Mutex::new(Vec::new()));
    let seen = Arc::clone(&got);
    let app = axum::Router::new().route(
        "/backchannel",
        axum::routing::post(move |body: String| {
            let seen = Arc::clone(&seen);
            async move {
                let token = url::form_urlencoded::parse(body.as_bytes())
                    .find(|(k, _)| k == "logout_token")
                    .map(|(_, v)| v.into_owned())
                    .unwrap_or_default();
                seen.lock().unwrap().push(token);
                axum::http::StatusCode::OK
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/backchannel", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    (url, got)
}

#[tokio::test]
async fn the_clients_back_channel_hears_of_the_logout() {
    let (uri, got) = logout_receiver().await;
    let p = provider_with(|c| {
        for client in &mut c.clients {
            client.backchannel_logout_uri = Some(uri.clone());
        }
    })
    .await;
    let mut device = Device::enrol(&p, "bcl@example.com").await;
    let (code, browser) = approved_code(&p, &mut device, "rs256-basic").await;
    let tokens = exchange(&p, "rs256-basic", &code).await;
    let id_claims = jwt_claims(tokens["id_token"].as_str().unwrap());
    browser
        .get(format!("{}/logout", p.url))
        .query(&[("id_token_hint", tokens["id_token"].as_str().unwrap())])
        .send()
        .await
        .unwrap();
    let mut token = None;
    for _ in 0..100 {
        if let Some(t) = got.lock().unwrap().first().cloned() {
            token = Some(t);
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let token = token.expect("a logout token within 10 s");
    // Verified against the published RS256 key, by another JWT library.
    let header = jsonwebtoken::decode_header(&token).unwrap();
    assert_eq!(header.typ.as_deref(), Some("logout+jwt"));
    let jwks: Value = reqwest::get(format!("{}/jwks", p.url))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let jwk = jwks["keys"]
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["kid"].as_str() == header.kid.as_deref())
        .unwrap();
    let key = jsonwebtoken::DecodingKey::from_rsa_components(
        jwk["n"].as_str().unwrap(),
        jwk["e"].as_str().unwrap(),
    )
    .unwrap();
    let mut v = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::RS256);
    v.set_audience(&["rs256-basic"]);
    v.set_issuer(&[p.url.as_str()]);
    let claims = jsonwebtoken::decode::<Value>(&token, &key, &v)
        .unwrap()
        .claims;
    assert_eq!(claims["sub"], id_claims["sub"]);
    assert_eq!(claims["sid"], id_claims["sid"]);
    assert!(claims["events"]["http://schemas.openid.net/event/backchannel-logout"].is_object());
    assert!(claims.get("nonce").is_none());
    assert!(claims["jti"].is_string() && claims["iat"].is_number());
    // Delivered once: nothing left queued.
    let queued = p.state.db.call(|s| s.list_outgoing()).await.unwrap();
    assert!(queued.is_empty(), "{queued:?}");
}

fn jwt_claims(token: &str) -> Value {
    use base64::Engine;
    let payload = token.split('.').nth(1).unwrap();
    serde_json::from_slice(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(payload)
            .unwrap(),
    )
    .unwrap()
}

/// `openid-client` revoking a token.
async fn openid_client_revokes(p: &Provider, client_id: &str, token: &str, hint: &str) {
    let out = openid_client(&["revoke", &p.url, client_id, SECRET, token, hint]).await;
    assert_eq!(out["revoked"], true);
}

#[tokio::test]
async fn revocation_and_introspection_with_ordinary_client_libraries() {
    let p = provider().await;
    let mut device = Device::enrol(&p, "rfc7662@example.com").await;
    let http = no_redirects();
    // Introspection with the openidconnect crate, from discovery.
    let metadata = Metadata::discover_async(IssuerUrl::new(p.url.clone()).unwrap(), &http)
        .await
        .expect("discovery");
    let extra = metadata.additional_metadata().clone();
    assert_eq!(extra.revocation_endpoint, format!("{}/revoke", p.url));
    assert_eq!(extra.end_session_endpoint, format!("{}/logout", p.url));
    let rp = |id: &str| {
        CoreClient::from_provider_metadata(
            metadata.clone(),
            ClientId::new(id.into()),
            Some(ClientSecret::new(SECRET.into())),
        )
        .set_introspection_url(IntrospectionUrl::new(extra.introspection_endpoint.clone()).unwrap())
    };
    let client = rp("rs256-basic");
    let (code, _) = approved_code(&p, &mut device, "rs256-basic").await;
    let tokens = exchange(&p, "rs256-basic", &code).await;
    let access = AccessToken::new(tokens["access_token"].as_str().unwrap().into());
    let info = client
        .introspect(&access)
        .request_async(&http)
        .await
        .unwrap();
    assert!(info.active());
    assert_eq!(info.client_id().map(|c| c.as_str()), Some("rs256-basic"));
    assert_eq!(
        info.sub(),
        Some(
            jwt_claims(tokens["id_token"].as_str().unwrap())["sub"]
                .as_str()
                .unwrap()
        )
    );
    assert!(info.scopes().unwrap().iter().any(|s| s.as_str() == "email"));
    assert!(info.exp().is_some() && info.iat().is_some());
    // Another client learns nothing about it; unknown tokens are inactive.
    let other = rp("es256-basic");
    assert!(
        !other
            .introspect(&access)
            .request_async(&http)
            .await
            .unwrap()
            .active()
    );
    let unknown = AccessToken::new("nope".into());
    assert!(
        !client
            .introspect(&unknown)
            .request_async(&http)
            .await
            .unwrap()
            .active()
    );

    // Revocation with openid-client. Unknown tokens: fine, nothing happens.
    openid_client_revokes(&p, "rs256-basic", "nope", "refresh_token").await;
    // Revoking the refresh token ends the family: the access token too.
    let refresh = tokens["refresh_token"].as_str().unwrap();
    openid_client_revokes(&p, "rs256-basic", refresh, "refresh_token").await;
    assert!(
        !client
            .introspect(&access)
            .request_async(&http)
            .await
            .unwrap()
            .active()
    );
    assert_eq!(refresh_status(&p, refresh).await["error"], "invalid_grant");
    // Revoking an access token ends that token, not the refresh token.
    let (code, _) = approved_code(&p, &mut device, "rs256-basic").await;
    let tokens = exchange(&p, "rs256-basic", &code).await;
    let access_text = tokens["access_token"].as_str().unwrap();
    openid_client_revokes(&p, "rs256-basic", access_text, "access_token").await;
    let access = AccessToken::new(access_text.into());
    assert!(
        !client
            .introspect(&access)
            .request_async(&http)
            .await
            .unwrap()
            .active()
    );
    assert!(
        refresh_status(&p, tokens["refresh_token"].as_str().unwrap()).await["access_token"]
            .is_string()
    );
    // Another client cannot revoke someone else's token (and is not told).
    let (code, _) = approved_code(&p, &mut device, "rs256-basic").await;
    let tokens = exchange(&p, "rs256-basic", &code).await;
    let refresh = tokens["refresh_token"].as_str().unwrap();
    openid_client_revokes(&p, "es256-basic", refresh, "refresh_token").await;
    assert!(refresh_status(&p, refresh).await["access_token"].is_string());
}
