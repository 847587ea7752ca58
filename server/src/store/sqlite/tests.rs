//! The SQLite store's own tests: its file, its migrations. What every
//! backend must do is in the shared suite (`store::tests`), run on SQLite
//! too.

#![allow(clippy::unwrap_used)] // test code

use super::*;
use crate::store::tests::key;

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

#[test]
fn ended_rate_windows_are_purged() {
    let dir = tempfile::tempdir().unwrap();
    let s = SqliteStore::open(&dir.path().join("db.sqlite")).unwrap();
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

#[test]
fn reads_are_quick_in_wal_mode_while_a_reader_is_free() {
    let dir = tempfile::tempdir().unwrap();
    let s = std::sync::Arc::new(SqliteStore::open(&dir.path().join("db.sqlite")).unwrap());
    assert!(s.wal);
    assert!(s.quick_reads());
    // Every reader held by a read that waits: the next read is not quick.
    let all_in = std::sync::Arc::new(std::sync::Barrier::new(READERS + 1));
    let release = std::sync::Arc::new(std::sync::Barrier::new(READERS + 1));
    let holders: Vec<_> = (0..READERS)
        .map(|_| {
            let (s, all_in, release) = (s.clone(), all_in.clone(), release.clone());
            std::thread::spawn(move || {
                s.read(|_| {
                    all_in.wait();
                    release.wait();
                    Ok(())
                })
                .unwrap();
            })
        })
        .collect();
    all_in.wait();
    assert!(!s.quick_reads());
    release.wait();
    for h in holders {
        h.join().unwrap();
    }
    assert!(s.quick_reads());
}
