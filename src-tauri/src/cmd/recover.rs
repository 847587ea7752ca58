//! Recovering an Authentiq ID on this computer when every device of it
//! is lost: the recovery secret, the codes, the waiting period; kept in
//! the profile's local state so a restart resumes it.

use std::sync::Arc;

use authentiq_authenticator::Authenticator;
use authentiq_authenticator::local::Local;
use serde::Serialize;
use tauri::{AppHandle, State};

use super::devices::{no_identity_here, no_link_or_recovery};
use super::identity::{install_new, non_empty};
use crate::device_views::RecoveringView;
use crate::error::{CmdResult, CommandError};
use crate::settings::normalize_server;
use crate::state::{AppState, Recovering, SecretKind, blocking, blocking_async};

/// Where a recovery in progress is kept in the profile's local state (so a
/// restart resumes it).
const META_RECOVERY: &str = "desktop.recovery";
const META_COMPLETES_AT: &str = "desktop.recovery.completes_at";
const META_PHONE: &str = "desktop.recovery.phone";

fn local_of(app: &Authenticator) -> Result<Local, CommandError> {
    Ok(Local::open(&app.dir().join("authenticator.sqlite3"))?)
}

/// The recovery this profile is in the middle of, if it is (SQLite: call
/// it off the async threads, or at start).
pub fn saved_recovery(app: &Authenticator) -> Option<RecoveringView> {
    let local = match local_of(app) {
        Ok(l) => l,
        Err(e) => {
            tracing::warn!("cannot read the profile's recovery state: {e}");
            return None;
        }
    };
    let get = |k: &str| local.get_meta(k).ok().flatten().filter(|v| !v.is_empty());
    let recovery = get(META_RECOVERY)?;
    Some(RecoveringView {
        recovery,
        completes_at: get(META_COMPLETES_AT).and_then(|v| v.parse().ok()),
        phone_needed: get(META_PHONE).as_deref() == Some("1"),
    })
}

fn save_recovery(app: &Authenticator, view: Option<&RecoveringView>) -> CmdResult<()> {
    let local = local_of(app)?;
    let (recovery, completes_at, phone) = match view {
        Some(v) => (
            v.recovery.clone(),
            v.completes_at.map(|t| t.to_string()).unwrap_or_default(),
            if v.phone_needed { "1" } else { "0" },
        ),
        None => (String::new(), String::new(), ""),
    };
    local.set_meta(META_RECOVERY, &recovery)?;
    local.set_meta(META_COMPLETES_AT, &completes_at)?;
    local.set_meta(META_PHONE, phone)?;
    Ok(())
}

#[derive(Debug, Clone, Serialize)]
pub struct RecoveryStartedView {
    pub recovery: String,
    pub phone_needed: bool,
}

/// On a computer with no ID, every device of the ID lost: starts
/// recovering it with the recovery secret; codes go to the email (and the
/// phone). The profile is written, with a key that works nowhere until
/// the recovery completes.
#[tauri::command]
#[allow(clippy::too_many_arguments)]
pub async fn recover_start(
    server: String,
    id: String,
    device_name: String,
    email: String,
    phone: Option<String>,
    secret: String,
    state: State<'_, AppState>,
) -> CmdResult<RecoveryStartedView> {
    let server = normalize_server(&server)?;
    let id = non_empty(&id, "the Authentiq ID to recover")?;
    let device_name = non_empty(&device_name, "a name for this computer")?;
    let email = non_empty(&email, "the email address your ID verified")?;
    let phone = phone
        .map(|p| p.trim().to_string())
        .filter(|p| !p.is_empty());
    let secret = non_empty(&secret, "your recovery secret")?;
    // Said at once (a link holds the lock while it waits).
    no_link_or_recovery(&state)?;
    let _one_at_a_time = state.identity_lock.lock().await;
    no_identity_here(&state)?;
    no_link_or_recovery(&state)?;
    let (home, profile, keystore) = (
        state.env.home.clone(),
        state.env.profile.clone(),
        state.keystore.clone(),
    );
    let phone_needed = phone.is_some();
    let (app, view) = blocking_async(move || async move {
        let (app, v) = Authenticator::recover(
            &home,
            &profile,
            &server,
            &id,
            &device_name,
            &email,
            phone.as_deref(),
            &secret,
            keystore,
        )
        .await?;
        let recovery = v["recovery"]
            .as_str()
            .filter(|r| !r.is_empty())
            .ok_or_else(|| CommandError::Server("the server named no recovery".into()))?;
        let view = RecoveringView {
            recovery: recovery.to_string(),
            completes_at: None,
            phone_needed,
        };
        if let Err(e) = save_recovery(&app, Some(&view)) {
            tracing::warn!("the recovery will not survive a restart: {e}");
        }
        Ok((app, view))
    })
    .await?;
    state.set_recovering(Some(Recovering {
        app: Arc::new(app),
        view: view.clone(),
    }));
    Ok(RecoveryStartedView {
        recovery: view.recovery,
        phone_needed,
    })
}

fn recovering(state: &AppState) -> CmdResult<Recovering> {
    state.recovering().ok_or_else(|| {
        CommandError::NotFound("No recovery is in progress on this computer.".into())
    })
}

#[derive(Debug, Clone, Serialize)]
pub struct RecoveryConfirmed {
    pub completes_at: i64,
}

/// Gives the codes sent to the email (and phone); the recovery then waits
/// out its delay, announced to the ID's devices.
#[tauri::command]
pub async fn recover_confirm(
    email_code: String,
    phone_code: Option<String>,
    state: State<'_, AppState>,
) -> CmdResult<RecoveryConfirmed> {
    let email_code = non_empty(&email_code, "the code sent to your email")?;
    let phone_code = phone_code
        .map(|p| p.trim().to_string())
        .filter(|p| !p.is_empty());
    // One identity change at a time: not beside a complete or an abandon,
    // which would otherwise find their work undone by this one's save.
    let _one_at_a_time = state.identity_lock.lock().await;
    let r = recovering(&state)?;
    if r.view.phone_needed && phone_code.is_none() {
        return Err(CommandError::Invalid(
            "Enter the code sent to your phone too.".into(),
        ));
    }
    let (app, mut view) = (r.app.clone(), r.view.clone());
    let view = blocking_async(move || async move {
        let v = app
            .recovery_confirm(&view.recovery, &email_code, phone_code.as_deref())
            .await?;
        let completes_at = v["completes_at"]
            .as_i64()
            .ok_or_else(|| CommandError::Server("the server gave no completion time".into()))?;
        view.completes_at = Some(completes_at);
        if let Err(e) = save_recovery(&app, Some(&view)) {
            tracing::warn!("the recovery will not survive a restart: {e}");
        }
        Ok(view)
    })
    .await?;
    let completes_at = view.completes_at.unwrap_or_default();
    state.set_recovering(Some(Recovering { app: r.app, view }));
    Ok(RecoveryConfirmed { completes_at })
}

#[derive(Debug, Clone, Serialize)]
pub struct RecoveryCompleted {
    /// The ID's new recovery secret (shown once; held until saved).
    pub recovery_secret: String,
}

/// Completes the recovery after its delay: this computer becomes the ID's
/// device, with a new recovery secret.
#[tauri::command]
pub async fn recover_complete(
    app: AppHandle,
    state: State<'_, AppState>,
) -> CmdResult<RecoveryCompleted> {
    let _one_at_a_time = state.identity_lock.lock().await;
    let r = recovering(&state)?;
    let (home, profile, keystore) = (
        state.env.home.clone(),
        state.env.profile.clone(),
        state.keystore.clone(),
    );
    let old = r.app.clone();
    let url = r.view.recovery.clone();
    let (identity, secret) = blocking_async(move || async move {
        let v = old.recovery_complete(&url).await?;
        let secret = v["secret"]
            .as_str()
            .filter(|s| !s.is_empty())
            .ok_or_else(|| CommandError::Server("the server gave no new recovery secret".into()))?
            .to_string();
        if let Err(e) = save_recovery(&old, None) {
            tracing::warn!("clearing the finished recovery: {e}");
        }
        // The same profile, opened afresh as the working ID it now is.
        Ok((Authenticator::open(&home, &profile, keystore)?, secret))
    })
    .await?;
    state.set_recovering(None);
    install_new(
        &app,
        &state,
        identity,
        Some((&secret, SecretKind::Recovery)),
    )
    .await;
    Ok(RecoveryCompleted {
        recovery_secret: secret,
    })
}

/// Gives up the recovery on this computer (cancelled elsewhere, or
/// started by mistake): its key and profile go.
#[tauri::command]
pub async fn recover_abandon(state: State<'_, AppState>) -> CmdResult<()> {
    let _one_at_a_time = state.identity_lock.lock().await;
    let Some(r) = state.recovering() else {
        return Ok(());
    };
    let app = r.app.clone();
    blocking(move || Ok(app.forget()?)).await?;
    state.set_recovering(None);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::super::devices::tests::{NoKeys, home_with_profile, state_over};
    use super::*;

    #[test]
    fn a_recovery_is_kept_in_the_profile_and_a_restart_resumes_it_aside() {
        let home = home_with_profile();
        let app = Authenticator::open(home.path(), "default", Arc::new(NoKeys)).unwrap();
        assert_eq!(saved_recovery(&app), None);
        let mut view = RecoveringView {
            recovery: "http://127.0.0.1:8080/recovery/r1".into(),
            completes_at: None,
            phone_needed: true,
        };
        save_recovery(&app, Some(&view)).unwrap();
        assert_eq!(saved_recovery(&app), Some(view.clone()));
        view.completes_at = Some(1_800_000_000);
        save_recovery(&app, Some(&view)).unwrap();
        assert_eq!(saved_recovery(&app), Some(view.clone()));

        // Started again: the profile is not the app's ID (no channel, no
        // home screen) but the recovery to resume.
        let state = state_over(home.path());
        assert!(state.open_existing().is_none());
        assert!(state.current().is_none());
        assert_eq!(state.recovering().map(|r| r.view), Some(view));
        assert!(matches!(
            no_link_or_recovery(&state),
            Err(CommandError::Invalid(_))
        ));

        // Completed: an ordinary ID again.
        save_recovery(&app, None).unwrap();
        assert_eq!(saved_recovery(&app), None);
        let state = state_over(home.path());
        assert!(state.open_existing().is_some());
        assert!(state.recovering().is_none());
    }
}
