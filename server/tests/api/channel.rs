//! `GET /channel`: the device channel.

use authentiq_protocol::jwt::Claims;
use authentiq_protocol::payloads::{ChannelAuth, ClaimScope};
use reqwest::StatusCode;

use crate::common::*;

const CB: &str = "/login?callback=https%3A%2F%2Frp.example%2Fcb";

#[tokio::test]
async fn opening_needs_a_fresh_channel_auth_for_the_server() {
    let s = TestServer::start().await;
    let d = Device::new();
    let res = s.get("/channel").await;
    assert_problem(res, 401, "auth-error").await;
    // Unknown key.
    assert_problem(open_channel(&s, &d, None).await, 404, "unknown-key").await;
    s.register(&d).await;
    // Wrong audience: e.g. a push token meant for a relying party.
    let for_rp = d.sign(
        Claims::new(ChannelAuth {})
            .audience("https://rp.example/")
            .valid_for(now(), 60),
    );
    let res = s
        .http
        .get(s.url("/channel"))
        .bearer_auth(for_rp)
        .send()
        .await
        .unwrap();
    assert_problem(res, 401, "aud-error").await;
    // A long-lived push token is refused before its audience is even read.
    let res = s
        .http
        .get(s.url("/channel"))
        .bearer_auth(d.push_token("https://rp.example/"))
        .send()
        .await
        .unwrap();
    assert_problem(res, 401, "auth-error").await;
    // Replayed.
    let t = d.channel_auth(&s);
    let first = s
        .http
        .get(s.url("/channel"))
        .bearer_auth(&t)
        .send()
        .await
        .unwrap();
    assert_eq!(first.status(), StatusCode::OK);
    assert_eq!(first.headers()["content-type"], "text/event-stream");
    let again = s
        .http
        .get(s.url("/channel"))
        .bearer_auth(&t)
        .send()
        .await
        .unwrap();
    assert_problem(again, 401, "auth-error").await;
    // Too long-lived.
    let long = d.sign(
        Claims::new(ChannelAuth {})
            .audience(format!("{}/channel", s.url))
            .valid_for(now(), 3600),
    );
    let res = s
        .http
        .get(s.url("/channel"))
        .bearer_auth(long)
        .send()
        .await
        .unwrap();
    assert_problem(res, 401, "auth-error").await;
    // Also accepted as a query parameter.
    let res = s
        .http
        .get(s.url(&format!("/channel?access_token={}", d.channel_auth(&s))))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
}

#[tokio::test]
async fn events_made_while_offline_are_replayed_from_last_event_id() {
    let s = TestServer::start().await;
    let d = Device::new();
    s.register(&d).await;
    let t = d.push_token("https://rp.example/");
    // Offline: two pushes.
    s.post_jwt(CB, &t).await;
    s.post_jwt(CB, &t).await;
    let mut events = SseReader::new(open_channel(&s, &d, None).await);
    let a = events.next_within(5).await.unwrap();
    let b = events.next_within(5).await.unwrap();
    assert_eq!(a.event.as_deref(), Some("sign-in"));
    assert_ne!(a.id, b.id);
    drop(events);
    // Offline again: one more; reconnecting after b gets only that one.
    s.post_jwt(CB, &t).await;
    let mut events = SseReader::new(open_channel(&s, &d, b.id.as_deref()).await);
    let c = events.next_within(5).await.unwrap();
    assert!(
        c.id.as_ref().unwrap().parse::<i64>().unwrap()
            > b.id.as_ref().unwrap().parse::<i64>().unwrap()
    );
    assert!(
        events.next_within(1).await.is_none(),
        "nothing else is replayed"
    );
    // Live events keep coming on the same stream.
    s.post_jwt(CB, &t).await;
    assert!(events.next_within(5).await.is_some());
}

#[tokio::test]
async fn expired_events_are_not_replayed() {
    let s = TestServer::start().await;
    let d = Device::new();
    s.register(&d).await;
    s.post_jwt(CB, &d.push_token("https://rp.example/")).await;
    s.state.clock.advance(6 * 60);
    let mut events = SseReader::new(open_channel(&s, &d, None).await);
    assert!(events.next_within(1).await.is_none());
}

#[tokio::test]
async fn scope_job_updates_reach_the_device() {
    let s = TestServer::start().await;
    let d = Device::new();
    s.register(&d).await;
    let mut events = SseReader::new(open_channel(&s, &d, None).await);
    s.verify(&d, ClaimScope::Email, "ch@example.com").await;
    let ev = events.next_within(5).await.unwrap();
    assert_eq!(ev.event.as_deref(), Some("scope-job"));
}

#[tokio::test]
async fn revocation_is_announced_and_closes_the_channel() {
    let s = TestServer::start().await;
    let d = Device::new();
    let secret = s.register(&d).await;
    let mut events = SseReader::new(open_channel(&s, &d, None).await);
    s.delete(&format!("/key/{}?secret={secret}", d.pk)).await;
    let ev = events.next_within(5).await.unwrap();
    assert_eq!(ev.event.as_deref(), Some("key-revoked"));
    assert!(events.next_within(5).await.is_none(), "the stream ends");
    assert_problem(open_channel(&s, &d, None).await, 410, "revoked-key").await;
}

#[tokio::test]
async fn a_client_that_does_not_read_never_blocks_the_others() {
    let s = TestServer::start().await;
    let d = Device::new();
    s.register(&d).await;
    // One connection that never reads, one that does.
    let _stalled = open_channel(&s, &d, None).await;
    let mut live = SseReader::new(open_channel(&s, &d, None).await);
    let other = Device::new();
    s.register(&other).await;
    let mut other_events = SseReader::new(open_channel(&s, &other, None).await);
    let t = d.push_token("https://rp.example/");
    let n = 60;
    for _ in 0..n {
        // Directly through the server state: the HTTP rate limit is not the point here.
        s.state.emit(&d.pk, scope_job_event(), 60).await.unwrap();
    }
    for _ in 0..n {
        assert!(live.next_within(5).await.is_some());
    }
    s.post_jwt(CB, &other.push_token("https://rp.example/"))
        .await;
    assert!(other_events.next_within(5).await.is_some());
    drop(t);
}

/// An event that changes nothing (only its delivery is tested).
fn scope_job_event() -> authentiq_protocol::payloads::DeviceEvent {
    authentiq_protocol::payloads::DeviceEvent::ScopeJob(
        authentiq_protocol::payloads::ScopeJobUpdate {
            job: "j".into(),
            status: "waiting".into(),
        },
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn events_emitted_concurrently_all_arrive_in_order() {
    let s = TestServer::start().await;
    let d = Device::new();
    s.register(&d).await;
    let mut events = SseReader::new(open_channel(&s, &d, None).await);
    let (tasks, each) = (8, 25);
    let emitters: Vec<_> = (0..tasks)
        .map(|_| {
            let (state, pk) = (s.state.clone(), d.pk.clone());
            tokio::spawn(async move {
                for _ in 0..each {
                    state.emit(&pk, scope_job_event(), 60).await.unwrap();
                }
            })
        })
        .collect();
    let mut ids = Vec::new();
    while ids.len() < tasks * each {
        let Some(ev) = events.next_within(10).await else {
            break;
        };
        ids.push(ev.id.unwrap().parse::<i64>().unwrap());
    }
    for e in emitters {
        e.await.unwrap();
    }
    assert_eq!(ids.len(), tasks * each, "events lost");
    assert!(ids.windows(2).all(|w| w[0] < w[1]), "out of order: {ids:?}");
}
