//! Many requests at once: single-use things are used once, limits hold.
//! 16 threads race on one store (on PostgreSQL, each on a connection of
//! its own).

use super::{both, job, key, race, rec};
use crate::store::{NewEvent, RateDecision, StoreError, Write};

const RACERS: usize = 16;

both! {
    fn one_of_many_uses_a_record(s) {
        s.put_record(&rec("c", "f")).unwrap();
        let results = race(s, RACERS, |s, _| s.use_record("code", "c", 10, false));
        assert_eq!(results.iter().filter(|r| r.is_ok()).count(), 1);
        assert!(results
            .iter()
            .filter(|r| r.is_err())
            .all(|r| matches!(r, Err(StoreError::Conflict("already-used")))));
    }

    fn one_of_many_exchanges_a_code(s) {
        s.put_record(&rec("c", "f")).unwrap();
        let results = race(s, RACERS, |s, i| {
            let issued = crate::store::Record {
                kind: "refresh".into(),
                ..rec(&format!("r{i}"), "f")
            };
            s.exchange("code", "c", 10, false, &[issued])
        });
        let winners: Vec<usize> = (0..RACERS).filter(|i| results[*i].is_ok()).collect();
        assert_eq!(winners.len(), 1, "{results:?}");
        for i in 0..RACERS {
            let stored = s.get_record("refresh", &format!("r{i}"), 10).is_ok();
            assert_eq!(stored, winners.contains(&i), "r{i}");
        }
    }

    fn attempts_are_counted_before_the_limit_however_many_arrive(s) {
        s.insert_job(&job("j")).unwrap();
        let results = race(s, RACERS, |s, _| s.attempt_job("j", 5, 20));
        let mut counted: Vec<u32> = results
            .iter()
            .filter_map(|r| r.as_ref().ok().map(|j| j.attempts))
            .collect();
        counted.sort_unstable();
        assert_eq!(counted, [1, 2, 3, 4, 5]);
        assert!(results
            .iter()
            .filter(|r| r.is_err())
            .all(|r| matches!(r, Err(StoreError::Conflict("attempts")))));
        assert_eq!(s.get_job("j", 20).unwrap().attempts, 5);
    }

    fn a_rate_limit_holds_however_many_arrive(s) {
        let results = race(s, RACERS, |s, _| s.rate_hit("b", 5, 60, 1000).unwrap());
        let allowed = results.iter().filter(|d| **d == RateDecision::Allowed).count();
        assert_eq!(allowed, 5, "{results:?}");
    }

    fn one_of_many_spends_a_jti(s) {
        let results = race(s, RACERS, |s, _| s.use_jti("k:1", 100));
        assert_eq!(results.iter().filter(|r| r.is_ok()).count(), 1);
        assert!(results
            .iter()
            .filter(|r| r.is_err())
            .all(|r| matches!(r, Err(StoreError::Conflict("replayed")))));
    }

    fn one_of_many_registers_a_key(s) {
        let results = race(s, RACERS, |s, i| {
            s.insert_key(&key("a"), Some((&format!("a:{i}"), 100)))
        });
        assert_eq!(results.iter().filter(|r| r.is_ok()).count(), 1);
        assert!(results
            .iter()
            .filter(|r| r.is_err())
            .all(|r| matches!(r, Err(StoreError::Conflict("duplicate-key")))));
    }

    fn an_initial_access_token_is_used_as_often_as_allowed(s) {
        s.insert_initial_access_token("t", 3, 10, 100).unwrap();
        let results = race(s, RACERS, |s, _| s.use_initial_access_token("t", 20));
        assert_eq!(results.iter().filter(|r| r.is_ok()).count(), 3);
    }

    fn one_of_many_replaces_a_record(s) {
        s.put_record(&rec("c", "f")).unwrap();
        let results = race(s, RACERS, |s, i| {
            s.replace_record("code", "c", 0, &format!("{{\"n\":{i}}}"))
        });
        assert_eq!(results.iter().filter(|r| r.is_ok()).count(), 1);
    }

    fn one_of_many_rotates_key_material(s) {
        s.put_key_material("k", 0, "v1", 10).unwrap();
        let results = race(s, RACERS, |s, i| s.put_key_material("k", 1, &format!("v{i}"), 20));
        assert_eq!(results.iter().filter(|r| r.is_ok()).count(), 1);
        assert_eq!(s.get_key_material("k").unwrap().0, 2);
    }

    fn the_last_admin_stays_when_admins_demote_each_other_at_once(s) {
        let admin = |id: &str| crate::store::Account {
            id: id.into(),
            email: format!("{id}@example.com"),
            password_hash: "x".into(),
            role: "admin".into(),
            deactivated_at: None,
            authentiq_pk: None,
            created_at: 10,
        };
        let ids: Vec<String> = (0..4).map(|i| format!("a{i}")).collect();
        for id in &ids {
            s.insert_account(&admin(id)).unwrap();
        }
        let results = race(s, 4, move |s, i| {
            s.update_account(&crate::store::Account {
                role: "user".into(),
                ..admin(&format!("a{i}"))
            })
        });
        assert_eq!(results.iter().filter(|r| r.is_ok()).count(), 3, "{results:?}");
        let admins = s
            .list_accounts()
            .unwrap()
            .into_iter()
            .filter(|a| a.role == "admin")
            .count();
        assert_eq!(admins, 1);
    }
}

both! {
    fn a_reader_following_a_keys_events_misses_none_written_at_once(s) {
        // Writers on many connections; the reader asks only for ids above
        // the last it saw, as a device channel does: an event committed
        // after a higher id was read would be lost.
        const WRITERS: usize = 8;
        const EACH: usize = 25;
        let done = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let reader = {
            let (s, done) = (std::sync::Arc::clone(s), std::sync::Arc::clone(&done));
            std::thread::spawn(move || {
                let mut seen: Vec<i64> = Vec::new();
                loop {
                    let finished = done.load(std::sync::atomic::Ordering::SeqCst);
                    let after = seen.last().copied().unwrap_or(0);
                    seen.extend(s.events_after("k", after, 0).unwrap().iter().map(|e| e.id));
                    if finished {
                        return seen;
                    }
                }
            })
        };
        race(s, WRITERS, |s, i| {
            for n in 0..EACH {
                let data = format!("{i}-{n}");
                if (i + n) % 2 == 0 {
                    s.insert_event("k", "sign-in", &data, 0, 100).unwrap();
                } else {
                    // With other writes, as a push and its session's flag.
                    let e = NewEvent {
                        pk: "k".into(),
                        kind: "sign-in".into(),
                        data,
                        now: 0,
                        expires_at: 100,
                    };
                    s.write_all(&[Write::DeviceEvent(e)]).unwrap();
                }
            }
        });
        done.store(true, std::sync::atomic::Ordering::SeqCst);
        let seen = reader.join().unwrap();
        let all: Vec<i64> = s.events_after("k", 0, 0).unwrap().iter().map(|e| e.id).collect();
        assert_eq!(all.len(), WRITERS * EACH);
        assert_eq!(seen, all, "the reader saw every event once, in order");
    }
}
