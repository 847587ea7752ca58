//! Renaming and removing devices; revoking the whole ID.

use reqwest::StatusCode;
use serde_json::Value;

use super::*;

#[tokio::test]
async fn a_removed_device_stops_at_once_and_the_identity_stays() {
    let s = server().await;
    let (a, b, id, _) = linked_pair(&s).await;
    let c = Device::new();
    let sub = known_sub(&s, &id).await;

    // Renamed from the other device.
    let res = change(&s, &a, &id, &b.pk, Some("Old laptop")).await;
    assert_eq!(res.status(), StatusCode::OK);
    let devices: Value = list(&s, &a, &id).await.json().await.unwrap();
    assert_eq!(devices["devices"][1]["name"], "Old laptop");
    assert_problem(
        change(&s, &a, &id, &b.pk, Some("")).await,
        400,
        "bad-request",
    )
    .await;
    // Another identity's device, or an unknown one, is not found.
    let stranger = Device::new();
    s.register(&stranger).await;
    assert_problem(
        change(&s, &a, &id, &stranger.pk, Some("Mine")).await,
        404,
        "unknown-key",
    )
    .await;
    assert_problem(
        change(&s, &stranger, &stranger.pk, &b.pk, None).await,
        404,
        "unknown-key",
    )
    .await;

    // B is removed from A: its open channel ends, its key stops at once.
    let mut b_channel = SseReader::new(channel_for(&s, &b, &id).await);
    let mut a_channel = SseReader::new(open_channel(&s, &a, None).await);
    assert_eq!(
        change(&s, &a, &id, &b.pk, None).await.status(),
        StatusCode::OK
    );
    assert_eq!(
        next_event(&mut b_channel, "device-removed").await["device"],
        b.pk.as_str()
    );
    assert!(b_channel.next_within(3).await.is_none(), "B's channel ends");
    assert_eq!(
        next_event(&mut a_channel, "device-removed").await["device"],
        b.pk.as_str()
    );
    assert_problem(channel_for(&s, &b, &id).await, 410, "revoked-key").await;
    assert_problem(list(&s, &b, &id).await, 410, "revoked-key").await;
    // A removed device's key cannot approve a link.
    let res = start_link(&s, &c, &id).await;
    let started: Value = res.json().await.unwrap();
    let pairing = started["pairing"].as_str().unwrap().to_string();
    let number = started["number"].as_u64().unwrap() as u16;
    let res = post_answer(
        &s,
        &pairing,
        &link_answer(
            &b,
            &id,
            &pairing,
            authentiq_protocol::payloads::Decision::Approve,
            Some(number),
        ),
    )
    .await;
    assert_problem(res, 410, "revoked-key").await;
    // Nor register again, nor be linked again.
    assert_problem(
        s.post_jwt("/key", &b.registration()).await,
        409,
        "duplicate-key",
    )
    .await;
    assert_problem(start_link(&s, &b, &id).await, 409, "duplicate-key").await;

    // A keeps working, as the same identity at the RP.
    assert_eq!(sign_in(&s, &sub, &mut a_channel, &a, &id).await, sub);
    let devices: Value = list(&s, &a, &id).await.json().await.unwrap();
    assert_eq!(devices["devices"].as_array().unwrap().len(), 1);
    // The last device is not removed (revoking the ID is its own flow).
    assert_problem(change(&s, &a, &id, &a.pk, None).await, 409, "last-device").await;

    let kinds = logged(&s, &id).await;
    for k in ["device-renamed", "device-removed"] {
        assert!(kinds.iter().any(|x| x == k), "{k} in {kinds:?}");
    }
}

#[tokio::test]
async fn a_removed_device_hears_nothing_more_even_before_the_event_that_says_so() {
    use authentiq_protocol::payloads::{DeviceEvent, ScopeJobUpdate};
    let s = server().await;
    let (a, b, id, _) = linked_pair(&s).await;
    let mut b_channel = SseReader::new(channel_for(&s, &b, &id).await);
    let mut a_channel = SseReader::new(open_channel(&s, &a, None).await);
    // What the channels replay (the link) is read first.
    while b_channel.next_within(1).await.is_some() {}
    // B removed in the store, and no event says so yet (it is written
    // after the removal, or its write failed): the identity's next event
    // reaches A but not B, whose channel ends.
    let (pk, at) = (b.pk.clone(), s.state.now());
    s.state
        .db
        .call(move |st| st.remove_device(&pk, at))
        .await
        .unwrap();
    let event = DeviceEvent::ScopeJob(ScopeJobUpdate {
        job: "after-the-removal".into(),
        status: "confirmed".into(),
    });
    s.state.emit(&id, event, 60).await.unwrap();
    assert_eq!(
        next_event(&mut a_channel, "scope-job").await["job"],
        "after-the-removal"
    );
    assert!(b_channel.next_within(4).await.is_none(), "B hears nothing");
}

#[tokio::test]
async fn the_first_device_can_be_removed_and_the_id_and_its_sub_stay() {
    let s = server().await;
    let (a, b, id, _) = linked_pair(&s).await;
    let sub = known_sub(&s, &id).await;
    // B removes A, the key whose PK is the ID.
    assert_eq!(
        change(&s, &b, &id, &a.pk, None).await.status(),
        StatusCode::OK
    );
    assert_problem(open_channel(&s, &a, None).await, 410, "revoked-key").await;
    let res = s.get(&format!("/key/{id}")).await;
    assert_eq!(res.status(), StatusCode::OK, "the ID stays");
    let mut b_channel = SseReader::new(channel_for(&s, &b, &id).await);
    assert_eq!(sign_in(&s, &sub, &mut b_channel, &b, &id).await, sub);
}

#[tokio::test]
async fn revoking_the_id_ends_every_device_of_it() {
    let s = server().await;
    let (a, b, id, secret) = linked_pair(&s).await;
    let mut b_channel = SseReader::new(channel_for(&s, &b, &id).await);
    let res = s
        .http
        .delete(s.url(&format!("/key/{id}")))
        .bearer_auth(&secret)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    next_event(&mut b_channel, "key-revoked").await;
    assert!(b_channel.next_within(3).await.is_none(), "B's channel ends");
    assert_problem(channel_for(&s, &b, &id).await, 410, "revoked-key").await;
    assert_problem(open_channel(&s, &a, None).await, 410, "revoked-key").await;
}
