//! Device events, rate limits, the security event log, outgoing requests.

use super::{both, rec};
use crate::store::{
    EventCount, EventFilter, Outgoing, RateDecision, Record, SECURITY_EVENT_RETENTION,
    SecurityEvent,
};

/// A sign-in session record as the provider stores it (the parts the
/// purge reads).
fn session(id: &str, status: &str, client: &str, expires_at: i64) -> Record {
    Record {
        kind: "session".into(),
        data: format!(
            r#"{{"request":{{"client_id":"{client}"}},"status":"{status}","ip":"192.0.2.9"}}"#
        ),
        expires_at,
        ..rec(id, id)
    }
}

fn outgoing(kind: &str, next_at: i64) -> Outgoing {
    Outgoing {
        id: 0,
        kind: kind.into(),
        url: "https://rp.example/logout".into(),
        content_type: "application/x-www-form-urlencoded".into(),
        body: "logout_token=x".into(),
        authorization: None,
        attempts: 0,
        next_at,
        expires_at: 1000,
        last_error: None,
    }
}

both! {
    fn rate_limit_window(s) {
        assert_eq!(s.rate_hit("x", 2, 60, 1000).unwrap(), RateDecision::Allowed);
        assert_eq!(s.rate_hit("x", 2, 60, 1010).unwrap(), RateDecision::Allowed);
        assert_eq!(
            s.rate_hit("x", 2, 60, 1020).unwrap(),
            RateDecision::Limited { retry_after: 40 }
        );
        // A refused hit is not counted: one refund lets one more through.
        s.rate_refund("x").unwrap();
        assert_eq!(s.rate_hit("x", 2, 60, 1030).unwrap(), RateDecision::Allowed);
        assert_eq!(
            s.rate_hit("x", 2, 60, 1030).unwrap(),
            RateDecision::Limited { retry_after: 30 }
        );
        assert_eq!(s.rate_hit("y", 2, 60, 1020).unwrap(), RateDecision::Allowed);
        // A new window starts when the old one ends.
        assert_eq!(s.rate_hit("x", 2, 60, 1060).unwrap(), RateDecision::Allowed);
        assert_eq!(s.rate_hit("x", 2, 60, 1061).unwrap(), RateDecision::Allowed);
        assert_eq!(
            s.rate_hit("x", 2, 60, 1062).unwrap(),
            RateDecision::Limited { retry_after: 58 }
        );
        // A limit of 0 refuses everything.
        assert_eq!(
            s.rate_hit("z", 0, 60, 1000).unwrap(),
            RateDecision::Limited { retry_after: 60 }
        );
        // Refunds never go below zero.
        s.rate_refund("y").unwrap();
        s.rate_refund("y").unwrap();
        s.rate_refund("unknown").unwrap();
        assert_eq!(s.rate_hit("y", 2, 60, 1021).unwrap(), RateDecision::Allowed);
        assert_eq!(s.rate_hit("y", 2, 60, 1021).unwrap(), RateDecision::Allowed);
        assert!(matches!(
            s.rate_hit("y", 2, 60, 1021).unwrap(),
            RateDecision::Limited { .. }
        ));
    }

    fn events_replay_after_an_id_until_expiry(s) {
        let a = s.insert_event("k", "sign-in", "jwt1", 10, 100).unwrap();
        let b = s.insert_event("k", "scope", "jwt2", 10, 50).unwrap();
        s.insert_event("other", "scope", "jwt3", 10, 100).unwrap();
        assert!(b > a);
        let data = |after: i64, now: i64| -> Vec<String> {
            s.events_after("k", after, now)
                .unwrap()
                .into_iter()
                .map(|e| e.data)
                .collect()
        };
        assert_eq!(data(0, 20), ["jwt1", "jwt2"]);
        assert_eq!(data(a, 20), ["jwt2"]);
        assert_eq!(data(0, 60), ["jwt1"]);
        let first = &s.events_after("k", 0, 20).unwrap()[0];
        assert_eq!(
            (first.id, first.pk.as_str(), first.kind.as_str(), first.expires_at),
            (a, "k", "sign-in", 100)
        );
        s.purge_expired(60).unwrap();
        assert_eq!(data(0, 20), ["jwt1"], "purged");
    }

    fn security_events_are_filtered_counted_and_kept_for_a_while(s) {
        let ev = |at: i64, kind: &str, pk: &str, ip: &str| SecurityEvent {
            id: 0,
            at,
            kind: kind.into(),
            pk: Some(pk.into()),
            client_id: Some("c".into()),
            ip: Some(ip.into()),
            detail: None,
        };
        let first = s
            .insert_security_event(&ev(10, "wrong-number", "a", "1.1.1.1"))
            .unwrap();
        let second = s
            .insert_security_event(&ev(20, "wrong-number", "a", "2.2.2.2"))
            .unwrap();
        assert!(second > first);
        s.insert_security_event(&ev(30, "sign-in-reported", "a", "1.1.1.1"))
            .unwrap();
        s.insert_security_event(&SecurityEvent {
            client_id: None,
            detail: Some("why".into()),
            ..ev(40, "wrong-number", "b", "1.1.1.1")
        })
        .unwrap();
        let f = EventFilter {
            pk: Some("a".into()),
            kind: Some("wrong-number".into()),
            ..Default::default()
        };
        assert_eq!(
            s.count_security_events(&f).unwrap(),
            EventCount {
                count: 2,
                first: Some(10),
                last: Some(20)
            }
        );
        let since = EventFilter {
            since: Some(15),
            ..f.clone()
        };
        assert_eq!(s.count_security_events(&since).unwrap().count, 1);
        let by_client = EventFilter {
            client_id: Some("c".into()),
            ..Default::default()
        };
        assert_eq!(s.count_security_events(&by_client).unwrap().count, 3);
        let none = EventFilter {
            kind: Some("nothing".into()),
            ..Default::default()
        };
        assert_eq!(s.count_security_events(&none).unwrap(), EventCount::default());
        let by_ip = EventFilter {
            ip: Some("1.1.1.1".into()),
            ..Default::default()
        };
        let listed = s.list_security_events(&by_ip, 10).unwrap();
        let kinds: Vec<_> = listed.iter().map(|e| (e.at, e.kind.as_str())).collect();
        assert_eq!(
            kinds,
            [(40, "wrong-number"), (30, "sign-in-reported"), (10, "wrong-number")]
        );
        assert_eq!(listed[0].detail.as_deref(), Some("why"));
        assert_eq!(listed[0].client_id, None);
        assert_eq!(listed[2].id, first);
        assert_eq!(s.list_security_events(&by_ip, 1).unwrap().len(), 1);
        s.purge_expired(25 + SECURITY_EVENT_RETENTION).unwrap();
        assert_eq!(
            s.count_security_events(&EventFilter::default())
                .unwrap()
                .count,
            2
        );
    }

    fn outgoing_requests_are_leased_retried_and_done(s) {
        let a = s.enqueue_outgoing(&outgoing("backchannel-logout", 10)).unwrap();
        let b = s
            .enqueue_outgoing(&Outgoing {
                authorization: Some("Bearer t".into()),
                ..outgoing("ciba-ping", 20)
            })
            .unwrap();
        s.enqueue_outgoing(&outgoing("later", 500)).unwrap();
        assert!(b > a);
        let due = s.take_due_outgoing(30, 60, 10).unwrap();
        assert_eq!(due.iter().map(|o| o.id).collect::<Vec<_>>(), [a, b]);
        assert_eq!(due[1].authorization.as_deref(), Some("Bearer t"));
        // Leased: nobody else takes them until the lease ends.
        assert!(s.take_due_outgoing(31, 60, 10).unwrap().is_empty());
        assert_eq!(s.take_due_outgoing(90, 60, 1).unwrap().len(), 1, "limit");
        s.outgoing_failed(a, 200, "503 from the client").unwrap();
        s.outgoing_done(b).unwrap();
        let all = s.list_outgoing().unwrap();
        assert_eq!(all.len(), 2);
        assert_eq!(
            (all[0].id, all[0].attempts, all[0].next_at, all[0].last_error.as_deref()),
            (a, 1, 200, Some("503 from the client"))
        );
        s.purge_expired(1000).unwrap();
        assert!(s.list_outgoing().unwrap().is_empty());
    }

    fn a_session_pending_when_purged_is_an_expired_sign_in(s) {
        s.put_record(&session("s1", "pending", "c1", 100)).unwrap();
        s.put_record(&session("s2", "approved", "c1", 100)).unwrap();
        s.put_record(&session("s3", "pending", "c1", 500)).unwrap();
        s.put_record(&Record {
            data: String::new(),
            ..session("s4", "pending", "c1", 100)
        })
        .unwrap();
        s.put_record(&Record {
            kind: "code".into(),
            ..session("c", "pending", "c1", 100)
        })
        .unwrap();
        let expired = EventFilter {
            kind: Some("sign-in-expired".into()),
            ..EventFilter::default()
        };
        // Purged twice: logged once.
        s.purge_expired(200).unwrap();
        s.purge_expired(200).unwrap();
        let events = s.list_security_events(&expired, 10).unwrap();
        assert_eq!(events.len(), 1, "{events:?}");
        let e = &events[0];
        assert_eq!((e.at, e.client_id.as_deref(), e.ip.as_deref()), (100, Some("c1"), Some("192.0.2.9")));
        assert_eq!(e.pk, None);
        s.purge_expired(600).unwrap();
        assert_eq!(s.list_security_events(&expired, 10).unwrap().len(), 2);
    }
}
