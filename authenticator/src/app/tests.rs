//! Tests of the authenticator object: sign-in links, requests pushed over
//! the channel (purposes, backchannel messages), approving with and without
//! a number, and signing out everywhere.

use authentiq_protocol::Validation;
use authentiq_protocol::jwt::{self, Claims};
use authentiq_protocol::payloads::{
    Decision as Answer, DeviceEvent, Purpose, SignInRequest, SignInResponse, SignOut,
};
use serde_json::json;

use super::*;
use crate::client::test_http::{http, serve_one};
use crate::keystore::MemoryKeyStore;

/// A profile on `server` whose key is in a memory key store.
fn profile_on(home: &Path, server: &str, keystore: &Arc<MemoryKeyStore>) -> Identity {
    let identity = Identity::generate().unwrap();
    keystore
        .store(&account("default", server), &identity.seed())
        .unwrap();
    let dir = home.join("default");
    std::fs::create_dir_all(&dir).unwrap();
    let profile = Profile {
        name: "default".into(),
        server: server.into(),
        pk: identity.id().to_string(),
        created_at: now(),
    };
    std::fs::write(
        dir.join("profile.json"),
        serde_json::to_vec(&profile).unwrap(),
    )
    .unwrap();
    identity
}

/// What the server pushes, signed by issuer key `kid`.
fn event(issuer: &ed25519_dalek::SigningKey, aud: &str, req: SignInRequest) -> String {
    let claims = Claims::new(DeviceEvent::SignIn(req))
        .audience(aud)
        .valid_for(now(), 300);
    jwt::sign_typed(&claims, issuer, "srv", DeviceEvent::TYP).unwrap()
}

/// A request as the server pushes it (read from JSON, as the app reads
/// it: fields the app does not know of yet stay at their defaults).
fn sign_in_request(session: &str, purpose: Purpose) -> SignInRequest {
    let mut req = json!({
        "session": session,
        "nonce": "n",
        "client": { "client_id": "shop", "name": "Test Shop" },
        "scope": "openid email~rs",
        "requester": { "ip": "192.0.2.1" },
        "numbers": [12, 47, 83],
    });
    if !purpose.is_sign_in() {
        req["purpose"] = serde_json::to_value(purpose).unwrap();
    }
    serde_json::from_value(req).unwrap()
}

#[test]
fn a_sign_in_link_gives_its_session_and_a_uri_is_itself() {
    let session = "http://127.0.0.1:8080/sign-in/abc?x=1";
    let link = format!(
        "authentiq://sign-in?session={}",
        url::form_urlencoded::byte_serialize(session.as_bytes()).collect::<String>()
    );
    assert_eq!(session_of_link(&link).unwrap(), session);
    assert_eq!(
        session_of_link(&format!(" {} ", link.replace("://", ":"))).unwrap(),
        session
    );
    assert_eq!(session_of_link(session).unwrap(), session);
    assert_eq!(session_of_link("not a url").unwrap(), "not a url");
    for bad in [
        "authentiq://revoke?session=x",
        "authentiq://sign-in?other=1",
        "authentiq://sign-in?session=",
    ] {
        assert!(
            matches!(session_of_link(bad), Err(AppError::Io(_))),
            "{bad}"
        );
    }
}

#[test]
fn a_pushed_request_keeps_its_purpose_and_one_without_is_a_sign_in() {
    let home = tempfile::tempdir().unwrap();
    let keystore = Arc::new(MemoryKeyStore::default());
    let identity = profile_on(home.path(), "http://127.0.0.1:9", &keystore);
    let app = Authenticator::open(home.path(), "default", keystore).unwrap();
    let issuer = ed25519_dalek::SigningKey::from_bytes(&[7; 32]);
    let x = authentiq_protocol::AuthentiqId::from_verifying_key(issuer.verifying_key())
        .unwrap()
        .to_string();
    let keys = ServerKeys::from_jwks(
        &json!({ "keys": [{ "kty": "OKP", "crv": "Ed25519", "kid": "srv", "x": x }] }),
    );
    let pk = identity.id().to_string();
    let mut labels = Vec::new();
    for (i, purpose) in [
        Purpose::Verification,
        Purpose::Reauthentication,
        // Sent without the field, as servers from before purposes do.
        Purpose::SignIn,
    ]
    .into_iter()
    .enumerate()
    {
        let token = event(&issuer, &pk, sign_in_request(&format!("s{i}"), purpose));
        if purpose == Purpose::SignIn {
            let payload = token.split('.').nth(1).unwrap();
            let payload =
                base64::Engine::decode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, payload)
                    .unwrap();
            assert!(!String::from_utf8(payload).unwrap().contains("purpose"));
        }
        let Some(Incoming::Request(r)) = app.accept(&keys, i as i64 + 1, &token).unwrap() else {
            panic!("no request for {purpose:?}");
        };
        assert_eq!(r.purpose, purpose);
        labels.push(r.label());
    }
    assert_eq!(
        labels,
        [
            "Verify your details for Test Shop",
            "Confirm it's you for Test Shop",
            "Sign in to Test Shop"
        ]
    );
    let mut inbox: Vec<(String, Purpose)> = app
        .inbox()
        .unwrap()
        .into_iter()
        .map(|r| (r.id, r.purpose))
        .collect();
    inbox.sort_by(|a, b| a.0.cmp(&b.0));
    assert_eq!(
        inbox,
        [
            ("1".into(), Purpose::Verification),
            ("2".into(), Purpose::Reauthentication),
            ("3".into(), Purpose::SignIn)
        ]
    );
    // The history records what it was.
    let r = app.pending_request("1").unwrap();
    app.record(&r, "denied", None).unwrap();
    let d = &app.history(1).unwrap()[0];
    assert_eq!(
        (d.purpose, d.label()),
        (
            Purpose::Verification,
            "Verify your details for Test Shop".to_string()
        )
    );
}

/// A profile on `server`, the issuer key its events verify with, and
/// its ID (the events' audience).
fn app_with_issuer(
    home: &Path,
    server: &str,
) -> (
    Authenticator,
    ServerKeys,
    ed25519_dalek::SigningKey,
    Identity,
) {
    let keystore = Arc::new(MemoryKeyStore::default());
    let identity = profile_on(home, server, &keystore);
    let app = Authenticator::open(home, "default", keystore).unwrap();
    let issuer = ed25519_dalek::SigningKey::from_bytes(&[7; 32]);
    let x = authentiq_protocol::AuthentiqId::from_verifying_key(issuer.verifying_key())
        .unwrap()
        .to_string();
    let keys = ServerKeys::from_jwks(
        &json!({ "keys": [{ "kty": "OKP", "crv": "Ed25519", "kid": "srv", "x": x }] }),
    );
    (app, keys, issuer, identity)
}

/// A CIBA request as the server pushes it: `backchannel`, and the
/// client's message if any.
fn backchannel_request(session: &str, message: Option<&str>) -> SignInRequest {
    let mut req = sign_in_request(session, Purpose::SignIn);
    req.scope = "openid".into();
    req.backchannel = true;
    req.binding_message = message.map(str::to_owned);
    req
}

#[test]
fn a_backchannel_request_keeps_its_message_as_plain_text() {
    let home = tempfile::tempdir().unwrap();
    let (app, keys, issuer, identity) = app_with_issuer(home.path(), "http://127.0.0.1:9");
    let pk = identity.id().to_string();
    let sent = [
        backchannel_request("s1", Some(" Order\u{202E} 1234\n\u{1b}[2J")),
        backchannel_request("s2", None),
        backchannel_request("s3", Some("\n\t")),
        // Only a backchannel request has a message to check.
        SignInRequest {
            binding_message: Some("ignored".into()),
            ..sign_in_request("s4", Purpose::SignIn)
        },
    ];
    let mut got = Vec::new();
    for (i, req) in sent.into_iter().enumerate() {
        let token = event(&issuer, &pk, req);
        let Some(Incoming::Request(r)) = app.accept(&keys, i as i64 + 1, &token).unwrap() else {
            panic!("no request {i}");
        };
        got.push((r.backchannel, r.binding_message.clone(), r.label()));
    }
    let ciba = |m: Option<&str>| {
        (
            true,
            m.map(str::to_owned),
            "Sign-in requested by Test Shop".to_string(),
        )
    };
    assert_eq!(
        got,
        [
            ciba(Some("Order 1234 [2J")),
            ciba(None),
            ciba(None),
            (false, None, "Sign in to Test Shop".into()),
        ]
    );
    // Kept so in the inbox, as `aq inbox` and the app read it.
    let inbox = app.inbox().unwrap();
    assert_eq!(inbox[0].binding_message.as_deref(), Some("Order 1234 [2J"));
    assert_eq!(
        inbox[0].binding_check().as_deref(),
        Some("Check that Test Shop shows: Order 1234 [2J")
    );
    assert!(inbox[0].backchannel && !inbox[3].backchannel);
}

#[tokio::test]
async fn a_backchannel_request_is_approved_without_a_number() {
    let home = tempfile::tempdir().unwrap();
    let (url, server) = serve_one(http(
        "200 OK",
        "application/json",
        r#"{"status":"approved"}"#,
    ))
    .await;
    let (app, keys, issuer, identity) = app_with_issuer(home.path(), &url);
    let session = format!("{url}/sign-in/ciba");
    let token = event(
        &issuer,
        &identity.id().to_string(),
        backchannel_request(&session, Some("Order 1234")),
    );
    let Some(Incoming::Request(r)) = app.accept(&keys, 1, &token).unwrap() else {
        panic!("no request");
    };
    // A number is refused before anything is sent.
    let err = app.approve(&r.id, Some(r.numbers[0]), &[], false).await;
    assert!(
        matches!(&err, Err(AppError::NoNumberToMatch(id, client)) if *id == r.id && client == "Test Shop"),
        "{err:?}"
    );
    let answered = app.approve(&r.id, None, &[], false).await.unwrap();
    assert!(answered.backchannel);
    let (head, body) = server.await.unwrap();
    assert!(head.starts_with("POST /sign-in/ciba HTTP/1.1"), "{head}");
    let (id, claims) =
        jwt::verify_self_signed::<SignInResponse>(&body, &Validation::at(now())).unwrap();
    assert_eq!(id, identity.id());
    assert_eq!(claims.body.decision, Answer::Approve);
    assert_eq!(claims.body.number, None, "no number in the answer");
    assert!(claims.registered.aud.unwrap().contains(&session));
    // The history keeps what it was.
    let d = &app.history(1).unwrap()[0];
    assert_eq!(
        (
            d.result.as_str(),
            d.backchannel,
            d.binding_message.as_deref()
        ),
        ("approved", true, Some("Order 1234"))
    );
    assert_eq!(d.label(), "Sign-in requested by Test Shop");
    assert!(app.inbox().unwrap().is_empty());
}

#[tokio::test]
async fn a_request_matched_by_number_is_not_approved_without_one() {
    let home = tempfile::tempdir().unwrap();
    // No listener: anything sent would fail as a network error.
    let (app, keys, issuer, identity) = app_with_issuer(home.path(), "http://127.0.0.1:9");
    let token = event(
        &issuer,
        &identity.id().to_string(),
        sign_in_request("http://127.0.0.1:9/sign-in/page", Purpose::SignIn),
    );
    let Some(Incoming::Request(r)) = app.accept(&keys, 1, &token).unwrap() else {
        panic!("no request");
    };
    let err = app.approve(&r.id, None, &[], false).await.unwrap_err();
    assert!(
        matches!(&err, AppError::NumberRequired(id, shown) if *id == r.id && shown == "12, 47, 83"),
        "{err:?}"
    );
    assert!(err.to_string().contains("--number"), "{err}");
    assert!(matches!(
        app.approve(&r.id, Some(5), &[], false).await,
        Err(AppError::NotACandidate(5, _))
    ));
    // Still pending, nothing recorded.
    assert_eq!(app.inbox().unwrap().len(), 1);
    assert!(app.history(10).unwrap().is_empty());
}

#[tokio::test]
async fn sign_out_everywhere_posts_a_fresh_token_of_this_key_to_its_path() {
    let home = tempfile::tempdir().unwrap();
    let (url, server) = serve_one(http(
        "200 OK",
        "application/json",
        r#"{"status":"done","clients_told":3}"#,
    ))
    .await;
    let keystore = Arc::new(MemoryKeyStore::default());
    let identity = profile_on(home.path(), &url, &keystore);
    let app = Authenticator::open(home.path(), "default", keystore).unwrap();
    assert_eq!(app.sign_out_everywhere().await.unwrap(), 3);
    let (head, body) = server.await.unwrap();
    assert!(
        head.starts_with(&format!("POST /key/{}/signout HTTP/1.1", identity.id())),
        "{head}"
    );
    // What the server checks: self-signed by the key in the path, with
    // a jti to spend and a short lifetime.
    let (id, claims) = jwt::verify_self_signed::<SignOut>(&body, &Validation::at(now())).unwrap();
    assert_eq!(id, identity.id());
    let r = &claims.registered;
    assert!(r.jti.as_deref().is_some_and(|j| !j.is_empty()));
    assert!(r.exp.unwrap() - now() <= 300, "{r:?}");
}

#[tokio::test]
async fn sign_out_everywhere_without_the_key_sends_nothing() {
    let home = tempfile::tempdir().unwrap();
    // No listener: a request would fail as a network error, not KeyMissing.
    let keystore = Arc::new(MemoryKeyStore::default());
    profile_on(home.path(), "http://127.0.0.1:9", &keystore);
    let empty = Arc::new(MemoryKeyStore::default());
    let app = Authenticator::open(home.path(), "default", empty).unwrap();
    assert!(matches!(
        app.sign_out_everywhere().await,
        Err(AppError::KeyMissing)
    ));
}

#[tokio::test]
async fn a_refused_sign_out_is_the_servers_problem() {
    let home = tempfile::tempdir().unwrap();
    let (url, server) = serve_one(http(
        "410 Gone",
        "application/problem+json",
        r#"{"error":410,"type":"revoked-key","title":"Key is revoked","detail":"this Authentiq ID was revoked"}"#,
    ))
    .await;
    let keystore = Arc::new(MemoryKeyStore::default());
    profile_on(home.path(), &url, &keystore);
    let app = Authenticator::open(home.path(), "default", keystore).unwrap();
    let err = app.sign_out_everywhere().await.unwrap_err();
    server.await.unwrap();
    assert!(
        matches!(
            &err,
            AppError::Server(ClientError::Refused { status: 410, kind, .. }) if kind == "revoked-key"
        ),
        "{err:?}"
    );
    // The key stays: signing out is not revoking.
    assert!(app.identity().is_ok());
}
