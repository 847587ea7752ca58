//! Group commit: the one writer connection runs concurrent writes in one
//! transaction and commits them together, so `synchronous = FULL` costs
//! one fsync per group rather than one per write — and still nothing is
//! acknowledged before it is on disk.
//!
//! Each write runs in its own savepoint inside the open transaction, so it
//! sees the writes before it, and a failed one rolls back alone. A writer
//! that finds others queued behind it leaves the transaction open for them
//! and waits; the last of a queue (or the [`MAX_GROUP`]th) commits for all,
//! and everyone gets their answer only after that commit — an error if it
//! failed, so nothing is reported written that is not.

use std::collections::HashMap;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Condvar, Mutex, MutexGuard};

use rusqlite::Connection;

use crate::store::{StoreError, StoreResult};

/// Writes in one group at most: bounds how long the first one waits.
const MAX_GROUP: usize = 64;

#[derive(Debug)]
struct Inner {
    conn: Connection,
    /// Writes in the open transaction (0: none open).
    in_group: usize,
    /// The open (or next) group's number: every group below it is decided.
    group: u64,
    /// Decided groups' outcomes (an error text for a failed commit), kept
    /// until their last waiter has read them.
    outcomes: HashMap<u64, (usize, Option<String>)>,
}

/// The writer connection and its group commit.
#[derive(Debug)]
pub(super) struct Writer {
    inner: Mutex<Inner>,
    committed: Condvar,
    /// Writers waiting for the connection.
    queued: AtomicUsize,
    /// Commits made (each of one group).
    commits: AtomicUsize,
}

fn backend(e: rusqlite::Error) -> StoreError {
    StoreError::Backend(e.to_string())
}

impl Writer {
    pub(super) fn new(conn: Connection) -> Self {
        Self {
            inner: Mutex::new(Inner {
                conn,
                in_group: 0,
                group: 0,
                outcomes: HashMap::new(),
            }),
            committed: Condvar::new(),
            queued: AtomicUsize::new(0),
            commits: AtomicUsize::new(0),
        }
    }

    fn lock(&self) -> StoreResult<MutexGuard<'_, Inner>> {
        self.inner
            .lock()
            .map_err(|_| StoreError::Backend("writer lock poisoned".into()))
    }

    /// Runs `f` atomically (all of its statements or none) and returns its
    /// result once it is committed.
    pub(super) fn write<T>(&self, f: impl FnOnce(&Connection) -> StoreResult<T>) -> StoreResult<T> {
        self.queued.fetch_add(1, Ordering::SeqCst);
        let taken = self.lock();
        self.queued.fetch_sub(1, Ordering::SeqCst);
        let mut g = taken?;
        if g.in_group == 0 {
            // BEGIN IMMEDIATE: take the write lock now, so the reads in `f`
            // and its writes see one state even with another process on
            // the file (it waits under busy_timeout).
            run(&g.conn, "BEGIN IMMEDIATE").map_err(backend)?;
        }
        let out = match savepoint(&g.conn, f) {
            Ok(out) => out,
            Err(broken) => {
                // The transaction itself is in doubt: nobody's writes in it
                // are kept.
                let _ = g.conn.execute_batch("ROLLBACK");
                g.in_group += 1;
                self.decide(&mut g, Some(broken.to_string()));
                return Err(broken);
            }
        };
        g.in_group += 1;
        let group = g.group;
        if self.queued.load(Ordering::SeqCst) == 0 || g.in_group >= MAX_GROUP {
            self.commits.fetch_add(1, Ordering::Relaxed);
            let outcome = match run(&g.conn, "COMMIT") {
                Ok(()) => None,
                Err(e) => {
                    let _ = g.conn.execute_batch("ROLLBACK");
                    Some(e.to_string())
                }
            };
            self.decide(&mut g, outcome.clone());
            return match outcome {
                None => out,
                Some(e) => Err(StoreError::Backend(e)),
            };
        }
        // Someone queued behind: the group stays open for them; the last
        // commits. A failed write waits too: its answer (a conflict, a
        // missing row) was read from the group's writes, which nobody
        // else can see until they are committed — answered at once, a
        // caller retrying on a reader would find the state unchanged.
        g.outcomes.entry(group).or_insert((0, None)).0 += 1;
        while g.group <= group {
            g = self
                .committed
                .wait(g)
                .map_err(|_| StoreError::Backend("writer lock poisoned".into()))?;
        }
        let failed = match g.outcomes.get_mut(&group) {
            Some((waiters, failed)) => {
                *waiters -= 1;
                let failed = failed.clone();
                if *waiters == 0 {
                    g.outcomes.remove(&group);
                }
                failed
            }
            None => Some("the write's group commit left no outcome".into()),
        };
        match failed {
            None => out,
            Some(e) => Err(StoreError::Backend(e)),
        }
    }

    /// Closes the open group with `outcome` and wakes its waiters.
    fn decide(&self, g: &mut Inner, outcome: Option<String>) {
        let group = g.group;
        if let Some((_, failed)) = g.outcomes.get_mut(&group) {
            *failed = outcome;
        }
        g.in_group = 0;
        g.group += 1;
        self.committed.notify_all();
    }
}

/// Runs `f` in a savepoint: released when it succeeds, rolled back when it
/// fails or panics. The outer `Err` means the savepoint itself failed.
fn savepoint<T>(
    conn: &Connection,
    f: impl FnOnce(&Connection) -> StoreResult<T>,
) -> StoreResult<StoreResult<T>> {
    run(conn, "SAVEPOINT w").map_err(backend)?;
    let out = catch_unwind(AssertUnwindSafe(|| f(conn)))
        .unwrap_or_else(|_| Err(StoreError::Backend("a storage write panicked".into())));
    if out.is_ok() {
        run(conn, "RELEASE w")
    } else {
        conn.execute_batch("ROLLBACK TO w; RELEASE w")
    }
    .map_err(backend)?;
    Ok(out)
}

/// One statement without rows, parsed once per connection (these run for
/// every write).
fn run(conn: &Connection, sql: &str) -> rusqlite::Result<()> {
    conn.prepare_cached(sql)?.execute([]).map(|_| ())
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;

    fn writer() -> (tempfile::TempDir, Arc<Writer>) {
        let dir = tempfile::tempdir().unwrap();
        let conn = Connection::open(dir.path().join("w.db")).unwrap();
        conn.execute_batch(
            "PRAGMA journal_mode = WAL; PRAGMA foreign_keys = ON;
             CREATE TABLE t (v INTEGER PRIMARY KEY);
             CREATE TABLE parent (id INTEGER PRIMARY KEY);
             CREATE TABLE child (pid INTEGER REFERENCES parent (id) DEFERRABLE INITIALLY DEFERRED);",
        )
        .unwrap();
        (dir, Arc::new(Writer::new(conn)))
    }

    fn insert(w: &Writer, v: i64) -> StoreResult<()> {
        w.write(|c| {
            c.execute("INSERT INTO t (v) VALUES (?1)", [v])
                .map(|_| ())
                .map_err(backend)
        })
    }

    fn values(w: &Writer) -> Vec<i64> {
        w.write(|c| {
            let mut st = c.prepare("SELECT v FROM t ORDER BY v").map_err(backend)?;
            let rows = st.query_map([], |r| r.get(0)).map_err(backend)?;
            rows.collect::<Result<Vec<i64>, _>>().map_err(backend)
        })
        .unwrap()
    }

    /// Waits until the open group holds `n` writes.
    fn until_in_group(w: &Writer, n: usize) {
        while w.lock().unwrap().in_group < n {
            std::thread::sleep(std::time::Duration::from_millis(1));
        }
    }

    #[test]
    fn concurrent_writes_all_land_in_fewer_commits() {
        let (_dir, w) = writer();
        let threads: Vec<_> = (0..16)
            .map(|t| {
                let w = Arc::clone(&w);
                std::thread::spawn(move || {
                    for i in 0..50 {
                        insert(&w, t * 1000 + i).unwrap();
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        assert_eq!(values(&w).len(), 800);
        let commits = w.commits.load(Ordering::Relaxed);
        assert!(commits < 800, "{commits} commits for 800 writes");
    }

    #[test]
    fn a_failed_write_rolls_back_alone_and_every_answer_waits_for_the_commit() {
        let (_dir, w) = writer();
        // Someone "queued": the first two writes leave the group open.
        w.queued.fetch_add(1, Ordering::SeqCst);
        let first = {
            let w = Arc::clone(&w);
            std::thread::spawn(move || insert(&w, 1))
        };
        until_in_group(&w, 1);
        let failed = {
            let w = Arc::clone(&w);
            std::thread::spawn(move || {
                w.write(|c| {
                    c.execute("INSERT INTO t (v) VALUES (2)", [])
                        .map_err(backend)?;
                    Err::<(), _>(StoreError::Conflict("on purpose"))
                })
            })
        };
        until_in_group(&w, 2);
        // Not committed yet: both wait, the failed one too (its answer
        // may rest on the first write, invisible until committed).
        std::thread::sleep(std::time::Duration::from_millis(50));
        assert!(!first.is_finished());
        assert!(!failed.is_finished());
        w.queued.fetch_sub(1, Ordering::SeqCst);
        // A panicking write is an error, and rolled back too; the last of
        // the group, it commits for the others.
        let panicked = w.write(|c| -> StoreResult<()> {
            c.execute("INSERT INTO t (v) VALUES (3)", [])
                .map_err(backend)?;
            panic!("on purpose")
        });
        assert!(matches!(panicked, Err(StoreError::Backend(_))));
        first.join().unwrap().unwrap();
        assert!(matches!(
            failed.join().unwrap(),
            Err(StoreError::Conflict("on purpose"))
        ));
        assert_eq!(values(&w), [1]);
        assert_eq!(w.commits.load(Ordering::Relaxed), 2);
    }

    #[test]
    fn a_failed_commit_fails_every_write_of_the_group() {
        let (_dir, w) = writer();
        w.queued.fetch_add(1, Ordering::SeqCst);
        let first = {
            let w = Arc::clone(&w);
            std::thread::spawn(move || insert(&w, 1))
        };
        until_in_group(&w, 1);
        w.queued.fetch_sub(1, Ordering::SeqCst);
        // A dangling reference, checked only at COMMIT: the commit fails.
        let dangling = w.write(|c| {
            c.execute("INSERT INTO child (pid) VALUES (42)", [])
                .map(|_| ())
                .map_err(backend)
        });
        assert!(dangling.is_err());
        assert!(
            first.join().unwrap().is_err(),
            "reported written, but not committed"
        );
        assert_eq!(values(&w), Vec::<i64>::new());
        // And the writer goes on.
        insert(&w, 5).unwrap();
        assert_eq!(values(&w), [5]);
    }
}
