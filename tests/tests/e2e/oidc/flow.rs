//! The whole flow with `openidconnect` as the relying party: discovery →
//! authorize → push → number matched and approved → code → token → ID token
//! verified through JWKS → userinfo.

use authentiq_protocol::payloads::Decision;
use openidconnect::core::{
    CoreAuthenticationFlow, CoreClient, CoreJsonWebKey, CoreJwsSigningAlgorithm,
    CoreProviderMetadata, CoreUserInfoClaims,
};
use openidconnect::{
    AccessTokenHash, AuthType, AuthorizationCode, ClientId, ClientSecret, CsrfToken, IssuerUrl,
    JsonWebKey, Nonce, OAuth2TokenResponse, PkceCodeChallenge, RedirectUrl, Scope, TokenResponse,
};

use super::common::*;

fn http() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

struct Case {
    client_id: &'static str,
    secret: bool,
    post: bool,
    alg: CoreJwsSigningAlgorithm,
}

async fn sign_in(case: Case) {
    let p = provider().await;
    let email = format!("{}@example.com", case.client_id);
    let mut device = Device::enrol(&p, &email).await;
    let http = http();

    let metadata =
        CoreProviderMetadata::discover_async(IssuerUrl::new(p.url.clone()).unwrap(), &http)
            .await
            .expect("discovery");
    let mut client = CoreClient::from_provider_metadata(
        metadata,
        ClientId::new(case.client_id.into()),
        case.secret.then(|| ClientSecret::new(SECRET.into())),
    )
    .set_redirect_uri(RedirectUrl::new(REDIRECT.into()).unwrap());
    if case.post {
        client = client.set_auth_type(AuthType::RequestBody);
    }
    let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
    let (auth_url, csrf, nonce) = client
        .authorize_url(
            CoreAuthenticationFlow::AuthorizationCode,
            CsrfToken::new_random,
            Nonce::new_random,
        )
        .add_scope(Scope::new("email~rs".into()))
        .add_scope(Scope::new("aq:name".into()))
        .set_pkce_challenge(challenge)
        .url();

    // The browser: the sign-in page, then "send to my device".
    let browser = browser();
    let page = open_sign_in(&p, &browser, auth_url.as_str()).await;
    send_to_device(&p, &browser, &page, &email).await;

    // The device: the request arrives with three numbers, one of them shown.
    let req = device.next_request(&p).await;
    assert!(req.numbers.contains(&page.number));
    assert_eq!(req.client.client_id, case.client_id);
    assert!(req.scope.contains("email~rs"));
    let res = device
        .send(
            &req,
            device.answer(
                &req,
                Decision::Approve,
                Some(page.number),
                "openid email aq:name",
            ),
        )
        .await;
    assert_eq!(res.status(), 200, "{}", res.text().await.unwrap());

    // Back to the client.
    let back = continue_to_client(&p, &browser, &page).await;
    assert_eq!(
        param(&back, "state").as_deref(),
        Some(csrf.secret().as_str())
    );
    assert_eq!(param(&back, "iss").as_deref(), Some(p.url.as_str()));
    assert!(param(&back, "session_state").is_some());
    let code = param(&back, "code").expect("a code");

    let token = client
        .exchange_code(AuthorizationCode::new(code))
        .unwrap()
        .set_pkce_verifier(verifier)
        .request_async(&http)
        .await
        .expect("token exchange");
    let id_token = token.id_token().expect("an ID token");
    let id_verifier = client
        .id_token_verifier()
        .set_allowed_algs(vec![case.alg.clone()]);
    let claims = id_token
        .claims(&id_verifier, &nonce)
        .expect("the ID token verifies through JWKS");
    assert_eq!(claims.email().map(|e| e.as_str()), Some(email.as_str()));
    assert_eq!(claims.email_verified(), Some(true));
    assert_eq!(claims.issuer().as_str(), p.url);
    assert_ne!(claims.subject().as_str(), device.pk, "pairwise by default");
    assert!(claims.auth_time().is_some());
    let at_hash = claims.access_token_hash().expect("at_hash");
    // HMAC keys are not published: the shared secret is the key.
    let symmetric = CoreJsonWebKey::new_symmetric(SECRET.as_bytes().to_vec());
    let key = match case.alg {
        CoreJwsSigningAlgorithm::HmacSha256 => &symmetric,
        _ => id_token.signing_key(&id_verifier).unwrap(),
    };
    let expected =
        AccessTokenHash::from_token(token.access_token(), id_token.signing_alg().unwrap(), key)
            .unwrap();
    assert_eq!(*at_hash, expected);

    let info: CoreUserInfoClaims = client
        .user_info(token.access_token().clone(), None)
        .unwrap()
        .request_async(&http)
        .await
        .expect("userinfo");
    assert_eq!(info.subject(), claims.subject());
    assert_eq!(info.email().map(|e| e.as_str()), Some(email.as_str()));
    assert_eq!(info.email_verified(), Some(true));
    assert!(info.name().is_some());
    assert!(token.refresh_token().is_some());
}

#[tokio::test]
async fn rs256_client_secret_basic() {
    sign_in(Case {
        client_id: "rs256-basic",
        secret: true,
        post: false,
        alg: CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha256,
    })
    .await;
}

#[tokio::test]
async fn eddsa_client_secret_post() {
    sign_in(Case {
        client_id: "eddsa-post",
        secret: true,
        post: true,
        alg: CoreJwsSigningAlgorithm::EdDsa,
    })
    .await;
}

#[tokio::test]
async fn public_client_with_pkce() {
    sign_in(Case {
        client_id: "public-pkce",
        secret: false,
        post: false,
        alg: CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha256,
    })
    .await;
}

#[tokio::test]
async fn es256_client() {
    sign_in(Case {
        client_id: "es256-basic",
        secret: true,
        post: false,
        alg: CoreJwsSigningAlgorithm::EcdsaP256Sha256,
    })
    .await;
}

#[tokio::test]
async fn hs256_client() {
    sign_in(Case {
        client_id: "hs256-basic",
        secret: true,
        post: false,
        alg: CoreJwsSigningAlgorithm::HmacSha256,
    })
    .await;
}
