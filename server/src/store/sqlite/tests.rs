//! The SQLite store's own tests (the shared behaviour every backend must
//! have is also tested end to end through the HTTP API).

#![allow(clippy::unwrap_used)] // test code

use super::*;
use crate::store::{JobStatus, SECURITY_EVENT_RETENTION};

fn store() -> (tempfile::TempDir, SqliteStore) {
    let dir = tempfile::tempdir().unwrap();
    let s = SqliteStore::open(&dir.path().join("db.sqlite")).unwrap();
    (dir, s)
}

fn key(pk: &str) -> KeyRecord {
    KeyRecord {
        pk: pk.into(),
        secret_hash: vec![1; 32],
        devtoken: None,
        registered_at: 100,
        revoked_at: None,
        email_hash: None,
        phone_hash: None,
    }
}

#[test]
fn keys_insert_get_conflict_revoke() {
    let (_d, s) = store();
    s.insert_key(&key("a"), None).unwrap();
    assert!(matches!(
        s.insert_key(&key("a"), None),
        Err(StoreError::Conflict("duplicate-key"))
    ));
    assert_eq!(s.get_key("a").unwrap(), key("a"));
    assert!(matches!(s.get_key("b"), Err(StoreError::NotFound)));
    s.revoke_key("a", 200).unwrap();
    s.revoke_key("a", 300).unwrap();
    assert_eq!(s.get_key("a").unwrap().revoked_at, Some(200));
    assert!(matches!(s.revoke_key("b", 1), Err(StoreError::NotFound)));
}

#[test]
fn a_binding_belongs_to_one_active_key() {
    let (_d, s) = store();
    s.insert_key(&key("a"), None).unwrap();
    s.insert_key(&key("b"), None).unwrap();
    s.bind_key("a", Some(b"e"), Some(b"p")).unwrap();
    s.bind_key("a", Some(b"e"), None).unwrap();
    assert!(matches!(
        s.bind_key("b", Some(b"e"), None),
        Err(StoreError::Conflict("duplicate-hash"))
    ));
    assert_eq!(s.find_key_by_binding(b"e", b"p").unwrap().pk, "a");
    s.revoke_key("a", 5).unwrap();
    assert!(matches!(
        s.find_key_by_binding(b"e", b"p"),
        Err(StoreError::NotFound)
    ));
    s.bind_key("b", Some(b"e"), None).unwrap();
}

#[test]
fn jtis_are_single_use() {
    let (_d, s) = store();
    s.use_jti("k:1", 100).unwrap();
    assert!(matches!(
        s.use_jti("k:1", 100),
        Err(StoreError::Conflict("replayed"))
    ));
    s.purge_expired(101).unwrap();
    s.use_jti("k:1", 200).unwrap();
}

#[test]
fn rate_limit_window() {
    let (_d, s) = store();
    assert_eq!(s.rate_hit("x", 2, 60, 1000).unwrap(), RateDecision::Allowed);
    assert_eq!(s.rate_hit("x", 2, 60, 1010).unwrap(), RateDecision::Allowed);
    assert_eq!(
        s.rate_hit("x", 2, 60, 1020).unwrap(),
        RateDecision::Limited { retry_after: 40 }
    );
    assert_eq!(s.rate_hit("y", 2, 60, 1020).unwrap(), RateDecision::Allowed);
    assert_eq!(s.rate_hit("x", 2, 60, 1060).unwrap(), RateDecision::Allowed);
}

#[test]
fn events_replay_after_an_id_until_expiry() {
    let (_d, s) = store();
    let a = s.insert_event("k", "sign-in", "jwt1", 10, 100).unwrap();
    let b = s.insert_event("k", "scope", "jwt2", 10, 50).unwrap();
    s.insert_event("other", "scope", "jwt3", 10, 100).unwrap();
    assert!(b > a);
    let all: Vec<_> = s
        .events_after("k", 0, 20)
        .unwrap()
        .into_iter()
        .map(|e| e.data)
        .collect();
    assert_eq!(all, ["jwt1", "jwt2"]);
    let later: Vec<_> = s
        .events_after("k", a, 20)
        .unwrap()
        .into_iter()
        .map(|e| e.data)
        .collect();
    assert_eq!(later, ["jwt2"]);
    let after_expiry: Vec<_> = s
        .events_after("k", 0, 60)
        .unwrap()
        .into_iter()
        .map(|e| e.data)
        .collect();
    assert_eq!(after_expiry, ["jwt1"]);
}

fn rec(id: &str, family: &str) -> Record {
    Record {
        kind: "code".into(),
        id: id.into(),
        family: family.into(),
        pk: None,
        data: "{}".into(),
        used: false,
        used_at: None,
        expires_at: 100,
        client_id: None,
        sid: None,
    }
}

#[test]
fn records_are_single_use_and_families_revoke_together() {
    let (_d, s) = store();
    s.put_record(&rec("c1", "f1")).unwrap();
    s.put_record(&Record {
        kind: "refresh".into(),
        ..rec("r1", "f1")
    })
    .unwrap();
    s.put_record(&rec("c2", "f2")).unwrap();
    let used = s.use_record("code", "c1", 10, false).unwrap();
    assert_eq!((used.family.as_str(), used.data.as_str()), ("f1", "{}"));
    // Spent: only the family is left, for reuse detection.
    let spent = s.get_record("code", "c1", 10).unwrap();
    assert!(spent.used && spent.data.is_empty(), "{spent:?}");
    assert_eq!(s.record_family("code", "c1").unwrap(), "f1");
    assert!(matches!(
        s.use_record("code", "c1", 10, false),
        Err(StoreError::Conflict(_))
    ));
    assert!(matches!(
        s.use_record("code", "c1", 200, false),
        Err(StoreError::NotFound)
    ));
    // Compare-and-swap: only from the data it was read with.
    s.replace_record("code", "c2", "{}", "{\"a\":1}").unwrap();
    assert!(matches!(
        s.replace_record("code", "c2", "{}", "{\"a\":2}"),
        Err(StoreError::Conflict(_))
    ));
    assert!(
        matches!(
            s.replace_record("code", "c1", "{}", "{}"),
            Err(StoreError::Conflict(_))
        ),
        "used"
    );
    s.revoke_family("f1", 500).unwrap();
    assert!(matches!(
        s.get_record("refresh", "r1", 10),
        Err(StoreError::NotFound)
    ));
    assert_eq!(s.record_family("refresh", "r1").unwrap(), "f1");
    assert!(s.get_record("code", "c2", 10).is_ok());
}

#[test]
fn reopening_keeps_data_and_does_not_rerun_migrations() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("db.sqlite");
    SqliteStore::open(&path)
        .unwrap()
        .insert_key(&key("a"), None)
        .unwrap();
    let again = SqliteStore::open(&path).unwrap();
    assert_eq!(again.get_key("a").unwrap().pk, "a");
}

fn job(id: &str) -> Job {
    Job {
        id: id.into(),
        pk: "a".into(),
        scope: "email".into(),
        value: "a@example.com".into(),
        value_hash: vec![2; 32],
        code_hash: vec![3; 32],
        attempts: 0,
        status: JobStatus::Waiting,
        test: false,
        created_at: 10,
        expires_at: 100,
        grant_jwt: None,
    }
}

#[test]
fn attempts_are_counted_before_the_limit_however_many_arrive() {
    let (_d, s) = store();
    s.insert_job(&job("j")).unwrap();
    let s = std::sync::Arc::new(s);
    // 50 threads at once against a limit of 5: exactly 5 get to compare.
    let handles: Vec<_> = (0..50)
        .map(|_| {
            let s = std::sync::Arc::clone(&s);
            std::thread::spawn(move || s.attempt_job("j", 5, 20))
        })
        .collect();
    let results: Vec<_> = handles.into_iter().map(|h| h.join().unwrap()).collect();
    let mut counted: Vec<u32> = results
        .iter()
        .filter_map(|r| r.as_ref().ok().map(|j| j.attempts))
        .collect();
    counted.sort_unstable();
    assert_eq!(counted, [1, 2, 3, 4, 5]);
    assert!(
        results
            .iter()
            .filter(|r| r.is_err())
            .all(|r| matches!(r, Err(StoreError::Conflict("attempts"))))
    );
    // A status update does not reset the count.
    let mut j = s.get_job("j", 20).unwrap();
    j.attempts = 0;
    j.status = JobStatus::Signed;
    s.update_job(&j).unwrap();
    assert_eq!(s.get_job("j", 20).unwrap().attempts, 5);
    assert!(matches!(
        s.attempt_job("j", 5, 20),
        Err(StoreError::Conflict(_))
    ));
    assert!(matches!(
        s.attempt_job("j", 5, 200),
        Err(StoreError::NotFound)
    ));
    assert!(matches!(
        s.attempt_job("nope", 5, 20),
        Err(StoreError::NotFound)
    ));
}

#[test]
fn revoke_code_attempts_are_bounded() {
    let (_d, s) = store();
    s.insert_key(&key("a"), None).unwrap();
    s.put_revoke_code(&RevokeCode {
        pk: "a".into(),
        code_hash: vec![1],
        attempts: 0,
        expires_at: 100,
    })
    .unwrap();
    assert_eq!(s.attempt_revoke_code("a", 2, 10).unwrap().attempts, 1);
    assert_eq!(s.attempt_revoke_code("a", 2, 10).unwrap().attempts, 2);
    assert!(matches!(
        s.attempt_revoke_code("a", 2, 10),
        Err(StoreError::Conflict("attempts"))
    ));
    s.delete_revoke_code("a").unwrap();
    assert!(matches!(
        s.attempt_revoke_code("a", 2, 10),
        Err(StoreError::NotFound)
    ));
}

#[test]
fn a_registration_and_its_jti_commit_together() {
    let (_d, s) = store();
    s.insert_key(&key("a"), Some(("a:1", 100))).unwrap();
    // The jti is spent: the same token cannot register another key...
    assert!(matches!(
        s.insert_key(&key("b"), Some(("a:1", 100))),
        Err(StoreError::Conflict("replayed"))
    ));
    assert!(matches!(s.get_key("b"), Err(StoreError::NotFound)));
    // ...and a refused registration spends nothing.
    assert!(matches!(
        s.insert_key(&key("a"), Some(("a:2", 100))),
        Err(StoreError::Conflict("duplicate-key"))
    ));
    s.use_jti("a:2", 100).unwrap();
}

#[test]
fn an_exchange_spends_and_issues_in_one_transaction() {
    let (_d, s) = store();
    s.put_record(&rec("c1", "f1")).unwrap();
    let issued = Record {
        kind: "refresh".into(),
        ..rec("r1", "f1")
    };
    let spent = s.exchange("code", "c1", 10, &[issued]).unwrap();
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
        s.exchange("code", "c1", 11, &[other]),
        Err(StoreError::Conflict(_))
    ));
    assert!(matches!(
        s.get_record("refresh", "r2", 11),
        Err(StoreError::NotFound)
    ));
}

#[test]
fn revoking_a_key_revokes_its_families_at_once() {
    let (_d, s) = store();
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
}

#[test]
fn security_events_are_filtered_counted_and_kept_for_a_while() {
    let (_d, s) = store();
    let ev = |at: i64, kind: &str, pk: &str, ip: &str| SecurityEvent {
        id: 0,
        at,
        kind: kind.into(),
        pk: Some(pk.into()),
        client_id: Some("c".into()),
        ip: Some(ip.into()),
        detail: None,
    };
    s.insert_security_event(&ev(10, "wrong-number", "a", "1.1.1.1"))
        .unwrap();
    s.insert_security_event(&ev(20, "wrong-number", "a", "2.2.2.2"))
        .unwrap();
    s.insert_security_event(&ev(30, "sign-in-reported", "a", "1.1.1.1"))
        .unwrap();
    s.insert_security_event(&ev(40, "wrong-number", "b", "1.1.1.1"))
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
    let by_ip = EventFilter {
        ip: Some("1.1.1.1".into()),
        ..Default::default()
    };
    let kinds: Vec<_> = s
        .list_security_events(&by_ip, 10)
        .unwrap()
        .into_iter()
        .map(|e| (e.at, e.kind))
        .collect();
    assert_eq!(
        kinds,
        [
            (40, "wrong-number".to_string()),
            (30, "sign-in-reported".to_string()),
            (10, "wrong-number".to_string())
        ]
    );
    assert_eq!(s.list_security_events(&by_ip, 1).unwrap().len(), 1);
    s.purge_expired(25 + SECURITY_EVENT_RETENTION).unwrap();
    assert_eq!(
        s.count_security_events(&EventFilter::default())
            .unwrap()
            .count,
        2
    );
}

#[test]
fn ended_rate_windows_are_purged() {
    let (_d, s) = store();
    s.rate_hit("x", 2, 60, 1000).unwrap();
    s.rate_hit("y", 2, 600, 1000).unwrap();
    s.purge_expired(1100).unwrap();
    let buckets: Vec<String> = s
        .read(|c| {
            let mut st = c.prepare("SELECT bucket FROM rate_buckets").unwrap();
            let rows = st.query_map([], |r| r.get(0)).unwrap();
            Ok(rows.map(Result::unwrap).collect())
        })
        .unwrap();
    assert_eq!(buckets, ["y"]);
}

#[test]
fn two_processes_migrating_at_once_apply_each_migration_once() {
    // Threads stand in for processes: each has its own connections.
    for _ in 0..5 {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("db.sqlite");
        let barrier = std::sync::Arc::new(std::sync::Barrier::new(4));
        let handles: Vec<_> = (0..4)
            .map(|_| {
                let (path, barrier) = (path.clone(), std::sync::Arc::clone(&barrier));
                std::thread::spawn(move || {
                    barrier.wait();
                    SqliteStore::open(&path).map(|_| ())
                })
            })
            .collect();
        for h in handles {
            h.join().unwrap().unwrap();
        }
    }
}
