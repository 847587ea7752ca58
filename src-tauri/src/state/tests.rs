use super::*;

#[test]
fn instance_ids_differ_per_home_and_profile_and_are_dbus_names() {
    let env = |home: &str, profile: &str| Env {
        home: home.into(),
        profile: profile.into(),
        server: None,
    };
    let a = env("/tmp/a", "default").instance_id("io.authentiq.desktop");
    assert_eq!(
        a,
        env("/tmp/a", "default").instance_id("io.authentiq.desktop")
    );
    assert_ne!(
        a,
        env("/tmp/b", "default").instance_id("io.authentiq.desktop")
    );
    assert_ne!(a, env("/tmp/a", "work").instance_id("io.authentiq.desktop"));
    let last = a.rsplit('.').next().unwrap();
    assert!(last.starts_with('p') && last.len() == 17, "{a}");
    assert!(a.chars().all(|c| c.is_ascii_alphanumeric() || c == '.'));
}

/// The navigation logic touches no key.
#[derive(Debug)]
struct NoKeys;

impl KeyStore for NoKeys {
    fn load(
        &self,
        _: &str,
    ) -> Result<Option<Zeroizing<[u8; 32]>>, authentiq_authenticator::keystore::KeyStoreError> {
        Ok(None)
    }
    fn store(
        &self,
        _: &str,
        _: &[u8; 32],
    ) -> Result<(), authentiq_authenticator::keystore::KeyStoreError> {
        Ok(())
    }
    fn delete(&self, _: &str) -> Result<(), authentiq_authenticator::keystore::KeyStoreError> {
        Ok(())
    }
}

/// A fresh state over an empty home (kept alive by the returned dir).
fn new_state() -> (tempfile::TempDir, AppState) {
    let home = tempfile::tempdir().unwrap();
    let env = Env {
        home: home.path().to_path_buf(),
        profile: "default".into(),
        server: None,
    };
    let (state, _rx) = AppState::new(env, Arc::new(NoKeys));
    (home, state)
}

#[test]
fn a_request_opened_while_no_window_listens_waits_for_the_next_one() {
    let (_home, state) = new_state();
    let open = |id: &str| ForUi::Open(id.into());
    // Started: no front end yet; a notification click is held.
    assert_eq!(state.for_ui_now_or_later(open("r1")), None);
    assert_eq!(state.take_ui_ready(), Some(open("r1")));
    // Listening: the next one goes now, and nothing is held.
    assert_eq!(state.for_ui_now_or_later(open("r2")), Some(open("r2")));
    assert_eq!(state.take_ui_ready(), None);
    // The window was closed and is made again: held until it asks.
    state.ui_reloaded();
    assert_eq!(state.for_ui_now_or_later(open("r3")), None);
    let failed = ForUi::LinkError("This sign-in has expired.".into());
    assert_eq!(state.for_ui_now_or_later(failed.clone()), None);
    assert_eq!(state.take_ui_ready(), Some(failed), "the latest wins");
    assert_eq!(state.for_ui_now_or_later(open("r5")), Some(open("r5")));
}

#[test]
fn a_channel_problem_is_reported_once_until_it_changes() {
    let (_home, state) = new_state();
    assert_eq!(state.channel_problem(), None);
    assert!(state.set_channel_problem(Some("locked".into())));
    assert!(!state.set_channel_problem(Some("locked".into())), "no news");
    assert_eq!(state.channel_problem().as_deref(), Some("locked"));
    assert!(state.set_channel_problem(None));
    assert!(!state.set_channel_problem(None));
}

#[test]
fn the_revocation_secret_is_held_until_saved_or_the_id_goes() {
    let (_home, state) = new_state();
    assert!(!state.has_unsaved_secret());
    state.hold_secret("s3cret", SecretKind::Revocation);
    assert!(state.has_unsaved_secret());
    assert_eq!(state.unsaved_secret().as_deref(), Some("s3cret"));
    assert_eq!(state.unsaved_secret_kind(), Some(SecretKind::Revocation));
    state.secret_saved();
    assert_eq!(state.unsaved_secret(), None);
    assert_eq!(state.unsaved_secret_kind(), None);
    state.hold_secret("again", SecretKind::Recovery);
    assert_eq!(state.unsaved_secret_kind(), Some(SecretKind::Recovery));
    state.clear();
    assert!(
        !state.has_unsaved_secret(),
        "a revoked ID's secret goes with it"
    );
}

#[test]
fn a_kick_wakes_a_waiter() {
    let kick = Arc::new(Kick::default());
    let waiter = {
        let kick = kick.clone();
        std::thread::spawn(move || {
            let start = std::time::Instant::now();
            kick.wait(Duration::from_secs(30));
            start.elapsed()
        })
    };
    // Kick until the waiter is gone (it may not be waiting yet).
    while !waiter.is_finished() {
        kick.kick();
        std::thread::sleep(Duration::from_millis(10));
    }
    assert!(waiter.join().unwrap() < Duration::from_secs(30));
}
