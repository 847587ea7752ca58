//! The devices of an identity: the first one comes with the key, linked
//! ones are added to a live identity only, removing stops one (never the
//! last), revoking the identity or recovering it ends the old ones.

use super::{both, key};
use crate::store::StoreError;
use crate::store::devices::{DeviceRecord, FIRST_DEVICE};

fn device(pk: &str, id_pk: &str, added_at: i64) -> DeviceRecord {
    DeviceRecord {
        pk: pk.into(),
        id_pk: id_pk.into(),
        name: format!("device {pk}"),
        added_at,
        last_used_at: None,
        revoked_at: None,
    }
}

both! {
    fn a_key_is_an_identity_with_one_device(s) {
        s.insert_key(&key("a"), None).unwrap();
        let first = s.get_device("a").unwrap();
        assert_eq!((first.id_pk.as_str(), first.name.as_str()), ("a", FIRST_DEVICE));
        assert_eq!(first.added_at, 100);
        assert!(!first.is_removed());
        assert_eq!(s.list_devices("a").unwrap(), vec![first]);
        assert!(matches!(s.get_device("b"), Err(StoreError::NotFound)));
    }

    fn devices_are_added_to_live_identities_with_fresh_keys_only(s) {
        s.insert_key(&key("a"), None).unwrap();
        s.insert_key(&key("c"), None).unwrap();
        s.add_device(&device("b", "a", 200)).unwrap();
        let listed: Vec<String> = s.list_devices("a").unwrap().into_iter().map(|d| d.pk).collect();
        assert_eq!(listed, ["a", "b"]);
        // A device already, an ID already, or an unknown identity.
        for (pk, id) in [("b", "a"), ("c", "a"), ("a", "c")] {
            assert!(matches!(
                s.add_device(&device(pk, id, 300)),
                Err(StoreError::Conflict("duplicate-key"))
            ), "{pk} to {id}");
        }
        assert!(matches!(s.add_device(&device("d", "nope", 300)), Err(StoreError::NotFound)));
        // A linked key cannot register as an ID of its own.
        assert!(matches!(s.insert_key(&key("b"), None), Err(StoreError::Conflict("duplicate-key"))));
        s.revoke_key("c", 400).unwrap();
        assert!(matches!(s.add_device(&device("e", "c", 500)), Err(StoreError::NotFound)));
    }

    fn removing_stops_one_device_but_never_the_last(s) {
        s.insert_key(&key("a"), None).unwrap();
        s.add_device(&device("b", "a", 200)).unwrap();
        s.rename_device("b", "Work laptop").unwrap();
        assert_eq!(s.get_device("b").unwrap().name, "Work laptop");
        s.touch_device("b", 250).unwrap();
        s.touch_device("b", 260).unwrap();
        assert_eq!(s.get_device("b").unwrap().last_used_at, Some(250), "once a minute");
        s.remove_device("a", 300).unwrap();
        assert_eq!(s.get_device("a").unwrap().revoked_at, Some(300));
        assert!(s.get_key("a").unwrap().revoked_at.is_none(), "the identity stays");
        assert!(matches!(s.remove_device("b", 310), Err(StoreError::Conflict("last-device"))));
        assert!(matches!(s.remove_device("a", 310), Err(StoreError::NotFound)));
        assert!(matches!(s.rename_device("a", "x"), Err(StoreError::NotFound)));
        assert_eq!(s.list_devices("a").unwrap().len(), 1);
    }

    fn revoking_the_identity_removes_every_device(s) {
        s.insert_key(&key("a"), None).unwrap();
        s.add_device(&device("b", "a", 200)).unwrap();
        s.revoke_key("a", 300).unwrap();
        assert_eq!(s.get_device("a").unwrap().revoked_at, Some(300));
        assert_eq!(s.get_device("b").unwrap().revoked_at, Some(300));
        assert!(s.list_devices("a").unwrap().is_empty());
    }

    fn recovery_replaces_every_device_and_the_secret(s) {
        s.insert_key(&key("a"), None).unwrap();
        s.add_device(&device("b", "a", 200)).unwrap();
        let mut removed = s.recover_identity(&device("n", "a", 300), &[9; 32], 300).unwrap();
        removed.sort();
        assert_eq!(removed, ["a", "b"]);
        let listed: Vec<String> = s.list_devices("a").unwrap().into_iter().map(|d| d.pk).collect();
        assert_eq!(listed, ["n"]);
        assert_eq!(s.get_key("a").unwrap().secret_hash, vec![9; 32]);
        assert!(s.get_key("a").unwrap().revoked_at.is_none());
        // The new key must be fresh; the identity live.
        assert!(matches!(
            s.recover_identity(&device("b", "a", 400), &[8; 32], 400),
            Err(StoreError::Conflict("duplicate-key"))
        ));
        s.revoke_key("a", 500).unwrap();
        assert!(matches!(
            s.recover_identity(&device("m", "a", 600), &[8; 32], 600),
            Err(StoreError::NotFound)
        ));
    }
}
