//! Several devices per Authentiq ID: linking (an existing device's
//! signed, number-matched approval), listing, renaming and removing
//! devices, pushes to every device with the others withdrawn, and
//! recovery when every device is lost. The relying party is a CIBA
//! client, so a sign-in from either device ends in an ID token whose
//! `sub` can be compared.

mod link;
mod manage;
mod recovery;

use authentiq_protocol::devices::{DeviceChange, DeviceList, LinkAnswer, LinkStart};
use authentiq_protocol::jwt::{self, Claims};
use authentiq_protocol::payloads::{ChannelAuth, Decision, SignInResponse};
use reqwest::StatusCode;
use serde_json::Value;

use crate::ciba::GRANT;
use crate::common::*;

const RP: &str = "devices-rp";

/// A server with a CIBA client and a short recovery delay.
async fn server() -> TestServer {
    let mut c = test_client(RP);
    c.grant_types = vec![GRANT.into()];
    c.redirect_uris = vec![];
    c.response_types = vec![];
    TestServer::start_with(|cfg| {
        cfg.clients = vec![c];
        cfg.devices.recovery_delay_secs = 3600;
    })
    .await
}

/// Signs `claims` with `d`'s key for the identity `id` (`kid` = the
/// device, `sub` = the identity).
fn sign_for<T: serde::Serialize>(d: &Device, id: &str, claims: Claims<T>) -> String {
    jwt::sign_device(claims, &d.key, id).unwrap()
}

/// A channel of device `d` signing for identity `id`.
async fn channel_for(s: &TestServer, d: &Device, id: &str) -> reqwest::Response {
    let token = sign_for(
        d,
        id,
        Claims::new(ChannelAuth {})
            .audience(format!("{}/channel", s.url))
            .valid_for(s.state.now(), 60),
    );
    s.http
        .get(s.url("/channel"))
        .bearer_auth(token)
        .send()
        .await
        .unwrap()
}

/// The next event of `kind` on `channel` (others skipped), as its payload.
async fn next_event(channel: &mut SseReader, kind: &str) -> Value {
    loop {
        let ev = channel
            .next_within(5)
            .await
            .unwrap_or_else(|| panic!("no {kind} event"));
        if ev.event.as_deref() == Some(kind) {
            return jwt_payload(&ev.data);
        }
    }
}

/// Starts linking `new` to the identity `id`: the server's answer.
async fn start_link(s: &TestServer, new: &Device, id: &str) -> reqwest::Response {
    let token = new.sign(
        Claims::new(LinkStart {
            id: id.into(),
            name: "Work laptop".into(),
        })
        .audience(s.url("/link"))
        .valid_for(s.state.now(), 60),
    );
    s.post_jwt("/link", &token).await
}

/// `by`'s signed answer to a pairing, for the identity `id`.
fn link_answer(
    by: &Device,
    id: &str,
    pairing: &str,
    decision: Decision,
    number: Option<u16>,
) -> String {
    sign_for(
        by,
        id,
        Claims::new(LinkAnswer { decision, number })
            .audience(pairing)
            .valid_for(now(), 60),
    )
}

/// Posts an answer to a pairing (its full URL).
async fn post_answer(s: &TestServer, pairing: &str, token: &str) -> reqwest::Response {
    s.http
        .post(pairing)
        .header("content-type", "application/jwt")
        .body(token.to_string())
        .send()
        .await
        .unwrap()
}

/// Links `new` to `existing`'s identity `id`, approved with the number.
async fn link(s: &TestServer, existing: &Device, new: &Device, id: &str) {
    let res = start_link(s, new, id).await;
    assert_eq!(res.status(), StatusCode::CREATED);
    let started: Value = res.json().await.unwrap();
    let pairing = started["pairing"].as_str().unwrap();
    let number = started["number"].as_u64().unwrap() as u16;
    let token = link_answer(existing, id, pairing, Decision::Approve, Some(number));
    let res = post_answer(s, pairing, &token).await;
    assert_eq!(
        res.status(),
        StatusCode::OK,
        "{}",
        res.text().await.unwrap()
    );
}

/// A registered device A and a device B linked to its identity: A, B, the
/// ID (A's key) and A's revocation secret.
async fn linked_pair(s: &TestServer) -> (Device, Device, String, String) {
    let (a, b) = (Device::new(), Device::new());
    let secret = s.register(&a).await;
    let id = a.pk.clone();
    link(s, &a, &b, &id).await;
    (a, b, id, secret)
}

/// The `sub` the RP knows `id` by, remembered as if it signed them in.
async fn known_sub(s: &TestServer, id: &str) -> String {
    let client = authentiq_server::oidc::clients::find(&s.state, RP)
        .await
        .unwrap()
        .unwrap();
    let sub = authentiq_server::oidc::tokens::subject(&s.state, &client, id);
    let (pk, owned) = (id.to_string(), sub.clone());
    s.state
        .db
        .call(move |st| st.remember_subject(RP, &owned, &pk, now()))
        .await
        .unwrap();
    sub
}

/// A backchannel sign-in to the RP for `login_hint`, pushed to every
/// device of the identity (read on `channel`), answered by `answering`
/// for `id`: the ID token's `sub`.
async fn sign_in(
    s: &TestServer,
    login_hint: &str,
    channel: &mut SseReader,
    answering: &Device,
    id: &str,
) -> String {
    let started: Value = s
        .http
        .post(s.url("/bc-authorize"))
        .basic_auth(RP, Some(CLIENT_SECRET))
        .form(&[("scope", "openid"), ("login_hint", login_hint)])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let auth_req_id = started["auth_req_id"].as_str().unwrap().to_string();
    // Requests answered before may still be in the channel: the pending
    // one is the one not answered yet.
    loop {
        let req = next_event(channel, "sign-in").await;
        let session = req["session"].as_str().unwrap();
        let answer = sign_for(
            answering,
            id,
            Claims::new(SignInResponse {
                decision: Decision::Approve,
                nonce: req["nonce"].as_str().unwrap().into(),
                number: None,
                scope: "openid".into(),
                claims: Default::default(),
                grants: vec![],
                push_token: None,
                report: false,
            })
            .audience(session)
            .valid_for(s.state.now(), 60),
        );
        let res = s
            .http
            .post(session)
            .header("content-type", "application/jwt")
            .body(answer)
            .send()
            .await
            .unwrap();
        if res.status() == StatusCode::CONFLICT {
            continue;
        }
        assert_eq!(
            res.status(),
            StatusCode::OK,
            "{}",
            res.text().await.unwrap()
        );
        break;
    }
    s.state.clock.advance(6);
    let tokens: Value = s
        .http
        .post(s.url("/token"))
        .basic_auth(RP, Some(CLIENT_SECRET))
        .form(&[("grant_type", GRANT), ("auth_req_id", &auth_req_id)])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    jwt_payload(tokens["id_token"].as_str().expect("an ID token"))["sub"]
        .as_str()
        .unwrap()
        .to_string()
}

/// `by`'s device list of identity `id` (the response).
async fn list(s: &TestServer, by: &Device, id: &str) -> reqwest::Response {
    let path = format!("/key/{id}/devices/list");
    let token = sign_for(
        by,
        id,
        Claims::new(DeviceList {})
            .audience(s.url(&path))
            .valid_for(s.state.now(), 60),
    );
    s.post_jwt(&path, &token).await
}

/// Renames (`Some(name)`, PUT) or removes (`None`, DELETE) `device` of
/// identity `id`, signed by `by`.
async fn change(
    s: &TestServer,
    by: &Device,
    id: &str,
    device: &str,
    name: Option<&str>,
) -> reqwest::Response {
    let path = format!("/key/{id}/devices/{device}");
    let token = sign_for(
        by,
        id,
        Claims::new(DeviceChange {
            name: name.map(str::to_string),
        })
        .audience(s.url(&path))
        .valid_for(s.state.now(), 60),
    );
    let req = match name {
        Some(_) => s.http.put(s.url(&path)),
        None => s.http.delete(s.url(&path)),
    };
    req.header("content-type", "application/jwt")
        .body(token)
        .send()
        .await
        .unwrap()
}

/// The kinds in the security event log of identity `id`, oldest first.
async fn logged(s: &TestServer, id: &str) -> Vec<String> {
    let filter = authentiq_server::store::EventFilter {
        pk: Some(id.to_string()),
        ..Default::default()
    };
    let mut kinds: Vec<String> = s
        .state
        .db
        .call(move |st| st.list_security_events(&filter, 200))
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.kind)
        .collect();
    kinds.reverse();
    kinds
}
