//! The [`Store`] trait on PostgreSQL: each method picks autocommit or a
//! transaction (with the advisory locks its decision needs) and calls the
//! SQL of its area.

use super::*;

impl Store for PostgresStore {
    fn get_key_material(&self, name: &str) -> StoreResult<(i64, String)> {
        self.auto(|c| key_material::get(c, name))
    }
    fn put_key_material(
        &self,
        name: &str,
        expected: i64,
        value: &str,
        now: i64,
    ) -> StoreResult<i64> {
        self.tx(|t| key_material::put(t, name, expected, value, now))
    }
    fn key_material_versions(&self) -> StoreResult<Vec<(String, i64)>> {
        self.auto(key_material::versions)
    }
    fn insert_key(&self, key: &KeyRecord, jti: Option<(&str, i64)>) -> StoreResult<()> {
        self.tx(|t| {
            if let Some((id, until)) = jti {
                keys::use_jti(t, id, until)?;
            }
            lock(t, Lock::NewKey, &key.pk)?;
            keys::insert_key(t, key)?;
            devices::insert_first(t, key)
        })
    }
    fn get_key(&self, pk: &str) -> StoreResult<KeyRecord> {
        self.auto(|c| keys::get_key(c, pk))
    }
    fn revoke_key(&self, pk: &str, at: i64) -> StoreResult<()> {
        self.tx(|t| {
            lock(t, Lock::Identity, pk)?;
            keys::revoke_key(t, pk, at)?;
            devices::revoke_all(t, pk, at)?;
            records::revoke_families_of_key(t, pk, at + crate::store::FAMILY_REVOCATION_TTL)
        })
    }
    fn revoke_families_of_key(&self, pk: &str, until: i64) -> StoreResult<()> {
        self.tx(|t| records::revoke_families_of_key(t, pk, until))
    }
    fn bind_key(&self, pk: &str, email: Option<&[u8]>, phone: Option<&[u8]>) -> StoreResult<()> {
        self.auto(|c| keys::bind_key(c, pk, email, phone))
    }
    fn find_key_by_email(&self, email_hash: &[u8]) -> StoreResult<KeyRecord> {
        self.auto(|c| keys::find_key_by_email(c, email_hash))
    }
    fn find_key_by_binding(&self, email_hash: &[u8], phone_hash: &[u8]) -> StoreResult<KeyRecord> {
        self.auto(|c| keys::find_key_by_binding(c, email_hash, phone_hash))
    }
    fn insert_grant(&self, grant: &GrantRecord) -> StoreResult<()> {
        self.auto(|c| keys::insert_grant(c, grant))
    }
    fn has_grant(&self, pk: &str, scope: &str, value_hash: &[u8], now: i64) -> StoreResult<bool> {
        self.auto(|c| keys::has_grant(c, pk, scope, value_hash, now))
    }
    fn insert_job(&self, job: &Job) -> StoreResult<()> {
        self.auto(|c| keys::insert_job(c, job))
    }
    fn get_job(&self, id: &str, now: i64) -> StoreResult<Job> {
        self.auto(|c| keys::get_job(c, id, now))
    }
    fn attempt_job(&self, id: &str, max: u32, now: i64) -> StoreResult<Job> {
        self.auto(|c| keys::attempt_job(c, id, max, now))
    }
    fn update_job(&self, job: &Job) -> StoreResult<()> {
        self.auto(|c| keys::update_job(c, job))
    }
    fn delete_job(&self, id: &str) -> StoreResult<()> {
        self.auto(|c| keys::delete_job(c, id))
    }
    fn put_revoke_code(&self, code: &RevokeCode) -> StoreResult<()> {
        self.auto(|c| keys::put_revoke_code(c, code))
    }
    fn attempt_revoke_code(&self, pk: &str, max: u32, now: i64) -> StoreResult<RevokeCode> {
        self.auto(|c| keys::attempt_revoke_code(c, pk, max, now))
    }
    fn delete_revoke_code(&self, pk: &str) -> StoreResult<()> {
        self.auto(|c| keys::delete_revoke_code(c, pk))
    }
    fn use_jti(&self, id: &str, expires_at: i64) -> StoreResult<()> {
        self.auto(|c| keys::use_jti(c, id, expires_at))
    }
    fn rate_refund(&self, bucket: &str) -> StoreResult<()> {
        self.auto(|c| events::rate_refund(c, bucket))
    }
    fn rate_hit(
        &self,
        bucket: &str,
        limit: u32,
        window: u64,
        now: i64,
    ) -> StoreResult<RateDecision> {
        self.auto(|c| events::rate_hit(c, bucket, limit, window, now))
    }
    fn insert_event(
        &self,
        pk: &str,
        kind: &str,
        data: &str,
        now: i64,
        expires_at: i64,
    ) -> StoreResult<i64> {
        self.tx(|t| {
            lock(t, Lock::Events, pk)?;
            events::insert_event(t, pk, kind, data, now, expires_at)
        })
    }
    fn events_after(&self, pk: &str, after: i64, now: i64) -> StoreResult<Vec<StoredEvent>> {
        self.auto(|c| events::events_after(c, pk, after, now))
    }
    fn insert_client(
        &self,
        client_id: &str,
        data: &str,
        owner: Option<&str>,
        now: i64,
    ) -> StoreResult<()> {
        self.auto(|c| records::insert_client(c, client_id, data, owner, now))
    }
    fn get_client(&self, client_id: &str) -> StoreResult<String> {
        self.auto(|c| records::get_client(c, client_id))
    }
    fn update_client(&self, client_id: &str, data: &str) -> StoreResult<()> {
        self.auto(|c| records::update_client(c, client_id, data))
    }
    fn delete_client(&self, client_id: &str) -> StoreResult<()> {
        self.auto(|c| records::delete_client(c, client_id))
    }
    fn list_clients(&self) -> StoreResult<Vec<(String, String)>> {
        self.auto(|c| records::list_clients(c, None))
    }
    fn list_clients_of(&self, owner: &str) -> StoreResult<Vec<(String, String)>> {
        self.auto(|c| records::list_clients(c, Some(owner)))
    }
    fn insert_account(&self, account: &Account) -> StoreResult<()> {
        self.auto(|c| accounts::insert(c, account))
    }
    fn get_account(&self, id: &str) -> StoreResult<Account> {
        self.auto(|c| accounts::get(c, id))
    }
    fn find_account_by_email(&self, email: &str) -> StoreResult<Account> {
        self.auto(|c| accounts::by_email(c, email))
    }
    fn find_account_by_pk(&self, pk: &str) -> StoreResult<Account> {
        self.auto(|c| accounts::by_pk(c, pk))
    }
    fn list_accounts(&self) -> StoreResult<Vec<Account>> {
        self.auto(accounts::list)
    }
    fn update_account(&self, account: &Account) -> StoreResult<()> {
        self.tx(|t| {
            lock(t, Lock::Accounts, "")?;
            accounts::update(t, account)
        })
    }
    fn delete_account(&self, id: &str) -> StoreResult<()> {
        self.tx(|t| {
            lock(t, Lock::Accounts, "")?;
            accounts::delete(t, id)
        })
    }
    fn insert_account_session(
        &self,
        id: &str,
        account_id: &str,
        now: i64,
        expires_at: i64,
    ) -> StoreResult<()> {
        self.auto(|c| accounts::insert_session(c, id, account_id, now, expires_at))
    }
    fn account_session(&self, id: &str, now: i64) -> StoreResult<String> {
        self.auto(|c| accounts::session(c, id, now))
    }
    fn delete_account_session(&self, id: &str) -> StoreResult<()> {
        self.auto(|c| accounts::delete_session(c, id))
    }
    fn delete_account_sessions(&self, account_id: &str, except: Option<&str>) -> StoreResult<()> {
        self.auto(|c| accounts::delete_sessions(c, account_id, except))
    }
    fn remember_subject(&self, client_id: &str, sub: &str, pk: &str, now: i64) -> StoreResult<()> {
        self.auto(|c| records::remember_subject(c, client_id, sub, pk, now))
    }
    fn find_subject(&self, client_id: &str, sub: &str) -> StoreResult<String> {
        self.auto(|c| records::find_subject(c, client_id, sub))
    }
    fn insert_initial_access_token(
        &self,
        id: &str,
        uses: u32,
        now: i64,
        expires_at: i64,
    ) -> StoreResult<()> {
        self.auto(|c| accounts::insert_initial_access_token(c, id, uses, now, expires_at))
    }
    fn use_initial_access_token(&self, id: &str, now: i64) -> StoreResult<()> {
        self.auto(|c| accounts::use_initial_access_token(c, id, now))
    }
    fn put_record(&self, r: &Record) -> StoreResult<()> {
        self.auto(|c| records::put_record(c, r))
    }
    fn write_all(&self, writes: &[Write]) -> StoreResult<()> {
        self.tx(|t| {
            writes.iter().try_for_each(|w| match w {
                Write::ReplaceRecord {
                    kind,
                    id,
                    version,
                    data,
                } => records::replace_record(t, kind, id, *version, data),
                Write::SecurityEvent(e) => events::insert_security_event(t, e).map(|_| ()),
                Write::DeviceEvent(e) => {
                    // As insert_event: a key's event ids commit in order.
                    lock(t, Lock::Events, &e.pk)?;
                    events::insert_event(t, &e.pk, &e.kind, &e.data, e.now, e.expires_at)
                        .map(|_| ())
                }
            })
        })
    }
    fn get_record(&self, kind: &str, id: &str, now: i64) -> StoreResult<Record> {
        self.auto(|c| records::get_record(c, kind, id, now))
    }
    fn use_record(&self, kind: &str, id: &str, now: i64, keep_data: bool) -> StoreResult<Record> {
        self.tx(|t| records::use_record(t, kind, id, now, keep_data))
    }
    fn exchange(
        &self,
        kind: &str,
        id: &str,
        now: i64,
        keep_data: bool,
        issue: &[Record],
    ) -> StoreResult<Record> {
        self.tx(|t| {
            let spent = records::use_record(t, kind, id, now, keep_data)?;
            issue.iter().try_for_each(|r| records::put_record(t, r))?;
            Ok(spent)
        })
    }
    fn record_family(&self, kind: &str, id: &str) -> StoreResult<String> {
        self.auto(|c| records::record_family(c, kind, id))
    }
    fn revoke_family(&self, family: &str, until: i64) -> StoreResult<()> {
        self.auto(|c| records::revoke_family(c, family, until))
    }
    fn session_clients(&self, sid: &str, now: i64) -> StoreResult<Vec<String>> {
        self.auto(|c| records::session_clients(c, sid, now))
    }
    fn key_sessions(&self, pk: &str, now: i64) -> StoreResult<Vec<ClientSession>> {
        self.auto(|c| records::key_sessions(c, pk, now))
    }
    fn enqueue_outgoing(&self, item: &Outgoing) -> StoreResult<i64> {
        self.auto(|c| events::enqueue_outgoing(c, item))
    }
    fn take_due_outgoing(&self, now: i64, lease: i64, limit: u32) -> StoreResult<Vec<Outgoing>> {
        self.tx(|t| events::take_due_outgoing(t, now, lease, limit))
    }
    fn outgoing_done(&self, id: i64) -> StoreResult<()> {
        self.auto(|c| events::outgoing_done(c, id))
    }
    fn outgoing_failed(&self, id: i64, next_at: i64, error: &str) -> StoreResult<()> {
        self.auto(|c| events::outgoing_failed(c, id, next_at, error))
    }
    fn list_outgoing(&self) -> StoreResult<Vec<Outgoing>> {
        self.auto(events::list_outgoing)
    }
    fn insert_security_event(&self, event: &SecurityEvent) -> StoreResult<i64> {
        self.auto(|c| events::insert_security_event(c, event))
    }
    fn count_security_events(&self, filter: &EventFilter) -> StoreResult<EventCount> {
        self.auto(|c| events::count_security_events(c, filter))
    }
    fn list_security_events(
        &self,
        filter: &EventFilter,
        limit: u32,
    ) -> StoreResult<Vec<SecurityEvent>> {
        self.auto(|c| events::list_security_events(c, filter, limit))
    }
    fn purge_expired(&self, now: i64) -> StoreResult<()> {
        let old_events = now - crate::store::SECURITY_EVENT_RETENTION;
        self.tx(|t| {
            // A sign-in session still pending when it expires is an expired
            // sign-in, logged for its client's usage. Deleted and logged in
            // one statement: instances purging at once log each one once.
            t.execute(
                "WITH gone AS (
                    DELETE FROM records WHERE expires_at <= $1 RETURNING kind, data, expires_at
                 )
                 INSERT INTO security_events (at, kind, pk, client_id, ip)
                 SELECT expires_at, $2, d->>'expected_pk', d->'request'->>'client_id', d->>'ip'
                 FROM (
                    SELECT expires_at,
                           CASE WHEN left(data, 1) = '{' THEN data::jsonb END AS d
                    FROM gone WHERE kind = 'session'
                 ) s
                 WHERE d->>'status' = 'pending'",
                &[&now, &crate::security::events::Kind::SignInExpired.as_str()],
            )
            .map_err(backend)?;
            for table in [
                "records",
                "revoked_families",
                "jobs",
                "revoke_codes",
                "used_jtis",
                "events",
                "grants",
                "rate_buckets",
                "outgoing",
                "account_sessions",
                "initial_access_tokens",
            ] {
                t.execute(
                    &format!("DELETE FROM {table} WHERE expires_at <= $1"),
                    &[&now],
                )
                .map_err(backend)?;
            }
            t.execute("DELETE FROM security_events WHERE at <= $1", &[&old_events])
                .map_err(backend)?;
            Ok(())
        })
    }
}
