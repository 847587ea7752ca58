//! Linking a device, and pushes reaching every device of the identity.

use authentiq_protocol::payloads::Decision;
use reqwest::StatusCode;
use serde_json::Value;

use super::*;

#[tokio::test]
async fn a_linked_device_signs_in_as_the_same_identity_and_the_other_push_is_withdrawn() {
    let s = server().await;
    let (a, b) = (Device::new(), Device::new());
    s.register(&a).await;
    let id = a.pk.clone();
    let mut a_channel = SseReader::new(open_channel(&s, &a, None).await);

    // B asks; A is pushed the request with where it comes from.
    let res = start_link(&s, &b, &id).await;
    assert_eq!(res.status(), StatusCode::CREATED);
    let started: Value = res.json().await.unwrap();
    let pairing = started["pairing"].as_str().unwrap().to_string();
    let number = started["number"].as_u64().unwrap() as u16;
    let pushed = next_event(&mut a_channel, "link-request").await;
    assert_eq!(pushed["pairing"], pairing.as_str());
    assert_eq!(pushed["device"], b.pk.as_str());
    assert_eq!(pushed["name"], "Work laptop");
    assert_eq!(pushed["aud"], id.as_str());
    assert!(pushed["requester"]["ip"].is_string());
    let numbers: Vec<u64> = serde_json::from_value(pushed["numbers"].clone()).unwrap();
    assert!(numbers.contains(&u64::from(number)));
    // Not linked yet: B's key is nobody's.
    assert_problem(channel_for(&s, &b, &id).await, 404, "unknown-key").await;
    assert_eq!(
        s.get(&pairing.replace(&s.url, ""))
            .await
            .json::<Value>()
            .await
            .unwrap()["status"],
        "pending"
    );

    let res = post_answer(
        &s,
        &pairing,
        &link_answer(&a, &id, &pairing, Decision::Approve, Some(number)),
    )
    .await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.json::<Value>().await.unwrap()["status"], "approved");
    assert_eq!(
        next_event(&mut a_channel, "withdrawn").await["request"],
        pairing.as_str()
    );
    assert_eq!(
        s.get(&pairing.replace(&s.url, ""))
            .await
            .json::<Value>()
            .await
            .unwrap()["status"],
        "approved"
    );

    // B's channel carries the identity's events; both devices are listed.
    let mut b_channel = SseReader::new(channel_for(&s, &b, &id).await);
    let devices: Value = list(&s, &b, &id).await.json().await.unwrap();
    assert_eq!(devices["this_device"], b.pk.as_str());
    let listed: Vec<&str> = devices["devices"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["device"].as_str().unwrap())
        .collect();
    assert_eq!(listed, [a.pk.as_str(), b.pk.as_str()]);
    assert_eq!(devices["devices"][1]["name"], "Work laptop");
    assert!(
        devices["devices"][1]["last_used_at"].is_i64(),
        "B just signed"
    );

    // Signing in from either device: the RP sees one sub. The push reaches
    // both; the one not answering is told the request is withdrawn.
    let sub = known_sub(&s, &id).await;
    assert_eq!(sign_in(&s, &sub, &mut b_channel, &b, &id).await, sub);
    let on_a = next_event(&mut a_channel, "sign-in").await;
    let withdrawn = next_event(&mut a_channel, "withdrawn").await;
    assert_eq!(withdrawn["request"], on_a["session"]);
    assert_eq!(withdrawn["outcome"], "approved");
    assert_eq!(sign_in(&s, &sub, &mut a_channel, &a, &id).await, sub);
    // A v6 token of B's own key (sub = kid) speaks for its identity too.
    assert_eq!(open_channel(&s, &b, None).await.status(), StatusCode::OK);
    assert_eq!(sign_in(&s, &sub, &mut b_channel, &b, &b.pk).await, sub);

    let kinds = logged(&s, &id).await;
    for k in ["link-requested", "link-approved", "sign-in-approved"] {
        assert!(kinds.iter().any(|x| x == k), "{k} in {kinds:?}");
    }
}

#[tokio::test]
async fn linking_needs_a_signed_approval_from_the_identity_with_the_right_number() {
    let s = server().await;
    let (a, b, stranger) = (Device::new(), Device::new(), Device::new());
    s.register(&a).await;
    s.register(&stranger).await;
    let id = a.pk.clone();
    let started: Value = start_link(&s, &b, &id).await.json().await.unwrap();
    let pairing = started["pairing"].as_str().unwrap().to_string();
    let number = started["number"].as_u64().unwrap() as u16;

    // The new key cannot approve itself: it is no device.
    let res = post_answer(
        &s,
        &pairing,
        &link_answer(&b, &id, &pairing, Decision::Approve, Some(number)),
    )
    .await;
    assert_problem(res, 404, "unknown-key").await;
    // Another identity's device cannot approve, even naming this ID.
    let res = post_answer(
        &s,
        &pairing,
        &link_answer(&stranger, &id, &pairing, Decision::Approve, Some(number)),
    )
    .await;
    assert_problem(res, 401, "auth-error").await;
    let res = post_answer(
        &s,
        &pairing,
        &link_answer(
            &stranger,
            &stranger.pk,
            &pairing,
            Decision::Approve,
            Some(number),
        ),
    )
    .await;
    assert_problem(res, 401, "auth-error").await;
    // An approval for another pairing does not pass for this one.
    let other = format!("{}/link/other", s.url);
    let res = post_answer(
        &s,
        &pairing,
        &link_answer(&a, &id, &other, Decision::Approve, Some(number)),
    )
    .await;
    assert_problem(res, 401, "aud-error").await;

    // A wrong number refuses the request, once and for all.
    let wrong = (1..=99).find(|n| *n != number).unwrap();
    let res = post_answer(
        &s,
        &pairing,
        &link_answer(&a, &id, &pairing, Decision::Approve, Some(wrong)),
    )
    .await;
    assert_problem(res, 403, "wrong-number").await;
    let res = post_answer(
        &s,
        &pairing,
        &link_answer(&a, &id, &pairing, Decision::Approve, Some(number)),
    )
    .await;
    assert_problem(res, 409, "conflict").await;
    assert_problem(channel_for(&s, &b, &id).await, 404, "unknown-key").await;

    // A denial too; and an approval arriving twice at once links once.
    let started: Value = start_link(&s, &b, &id).await.json().await.unwrap();
    let pairing = started["pairing"].as_str().unwrap().to_string();
    let res = post_answer(
        &s,
        &pairing,
        &link_answer(&a, &id, &pairing, Decision::Deny, None),
    )
    .await;
    assert_eq!(res.json::<Value>().await.unwrap()["status"], "refused");
    assert_problem(channel_for(&s, &b, &id).await, 404, "unknown-key").await;
    let started: Value = start_link(&s, &b, &id).await.json().await.unwrap();
    let pairing = started["pairing"].as_str().unwrap().to_string();
    let number = started["number"].as_u64().unwrap() as u16;
    let (t1, t2) = (
        link_answer(&a, &id, &pairing, Decision::Approve, Some(number)),
        link_answer(&a, &id, &pairing, Decision::Approve, Some(number)),
    );
    let (r1, r2) = tokio::join!(
        post_answer(&s, &pairing, &t1),
        post_answer(&s, &pairing, &t2)
    );
    let mut statuses = [r1.status().as_u16(), r2.status().as_u16()];
    statuses.sort();
    assert_eq!(statuses, [200, 409]);
    assert_eq!(channel_for(&s, &b, &id).await.status(), StatusCode::OK);

    // A linked key cannot register as an ID of its own, nor link again.
    assert_problem(
        s.post_jwt("/key", &b.registration()).await,
        409,
        "duplicate-key",
    )
    .await;
    assert_problem(start_link(&s, &b, &id).await, 409, "duplicate-key").await;
    let kinds = logged(&s, &id).await;
    assert_eq!(
        kinds.iter().filter(|k| *k == "link-refused").count(),
        2,
        "{kinds:?}"
    );
    assert_eq!(
        kinds.iter().filter(|k| *k == "link-approved").count(),
        1,
        "{kinds:?}"
    );
}

#[tokio::test]
async fn a_link_request_for_an_unknown_or_revoked_id_or_with_a_bad_name_is_refused() {
    let s = server().await;
    let (a, b) = (Device::new(), Device::new());
    let secret = s.register(&a).await;
    assert_problem(start_link(&s, &b, &b.pk).await, 404, "unknown-key").await;
    let token = b.sign(
        authentiq_protocol::jwt::Claims::new(authentiq_protocol::devices::LinkStart {
            id: a.pk.clone(),
            name: " \u{7} ".into(),
        })
        .audience(s.url("/link"))
        .valid_for(s.state.now(), 60),
    );
    assert_problem(s.post_jwt("/link", &token).await, 400, "bad-request").await;
    s.delete(&format!("/key/{}?secret={secret}", a.pk)).await;
    assert_problem(start_link(&s, &b, &a.pk).await, 410, "revoked-key").await;
    assert_problem(s.get("/link/nothing-here").await, 404, "not-found").await;
}
