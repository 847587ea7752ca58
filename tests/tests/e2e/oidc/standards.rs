//! The standards past the code flow, each driven by panva's openid-client
//! (`tests/interop/openid-client.mjs`) as the relying party: pushed
//! authorization requests (RFC 9126), DPoP (RFC 9449), the device
//! authorization grant (RFC 8628), and CIBA (OpenID Connect CIBA Core 1.0)
//! in poll and ping modes. The browser is reqwest; the user's app is
//! [`Device`], answering what is pushed to it.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use authentiq_protocol::payloads::Decision;
use authentiq_server::oidc::clients::{AuthMethod, Client};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use super::common::*;

const DEVICE_GRANT: &str = "urn:ietf:params:oauth:grant-type:device_code";
/// A public client on a device without a browser (a TV): the device grant only.
const TV: &str = "tv";
/// The `SECRET` argument of the script for a public client.
const PUBLIC: &str = "-";

/// The provider with [`TV`] besides the usual test clients.
async fn provider_with_tv() -> Provider {
    provider_with(|c| {
        c.clients.push(Client {
            redirect_uris: vec![],
            grant_types: vec![DEVICE_GRANT.into(), "refresh_token".into()],
            ..client(TV, "RS256", AuthMethod::None)
        })
    })
    .await
}

fn jwt_part(jwt: &str, i: usize) -> Value {
    let part = jwt.split('.').nth(i).expect("a JWT");
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(part).unwrap()).unwrap()
}

/// The `error` object of a script run the server refused with `error`.
fn refused<'a>(out: &'a Value, error: &str) -> &'a Value {
    assert_eq!(out["error"]["error"], error, "{out:#}");
    &out["error"]
}

/// The tokens of a script run that got some.
fn granted(out: &Value) -> &Value {
    assert!(
        out.get("error").is_none() && out["access_token"].is_string(),
        "no tokens: {out:#}"
    );
    out
}

/// RFC 7638 thumbprint of a P-256 public JWK.
fn thumbprint(jwk: &Value) -> String {
    let canonical = format!(
        r#"{{"crv":"P-256","kty":"EC","x":"{}","y":"{}"}}"#,
        jwk["x"].as_str().unwrap(),
        jwk["y"].as_str().unwrap()
    );
    URL_SAFE_NO_PAD.encode(Sha256::digest(canonical.as_bytes()))
}

/// The requests a run sent to `path`, as openid-client put them on the wire.
fn sent_to<'a>(p: &Provider, out: &'a Value, path: &str) -> Vec<&'a Value> {
    let url = format!("{}{path}", p.url);
    out["sent"]
        .as_array()
        .unwrap_or_else(|| panic!("nothing sent: {out:#}"))
        .iter()
        .filter(|r| r["url"] == url.as_str())
        .collect()
}

fn text(v: &Value) -> &str {
    v.as_str().unwrap_or_else(|| panic!("not a string: {v}"))
}

/// `sub` of the ID token `client_id` gets after an ordinary sign-in (the
/// hint a CIBA request names the user by), and the token response.
async fn sub_at(p: &Provider, device: &mut Device, client_id: &str) -> (String, Value) {
    let (code, _) = approved_code(p, device, client_id).await;
    let tokens = exchange(p, client_id, &code).await;
    let sub = jwt_part(text(&tokens["id_token"]), 1)["sub"]
        .as_str()
        .unwrap()
        .to_string();
    (sub, tokens)
}

// ---------------------------------------------------------------------
// Pushed authorization requests (RFC 9126)

/// openid-client pushes the request (`par`), the browser signs in at
/// its URL, and openid-client redeems the code.
async fn par_sign_in(p: &Provider, device: &mut Device, client_id: &str) -> (Value, Value) {
    let auth = openid_client(&["par", &p.url, client_id, SECRET, REDIRECT]).await;
    let url = auth["url"].as_str().unwrap_or_else(|| panic!("{auth:#}"));
    let back = approve_in(p, device, &browser(), url, "openid email").await;
    let out = openid_client(&[
        "exchange",
        &p.url,
        client_id,
        SECRET,
        back.as_str(),
        text(&auth["verifier"]),
        text(&auth["state"]),
        text(&auth["nonce"]),
    ])
    .await;
    (auth, out)
}

#[tokio::test]
async fn par_openid_client_pushes_signs_in_and_the_request_uri_works_once() {
    let p = provider().await;
    let mut device = Device::enrol(&p, "par@example.com").await;
    let (auth, out) = par_sign_in(&p, &mut device, "rs256-basic").await;
    // §2.2: 201, a request_uri and its lifetime.
    let push = sent_to(&p, &auth, "/par");
    assert_eq!(push.len(), 1);
    assert_eq!(push[0]["status"], 201, "{:#}", push[0]);
    let expires_in = push[0]["body"]["expires_in"].as_i64().unwrap();
    assert!((1..=600).contains(&expires_in), "{expires_in}");
    // §4: the browser carries only the client and the reference.
    let url = url::Url::parse(text(&auth["url"])).unwrap();
    assert_eq!(url.path(), "/authorize");
    let mut names: Vec<String> = url.query_pairs().map(|(k, _)| k.into_owned()).collect();
    names.sort();
    assert_eq!(names, ["client_id", "request_uri"]);
    let request_uri = param(&url, "request_uri").unwrap();
    assert!(
        request_uri.starts_with("urn:ietf:params:oauth:request_uri:"),
        "{request_uri}"
    );
    // openid-client checked state, nonce, iss and the signature.
    let claims = &granted(&out)["claims"];
    assert_eq!(claims["aud"], "rs256-basic");
    assert_eq!(claims["email"], "par@example.com");
    // §7.3: one use. The same URL again, in a fresh browser, is a page.
    let res = browser().get(url.as_str()).send().await.unwrap();
    assert_eq!(res.status(), 400);
    assert!(res.headers().get("location").is_none());
    let html = res.text().await.unwrap();
    assert!(html.contains("already used"), "{html}");
}

/// `POST /par` by hand, with `form` besides a good code request.
async fn push_raw(p: &Provider, basic: Option<&str>, form: &[(&str, &str)]) -> reqwest::Response {
    let c = challenge();
    let mut body = vec![
        ("response_type", "code"),
        ("scope", "openid"),
        ("code_challenge", c.as_str()),
        ("code_challenge_method", "S256"),
    ];
    body.extend_from_slice(form);
    let mut req = reqwest::Client::new().post(format!("{}/par", p.url));
    if let Some(secret) = basic {
        req = req.basic_auth("rs256-basic", Some(secret));
    }
    req.form(&body).send().await.unwrap()
}

#[tokio::test]
async fn par_refuses_bad_requests_at_par_and_a_request_uri_is_its_clients_for_a_minute() {
    let p = provider().await;
    // Through openid-client: a 400 with an OAuth error body.
    let out = openid_client(&[
        "par",
        &p.url,
        "rs256-basic",
        SECRET,
        "http://127.0.0.1:9/not-registered",
    ])
    .await;
    assert_eq!(refused(&out, "invalid_request")["status"], 400);
    assert!(out.get("url").is_none());
    // On the wire: JSON, no-store (oauth_error checks both).
    let res = push_raw(
        &p,
        Some(SECRET),
        &[("redirect_uri", "https://attacker.example/cb")],
    )
    .await;
    assert!(
        res.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("application/json")
    );
    let body = oauth_error(res, 400, "invalid_request").await;
    assert!(
        text(&body["error_description"]).contains("not registered"),
        "{body}"
    );
    // §2.1: the client authenticates as at /token…
    let res = push_raw(&p, Some("a wrong secret"), &[("redirect_uri", REDIRECT)]).await;
    oauth_error(res, 401, "invalid_client").await;
    let res = push_raw(
        &p,
        None,
        &[("redirect_uri", REDIRECT), ("client_id", "rs256-basic")],
    )
    .await;
    oauth_error(res, 401, "invalid_client").await;
    // … and cannot push a request_uri.
    let res = push_raw(
        &p,
        Some(SECRET),
        &[("redirect_uri", REDIRECT), ("request_uri", "urn:x")],
    )
    .await;
    oauth_error(res, 400, "invalid_request").await;
    // §4: a request_uri pushed by one client is no good with another's id…
    let auth = openid_client(&["par", &p.url, "rs256-basic", SECRET, REDIRECT]).await;
    let other = with(text(&auth["url"]), "client_id", Some("es256-basic"));
    let res = browser().get(&other).send().await.unwrap();
    assert_eq!(res.status(), 400);
    assert!(res.headers().get("location").is_none());
    assert!(res.text().await.unwrap().contains("another application"));
    // … §2.2: nor after its expires_in.
    let auth = openid_client(&["par", &p.url, "rs256-basic", SECRET, REDIRECT]).await;
    let expires_in = sent_to(&p, &auth, "/par")[0]["body"]["expires_in"]
        .as_i64()
        .unwrap();
    p.state.clock.advance(expires_in + 1);
    let res = browser().get(text(&auth["url"])).send().await.unwrap();
    assert_eq!(res.status(), 400);
    assert!(res.headers().get("location").is_none());
    assert!(res.text().await.unwrap().contains("expired"));
}

#[tokio::test]
async fn a_client_that_must_push_is_refused_a_plain_authorize_but_signs_in_with_par() {
    let p = provider_with(|c| {
        c.clients.push(Client {
            require_pushed_authorization_requests: true,
            ..client("par-only", "RS256", AuthMethod::ClientSecretBasic)
        })
    })
    .await;
    // §6: an ordinary authorization request goes back as invalid_request.
    let res = browser()
        .get(auth_url(&p, "par-only", &[]))
        .send()
        .await
        .unwrap();
    assert!(res.status().is_redirection(), "{}", res.status());
    let back = url::Url::parse(res.headers()["location"].to_str().unwrap()).unwrap();
    assert!(back.as_str().starts_with(REDIRECT), "{back}");
    assert_eq!(param(&back, "error").as_deref(), Some("invalid_request"));
    assert_eq!(param(&back, "state").as_deref(), Some("st-1"));
    assert!(param(&back, "code").is_none());
    // Pushed, the same request signs in.
    let mut device = Device::enrol(&p, "par-only@example.com").await;
    let (_, out) = par_sign_in(&p, &mut device, "par-only").await;
    assert_eq!(granted(&out)["claims"]["aud"], "par-only");
}

// ---------------------------------------------------------------------
// DPoP (RFC 9449)

/// Signs in at `client_id` (`secret`: [`SECRET`], or [`PUBLIC`]) and
/// redeems the code with a fresh DPoP key; the script's answer (tokens,
/// `dpop_key`, `sent`).
async fn dpop_sign_in(p: &Provider, device: &mut Device, client_id: &str, secret: &str) -> Value {
    let auth = openid_client(&["authorize", &p.url, client_id, secret, REDIRECT]).await;
    let back = approve_in(p, device, &browser(), text(&auth["url"]), "openid email").await;
    let out = openid_client(&[
        "exchange",
        &p.url,
        client_id,
        secret,
        back.as_str(),
        text(&auth["verifier"]),
        text(&auth["state"]),
        text(&auth["nonce"]),
        "new",
    ])
    .await;
    assert_bound(p, &out);
    out
}

/// A token response of openid-client's with a DPoP proof: `token_type`
/// DPoP on the wire (§5), which openid-client accepted.
fn assert_bound(p: &Provider, out: &Value) {
    let tokens = granted(out);
    assert_eq!(tokens["token_type"], "dpop", "{out:#}");
    let sent = sent_to(p, out, "/token");
    let last = sent.last().unwrap();
    assert!(last["dpop"].is_string(), "no proof sent: {last:#}");
    assert_eq!(last["status"], 200);
    assert_eq!(last["body"]["token_type"], "DPoP");
}

fn key_arg(out: &Value) -> String {
    out["dpop_key"].to_string()
}

async fn userinfo_raw(p: &Provider, authorization: &str, proof: Option<&str>) -> reqwest::Response {
    let mut req = reqwest::Client::new()
        .get(format!("{}/userinfo", p.url))
        .header("authorization", authorization);
    if let Some(proof) = proof {
        req = req.header("dpop", proof);
    }
    req.send().await.unwrap()
}

/// A 401 with a DPoP challenge (§7.1) naming `error`.
fn assert_dpop_challenge(res: &reqwest::Response, error: &str) {
    assert_eq!(res.status(), 401);
    let challenge = res.headers()["www-authenticate"].to_str().unwrap();
    assert!(challenge.starts_with("DPoP "), "{challenge}");
    assert!(
        challenge.contains(&format!("error=\"{error}\"")),
        "{challenge}"
    );
}

#[tokio::test]
async fn dpop_tokens_are_bound_to_openid_clients_key() {
    let p = provider().await;
    let mut device = Device::enrol(&p, "dpop@example.com").await;
    let out = dpop_sign_in(&p, &mut device, "rs256-basic", SECRET).await;
    let access = text(&out["access_token"]).to_string();
    let sub = text(&out["claims"]["sub"]).to_string();
    let key = key_arg(&out);

    // /userinfo through openid-client with the key: the DPoP scheme, a
    // proof with ath (§7).
    let info = openid_client(&[
        "userinfo",
        &p.url,
        "rs256-basic",
        SECRET,
        &key,
        &access,
        &sub,
    ])
    .await;
    assert_eq!(info["userinfo"]["email"], "dpop@example.com", "{info:#}");
    let sent = sent_to(&p, &info, "/userinfo");
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0]["authorization"], "DPoP");
    let proof = text(&sent[0]["dpop"]).to_string();
    let claims = jwt_part(&proof, 1);
    assert_eq!(
        claims["ath"],
        URL_SAFE_NO_PAD.encode(Sha256::digest(access.as_bytes()))
    );

    // The same token as a Bearer token is refused (§7.2), with a DPoP challenge.
    let res = userinfo_raw(&p, &format!("Bearer {access}"), None).await;
    assert_dpop_challenge(&res, "invalid_token");
    // The DPoP scheme without a proof too.
    let res = userinfo_raw(&p, &format!("DPoP {access}"), None).await;
    assert_dpop_challenge(&res, "invalid_token");
    // openid-client's proof again: each proof once (§11.1, jti).
    let res = userinfo_raw(&p, &format!("DPoP {access}"), Some(&proof)).await;
    assert_dpop_challenge(&res, "invalid_dpop_proof");
    // A proof by another key than the token's (§4.3 step 12).
    let other = openid_client(&[
        "userinfo",
        &p.url,
        "rs256-basic",
        SECRET,
        "new",
        &access,
        &sub,
    ])
    .await;
    assert_eq!(other["error"]["status"], 401, "{other:#}");
    assert_eq!(other["error"]["scheme"], "dpop", "{other:#}");
    assert!(other.get("userinfo").is_none());

    // Introspection (§6.2): cnf.jkt is the thumbprint of openid-client's key.
    let jkt = thumbprint(&out["dpop_key"]["public"]);
    let proof_jwk = &jwt_part(&proof, 0)["jwk"];
    assert_eq!(thumbprint(proof_jwk), jkt, "the proof carries the key");
    let intro = openid_client(&["introspect", &p.url, "rs256-basic", SECRET, &access]).await;
    assert_eq!(intro["active"], true, "{intro:#}");
    assert_eq!(intro["token_type"], "DPoP");
    assert_eq!(intro["cnf"]["jkt"], jkt.as_str(), "{intro:#}");
}

#[tokio::test]
async fn a_replayed_proof_is_refused_at_token_and_a_confidential_refresh_is_not_bound() {
    let p = provider().await;
    let mut device = Device::enrol(&p, "dpop-replay@example.com").await;
    let out = dpop_sign_in(&p, &mut device, "rs256-basic", SECRET).await;
    let refresh = text(&out["refresh_token"]).to_string();
    // The proof openid-client sent with the code, with a refresh (same
    // htm and htu): only its jti gives it away.
    let proof = text(&sent_to(&p, &out, "/token").last().unwrap()["dpop"]).to_string();
    let res = reqwest::Client::new()
        .post(format!("{}/token", p.url))
        .basic_auth("rs256-basic", Some(SECRET))
        .header("dpop", &proof)
        .form(&[("grant_type", "refresh_token"), ("refresh_token", &refresh)])
        .send()
        .await
        .unwrap();
    oauth_error(res, 400, "invalid_dpop_proof").await;
    // The refusal spent nothing: openid-client refreshes with the key.
    let again = openid_client(&[
        "refresh",
        &p.url,
        "rs256-basic",
        SECRET,
        &key_arg(&out),
        &refresh,
    ])
    .await;
    assert_bound(&p, &again);
    assert_ne!(again["access_token"], out["access_token"]);
    let intro = openid_client(&[
        "introspect",
        &p.url,
        "rs256-basic",
        SECRET,
        text(&again["access_token"]),
    ])
    .await;
    assert_eq!(
        intro["cnf"]["jkt"],
        thumbprint(&out["dpop_key"]["public"]).as_str()
    );
    // §5: a confidential client's refresh token is not bound to the key
    // (its client authentication constrains it): without a proof, it
    // refreshes to a Bearer token.
    let res = token(
        &p,
        &[
            ("grant_type", "refresh_token"),
            ("refresh_token", text(&again["refresh_token"])),
        ],
        Some(("rs256-basic", SECRET)),
    )
    .await;
    assert_eq!(res.status(), 200);
    assert_eq!(res.json::<Value>().await.unwrap()["token_type"], "Bearer");
}

#[tokio::test]
async fn a_public_clients_bound_refresh_token_needs_a_proof_by_its_key() {
    let p = provider().await;
    let mut device = Device::enrol(&p, "dpop-public@example.com").await;
    let out = dpop_sign_in(&p, &mut device, "public-pkce", PUBLIC).await;
    let refresh = text(&out["refresh_token"]).to_string();
    let key = key_arg(&out);
    // §5: a public client's refresh token is bound. Without a proof…
    let bare = openid_client(&["refresh", &p.url, "public-pkce", PUBLIC, "-", &refresh]).await;
    assert_eq!(refused(&bare, "invalid_dpop_proof")["status"], 400);
    // … or with another key, refused.
    let stranger =
        openid_client(&["refresh", &p.url, "public-pkce", PUBLIC, "new", &refresh]).await;
    refused(&stranger, "invalid_dpop_proof");
    // With its key: new tokens, bound to it again.
    let fresh = openid_client(&["refresh", &p.url, "public-pkce", PUBLIC, &key, &refresh]).await;
    assert_bound(&p, &fresh);
    let access = text(&fresh["access_token"]);
    let intro = openid_client(&["introspect", &p.url, "public-pkce", PUBLIC, access]).await;
    assert_eq!(
        intro["cnf"]["jkt"],
        thumbprint(&out["dpop_key"]["public"]).as_str(),
        "{intro:#}"
    );
    let sub = text(&out["claims"]["sub"]);
    let info = openid_client(&["userinfo", &p.url, "public-pkce", PUBLIC, &key, access, sub]).await;
    assert_eq!(
        info["userinfo"]["email"], "dpop-public@example.com",
        "{info:#}"
    );
    // The rotated refresh token is bound as well.
    let next = text(&fresh["refresh_token"]);
    let bare = openid_client(&["refresh", &p.url, "public-pkce", PUBLIC, "-", next]).await;
    refused(&bare, "invalid_dpop_proof");
}

#[tokio::test]
async fn with_nonces_required_openid_client_retries_with_the_servers_nonce() {
    let p = provider_with(|c| c.oidc.dpop_require_nonce = true).await;
    let mut device = Device::enrol(&p, "dpop-nonce@example.com").await;
    let out = dpop_sign_in(&p, &mut device, "rs256-basic", SECRET).await;
    // §8: the first proof had no nonce; the answer gave one to use.
    let sent = sent_to(&p, &out, "/token");
    assert_eq!(sent.len(), 2, "{out:#}");
    assert_eq!(sent[0]["status"], 400);
    assert_eq!(sent[0]["body"]["error"], "use_dpop_nonce");
    let nonce = text(&sent[0]["dpop_nonce"]);
    assert_eq!(jwt_part(text(&sent[1]["dpop"]), 1)["nonce"], nonce);
    // §9: the same at the resource, with a 401 challenge.
    let (access, sub) = (text(&out["access_token"]), text(&out["claims"]["sub"]));
    let info = openid_client(&[
        "userinfo",
        &p.url,
        "rs256-basic",
        SECRET,
        &key_arg(&out),
        access,
        sub,
    ])
    .await;
    assert_eq!(
        info["userinfo"]["email"], "dpop-nonce@example.com",
        "{info:#}"
    );
    let sent = sent_to(&p, &info, "/userinfo");
    assert_eq!(sent.len(), 2, "{info:#}");
    assert_eq!(sent[0]["status"], 401);
    let challenge = text(&sent[0]["www_authenticate"]);
    assert!(
        challenge.starts_with("DPoP ") && challenge.contains("use_dpop_nonce"),
        "{challenge}"
    );
    assert!(sent[0]["dpop_nonce"].is_string());
    assert_eq!(sent[1]["status"], 200);
}

// ---------------------------------------------------------------------
// The device authorization grant (RFC 8628)

fn between<'a>(s: &'a str, start: &str, end: &str) -> &'a str {
    let i = s
        .find(start)
        .unwrap_or_else(|| panic!("{start} not in {s}"))
        + start.len();
    &s[i..i + s[i..].find(end).unwrap()]
}

/// The browser opens `page` (`/device`, maybe with the code filled in) and
/// submits `typed` with the form's CSRF field.
async fn enter_code(b: &reqwest::Client, page: &str, typed: &str) -> reqwest::Response {
    let res = b.get(page).send().await.unwrap();
    assert_eq!(res.status(), 200);
    let html = res.text().await.unwrap();
    let csrf = between(&html, "name=\"csrf\" value=\"", "\"").to_string();
    let action = url::Url::parse(page).unwrap().join("/device").unwrap();
    b.post(action)
        .form(&[("user_code", typed), ("csrf", csrf.as_str())])
        .send()
        .await
        .unwrap()
}

/// The user enters the code of `init` in a browser, and answers on their
/// phone with `decision`; the browser's last page.
async fn device_sign_in(
    p: &Provider,
    device: &mut Device,
    init: &Value,
    decision: Decision,
) -> String {
    let b = browser();
    let complete = text(&init["verification_uri_complete"]);
    let code = text(&init["user_code"]);
    let html = b.get(complete).send().await.unwrap().text().await.unwrap();
    assert!(
        html.contains(&format!("value=\"{code}\"")),
        "filled in: {html}"
    );
    let res = enter_code(&b, complete, code).await;
    assert_eq!(res.status(), 303, "{}", res.text().await.unwrap());
    let location = res.headers()["location"].to_str().unwrap().to_string();
    assert!(location.starts_with("/sign-in/"), "{location}");
    let page = sign_in_page(p, &b, &location).await;
    send_to_device(p, &b, &page, &device.email).await;
    let req = device.next_request(p).await;
    assert!(!req.backchannel, "a browser shows the number");
    device
        .respond(&req, decision, Some(page.number), "openid email")
        .await
        .unwrap();
    let res = b
        .get(format!("{}/sign-in/{}/continue", p.url, page.sid))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    res.text().await.unwrap()
}

async fn device_poll_raw(p: &Provider, client_id: &str, device_code: &str) -> reqwest::Response {
    token(
        p,
        &[
            ("grant_type", DEVICE_GRANT),
            ("device_code", device_code),
            ("client_id", client_id),
        ],
        None,
    )
    .await
}

#[tokio::test]
async fn device_grant_openid_client_polls_while_the_user_signs_in_in_a_browser() {
    let p = provider_with_tv().await;
    let mut device = Device::enrol(&p, "tv-user@example.com").await;
    // The sub this client knows the user by, from an ordinary sign-in.
    let (sub, _) = sub_at(&p, &mut device, "rs256-basic").await;
    let init = openid_client(&["device-init", &p.url, "rs256-basic", SECRET, "openid email"]).await;
    // §3.2.
    assert_eq!(
        init["verification_uri"],
        format!("{}/device", p.url),
        "{init:#}"
    );
    assert_eq!(init["interval"], 5);
    assert!(init["expires_in"].as_i64().unwrap() > 60);
    let code = text(&init["user_code"]);
    assert_eq!(code.len(), 9, "{code}");
    assert!(text(&init["verification_uri_complete"]).contains(code));
    let last = device_sign_in(&p, &mut device, &init, Decision::Approve).await;
    assert!(last.contains("signed in on the device"), "{last}");
    // openid-client's poll (after its 5 s interval) gets the tokens,
    // DPoP-bound: the grant does not matter to DPoP.
    let out = openid_client(&[
        "device-poll",
        &p.url,
        "rs256-basic",
        SECRET,
        &init.to_string(),
        "new",
    ])
    .await;
    assert_bound(&p, &out);
    let claims = &granted(&out)["claims"];
    assert_eq!(claims["sub"], sub.as_str(), "the client's sub for the user");
    assert_eq!(claims["aud"], "rs256-basic");
    assert_eq!(claims["email"], "tv-user@example.com");
    assert!(out["refresh_token"].is_string());
    assert_eq!(sent_to(&p, &out, "/token").len(), 1, "one poll");
    // The user code is spent (§5.1: once)…
    let res = enter_code(&browser(), &format!("{}/device", p.url), code).await;
    assert_eq!(res.status(), 409);
    // … and so is the device code.
    let res = token(
        &p,
        &[
            ("grant_type", DEVICE_GRANT),
            ("device_code", text(&init["device_code"])),
        ],
        Some(("rs256-basic", SECRET)),
    )
    .await;
    oauth_error(res, 400, "invalid_grant").await;
}

#[tokio::test]
async fn a_wrong_user_code_gets_an_error_page_and_a_right_one_may_be_typed_loosely() {
    let p = provider_with_tv().await;
    let page = format!("{}/device", p.url);
    let b = browser();
    for wrong in ["BCDF-GHJK", "ABCD-1234", ""] {
        let res = enter_code(&b, &page, wrong).await;
        assert_eq!(res.status(), 400, "{wrong:?}");
        assert!(res.headers().get("location").is_none());
        let html = res.text().await.unwrap();
        assert!(html.contains("not valid"), "{wrong:?}: {html}");
    }
    // A code the server issued, lower case and without its dash.
    let init = openid_client(&["device-init", &p.url, TV, PUBLIC, "openid"]).await;
    let typed = text(&init["user_code"]).replace('-', "").to_lowercase();
    // Without the form's CSRF cookie and field: the form again.
    let res = browser()
        .post(&page)
        .form(&[("user_code", typed.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 403);
    let res = enter_code(&b, &page, &typed).await;
    assert_eq!(res.status(), 303);
    assert!(
        res.headers()["location"]
            .to_str()
            .unwrap()
            .starts_with("/sign-in/")
    );
}

#[tokio::test]
async fn denied_on_the_phone_openid_client_hears_access_denied() {
    let p = provider_with_tv().await;
    let mut device = Device::enrol(&p, "tv-deny@example.com").await;
    let init = openid_client(&["device-init", &p.url, TV, PUBLIC, "openid email"]).await;
    let last = device_sign_in(&p, &mut device, &init, Decision::Deny).await;
    assert!(last.contains("not signed in"), "{last}");
    let out = openid_client(&["device-poll", &p.url, TV, PUBLIC, &init.to_string()]).await;
    refused(&out, "access_denied");
    assert!(out.get("access_token").is_none());
}

#[tokio::test]
async fn polling_too_fast_is_told_to_slow_down_and_a_late_poll_that_it_expired() {
    let p = provider_with_tv().await;
    let init = openid_client(&["device-init", &p.url, TV, PUBLIC, "openid"]).await;
    let code = text(&init["device_code"]);
    // §3.5: the first poll hears the user has not answered; the next,
    // at once, to slow down — and again, the interval having grown.
    oauth_error(
        device_poll_raw(&p, TV, code).await,
        400,
        "authorization_pending",
    )
    .await;
    oauth_error(device_poll_raw(&p, TV, code).await, 400, "slow_down").await;
    oauth_error(device_poll_raw(&p, TV, code).await, 400, "slow_down").await;
    // Past its expires_in: expired_token, and the user code is no more.
    p.state
        .clock
        .advance(init["expires_in"].as_i64().unwrap() + 1);
    oauth_error(device_poll_raw(&p, TV, code).await, 400, "expired_token").await;
    let res = enter_code(
        &browser(),
        &format!("{}/device", p.url),
        text(&init["user_code"]),
    )
    .await;
    assert_eq!(res.status(), 400);
}

// ---------------------------------------------------------------------
// CIBA (OpenID Connect Client-Initiated Backchannel Authentication Core 1.0)

async fn ciba_init(p: &Provider, client_id: &str, params: Value) -> Value {
    openid_client(&["ciba-init", &p.url, client_id, SECRET, &params.to_string()]).await
}

#[tokio::test]
async fn ciba_poll_openid_client_signs_a_known_user_in_on_their_phone() {
    let p = provider().await;
    let mut device = Device::enrol(&p, "ciba@example.com").await;
    let (sub, _) = sub_at(&p, &mut device, "rs256-basic").await;
    let init = ciba_init(
        &p,
        "rs256-basic",
        json!({ "scope": "openid email", "login_hint": sub, "binding_message": "Order 4711" }),
    )
    .await;
    // §7.3.
    assert!(init["auth_req_id"].is_string(), "{init:#}");
    assert!(init["expires_in"].as_i64().unwrap() > 0);
    assert_eq!(init["interval"], 5);
    // Pushed to the user's app: no number to match, the binding message instead.
    let req = device.next_request(&p).await;
    assert!(req.backchannel);
    assert_eq!(req.binding_message.as_deref(), Some("Order 4711"));
    assert_eq!(req.client.client_id, "rs256-basic");
    device
        .respond(&req, Decision::Approve, None, "openid email")
        .await
        .unwrap();
    let out = openid_client(&[
        "ciba-poll",
        &p.url,
        "rs256-basic",
        SECRET,
        &init.to_string(),
    ])
    .await;
    let claims = &granted(&out)["claims"];
    assert_eq!(claims["sub"], sub.as_str());
    assert_eq!(claims["aud"], "rs256-basic");
    assert_eq!(claims["email"], "ciba@example.com");
    assert!(out["refresh_token"].is_string());
    // The access token is an ordinary one.
    let res = reqwest::Client::new()
        .get(format!("{}/userinfo", p.url))
        .bearer_auth(text(&out["access_token"]))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(res.json::<Value>().await.unwrap()["sub"], sub.as_str());
    // The auth_req_id is spent.
    let res = token(
        &p,
        &[
            ("grant_type", "urn:openid:params:grant-type:ciba"),
            ("auth_req_id", text(&init["auth_req_id"])),
        ],
        Some(("rs256-basic", SECRET)),
    )
    .await;
    oauth_error(res, 400, "invalid_grant").await;
}

#[tokio::test]
async fn ciba_refuses_a_denial_an_unknown_user_and_a_long_binding_message() {
    let p = provider().await;
    let mut device = Device::enrol(&p, "ciba-deny@example.com").await;
    let (_, tokens) = sub_at(&p, &mut device, "rs256-basic").await;
    // Named by id_token_hint this time.
    let init = ciba_init(
        &p,
        "rs256-basic",
        json!({ "scope": "openid", "id_token_hint": tokens["id_token"] }),
    )
    .await;
    let req = device.next_request(&p).await;
    assert!(req.backchannel);
    assert_eq!(req.binding_message, None);
    device
        .respond(&req, Decision::Deny, None, "openid")
        .await
        .unwrap();
    let out = openid_client(&[
        "ciba-poll",
        &p.url,
        "rs256-basic",
        SECRET,
        &init.to_string(),
    ])
    .await;
    refused(&out, "access_denied");
    // §13: a hint that is nobody's…
    let out = ciba_init(
        &p,
        "rs256-basic",
        json!({ "scope": "openid", "login_hint": "nobody-this-client-knows" }),
    )
    .await;
    assert_eq!(refused(&out, "unknown_user_id")["status"], 400);
    // … or the sub another client (another sector) knows the user by.
    let (elsewhere, _) = sub_at(&p, &mut device, "other-sector").await;
    let out = ciba_init(
        &p,
        "rs256-basic",
        json!({ "scope": "openid", "login_hint": elsewhere }),
    )
    .await;
    refused(&out, "unknown_user_id");
    // §7.1: a binding message must fit a notification.
    let (sub, _) = sub_at(&p, &mut device, "rs256-basic").await;
    let long = "x".repeat(200);
    let out = ciba_init(
        &p,
        "rs256-basic",
        json!({ "scope": "openid", "login_hint": sub, "binding_message": long }),
    )
    .await;
    assert_eq!(refused(&out, "invalid_binding_message")["status"], 400);
}

/// A ping-mode client's notification endpoint: what it is POSTed
/// (`Authorization`, content type, body).
type Pings = Arc<Mutex<Vec<(String, String, String)>>>;

async fn ping_receiver() -> (String, Pings) {
    let got: Pings = Arc::default();
    let seen = Arc::clone(&got);
    let app = axum::Router::new().route(
        "/ciba-ping",
        axum::routing::post(move |headers: axum::http::HeaderMap, body: String| {
            let seen = Arc::clone(&seen);
            async move {
                let h = |name: &str| {
                    headers
                        .get(name)
                        .and_then(|v| v.to_str().ok())
                        .unwrap_or_default()
                        .to_string()
                };
                seen.lock()
                    .unwrap()
                    .push((h("authorization"), h("content-type"), body));
                axum::http::StatusCode::NO_CONTENT
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/ciba-ping", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    (url, got)
}

#[tokio::test]
async fn ciba_ping_tells_the_client_when_its_tokens_are_ready() {
    let (endpoint, pings) = ping_receiver().await;
    let p = provider_with(move |c| {
        c.clients.push(Client {
            backchannel_token_delivery_mode: Some("ping".into()),
            backchannel_client_notification_endpoint: Some(endpoint),
            ..client("ciba-ping", "ES256", AuthMethod::ClientSecretBasic)
        })
    })
    .await;
    let mut device = Device::enrol(&p, "ciba-ping@example.com").await;
    let (sub, _) = sub_at(&p, &mut device, "ciba-ping").await;
    // §7.1: a ping-mode request needs its client_notification_token.
    let out = ciba_init(
        &p,
        "ciba-ping",
        json!({ "scope": "openid", "login_hint": sub }),
    )
    .await;
    refused(&out, "invalid_request");
    let notification_token = "a-notification-token-for-this-request-0123";
    let init = ciba_init(
        &p,
        "ciba-ping",
        json!({
            "scope": "openid email",
            "login_hint": sub,
            "binding_message": "Ping 1",
            "client_notification_token": notification_token,
        }),
    )
    .await;
    let auth_req_id = text(&init["auth_req_id"]).to_string();
    let req = device.next_request(&p).await;
    assert!(req.backchannel);
    assert_eq!(req.binding_message.as_deref(), Some("Ping 1"));
    assert!(
        pings.lock().unwrap().is_empty(),
        "no ping before the answer"
    );
    device
        .respond(&req, Decision::Approve, None, "openid email")
        .await
        .unwrap();
    // §10.2: POST {"auth_req_id"} with the token as a Bearer token.
    let mut ping = None;
    for _ in 0..100 {
        if let Some(first) = pings.lock().unwrap().first().cloned() {
            ping = Some(first);
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let (authorization, content_type, body) = ping.expect("a ping within 10 s");
    assert_eq!(authorization, format!("Bearer {notification_token}"));
    assert!(
        content_type.starts_with("application/json"),
        "{content_type}"
    );
    let body: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(body, json!({ "auth_req_id": auth_req_id }));
    // Pinged, the client asks once, at once.
    let out = openid_client(&["ciba-token", &p.url, "ciba-ping", SECRET, &auth_req_id]).await;
    let claims = &granted(&out)["claims"];
    assert_eq!(claims["sub"], sub.as_str());
    assert_eq!(claims["email"], "ciba-ping@example.com");
    assert_eq!(pings.lock().unwrap().len(), 1, "pinged once");
}

// ---------------------------------------------------------------------
// Found by these tests and fixed: dpop_jkt (RFC 9449 §10), a proof at
// /par (§10.1), and access_denied at /token as a 400 (RFC 6749 §5.2).

#[tokio::test]
async fn a_code_requested_with_dpop_jkt_needs_a_proof_by_that_key() {
    let p = provider().await;
    let mut device = Device::enrol(&p, "dpop-jkt@example.com").await;
    // The thumbprint of a key the redeemer does not hold (§10's example).
    let jkt = "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs";
    let url = auth_url(&p, "rs256-basic", &[("dpop_jkt", jkt)]);
    let back = approve_in(&p, &mut device, &browser(), &url, "openid email").await;
    let code = param(&back, "code").unwrap();
    // §10: "If they do not match, it MUST reject the request" — and with
    // no proof at all there is nothing to match.
    let res = token(
        &p,
        &code_form(&code, VERIFIER),
        Some(("rs256-basic", SECRET)),
    )
    .await;
    let status = res.status();
    let body: Value = res.json().await.unwrap();
    assert_eq!(status, 400, "{body}");
    assert!(body.get("access_token").is_none(), "{body}");
}

#[tokio::test]
async fn a_dpop_proof_pushed_with_the_request_is_checked_and_binds_the_code() {
    let p = provider().await;
    let mut device = Device::enrol(&p, "par-dpop@example.com").await;
    // §10.1: "the authorization server MUST check the provided DPoP proof JWT".
    let res = push_raw(&p, Some(SECRET), &[("redirect_uri", REDIRECT)]).await;
    assert_eq!(res.status(), 201, "the same request without the header");
    let res = reqwest::Client::new()
        .post(format!("{}/par", p.url))
        .basic_auth("rs256-basic", Some(SECRET))
        .header("dpop", "not-a-dpop-proof")
        .form(&[
            ("response_type", "code"),
            ("scope", "openid"),
            ("redirect_uri", REDIRECT),
            ("code_challenge", &challenge()),
            ("code_challenge_method", "S256"),
        ])
        .send()
        .await
        .unwrap();
    oauth_error(res, 400, "invalid_dpop_proof").await;
    // openid-client attaches its proof to the push (buildAuthorizationUrlWithPAR
    // with a DPoP handle)…
    let auth = openid_client(&["par", &p.url, "rs256-basic", SECRET, REDIRECT, "new"]).await;
    assert!(sent_to(&p, &auth, "/par")[0]["dpop"].is_string());
    let back = approve_in(
        &p,
        &mut device,
        &browser(),
        text(&auth["url"]),
        "openid email",
    )
    .await;
    // … so the code is bound to its key as if by dpop_jkt: redeemed
    // without a proof, it is refused.
    let out = openid_client(&[
        "exchange",
        &p.url,
        "rs256-basic",
        SECRET,
        back.as_str(),
        text(&auth["verifier"]),
        text(&auth["state"]),
        text(&auth["nonce"]),
    ])
    .await;
    assert!(out.get("access_token").is_none(), "{out:#}");
    assert_eq!(out["error"]["error"], "invalid_dpop_proof", "{out:#}");
}

#[tokio::test]
async fn a_denied_polled_grant_is_a_400_token_error() {
    let p = provider().await;
    let mut device = Device::enrol(&p, "ciba-400@example.com").await;
    let (sub, _) = sub_at(&p, &mut device, "rs256-basic").await;
    let init = ciba_init(
        &p,
        "rs256-basic",
        json!({ "scope": "openid", "login_hint": sub }),
    )
    .await;
    let req = device.next_request(&p).await;
    device
        .respond(&req, Decision::Deny, None, "openid")
        .await
        .unwrap();
    let res = token(
        &p,
        &[
            ("grant_type", "urn:openid:params:grant-type:ciba"),
            ("auth_req_id", text(&init["auth_req_id"])),
        ],
        Some(("rs256-basic", SECRET)),
    )
    .await;
    // RFC 6749 §5.2: "HTTP 400 (Bad Request) status code (unless specified
    // otherwise)"; access_denied is one of the §5.2 errors of RFC 8628 §3.5
    // and CIBA Core §11, neither of which specifies otherwise.
    oauth_error(res, 400, "access_denied").await;
}
