//! The session iframe of OpenID Connect Session Management 1.0 in a real
//! browser: a relying party's page (`tests/browser/session-rp.html`, served
//! here by axum on origins of its own) frames the provider's iframe and
//! polls it with `client_id + " " + session_state`; Chromium, driven by
//! `tests/browser/session-iframe.mjs`, signs in (this test plays the
//! device), sees the page's frames answer `unchanged`, signs out in a
//! second tab and sees them answer `changed`. On the way: wrong session
//! states are never `unchanged`, and the iframe is framed only by the
//! registered clients' origins (`/{client_id}/iframe` by that client's
//! only).
//!
//! The provider and the relying party are both on 127.0.0.1, on different
//! ports: different origins, one site (the provider's cookies are
//! SameSite=Lax over http, and reach the framed iframe only within a site).
//!
//! Needs `/usr/bin/chromium` and `tests/browser/node_modules` (`bash .ci/setup
//! test`). Screenshots go to `tests/artifacts/browser/session-*.png`.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Instant;

use authentiq_protocol::payloads::Decision;
use authentiq_server::oidc::clients::{AuthMethod, Client};
use axum::http::header;
use axum::response::{Html, IntoResponse};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use tokio::net::TcpListener;

use crate::oidc::common;
use crate::support::chromium::{Script, artifacts_dir, one_at_a_time, pushed_request};
use crate::support::device::Device;
use crate::support::provider::Provider;

/// The relying party's page, with `{{OP}}` and `{{CLIENT_ID}}` to fill in.
const RP_PAGE: &str = include_str!("../../browser/session-rp.html");

const SHOTS: [&str; 8] = [
    "session-sign-in.png",
    "session-unchanged.png",
    "session-probes-rp.png",
    "session-probes-other.png",
    "session-probes-stranger.png",
    "session-logout.png",
    "session-signed-out.png",
    "session-changed.png",
];

/// A listener on 127.0.0.1 for a relying party origin, and that origin.
async fn origin() -> (TcpListener, String) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let origin = format!("http://{}", listener.local_addr().unwrap());
    (listener, origin)
}

/// Serves the relying party's page at `/cb` (the redirect URI) and
/// `/probe` on `listener`, for the provider at `op` and `client_id`.
fn serve_rp(listener: TcpListener, op: &str, client_id: &str) {
    let page = RP_PAGE
        .replace("{{OP}}", op)
        .replace("{{CLIENT_ID}}", client_id);
    let handler = move || {
        let page = page.clone();
        async move { ([(header::CACHE_CONTROL, "no-store")], Html(page)).into_response() }
    };
    let app = axum::Router::new()
        .route("/cb", axum::routing::get(handler.clone()))
        .route("/probe", axum::routing::get(handler));
    tokio::spawn(async move { axum::serve(listener, app).await });
}

/// A public client (PKCE) whose only redirect URI is `<origin>/cb`.
fn client_at(id: &str, name: &str, origin: &str) -> Client {
    Client {
        name: name.into(),
        redirect_uris: vec![format!("{origin}/cb")],
        client_uri: Some(format!("{origin}/")),
        ..common::client(id, "RS256", AuthMethod::None)
    }
}

/// Stops the script and fails with `msg` unless `ok`.
async fn ensure(script: &mut Script, ok: bool, msg: impl FnOnce() -> String) {
    if !ok {
        match script.fail(&msg()).await {}
    }
}

/// The script's next line `<want> <json>`, parsed.
async fn expect_json(script: &mut Script, want: &str) -> Value {
    let text = script.expect(want).await;
    match serde_json::from_str(&text) {
        Ok(v) => v,
        Err(e) => match script
            .fail(&format!("{want}: not JSON ({e}): {text}"))
            .await {},
    }
}

/// `{probe: [answer, ...]}` as a map.
fn answer_lists(v: &Value) -> BTreeMap<String, Vec<String>> {
    serde_json::from_value(v.clone()).unwrap_or_default()
}

/// The sources of the `frame-ancestors` directive a refusal quotes.
fn ancestors(refusal: &str) -> Option<BTreeSet<String>> {
    let start = refusal.find("\"frame-ancestors ")? + "\"frame-ancestors ".len();
    let end = refusal[start..].find('"')? + start;
    Some(
        refusal[start..end]
            .split_whitespace()
            .map(str::to_string)
            .collect(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn session_iframe_answers_unchanged_then_changed_after_logout_in_another_tab() {
    let _one = one_at_a_time().await;
    let started = Instant::now();
    for name in SHOTS {
        let _ = std::fs::remove_file(artifacts_dir().join(name));
    }

    // The relying party's origins: the client's, another client's, and one
    // no client has.
    let (rp_listener, rp) = origin().await;
    let (other_listener, other) = origin().await;
    let (stranger_listener, stranger) = origin().await;
    let clients = vec![
        client_at("rp", "Session RP", &rp),
        client_at("other", "Other RP", &other),
    ];
    let p = Provider::start_with(|c| c.clients = clients).await;
    serve_rp(rp_listener, &p.url, "rp");
    serve_rp(other_listener, &p.url, "other");
    serve_rp(stranger_listener, &p.url, "stranger");

    let email = "sid@example.com";
    let mut device = Device::enrol(&p, email).await;
    let redirect = format!("{rp}/cb");
    let authorize = common::with(
        &common::auth_url(&p, "rp", &[]),
        "redirect_uri",
        Some(&redirect),
    );
    let cfg = json!({
        "authorize": authorize,
        "op": p.url,
        "shots": artifacts_dir(),
        "email": email,
        "clientName": "Session RP",
        "clientId": "rp",
        "rp": rp,
        "other": {"origin": other, "clientId": "other"},
        "stranger": stranger,
    })
    .to_string();
    let mut script = Script::start("session-iframe.mjs", &[&cfg]);

    // 1. Signed in: back at the redirect URI with session_state, the
    // provider's cookies set, and session_state the hash of this client,
    // the RP's origin, the browser state cookie and the salt.
    let (req, number) = pushed_request(&mut script, &p, &mut device, "rp").await;
    if let Err(e) = device
        .respond(&req, Decision::Approve, Some(number), "openid email")
        .await
    {
        match script.fail(&format!("the device: {e:#}")).await {}
    }
    let back = script.expect("BACK ").await;
    let back = url::Url::parse(&back).unwrap();
    let param = |name: &str| common::param(&back, name);
    let session_state = param("session_state").unwrap_or_default();
    ensure(
        &mut script,
        param("code").is_some()
            && param("state").as_deref() == Some("st-1")
            && param("iss").as_deref() == Some(p.url.as_str())
            && !session_state.is_empty(),
        || format!("the authorization response lacks code, state, iss or session_state: {back}"),
    )
    .await;
    let cookies = expect_json(&mut script, "COOKIES ").await;
    let cookie = |name: &str| {
        cookies
            .as_array()
            .and_then(|all| all.iter().find(|c| c["name"] == name))
            .cloned()
    };
    let (sso, bs) = (cookie("aq_sso"), cookie("aq_bs"));
    ensure(
        &mut script,
        sso.as_ref().is_some_and(|c| c["httpOnly"] == true)
            && bs.as_ref().is_some_and(|c| {
                c["httpOnly"] == false && c["path"] == "/" && c["sameSite"] == "Lax"
            }),
        || format!("want aq_sso HttpOnly and aq_bs readable, Path=/, SameSite=Lax: {cookies}"),
    )
    .await;
    let browser_state = bs.as_ref().and_then(|c| c["value"].as_str()).unwrap_or("");
    let (hash, salt) = session_state
        .rsplit_once('.')
        .unwrap_or((session_state.as_str(), ""));
    let want = URL_SAFE_NO_PAD.encode(Sha256::digest(format!("rp {rp} {browser_state} {salt}")));
    ensure(&mut script, !salt.is_empty() && hash == want, || {
        format!(
            "session_state {session_state} is not base64url(SHA-256(\"rp {rp} <aq_bs> <salt>\")).<salt> \
             for aq_bs={browser_state:?} (want the hash {want})"
        )
    })
    .await;

    eprintln!("signed in: session_state={session_state} aq_bs={browser_state}");

    // 2. Both iframes (/check-session and /rp/iframe) answer "unchanged".
    let before = answer_lists(&expect_json(&mut script, "BEFORE ").await);
    eprintln!("signed in, the RP page's frames answered {before:?}");
    for name in ["check-session", "client-iframe"] {
        let got = before.get(name).cloned().unwrap_or_default();
        ensure(
            &mut script,
            !got.is_empty() && got.iter().all(|a| a == "unchanged"),
            || format!("signed in, the {name} frame answered {got:?}, not only \"unchanged\""),
        )
        .await;
    }

    // 3. Wrong session states are never "unchanged"; the iframes are framed
    // only by the clients' origins.
    let expected: [(&str, &str, Option<&str>); 11] = [
        ("again", "loaded", Some("unchanged")),
        ("garbled-hash", "loaded", Some("changed")),
        ("other-salt", "loaded", Some("changed")),
        ("no-salt", "loaded", Some("error")),
        ("garbage", "loaded", Some("error")),
        ("wrong-client", "loaded", Some("error")),
        ("client-iframe-from-other", "refused", None),
        // Framed by another client's origin, this client's session_state
        // is not that origin's.
        ("check-session-from-other", "loaded", Some("changed")),
        ("other-iframe-from-other", "loaded", Some("changed")),
        ("check-session-from-stranger", "refused", None),
        ("client-iframe-from-stranger", "refused", None),
    ];
    for (name, framed, answer) in expected {
        let got = expect_json(&mut script, &format!("PROBE {name} ")).await;
        let answers: Vec<String> =
            serde_json::from_value(got["answers"].clone()).unwrap_or_default();
        eprintln!(
            "probe {name}: {} at {}, {answers:?}",
            got["framed"], got["origin"]
        );
        ensure(&mut script, got["framed"] == framed, || {
            format!("probe {name}: want the iframe {framed}, got {got}")
        })
        .await;
        match answer {
            Some(want) => {
                ensure(
                    &mut script,
                    !answers.is_empty() && answers.iter().all(|a| a == want),
                    || format!("probe {name}: want only {want:?}, got {got}"),
                )
                .await;
            }
            None => {
                let real = answers.iter().any(|a| a != "timeout");
                let refusals: Vec<String> =
                    serde_json::from_value(got["refusal"].clone()).unwrap_or_default();
                ensure(&mut script, !real && !refusals.is_empty(), || {
                    format!("probe {name}: refused, so no answers, and Chromium says why: {got}")
                })
                .await;
                // What the refusals quote: /rp/iframe lets only rp's origin
                // frame it, /check-session every client's (the dashboard's
                // own client, at the provider's origin, among them).
                let sets: Vec<BTreeSet<String>> =
                    refusals.iter().filter_map(|r| ancestors(r)).collect();
                let want: BTreeSet<String> = if name.starts_with("client-iframe") {
                    [rp.clone()].into()
                } else {
                    [rp.clone(), other.clone(), p.url.clone()].into()
                };
                ensure(&mut script, sets.contains(&want), || {
                    format!(
                        "probe {name}: no refusal quotes frame-ancestors {want:?}: {refusals:?}"
                    )
                })
                .await;
            }
        }
    }

    // 4. Signed out in another tab: the provider's cookies are gone.
    let left = expect_json(&mut script, "LOGGED-OUT ").await;
    let left: Vec<String> = serde_json::from_value(left).unwrap_or_default();
    ensure(
        &mut script,
        !left.iter().any(|c| c == "aq_sso" || c == "aq_bs"),
        || format!("after the logout the provider's cookies are still {left:?}"),
    )
    .await;

    // 5. The RP tab's iframes, still polling, answer "changed".
    let after = answer_lists(&expect_json(&mut script, "AFTER ").await);
    eprintln!("signed out (cookies left: {left:?}), the RP page's frames answered {after:?}");
    for name in ["check-session", "client-iframe"] {
        let got = after.get(name).cloned().unwrap_or_default();
        ensure(&mut script, !got.is_empty(), || {
            format!("after the logout the {name} frame never answered")
        })
        .await;
        ensure(
            &mut script,
            got.iter().all(|a| a == "changed"),
            || {
                format!(
                    "after the logout the {name} frame answered {got:?}: every answer must be \"changed\" \
                     (\"unchanged\" means the iframe did not see the logout)"
                )
            },
        )
        .await;
    }
    script.expect("DONE").await;
    script.finish().await;
    for name in SHOTS {
        assert!(artifacts_dir().join(name).is_file(), "no screenshot {name}");
    }
    eprintln!("session iframe in the browser: {:.1?}", started.elapsed());
}
