//! Keys, bindings, grants, jobs, revocation codes and JWT IDs.

use super::{both, job, key};
use crate::store::{GrantRecord, JobStatus, RevokeCode, StoreError};

both! {
    fn keys_insert_get_conflict_revoke(s) {
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
        assert!(s.get_key("a").unwrap().is_revoked());
        assert!(matches!(s.revoke_key("b", 1), Err(StoreError::NotFound)));
    }

    fn a_binding_belongs_to_one_active_key(s) {
        s.insert_key(&key("a"), None).unwrap();
        s.insert_key(&key("b"), None).unwrap();
        s.bind_key("a", Some(b"e"), Some(b"p")).unwrap();
        s.bind_key("a", Some(b"e"), None).unwrap();
        assert!(matches!(
            s.bind_key("b", Some(b"e"), None),
            Err(StoreError::Conflict("duplicate-hash"))
        ));
        assert!(matches!(
            s.bind_key("nope", Some(b"x"), None),
            Err(StoreError::NotFound)
        ));
        assert_eq!(s.find_key_by_binding(b"e", b"p").unwrap().pk, "a");
        assert_eq!(s.find_key_by_email(b"e").unwrap().pk, "a");
        assert!(matches!(
            s.find_key_by_binding(b"e", b"other"),
            Err(StoreError::NotFound)
        ));
        s.revoke_key("a", 5).unwrap();
        assert!(matches!(
            s.find_key_by_binding(b"e", b"p"),
            Err(StoreError::NotFound)
        ));
        assert!(matches!(s.find_key_by_email(b"e"), Err(StoreError::NotFound)));
        // A revoked key's binding is free again.
        s.bind_key("b", Some(b"e"), None).unwrap();
        assert!(matches!(
            s.bind_key("a", Some(b"z"), None),
            Err(StoreError::NotFound)
        ));
    }

    fn grants_count_until_they_expire(s) {
        s.insert_key(&key("a"), None).unwrap();
        s.insert_grant(&GrantRecord {
            pk: "a".into(),
            scope: "email".into(),
            value_hash: vec![9; 32],
            issuer: "https://id.example".into(),
            jti: "j1".into(),
            issued_at: 10,
            expires_at: 100,
        })
        .unwrap();
        assert!(s.has_grant("a", "email", &[9; 32], 50).unwrap());
        assert!(!s.has_grant("a", "phone", &[9; 32], 50).unwrap());
        assert!(!s.has_grant("a", "email", &[8; 32], 50).unwrap());
        assert!(!s.has_grant("a", "email", &[9; 32], 100).unwrap());
    }

    fn jtis_are_single_use(s) {
        s.use_jti("k:1", 100).unwrap();
        assert!(matches!(
            s.use_jti("k:1", 100),
            Err(StoreError::Conflict("replayed"))
        ));
        s.purge_expired(101).unwrap();
        s.use_jti("k:1", 200).unwrap();
    }

    fn jobs_keep_their_attempts_through_updates(s) {
        s.insert_job(&job("j")).unwrap();
        assert!(matches!(
            s.insert_job(&job("j")),
            Err(StoreError::Conflict("duplicate-job"))
        ));
        assert_eq!(s.get_job("j", 20).unwrap(), job("j"));
        assert!(matches!(s.get_job("j", 100), Err(StoreError::NotFound)));
        assert_eq!(s.attempt_job("j", 2, 20).unwrap().attempts, 1);
        let mut j = s.attempt_job("j", 2, 20).unwrap();
        assert_eq!(j.attempts, 2);
        assert!(matches!(
            s.attempt_job("j", 2, 20),
            Err(StoreError::Conflict("attempts"))
        ));
        // A status update does not reset the count.
        j.attempts = 0;
        j.status = JobStatus::Signed;
        j.grant_jwt = Some("grant".into());
        j.expires_at = 500;
        s.update_job(&j).unwrap();
        let stored = s.get_job("j", 200).unwrap();
        assert_eq!(
            (stored.attempts, stored.status, stored.grant_jwt.as_deref()),
            (2, JobStatus::Signed, Some("grant"))
        );
        assert!(matches!(s.attempt_job("j", 5, 600), Err(StoreError::NotFound)));
        assert!(matches!(s.attempt_job("nope", 5, 20), Err(StoreError::NotFound)));
        s.delete_job("j").unwrap();
        assert!(matches!(s.delete_job("j"), Err(StoreError::NotFound)));
        assert!(matches!(s.update_job(&j), Err(StoreError::NotFound)));
    }

    fn revoking_a_key_drops_its_pending_work(s) {
        s.insert_key(&key("a"), None).unwrap();
        s.insert_job(&job("j")).unwrap();
        s.put_revoke_code(&RevokeCode {
            pk: "a".into(),
            code_hash: vec![1],
            attempts: 0,
            expires_at: 100,
        })
        .unwrap();
        s.revoke_key("a", 10).unwrap();
        assert!(matches!(s.get_job("j", 20), Err(StoreError::NotFound)));
        assert!(matches!(
            s.attempt_revoke_code("a", 3, 20),
            Err(StoreError::NotFound)
        ));
    }

    fn revoke_code_attempts_are_bounded(s) {
        s.insert_key(&key("a"), None).unwrap();
        let code = RevokeCode {
            pk: "a".into(),
            code_hash: vec![1],
            attempts: 0,
            expires_at: 100,
        };
        s.put_revoke_code(&code).unwrap();
        assert_eq!(s.attempt_revoke_code("a", 2, 10).unwrap().attempts, 1);
        assert_eq!(s.attempt_revoke_code("a", 2, 10).unwrap().attempts, 2);
        assert!(matches!(
            s.attempt_revoke_code("a", 2, 10),
            Err(StoreError::Conflict("attempts"))
        ));
        // A new code replaces the old one, count and all.
        s.put_revoke_code(&RevokeCode {
            code_hash: vec![2],
            ..code
        })
        .unwrap();
        let fresh = s.attempt_revoke_code("a", 2, 10).unwrap();
        assert_eq!((fresh.attempts, fresh.code_hash), (1, vec![2]));
        assert!(matches!(
            s.attempt_revoke_code("a", 2, 100),
            Err(StoreError::NotFound)
        ));
        s.delete_revoke_code("a").unwrap();
        assert!(matches!(
            s.attempt_revoke_code("a", 2, 10),
            Err(StoreError::NotFound)
        ));
    }

    fn a_registration_and_its_jti_commit_together(s) {
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
}
