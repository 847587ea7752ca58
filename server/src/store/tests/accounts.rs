//! Accounts, their sessions, initial access tokens.

use super::both;
use crate::store::{Account, StoreError};

fn account(id: &str, role: &str) -> Account {
    Account {
        id: id.into(),
        email: format!("{id}@example.com"),
        password_hash: "$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA".into(),
        role: role.into(),
        deactivated_at: None,
        authentiq_pk: None,
        created_at: 10,
    }
}

both! {
    fn accounts_are_found_by_id_email_and_key(s) {
        s.insert_account(&account("a1", "admin")).unwrap();
        s.insert_account(&Account {
            authentiq_pk: Some("pk2".into()),
            created_at: 20,
            ..account("a2", "user")
        })
        .unwrap();
        assert!(matches!(
            s.insert_account(&Account {
                id: "a3".into(),
                ..account("a1", "user")
            }),
            Err(StoreError::Conflict("duplicate-email"))
        ));
        assert_eq!(s.get_account("a1").unwrap(), account("a1", "admin"));
        assert_eq!(s.find_account_by_email("a2@example.com").unwrap().id, "a2");
        assert_eq!(s.find_account_by_pk("pk2").unwrap().id, "a2");
        assert!(matches!(s.get_account("nope"), Err(StoreError::NotFound)));
        assert!(matches!(s.find_account_by_pk("nope"), Err(StoreError::NotFound)));
        let ids: Vec<_> = s.list_accounts().unwrap().into_iter().map(|a| a.id).collect();
        assert_eq!(ids, ["a1", "a2"]);
        // An Authentiq ID links to one account only.
        assert!(matches!(
            s.update_account(&Account {
                authentiq_pk: Some("pk2".into()),
                ..account("a1", "admin")
            }),
            Err(StoreError::Conflict("duplicate-pk"))
        ));
        let mut changed = account("a2", "guest");
        changed.password_hash = "new".into();
        changed.authentiq_pk = None;
        s.update_account(&changed).unwrap();
        let stored = s.get_account("a2").unwrap();
        assert_eq!((stored.role.as_str(), stored.password_hash.as_str()), ("guest", "new"));
        assert!(matches!(
            s.update_account(&account("nope", "user")),
            Err(StoreError::NotFound)
        ));
    }

    fn the_last_active_admin_stays(s) {
        s.insert_account(&account("a1", "admin")).unwrap();
        s.insert_account(&account("u1", "user")).unwrap();
        for change in [
            account("a1", "user"),
            Account {
                deactivated_at: Some(50),
                ..account("a1", "admin")
            },
        ] {
            assert!(matches!(
                s.update_account(&change),
                Err(StoreError::Conflict("last-admin"))
            ));
        }
        assert!(matches!(s.delete_account("a1"), Err(StoreError::Conflict("last-admin"))));
        s.update_account(&account("u1", "admin")).unwrap();
        s.update_account(&account("a1", "user")).unwrap();
        assert!(matches!(s.delete_account("u1"), Err(StoreError::Conflict("last-admin"))));
        assert!(matches!(s.delete_account("nope"), Err(StoreError::NotFound)));
    }

    fn deleting_an_account_ends_its_sessions_and_clients(s) {
        s.insert_account(&account("a1", "admin")).unwrap();
        s.insert_account(&account("u1", "user")).unwrap();
        s.insert_account_session("s1", "u1", 10, 100).unwrap();
        s.insert_account_session("s2", "u1", 10, 100).unwrap();
        s.insert_account_session("s3", "a1", 10, 100).unwrap();
        assert!(matches!(
            s.insert_account_session("s1", "u1", 10, 100),
            Err(StoreError::Conflict("duplicate-session"))
        ));
        s.insert_client("c1", "{}", Some("u1"), 10).unwrap();
        s.insert_client("c2", "{}", Some("a1"), 10).unwrap();
        assert_eq!(s.account_session("s1", 50).unwrap(), "u1");
        assert!(matches!(s.account_session("s1", 100), Err(StoreError::NotFound)));
        s.delete_account("u1").unwrap();
        assert!(matches!(s.account_session("s2", 50), Err(StoreError::NotFound)));
        assert!(matches!(s.get_client("c1"), Err(StoreError::NotFound)));
        assert!(matches!(s.get_account("u1"), Err(StoreError::NotFound)));
        assert_eq!(s.account_session("s3", 50).unwrap(), "a1");
        assert!(s.get_client("c2").is_ok());
    }

    fn sessions_end_one_or_all_but_one(s) {
        s.insert_account(&account("u1", "user")).unwrap();
        for id in ["s1", "s2", "s3"] {
            s.insert_account_session(id, "u1", 10, 100).unwrap();
        }
        s.delete_account_session("s1").unwrap();
        s.delete_account_session("s1").unwrap();
        assert!(matches!(s.account_session("s1", 50), Err(StoreError::NotFound)));
        s.delete_account_sessions("u1", Some("s2")).unwrap();
        assert_eq!(s.account_session("s2", 50).unwrap(), "u1");
        assert!(matches!(s.account_session("s3", 50), Err(StoreError::NotFound)));
        s.delete_account_sessions("u1", None).unwrap();
        assert!(matches!(s.account_session("s2", 50), Err(StoreError::NotFound)));
    }

    fn initial_access_tokens_have_a_number_of_uses(s) {
        s.insert_initial_access_token("t", 2, 10, 100).unwrap();
        s.use_initial_access_token("t", 20).unwrap();
        s.use_initial_access_token("t", 20).unwrap();
        assert!(matches!(s.use_initial_access_token("t", 20), Err(StoreError::NotFound)));
        s.insert_initial_access_token("u", 5, 10, 100).unwrap();
        assert!(matches!(s.use_initial_access_token("u", 100), Err(StoreError::NotFound)));
        assert!(matches!(s.use_initial_access_token("nope", 20), Err(StoreError::NotFound)));
    }
}
