//! Tests of the migrations: profiles from before each change to the schema
//! are brought up to date, their rows read as they were meant, and the
//! versions before still write to them.

use rusqlite::Connection;

use super::req;
use crate::local::Local;
use crate::local::schema::{MIGRATIONS, SCHEMA};
use crate::purpose::Purpose;

/// A profile of the version that kept purposes (`user_version` 1): its
/// rows read as matched by number, and that version (naming only the
/// columns it knows) still writes to it once migrated.
#[test]
fn a_profile_with_purposes_is_migrated_and_its_rows_are_not_backchannel() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("l.sqlite3");
    let old_request = |c: &Connection, id: &str, session: &str| {
        c.execute(
            "INSERT INTO requests (id, session, event, client_id, client_name, scope, ip,
                numbers, nonce, received_at, expires_at, state, purpose)
             VALUES (?1, ?2, 'jwt', 'c', 'Old Shop', 'openid', '1.2.3.4', '[4,5,6]',
                'n', 1, 100, 'pending', 'verification')",
            [id, session],
        )
        .unwrap();
    };
    {
        let old = Connection::open(&path).unwrap();
        old.execute_batch(SCHEMA).unwrap();
        old.execute_batch(MIGRATIONS[0]).unwrap();
        old.execute_batch("PRAGMA user_version = 1").unwrap();
        old_request(&old, "1", "old-s");
        old.execute(
            "INSERT INTO history (request_id, client_id, client_name, ip, decided_at, result, purpose)
             VALUES ('0', 'c', 'Old Shop', '1.2.3.4', 1, 'approved', 'reauthentication')",
            [],
        )
        .unwrap();
    }
    let l = Local::open(&path).unwrap();
    let v: i64 = l
        .conn
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .unwrap();
    assert_eq!(v, 2);
    let old = l.request("1").unwrap().unwrap();
    assert_eq!(
        (old.purpose, old.backchannel, old.binding_message),
        (Purpose::Verification, false, None)
    );
    let d = &l.history(10).unwrap()[0];
    assert_eq!(
        (d.purpose, d.backchannel, d.binding_message.as_deref()),
        (Purpose::Reauthentication, false, None)
    );
    // The version before, on the migrated profile.
    old_request(&l.conn, "9", "older-s");
    assert!(!l.request("9").unwrap().unwrap().backchannel);
    let mut new = req("", "new-s", 100);
    new.backchannel = true;
    new.binding_message = Some("Order 1234".into());
    l.add_request(&mut new, 0).unwrap();
    let new = l.request(&new.id).unwrap().unwrap();
    assert_eq!(
        (new.backchannel, new.binding_message.as_deref()),
        (true, Some("Order 1234"))
    );
}

/// A profile from before purposes were kept: its rows read as sign-ins,
/// new rows keep their purpose, and an older `aq` (naming only the
/// columns it knows) still writes to it.
#[test]
fn an_existing_profile_is_migrated_and_its_rows_read_as_sign_ins() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("l.sqlite3");
    {
        // The schema and the writes of the versions before.
        let old = Connection::open(&path).unwrap();
        old.execute_batch(SCHEMA).unwrap();
        old.execute(
            "INSERT INTO requests (id, session, event, client_id, client_name, scope, ip,
                numbers, nonce, received_at, expires_at, state)
             VALUES ('1', 'old-s', 'jwt', 'c', 'Old Shop', 'openid', '1.2.3.4', '[4,5,6]',
                'n', 1, 100, 'pending')",
            [],
        )
        .unwrap();
        old.execute(
            "INSERT INTO history (request_id, client_id, client_name, ip, decided_at, result)
             VALUES ('0', 'c', 'Old Shop', '1.2.3.4', 1, 'approved')",
            [],
        )
        .unwrap();
        old.execute(
            "INSERT INTO meta (key, value) VALUES ('request_seq', '1')",
            [],
        )
        .unwrap();
    }
    let version = |l: &Local| -> i64 {
        l.conn
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .unwrap()
    };
    let l = Local::open(&path).unwrap();
    assert_eq!(version(&l), MIGRATIONS.len() as i64);
    let old = l
        .request("1")
        .unwrap()
        .expect("the old request is still there");
    assert_eq!(old.purpose, Purpose::SignIn);
    assert_eq!(
        (old.backchannel, old.binding_message.as_deref()),
        (false, None)
    );
    assert_eq!(old.label(), "Sign in to Old Shop");
    assert_eq!(old.numbers, [4, 5, 6]);
    assert_eq!(l.pending(0).unwrap().len(), 1);
    assert_eq!(l.history(10).unwrap()[0].purpose, Purpose::SignIn);
    let mut new = req("", "new-s", 100);
    new.purpose = Purpose::Verification;
    assert!(l.add_request(&mut new, 0).unwrap());
    assert_eq!(new.id, "2", "the counter carries on");
    assert_eq!(
        l.request("2").unwrap().unwrap().purpose,
        Purpose::Verification
    );
    // An older version on the migrated profile.
    l.conn
        .execute(
            "INSERT INTO requests (id, session, event, client_id, client_name, scope, ip,
                numbers, nonce, received_at, expires_at, state)
             VALUES ('9', 'older-s', 'jwt', 'c', 'C', 'openid', '1.2.3.4', '[1,2,3]',
                'n', 1, 100, 'pending')",
            [],
        )
        .unwrap();
    assert_eq!(l.request("9").unwrap().unwrap().purpose, Purpose::SignIn);
    drop(l);
    // Opened again, twice (the app and `aq` on one profile): nothing to do.
    let (a, b) = (Local::open(&path).unwrap(), Local::open(&path).unwrap());
    let n = MIGRATIONS.len() as i64;
    assert_eq!((version(&a), version(&b)), (n, n));
    assert_eq!(a.pending(0).unwrap().len(), 3);
    // A profile a newer version migrated further is left alone.
    a.conn.execute_batch("PRAGMA user_version = 70").unwrap();
    drop((a, b));
    let l = Local::open(&path).unwrap();
    assert_eq!(version(&l), 70);
    assert_eq!(l.pending(0).unwrap().len(), 3);
}

#[test]
fn a_new_profile_starts_migrated() {
    let dir = tempfile::tempdir().unwrap();
    let l = Local::open(&dir.path().join("l.sqlite3")).unwrap();
    let v: i64 = l
        .conn
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .unwrap();
    assert_eq!(v, MIGRATIONS.len() as i64);
    let mut r = req("", "s", 100);
    r.purpose = Purpose::Reauthentication;
    l.add_request(&mut r, 0).unwrap();
    assert_eq!(l.pending(0).unwrap()[0].purpose, Purpose::Reauthentication);
}
