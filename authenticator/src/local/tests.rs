//! Tests of the local state: the inbox (ids, dedupe, expiry, purging), the
//! history and the meta pairs; the migrations' tests are in `migrations.rs`.

use std::path::Path;

use rusqlite::params;

use super::*;
use crate::purpose::Purpose;

mod migrations;

fn req(id: &str, session: &str, expires_at: i64) -> Request {
    Request {
        id: id.into(),
        session: session.into(),
        purpose: Purpose::SignIn,
        backchannel: false,
        binding_message: None,
        event: "jwt".into(),
        client_id: "c".into(),
        client_name: "C".into(),
        client_uri: None,
        scope: "openid".into(),
        ip: "127.0.0.1".into(),
        user_agent: None,
        numbers: [11, 22, 33],
        nonce: "n".into(),
        received_at: 1,
        expires_at,
        state: "pending".into(),
    }
}

#[test]
fn inbox_dedupes_and_never_offers_expired_requests() {
    let dir = tempfile::tempdir().unwrap();
    let l = Local::open(&dir.path().join("l.sqlite3")).unwrap();
    let mut a = req("", "s1", 100);
    assert!(l.add_request(&mut a, 0).unwrap());
    assert_eq!(a.id, "1", "ids are the inbox's: a counter");
    let mut again = req("other", "s1", 100);
    assert!(!l.add_request(&mut again, 0).unwrap(), "same session twice");
    assert_eq!(again.id, a.id, "a known session keeps its id");
    let mut b = req("", "s2", 50);
    assert!(l.add_request(&mut b, 0).unwrap());
    assert_eq!(b.id, "2");
    let ids: Vec<_> = l.pending(60).unwrap().into_iter().map(|r| r.id).collect();
    assert_eq!(ids, [a.id.clone()]);
    l.set_request_state(&a.id, "approved").unwrap();
    assert!(l.pending(60).unwrap().is_empty());
    // Answered, the request stays until well after its expiry: a replay
    // of its event changes nothing.
    let mut replay = req("", "s1", 100);
    assert!(!l.add_request(&mut replay, 99).unwrap());
    assert_eq!(l.request(&a.id).unwrap().unwrap().state, "approved");
    assert_eq!(l.request(&a.id).unwrap().unwrap().numbers, [11, 22, 33]);
    assert_eq!(l.purge(100 + KEEP_AFTER_EXPIRY).unwrap(), 1, "b, expired");
    assert!(l.request(&a.id).unwrap().is_some());
    assert_eq!(l.purge(101 + KEEP_AFTER_EXPIRY).unwrap(), 1, "a");
    assert_eq!(l.request(&a.id).unwrap(), None);
}

#[test]
fn the_inbox_and_the_history_keep_what_a_request_is_for() {
    let l = Local::open(Path::new(":memory:")).unwrap();
    for (session, p) in [
        ("s1", Purpose::SignIn),
        ("s2", Purpose::Verification),
        ("s3", Purpose::Reauthentication),
    ] {
        let mut r = req("", session, 100);
        r.purpose = p;
        l.add_request(&mut r, 0).unwrap();
        let kept = l.request(&r.id).unwrap().unwrap();
        assert_eq!(kept.purpose, p, "{session}");
        l.record(&Decision {
            request_id: r.id.clone(),
            purpose: kept.purpose,
            backchannel: false,
            binding_message: None,
            client_id: "c".into(),
            client_name: "C".into(),
            ip: "1.2.3.4".into(),
            user_agent: None,
            decided_at: 1,
            result: "approved".into(),
            detail: None,
        })
        .unwrap();
    }
    let pending: Vec<_> = l.pending(0).unwrap().iter().map(Request::label).collect();
    assert_eq!(
        pending,
        [
            "Sign in to C",
            "Verify your details for C",
            "Confirm it's you for C"
        ]
    );
    let history: Vec<_> = l.history(10).unwrap().iter().map(|d| d.purpose).collect();
    assert_eq!(
        history,
        [
            Purpose::Reauthentication,
            Purpose::Verification,
            Purpose::SignIn
        ]
    );
    // The CLI's JSON spells it as the protocol does.
    let json = serde_json::to_value(&l.pending(0).unwrap()[1]).unwrap();
    assert_eq!(json["purpose"], "verification");
}

#[test]
fn the_inbox_and_the_history_keep_a_backchannel_request_and_its_message() {
    let l = Local::open(Path::new(":memory:")).unwrap();
    let mut ciba = req("", "s1", 100);
    ciba.backchannel = true;
    ciba.binding_message = Some("Order <1234> & co".into());
    l.add_request(&mut ciba, 0).unwrap();
    let mut quiet = req("", "s2", 100);
    quiet.backchannel = true;
    l.add_request(&mut quiet, 0).unwrap();
    let mut page = req("", "s3", 100);
    l.add_request(&mut page, 0).unwrap();
    let kept: Vec<(bool, Option<String>, String)> = l
        .pending(0)
        .unwrap()
        .into_iter()
        .map(|r| (r.backchannel, r.binding_message.clone(), r.label()))
        .collect();
    assert_eq!(
        kept,
        [
            (
                true,
                Some("Order <1234> & co".into()),
                "Sign-in requested by C".into()
            ),
            (true, None, "Sign-in requested by C".into()),
            (false, None, "Sign in to C".into()),
        ]
    );
    let r = l.request(&ciba.id).unwrap().unwrap();
    assert_eq!(
        r.binding_check().as_deref(),
        Some("Check that C shows: Order <1234> & co")
    );
    assert_eq!(l.request(&page.id).unwrap().unwrap().binding_check(), None);
    for r in [&r, &page] {
        l.record(&Decision {
            request_id: r.id.clone(),
            purpose: r.purpose,
            backchannel: r.backchannel,
            binding_message: r.binding_message.clone(),
            client_id: "c".into(),
            client_name: "C".into(),
            ip: "1.2.3.4".into(),
            user_agent: None,
            decided_at: 1,
            result: "approved".into(),
            detail: None,
        })
        .unwrap();
    }
    let h = l.history(10).unwrap();
    assert_eq!(
        (h[1].backchannel, h[1].binding_message.as_deref()),
        (true, Some("Order <1234> & co"))
    );
    assert_eq!(h[1].label(), "Sign-in requested by C");
    assert_eq!(
        (h[0].backchannel, h[0].binding_message.as_deref()),
        (false, None)
    );
    // The CLI's JSON names both, always.
    let json = serde_json::to_value(&r).unwrap();
    assert_eq!(json["backchannel"], true);
    assert_eq!(json["binding_message"], "Order <1234> & co");
    let json = serde_json::to_value(&page).unwrap();
    assert_eq!(json["backchannel"], false);
    assert_eq!(json["binding_message"], serde_json::Value::Null);
}

#[test]
fn request_ids_are_never_reused_in_a_profile() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("l.sqlite3");
    let l = Local::open(&path).unwrap();
    // Rows from before the counter: its ids are skipped.
    for (id, session) in [("2", "old-a"), ("3", "old-b")] {
        let r = req(id, session, 100);
        l.conn
            .execute(
                "INSERT INTO requests (id, session, event, client_id, client_name, scope, ip,
                    numbers, nonce, received_at, expires_at, state)
                 VALUES (?1, ?2, '', '', '', '', '', '[1,2,3]', '', 0, ?3, 'pending')",
                params![r.id, r.session, r.expires_at],
            )
            .unwrap();
    }
    let add = |l: &Local, session: &str| {
        let mut r = req("", session, 100);
        assert!(l.add_request(&mut r, 0).unwrap());
        r.id
    };
    assert_eq!(add(&l, "s1"), "1");
    assert_eq!(add(&l, "s2"), "4");
    drop(l);
    // Reopened, and after the identity is reset: still counting on.
    let l = Local::open(&path).unwrap();
    assert_eq!(add(&l, "s3"), "5");
    l.reset_identity().unwrap();
    assert_eq!(add(&l, "s4"), "6");
}

fn rows(l: &Local) -> i64 {
    l.conn
        .query_row("SELECT count(*) FROM requests", [], |r| r.get(0))
        .unwrap()
}

/// Months of sign-ins through one inbox: each one is added, offered and
/// answerable by its id until it is answered or expires, none is ever
/// dropped or mistaken for another, a replayed event is a no-op, and
/// what is answered or expired goes in time (the inbox stays small).
/// (With the old ids, 6 hex digits of the session's hash inserted with
/// `INSERT OR IGNORE`, 10 of these 20,000 sessions were silently
/// dropped: their ids collided with earlier ones, never purged.)
#[test]
fn twenty_thousand_sign_ins_none_dropped_and_the_answered_and_expired_purged() {
    const N: usize = 20_000;
    const LIFETIME: i64 = 120;
    struct Live {
        id: String,
        session: String,
        expires_at: i64,
        /// When the user answers it; `None`: left to expire.
        answer_at: Option<i64>,
        answered: bool,
    }
    // In memory: the same SQL, without 20,000 fsyncs.
    let l = Local::open(Path::new(":memory:")).unwrap();
    let mut now: i64 = 1_800_000_000;
    // Requests not expired yet, by arrival (so by expiry).
    let mut live: std::collections::VecDeque<Live> = Default::default();
    let mut ids = std::collections::HashSet::new();
    let mut answered: Vec<(String, String)> = Vec::new();
    let (mut approved, mut denied, mut expired, mut replays) = (0, 0, 0, 0);
    for i in 0..N {
        now += 1;
        // A sign-in, with a session URI of its own.
        let session = format!("https://id.example.com/sign-in/{i:08x}{:012x}", i * 7919);
        let mut r = req("ignored", &session, now + LIFETIME);
        r.received_at = now;
        assert!(l.add_request(&mut r, now).unwrap(), "request {i} dropped");
        assert!(r.id.len() <= 5, "a long id: {}", r.id);
        assert!(ids.insert(r.id.clone()), "id {} given twice", r.id);
        assert_eq!(l.request(&r.id).unwrap().unwrap().session, session);
        // Three in five answered some seconds later, the rest left to expire.
        let answer_at = (i % 5 < 3).then(|| now + 1 + (i % 90) as i64);
        live.push_back(Live {
            id: r.id,
            session,
            expires_at: now + LIFETIME,
            answer_at,
            answered: false,
        });
        // Replays of earlier events (on reconnect, or the same request
        // opened from its link), pending or answered: no-ops.
        if i % 7 == 0 {
            let earlier = &live[live.len() / 2];
            let mut again = req("ignored", &earlier.session, earlier.expires_at);
            assert!(
                !l.add_request(&mut again, now).unwrap(),
                "{} added again",
                earlier.id
            );
            assert_eq!(again.id, earlier.id);
            replays += 1;
        }
        if i % 11 == 0
            && let Some((id, session)) = answered.get(answered.len().saturating_sub(3))
        {
            let mut again = req("ignored", session, now + LIFETIME);
            assert!(
                !l.add_request(&mut again, now).unwrap(),
                "answered {id} back"
            );
            assert_eq!(&again.id, id);
            assert_ne!(l.request(id).unwrap().unwrap().state, "pending");
            replays += 1;
        }
        // The answers due now, by id, to requests still pending.
        for r in live
            .iter_mut()
            .filter(|r| r.answer_at.is_some_and(|t| t <= now))
        {
            let stored = l
                .request(&r.id)
                .unwrap()
                .expect("a pending request is kept");
            assert_eq!(
                (stored.session.as_str(), stored.state.as_str()),
                (r.session.as_str(), "pending")
            );
            let state = if i % 3 == 0 { "denied" } else { "approved" };
            l.set_request_state(&r.id, state).unwrap();
            if state == "denied" {
                denied += 1;
            } else {
                approved += 1;
            }
            r.answer_at = None;
            r.answered = true;
            answered.push((r.id.clone(), r.session.clone()));
        }
        // The ones that expire: pending until then, and kept a while.
        while live.front().is_some_and(|r| r.expires_at <= now) {
            let Some(r) = live.pop_front() else { break };
            let stored = l
                .request(&r.id)
                .unwrap()
                .expect("kept a while after expiry");
            if !r.answered {
                assert_eq!(stored.state, "pending");
                expired += 1;
            }
        }
        if i % 97 == 0 {
            // Exactly the pending, unexpired ones are offered.
            let mut offered: Vec<String> =
                l.pending(now).unwrap().into_iter().map(|r| r.id).collect();
            let mut expected: Vec<String> = live
                .iter()
                .filter(|r| !r.answered)
                .map(|r| r.id.clone())
                .collect();
            offered.sort();
            expected.sort();
            assert_eq!(offered, expected, "the inbox at step {i}");
            // And only what expired less than KEEP_AFTER_EXPIRY ago is kept.
            assert!(
                rows(&l) <= LIFETIME + KEEP_AFTER_EXPIRY + 1,
                "{} rows",
                rows(&l)
            );
        }
    }
    assert!(
        approved > N / 4 && denied > N / 10 && expired > N / 3,
        "{approved} {denied} {expired}"
    );
    assert!(replays > N / 10, "{replays}");
    assert_eq!(ids.len(), N);
    // Long after: the inbox is empty.
    l.purge(now + LIFETIME + KEEP_AFTER_EXPIRY + 1).unwrap();
    assert_eq!(rows(&l), 0);
}

#[test]
fn reset_identity_keeps_only_history() {
    let dir = tempfile::tempdir().unwrap();
    let l = Local::open(&dir.path().join("l.sqlite3")).unwrap();
    l.add_request(&mut req("", "s1", 100), 0).unwrap();
    l.set_meta("last_event_id", "9").unwrap();
    l.put_grant(&StoredGrant {
        scope: "email".into(),
        value: "a@b.c".into(),
        jwt: "j".into(),
        exp: 100,
    })
    .unwrap();
    l.record(&Decision {
        request_id: "a".into(),
        purpose: Purpose::SignIn,
        backchannel: false,
        binding_message: None,
        client_id: "c".into(),
        client_name: "C".into(),
        ip: "1.2.3.4".into(),
        user_agent: None,
        decided_at: 1,
        result: "approved".into(),
        detail: None,
    })
    .unwrap();
    l.reset_identity().unwrap();
    assert!(l.grants(0).unwrap().is_empty());
    assert!(l.pending(0).unwrap().is_empty());
    assert_eq!(l.get_meta("last_event_id").unwrap(), None);
    assert_eq!(l.history(10).unwrap().len(), 1);
}

#[test]
fn history_newest_first_and_meta() {
    let dir = tempfile::tempdir().unwrap();
    let l = Local::open(&dir.path().join("l.sqlite3")).unwrap();
    for (i, result) in ["approved", "denied"].iter().enumerate() {
        l.record(&Decision {
            request_id: format!("r{i}"),
            purpose: Purpose::SignIn,
            backchannel: false,
            binding_message: None,
            client_id: "c".into(),
            client_name: "C".into(),
            ip: "1.2.3.4".into(),
            user_agent: None,
            decided_at: i as i64,
            result: (*result).into(),
            detail: None,
        })
        .unwrap();
    }
    let h = l.history(10).unwrap();
    assert_eq!(h[0].result, "denied");
    assert_eq!(h[1].result, "approved");
    assert_eq!(l.get_meta("x").unwrap(), None);
    l.set_meta("x", "1").unwrap();
    l.set_meta("x", "2").unwrap();
    assert_eq!(l.get_meta("x").unwrap().as_deref(), Some("2"));
}
