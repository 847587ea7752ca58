//! OIDC records and their families, clients, subjects.

use super::{both, key, rec};
use crate::store::{
    ClientSession, EventFilter, NewEvent, Record, SecurityEvent, StoreError, Write,
};

both! {
    fn records_are_single_use_and_families_revoke_together(s) {
        s.put_record(&rec("c1", "f1")).unwrap();
        s.put_record(&Record {
            kind: "refresh".into(),
            ..rec("r1", "f1")
        })
        .unwrap();
        s.put_record(&rec("c2", "f2")).unwrap();
        let used = s.use_record("code", "c1", 10, false).unwrap();
        assert_eq!((used.family.as_str(), used.data.as_str()), ("f1", "{}"));
        assert!(!used.used, "as it was");
        // Spent: only the family is left, for reuse detection.
        let spent = s.get_record("code", "c1", 10).unwrap();
        assert!(spent.used && spent.data.is_empty(), "{spent:?}");
        assert_eq!(spent.used_at, Some(10));
        assert_eq!(s.record_family("code", "c1").unwrap(), "f1");
        assert!(matches!(
            s.use_record("code", "c1", 10, false),
            Err(StoreError::Conflict(_))
        ));
        assert!(matches!(
            s.use_record("code", "c1", 200, false),
            Err(StoreError::NotFound)
        ));
        assert!(matches!(
            s.use_record("code", "nope", 10, false),
            Err(StoreError::NotFound)
        ));
        s.revoke_family("f1", 500).unwrap();
        assert!(matches!(
            s.get_record("refresh", "r1", 10),
            Err(StoreError::NotFound)
        ));
        assert!(matches!(
            s.use_record("refresh", "r1", 10, false),
            Err(StoreError::NotFound)
        ));
        // Revoked or expired, the family is still known.
        assert_eq!(s.record_family("refresh", "r1").unwrap(), "f1");
        assert!(matches!(
            s.record_family("refresh", "nope"),
            Err(StoreError::NotFound)
        ));
        assert!(s.get_record("code", "c2", 10).is_ok());
        assert!(matches!(s.get_record("code", "c2", 100), Err(StoreError::NotFound)));
    }

    fn a_record_used_with_its_data_keeps_it(s) {
        s.put_record(&Record {
            data: "{\"n\":1}".into(),
            ..rec("s1", "f")
        })
        .unwrap();
        s.use_record("code", "s1", 10, true).unwrap();
        let kept = s.get_record("code", "s1", 10).unwrap();
        assert!(kept.used);
        assert_eq!(kept.data, "{\"n\":1}");
    }

    fn put_record_replaces(s) {
        s.put_record(&rec("c", "f")).unwrap();
        s.put_record(&Record {
            data: "{\"v\":2}".into(),
            expires_at: 300,
            pk: Some("a".into()),
            ..rec("c", "g")
        })
        .unwrap();
        let r = s.get_record("code", "c", 200).unwrap();
        assert_eq!((r.family.as_str(), r.data.as_str()), ("g", "{\"v\":2}"));
        assert_eq!(r.pk.as_deref(), Some("a"));
    }

    fn replace_record_is_a_compare_and_swap_on_the_version(s) {
        s.put_record(&rec("c1", "f1")).unwrap();
        s.put_record(&rec("c2", "f2")).unwrap();
        let read = s.get_record("code", "c2", 10).unwrap();
        assert_eq!(read.version, 0);
        // Compare-and-swap: only from the version it was read at.
        s.replace_record("code", "c2", read.version, "{\"a\":1}").unwrap();
        let changed = s.get_record("code", "c2", 10).unwrap();
        assert_eq!((changed.data.as_str(), changed.version), ("{\"a\":1}", 1));
        assert!(matches!(
            s.replace_record("code", "c2", read.version, "{\"a\":2}"),
            Err(StoreError::Conflict("changed"))
        ));
        // The same data again is still a change (JSON text is not compared).
        s.replace_record("code", "c2", 1, "{\"a\":1}").unwrap();
        // Replaced by put_record: the version moves on too.
        s.put_record(&rec("c2", "f2")).unwrap();
        assert!(matches!(
            s.replace_record("code", "c2", 2, "{}"),
            Err(StoreError::Conflict("changed"))
        ));
        assert_eq!(s.get_record("code", "c2", 10).unwrap().version, 3);
        // Spent: never replaced, whatever version it is at.
        let before = s.get_record("code", "c1", 10).unwrap();
        s.use_record("code", "c1", 10, true).unwrap();
        let used = s.get_record("code", "c1", 10).unwrap();
        assert!(used.version > before.version);
        for version in [before.version, used.version] {
            assert!(matches!(
                s.replace_record("code", "c1", version, "{}"),
                Err(StoreError::Conflict(_))
            ));
        }
        assert!(matches!(
            s.replace_record("code", "nope", 0, "{}"),
            Err(StoreError::Conflict(_))
        ));
    }

    fn an_exchange_spends_and_issues_in_one_transaction(s) {
        s.put_record(&rec("c1", "f1")).unwrap();
        let issued = Record {
            kind: "refresh".into(),
            ..rec("r1", "f1")
        };
        let spent = s.exchange("code", "c1", 10, false, &[issued]).unwrap();
        assert_eq!(spent.data, "{}");
        assert!(s.get_record("refresh", "r1", 10).is_ok());
        let used = s.get_record("code", "c1", 10).unwrap();
        assert!(used.used && used.data.is_empty() && used.used_at == Some(10));
        // A second exchange of the same record stores nothing.
        let other = Record {
            kind: "refresh".into(),
            ..rec("r2", "f1")
        };
        assert!(matches!(
            s.exchange("code", "c1", 11, false, &[other]),
            Err(StoreError::Conflict(_))
        ));
        assert!(matches!(
            s.get_record("refresh", "r2", 11),
            Err(StoreError::NotFound)
        ));
    }

    fn an_exchange_may_keep_the_spent_records_data(s) {
        s.put_record(&rec("s1", "f1")).unwrap();
        let issued = Record {
            kind: "sso".into(),
            ..rec("o1", "f1")
        };
        let spent = s.exchange("code", "s1", 10, true, &[issued]).unwrap();
        assert!(!spent.used);
        let used = s.get_record("code", "s1", 10).unwrap();
        assert!(used.used && used.data == "{}" && used.used_at == Some(10));
        assert!(s.get_record("sso", "o1", 10).is_ok());
    }

    fn write_all_stores_every_write_or_none(s) {
        s.put_record(&rec("w1", "f1")).unwrap();
        let version = s.get_record("code", "w1", 10).unwrap().version;
        let replace = |data: &str| Write::ReplaceRecord {
            kind: "code".into(),
            id: "w1".into(),
            version,
            data: data.into(),
        };
        let event = Write::SecurityEvent(SecurityEvent {
            id: 0,
            at: 10,
            kind: "sign-in-approved".into(),
            pk: Some("k".into()),
            client_id: None,
            ip: None,
            detail: None,
        });
        let pushed = Write::DeviceEvent(NewEvent {
            pk: "k".into(),
            kind: "sign-in".into(),
            data: "signed".into(),
            now: 10,
            expires_at: 100,
        });
        s.write_all(&[replace(r#"{"n":1}"#), event.clone(), pushed.clone()])
            .unwrap();
        assert_eq!(s.get_record("code", "w1", 10).unwrap().data, r#"{"n":1}"#);
        // The version moved on: the stale replace fails, and takes the
        // events written before it in the transaction with it.
        assert!(matches!(
            s.write_all(&[pushed, event, replace(r#"{"n":2}"#)]),
            Err(StoreError::Conflict(_))
        ));
        assert_eq!(s.get_record("code", "w1", 10).unwrap().data, r#"{"n":1}"#);
        let by_key = EventFilter {
            pk: Some("k".into()),
            ..EventFilter::default()
        };
        assert_eq!(s.count_security_events(&by_key).unwrap().count, 1);
        let stored = s.events_after("k", 0, 10).unwrap();
        assert_eq!(stored.len(), 1);
        assert_eq!((stored[0].kind.as_str(), stored[0].data.as_str()), ("sign-in", "signed"));
    }

    fn revoking_a_key_revokes_its_families_at_once(s) {
        s.insert_key(&key("a"), None).unwrap();
        s.insert_key(&key("b"), None).unwrap();
        for (id, family, pk) in [("sso1", "s1", "a"), ("r1", "f1", "a"), ("r2", "f2", "b")] {
            s.put_record(&Record {
                pk: Some(pk.into()),
                ..rec(id, family)
            })
            .unwrap();
        }
        // A record of a's family without the key (a sign-in session) goes too.
        s.put_record(&rec("x", "f1")).unwrap();
        s.revoke_key("a", 50).unwrap();
        for id in ["sso1", "r1", "x"] {
            assert!(
                matches!(s.get_record("code", id, 60), Err(StoreError::NotFound)),
                "{id}"
            );
        }
        assert!(s.get_record("code", "r2", 60).is_ok());
        s.revoke_families_of_key("b", 1000).unwrap();
        assert!(matches!(s.get_record("code", "r2", 60), Err(StoreError::NotFound)));
    }

    fn sessions_name_their_live_clients(s) {
        let grant = |id: &str, family: &str, client: &str, sid: &str| Record {
            pk: Some("a".into()),
            ..rec(id, family).granted(client, sid)
        };
        s.put_record(&grant("t1", "f1", "c1", "sid1")).unwrap();
        s.put_record(&grant("t2", "f2", "c2", "sid1")).unwrap();
        s.put_record(&grant("t3", "f3", "c2", "sid2")).unwrap();
        s.put_record(&grant("t4", "f4", "c3", "sid1")).unwrap();
        s.revoke_family("f4", 1000).unwrap();
        assert_eq!(s.session_clients("sid1", 10).unwrap(), ["c1", "c2"]);
        assert!(s.session_clients("sid1", 100).unwrap().is_empty(), "expired");
        let sessions = s.key_sessions("a", 10).unwrap();
        let expect = |c: &str, sid: &str| ClientSession {
            client_id: c.into(),
            sid: Some(sid.into()),
        };
        assert_eq!(
            sessions,
            [expect("c1", "sid1"), expect("c2", "sid1"), expect("c2", "sid2")]
        );
        assert!(s.key_sessions("b", 10).unwrap().is_empty());
    }

    fn clients_are_stored_listed_and_owned(s) {
        s.insert_client("c1", "{\"n\":1}", None, 10).unwrap();
        s.insert_client("c2", "{\"n\":2}", Some("acct"), 20).unwrap();
        assert!(matches!(
            s.insert_client("c1", "{}", None, 30),
            Err(StoreError::Conflict("duplicate-client"))
        ));
        assert_eq!(s.get_client("c1").unwrap(), "{\"n\":1}");
        assert!(matches!(s.get_client("nope"), Err(StoreError::NotFound)));
        s.update_client("c1", "{\"n\":3}").unwrap();
        assert_eq!(s.get_client("c1").unwrap(), "{\"n\":3}");
        assert!(matches!(
            s.update_client("nope", "{}"),
            Err(StoreError::NotFound)
        ));
        let ids = |v: Vec<(String, String)>| v.into_iter().map(|(id, _)| id).collect::<Vec<_>>();
        assert_eq!(ids(s.list_clients().unwrap()), ["c1", "c2"]);
        assert_eq!(ids(s.list_clients_of("acct").unwrap()), ["c2"]);
        assert!(s.list_clients_of("other").unwrap().is_empty());
        s.delete_client("c1").unwrap();
        assert!(matches!(s.delete_client("c1"), Err(StoreError::NotFound)));
        assert_eq!(ids(s.list_clients().unwrap()), ["c2"]);
    }

    fn subjects_lead_back_to_keys(s) {
        s.remember_subject("c1", "sub1", "a", 10).unwrap();
        s.remember_subject("c1", "sub1", "a", 20).unwrap();
        s.remember_subject("c2", "sub1", "b", 10).unwrap();
        assert_eq!(s.find_subject("c1", "sub1").unwrap(), "a");
        assert_eq!(s.find_subject("c2", "sub1").unwrap(), "b");
        assert!(matches!(s.find_subject("c3", "sub1"), Err(StoreError::NotFound)));
    }

    fn purging_forgets_what_expired(s) {
        s.put_record(&rec("old", "f1")).unwrap();
        s.put_record(&Record {
            expires_at: 1000,
            ..rec("new", "f2")
        })
        .unwrap();
        s.revoke_family("f1", 150).unwrap();
        s.purge_expired(200).unwrap();
        assert!(matches!(s.record_family("code", "old"), Err(StoreError::NotFound)));
        assert_eq!(s.record_family("code", "new").unwrap(), "f2");
    }
}

both! {
    fn a_nul_character_finds_nothing(s) {
        // PostgreSQL cannot hold one (SQLite can): looking up input with
        // one is NotFound on both, never a failure.
        s.insert_client("c1", "{}", None, 10).unwrap();
        assert!(matches!(s.get_client("c1\0"), Err(StoreError::NotFound)));
        assert!(matches!(s.get_record("code", "\0", 10), Err(StoreError::NotFound)));
        assert!(matches!(s.find_subject("c1", "a\0b"), Err(StoreError::NotFound)));
        assert!(matches!(s.get_key("\0"), Err(StoreError::NotFound)));
        assert!(matches!(
            s.find_account_by_email("a\0@example.com"),
            Err(StoreError::NotFound)
        ));
        assert!(matches!(s.account_session("\0", 10), Err(StoreError::NotFound)));
    }
}
