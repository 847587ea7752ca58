//! The PostgreSQL store's own tests: opening, migrations, what errors show.
//! What every backend must do is in the shared suite (`store::tests`).

#![allow(clippy::unwrap_used)] // test code

use super::*;
use crate::store::tests::key;

fn fresh_url() -> String {
    cluster::fresh_database().unwrap_or_else(|e| panic!("no PostgreSQL for the tests: {e}"))
}

#[test]
fn reopening_keeps_data_and_does_not_rerun_migrations() {
    let url = fresh_url();
    PostgresStore::open(&url)
        .unwrap()
        .insert_key(&key("a"), None)
        .unwrap();
    let again = PostgresStore::open(&url).unwrap();
    assert_eq!(again.get_key("a").unwrap().pk, "a");
    let versions: Vec<i64> = again
        .auto(|c| {
            c.query(
                "SELECT version FROM schema_migrations ORDER BY version",
                &[],
            )
            .map_err(backend)?
            .iter()
            .map(|r| r.try_get(0).map_err(backend))
            .collect()
        })
        .unwrap();
    let expected: Vec<i64> = migrate::MIGRATIONS.iter().map(|(v, _)| *v).collect();
    assert_eq!(versions, expected);
}

#[test]
fn instances_starting_at_once_apply_each_migration_once() {
    for _ in 0..3 {
        let url = fresh_url();
        let barrier = std::sync::Arc::new(std::sync::Barrier::new(4));
        let handles: Vec<_> = (0..4)
            .map(|_| {
                let (url, barrier) = (url.clone(), std::sync::Arc::clone(&barrier));
                std::thread::spawn(move || {
                    barrier.wait();
                    PostgresStore::open(&url).map(|_| ())
                })
            })
            .collect();
        for h in handles {
            h.join().unwrap().unwrap();
        }
    }
}

#[test]
fn a_newer_schema_is_refused() {
    let url = fresh_url();
    let s = PostgresStore::open(&url).unwrap();
    s.auto(|c| {
        c.execute("INSERT INTO schema_migrations (version) VALUES (9999)", &[])
            .map_err(backend)
    })
    .unwrap();
    let err = PostgresStore::open(&url).unwrap_err().to_string();
    assert!(err.contains("9999"), "{err}");
}

#[test]
fn errors_and_debug_never_show_the_password() {
    // Nothing listens there: the pool gives up after its wait.
    let url = "postgres://aq:s3cret-pw@127.0.0.1:9/authentiq?connect_timeout=1";
    let started = std::time::Instant::now();
    let err = PostgresStore::open(url).unwrap_err();
    assert!(matches!(err, StoreError::Backend(_)), "{err:?}");
    assert!(!err.to_string().contains("s3cret-pw"), "{err}");
    assert!(started.elapsed() < POOL_WAIT * 2);
    let bad = PostgresStore::open("postgres://aq:s3cret-pw@[::1/x").unwrap_err();
    assert!(!bad.to_string().contains("s3cret-pw"), "{bad}");
    let s = PostgresStore::open(&fresh_url()).unwrap();
    let shown = format!("{s:?}");
    assert!(shown.starts_with("PostgresStore"), "{shown}");
    assert!(!shown.contains("host"), "{shown}");
}

#[test]
fn the_configuration_picks_the_backend() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = crate::config::Config {
        data_dir: dir.path().to_path_buf(),
        ..Default::default()
    };
    let sqlite = crate::store::open(&config).unwrap();
    assert!(format!("{sqlite:?}").starts_with("SqliteStore"));
    config.database_url = Some(fresh_url());
    let postgres = crate::store::open(&config).unwrap();
    assert!(format!("{postgres:?}").starts_with("PostgresStore"));
    config.database_url = Some("mysql://aq:s3cret-pw@db/authentiq".into());
    let err = crate::store::open(&config).unwrap_err().to_string();
    assert!(
        err.contains("postgres://") && !err.contains("s3cret-pw"),
        "{err}"
    );
}

#[tokio::test]
async fn calls_from_async_code_and_closing_there_do_not_panic() {
    // At start-up the server calls the store directly on an async thread,
    // and a test's state is dropped on one.
    let s = PostgresStore::open(&fresh_url()).unwrap();
    s.insert_key(&key("a"), None).unwrap();
    let db = crate::store::Db::new(std::sync::Arc::new(s));
    let got = db.call(|s| s.get_key("a")).await.unwrap();
    assert_eq!(got.pk, "a");
    // A read waits on the network: on the blocking pool, not here.
    let here = std::thread::current().id();
    let (on, got) = db
        .read(|s| Ok((std::thread::current().id(), s.get_key("a")?)))
        .await
        .unwrap();
    assert_eq!(got.pk, "a");
    assert_ne!(on, here);
    drop(db);
}

#[test]
fn a_transaction_chosen_to_break_a_deadlock_runs_again() {
    let s = std::sync::Arc::new(PostgresStore::open(&fresh_url()).unwrap());
    s.insert_key(&key("a"), None).unwrap();
    s.insert_key(&key("b"), None).unwrap();
    // Two transactions lock a and b in opposite orders, the second lock
    // only once both hold their first: PostgreSQL rolls one of them back.
    let barrier = std::sync::Arc::new(std::sync::Barrier::new(2));
    let runs = std::sync::Arc::new(std::sync::atomic::AtomicU32::new(0));
    let handles: Vec<_> = [("a", "b"), ("b", "a")]
        .into_iter()
        .map(|(first, second)| {
            let (s, barrier, runs) = (s.clone(), barrier.clone(), runs.clone());
            std::thread::spawn(move || {
                s.tx(|t| {
                    let n = runs.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                    let lock = "UPDATE keys SET devtoken = 'x' WHERE pk = $1";
                    t.execute(lock, &[&first]).map_err(backend)?;
                    if n < 2 {
                        barrier.wait();
                    }
                    t.execute(lock, &[&second]).map_err(backend)?;
                    Ok(())
                })
            })
        })
        .collect();
    for h in handles {
        h.join().unwrap().unwrap();
    }
    assert_eq!(
        runs.load(std::sync::atomic::Ordering::SeqCst),
        3,
        "one ran again"
    );
}
