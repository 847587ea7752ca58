//! The store suite: the behaviour every backend must have, written against
//! `&dyn Store`. [`both!`] runs each case twice, on a fresh SQLite file
//! (`…::sqlite`) and on a fresh PostgreSQL database of this process's
//! throwaway cluster (`…::postgres`), which fails rather than skips when
//! PostgreSQL cannot start. One file per area; backend-specific tests live
//! in the backend's module.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code

mod accounts;
mod concurrency;
mod devices;
mod events;
mod key_material;
mod keys;
mod records;

use std::sync::Arc;

use super::{Job, JobStatus, KeyRecord, Record, Store};

pub(super) type Shared = Arc<dyn Store>;

/// A fresh SQLite store, and the directory to keep while it is used.
pub(super) fn sqlite() -> (tempfile::TempDir, Shared) {
    let dir = tempfile::tempdir().unwrap();
    let s = super::SqliteStore::open(&dir.path().join("db.sqlite")).unwrap();
    (dir, Arc::new(s))
}

/// A fresh PostgreSQL store on a new database.
pub(super) fn postgres() -> Shared {
    let url = super::pg_cluster::fresh_database()
        .unwrap_or_else(|e| panic!("no PostgreSQL for the store tests: {e}"));
    Arc::new(super::PostgresStore::open(&url).unwrap())
}

/// Each `fn name(s) { … }` becomes a module `name` with a test per backend.
macro_rules! both {
    ($($(#[$meta:meta])* fn $name:ident($s:ident) $body:block)*) => {
        $(
            $(#[$meta])*
            mod $name {
                #[allow(unused_imports)]
                use super::*;

                fn case($s: &$crate::store::tests::Shared) $body

                #[test]
                fn sqlite() {
                    let (_dir, s) = $crate::store::tests::sqlite();
                    case(&s);
                }

                #[test]
                fn postgres() {
                    case(&$crate::store::tests::postgres());
                }
            }
        )*
    };
}
pub(super) use both;

pub(super) fn key(pk: &str) -> KeyRecord {
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

pub(super) fn rec(id: &str, family: &str) -> Record {
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
        version: 0,
    }
}

pub(super) fn job(id: &str) -> Job {
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

/// Runs `f` on `n` threads released at once; their results in thread order.
pub(super) fn race<T: Send + 'static>(
    s: &Shared,
    n: usize,
    f: impl Fn(&dyn Store, usize) -> T + Send + Sync + 'static,
) -> Vec<T> {
    let barrier = Arc::new(std::sync::Barrier::new(n));
    let f = Arc::new(f);
    let handles: Vec<_> = (0..n)
        .map(|i| {
            let (s, barrier, f) = (Arc::clone(s), Arc::clone(&barrier), Arc::clone(&f));
            std::thread::spawn(move || {
                barrier.wait();
                f(s.as_ref(), i)
            })
        })
        .collect();
    handles.into_iter().map(|h| h.join().unwrap()).collect()
}
