//! Named, versioned key material.

use super::both;
use crate::store::StoreError;

both! {
    fn key_material_changes_by_compare_and_swap(s) {
        assert!(matches!(s.get_key_material("issuer"), Err(StoreError::NotFound)));
        assert!(s.key_material_versions().unwrap().is_empty());
        assert_eq!(s.put_key_material("issuer", 0, "v1", 10).unwrap(), 1);
        assert!(matches!(
            s.put_key_material("issuer", 0, "other", 10),
            Err(StoreError::Conflict("exists"))
        ));
        assert_eq!(s.put_key_material("issuer", 1, "v2", 20).unwrap(), 2);
        assert!(matches!(
            s.put_key_material("issuer", 1, "stale", 30),
            Err(StoreError::Conflict("changed"))
        ));
        assert_eq!(s.get_key_material("issuer").unwrap(), (2, "v2".to_string()));
        s.put_key_material("cookie", 0, "c1", 10).unwrap();
        assert_eq!(
            s.key_material_versions().unwrap(),
            [("cookie".to_string(), 1), ("issuer".to_string(), 2)]
        );
    }
}
