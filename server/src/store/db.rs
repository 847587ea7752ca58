//! [`Db`], the async face of a [`Store`]: writes (and reads that may wait on
//! the network) run on tokio's blocking pool; a [`Store::quick_reads`]
//! store's reads run where they are awaited, through [`Reads`], which can
//! only read.

use std::sync::Arc;

use super::{
    Account, DeviceRecord, EventCount, EventFilter, Job, KeyRecord, Record, Store, StoreError,
    StoreResult, StoredEvent, postgres,
};

#[derive(Debug, Clone)]
pub struct Db(Arc<dyn Store>);

impl Db {
    pub fn new(store: Arc<dyn Store>) -> Self {
        Self(store)
    }

    /// Runs `f` on the blocking pool.
    pub async fn call<T, F>(&self, f: F) -> StoreResult<T>
    where
        T: Send + 'static,
        F: FnOnce(&dyn Store) -> StoreResult<T> + Send + 'static,
    {
        let store = Arc::clone(&self.0);
        // Counted in flight and timed (queueing included) until answered.
        let _call = crate::metrics::db_call();
        tokio::task::spawn_blocking(move || postgres::blocking_call(|| f(store.as_ref())))
            .await
            .map_err(|e| StoreError::Backend(format!("storage task failed: {e}")))?
    }

    /// Runs `f`, which can only read: here when the store's reads are
    /// quick now (SQLite in WAL mode with a reader free: it waits for no
    /// writer), else on the blocking pool as [`Db::call`] does. A read costs a few microseconds
    /// of SQLite; the hop to the blocking pool and back cost more (two
    /// thread wake-ups).
    pub async fn read<T, F>(&self, f: F) -> StoreResult<T>
    where
        T: Send + 'static,
        F: FnOnce(Reads<'_>) -> StoreResult<T> + Send + 'static,
    {
        if self.0.quick_reads() {
            let _call = crate::metrics::db_call();
            f(Reads(self.0.as_ref()))
        } else {
            self.call(move |s| f(Reads(s))).await
        }
    }
}

/// The reads of a [`Store`], and nothing else: what [`Db::read`] hands its
/// closure, so a write (which waits for a commit) can't end up on an async
/// thread.
#[derive(Debug, Clone, Copy)]
pub struct Reads<'a>(&'a dyn Store);

impl Reads<'_> {
    pub fn get_key(&self, pk: &str) -> StoreResult<KeyRecord> {
        self.0.get_key(pk)
    }
    pub fn find_key_by_email(&self, email_hash: &[u8]) -> StoreResult<KeyRecord> {
        self.0.find_key_by_email(email_hash)
    }
    pub fn get_job(&self, id: &str, now: i64) -> StoreResult<Job> {
        self.0.get_job(id, now)
    }
    pub fn get_client(&self, client_id: &str) -> StoreResult<String> {
        self.0.get_client(client_id)
    }
    pub fn get_account(&self, id: &str) -> StoreResult<Account> {
        self.0.get_account(id)
    }
    pub fn account_session(&self, sid: &str, now: i64) -> StoreResult<String> {
        self.0.account_session(sid, now)
    }
    pub fn find_subject(&self, client_id: &str, sub: &str) -> StoreResult<String> {
        self.0.find_subject(client_id, sub)
    }
    pub fn get_record(&self, kind: &str, id: &str, now: i64) -> StoreResult<Record> {
        self.0.get_record(kind, id, now)
    }
    pub fn record_family(&self, kind: &str, id: &str) -> StoreResult<String> {
        self.0.record_family(kind, id)
    }
    pub fn get_device(&self, pk: &str) -> StoreResult<DeviceRecord> {
        self.0.get_device(pk)
    }
    pub fn list_devices(&self, id_pk: &str) -> StoreResult<Vec<DeviceRecord>> {
        self.0.list_devices(id_pk)
    }
    pub fn events_after(&self, pk: &str, after: i64, now: i64) -> StoreResult<Vec<StoredEvent>> {
        self.0.events_after(pk, after, now)
    }
    /// Only with a key in the filter (an index range): a filter without one
    /// scans the log, which belongs on the blocking pool ([`Db::call`]).
    pub fn count_security_events(&self, filter: &EventFilter) -> StoreResult<EventCount> {
        if filter.pk.is_none() {
            return Err(StoreError::Backend(
                "a count of security events without a key is not a quick read".into(),
            ));
        }
        self.0.count_security_events(filter)
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::thread;

    use super::Db;
    use crate::store::{SqliteStore, Store, StoreError};

    #[tokio::test]
    async fn sqlite_reads_skip_the_blocking_pool_and_writes_do_not() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let store = SqliteStore::open(&dir.path().join("t.db")).unwrap_or_else(|e| panic!("{e}"));
        assert!(store.quick_reads());
        let db = Db::new(Arc::new(store));
        let here = thread::current().id();
        let (read_on, found) = db
            .read(|s| Ok((thread::current().id(), s.get_key("nobody").err())))
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(read_on, here, "a SQLite read runs where it is awaited");
        assert!(matches!(found, Some(StoreError::NotFound)));
        let call_on = db
            .call(|_| Ok(thread::current().id()))
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        assert_ne!(call_on, here, "a call runs on the blocking pool");
    }
}
