//! DPoP (RFC 9449): tokens bound to the client's key at `/token`, used
//! with proofs at `/userinfo`, shown bound by introspection.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ed25519_dalek::SigningKey;
use reqwest::StatusCode;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::ciba::oauth_error;
use crate::common::*;

const ID: &str = "dpop-rp";
/// A public client: its refresh tokens are bound too (RFC 9449 §5).
const PUBLIC: &str = "dpop-public";

/// A client's DPoP key.
struct DpopKey {
    key: SigningKey,
}

impl DpopKey {
    fn new() -> Self {
        Self {
            key: SigningKey::generate(&mut rand_core::OsRng),
        }
    }

    fn jwk(&self) -> Value {
        json!({
            "kty": "OKP",
            "crv": "Ed25519",
            "x": URL_SAFE_NO_PAD.encode(self.key.verifying_key().as_bytes()),
        })
    }

    /// RFC 7638 thumbprint.
    fn jkt(&self) -> String {
        let x = self.jwk()["x"].as_str().unwrap().to_string();
        let canonical = format!(r#"{{"crv":"Ed25519","kty":"OKP","x":"{x}"}}"#);
        URL_SAFE_NO_PAD.encode(Sha256::digest(canonical.as_bytes()))
    }

    fn proof_with(&self, claims: Value, typ: &str) -> String {
        self.signed(
            json!({"typ": typ, "alg": "EdDSA", "jwk": self.jwk()}),
            &claims,
        )
    }

    /// A JWS of `header` and `claims` as given, signed with this key.
    fn signed(&self, header: Value, claims: &Value) -> String {
        use ed25519_dalek::Signer;
        let input = format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(header.to_string()),
            URL_SAFE_NO_PAD.encode(claims.to_string())
        );
        let sig = self.key.sign(input.as_bytes());
        format!("{input}.{}", URL_SAFE_NO_PAD.encode(sig.to_bytes()))
    }

    fn proof(&self, method: &str, url: &str, token: Option<&str>) -> String {
        let mut claims = json!({
            "jti": authentiq_server::secrets::new_secret(),
            "htm": method,
            "htu": url,
            "iat": now(),
        });
        if let Some(t) = token {
            claims["ath"] = json!(URL_SAFE_NO_PAD.encode(Sha256::digest(t.as_bytes())));
        }
        self.proof_with(claims, "dpop+jwt")
    }
}

async fn seed(s: &TestServer, pk: &str) -> String {
    seed_for(s, ID, pk).await
}

async fn seed_for(s: &TestServer, client: &'static str, pk: &str) -> String {
    let pk = pk.to_string();
    s.state
        .db
        .call(move |st| Ok(seed_refresh(st, client, &pk)))
        .await
        .unwrap()
}

async fn server() -> TestServer {
    use authentiq_server::oidc::clients::AuthMethod;
    let mut public = test_client(PUBLIC);
    public.token_endpoint_auth_method = AuthMethod::None;
    public.client_secret_sha256 = None;
    TestServer::start_with(|c| c.clients = vec![test_client(ID), public]).await
}

/// A refresh at /token with `proof`.
async fn refresh_with(s: &TestServer, token: &str, proof: Option<&str>) -> reqwest::Response {
    refresh_as(s, ID, token, proof).await
}

async fn refresh_as(
    s: &TestServer,
    client: &str,
    token: &str,
    proof: Option<&str>,
) -> reqwest::Response {
    let req = s.http.post(s.url("/token"));
    let req = if client == PUBLIC {
        req.form(&[
            ("grant_type", "refresh_token"),
            ("refresh_token", token),
            ("client_id", client),
        ])
    } else {
        req.basic_auth(client, Some(CLIENT_SECRET))
            .form(&[("grant_type", "refresh_token"), ("refresh_token", token)])
    };
    let mut req = req;
    if let Some(p) = proof {
        req = req.header("DPoP", p);
    }
    req.send().await.unwrap()
}

async fn userinfo(
    s: &TestServer,
    scheme: &str,
    token: &str,
    proof: Option<&str>,
) -> reqwest::Response {
    let mut req = s
        .http
        .get(s.url("/userinfo"))
        .header("authorization", format!("{scheme} {token}"));
    if let Some(p) = proof {
        req = req.header("DPoP", p);
    }
    req.send().await.unwrap()
}

/// Tokens bound to `k`, from a refresh token seeded for a new user.
async fn bound_tokens(s: &TestServer, k: &DpopKey) -> Value {
    let d = Device::new();
    s.register(&d).await;
    let refresh = seed(s, &d.pk).await;
    let proof = k.proof("POST", &s.url("/token"), None);
    let res = refresh_with(s, &refresh, Some(&proof)).await;
    assert_eq!(
        res.status(),
        StatusCode::OK,
        "{}",
        res.text().await.unwrap()
    );
    res.json().await.unwrap()
}

#[tokio::test]
async fn a_proof_binds_the_tokens_and_the_resource_checks_it() {
    let s = server().await;
    let k = DpopKey::new();
    let tokens = bound_tokens(&s, &k).await;
    assert_eq!(tokens["token_type"], "DPoP");
    let access = tokens["access_token"].as_str().unwrap();

    // With the DPoP scheme and a proof for this request and token.
    let proof = k.proof("GET", &s.url("/userinfo"), Some(access));
    let res = userinfo(&s, "DPoP", access, Some(&proof)).await;
    assert_eq!(res.status(), StatusCode::OK);
    assert!(res.json::<Value>().await.unwrap()["sub"].is_string());
    // The same proof again: replayed.
    let res = userinfo(&s, "DPoP", access, Some(&proof)).await;
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    assert!(
        res.headers()["www-authenticate"]
            .to_str()
            .unwrap()
            .starts_with("DPoP ")
    );
    // As a Bearer token: refused, with a DPoP challenge.
    let res = userinfo(&s, "Bearer", access, None).await;
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    let challenge = res.headers()["www-authenticate"]
        .to_str()
        .unwrap()
        .to_string();
    assert!(challenge.starts_with("DPoP "), "{challenge}");
    assert!(challenge.contains("algs="), "{challenge}");
    // A proof by another key, or for another URL, or without ath.
    let other = DpopKey::new();
    for proof in [
        other.proof("GET", &s.url("/userinfo"), Some(access)),
        k.proof("GET", &s.url("/token"), Some(access)),
        k.proof("POST", &s.url("/userinfo"), Some(access)),
        k.proof("GET", &s.url("/userinfo"), None),
        k.proof("GET", &s.url("/userinfo"), Some("another-token")),
    ] {
        let res = userinfo(&s, "DPoP", access, Some(&proof)).await;
        assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    }
    // No proof at all.
    let res = userinfo(&s, "DPoP", access, None).await;
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);

    // Introspection shows the binding.
    let res = s
        .http
        .post(s.url("/introspect"))
        .basic_auth(ID, Some(CLIENT_SECRET))
        .form(&[("token", access)])
        .send()
        .await
        .unwrap();
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["active"], true);
    assert_eq!(body["token_type"], "DPoP");
    assert_eq!(body["cnf"]["jkt"], k.jkt());
}

#[tokio::test]
async fn a_public_clients_refresh_token_is_bound_to_its_key() {
    let s = server().await;
    let d = Device::new();
    s.register(&d).await;
    let k = DpopKey::new();
    let seeded = seed_for(&s, PUBLIC, &d.pk).await;
    let proof = k.proof("POST", &s.url("/token"), None);
    let res = refresh_as(&s, PUBLIC, &seeded, Some(&proof)).await;
    let tokens: Value = res.json().await.unwrap();
    assert_eq!(tokens["token_type"], "DPoP", "{tokens}");
    let refresh = tokens["refresh_token"].as_str().unwrap();
    let body = oauth_error(
        refresh_as(&s, PUBLIC, refresh, None).await,
        400,
        "invalid_dpop_proof",
    )
    .await;
    assert!(
        body["error_description"]
            .as_str()
            .unwrap()
            .contains("bound")
    );
    let other = DpopKey::new();
    let proof = other.proof("POST", &s.url("/token"), None);
    oauth_error(
        refresh_as(&s, PUBLIC, refresh, Some(&proof)).await,
        400,
        "invalid_dpop_proof",
    )
    .await;
    let proof = k.proof("POST", &s.url("/token"), None);
    let res = refresh_as(&s, PUBLIC, refresh, Some(&proof)).await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.json::<Value>().await.unwrap()["token_type"], "DPoP");
}

#[tokio::test]
async fn a_confidential_clients_refresh_binds_each_access_token_to_the_proof() {
    let s = server().await;
    let k = DpopKey::new();
    let tokens = bound_tokens(&s, &k).await;
    let refresh = tokens["refresh_token"].as_str().unwrap();
    // Its refresh token is bound to its credentials: without a proof the
    // next access token is a Bearer token, with another key's it is bound
    // to that key.
    let res = refresh_with(&s, refresh, None).await;
    let next: Value = res.json().await.unwrap();
    assert_eq!(next["token_type"], "Bearer", "{next}");
    let other = DpopKey::new();
    let proof = other.proof("POST", &s.url("/token"), None);
    let res = refresh_with(&s, next["refresh_token"].as_str().unwrap(), Some(&proof)).await;
    let last: Value = res.json().await.unwrap();
    assert_eq!(last["token_type"], "DPoP");
    let access = last["access_token"].as_str().unwrap();
    let proof = k.proof("GET", &s.url("/userinfo"), Some(access));
    assert_eq!(
        userinfo(&s, "DPoP", access, Some(&proof)).await.status(),
        StatusCode::UNAUTHORIZED
    );
    let proof = other.proof("GET", &s.url("/userinfo"), Some(access));
    assert_eq!(
        userinfo(&s, "DPoP", access, Some(&proof)).await.status(),
        StatusCode::OK
    );
}

#[tokio::test]
async fn unbound_tokens_stay_bearer_tokens() {
    let s = server().await;
    let d = Device::new();
    s.register(&d).await;
    let refresh = seed(&s, &d.pk).await;
    let res = refresh_with(&s, &refresh, None).await;
    let tokens: Value = res.json().await.unwrap();
    assert_eq!(tokens["token_type"], "Bearer");
    let access = tokens["access_token"].as_str().unwrap();
    assert_eq!(
        userinfo(&s, "Bearer", access, None).await.status(),
        StatusCode::OK
    );
    let k = DpopKey::new();
    let proof = k.proof("GET", &s.url("/userinfo"), Some(access));
    let res = userinfo(&s, "DPoP", access, Some(&proof)).await;
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn malformed_proofs_are_refused_at_the_token_endpoint() {
    let s = server().await;
    let d = Device::new();
    s.register(&d).await;
    let k = DpopKey::new();
    let url = s.url("/token");
    let base = || json!({"jti": authentiq_server::secrets::new_secret(), "htm": "POST", "htu": url, "iat": now()});
    let mut stale = base();
    stale["iat"] = json!(now() - 3600);
    let mut no_jti = base();
    no_jti.as_object_mut().unwrap().remove("jti");
    let mut wrong_htu = base();
    wrong_htu["htu"] = json!("https://elsewhere.example/token");
    for proof in [
        k.proof_with(base(), "JWT"),
        k.proof_with(stale, "dpop+jwt"),
        k.proof_with(no_jti, "dpop+jwt"),
        k.proof_with(wrong_htu, "dpop+jwt"),
        "not-a-jwt".to_string(),
    ] {
        let refresh = seed(&s, &d.pk).await;
        let body = oauth_error(
            refresh_with(&s, &refresh, Some(&proof)).await,
            400,
            "invalid_dpop_proof",
        )
        .await;
        assert!(
            body["error_description"]
                .as_str()
                .unwrap()
                .starts_with("DPoP proof")
        );
    }
    // A proof carrying its private key in the header.
    let mut jwk = k.jwk();
    jwk["d"] = json!(URL_SAFE_NO_PAD.encode(k.key.to_bytes()));
    let proof = k.signed(
        json!({"typ": "dpop+jwt", "alg": "EdDSA", "jwk": jwk}),
        &base(),
    );
    let refresh = seed(&s, &d.pk).await;
    let body = oauth_error(
        refresh_with(&s, &refresh, Some(&proof)).await,
        400,
        "invalid_dpop_proof",
    )
    .await;
    assert!(
        body["error_description"]
            .as_str()
            .unwrap()
            .contains("private"),
        "{body}"
    );
    // A symmetric "key", and alg none.
    for header in [
        json!({"typ": "dpop+jwt", "alg": "HS256", "jwk": {"kty": "oct", "k": "c2VjcmV0"}}),
        json!({"typ": "dpop+jwt", "alg": "none", "jwk": k.jwk()}),
    ] {
        let proof = k.signed(header, &base());
        let refresh = seed(&s, &d.pk).await;
        oauth_error(
            refresh_with(&s, &refresh, Some(&proof)).await,
            400,
            "invalid_dpop_proof",
        )
        .await;
    }
}

#[tokio::test]
async fn a_server_nonce_can_be_required() {
    let s = TestServer::start_with(|c| {
        c.clients = vec![test_client(ID)];
        c.oidc.dpop_require_nonce = true;
    })
    .await;
    let d = Device::new();
    s.register(&d).await;
    let k = DpopKey::new();
    let refresh = seed(&s, &d.pk).await;
    let proof = k.proof("POST", &s.url("/token"), None);
    let res = refresh_with(&s, &refresh, Some(&proof)).await;
    let nonce = res.headers()["dpop-nonce"].to_str().unwrap().to_string();
    oauth_error(res, 400, "use_dpop_nonce").await;
    let claims = json!({
        "jti": authentiq_server::secrets::new_secret(),
        "htm": "POST",
        "htu": s.url("/token"),
        "iat": now(),
        "nonce": nonce,
    });
    let res = refresh_with(&s, &refresh, Some(&k.proof_with(claims, "dpop+jwt"))).await;
    assert_eq!(
        res.status(),
        StatusCode::OK,
        "{}",
        res.text().await.unwrap()
    );
}
